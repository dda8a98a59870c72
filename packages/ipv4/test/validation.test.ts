/**
 * Receive validation: what is accepted, one test per drop reason, and
 * robustness properties (random bytes, mutated trace frames).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAC_BROADCAST, mac, parseIpv4Prefix, type LayerStats } from "@morgana/interfaces";
import { readCapture } from "@morgana/pcap";
import { multicastMac, PACKET_DROP_REASONS } from "../src/index.js";
import { FakeIcmp, Recorder, bytesOf, ip, packet, rig, textbookChecksum, traceBytes } from "./helpers.js";


function packetDrops(s: LayerStats): number {
  return PACKET_DROP_REASONS.reduce((n, r) => n + (s.drops[r] ?? 0), 0);
}

/** Every packet received is dropped, held as a fragment, or dispatched whole. */
function expectAccounted(s: LayerStats): void {
  const c = s.counters;
  expect(c.rxPackets).toBe(packetDrops(s) + c.fragmentsReceived! + (c.rxDatagrams! - c.reassembled!));
}

function setup() {
  const r = rig();
  const udp = new Recorder();
  r.ipv4.register(17, udp);
  return { ...r, udp };
}

describe("accepting", () => {
  it("delivers unicast to our address, with the payload trimmed to the total length (Ethernet padding removed)", () => {
    const { eth, udp, ipv4 } = setup();
    const payload = bytesOf(6);
    const p = packet({}, payload);
    const framed = new Uint8Array(46); // minimum Ethernet payload: 26 bytes of datagram + 20 of padding
    framed.set(p);
    framed.fill(0xee, p.length);
    eth.deliver(framed);
    expect(udp.got).toHaveLength(1);
    expect([...udp.got[0]!.payload]).toEqual([...payload]);
    expect(udp.got[0]!.header.length).toBe(20);
    expect(udp.got[0]!.src).toBe(ip("10.0.0.1"));
    expect(udp.got[0]!.dst).toBe(ip("10.0.0.2"));
    expect(ipv4.stats().counters).toMatchObject({ rxPackets: 1, rxDatagrams: 1, delivered: 1, rxDatagramBytes: 6 });
  });

  it("passes views of the received buffer, without copying", () => {
    const { eth, ipv4 } = setup();
    ipv4.unregister(17);
    const seen: Uint8Array[] = [];
    ipv4.register(17, { onDatagram: (_s, _d, payload, header) => seen.push(payload, header) });
    const p = packet({}, bytesOf(10));
    eth.deliver(p);
    expect(seen[0]!.buffer).toBe(p.buffer);
    expect(seen[0]!.byteOffset).toBe(20);
    expect(seen[1]!.buffer).toBe(p.buffer);
  });

  it.each([
    ["limited broadcast", "255.255.255.255"],
    ["directed broadcast", "10.0.0.255"],
    ["old all-zeros directed broadcast", "10.0.0.0"],
    ["old all-zeros limited broadcast", "0.0.0.0"],
    ["the all-hosts group", "224.0.0.1"],
  ])("accepts %s, also through a broadcast MAC", (_n, dst) => {
    const { eth, udp } = setup();
    eth.deliver(packet({ dst }), dst.startsWith("224") ? multicastMac(ip(dst)) : MAC_BROADCAST);
    eth.deliver(packet({ dst }));
    expect(udp.got.map((d) => d.dst)).toEqual([ip(dst), ip(dst)]);
  });

  it("accepts a joined multicast group until it is left; joins are counted and reach Ethernet", () => {
    const { eth, udp, ipv4 } = setup();
    const g = ip("239.1.2.3");
    expect(eth.multicast.has(multicastMac(ip("224.0.0.1")))).toBe(true);
    eth.deliver(packet({ dst: "239.1.2.3" }), multicastMac(g));
    expect(udp.got).toHaveLength(0);
    expect(ipv4.stats().drops["not-joined"]).toBe(1);
    ipv4.joinGroup(g);
    ipv4.joinGroup(g);
    expect(eth.multicast.has(multicastMac(g))).toBe(true);
    eth.deliver(packet({ dst: "239.1.2.3" }), multicastMac(g));
    expect(udp.got).toHaveLength(1);
    ipv4.leaveGroup(g);
    eth.deliver(packet({ dst: "239.1.2.3" }), multicastMac(g));
    expect(udp.got).toHaveLength(2);
    ipv4.leaveGroup(g);
    expect(eth.multicast.has(multicastMac(g))).toBe(false);
    eth.deliver(packet({ dst: "239.1.2.3" }), multicastMac(g));
    expect(udp.got).toHaveLength(2);
    expect(ipv4.stats().drops["not-joined"]).toBe(2);
    expect(() => ipv4.leaveGroup(g)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => ipv4.leaveGroup(ip("224.0.0.1"))).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => ipv4.joinGroup(ip("10.0.0.9"))).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  it("keeps a shared multicast MAC joined while another group on it remains", () => {
    const { eth, ipv4 } = setup();
    // 224.1.2.3 and 225.1.2.3 share 01:00:5e:01:02:03.
    ipv4.joinGroup(ip("224.1.2.3"));
    ipv4.joinGroup(ip("225.1.2.3"));
    ipv4.leaveGroup(ip("224.1.2.3"));
    expect(eth.multicast.has(multicastMac(ip("225.1.2.3")))).toBe(true);
    ipv4.leaveGroup(ip("225.1.2.3"));
    expect(eth.multicast.has(multicastMac(ip("225.1.2.3")))).toBe(false);
  });

  it("delivers TTL 0 and TTL 1 (RFC 1122 §3.2.1.7: a host does not discard for TTL < 2), counting TTL 0", () => {
    const { eth, udp, ipv4 } = setup();
    eth.deliver(packet({ ttl: 0 }));
    eth.deliver(packet({ ttl: 1 }));
    expect(udp.got).toHaveLength(2);
    expect(ipv4.stats().counters.rxTtlZero).toBe(1);
  });

  it("skips options whole, malformed ones included, and passes them in the header", () => {
    const { eth, udp } = setup();
    const payload = bytesOf(12);
    const bogus = new Uint8Array(40).fill(0x44); // option 0x44 claiming 0x44 bytes, far beyond IHL
    eth.deliver(packet({ options: bogus }, payload));
    eth.deliver(packet({ options: Uint8Array.of(0x07, 0xff, 0, 0) }, payload)); // length 255
    expect(udp.got).toHaveLength(2);
    for (const d of udp.got) expect([...d.payload]).toEqual([...payload]);
    expect(udp.got[0]!.header.length).toBe(60);
    expect(udp.got[1]!.header.length).toBe(24);
  });

  it("ignores the reserved flag bit", () => {
    const { eth, udp } = setup();
    eth.deliver(packet({ reserved: true }));
    expect(udp.got).toHaveLength(1);
  });

  it("catches and counts a throwing handler", () => {
    const { eth, ipv4 } = setup();
    ipv4.register(6, {
      onDatagram: () => {
        throw new Error("boom");
      },
    });
    expect(() => eth.deliver(packet({ protocol: 6 }))).not.toThrow();
    expect(ipv4.stats().counters.handlerErrors).toBe(1);
  });
});

describe("one drop reason per failure", () => {
  const cases: [reason: string, build: () => Uint8Array, linkDst?: number][] = [
    ["short", () => packet({}).subarray(0, 19)],
    ["version", () => packet({ version: 6 })],
    ["header-length", () => packet({ ihl: 4 })],
    ["header-truncated", () => packet({ ihl: 6 })],
    ["total-length", () => packet({ totalLength: 16 })],
    ["truncated", () => packet({ totalLength: 21 })],
    ["checksum", () => packet({ checksum: 0x0bad })],
    ["bad-source", () => packet({ src: "255.255.255.255" })],
    ["bad-source", () => packet({ src: "10.0.0.255" })],
    ["bad-source", () => packet({ src: "224.0.0.5" })],
    ["bad-source", () => packet({ src: "127.0.0.1" })],
    ["not-for-us", () => packet({ dst: "10.0.0.3" })],
    ["not-for-us", () => packet({ dst: "192.168.1.2" })],
    ["not-joined", () => packet({ dst: "239.0.0.1" })],
    ["link-broadcast", () => packet({}), MAC_BROADCAST],
    ["link-broadcast", () => packet({}), multicastMac(ip("224.0.0.1"))],
    ["fragment-length", () => packet({ mf: true }, bytesOf(12))],
    ["fragment-length", () => packet({ mf: true, offset: 8 })],
    ["fragment-too-big", () => packet({ offset: 65512 }, bytesOf(8))],
    ["fragment-too-big", () => packet({ offset: 65528, mf: true }, bytesOf(8))],
  ];
  it.each(cases)("%s", (reason, build, linkDst) => {
    const { eth, udp, ipv4 } = setup();
    const icmp = new FakeIcmp();
    ipv4.attachIcmp(icmp);
    eth.deliver(build(), linkDst === undefined ? undefined : mac(linkDst));
    const s = ipv4.stats();
    expect(udp.got).toHaveLength(0);
    expect(s.drops).toEqual({ [reason]: 1 });
    expect(icmp.sent).toHaveLength(0);
    expectAccounted(s);
  });

  it("the same packet without the defect is delivered (the cases are minimal)", () => {
    const { eth, udp } = setup();
    eth.deliver(packet({}));
    eth.deliver(packet({ ihl: 5 }));
    eth.deliver(packet({ totalLength: 20 }));
    eth.deliver(packet({ src: "10.0.0.254" }));
    eth.deliver(packet({ offset: 65512 }, bytesOf(3))); // ends at 65515: allowed (held)
    expect(udp.got).toHaveLength(4);
  });

  it("reassembly-limit: a fragment bigger than the whole byte budget", () => {
    const { eth, ipv4 } = rig({ reassembly: { maxBytes: 1000 } });
    eth.deliver(packet({ mf: true }, bytesOf(1480)));
    expect(ipv4.stats().drops).toEqual({ "reassembly-limit": 1 });
    expect(ipv4.stats().counters.fragmentsReceived).toBe(0);
  });

  it("no-protocol: counted, and ICMP protocol unreachable requested with the header and payload", () => {
    const { eth, ipv4 } = setup();
    const icmp = new FakeIcmp();
    eth.deliver(packet({ protocol: 99 }, bytesOf(9)));
    expect(ipv4.stats().drops).toEqual({ "no-protocol": 1 });
    ipv4.attachIcmp(icmp);
    const p = packet({ protocol: 99 }, bytesOf(9));
    eth.deliver(p);
    expect(ipv4.stats().drops).toEqual({ "no-protocol": 2 });
    expect(icmp.sent).toHaveLength(1);
    expect(icmp.sent[0]!.kind).toBe("protocol-unreachable");
    expect([...icmp.sent[0]!.header]).toEqual([...p.subarray(0, 20)]);
    expect([...icmp.sent[0]!.payload]).toEqual([...bytesOf(9)]);
  });

  it("closed: after close() nothing is delivered", () => {
    const { eth, udp, ipv4 } = setup();
    const handler = eth.handlers.get(0x0800)!;
    ipv4.close();
    expect(eth.handlers.has(0x0800)).toBe(false);
    handler(packet({}), mac(1), mac(2));
    expect(udp.got).toHaveLength(0);
    expect(ipv4.stats().drops).toEqual({ closed: 1 });
  });
});

describe("robustness", () => {
  it("random bytes never throw and are all accounted for", () => {
    const { eth, ipv4 } = rig({ addresses: [parseIpv4Prefix("10.0.0.2/24")] });
    ipv4.register(17, new Recorder());
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (b, fixup) => {
        const p = b.slice();
        if (fixup && p.length >= 20) {
          // Make it structurally plausible so that the deeper checks run.
          p[0] = 0x45;
          p[2] = p.length >>> 8;
          p[3] = p.length & 255;
          p[16] = 10;
          p[17] = 0;
          p[18] = 0;
          p[19] = 2;
          p[10] = 0;
          p[11] = 0;
          const ck = textbookChecksum(p, 0, 20);
          p[10] = ck >>> 8;
          p[11] = ck & 255;
        }
        expect(() => eth.deliver(p)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
    expectAccounted(ipv4.stats());
    expect(ipv4.stats().counters.rxPackets).toBe(2000);
  });

  it("mutated trace frames never throw and are all accounted for", () => {
    const frames: Uint8Array[] = [];
    for (const name of ["icmp-fragmented", "udp-port-unreachable", "tcp-http-get", "dns-udp-queries", "arp-icmp-echo"]) {
      for (const r of readCapture(traceBytes(name)).records) if (r.data[12] === 8 && r.data[13] === 0) frames.push(r.data.subarray(14));
    }
    const { eth, ipv4, clock } = rig({ addresses: [parseIpv4Prefix("10.77.0.1/24"), parseIpv4Prefix("10.77.0.2/24")], gateway: null });
    for (const proto of [1, 6]) ipv4.register(proto, new Recorder());
    ipv4.attachIcmp(new FakeIcmp());
    const mutation = fc.record({
      frame: fc.integer({ min: 0, max: frames.length - 1 }),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      cut: fc.option(fc.nat()),
      fixChecksum: fc.boolean(),
    });
    fc.assert(
      fc.property(mutation, ({ frame, edits, cut, fixChecksum }) => {
        let p = frames[frame]!.slice();
        for (const [at, v] of edits) if (p.length > 0) p[at % p.length] = v;
        if (cut !== null) p = p.subarray(0, cut % (p.length + 1));
        if (fixChecksum && p.length >= 20) {
          const hl = Math.min(p.length, (p[0]! & 15) * 4);
          p[10] = 0;
          p[11] = 0;
          const ck = textbookChecksum(p, 0, hl);
          p[10] = ck >>> 8;
          p[11] = ck & 255;
        }
        expect(() => eth.deliver(p)).not.toThrow();
        clock.advanceSync(100);
      }),
      { numRuns: 3000 },
    );
    const s = ipv4.stats();
    expectAccounted(s);
    expect(s.counters.rxPackets).toBe(3000);
    expect(s.counters.delivered).toBeGreaterThan(0); // some mutations leave the packet valid
  });
});
