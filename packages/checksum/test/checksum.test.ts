import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { finish, internetChecksum, onesComplementSum, pseudoHeaderSum, referenceChecksum, updateChecksum, verifyChecksum } from "../src/index.js";

describe("internet checksum", () => {
  it("matches the RFC 1071 worked example", () => {
    // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (before complement).
    const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(onesComplementSum(b)).toBe(0xddf2);
    expect(internetChecksum(b)).toBe(~0xddf2 & 0xffff);
  });

  it("matches a real IPv4 header from the traces (checksum 0x58b9)", () => {
    // icmp-fragmented frame 3: 45 00 05 dc e7 cb 20 00 40 01 [58 b9] 0a 4d 00 01 0a 4d 00 02
    const h = new Uint8Array([0x45, 0x00, 0x05, 0xdc, 0xe7, 0xcb, 0x20, 0x00, 0x40, 0x01, 0, 0, 0x0a, 0x4d, 0x00, 0x01, 0x0a, 0x4d, 0x00, 0x02]);
    expect(internetChecksum(h)).toBe(0x58b9);
    h[10] = 0x58;
    h[11] = 0xb9;
    expect(verifyChecksum(h)).toBe(true);
  });

  it("agrees with the byte-pair reference for every length, offset and alignment", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(7), fc.nat(7), fc.nat(0xffff), (data, pad, cut, init) => {
        // Place the data at every memory alignment inside a larger buffer.
        const backing = new Uint8Array(data.length + 16);
        backing.set(data, pad);
        const view = backing.subarray(pad, pad + data.length);
        const end = Math.max(0, data.length - cut);
        expect(internetChecksum(view, 0, end, init)).toBe(referenceChecksum(data, 0, end, init));
        const start = Math.min(end, cut & ~1);
        expect(internetChecksum(view, start, end)).toBe(referenceChecksum(data, start, end));
      }),
    );
  });

  it("handles large buffers (beyond the exact-sum slice) with all-ones data", () => {
    const big = new Uint8Array((1 << 23) + 4096 + 6).fill(0xff);
    expect(internetChecksum(big)).toBe(referenceChecksum(big));
    const r = new Uint8Array(1 << 20);
    for (let i = 0; i < r.length; i++) r[i] = (i * 2654435761) >>> 24;
    expect(internetChecksum(r, 2)).toBe(referenceChecksum(r, 2));
  });

  it("verifies after the checksum is inserted, and detects any single-bit error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 200 }), fc.nat(), (data, bitSeed) => {
        const b = Uint8Array.from(data.length % 2 === 0 ? data : [...data, 0]);
        b[0] = 0;
        b[1] = 0;
        const c = internetChecksum(b);
        b[0] = c >>> 8;
        b[1] = c & 0xff;
        expect(verifyChecksum(b)).toBe(true);
        const bit = bitSeed % (b.length * 8);
        b[bit >> 3]! ^= 1 << (bit & 7);
        expect(verifyChecksum(b)).toBe(false);
      }),
    );
  });

  it("computes the pseudo-header sum as the bytes would", () => {
    fc.assert(
      fc.property(fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(255), fc.nat(0xffff), (src, dst, proto, len) => {
        const ph = new Uint8Array(12);
        const v = new DataView(ph.buffer);
        v.setUint32(0, src);
        v.setUint32(4, dst);
        ph[9] = proto;
        v.setUint16(10, len);
        expect(finish(pseudoHeaderSum(src, dst, proto, len))).toBe(referenceChecksum(ph));
      }),
    );
  });

  it("updates a checksum incrementally (RFC 1624)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.nat(0xffff), (h, newWord) => {
        h[10] = 0;
        h[11] = 0;
        const c = internetChecksum(h);
        const oldWord = (h[8]! << 8) | h[9]!;
        h[8] = newWord >>> 8;
        h[9] = newWord & 0xff;
        const updated = updateChecksum(c, oldWord, newWord);
        h[10] = updated >>> 8;
        h[11] = updated & 0xff;
        expect(verifyChecksum(h)).toBe(true);
      }),
    );
  });
});
