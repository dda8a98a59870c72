import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatIpv4,
  formatIpv4Prefix,
  formatMac,
  ipv4,
  isGroupMac,
  isIpv4,
  mac,
  MAC_BROADCAST,
  MorganaError,
  ParseError,
  parseIpv4,
  parseIpv4Prefix,
  parseMac,
  prefixBroadcast,
  prefixContains,
  prefixMask,
  prefixNetwork,
  readIpv4,
  readMac,
  writeIpv4,
  writeMac,
} from "../src/index.js";

const octet = fc.integer({ min: 0, max: 255 });
const canonicalIpv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));
const canonicalMac = fc
  .uint8Array({ minLength: 6, maxLength: 6 })
  .map((b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":"));

function expectEinval(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ParseError);
    expect(e).toBeInstanceOf(MorganaError);
    expect((e as MorganaError).code).toBe("EINVAL");
    return;
  }
  throw new Error("expected a ParseError");
}

describe("IPv4 addresses", () => {
  it("format(parse(x)) === x for every canonical dotted quad", () => {
    fc.assert(fc.property(canonicalIpv4, (s) => formatIpv4(parseIpv4(s)) === s));
  });

  it("parse(format(n)) === n for every 32-bit value", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIpv4(formatIpv4(ipv4(n))) === n));
  });

  it("has the expected numeric value", () => {
    expect(parseIpv4("10.0.0.1")).toBe(0x0a000001);
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
    expect(parseIpv4("0.0.0.0")).toBe(0);
  });

  it("rejects malformed text with EINVAL", () => {
    for (const bad of ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ", "1..3.4", "a.b.c.d", "1.2.3.4/8", "+1.2.3.4", "1.2.3.0x4", "１.2.3.4"]) {
      expectEinval(() => parseIpv4(bad));
      expect(isIpv4(bad)).toBe(false);
    }
    expectEinval(() => parseIpv4(42 as unknown as string));
  });

  it("rejects any string that is not a canonical dotted quad", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        const canonical = /^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/.test(s) && s.split(".").every((p) => Number(p) <= 255);
        if (canonical) expect(formatIpv4(parseIpv4(s))).toBe(s);
        else expectEinval(() => parseIpv4(s));
      }),
    );
  });

  it("reads and writes big-endian bytes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 8 }), (n, off) => {
        const buf = new Uint8Array(12);
        writeIpv4(buf, off, ipv4(n));
        expect(readIpv4(buf, off)).toBe(n);
        expect(buf[off]).toBe(n >>> 24);
      }),
    );
  });

  it("ipv4() rejects values out of range", () => {
    for (const bad of [-1, 2 ** 32, 1.5, NaN]) expectEinval(() => ipv4(bad));
  });
});

describe("IPv4 prefixes", () => {
  it("round-trips canonical prefixes", () => {
    fc.assert(
      fc.property(canonicalIpv4, fc.integer({ min: 0, max: 32 }), (a, len) => {
        const s = `${a}/${len}`;
        expect(formatIpv4Prefix(parseIpv4Prefix(s))).toBe(s);
      }),
    );
  });

  it("computes network, broadcast, containment", () => {
    const p = parseIpv4Prefix("10.77.0.2/24");
    expect(formatIpv4(prefixNetwork(p))).toBe("10.77.0.0");
    expect(formatIpv4(prefixBroadcast(p))).toBe("10.77.0.255");
    expect(prefixContains(p, parseIpv4("10.77.0.200"))).toBe(true);
    expect(prefixContains(p, parseIpv4("10.77.1.1"))).toBe(false);
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(32)).toBe(0xffffffff);
    expect(prefixContains(parseIpv4Prefix("0.0.0.0/0"), parseIpv4("8.8.8.8"))).toBe(true);
  });

  it("network <= address <= broadcast and both are contained", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (n, len) => {
        const p = { address: ipv4(n), length: len };
        const net = prefixNetwork(p);
        const bc = prefixBroadcast(p);
        expect(net <= n && n <= bc).toBe(true);
        expect(prefixContains(p, net) && prefixContains(p, bc)).toBe(true);
        expect(bc - net + 1).toBe(2 ** (32 - len));
      }),
    );
  });

  it("rejects malformed prefixes", () => {
    for (const bad of ["10.0.0.1", "10.0.0.1/", "10.0.0.1/33", "10.0.0.1/024", "10.0.0.1/-1", "10.0.0/24", "/24", "10.0.0.1/2 4", "10.0.0.1//24"]) {
      expectEinval(() => parseIpv4Prefix(bad));
    }
  });
});

describe("MAC addresses", () => {
  it("format(parse(x)) === x for lowercase colon form", () => {
    fc.assert(fc.property(canonicalMac, (s) => formatMac(parseMac(s)) === s));
  });

  it("accepts upper case and dashes, formats canonically", () => {
    expect(formatMac(parseMac("02-00-00-AB-CD-EF"))).toBe("02:00:00:ab:cd:ef");
    expect(parseMac("ff:ff:ff:ff:ff:ff")).toBe(MAC_BROADCAST);
  });

  it("parse(format(n)) === n for every 48-bit value", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (n) => parseMac(formatMac(mac(n))) === n));
  });

  it("reads and writes bytes", () => {
    fc.assert(
      fc.property(canonicalMac, (s) => {
        const buf = new Uint8Array(8);
        writeMac(buf, 1, parseMac(s));
        expect(Array.from(buf.subarray(1, 7), (x) => x.toString(16).padStart(2, "0")).join(":")).toBe(s);
        expect(formatMac(readMac(buf, 1))).toBe(s);
      }),
    );
  });

  it("knows group addresses", () => {
    expect(isGroupMac(MAC_BROADCAST)).toBe(true);
    expect(isGroupMac(parseMac("01:00:5e:00:00:01"))).toBe(true);
    expect(isGroupMac(parseMac("02:00:00:00:00:01"))).toBe(false);
  });

  it("rejects malformed text", () => {
    for (const bad of ["", "02:00:00:00:00", "02:00:00:00:00:01:02", "02:00:00:00:00:0g", "02:00-00:00:00:01", "2:0:0:0:0:1", "0200.0000.0001", " 02:00:00:00:00:01"]) {
      expectEinval(() => parseMac(bad));
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        if (/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/.test(s)) expect(formatMac(parseMac(s))).toBe(s.toLowerCase().replace(/-/g, ":"));
        else expectEinval(() => parseMac(s));
      }),
    );
  });
});
