import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, formatIpv4, formatMac, type Ipv4Address, type MacAddress } from "@morgana/interfaces";
import { readCapture } from "@morgana/pcap";
import { decodeEthernet } from "@morgana/ethif";
import { arpPacket, decodeArp, encodeArp, encodeArpPacket, type ArpPacket } from "../src/index.js";
import { expectCode } from "./helpers.js";

const macArb = fc
  .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }))
  .map(([a, b, c]) => (a * 2 ** 32 + b * 65536 + c) as MacAddress);
const ipArb = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })).map(([a, b]) => (a * 65536 + b) as Ipv4Address);
const packetArb: fc.Arbitrary<ArpPacket> = fc.record({
  hardwareType: fc.integer({ min: 0, max: 0xffff }),
  protocolType: fc.integer({ min: 0, max: 0xffff }),
  hardwareSize: fc.constant(6),
  protocolSize: fc.constant(4),
  opcode: fc.integer({ min: 0, max: 0xffff }),
  senderMac: macArb,
  senderIp: ipArb,
  targetMac: macArb,
  targetIp: ipArb,
});

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

describe("decodeArp / encodeArp", () => {
  it("decode(encode(x)) = x (property)", () => {
    fc.assert(
      fc.property(packetArb, fc.integer({ min: 0, max: 10 }), (p, offset) => {
        const buf = new Uint8Array(offset + 28 + 5);
        expect(encodeArp(buf, offset, p)).toBe(28);
        expect(decodeArp(buf.subarray(offset))).toEqual(p);
        expect(decodeArp(encodeArpPacket(p))).toEqual(p);
      }),
    );
  });

  it("encode(decode(b)) = the first 28 bytes of b for every b with sizes 6/4 (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 28, maxLength: 60 }), (bytes) => {
        const b = Uint8Array.from(bytes);
        b[4] = 6;
        b[5] = 4;
        expect(hex(encodeArpPacket(decodeArp(b)))).toBe(hex(b.subarray(0, 28)));
      }),
    );
  });

  it("lays the fields out as RFC 826 says", () => {
    const p = arpPacket(1, 0x0a0b0c0d0e0f as MacAddress, 0xc0a80001 as Ipv4Address, 0 as MacAddress, 0xc0a80002 as Ipv4Address);
    expect(hex(encodeArpPacket(p))).toBe("0001" + "0800" + "06" + "04" + "0001" + "0a0b0c0d0e0f" + "c0a80001" + "000000000000" + "c0a80002");
  });

  it("throws DecodeError('arp') with the offset for short input and unsupported sizes, nothing else (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), (bytes, fixSizes) => {
        const b = Uint8Array.from(bytes);
        if (fixSizes && b.length >= 6) (b[4] = 6), (b[5] = 4);
        let err: unknown;
        let out: ArpPacket | undefined;
        try {
          out = decodeArp(b);
        } catch (e) {
          err = e;
        }
        if (b.length < 8) expect((err as DecodeError).offset).toBe(b.length);
        else if (b[4] !== 6) expect((err as DecodeError).offset).toBe(4);
        else if (b[5] !== 4) expect((err as DecodeError).offset).toBe(5);
        else if (b.length < 28) expect((err as DecodeError).offset).toBe(b.length);
        else {
          expect(err).toBeUndefined();
          expect(out!.opcode).toBe(b[6]! * 256 + b[7]!);
          return;
        }
        expect(err).toBeInstanceOf(DecodeError);
        expect((err as DecodeError).layer).toBe("arp");
      }),
    );
  });

  it("refuses bad fields and buffers with EINVAL", () => {
    const p = arpPacket(1, 1 as MacAddress, 2 as Ipv4Address, 3 as MacAddress, 4 as Ipv4Address);
    expectCode(() => encodeArp(new Uint8Array(27), 0, p), "EINVAL");
    expectCode(() => encodeArp(new Uint8Array(30), 3, p), "EINVAL");
    expectCode(() => encodeArpPacket({ ...p, hardwareSize: 8 }), "EINVAL");
    expectCode(() => encodeArpPacket({ ...p, protocolSize: 16 }), "EINVAL");
    expectCode(() => encodeArpPacket({ ...p, opcode: 0x10000 }), "EINVAL");
    expectCode(() => encodeArpPacket({ ...p, hardwareType: -1 }), "EINVAL");
    expectCode(() => encodeArpPacket({ ...p, senderMac: 2 ** 48 as MacAddress }), "EINVAL");
    expectCode(() => encodeArpPacket({ ...p, targetIp: 2 ** 32 as Ipv4Address }), "EINVAL");
    expectCode(() => encodeArpPacket({ ...p, senderIp: 1.5 as Ipv4Address }), "EINVAL");
  });
});

describe("the reference trace arp-icmp-echo.pcap", () => {
  const dir = new URL("../../../../shared/traces/", import.meta.url);
  const capture = readCapture(readFileSync(fileURLToPath(new URL("arp-icmp-echo.pcap", dir))));
  const json = JSON.parse(readFileSync(fileURLToPath(new URL("arp-icmp-echo.tshark.json", dir)), "utf8")) as {
    _source: { layers: Record<string, Record<string, string> | undefined> };
  }[];

  it("decodes every ARP frame as tshark does", () => {
    let n = 0;
    capture.records.forEach((r, i) => {
      const eth = decodeEthernet(r.data);
      const tshark = json[i]!._source.layers.arp;
      expect(eth.etherType === 0x0806).toBe(tshark !== undefined);
      if (tshark === undefined) return;
      n++;
      const a = decodeArp(eth.payload);
      expect(String(a.hardwareType)).toBe(tshark["arp.hw.type"]);
      expect("0x" + a.protocolType.toString(16).padStart(4, "0")).toBe(tshark["arp.proto.type"]);
      expect(String(a.hardwareSize)).toBe(tshark["arp.hw.size"]);
      expect(String(a.protocolSize)).toBe(tshark["arp.proto.size"]);
      expect(String(a.opcode)).toBe(tshark["arp.opcode"]);
      expect(formatMac(a.senderMac)).toBe(tshark["arp.src.hw_mac"]);
      expect(formatIpv4(a.senderIp)).toBe(tshark["arp.src.proto_ipv4"]);
      expect(formatMac(a.targetMac)).toBe(tshark["arp.dst.hw_mac"]);
      expect(formatIpv4(a.targetIp)).toBe(tshark["arp.dst.proto_ipv4"]);
      expect(hex(encodeArpPacket(a))).toBe(hex(eth.payload.subarray(0, 28)));
    });
    expect(n).toBe(2); // a request and its reply
  });
});
