import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, MorganaError, formatIpv4 } from "@morgana/interfaces";
import {
  decodeIcmp,
  decodeQuotedDatagram,
  encodeIcmp,
  encodeIcmpInto,
  hasIdentifier,
  isIcmpErrorType,
  fillEchoPayload,
} from "../src/index.js";
import { buildDatagram, hex, textbookChecksum, expectDecodeError as decodeError } from "@morgana/testkit";
import { ipPackets, num, traceNames, type Layers } from "@morgana/testkit";

const bytes = (n: number, max = 64) => fc.uint8Array({ minLength: n, maxLength: max });

describe("ICMP codec", () => {
  it("round-trips every type, code, rest and body; the checksum verifies independently", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff_ffff }), bytes(0, 300), (type, code, rest, body) => {
        const m = encodeIcmp({ type, code, rest, body });
        expect(m.length).toBe(8 + body.length);
        const zeroed = m.slice();
        zeroed[2] = zeroed[3] = 0;
        expect((m[2]! << 8) | m[3]!).toBe(textbookChecksum([zeroed]));
        const d = decodeIcmp(m);
        expect(d.type).toBe(type);
        expect(d.code).toBe(code);
        expect(d.rest).toBe(rest);
        expect(d.checksumValid).toBe(true);
        expect(d.checksum).toBe((m[2]! << 8) | m[3]!);
        expect(hex(d.body)).toBe(hex(body));
        expect(d.body.buffer).toBe(m.buffer); // a view, not a copy
        if (hasIdentifier(type)) {
          expect(d.identifier).toBe(rest >>> 16);
          expect(d.sequence).toBe(rest & 0xffff);
        } else {
          expect(d.identifier).toBeUndefined();
          expect(d.sequence).toBeUndefined();
        }
        if (type === 3 && code === 4) expect(d.nextHopMtu).toBe(rest & 0xffff);
        if (type === 12) expect(d.pointer).toBe(rest >>> 24);
        if (type === 5) expect(d.gateway).toBe(rest);
      }),
    );
  });

  it("encodes identifier and sequence of echo messages", () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 8, 13, 14), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), bytes(0), (type, identifier, sequence, body) => {
        const d = decodeIcmp(encodeIcmp({ type, identifier, sequence, body }));
        expect([d.identifier, d.sequence, d.code]).toEqual([identifier, sequence, 0]);
      }),
    );
  });

  it("detects every single-bit corruption through checksumValid", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), bytes(0, 100), fc.nat(), fc.integer({ min: 0, max: 7 }), (type, body, pos, bit) => {
        const m = encodeIcmp({ type, body });
        const i = pos % m.length;
        m[i]! ^= 1 << bit;
        expect(decodeIcmp(m).checksumValid).toBe(false);
      }),
    );
  });

  it("writes into a caller buffer at any offset, leaving the rest untouched", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 33 }), bytes(0, 50), (offset, body) => {
        const buf = new Uint8Array(offset + 8 + body.length + 5).fill(0xee);
        const n = encodeIcmpInto(buf, offset, { type: 8, identifier: 0x1234, sequence: 7, body });
        expect(n).toBe(8 + body.length);
        expect(buf.subarray(0, offset).every((b) => b === 0xee)).toBe(true);
        expect(buf.subarray(offset + n).every((b) => b === 0xee)).toBe(true);
        expect(hex(buf.subarray(offset, offset + n))).toBe(hex(encodeIcmp({ type: 8, identifier: 0x1234, sequence: 7, body })));
      }),
    );
  });

  it("rejects bad fields and small buffers with EINVAL, never a RangeError", () => {
    const bad = [
      () => encodeIcmp({ type: 256 }),
      () => encodeIcmp({ type: -1 }),
      () => encodeIcmp({ type: 0, code: 1.5 }),
      () => encodeIcmp({ type: 8, identifier: 65536 }),
      () => encodeIcmp({ type: 3, rest: 2 ** 32 }),
      () => encodeIcmpInto(new Uint8Array(10), 3, { type: 8 }),
      () => encodeIcmpInto(new Uint8Array(10), -1, { type: 8 }),
    ];
    for (const f of bad) {
      expect(f).toThrow(MorganaError);
      try {
        f();
      } catch (e) {
        expect((e as MorganaError).code).toBe("EINVAL");
      }
    }
  });

  it("throws DecodeError('icmp') for a message shorter than its header", () => {
    for (let n = 0; n < 8; n++) {
      const e = decodeError(() => decodeIcmp(new Uint8Array(n)));
      expect(e.layer).toBe("icmp");
      expect(e.offset).toBe(n);
      expect(e.code).toBe("EBADMSG");
    }
  });

  it("decodes random bytes without throwing anything but DecodeError", () => {
    fc.assert(
      fc.property(bytes(0, 80), (b) => {
        try {
          const d = decodeIcmp(b);
          if (isIcmpErrorType(d.type)) decodeQuotedDatagram(d.body);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });

  it("parses the datagram quoted in an error and refuses short or non-IPv4 quotes", () => {
    const udp = Uint8Array.from([0xab, 0xb0, 0x27, 0x0f, 0, 11, 0xa6, 0x12, 0x68, 0x69, 0x0a]);
    const opts = Uint8Array.from([1, 1, 1, 0]); // NOP NOP NOP EOL
    const quoted = buildDatagram({ src: "10.77.0.2", dst: "10.77.0.1", protocol: 17, payload: udp, ttl: 63, tos: 0x10, flags: 2, id: 0x3500, options: opts });
    const msg = encodeIcmp({ type: 3, code: 3, body: quoted });
    const q = decodeQuotedDatagram(decodeIcmp(msg).body);
    expect(q).toMatchObject({ headerLength: 24, tos: 0x10, totalLength: 35, id: 0x3500, flags: 2, fragmentOffset: 0, ttl: 63, protocol: 17 });
    expect(formatIpv4(q.src)).toBe("10.77.0.2");
    expect(formatIpv4(q.dst)).toBe("10.77.0.1");
    expect(hex(q.header)).toBe(hex(quoted.subarray(0, 24)));
    expect(hex(q.data)).toBe(hex(udp));

    expect(decodeError(() => decodeQuotedDatagram(quoted.subarray(0, 27))).offset).toBe(8 + 27);
    expect(decodeError(() => decodeQuotedDatagram(quoted.subarray(0, 24 + 7))).reason).toMatch(/upper-layer/);
    const v6 = quoted.slice();
    v6[0] = 0x65;
    expect(decodeError(() => decodeQuotedDatagram(v6)).offset).toBe(8);
    const ihl4 = quoted.slice();
    ihl4[0] = 0x44;
    expect(decodeError(() => decodeQuotedDatagram(ihl4)).reason).toMatch(/header length/);
  });
});

describe("ICMP in the reference traces", () => {
  interface Checked {
    trace: string;
    index: number;
  }
  const checked: Checked[] = [];
  const errorsChecked: Checked[] = [];

  it.each(traceNames())("%s: every ICMP message decodes to tshark's fields", (name) => {
    for (const p of ipPackets(name)) {
      if (p.protocol !== 1) continue;
      // First fragments (and unfragmented datagrams) carry the ICMP header.
      if (p.fragmentOffset !== 0) {
        if (p.complete === undefined) continue;
      } else {
        const first = decodeIcmp(p.payload);
        const complete = p.complete ?? ipPackets(name).find((q) => q.id === p.id && q.src === p.src && q.complete !== undefined)?.complete;
        if (complete !== undefined) {
          const d = decodeIcmp(complete);
          expect([first.type, first.code, first.checksum, first.identifier, first.sequence]).toEqual([d.type, d.code, d.checksum, d.identifier, d.sequence]);
        }
      }
      const icmp = p.layers.icmp as Layers | undefined;
      if (icmp === undefined) continue; // tshark shows the ICMP layer on the frame that completes the datagram
      const d = decodeIcmp(p.complete!);
      expect(d.type).toBe(num(icmp["icmp.type"]));
      expect(d.code).toBe(num(icmp["icmp.code"]));
      expect(d.checksum).toBe(num(icmp["icmp.checksum"]));
      expect(d.checksumValid).toBe(icmp["icmp.checksum.status"] === "1");
      if (icmp["icmp.ident"] !== undefined) {
        expect(d.identifier).toBe(num(icmp["icmp.ident"]));
        expect(d.sequence).toBe(num(icmp["icmp.seq"]));
        // The _le variants are the same bytes read little-endian.
        expect(((d.identifier! & 0xff) << 8) | (d.identifier! >>> 8)).toBe(num(icmp["icmp.ident_le"]));
      } else {
        expect(d.identifier).toBeUndefined();
      }
      if (isIcmpErrorType(d.type)) {
        const q = decodeQuotedDatagram(d.body);
        const qip = icmp.ip as Layers;
        expect(formatIpv4(q.src)).toBe(qip["ip.src"]);
        expect(formatIpv4(q.dst)).toBe(qip["ip.dst"]);
        expect(q.protocol).toBe(num(qip["ip.proto"]));
        expect(q.totalLength).toBe(num(qip["ip.len"]));
        const qudp = icmp.udp as Layers | undefined;
        if (qudp !== undefined) {
          expect((q.data[0]! << 8) | q.data[1]!).toBe(num(qudp["udp.srcport"]));
          expect((q.data[2]! << 8) | q.data[3]!).toBe(num(qudp["udp.dstport"]));
          expect((q.data[6]! << 8) | q.data[7]!).toBe(num(qudp["udp.checksum"]));
        }
        errorsChecked.push({ trace: name, index: p.index });
      }
      checked.push({ trace: name, index: p.index });
    }
  });

  it("covered echo requests and replies, reassembled ones, and a port unreachable", () => {
    expect(checked.length).toBeGreaterThanOrEqual(11);
    expect(checked.some((c) => c.trace === "icmp-fragmented")).toBe(true);
    expect(errorsChecked.some((c) => c.trace === "udp-port-unreachable")).toBe(true);
  });

  it("lays out an echo payload as Linux ping does (timeval, then bytes counting from 0x10)", () => {
    const req = ipPackets("arp-icmp-echo").find((p) => p.protocol === 1 && p.payload[0] === 8)!;
    const body = decodeIcmp(req.payload).body;
    const sec = body[0]! | (body[1]! << 8) | (body[2]! << 16) | (body[3]! * 2 ** 24);
    const usec = body[8]! | (body[9]! << 8) | (body[10]! << 16);
    const ours = new Uint8Array(body.length);
    fillEchoPayload(ours, sec * 1000 + usec / 1000);
    expect(hex(ours.subarray(16))).toBe(hex(body.subarray(16)));
    expect(hex(ours.subarray(0, 8))).toBe(hex(body.subarray(0, 8)));
    const ourUsec = ours[8]! | (ours[9]! << 8) | (ours[10]! << 16);
    expect(Math.abs(ourUsec - usec)).toBeLessThanOrEqual(1);
  });
});
