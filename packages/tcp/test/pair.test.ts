import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { FakeIpv4, twoHosts } from "@morgana/testkit";
import type { TcpFlow } from "@morgana/interfaces";
import { TcpLayer, type TcpTuning } from "../src/index.js";
import { bytes } from "./harness.js";

function concat(chunks: Uint8Array[]): Uint8Array {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) (out.set(c, o), (o += c.length));
  return out;
}

async function pair(seed: number, delayMs: number, tuning: TcpTuning = {}) {
  const clock = new VirtualClock();
  const { a, b } = twoHosts(clock, delayMs);
  const ta = new TcpLayer({ ...tuning, ipv4: a, clock, random: new SeededRandom(seed) });
  const tb = new TcpLayer({ ...tuning, ipv4: b, clock, random: new SeededRandom(seed + 1) });
  const l = await tb.listen({ port: 80 });
  const cp = ta.connect({ address: "10.77.0.2", port: 80 });
  await clock.advance(4 * delayMs + 1);
  const c = await cp;
  const s = (await l.accept())!;
  return { clock, ta, tb, l, c, s };
}

/** Writes `chunks` then shuts down; reads everything; returns the bytes read. */
function pump(w: TcpFlow, chunks: Uint8Array[], r: TcpFlow): { done: Promise<Uint8Array>; written: Promise<void> } {
  const written = (async () => {
    for (const ch of chunks) await w.write(ch.slice());
    await w.shutdown();
  })();
  const done = (async () => {
    const got: Uint8Array[] = [];
    for await (const x of r) got.push(x);
    return concat(got);
  })();
  return { done, written };
}

describe("two TCP layers", () => {
  it("exchange random byte streams in both directions at once, exactly once and in order, then close cleanly (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 12 }),
        fc.integer({ min: 0, max: 30 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1 << 30 }),
        async (sizesA, sizesB, delay, noDelay, seed) => {
          const { clock, ta, tb, l, c, s } = await pair(seed, delay, { noDelay });
          const ca = sizesA.map((n, i) => bytes(n, seed + i));
          const cb = sizesB.map((n, i) => bytes(n, seed + 1000 + i));
          const ab = pump(c, ca, s);
          const ba = pump(s, cb, c);
          let finished = false;
          void Promise.all([ab.done, ba.done, ab.written, ba.written]).then(() => (finished = true));
          await clock.runUntil(() => finished, { maxTimeMs: 3_600_000 });
          expect(await ab.done).toEqual(concat(ca));
          expect(await ba.done).toEqual(concat(cb));
          const closing = Promise.all([c.close(), s.close()]);
          await clock.advance(61_000);
          await closing;
          expect(ta.connectionCount + tb.connectionCount).toBe(0);
          await l.close();
          expect(clock.pendingTimers).toBe(0);
          expect(ta.stats().counters.timersArmed).toBe(0);
          expect(tb.stats().counters.timersArmed).toBe(0);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("connects to its own address over loopback", async () => {
    const clock = new VirtualClock();
    const ip = new FakeIpv4({ clock, addresses: ["10.77.0.1/24"] });
    const t = new TcpLayer({ ipv4: ip, clock, random: new SeededRandom(3) });
    const l = await t.listen({ port: 7 });
    const cp = t.connect({ address: "10.77.0.1", port: 7 });
    await clock.advance(10);
    const c = await cp;
    const s = (await l.accept())!;
    // Loopback: the MSS comes from the loopback MTU (65515 − 20).
    expect(c.info().mss).toBe(65495 - 12);
    const data = bytes(300_000);
    const p = pump(c, [data], s);
    await clock.runUntil(() => s.info().bytesReceived === data.length);
    await clock.advance(100);
    expect(await p.done).toEqual(data);
    await t.close();
    await clock.runUntilIdle(); // the RSTs looping back through the fake
    expect(clock.pendingTimers).toBe(0);
  });

  it("reports connection statistics (TcpInfo)", async () => {
    const { clock, c, s, ta, tb } = await pair(5, 10);
    const p = pump(c, [bytes(100_000)], s);
    await clock.runUntil(() => s.info().bytesReceived === 100_000);
    await p.written;
    const i = c.info();
    expect(i).toMatchObject({ state: "FIN-WAIT-1", bytesSent: 100_000, bytesReceived: 0, mss: 1448, windowScaling: true, timestamps: true, sack: true, retransmissions: 0 });
    expect(i.srttMs).toBeGreaterThanOrEqual(20);
    expect(i.srttMs).toBeLessThan(80);
    expect(i.rtoMs).toBe(1000);
    expect(i.cwnd).toBeGreaterThan(10 * 1448);
    expect(s.info().bytesReceived).toBe(100_000);
    expect(ta.stats().counters.segmentsOut).toBeGreaterThan(69);
    await ta.close();
    await tb.close();
  });
});
