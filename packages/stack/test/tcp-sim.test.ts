/**
 * The deterministic simulation of the TCP issue: two direct stacks over an
 * in-memory link with a virtual clock and vnetif impairments (loss up to 20 %,
 * duplication, reordering, corruption, a 30-second outage), exchanging random
 * byte streams in both directions at once. Every byte must arrive exactly once
 * and in order, the connections must then close cleanly, and both stacks must
 * end with no connection and no pending timer. fast-check prints the seed and
 * the shrunk counterexample of a failure (FC_SEED replays it).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TcpFlow } from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { createLink, impair } from "@morgana/vnetif";
import { createStack, type DirectStack } from "../src/index.js";
import { bytes } from "./helpers.js";

function concat(chunks: Uint8Array[]): Uint8Array {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) (out.set(c, o), (o += c.length));
  return out;
}

interface Impairments {
  loss: number;
  duplicate: number;
  reorder: number;
  corrupt: number;
  /** Start of the 30 s outage (ms after the connection starts), or -1 for none. */
  outageAt: number;
}

async function twoStacks(seed: number, imp: Impairments, latencyMs: number) {
  const clock = new VirtualClock();
  const random = new SeededRandom(seed);
  const handlerErrors: unknown[] = [];
  const [pa, pb] = createLink({ clock, latencyMs, onHandlerError: (e) => handlerErrors.push(e) });
  const wrap = (p: typeof pa, label: string) =>
    impair(p, {
      clock,
      random: random.fork(label),
      loss: imp.loss,
      duplicate: imp.duplicate,
      reorder: { rate: imp.reorder, maxExtraDelayMs: 20 },
      corrupt: { rate: imp.corrupt, bits: 1 },
      ...(imp.outageAt >= 0 ? { outages: [{ startMs: imp.outageAt, durationMs: 30_000 }] } : {}),
    });
  // Ten SYN retries instead of six: the outage may swallow the first five, and loss the rest.
  const tcp = { synRetries: 10, synAckRetries: 10 };
  const a = createStack({ netif: wrap(pa, "ia"), address: "10.0.0.1/24", clock, random: random.fork("a"), tcp });
  const b = createStack({ netif: wrap(pb, "ib"), address: "10.0.0.2/24", clock, random: random.fork("b"), tcp });
  // Static neighbours: the simulation is about TCP, not about ARP giving up under 20 % loss.
  a.arp.addStatic(b.ipv4.addresses[0]!.address, b.netif.mac);
  b.arp.addStatic(a.ipv4.addresses[0]!.address, a.netif.mac);
  return { clock, a, b, handlerErrors };
}

function transfer(w: TcpFlow, chunks: Uint8Array[], r: TcpFlow) {
  const written = (async () => {
    for (const ch of chunks) await w.write(ch.slice());
    await w.shutdown();
  })();
  const received = (async () => {
    const got: Uint8Array[] = [];
    for await (const x of r) got.push(x);
    return concat(got);
  })();
  return { written, received };
}

async function endClean(clock: VirtualClock, stacks: DirectStack[]): Promise<void> {
  // TIME-WAIT (60 s) and any retransmitted FIN/ACK exchange must end by themselves.
  await clock.advance(5 * 60_000);
  for (const s of stacks) {
    expect(s.tcp.connectionCount, `${s.addresses()[0]} still has connections`).toBe(0);
    expect(s.tcp.stats().counters.timersArmed).toBe(0);
  }
  for (const s of stacks) await s.close();
  await clock.runUntilIdle();
  expect(clock.pendingTimers).toBe(0);
}

const impairments: fc.Arbitrary<Impairments> = fc.record({
  loss: fc.double({ min: 0, max: 0.2, noNaN: true }),
  duplicate: fc.double({ min: 0, max: 0.05, noNaN: true }),
  reorder: fc.double({ min: 0, max: 0.3, noNaN: true }),
  corrupt: fc.double({ min: 0, max: 0.05, noNaN: true }),
  outageAt: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 3000 })),
});

describe("TCP between two stacks under impairments (deterministic simulation)", () => {
  it("delivers random byte streams in both directions exactly once and in order, then closes cleanly (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        impairments,
        fc.array(fc.integer({ min: 1, max: 40_000 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 40_000 }), { maxLength: 6 }),
        fc.integer({ min: 1, max: 1 << 30 }),
        async (imp, sizesA, sizesB, seed) => {
          const { clock, a, b, handlerErrors } = await twoStacks(seed, imp, 5);
          const l = await b.tcp.listen({ port: 80 });
          const cp = a.tcp.connect({ address: "10.0.0.2", port: 80 });
          let c: TcpFlow | undefined;
          let s: TcpFlow | null | undefined;
          void cp.then((x) => (c = x));
          void l.accept().then((x) => (s = x));
          await clock.runUntil(() => c !== undefined && s !== undefined, { maxTimeMs: 3_600_000 });
          const ca = sizesA.map((n, i) => bytes(n, seed + i));
          const cb = sizesB.map((n, i) => bytes(n, seed + 100 + i));
          const ab = transfer(c!, ca, s!);
          const ba = transfer(s!, cb, c!);
          let done = false;
          void Promise.all([ab.written, ab.received, ba.written, ba.received]).then(() => (done = true));
          await clock.runUntil(() => done, { maxTimeMs: 3_600_000 });
          expect(await ab.received).toEqual(concat(ca));
          expect(await ba.received).toEqual(concat(cb));
          let closed = false;
          void Promise.all([c!.close(), s!.close()]).then(() => (closed = true));
          await clock.runUntil(() => closed, { maxTimeMs: 600_000 });
          await l.close();
          await endClean(clock, [a, b]);
          expect(handlerErrors).toEqual([]);
        },
      ),
      { numRuns: 12 },
    );
  }, 600_000);

  it("survives 20 % loss with duplication, reordering, corruption and a 30 s outage in the middle of a transfer", async () => {
    const imp: Impairments = { loss: 0.2, duplicate: 0.05, reorder: 0.3, corrupt: 0.05, outageAt: 1500 };
    const { clock, a, b } = await twoStacks(2026, imp, 5);
    const l = await b.tcp.listen({ port: 80 });
    const cp = a.tcp.connect({ address: "10.0.0.2", port: 80 });
    let c: TcpFlow | undefined;
    let s: TcpFlow | null | undefined;
    void cp.then((x) => (c = x));
    void l.accept().then((x) => (s = x));
    await clock.runUntil(() => c !== undefined && s !== undefined, { maxTimeMs: 3_600_000 });
    const t0 = clock.now();
    const ca = [bytes(300_000, 1)];
    const cb = [bytes(200_000, 2)];
    const ab = transfer(c!, ca, s!);
    const ba = transfer(s!, cb, c!);
    let done = false;
    void Promise.all([ab.received, ba.received]).then(() => (done = true));
    await clock.runUntil(() => done, { maxTimeMs: 3_600_000 });
    expect(await ab.received).toEqual(ca[0]);
    expect(await ba.received).toEqual(cb[0]);
    // The outage cost at least its 30 seconds.
    expect(clock.now() - t0).toBeGreaterThan(30_000);
    const st = a.stats();
    expect(st.tcp!.counters.retransmittedSegments).toBeGreaterThan(10);
    expect(st.tcp!.counters.timeouts).toBeGreaterThan(0);
    // Corrupted frames were caught by a checksum somewhere (IPv4 header or TCP).
    const checksumDrops = (x: DirectStack) => (x.stats().ipv4!.drops.checksum ?? 0) + (x.stats().tcp!.drops.checksum ?? 0);
    expect(checksumDrops(a) + checksumDrops(b)).toBeGreaterThan(0);
    let closed = false;
    void Promise.all([c!.close(), s!.close()]).then(() => (closed = true));
    await clock.runUntil(() => closed, { maxTimeMs: 600_000 });
    await l.close();
    await endClean(clock, [a, b]);
  }, 120_000);
});
