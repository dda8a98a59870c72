import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Netif } from "@morgana/interfaces";
import { SeededRandom, settle, VirtualClock } from "@morgana/sim";
import {
  createLink,
  impair,
  withBandwidth,
  withCorruption,
  withDelay,
  withDuplication,
  withLoss,
  withMtu,
  withOutages,
  withReordering,
  type ImpairedNetif,
  type VirtualPort,
} from "../src/index.js";
import { bitDistance, collect, equalBytes, frame, send, seqFrame, seqOf, expectEinval, overlaps } from "./helpers.js";

const A = 0x0200_0000_0001;
const B = 0x0200_0000_0002;

function link(latencyMs = 0): { clock: VirtualClock; a: VirtualPort; b: VirtualPort } {
  const clock = new VirtualClock();
  const [a, b] = createLink({ clock, latencyMs });
  return { clock, a, b };
}

/** Sends `count` sequence-numbered frames at once. */
function burst(n: Netif, count: number, payloadLength = 46): Uint8Array[] {
  const sent: Uint8Array[] = [];
  let refused = 0;
  for (let i = 0; i < count; i++) {
    const f = seqFrame(B, A, i, payloadLength);
    if (!send(n, f)) refused++;
    sent.push(f);
  }
  expect(refused).toBe(0);
  return sent;
}

/** Sends one frame every `everyMs` ms (sequence numbers 0..count-1), recording send times. */
async function paced(clock: VirtualClock, n: Netif, count: number, everyMs: number, payloadLength = 46): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    times.push(clock.now());
    send(n, seqFrame(B, A, i, payloadLength));
    await clock.advance(everyMs);
  }
  await clock.runUntilIdle();
  return times;
}

/*
 * Rate tolerances. With N independent trials at probability p the observed
 * rate has standard deviation sqrt(p(1-p)/N): for p = 0.1 and N = 20 000 that
 * is 0.21 percentage points, so a ±1 point band is about 4.7 sigma. The seeds
 * are fixed, so each test is deterministic anyway; the band is what a
 * different seed would have to stay inside, and still catches an
 * implementation that is off by a fraction of the rate.
 */
const N = 20_000;

describe("withLoss", () => {
  it("loses 10 % of 20 000 frames within ±1 point, keeps the rest in order, and counts every loss", async () => {
    const { clock, a, b } = link();
    const lossy = withLoss(a, { random: new SeededRandom(1), rate: 0.1 });
    const got = collect(b, clock);
    burst(lossy, N);
    await settle();
    const lost = N - got.length;
    expect(lost / N).toBeGreaterThan(0.09);
    expect(lost / N).toBeLessThan(0.11);
    const seqs = got.map((r) => seqOf(r.frame));
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    const s = lossy.stats();
    expect(s.drops.loss).toBe(lost);
    expect(s.counters.txFrames).toBe(N); // transmit accepted all of them
    expect(s.counters["device.txFrames"]).toBe(N - lost);
    expect(lossy.layerStats().drops).toEqual({ loss: lost });
  });

  it("rate 0 loses nothing and rate 1 everything (property over seeds and counts)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.integer({ min: 1, max: 200 }), fc.constantFrom(0, 1), async (seed, count, rate) => {
        const { clock, a, b } = link();
        const got = collect(b, clock);
        burst(withLoss(a, { random: new SeededRandom(seed), rate }), count);
        await settle();
        expect(got.length).toBe(rate === 0 ? count : 0);
      }),
      { numRuns: 40 },
    );
  });

  it("the Gilbert-Elliott model gives the stationary loss rate in bursts of the configured mean length", async () => {
    // enterBad 0.01, leaveBad 0.2, lossInBad 1, rate 0: loss = 0.01 / 0.21 = 4.76 %, bursts of 1/0.2 = 5 frames.
    // ~480 bursts in 50 000 frames: the mean burst length has a standard error near 0.2 and the
    // loss rate near 0.3 points; the bands below (±1 frame, ±1 point) are 3 to 5 sigma.
    const { clock, a, b } = link();
    const lossy = withLoss(a, { random: new SeededRandom(2), rate: 0, burst: { enterBad: 0.01, leaveBad: 0.2 } });
    const got = collect(b, clock);
    const count = 50_000;
    burst(lossy, count);
    await settle();
    const received = new Set(got.map((r) => seqOf(r.frame)));
    const runs: number[] = [];
    let run = 0;
    for (let i = 0; i < count; i++) {
      if (!received.has(i)) run++;
      else if (run > 0) runs.push(run), (run = 0);
    }
    const lossRate = (count - received.size) / count;
    expect(Math.abs(lossRate - 0.01 / 0.21)).toBeLessThan(0.01);
    const meanBurst = runs.reduce((x, y) => x + y, 0) / runs.length;
    expect(meanBurst).toBeGreaterThan(4);
    expect(meanBurst).toBeLessThan(6);
  });

  it("direction rx drops on arrival; the peer's transmissions are not counted as lost there", async () => {
    const { clock, a, b } = link();
    const lossyB = withLoss(b, { random: new SeededRandom(3), rate: 0.5, direction: "rx" });
    const gotB = collect(lossyB, clock);
    const gotA = collect(a, clock);
    burst(a, 1000);
    for (let i = 0; i < 100; i++) send(lossyB, seqFrame(A, B, i)); // tx from B is untouched
    await settle();
    expect(gotA).toHaveLength(100);
    expect(a.stats().drops).toEqual({});
    expect(gotB.length + lossyB.stats().drops.loss!).toBe(1000);
    expect(gotB.length).toBeGreaterThan(400);
    expect(gotB.length).toBeLessThan(600);
    expect(lossyB.stats().counters.rxFrames).toBe(gotB.length);
  });
});

describe("withDuplication", () => {
  it("duplicates 5 % of frames within ±1 point; each duplicate equals its original and follows it", async () => {
    const { clock, a, b } = link();
    const dup = withDuplication(a, { random: new SeededRandom(4), rate: 0.05 });
    const got = collect(b, clock);
    const sent = burst(dup, N, 20);
    await settle();
    const extra = got.length - N;
    expect(extra / N).toBeGreaterThan(0.04);
    expect(extra / N).toBeLessThan(0.06);
    expect(dup.stats().counters.duplicated).toBe(extra);
    let next = 0;
    let wrong = 0;
    for (let i = 0; i < got.length; i++) {
      const s = seqOf(got[i]!.frame);
      if (s === next) {
        if (!equalBytes(got[i]!.frame, sent[s]!)) wrong++;
        next++;
      } else {
        // A duplicate comes right after its original, with equal bytes in a buffer of its own.
        const prev = got[i - 1]!.frame;
        if (s !== next - 1 || !equalBytes(got[i]!.frame, prev) || overlaps(got[i]!.frame, prev)) wrong++;
      }
    }
    expect(wrong).toBe(0);
    expect(next).toBe(N);
  });

  it("duplicates received frames with direction rx, each copy owned separately", async () => {
    const { clock, a, b } = link();
    const dup = withDuplication(b, { random: new SeededRandom(5), rate: 1, direction: "rx" });
    const got = collect(dup, clock);
    burst(a, 3);
    await settle();
    expect(got.map((r) => seqOf(r.frame))).toEqual([0, 0, 1, 1, 2, 2]);
    expect(overlaps(got[0]!.frame, got[1]!.frame)).toBe(false);
  });
});

describe("withCorruption", () => {
  it("corrupts 10 % of frames within ±1 point, each in exactly `bits` bits, the others intact", async () => {
    const { clock, a, b } = link();
    const random = new SeededRandom(6);
    const bad = withCorruption(a, { random: new SeededRandom(7), rate: 0.1, bits: 3 });
    const got = collect(b, clock);
    const sent: Uint8Array[] = [];
    let touched = 0;
    for (let i = 0; i < N; i++) {
      const f = frame(B, A, 46);
      random.fill(f.subarray(14));
      sent.push(f);
      const copy = f.slice();
      send(bad, f);
      if (!equalBytes(f, copy)) touched++;
    }
    expect(touched).toBe(0); // the caller's bytes are never modified
    await settle();
    expect(got).toHaveLength(N);
    let corrupted = 0;
    const distances = new Set<number>();
    got.forEach((r, i) => {
      const d = bitDistance(r.frame, sent[i]!);
      distances.add(d);
      if (d === 3) corrupted++;
    });
    expect([...distances].sort()).toEqual([0, 3]);
    expect(corrupted / N).toBeGreaterThan(0.09);
    expect(corrupted / N).toBeLessThan(0.11);
    expect(bad.stats().counters.corrupted).toBe(corrupted);
    expect(bad.stats().counters.bitsFlipped).toBe(3 * corrupted);
  });

  it("flips exactly min(bits, available) distinct bits and spares the first skipBytes (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 80 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 800 }),
        fc.integer(),
        fc.boolean(),
        async (payload, skipBytes, bits, seed, rx) => {
          const { clock, a, b } = link();
          const f = frame(B, A, payload);
          let got: Uint8Array | undefined;
          if (rx) {
            withCorruption(b, { random: new SeededRandom(seed), rate: 1, bits, skipBytes, direction: "rx" }).listen((x) => (got = x));
            send(a, f);
          } else {
            b.listen((x) => (got = x));
            send(withCorruption(a, { random: new SeededRandom(seed), rate: 1, bits, skipBytes }), f);
          }
          await settle();
          const avail = Math.max(0, (f.length - skipBytes) * 8);
          expect(bitDistance(got!, f)).toBe(Math.min(bits, avail));
          expect(equalBytes(got!.subarray(0, skipBytes), f.subarray(0, skipBytes))).toBe(true);
          void clock;
        },
      ),
    );
  });
});

describe("withReordering", () => {
  it("holds back about `rate` of the frames by at most maxExtraDelayMs: some overtake, none is lost", async () => {
    const { clock, a, b } = link();
    const re = withReordering(a, { clock, random: new SeededRandom(8), rate: 0.2, maxExtraDelayMs: 10 });
    const got = collect(b, clock);
    const count = 2000;
    const times = await paced(clock, re, count, 1);
    const seqs = got.map((r) => seqOf(r.frame));
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: count }, (_, i) => i));
    let overtaken = 0;
    for (let i = 1; i < seqs.length; i++) if (seqs[i]! < seqs[i - 1]!) overtaken++;
    expect(overtaken).toBeGreaterThan(100);
    let late = 0;
    for (const r of got) {
      const wait = r.at - times[seqOf(r.frame)]!;
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThanOrEqual(10);
      if (wait > 0) late++;
    }
    const reordered = re.stats().counters.reordered!;
    expect(late).toBe(reordered);
    // 2000 trials at 0.2: sd 0.9 points; band ±3 points.
    expect(Math.abs(reordered / count - 0.2)).toBeLessThan(0.03);
    // Frames that were not held stay in order among themselves.
    const prompt = got.filter((r) => r.at === times[seqOf(r.frame)]).map((r) => seqOf(r.frame));
    expect(prompt).toEqual([...prompt].sort((x, y) => x - y));
  });

  it("bounds the frames it holds (queue-full, transmit false)", async () => {
    const { clock, a } = link();
    const re = withReordering(a, { clock, random: new SeededRandom(9), rate: 1, maxExtraDelayMs: 5, limit: 10 });
    const results = Array.from({ length: 15 }, (_, i) => send(re, seqFrame(B, A, i)));
    expect(results.filter((x) => x)).toHaveLength(10);
    expect(re.stats().drops).toEqual({ "queue-full": 5 });
    expect(re.stats().counters.held).toBe(10);
    await clock.runUntilIdle();
    expect(re.stats().counters.held).toBe(0);
  });
});

describe("withDelay", () => {
  it("delivers every frame exactly delayMs after it was sent (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0, max: 1000, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 40 }),
        async (delayMs, gaps) => {
          const { clock, a, b } = link();
          const d = withDelay(a, { clock, delayMs });
          const got = collect(b, clock);
          const times: number[] = [];
          for (let i = 0; i < gaps.length; i++) {
            await clock.advance(gaps[i]!);
            times.push(clock.now());
            send(d, seqFrame(B, A, i));
          }
          await clock.runUntilIdle();
          expect(got.map((r) => seqOf(r.frame))).toEqual(times.map((_, i) => i));
          got.forEach((r, i) => expect(r.at).toBe(times[i]! + delayMs));
        },
      ),
      { numRuns: 50 },
    );
  });

  it("copies the bytes at transmit time: the caller may reuse its buffer at once", async () => {
    const { clock, a, b } = link();
    const d = withDelay(a, { clock, delayMs: 5 });
    const got = collect(b, clock);
    const scratch = seqFrame(B, A, 1);
    const original = scratch.slice();
    send(d, scratch);
    scratch.fill(0xff);
    await clock.runUntilIdle();
    expect(got[0]!.frame).toEqual(original);
  });

  it("jitter spreads arrivals over [delay - jitter, delay + jitter] and reorders; keepOrder does not", async () => {
    for (const keepOrder of [false, true]) {
      const { clock, a, b } = link();
      const d = withDelay(a, { clock, delayMs: 20, jitterMs: 5, random: new SeededRandom(10), keepOrder });
      const got = collect(b, clock);
      const times = await paced(clock, d, 500, 0.5);
      const waits = got.map((r) => r.at - times[seqOf(r.frame)]!);
      for (const w of waits) {
        expect(w).toBeGreaterThanOrEqual(15);
        if (!keepOrder) expect(w).toBeLessThanOrEqual(25);
      }
      if (!keepOrder) expect(Math.max(...waits) - Math.min(...waits)).toBeGreaterThan(9);
      const seqs = got.map((r) => seqOf(r.frame));
      const inOrder = seqs.every((s, i) => i === 0 || s > seqs[i - 1]!);
      expect(inOrder).toBe(keepOrder);
      expect(seqs).toHaveLength(500);
    }
  });

  it("applies to received frames with direction rx", async () => {
    const { clock, a, b } = link(2);
    const d = withDelay(b, { clock, delayMs: 10, direction: "rx" });
    const got = collect(d, clock);
    send(a, seqFrame(B, A, 0));
    await clock.runUntilIdle();
    expect(got.map((r) => r.at)).toEqual([12]);
  });
});

describe("withBandwidth", () => {
  it("serializes back to back at the configured rate (8 Mbit/s: a 1000-byte frame takes 1 ms)", async () => {
    const { clock, a, b } = link();
    const bw = withBandwidth(a, { clock, bitsPerSecond: 8_000_000, queueBytes: 1_000_000 });
    const got = collect(b, clock);
    burst(bw, 100, 986); // 1000-byte frames
    await clock.runUntilIdle();
    expect(got.map((r) => r.at)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const bits = got.reduce((s, r) => s + r.frame.length * 8, 0);
    expect(bits / (got.at(-1)!.at / 1000)).toBeCloseTo(8_000_000, 3);
  });

  it("under twice the load, throughput equals the rate, the queue bound holds and drop-tail is counted", async () => {
    const { clock, a, b } = link();
    const queueBytes = 20_000;
    const bw = withBandwidth(a, { clock, bitsPerSecond: 8_000_000, queueBytes });
    const got = collect(b, clock);
    let accepted = 0;
    let refused = 0;
    // 2000 frames of 1000 bytes every 0.5 ms for 1 s: 16 Mbit/s offered.
    for (let i = 0; i < 2000; i++) {
      if (send(bw, seqFrame(B, A, i, 986))) accepted++;
      else refused++;
      expect(bw.stats().counters.queuedBytes).toBeLessThanOrEqual(queueBytes);
      await clock.advance(0.5);
    }
    const inFirstSecond = got.filter((r) => r.at <= 1000).length;
    expect(inFirstSecond).toBeGreaterThanOrEqual(999);
    expect(inFirstSecond).toBeLessThanOrEqual(1000);
    await clock.runUntilIdle();
    const s = bw.stats();
    expect(got).toHaveLength(accepted);
    expect(s.drops["queue-full"]).toBe(refused);
    expect(refused).toBeGreaterThan(950);
    expect(s.counters.maxQueuedBytes).toBeLessThanOrEqual(queueBytes);
    expect(s.counters.maxQueuedBytes).toBe(queueBytes);
    expect(s.counters.txFrames).toBe(accepted);
    // FIFO: arrivals in sending order.
    const seqs = got.map((r) => seqOf(r.frame));
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  });

  it("an empty queue takes one frame whatever its size; overheadBytes adds line time", async () => {
    const { clock, a, b } = link();
    const bw = withBandwidth(a, { clock, bitsPerSecond: 8_000_000, queueBytes: 0, overheadBytes: 24 });
    const got = collect(b, clock);
    expect(send(bw, seqFrame(B, A, 0, 986))).toBe(true);
    expect(send(bw, seqFrame(B, A, 1, 986))).toBe(false);
    await clock.runUntilIdle();
    expect(got.map((r) => r.at)).toEqual([1.024]);
    expect(send(bw, seqFrame(B, A, 2, 986))).toBe(true);
    expect(bw.stats().drops).toEqual({ "queue-full": 1 });
  });
});

describe("withMtu", () => {
  it("drops frames above mtu + 14 (mtu + 18 when tagged) as oversize, on transmit and on receive", async () => {
    const { clock, a, b } = link();
    const m = withMtu(a, { mtu: 1000 });
    expect(m.mtu).toBe(1000);
    const got = collect(b, clock);
    expect(send(m, frame(B, A, 1000))).toBe(true);
    expect(send(m, frame(B, A, 1001))).toBe(false);
    expect(send(m, frame(B, A, 1004, 0x8100))).toBe(true);
    expect(send(m, frame(B, A, 1005, 0x8100))).toBe(false);
    await settle();
    expect(got.map((r) => r.frame.length)).toEqual([1014, 1018]);
    expect(m.stats().drops).toEqual({ oversize: 2 });

    const rx = withMtu(b, { mtu: 500, direction: "rx" });
    const gotRx = collect(rx, clock);
    send(a, frame(B, A, 500));
    send(a, frame(B, A, 1400));
    await settle();
    expect(gotRx.map((r) => r.frame.length)).toEqual([514]);
    expect(rx.stats().drops).toEqual({ oversize: 1 });
  });
});

describe("withOutages", () => {
  it("drops every frame inside the windows and delivers the others", async () => {
    const { clock, a, b } = link();
    const o = withOutages(a, { clock, outages: [{ startMs: 10, durationMs: 5 }, { startMs: 50, durationMs: 20 }] });
    const got = collect(b, clock);
    await paced(clock, o, 100, 1);
    const expected = Array.from({ length: 100 }, (_, t) => t).filter((t) => !(t >= 10 && t < 15) && !(t >= 50 && t < 70));
    expect(got.map((r) => seqOf(r.frame))).toEqual(expected);
    expect(o.stats().drops).toEqual({ outage: 25 });
  });

  it("measures windows from its creation time (or origin), and works on receive", async () => {
    const { clock, a, b } = link();
    await clock.advance(100);
    const o = withOutages(b, { clock, outages: [{ startMs: 0, durationMs: 10 }], direction: "both" });
    const got = collect(o, clock);
    await paced(clock, a, 20, 1);
    expect(got.map((r) => seqOf(r.frame))).toEqual(Array.from({ length: 10 }, (_, i) => i + 10));
    const forever = withOutages(a, { clock, origin: 0, outages: [{ startMs: 50, durationMs: Infinity }] });
    expect(send(forever, seqFrame(B, A, 0))).toBe(true);
    expect(forever.stats().drops).toEqual({ outage: 1 });
  });
});

describe("middleware plumbing", () => {
  const makers: [string, (n: Netif, clock: VirtualClock) => ImpairedNetif][] = [
    ["loss", (n) => withLoss(n, { random: new SeededRandom(1), rate: 0.5 })],
    ["duplicate", (n) => withDuplication(n, { random: new SeededRandom(1), rate: 0.5 })],
    ["corrupt", (n) => withCorruption(n, { random: new SeededRandom(1), rate: 0.5 })],
    ["reorder", (n, clock) => withReordering(n, { clock, random: new SeededRandom(1), rate: 0.5, maxExtraDelayMs: 1 })],
    ["delay", (n, clock) => withDelay(n, { clock, delayMs: 1 })],
    ["bandwidth", (n, clock) => withBandwidth(n, { clock, bitsPerSecond: 1e9, queueBytes: 1e6 })],
    ["mtu", (n) => withMtu(n, { mtu: 1500 })],
    ["outage", (n, clock) => withOutages(n, { clock, outages: [{ startMs: 0, durationMs: 1e9 }] })],
  ];

  for (const [kind, make] of makers) {
    it(`${kind}: keeps mac/mtu, counts bad fills as drops returning false, closes the inner device`, async () => {
      const { clock, a, b } = link();
      const m = make(a, clock);
      expect(m.kind).toBe(kind);
      expect(m.inner).toBe(a);
      expect([m.mac, m.mtu]).toEqual([a.mac, a.mtu]);
      const got = collect(b, clock);
      let falses = 0;
      for (let i = 0; i < 20; i++) {
        // Several tries so that both the pass-through and the capturing paths see bad fills.
        if (
          !m.transmit(60, () => {
            throw new Error("x");
          })
        )
          falses++;
        if (!m.transmit(60, () => 61)) falses++;
        if (!m.transmit(60, () => -3)) falses++;
      }
      expect(falses).toBe(60);
      expect(m.transmit(-1, () => 0)).toBe(false);
      const d = m.stats().drops;
      expect((d["fill-error"] ?? 0) + (d["fill-length"] ?? 0) + (d["bad-size"] ?? 0)).toBe(61);
      expect(d["fill-error"]).toBe(20);
      await clock.runUntilIdle();
      expect(got).toEqual([]);
      await m.close();
      await m.close();
      expect(a.closed).toBe(true);
      expect(m.transmit(60, () => 60)).toBe(false);
      expect(m.layerStats().drops.closed).toBe(1);
    });
  }

  it("frames held at close are dropped (counted closed), never delivered", async () => {
    const { clock, a, b } = link();
    const d = withDelay(a, { clock, delayMs: 10 });
    const got = collect(b, clock);
    burst(d, 5);
    await clock.advance(5);
    await d.close();
    await clock.runUntilIdle();
    expect(got).toEqual([]);
    expect(d.stats().drops).toEqual({ closed: 5 });
    expect(clock.pendingTimers).toBe(0);
  });

  it("a frame arriving with no listener on the middleware is counted no-listener", async () => {
    const { a, b } = link();
    const l = withLoss(b, { random: new SeededRandom(1), rate: 0 });
    send(a, seqFrame(B, A, 0));
    await settle();
    expect(l.layerStats().drops).toEqual({ "no-listener": 1 });
    expect(b.stats().drops).toEqual({});
  });

  it("stats() merges: own counters unprefixed, each layer below prefixed by kind, drops summed", async () => {
    const { clock, a, b } = link();
    collect(b, clock);
    const stack = withLoss(withLoss(withDelay(a, { clock, delayMs: 1 }), { random: new SeededRandom(1), rate: 0.5 }), {
      random: new SeededRandom(2),
      rate: 0.5,
    });
    burst(stack, 1000);
    await clock.runUntilIdle();
    const s = stack.stats();
    const own = (stack as ImpairedNetif).layerStats();
    const inner = (stack.inner as ImpairedNetif).layerStats();
    expect(s.counters.txFrames).toBe(1000);
    expect(s.counters["loss#2.txFrames"]).toBe(1000 - own.drops.loss!);
    expect(s.counters["delay.txFrames"]).toBe(1000 - own.drops.loss! - inner.drops.loss!);
    expect(s.counters["device.txFrames"]).toBe(s.counters["delay.txFrames"]);
    expect(s.drops.loss).toBe(own.drops.loss! + inner.drops.loss!);
  });

  it("rejects bad options with EINVAL", () => {
    const { clock, a } = link();
    const random = new SeededRandom(1);
    const bad: (() => unknown)[] = [
      () => withLoss(a, { random, rate: 1.1 }),
      () => withLoss(a, { random, rate: -0.1 }),
      () => withLoss(a, { random, rate: NaN }),
      () => withLoss(a, { random: {} as SeededRandom, rate: 0.1 }),
      () => withLoss(a, { random, rate: 0.1, burst: { enterBad: 2, leaveBad: 0.1 } }),
      () => withLoss(a, { random, rate: 0.1, direction: "up" as "tx" }),
      () => withLoss({} as Netif, { random, rate: 0.1 }),
      () => withLoss(a, undefined as unknown as { random: SeededRandom; rate: number }),
      () => withDuplication(a, { random, rate: 2 }),
      () => withCorruption(a, { random, rate: 0.1, bits: 0 }),
      () => withCorruption(a, { random, rate: 0.1, skipBytes: -1 }),
      () => withReordering(a, { clock, random, rate: 0.1, maxExtraDelayMs: -1 }),
      () => withReordering(a, { clock, random, rate: 0.1, maxExtraDelayMs: 1, limit: 0 }),
      () => withDelay(a, { clock, delayMs: -5 }),
      () => withDelay(a, { clock, delayMs: Infinity }),
      () => withDelay(a, { clock, delayMs: 5, jitterMs: 1 }), // jitter without random
      () => withDelay(a, { clock: {} as VirtualClock, delayMs: 5 }),
      () => withBandwidth(a, { clock, bitsPerSecond: 0, queueBytes: 100 }),
      () => withBandwidth(a, { clock, bitsPerSecond: 1e6, queueBytes: -1 }),
      () => withMtu(a, { mtu: 0 }),
      () => withOutages(a, { clock, outages: [{ startMs: -1, durationMs: 5 }] }),
      () => withOutages(a, { clock, outages: [{ startMs: 1, durationMs: NaN }] }),
      () => withOutages(a, { clock, outages: "soon" as unknown as [] }),
      () => impair(a, { clock, random, loss: 3 }),
      () => impair(a, { clock, random, keepOrder: true }),
      () => impair(a, { clock, random: undefined as unknown as SeededRandom }),
    ];
    for (const f of bad) expectEinval(f);
  });
});

describe("impair", () => {
  it("returns the device itself when nothing is asked for", () => {
    const { clock, a } = link();
    expect(impair(a, { clock, random: new SeededRandom(1) })).toBe(a);
  });

  it("composes mtu → bandwidth → outages → loss → duplicate → corrupt → delay → reorder", () => {
    const { clock, a } = link();
    const n = impair(a, {
      clock,
      random: new SeededRandom(1),
      loss: 0.1,
      duplicate: 0.1,
      reorder: { rate: 0.1, maxExtraDelayMs: 1 },
      corrupt: { rate: 0.1, bits: 2 },
      delayMs: 5,
      jitterMs: 1,
      bandwidth: { bitsPerSecond: 1e6, queueBytes: 10_000 },
      mtu: 1400,
      outages: [],
    });
    const kinds: string[] = [];
    for (let cur: Netif = n; cur !== a; cur = (cur as ImpairedNetif).inner) kinds.push((cur as ImpairedNetif).kind);
    expect(kinds).toEqual(["mtu", "bandwidth", "outage", "loss", "duplicate", "corrupt", "delay", "reorder"]);
    expect(n.mtu).toBe(1400);
  });

  it("an oversize frame is refused before it can take bottleneck queue space", async () => {
    const { clock, a, b } = link();
    const n = impair(a, { clock, random: new SeededRandom(1), mtu: 500, bandwidth: { bitsPerSecond: 8e6, queueBytes: 0 } });
    const got = collect(b, clock);
    expect(send(n, frame(B, A, 600))).toBe(false);
    expect(send(n, frame(B, A, 400))).toBe(true);
    await clock.runUntilIdle();
    expect(got).toHaveLength(1);
  });

  it("enabling one impairment does not change another's decisions", async () => {
    const lostWith = async (extra: Partial<Parameters<typeof impair>[1]>): Promise<number[]> => {
      const { clock, a, b } = link();
      const got = collect(b, clock);
      burst(impair(a, { clock, random: new SeededRandom(77), loss: 0.3, ...extra }), 500);
      await clock.runUntilIdle();
      const seen = new Set(got.map((r) => seqOf(r.frame)));
      return Array.from({ length: 500 }, (_, i) => i).filter((i) => !seen.has(i));
    };
    const base = await lostWith({});
    expect(base.length).toBeGreaterThan(100);
    expect(await lostWith({ duplicate: 0.5, corrupt: { rate: 0.2, skipBytes: 18 }, delayMs: 3, jitterMs: 2 })).toEqual(base);
  });
});
