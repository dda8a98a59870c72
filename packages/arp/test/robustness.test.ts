import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isGroupMac, isMulticastIpv4, type Ipv4Address, type MacAddress } from "@morgana/interfaces";
import { arpPacket, decodeArp, encodeArpPacket } from "../src/index.js";
import { BCAST, fakeSetup, IP_PEER, IP_US, MAC_PEER, MAC_US, ZERO_IP, ZERO_MAC } from "./helpers.js";

const INVALID = ["short", "hardware-type", "protocol-type", "address-size", "opcode"];

const macArb = fc.oneof(
  fc.constantFrom(MAC_PEER, MAC_US, BCAST, ZERO_MAC, 0x0100_5e00_0001 as MacAddress),
  fc.integer({ min: 0, max: 0xffffff }).map((n) => (0x0200_0000_0000 + n) as MacAddress),
);
const ipArb = fc.oneof(
  fc.constantFrom(IP_PEER, IP_US, ZERO_IP, 0xffff_ffff as Ipv4Address, 0xe000_0001 as Ipv4Address),
  fc.integer({ min: 0, max: 15 }).map((n) => (0x0a00_0000 + n) as Ipv4Address),
);
/** Well-formed packets with hostile field choices, then possibly damaged, cut or padded; or plain random bytes. */
const payloadArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({
        op: fc.constantFrom(1, 1, 2, 2, 3, 0),
        sha: macArb,
        spa: ipArb,
        tha: macArb,
        tpa: ipArb,
        damage: fc.option(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 })), { freq: 5 }),
        length: fc.oneof(fc.constant(28), fc.constant(46), fc.integer({ min: 0, max: 30 })),
      })
      .map(({ op, sha, spa, tha, tpa, damage, length }) => {
        const b = new Uint8Array(Math.max(28, length));
        b.set(encodeArpPacket(arpPacket(op, sha, spa, tha, tpa)));
        if (damage !== null) b[damage[0]] = damage[1];
        return b.subarray(0, length);
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }) },
);

describe("robustness", () => {
  it("never throws on arbitrary ARP payloads, counts every one, keeps the cache bounded and clean (property)", () => {
    fc.assert(
      fc.property(fc.array(payloadArb, { maxLength: 80 }), fc.boolean(), (payloads, acceptUnsolicited) => {
        const { eth, arp } = fakeSetup({ cacheSize: 8, acceptUnsolicited });
        const pending = arp.query(IP_PEER).catch(() => undefined);
        let valid = 0;
        for (const p of payloads) {
          try {
            const d = decodeArp(p);
            if (d.hardwareType === 1 && d.protocolType === 0x0800 && (d.opcode === 1 || d.opcode === 2)) valid++;
          } catch {
            // counted as invalid below
          }
          expect(() => eth.inject(p)).not.toThrow();
        }
        const s = arp.stats();
        const c = s.counters;
        expect(c.rxPackets).toBe(payloads.length);
        expect(c.rxRequests! + c.rxReplies!).toBe(valid);
        expect(c.rxInvalid).toBe(payloads.length - valid);
        expect(INVALID.reduce((a, r) => a + (s.drops[r] ?? 0), 0)).toBe(c.rxInvalid);
        expect(c.cacheSize).toBeLessThanOrEqual(8);
        for (const e of arp.entries()) {
          expect(e.mac).not.toBe(0);
          expect(isGroupMac(e.mac)).toBe(false);
          expect(e.mac).not.toBe(MAC_US);
          expect([0, 0xffff_ffff, IP_US]).not.toContain(e.ip);
          expect(isMulticastIpv4(e.ip)).toBe(false);
        }
        // Everything we sent is well formed and goes to a unicast address or broadcast (requests).
        for (const f of eth.sent) {
          const a = decodeArp(f.bytes);
          expect(a.senderMac).toBe(MAC_US);
          if (a.opcode === 2) {
            expect(isGroupMac(f.dst)).toBe(false);
            expect(f.dst).toBe(a.targetMac);
          }
        }
        arp.close();
        void pending;
      }),
    );
  });
});

describe("LRU order", () => {
  it("matches a reference LRU model under any sequence of learning, lookups and sends (property)", () => {
    const opArb = fc.tuple(fc.constantFrom("learn", "lookup", "send"), fc.integer({ min: 0, max: 5 }));
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.integer({ min: 1, max: 4 }), (ops, cap) => {
        const { eth, arp } = fakeSetup({ cacheSize: cap });
        const addr = (k: number) => (0x0a00_0100 + k) as Ipv4Address;
        const model: number[] = []; // least recently used first
        for (const [op, k] of ops) {
          const i = model.indexOf(k);
          if (op === "learn") {
            eth.injectArp(1, (0x0200_0000_0100 + k) as MacAddress, addr(k), ZERO_MAC, IP_US);
            if (i < 0) {
              if (model.length === cap) model.shift();
              model.push(k);
            } // a confirmation does not count as a use
          } else if (op === "lookup") {
            expect(arp.lookup(addr(k))).toBe(i < 0 ? undefined : 0x0200_0000_0100 + k);
            if (i >= 0) model.push(...model.splice(i, 1));
          } else if (i >= 0) {
            expect(arp.send(addr(k), 1, () => 1)).toBe(true);
            model.push(...model.splice(i, 1));
          }
          expect(arp.entries().map((e) => e.ip - 0x0a00_0100)).toEqual(model);
        }
      }),
    );
  });
});
