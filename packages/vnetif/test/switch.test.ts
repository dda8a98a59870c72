import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readMac, type MacAddress } from "@morgana/interfaces";
import { SeededRandom, settle, VirtualClock } from "@morgana/sim";
import { VirtualSwitch, type VirtualPort } from "../src/index.js";
import { BROADCAST, collect, frame, send, seqFrame, seqOf, type Received, expectEinval, overlaps } from "./helpers.js";

interface Net {
  clock: VirtualClock;
  sw: VirtualSwitch;
  ports: VirtualPort[];
  got: Received[][];
}

function net(n: number, opts: Partial<ConstructorParameters<typeof VirtualSwitch>[0]> = {}): Net {
  const clock = new VirtualClock();
  const sw = new VirtualSwitch({ clock, ...opts });
  const ports = Array.from({ length: n }, () => sw.createPort());
  const got = ports.map((p) => collect(p, clock));
  return { clock, sw, ports, got };
}

/** Each port announces itself with a broadcast so the switch learns every MAC. */
async function learnAll({ ports, got }: Net): Promise<void> {
  for (const p of ports) send(p, frame(BROADCAST, p.mac));
  await settle();
  for (const g of got) g.length = 0;
}

describe("VirtualSwitch", () => {
  it("gives ports distinct deterministic MACs 02:00:00:00:00:NN, or random ones from an injected Random", () => {
    const { ports } = net(3);
    expect(ports.map((p) => p.mac)).toEqual([0x0200_0000_0001, 0x0200_0000_0002, 0x0200_0000_0003]);
    expect(ports.map((p) => p.name)).toEqual(["port0", "port1", "port2"]);
    const clock = new VirtualClock();
    const r1 = new VirtualSwitch({ clock, random: new SeededRandom(1) });
    const r2 = new VirtualSwitch({ clock, random: new SeededRandom(1) });
    const m1 = [r1.createPort().mac, r1.createPort().mac];
    expect([r2.createPort().mac, r2.createPort().mac]).toEqual(m1);
    expect(m1[0]).not.toBe(m1[1]);
    for (const m of m1) expect(Math.floor(m / 2 ** 40) & 0x03).toBe(0x02); // locally administered unicast
  });

  it("after learning, unicast reaches only its destination, exactly once and in order per pair (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.array(fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 4, max: 300 })), {
              maxLength: 120,
            }),
            fc.integer({ min: 1, max: 10 }),
          ),
        ),
        async ([n, traffic, batch]) => {
          const nt = net(n);
          await learnAll(nt);
          const expected: number[][][] = nt.ports.map(() => nt.ports.map(() => []));
          let seq = 0;
          for (const [from, to, len] of traffic) {
            if (from === to) continue;
            send(nt.ports[from]!, seqFrame(nt.ports[to]!.mac, nt.ports[from]!.mac, seq, len));
            expected[to]![from]!.push(seq++);
            if (seq % batch === 0) await settle();
          }
          await settle();
          for (let to = 0; to < n; to++) {
            const got = nt.got[to]!;
            // Only frames addressed to this port.
            for (const r of got) expect(readMac(r.frame, 0)).toBe(nt.ports[to]!.mac);
            for (let from = 0; from < n; from++) {
              const fromThere = got.filter((r) => readMac(r.frame, 6) === nt.ports[from]!.mac).map((r) => seqOf(r.frame));
              expect(fromThere).toEqual(expected[to]![from]);
            }
          }
          expect(nt.sw.stats().counters.flooded).toBe(n); // only the learning broadcasts
        },
      ),
      { numRuns: 60 },
    );
  });

  it("broadcast and multicast reach every other port exactly once, never the sender, each in its own buffer (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.nat(), fc.boolean()), { minLength: 1, maxLength: 30 }),
        async (n, sends) => {
          const nt = net(n);
          const sent: { from: number; seq: number }[] = [];
          sends.forEach(([k, multicast], seq) => {
            const from = k % n;
            send(nt.ports[from]!, seqFrame(multicast ? 0x0100_5e00_0001 : BROADCAST, nt.ports[from]!.mac, seq));
            sent.push({ from, seq });
          });
          await settle();
          const all: Uint8Array[] = [];
          for (let p = 0; p < n; p++) {
            expect(nt.got[p]!.map((r) => seqOf(r.frame))).toEqual(sent.filter((s) => s.from !== p).map((s) => s.seq));
            all.push(...nt.got[p]!.map((r) => r.frame));
          }
          for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) expect(overlaps(all[i]!, all[j]!)).toBe(false); // no two receivers share bytes
        },
      ),
    );
  });

  it("a receiver modifying its flooded copy does not affect the others", async () => {
    const { ports, got } = net(3);
    ports[1]!.listen((f) => {
      f.fill(0xee);
      got[1]!.push({ frame: f, at: 0 });
    });
    const f = frame(BROADCAST, ports[0]!.mac, 46);
    send(ports[0]!, f);
    await settle();
    expect(got[1]![0]!.frame.every((x) => x === 0xee)).toBe(true);
    expect(got[2]![0]!.frame).toEqual(f);
  });

  it("floods unknown unicast, then forwards to the learned port only", async () => {
    const { sw, ports, got } = net(4);
    const [p0, p1, p2, p3] = ports as [VirtualPort, VirtualPort, VirtualPort, VirtualPort];
    send(p0, seqFrame(p1.mac, p0.mac, 1)); // p1 unknown: flooded
    await settle();
    expect(got.map((g) => g.length)).toEqual([0, 1, 1, 1]);
    expect(sw.lookup(p0.mac)).toBe(p0);
    expect(sw.lookup(p1.mac)).toBeUndefined();
    send(p1, seqFrame(p0.mac, p1.mac, 2)); // p0 known: unicast
    await settle();
    expect(got.map((g) => g.length)).toEqual([1, 1, 1, 1]);
    send(p0, seqFrame(p1.mac, p0.mac, 3)); // now p1 is known too
    await settle();
    expect(got.map((g) => g.length)).toEqual([1, 2, 1, 1]);
    const c = sw.stats().counters;
    expect([c.flooded, c.unicast, c.learned, c.floodCopies]).toEqual([1, 2, 2, 3]);
    // Least recently seen first: p0 sent last.
    expect(sw.macTable().map((e) => [e.mac, e.port.index])).toEqual([
      [p1.mac, 1],
      [p0.mac, 0],
    ]);
    void p2;
    void p3;
  });

  it("filters a frame whose destination was learned on the sending port", async () => {
    const { sw, ports, got } = net(3);
    // Port 0 hosts two stations (as if behind another switch).
    const hidden = 0x0200_0000_00aa;
    send(ports[0]!, frame(BROADCAST, hidden));
    await settle();
    got.forEach((g) => (g.length = 0));
    send(ports[0]!, frame(hidden, ports[0]!.mac));
    await settle();
    expect(got.map((g) => g.length)).toEqual([0, 0, 0]);
    expect(sw.stats().drops).toEqual({ filtered: 1 });
  });

  it("follows a station that moves to another port", async () => {
    const { sw, ports, got } = net(3);
    const roaming = 0x0200_0000_0077;
    send(ports[1]!, frame(BROADCAST, roaming));
    send(ports[2]!, frame(BROADCAST, roaming));
    await settle();
    got.forEach((g) => (g.length = 0));
    send(ports[0]!, frame(roaming, ports[0]!.mac));
    await settle();
    expect(got.map((g) => g.length)).toEqual([0, 0, 1]);
    expect(sw.stats().counters.moved).toBe(1);
  });

  it("ages entries out after macAgeMs, then floods again", async () => {
    const nt = net(3, { macAgeMs: 1000 });
    const { clock, sw, ports, got } = nt;
    await learnAll(nt);
    await clock.advance(1000);
    send(ports[0]!, frame(ports[1]!.mac, ports[0]!.mac));
    await settle();
    expect(got.map((g) => g.length)).toEqual([0, 1, 0]); // 1000 ms old: still live
    await clock.advance(1001);
    send(ports[0]!, frame(ports[1]!.mac, ports[0]!.mac));
    await settle();
    expect(got.map((g) => g.length)).toEqual([0, 2, 1]); // aged: flooded
    expect(sw.stats().counters.aged).toBe(1);
    expect(sw.macTable().map((e) => e.mac)).toEqual([ports[0]!.mac]);
  });

  it("keeps the MAC table bounded under a flood of random source MACs, evicting the least recently seen", async () => {
    const { sw, ports, got } = net(3, { macTableSize: 64 });
    const random = new SeededRandom("mac-flood");
    send(ports[1]!, frame(BROADCAST, ports[1]!.mac));
    for (let i = 0; i < 10_000; i++) {
      const src = (random.uint32() & 0xfeff) * 2 ** 32 + random.uint32(); // unicast sources
      send(ports[0]!, frame(BROADCAST, src));
      if (i % 20 === 0) send(ports[1]!, frame(BROADCAST, ports[1]!.mac)); // keeps port 1 fresh
      expect(sw.stats().counters.macEntries).toBeLessThanOrEqual(64);
      if (i % 1000 === 0) await settle();
    }
    await settle();
    const c = sw.stats().counters;
    expect(c.macEntries).toBe(64);
    expect(c.evicted).toBe(c.learned! - 64);
    expect(c.learned).toBeGreaterThan(9_900);
    expect(sw.lookup(ports[1]!.mac as MacAddress)).toBe(ports[1]); // recently seen: survived
    got.forEach((g) => (g.length = 0));
    send(ports[0]!, frame(ports[1]!.mac, ports[0]!.mac));
    await settle();
    expect(got.map((g) => g.length)).toEqual([0, 1, 0]);
  });

  it("a closed port stops sending and receiving, and leaves the flood set", async () => {
    const { clock, sw, ports, got } = net(3, { latencyMs: 2 });
    send(ports[0]!, frame(BROADCAST, ports[0]!.mac)); // in flight to 1 and 2
    await ports[2]!.close();
    expect(send(ports[2]!, frame(BROADCAST, ports[2]!.mac))).toBe(false);
    clock.runUntilIdleSync();
    expect(got.map((g) => g.length)).toEqual([0, 1, 0]);
    expect(ports[2]!.stats().drops).toEqual({ closed: 2 });
    send(ports[1]!, frame(BROADCAST, ports[1]!.mac));
    send(ports[0]!, frame(BROADCAST, ports[0]!.mac));
    clock.runUntilIdleSync();
    expect(got.map((g) => g.length)).toEqual([1, 2, 0]);
    expect(ports[2]!.stats().drops).toEqual({ closed: 2 }); // no longer a flood target at all
    expect(sw.ports.map((p) => p.index)).toEqual([0, 1]);
    expect(sw.stats().counters.ports).toBe(2);
  });

  it("forgets the MACs of a closed port (frames to it are flooded, not black-holed)", async () => {
    const nt = net(3);
    const { sw, ports, got } = nt;
    await learnAll(nt);
    await ports[1]!.close();
    expect(sw.lookup(ports[1]!.mac)).toBeUndefined();
    send(ports[0]!, frame(ports[1]!.mac, ports[0]!.mac));
    await settle();
    expect(got.map((g) => g.length)).toEqual([0, 0, 1]);
  });

  it("with latency, delivers at send time + latency, in order, and calls the trace hook", async () => {
    const clock = new VirtualClock();
    const trace: [string, number, number][] = [];
    const sw = new VirtualSwitch({ clock, latencyMs: 3, onDeliver: (p, f, t) => trace.push([p.name, seqOf(f), t]) });
    const [p0, p1] = [sw.createPort(), sw.createPort()];
    const got = collect(p1, clock);
    for (let i = 0; i < 4; i++) {
      send(p0, seqFrame(BROADCAST, p0.mac, i));
      await clock.advance(1);
    }
    await clock.runUntilIdle();
    expect(got.map((r) => [seqOf(r.frame), r.at])).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(trace).toEqual([
      ["port1", 0, 3],
      ["port1", 1, 4],
      ["port1", 2, 5],
      ["port1", 3, 6],
    ]);
  });

  it("applies each port's own MTU to what it sends", async () => {
    const clock = new VirtualClock();
    const sw = new VirtualSwitch({ clock });
    const small = sw.createPort({ mtu: 576 });
    const big = sw.createPort({ mtu: 9000 });
    expect(send(small, frame(BROADCAST, small.mac, 577))).toBe(false);
    expect(send(small, frame(BROADCAST, small.mac, 576))).toBe(true);
    expect(send(big, frame(BROADCAST, big.mac, 9000))).toBe(true);
    expect(small.stats().drops).toEqual({ oversize: 1 });
    expect(send(small, frame(BROADCAST, small.mac, 0).subarray(0, 13))).toBe(false);
    expect(small.stats().drops).toEqual({ oversize: 1, short: 1 });
  });

  it("does not learn a group source address", async () => {
    const { sw, ports } = net(2);
    send(ports[0]!, frame(BROADCAST, BROADCAST));
    await settle();
    expect(sw.macTable()).toEqual([]);
    expect(sw.stats().counters.groupSource).toBe(1);
  });

  it("close() closes every port", async () => {
    const { sw, ports } = net(3);
    await sw.close();
    expect(ports.every((p) => p.closed)).toBe(true);
    expect(sw.ports).toEqual([]);
  });

  it("rejects bad options with EINVAL", () => {
    const clock = new VirtualClock();
    const bad: unknown[] = [
      undefined,
      {},
      { clock: { now: () => 0 } },
      { clock, latencyMs: -0.5 },
      { clock, macTableSize: 0 },
      { clock, macTableSize: 1.5 },
      { clock, macAgeMs: 0 },
      { clock, macAgeMs: NaN },
      { clock, queueBytes: -1 },
      { clock, random: 7 },
      { clock, onHandlerError: {} },
    ];
    for (const o of bad) expectEinval(() => new VirtualSwitch(o as ConstructorParameters<typeof VirtualSwitch>[0]));
    const sw = new VirtualSwitch({ clock, macAgeMs: Infinity });
    for (const o of [{ mtu: 0 }, { mtu: 65537 }, { mac: 2 ** 48 }, { mac: 1.5 }, { name: 3 }, null]) {
      expectEinval(() => sw.createPort(o as Parameters<VirtualSwitch["createPort"]>[0]));
    }
  });
});
