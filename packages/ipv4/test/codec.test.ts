import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, MorganaError, formatMac, ipv4, parseIpv4, type Ipv4Address } from "@morgana/interfaces";
import {
  decodeIpv4,
  decodeIpv4Options,
  encodeIpv4,
  encodeIpv4Header,
  ipv4StructureProblem,
  multicastMac,
  type Ipv4HeaderInit,
} from "../src/index.js";
import { fieldsOf, packet, textbookChecksum } from "./helpers.js";

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((h) => parseInt(h, 16)));

describe("decodeIpv4", () => {
  it("decodes a textbook header (the well-known 192.168.0.1 -> 192.168.0.199 UDP example, checksum 0xb861)", () => {
    const bytes = new Uint8Array(0x73 + 6); // + Ethernet-style padding
    bytes.set(hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7"));
    const h = decodeIpv4(bytes);
    expect(h).toMatchObject({
      version: 4,
      headerLength: 20,
      tos: 0,
      dscp: 0,
      ecn: 0,
      totalLength: 0x73,
      id: 0,
      flags: { reserved: false, dontFragment: true, moreFragments: false },
      fragmentOffset: 0,
      ttl: 64,
      protocol: 17,
      checksum: 0xb861,
      checksumValid: true,
      src: parseIpv4("192.168.0.1"),
      dst: parseIpv4("192.168.0.199"),
    });
    expect(h.options.length).toBe(0);
    expect(h.payload.length).toBe(0x73 - 20); // padding trimmed
    expect(h.payload.buffer).toBe(bytes.buffer); // a view
    expect(h.payload.byteOffset).toBe(20);
  });

  it("reports a bad checksum in checksumValid instead of throwing", () => {
    const p = packet({ checksum: 0xbeef });
    const h = decodeIpv4(p);
    expect(h.checksum).toBe(0xbeef);
    expect(h.checksumValid).toBe(false);
  });

  it("splits DS into DSCP and ECN, reads flags, offset in bytes, options and payload", () => {
    const opts = hex("94040000"); // Router Alert, 4 bytes
    const p = packet({ tos: 0xb9, reserved: true, mf: true, offset: 1480, id: 0xe7cb, ttl: 1, protocol: 2, options: opts }, hex("01020304"));
    const h = decodeIpv4(p);
    expect(h.dscp).toBe(0xb9 >>> 2);
    expect(h.ecn).toBe(1);
    expect(h.flags).toEqual({ reserved: true, dontFragment: false, moreFragments: true });
    expect(h.fragmentOffset).toBe(1480);
    expect(h.headerLength).toBe(24);
    expect([...h.options]).toEqual([...opts]);
    expect([...h.payload]).toEqual([1, 2, 3, 4]);
    expect(h.checksumValid).toBe(true);
    expect(decodeIpv4Options(h.options)).toEqual([
      { type: 0x94, copied: true, optionClass: 0, number: 20, length: 4, data: expect.any(Uint8Array) },
    ]);
  });

  const structural: [string, Uint8Array, string, number][] = [
    ["short", new Uint8Array(19).fill(0x45), "short", 19],
    ["version", packet({ version: 6 }), "version", 0],
    ["header-length", packet({ ihl: 4 }), "header-length", 0],
    ["header-truncated", packet({ ihl: 15 }), "header-truncated", 20],
    ["total-length", packet({ totalLength: 19 }), "total-length", 2],
    ["truncated", packet({ totalLength: 30 }), "truncated", 2],
  ];
  it.each(structural)("throws DecodeError for %s", (_name, bytes, problem, offset) => {
    expect(ipv4StructureProblem(bytes)).toBe(problem);
    let err: unknown;
    try {
      decodeIpv4(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DecodeError);
    expect(err).toMatchObject({ layer: "ipv4", offset, code: "EBADMSG" });
  });

  it("never throws anything but DecodeError on random bytes, and what it accepts is consistent", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.boolean(), (raw, force4) => {
        const b = raw.slice();
        if (force4 && b.length > 0) b[0] = 0x40 | (b[0]! & 0x0f);
        try {
          const h = decodeIpv4(b);
          expect(ipv4StructureProblem(b)).toBeUndefined();
          expect(h.headerLength).toBeGreaterThanOrEqual(20);
          expect(h.headerLength + h.payload.length).toBe(h.totalLength);
          expect(h.totalLength).toBeLessThanOrEqual(b.length);
          expect(h.checksumValid).toBe(textbookChecksum(b, 0, h.headerLength) === 0);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          expect(ipv4StructureProblem(b)).toBeDefined();
        }
      }),
    );
  });
});

const addrArb = fc.integer({ min: 0, max: 0xffff_ffff }).map((n) => ipv4(n));
const optionsArb = fc.integer({ min: 0, max: 10 }).chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 }));
const headerArb = fc.record({
  tos: fc.integer({ min: 0, max: 255 }),
  id: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.record({ reserved: fc.boolean(), dontFragment: fc.boolean(), moreFragments: fc.boolean() }),
  fragmentOffset: fc.integer({ min: 0, max: 0x1fff }).map((u) => u * 8),
  ttl: fc.integer({ min: 0, max: 255 }),
  protocol: fc.integer({ min: 0, max: 255 }),
  src: addrArb,
  dst: addrArb,
  options: optionsArb,
});

describe("encodeIpv4Header", () => {
  it("decode(encode(x)) gives x back, with a valid checksum", () => {
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 7 }), (x, payload, at) => {
        const hl = 20 + x.options.length;
        const buf = new Uint8Array(at + hl + payload.length);
        const fields: Ipv4HeaderInit = { ...x, totalLength: hl + payload.length };
        expect(encodeIpv4Header(buf, at, fields)).toBe(hl);
        buf.set(payload, at + hl);
        const h = decodeIpv4(buf.subarray(at));
        expect(h).toMatchObject({ ...x, options: expect.any(Uint8Array), version: 4, headerLength: hl, totalLength: hl + payload.length, checksumValid: true });
        expect([...h.options]).toEqual([...x.options]);
        expect([...h.payload]).toEqual([...payload]);
        // Independent check of the wire layout.
        const f = fieldsOf(buf.subarray(at));
        expect(f).toMatchObject({ version: 4, hl, tos: x.tos, id: x.id, ttl: x.ttl, protocol: x.protocol, src: x.src, dst: x.dst, offset: x.fragmentOffset, checksumOk: true });
      }),
    );
  });

  it("encode(decode(b)) reproduces every valid header byte for byte", () => {
    fc.assert(
      fc.property(fc.integer({ min: 5, max: 15 }), fc.uint8Array({ minLength: 60, maxLength: 60 }), fc.uint8Array({ maxLength: 40 }), (ihl, raw, payload) => {
        const hl = ihl * 4;
        const b = new Uint8Array(hl + payload.length);
        b.set(raw.subarray(0, hl));
        b.set(payload, hl);
        b[0] = 0x40 | ihl;
        b[2] = b.length >>> 8;
        b[3] = b.length & 255;
        b[10] = 0;
        b[11] = 0;
        const ck = textbookChecksum(b, 0, hl);
        b[10] = ck >>> 8;
        b[11] = ck & 255;
        const h = decodeIpv4(b);
        const out = new Uint8Array(b.length);
        encodeIpv4Header(out, 0, h);
        out.set(h.payload, h.headerLength);
        expect([...out]).toEqual([...b]);
      }),
    );
  });

  it("writes a given checksum as is, and encodeIpv4 allocates header + payload", () => {
    const d = encodeIpv4({ protocol: 17, src: parseIpv4("10.0.0.1"), dst: parseIpv4("10.0.0.2"), checksum: 0x1234 }, new Uint8Array([9, 9]));
    expect(d.length).toBe(22);
    expect(fieldsOf(d)).toMatchObject({ checksum: 0x1234, total: 22, ttl: 64, checksumOk: false });
    expect(() => encodeIpv4({ protocol: 17, src: ipv4(1), dst: ipv4(2) }, new Uint8Array(65516))).toThrow(expect.objectContaining({ code: "EMSGSIZE" }));
  });

  const bad: [string, Partial<Ipv4HeaderInit>][] = [
    ["options not a multiple of 4", { options: new Uint8Array(3) }],
    ["options over 40 bytes", { options: new Uint8Array(44) }],
    ["fragment offset not a multiple of 8", { fragmentOffset: 12 }],
    ["fragment offset too large", { fragmentOffset: 65536 }],
    ["ttl 256", { ttl: 256 }],
    ["protocol -1", { protocol: -1 }],
    ["total length below the header", { totalLength: 19 }],
    ["total length above 65535", { totalLength: 65536 }],
    ["tos 1.5", { tos: 1.5 }],
  ];
  it.each(bad)("rejects %s with EINVAL", (_n, over) => {
    const buf = new Uint8Array(100);
    const f: Ipv4HeaderInit = { totalLength: 60, protocol: 6, src: ipv4(1), dst: ipv4(2), ...over };
    expect(() => encodeIpv4Header(buf, 0, f)).toThrow(MorganaError);
    expect(() => encodeIpv4Header(buf, 0, f)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  it("rejects a buffer too small with EINVAL, not a RangeError", () => {
    expect(() => encodeIpv4Header(new Uint8Array(30), 11, { totalLength: 20, protocol: 6, src: ipv4(1), dst: ipv4(2) })).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
  });
});

describe("decodeIpv4Options", () => {
  it("splits NOP, EOL, and length-prefixed options", () => {
    const o = decodeIpv4Options(hex("01 07 07 04 0a000001 00 00"));
    expect(o.map((x) => [x.type, x.length, [...x.data]])).toEqual([
      [1, 1, []],
      [7, 7, [4, 10, 0, 0, 1]],
      [0, 1, []],
    ]);
  });

  it.each([
    ["no length octet", "44", 21],
    ["length below 2", "4401", 21],
    ["length beyond the options", "830900000000", 21],
  ])("throws DecodeError for %s", (_n, h, offset) => {
    expect(() => decodeIpv4Options(hex(h))).toThrow(DecodeError);
    expect(() => decodeIpv4Options(hex(h))).toThrow(expect.objectContaining({ offset }));
  });

  it("never throws anything but DecodeError, never reads past the end", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        try {
          const o = decodeIpv4Options(b);
          const used = o.reduce((s, x) => s + x.length, 0);
          expect(used).toBeLessThanOrEqual(b.length);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });
});

describe("multicastMac", () => {
  it("maps the low 23 bits after 01:00:5e (RFC 1112 §6.4)", () => {
    expect(formatMac(multicastMac(parseIpv4("224.0.0.1")))).toBe("01:00:5e:00:00:01");
    expect(formatMac(multicastMac(parseIpv4("239.255.255.250")))).toBe("01:00:5e:7f:ff:fa");
    expect(formatMac(multicastMac(parseIpv4("224.128.1.2")))).toBe("01:00:5e:00:01:02");
  });

  it("throws EINVAL for a non-multicast address", () => {
    expect(() => multicastMac(parseIpv4("10.0.0.1"))).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => multicastMac(0xf0000000 as Ipv4Address)).toThrow(MorganaError);
  });
});
