import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, type MacAddress } from "@morgana/interfaces";
import {
  decodeEthernet,
  encodeEthernet,
  encodeEthernetHeader,
  ethernetHeaderLength,
  ETHERTYPE_VLAN,
  type EthernetHeader,
} from "../src/index.js";
import { expectCode, hex } from "./helpers.js";

const macArb = fc
  .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }))
  .map(([a, b, c]) => (a * 2 ** 32 + b * 65536 + c) as MacAddress);
const vlanArb = fc.record({ pcp: fc.integer({ min: 0, max: 7 }), dei: fc.boolean(), id: fc.integer({ min: 0, max: 4095 }) });
const untaggedArb: fc.Arbitrary<EthernetHeader> = fc.record({
  dst: macArb,
  src: macArb,
  etherType: fc.integer({ min: 0, max: 0xffff }).filter((t) => t !== ETHERTYPE_VLAN),
});
const taggedArb: fc.Arbitrary<EthernetHeader> = fc.record({ dst: macArb, src: macArb, etherType: fc.integer({ min: 0, max: 0xffff }), vlan: vlanArb });
const headerArb = fc.oneof(untaggedArb, taggedArb);

describe("decodeEthernet / encodeEthernetHeader", () => {
  it("decode(encode(x)) = x, with and without a tag (property)", () => {
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ maxLength: 64 }), (header, payload) => {
        const frame = encodeEthernet(header, payload);
        const hl = header.vlan === undefined ? 14 : 18;
        expect(frame.length).toBe(hl + payload.length);
        const d = decodeEthernet(frame);
        expect(d.headerLength).toBe(hl);
        expect(d.payload).toEqual(payload);
        const { headerLength, payload: _p, ...rest } = d;
        expect(rest).toEqual(header);
        expect(headerLength).toBe(ethernetHeaderLength(header));
      }),
    );
  });

  it("encode(decode(b)) = b for every frame long enough for its header (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 18, maxLength: 80 }), fc.boolean(), (bytes, forceTag) => {
        const b = Uint8Array.from(bytes);
        if (forceTag) (b[12] = 0x81), (b[13] = 0x00);
        const d = decodeEthernet(b);
        expect(d.vlan !== undefined).toBe(b[12] === 0x81 && b[13] === 0x00);
        const again = encodeEthernet(d, d.payload);
        expect(hex(again)).toBe(hex(b));
      }),
    );
  });

  it("reads the fields at their wire positions (untagged)", () => {
    const f = Uint8Array.from([1, 2, 3, 4, 5, 6, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x08, 0x06, 0x99]);
    const d = decodeEthernet(f);
    expect(d.dst).toBe(0x010203040506);
    expect(d.src).toBe(0x0a0b0c0d0e0f);
    expect(d.etherType).toBe(0x0806);
    expect(d.vlan).toBeUndefined();
    expect(d.headerLength).toBe(14);
    expect([...d.payload]).toEqual([0x99]);
  });

  it("reads the 802.1Q TCI: PCP 3 bits, DEI 1 bit, VID 12 bits", () => {
    // TCI 0xb07b = 101 1 000001111011: PCP 5, DEI 1, VID 123
    const f = Uint8Array.from([...new Array(12).fill(0), 0x81, 0x00, 0xb0, 0x7b, 0x08, 0x00]);
    expect(decodeEthernet(f)).toMatchObject({ etherType: 0x0800, vlan: { pcp: 5, dei: true, id: 123 }, headerLength: 18 });
  });

  it("returns a zero-copy view as payload", () => {
    const f = new Uint8Array(60);
    const d = decodeEthernet(f);
    expect(d.payload.buffer).toBe(f.buffer);
    expect(d.payload.byteOffset).toBe(14);
    f[20] = 7;
    expect(d.payload[6]).toBe(7);
  });

  it("throws DecodeError('eth') for truncated headers, never anything else (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), fc.boolean(), (bytes, forceTag) => {
        const b = Uint8Array.from(bytes);
        if (forceTag && b.length >= 14) (b[12] = 0x81), (b[13] = 0x00);
        const tagged = b.length >= 14 && b[12] === 0x81 && b[13] === 0x00;
        const needed = tagged ? 18 : 14;
        let err: unknown;
        try {
          decodeEthernet(b);
        } catch (e) {
          err = e;
        }
        if (b.length >= needed) expect(err).toBeUndefined();
        else {
          expect(err).toBeInstanceOf(DecodeError);
          expect((err as DecodeError).layer).toBe("eth");
          expect((err as DecodeError).code).toBe("EBADMSG");
          expect((err as DecodeError).offset).toBe(b.length);
        }
      }),
    );
  });

  it("encodes at an offset and returns the header length", () => {
    const buf = new Uint8Array(30).fill(0xee);
    const n = encodeEthernetHeader(buf, 4, { dst: 0xffffffffffff as MacAddress, src: 0x020000000001 as MacAddress, etherType: 0x0806 });
    expect(n).toBe(14);
    expect(hex(buf.subarray(0, 4))).toBe("eeeeeeee");
    expect(hex(buf.subarray(4, 18))).toBe("ffffffffffff0200000000010806");
    expect(buf[18]).toBe(0xee);
    const m = encodeEthernetHeader(buf, 0, { dst: 1 as MacAddress, src: 2 as MacAddress, etherType: 0x86dd, vlan: { pcp: 7, dei: false, id: 4094 } });
    expect(m).toBe(18);
    expect(hex(buf.subarray(0, 18))).toBe("000000000001000000000002" + "8100" + "effe" + "86dd");
  });

  it("refuses bad fields and short buffers with EINVAL", () => {
    const h: EthernetHeader = { dst: 1 as MacAddress, src: 2 as MacAddress, etherType: 0x0800 };
    expectCode(() => encodeEthernetHeader(new Uint8Array(13), 0, h), "EINVAL");
    expectCode(() => encodeEthernetHeader(new Uint8Array(20), 7, h), "EINVAL");
    expectCode(() => encodeEthernetHeader(new Uint8Array(20), -1, h), "EINVAL");
    expectCode(() => encodeEthernetHeader(new Uint8Array(17), 0, { ...h, vlan: { pcp: 0, dei: false, id: 1 } }), "EINVAL");
    expectCode(() => encodeEthernet({ ...h, dst: 2 ** 48 as MacAddress }), "EINVAL");
    expectCode(() => encodeEthernet({ ...h, src: -1 as MacAddress }), "EINVAL");
    expectCode(() => encodeEthernet({ ...h, etherType: 0x10000 }), "EINVAL");
    expectCode(() => encodeEthernet({ ...h, etherType: ETHERTYPE_VLAN }), "EINVAL");
    expectCode(() => encodeEthernet({ ...h, vlan: { pcp: 8, dei: false, id: 1 } }), "EINVAL");
    expectCode(() => encodeEthernet({ ...h, vlan: { pcp: 0, dei: false, id: 4096 } }), "EINVAL");
  });
});
