/**
 * Fragmentation on output, reassembly on input, and the reassembly limits.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIpv4Prefix } from "@morgana/interfaces";
import { SeededRandom } from "@morgana/sim";
import { DEFAULT_REASSEMBLY_LIMITS, decodeIpv4, type ReassemblyLimits } from "../src/index.js";
import { FakeIcmp, Recorder, bytesOf, fieldsOf, ip, packet, rig, type Rig } from "./helpers.js";

const TIMEOUT = 30_000;

/** A sender on 10.0.0.1/24 and a receiver on 10.0.0.2/24. */
function pair(mtu: number, receiverLimits: Parameters<typeof rig>[0] = {}) {
  const a = rig({ addresses: [parseIpv4Prefix("10.0.0.1/24")], gateway: null, mtu, seed: 11 });
  const b = rig({ gateway: null, ...receiverLimits });
  const udp = new Recorder();
  b.ipv4.register(17, udp);
  return { a, b, udp };
}

function sendFrom(a: Rig, size: number, seed: number): { data: Uint8Array; frames: Uint8Array[] } {
  const data = bytesOf(size, seed);
  const before = a.arp.sent.length;
  a.ipv4.write(ip("10.0.0.2"), 17, size, (buf) => {
    buf.set(data);
    return size;
  });
  return { data, frames: a.arp.sent.slice(before).map((s) => s.bytes) };
}

/** Checks the fragments A produced, independently of the decoder under test. */
function checkFragments(frames: Uint8Array[], size: number, mtu: number): void {
  if (size + 20 <= mtu) {
    expect(frames).toHaveLength(1);
    expect(fieldsOf(frames[0]!)).toMatchObject({ mf: false, offset: 0, total: size + 20, checksumOk: true });
    return;
  }
  const per = Math.floor((mtu - 20) / 8) * 8;
  expect(frames).toHaveLength(Math.ceil(size / per));
  const id = fieldsOf(frames[0]!).id;
  let next = 0;
  frames.forEach((f, i) => {
    const h = fieldsOf(f);
    const last = i === frames.length - 1;
    expect(f.length).toBeLessThanOrEqual(mtu);
    expect(h).toMatchObject({ id, mf: !last, offset: next, df: false, checksumOk: true, total: f.length, protocol: 17 });
    if (!last) expect(f.length - 20).toBe(per);
    next += f.length - 20;
  });
  expect(next).toBe(size);
}

describe("fragmentation and reassembly", () => {
  it("round trip over random sizes, MTUs, orders and duplicates: delivered exactly once, byte-identical", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65515 }),
        fc.integer({ min: 68, max: 9000 }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 5 }),
        (size, mtu, seed, dups) => {
          const { a, b, udp } = pair(mtu, { reassembly: { maxFragmentsPerDatagram: 2048 } });
          const { data, frames } = sendFrom(a, size, seed);
          checkFragments(frames, size, mtu);
          // Random order, plus duplicates of random fragments (anywhere in the sequence).
          // The fragment that completes the datagram comes last; duplicates of the others go anywhere
          // before it (a duplicate arriving after completion starts a new reassembly, see below).
          const rnd = new SeededRandom(seed);
          const order = frames.map((f) => f);
          for (let i = order.length - 1; i > 0; i--) {
            const j = rnd.uint32() % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          const final = order.pop()!;
          if (order.length > 0) for (let i = 0; i < dups; i++) order.splice(rnd.uint32() % (order.length + 1), 0, order[rnd.uint32() % order.length]!);
          order.push(final);
          for (const f of order) b.eth.deliver(f.slice());
          expect(udp.got).toHaveLength(1);
          const got = udp.got[0]!;
          expect(got.payload.length).toBe(size);
          expect(Buffer.from(got.payload).equals(Buffer.from(data))).toBe(true);
          // A late duplicate starts a reassembly that times out.
          if (frames.length > 1) b.eth.deliver(frames[rnd.uint32() % frames.length]!.slice());
          b.clock.advanceSync(TIMEOUT);
          expect(udp.got).toHaveLength(1);
          const s = b.ipv4.stats();
          expect(s.counters.reassemblyDatagrams).toBe(0);
          expect(s.counters.reassemblyBytes).toBe(0);
          expect(b.clock.pendingTimers).toBe(0);
          if (frames.length > 1) expect(s.counters.reassembled).toBe(1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("with a fragment lost the datagram is never delivered, and the state is freed at the timeout", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65515 }),
        fc.integer({ min: 68, max: 9000 }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        (size, mtu, seed) => {
          fc.pre(size + 20 > mtu);
          const { a, b, udp } = pair(mtu, { reassembly: { maxFragmentsPerDatagram: 2048 } });
          const { frames } = sendFrom(a, size, seed);
          const rnd = new SeededRandom(seed);
          const lost = rnd.uint32() % frames.length;
          frames.forEach((f, i) => {
            if (i !== lost) b.eth.deliver(f.slice());
          });
          expect(udp.got).toHaveLength(0);
          const held = b.ipv4.stats().counters;
          expect(held.reassemblyDatagrams).toBe(1);
          expect(held.reassemblyFragments).toBe(frames.length - 1);
          b.clock.advanceSync(TIMEOUT - 1);
          expect(b.ipv4.stats().counters.reassemblyDatagrams).toBe(1);
          b.clock.advanceSync(1);
          const s = b.ipv4.stats();
          expect(udp.got).toHaveLength(0);
          expect(s.counters).toMatchObject({ reassemblyDatagrams: 0, reassemblyBytes: 0, reassemblyFragments: 0 });
          expect(s.drops["reassembly-timeout"]).toBe(1);
          expect(b.clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("reassembles around options in the first fragment and hands over a header describing the whole datagram", () => {
    const { b, udp } = pair(1500);
    const opts = Uint8Array.of(0x94, 0x04, 0, 0);
    const data = bytesOf(40);
    b.eth.deliver(packet({ id: 7, mf: true, offset: 16, ttl: 9 }, data.subarray(16, 32)));
    b.eth.deliver(packet({ id: 7, offset: 32, ttl: 9 }, data.subarray(32)));
    b.eth.deliver(packet({ id: 7, mf: true, df: false, tos: 0x10, options: opts, ttl: 9 }, data.subarray(0, 16)));
    expect(udp.got).toHaveLength(1);
    expect([...udp.got[0]!.payload]).toEqual([...data]);
    const h = fieldsOf(udp.got[0]!.header);
    expect(h).toMatchObject({ hl: 24, total: 64, mf: false, offset: 0, id: 7, tos: 0x10, ttl: 9, checksumOk: true });
    expect([...udp.got[0]!.header.subarray(20)]).toEqual([...opts]);
  });

  it("DF datagrams are never fragmented; a datagram that fits goes out whole", () => {
    const { a } = pair(576);
    expect(() => a.ipv4.write(ip("10.0.0.2"), 17, 557, () => 557, { dontFragment: true })).toThrow(expect.objectContaining({ code: "EMSGSIZE" }));
    a.ipv4.write(ip("10.0.0.2"), 17, 556, () => 556, { dontFragment: true });
    expect(a.arp.sent).toHaveLength(1);
    expect(fieldsOf(a.arp.sent[0]!.bytes)).toMatchObject({ df: true, mf: false, total: 576 });
  });

  it("a fill that uses less than size can avoid fragmentation", () => {
    const { a } = pair(576);
    a.ipv4.write(ip("10.0.0.2"), 17, 2000, () => 100);
    expect(a.arp.sent).toHaveLength(1);
    expect(fieldsOf(a.arp.sent[0]!.bytes)).toMatchObject({ total: 120, mf: false });
    expect(a.ipv4.stats().counters.fragmentedDatagrams).toBe(0);
    a.ipv4.write(ip("10.0.0.2"), 17, 2000, () => 1000);
    expect(a.arp.sent.slice(1).map((s) => s.bytes.length)).toEqual([572, 20 + 1000 - 552]);
    expect(a.ipv4.stats().counters).toMatchObject({ fragmentedDatagrams: 1, fragmentsSent: 2, txDatagrams: 2, txPackets: 3 });
  });

  it("counts a throwing fill on the fragmenting path without throwing", () => {
    const { a } = pair(576);
    a.ipv4.write(ip("10.0.0.2"), 17, 2000, () => {
      throw new Error("x");
    });
    a.ipv4.write(ip("10.0.0.2"), 17, 2000, () => 2001);
    expect(a.arp.sent).toHaveLength(0);
    expect(a.ipv4.stats().drops["fill-error"]).toBe(2);
  });
});

describe("overlaps and inconsistencies", () => {
  const frag = (offset: number, len: number, mf: boolean, fillByte = 0, id = 5) =>
    packet({ id, offset, mf }, new Uint8Array(len).fill(fillByte === 0 ? offset & 255 : fillByte));

  function feed(...ps: Uint8Array[]) {
    const r = rig();
    const udp = new Recorder();
    r.ipv4.register(17, udp);
    for (const p of ps) r.eth.deliver(p);
    return { ...r, udp };
  }

  it("ignores an exact duplicate", () => {
    const { udp, ipv4 } = feed(frag(0, 8, true), frag(0, 8, true), frag(8, 8, false));
    expect(udp.got).toHaveLength(1);
    expect(udp.got[0]!.payload.length).toBe(16);
    expect(ipv4.stats().counters.fragmentDuplicates).toBe(1);
  });

  it.each([
    ["a partial overlap", [frag(0, 16, true), frag(8, 16, false)]],
    ["a fragment inside another", [frag(0, 32, true), frag(8, 8, true), frag(32, 8, false)]],
    ["a fragment covering another", [frag(8, 8, true), frag(0, 32, true), frag(32, 8, false)]],
    ["the same range with different bytes", [frag(0, 8, true, 1), frag(0, 8, true, 2), frag(8, 8, false)]],
    ["the same start, a different length", [frag(0, 8, true), frag(0, 16, true), frag(16, 8, false)]],
  ])("drops the datagram on %s (fragment-overlap)", (_n, ps) => {
    const { udp, ipv4, clock } = feed(...ps);
    expect(udp.got).toHaveLength(0);
    expect(ipv4.stats().drops["fragment-overlap"]).toBe(1);
    clock.advanceSync(TIMEOUT);
    expect(ipv4.stats().counters.reassemblyDatagrams).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it.each([
    ["two last fragments with different ends", [frag(16, 8, false), frag(24, 8, false)]],
    ["a fragment beyond the known end", [frag(16, 8, false), frag(24, 8, true)]],
    ["a last fragment ending before a received one", [frag(16, 8, true), frag(8, 8, false)]],
    ["the teardrop shape (a last fragment inside the first)", [frag(0, 24, true), frag(16, 4, false)]],
  ])("drops the datagram on %s (fragment-inconsistent)", (_n, ps) => {
    const { udp, ipv4 } = feed(...ps);
    expect(udp.got).toHaveLength(0);
    expect(ipv4.stats().drops["fragment-inconsistent"]).toBe(1);
    expect(ipv4.stats().counters.reassemblyDatagrams).toBe(0);
  });

  it("a zero-length last fragment completes a datagram whose payload ends on a fragment boundary", () => {
    const { udp } = feed(frag(0, 8, true), frag(8, 8, true), frag(16, 0, false));
    expect(udp.got).toHaveLength(1);
    expect(udp.got[0]!.payload.length).toBe(16);
  });

  it("keeps datagrams apart by source, destination, protocol and id", () => {
    const r = rig({ addresses: [parseIpv4Prefix("10.0.0.2/24"), parseIpv4Prefix("10.0.1.2/24")] });
    const udp = new Recorder();
    const tcp = new Recorder();
    r.ipv4.register(17, udp);
    r.ipv4.register(6, tcp);
    const specs = [
      { id: 1 },
      { id: 2 },
      { id: 1, src: "10.0.0.3" },
      { id: 1, dst: "10.0.1.2" },
      { id: 1, protocol: 6 },
    ];
    for (const s of specs) r.eth.deliver(packet({ ...s, mf: true }, new Uint8Array(8).fill(s.id)));
    expect(r.ipv4.stats().counters.reassemblyDatagrams).toBe(5);
    for (const s of specs) r.eth.deliver(packet({ ...s, offset: 8 }, new Uint8Array(4).fill(9)));
    expect(udp.got).toHaveLength(4);
    expect(tcp.got).toHaveLength(1);
    expect(r.ipv4.stats().drops).toEqual({});
  });
});

describe("limits", () => {
  const first = (id: number, len = 8) => packet({ id, mf: true }, new Uint8Array(len));
  const last = (id: number, offset = 8, len = 8) => packet({ id, offset }, new Uint8Array(len));

  it("drops a datagram with more than maxFragmentsPerDatagram fragments (fragment-limit)", () => {
    const r = rig({ reassembly: { maxFragmentsPerDatagram: 4 } });
    const udp = new Recorder();
    r.ipv4.register(17, udp);
    for (let i = 0; i < 4; i++) r.eth.deliver(packet({ id: 1, mf: true, offset: i * 8 }, new Uint8Array(8)));
    expect(r.ipv4.stats().counters.reassemblyFragments).toBe(4);
    r.eth.deliver(packet({ id: 1, offset: 32 }, new Uint8Array(8)));
    expect(udp.got).toHaveLength(0);
    expect(r.ipv4.stats().drops["fragment-limit"]).toBe(1);
    expect(r.ipv4.stats().counters.reassemblyFragments).toBe(0);
    // Four fragments are fine.
    for (let i = 0; i < 3; i++) r.eth.deliver(packet({ id: 2, mf: true, offset: i * 8 }, new Uint8Array(8)));
    r.eth.deliver(packet({ id: 2, offset: 24 }, new Uint8Array(8)));
    expect(udp.got).toHaveLength(1);
  });

  it("evicts the oldest reassembly beyond maxDatagrams (reassembly-evicted)", () => {
    const r = rig({ reassembly: { maxDatagrams: 2 } });
    const udp = new Recorder();
    r.ipv4.register(17, udp);
    r.eth.deliver(first(1));
    r.clock.advanceSync(10);
    r.eth.deliver(first(2));
    r.eth.deliver(first(3));
    expect(r.ipv4.stats().drops["reassembly-evicted"]).toBe(1);
    expect(r.ipv4.stats().counters.reassemblyDatagrams).toBe(2);
    r.eth.deliver(last(2));
    r.eth.deliver(last(3));
    expect(udp.got).toHaveLength(2);
    r.eth.deliver(last(1)); // its first fragment was evicted
    expect(udp.got).toHaveLength(2);
    expect(r.clock.pendingTimers).toBe(1);
  });

  it("evicts the oldest reassemblies to stay within maxBytes", () => {
    const r = rig({ reassembly: { maxBytes: 3000 } });
    const udp = new Recorder();
    r.ipv4.register(17, udp);
    r.eth.deliver(first(1, 1000));
    r.eth.deliver(first(2, 1000));
    expect(r.ipv4.stats().counters.reassemblyBytes).toBeLessThanOrEqual(3000);
    r.eth.deliver(first(3, 1000));
    expect(r.ipv4.stats().drops["reassembly-evicted"]).toBe(1);
    expect(r.ipv4.stats().counters.reassemblyDatagrams).toBe(2);
    r.eth.deliver(last(3, 1000));
    expect(udp.got).toHaveLength(1);
  });

  it("copies a fragment that would pin a much larger buffer, and charges what it keeps", () => {
    const r = rig();
    const udp = new Recorder();
    r.ipv4.register(17, udp);
    const big = new Uint8Array(10_000);
    big.set(first(1, 8), 5000);
    r.eth.deliver(big.subarray(5000, 5028));
    const held = r.ipv4.stats().counters.reassemblyBytes!;
    expect(held).toBeLessThan(100);
    big.fill(0xaa); // the caller's buffer changes; the held copy does not
    r.eth.deliver(last(1, 8, 8));
    expect(udp.got).toHaveLength(1);
    expect([...udp.got[0]!.payload]).toEqual(new Array(16).fill(0));
    const small = rig();
    small.eth.deliver(first(1, 8));
    expect(small.ipv4.stats().counters.reassemblyBytes).toBe(28 + 20); // the 28-byte frame it keeps, plus the header copy
  });

  /** 100 000 fragments: mostly 1480-byte fragments of 32 datagrams (they accumulate), else anything. */
  function flood(limits: ReassemblyLimits, seed: string) {
    const r = rig({ reassembly: limits });
    r.ipv4.register(17, new Recorder());
    r.ipv4.attachIcmp(new FakeIcmp());
    const rnd = new SeededRandom(seed);
    let peak = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = rnd.uint32();
      const y = rnd.uint32();
      let p: Uint8Array;
      if ((x & 15) !== 0) {
        const slot = y % 44;
        p = packet({ id: (x >>> 4) & 31, mf: slot < 43, offset: slot * 1480 }, new Uint8Array(slot < 43 ? 1480 : 40));
      } else {
        // Random id, source, offset, length and MF.
        const len = ((y % 185) + 1) * 8 - ((x & 2) === 0 ? 0 : y % 8);
        const offset = ((y >>> 8) % 8192) * 8;
        p = packet({ id: (x >>> 8) & 0xffff, src: `10.0.0.${((x >>> 24) % 250) + 3}`, mf: (x & 4) !== 0, offset }, new Uint8Array(len));
      }
      r.eth.deliver(p);
      const c = r.ipv4.stats().counters;
      if (c.reassemblyBytes! > peak) peak = c.reassemblyBytes!;
      expect(c.reassemblyBytes).toBeLessThanOrEqual(limits.maxBytes);
      expect(c.reassemblyDatagrams).toBeLessThanOrEqual(limits.maxDatagrams);
      if (i % 1000 === 0) r.clock.advanceSync(1000);
    }
    const s = r.ipv4.stats();
    expect(s.counters.reassemblyPeakBytes).toBe(peak);
    expect(s.counters.rxPackets).toBe(100_000);
    expect(s.drops["reassembly-evicted"]).toBeGreaterThan(0);
    expect(r.clock.pendingTimers).toBe(s.counters.reassemblyDatagrams);
    r.ipv4.close();
    expect(r.clock.pendingTimers).toBe(0);
    expect(r.ipv4.stats().counters.reassemblyBytes).toBe(0);
    return { peak, stats: s };
  }

  it("stays within the default limits (64 datagrams, 1 MiB) under a flood of 100 000 fragments", () => {
    const { stats } = flood(DEFAULT_REASSEMBLY_LIMITS, "flood-default");
    expect(stats.counters.reassemblyDatagrams).toBeLessThanOrEqual(64);
  });

  it("keeps bytes held within maxBytes when the datagram bound does not bind first", () => {
    const limits = { ...DEFAULT_REASSEMBLY_LIMITS, maxDatagrams: 4096 };
    const { peak } = flood(limits, "flood-bytes");
    expect(peak).toBeGreaterThan(limits.maxBytes * 0.95); // the flood did fill it
  });
});

describe("reassembly timeout", () => {
  it("sends ICMP time exceeded with the first fragment's header and data when fragment zero arrived", () => {
    const r = rig();
    const icmp = new FakeIcmp();
    r.ipv4.attachIcmp(icmp);
    r.ipv4.register(17, new Recorder());
    const p = packet({ id: 3, mf: true }, bytesOf(16));
    r.eth.deliver(p);
    r.clock.advanceSync(TIMEOUT);
    expect(icmp.sent).toHaveLength(1);
    expect(icmp.sent[0]!.kind).toBe("time-exceeded");
    expect([...icmp.sent[0]!.header]).toEqual([...p.subarray(0, 20)]);
    expect([...icmp.sent[0]!.payload]).toEqual([...bytesOf(16)]);
    expect(decodeIpv4(Uint8Array.from([...icmp.sent[0]!.header, ...icmp.sent[0]!.payload])).flags.moreFragments).toBe(true);
  });

  it("sends nothing without fragment zero, for a broadcast destination, or without an ICMP layer", () => {
    const lone = rig();
    lone.eth.deliver(packet({ id: 4, mf: true }, bytesOf(16)));
    lone.clock.advanceSync(TIMEOUT);
    expect(lone.ipv4.stats().drops).toEqual({ "reassembly-timeout": 1 });
    const r = rig();
    const icmp = new FakeIcmp();
    r.ipv4.attachIcmp(icmp);
    r.eth.deliver(packet({ id: 5, offset: 8 }, bytesOf(16)));
    r.eth.deliver(packet({ id: 6, mf: true, dst: "10.0.0.255" }, bytesOf(16)));
    r.clock.advanceSync(TIMEOUT);
    expect(icmp.sent).toHaveLength(0);
    expect(r.ipv4.stats().drops).toEqual({ "reassembly-timeout": 2 });
  });

  it("honours a custom timeout, and close() cancels reassembly timers", () => {
    const r = rig({ reassembly: { timeoutMs: 500 } });
    r.eth.deliver(packet({ id: 4, mf: true }, bytesOf(16)));
    r.clock.advanceSync(499);
    expect(r.ipv4.stats().counters.reassemblyDatagrams).toBe(1);
    r.clock.advanceSync(1);
    expect(r.ipv4.stats().counters.reassemblyDatagrams).toBe(0);
    r.eth.deliver(packet({ id: 5, mf: true }, bytesOf(16)));
    expect(r.clock.pendingTimers).toBe(1);
    r.ipv4.close();
    expect(r.clock.pendingTimers).toBe(0);
  });
});
