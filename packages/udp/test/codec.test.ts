import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, MorganaError, writeIpv4, type Ipv4Address } from "@morgana/interfaces";
import { computeUdpChecksum, decodeUdp, encodeUdp, encodeUdpInto, verifyUdpChecksum } from "../src/index.js";
import { hex, ip, textbookChecksum, expectDecodeError as decodeError } from "@morgana/testkit";
import { ipPackets, num, traceNames, type Layers } from "@morgana/testkit";

const addr = fc.integer({ min: 0, max: 0xffff_ffff }).map((n) => n as Ipv4Address);
const port = fc.integer({ min: 0, max: 0xffff });

/** The pseudo-header of RFC 768, built byte by byte. */
function pseudo(src: Ipv4Address, dst: Ipv4Address, length: number): Uint8Array {
  const p = new Uint8Array(12);
  writeIpv4(p, 0, src);
  writeIpv4(p, 4, dst);
  p[9] = 17;
  p[10] = length >>> 8;
  p[11] = length;
  return p;
}

/** The checksum RFC 768 prescribes, computed independently of the package. */
function expectedChecksum(d: Uint8Array, src: Ipv4Address, dst: Ipv4Address): number {
  const z = d.slice();
  z[6] = z[7] = 0;
  const c = textbookChecksum([pseudo(src, dst, d.length), z]);
  return c === 0 ? 0xffff : c;
}

describe("UDP codec", () => {
  it("round-trips ports and payload; the checksum matches RFC 768 computed independently", () => {
    fc.assert(
      fc.property(port, port, fc.uint8Array({ maxLength: 600 }), addr, addr, (srcPort, dstPort, payload, src, dst) => {
        const d = encodeUdp({ srcPort, dstPort, payload }, src, dst);
        expect(d.length).toBe(8 + payload.length);
        const f = decodeUdp(d);
        expect([f.srcPort, f.dstPort, f.length]).toEqual([srcPort, dstPort, 8 + payload.length]);
        expect(hex(f.payload)).toBe(hex(payload));
        expect(f.payload.buffer).toBe(d.buffer);
        expect(f.checksum).toBe(expectedChecksum(d, src, dst));
        expect(f.checksum).not.toBe(0);
        expect(verifyUdpChecksum(d, src, dst)).toBe(true);
        expect(computeUdpChecksum(d, src, dst)).toBe(f.checksum);
      }),
    );
  });

  it("sends a computed checksum of 0 as 0xffff, which verifies", () => {
    const src = ip("10.77.0.1");
    const dst = ip("10.77.0.2");
    fc.assert(
      fc.property(port, port, fc.uint8Array({ minLength: 0, maxLength: 40 }).map((b) => (b.length % 2 === 1 ? b.subarray(1) : b)), (srcPort, dstPort, body) => {
        // The last two bytes are chosen so that the one's complement sum is 0xffff.
        const payload = new Uint8Array(body.length + 2);
        payload.set(body);
        const c = decodeUdp(encodeUdp({ srcPort, dstPort, payload }, src, dst)).checksum;
        payload[body.length] = c >>> 8;
        payload[body.length + 1] = c;
        const d = encodeUdp({ srcPort, dstPort, payload }, src, dst);
        const z = d.slice();
        z[6] = z[7] = 0;
        expect(textbookChecksum([pseudo(src, dst, d.length), z])).toBe(0);
        expect(decodeUdp(d).checksum).toBe(0xffff);
        expect(verifyUdpChecksum(d, src, dst)).toBe(true);
      }),
    );
  });

  it("detects every single-bit corruption, address changes, and accepts a zero (absent) checksum", () => {
    fc.assert(
      fc.property(port, port, fc.uint8Array({ maxLength: 100 }), addr, addr, fc.nat(), fc.integer({ min: 0, max: 7 }), (sp, dp, payload, src, dst, pos, bit) => {
        const d = encodeUdp({ srcPort: sp, dstPort: dp, payload }, src, dst);
        const i = pos % d.length;
        d[i]! ^= 1 << bit;
        // Flipping the checksum field to 0 turns it into "no checksum", which is accepted.
        const none = d[6] === 0 && d[7] === 0;
        const lengthBroken = i === 4 || i === 5;
        if (!lengthBroken) expect(verifyUdpChecksum(d, src, dst)).toBe(none);
        d[i]! ^= 1 << bit;
        expect(verifyUdpChecksum(d, (src ^ 0x100) >>> 0 as Ipv4Address, dst)).toBe(false);
        d[6] = d[7] = 0;
        expect(verifyUdpChecksum(d, src, dst)).toBe(true);
      }),
    );
  });

  it("verifies over the length field, ignoring trailing bytes", () => {
    const src = ip("192.0.2.1");
    const dst = ip("192.0.2.2");
    const d = encodeUdp({ srcPort: 1, dstPort: 2, payload: Uint8Array.from([1, 2, 3]) }, src, dst);
    const padded = new Uint8Array(d.length + 5).fill(0x55);
    padded.set(d);
    expect(verifyUdpChecksum(padded, src, dst)).toBe(true);
    expect(hex(decodeUdp(padded).payload)).toBe("010203");
    expect(verifyUdpChecksum(padded.subarray(0, 7), src, dst)).toBe(false);
  });

  it("throws DecodeError('udp') for short input and bad length fields", () => {
    for (let n = 0; n < 8; n++) expect(decodeError(() => decodeUdp(new Uint8Array(n)))).toMatchObject({ layer: "udp", offset: n });
    const d = encodeUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array(4) }, ip("10.0.0.1"), ip("10.0.0.2"));
    d[4] = 0;
    d[5] = 7;
    expect(decodeError(() => decodeUdp(d))).toMatchObject({ layer: "udp", offset: 4 });
    d[5] = 13;
    expect(decodeError(() => decodeUdp(d)).reason).toMatch(/beyond/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        try {
          const f = decodeUdp(b);
          expect(f.length).toBeLessThanOrEqual(b.length);
          expect(f.payload.length).toBe(f.length - 8);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });

  it("writes into a caller buffer at any offset, leaving the rest untouched", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 21 }), fc.uint8Array({ maxLength: 50 }), (offset, payload) => {
        const src = ip("10.1.2.3");
        const dst = ip("10.3.2.1");
        const buf = new Uint8Array(offset + 8 + payload.length + 3).fill(0xaa);
        const n = encodeUdpInto(buf, offset, { srcPort: 53, dstPort: 40000, payload }, src, dst);
        expect(n).toBe(8 + payload.length);
        expect(buf.subarray(0, offset).every((b) => b === 0xaa) && buf.subarray(offset + n).every((b) => b === 0xaa)).toBe(true);
        expect(hex(buf.subarray(offset, offset + n))).toBe(hex(encodeUdp({ srcPort: 53, dstPort: 40000, payload }, src, dst)));
      }),
    );
  });

  it("rejects bad fields with EINVAL and oversize payloads with EMSGSIZE", () => {
    const src = ip("10.0.0.1");
    const cases: [() => unknown, string][] = [
      [() => encodeUdp({ srcPort: 65536, dstPort: 1, payload: new Uint8Array(0) }, src, src), "EINVAL"],
      [() => encodeUdp({ srcPort: 1, dstPort: -1, payload: new Uint8Array(0) }, src, src), "EINVAL"],
      [() => encodeUdpInto(new Uint8Array(9), 2, { srcPort: 1, dstPort: 1, payload: new Uint8Array(0) }, src, src), "EINVAL"],
      [() => encodeUdp({ srcPort: 1, dstPort: 1, payload: new Uint8Array(65508) }, src, src), "EMSGSIZE"],
    ];
    for (const [f, code] of cases) expect(f).toThrow(expect.objectContaining({ code }));
    for (const [f] of cases) expect(f).toThrow(MorganaError);
    expect(encodeUdp({ srcPort: 1, dstPort: 1, payload: new Uint8Array(65507) }, src, src).length).toBe(65515);
  });

  it("builds malformed datagrams on request (checksum and length overrides)", () => {
    const d = encodeUdp({ srcPort: 7, dstPort: 9, payload: new Uint8Array(4), checksum: 0, length: 99 }, ip("10.0.0.1"), ip("10.0.0.2"));
    expect(hex(d.subarray(4, 8))).toBe("00630000");
  });
});

describe("UDP in the reference traces", () => {
  let checked = 0;
  it.each(traceNames())("%s: every UDP datagram decodes to tshark's fields and its checksum verifies", (name) => {
    for (const p of ipPackets(name)) {
      if (p.protocol !== 17 || p.fragmentOffset !== 0) continue;
      const udp = p.layers.udp as Layers | undefined;
      expect(udp).toBeDefined();
      const f = decodeUdp(p.payload);
      expect(f.srcPort).toBe(num(udp!["udp.srcport"]));
      expect(f.dstPort).toBe(num(udp!["udp.dstport"]));
      expect(f.length).toBe(num(udp!["udp.length"]));
      expect(f.checksum).toBe(num(udp!["udp.checksum"]));
      if (p.complete !== undefined) {
        expect(verifyUdpChecksum(p.complete, p.src, p.dst)).toBe(true);
        expect(computeUdpChecksum(p.complete, p.src, p.dst, 0, f.length)).toBe(f.checksum);
        // Re-encoding the decoded fields reproduces the bytes.
        expect(hex(encodeUdp({ srcPort: f.srcPort, dstPort: f.dstPort, payload: f.payload }, p.src, p.dst))).toBe(hex(p.complete.subarray(0, f.length)));
      }
      if (typeof udp!["udp.payload"] === "string") expect(hex(f.payload)).toBe((udp!["udp.payload"] as string).replaceAll(":", ""));
      checked++;
    }
  });

  it("covered the UDP datagrams of the DNS and port-unreachable traces", () => {
    expect(checked).toBeGreaterThanOrEqual(19);
  });
});
