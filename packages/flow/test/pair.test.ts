import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MorganaError } from "@morgana/interfaces";
import { VirtualClock } from "@morgana/sim";
import { flowPair, isTcpFlow, tcpFlowPair, MemoryFlow } from "../src/index.js";
import { concat, expectCode, pattern, readAllOf, rejection, tick, track } from "./helpers.js";

async function yields(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** Writes `chunks` to `flow`, one at a time or all queued at once, then shuts down. */
async function writeAll(flow: MemoryFlow, chunks: Uint8Array[], pipelined: boolean): Promise<void> {
  if (pipelined) await Promise.all(chunks.map((c) => flow.write(c)));
  else for (const c of chunks) await flow.write(c);
  await flow.shutdown();
}

/** Reads to the end, pausing a varying number of microtask turns between reads. */
async function slowReadAll(flow: MemoryFlow, pauses: number[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let i = 0; ; i++) {
    const c = await flow.read();
    if (c === null) return concat(parts);
    expect(c.length).toBeGreaterThan(0);
    parts.push(c);
    await yields(pauses.length > 0 ? pauses[i % pauses.length]! : 0);
  }
}

describe("flowPair: delivery", () => {
  it("every byte arrives once and in order, both ways at once, for random chunking, buffer sizes and reader speeds", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.nat(6), { maxLength: 8 }),
        fc.array(fc.nat(6), { maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        async (sizesAB, sizesBA, bufferSize, pausesA, pausesB, pipeA, pipeB) => {
          const [a, b] = flowPair({ bufferSize });
          const ab = sizesAB.map((n, i) => pattern(n, i));
          const ba = sizesBA.map((n, i) => pattern(n, 1000 + i));
          const expectAB = concat(ab);
          const expectBA = concat(ba);
          const [, , gotAB, gotBA] = await Promise.all([writeAll(a, ab, pipeA), writeAll(b, ba, pipeB), slowReadAll(b, pausesB), slowReadAll(a, pausesA)]);
          expect(gotAB).toEqual(expectAB);
          expect(gotBA).toEqual(expectBA);
          expect(a.stats().maxBuffered).toBeLessThanOrEqual(bufferSize);
          expect(b.stats().maxBuffered).toBeLessThanOrEqual(bufferSize);
          expect(a.stats().bytesWritten).toBe(expectAB.length);
          expect(b.stats().bytesRead).toBe(expectAB.length);
          await Promise.all([a.close(), b.close()]);
        },
      ),
    );
  });

  it("writev sends its chunks in order, after earlier writes; empty chunks are accepted and never read", async () => {
    const [a, b] = flowPair({ bufferSize: 4 });
    const w1 = a.write(Uint8Array.of(1, 2, 3));
    const w2 = a.writev([Uint8Array.of(4, 5), new Uint8Array(0), Uint8Array.of(6, 7, 8, 9)]);
    const w3 = a.write(new Uint8Array(0));
    const end = a.shutdown();
    const got = await readAllOf(b);
    await Promise.all([w1, w2, w3, end]);
    expect([...got]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("concurrent reads are served in call order", async () => {
    const [a, b] = flowPair();
    const reads = [b.read(), b.read(), b.read(), b.read()];
    await a.write(Uint8Array.of(1));
    await a.write(Uint8Array.of(2, 2));
    await a.write(Uint8Array.of(3, 3, 3));
    await a.shutdown();
    const got = await Promise.all(reads);
    expect(got.map((c) => (c === null ? null : [...c]))).toEqual([[1], [2, 2], [3, 3, 3], null]);
  });

  it("a write larger than the buffer is accepted in parts, as views of the caller's array (no copy)", async () => {
    const [a, b] = flowPair({ bufferSize: 10 });
    const data = pattern(25, 7);
    const w = track(a.write(data));
    const first = await b.read();
    expect(first!.length).toBe(10);
    expect(first!.buffer).toBe(data.buffer);
    const rest = concat([first!, (await b.read())!, (await b.read())!]);
    await w.promise;
    expect(rest).toEqual(data);
  });
});

describe("flowPair: backpressure", () => {
  it("a write stays pending while the peer's buffer is full and resumes after reads; the buffer never exceeds its size", async () => {
    const [a, b] = flowPair({ bufferSize: 100 });
    const w1 = track(a.write(pattern(60, 1)));
    const w2 = track(a.write(pattern(90, 2)));
    const w3 = track(a.write(pattern(10, 3)));
    await tick();
    expect(w1.settled).toBe(true);
    expect(w2.settled).toBe(false); // 40 of its 90 bytes fit
    expect(w3.settled).toBe(false);
    expect(b.stats().buffered).toBe(100);
    expect(a.stats().pendingWrites).toBe(2);
    await tick();
    expect(w2.settled).toBe(false); // still held back: nobody read

    expect((await b.read())!.length).toBe(60);
    await tick();
    expect(w2.settled).toBe(true); // the other 50 bytes fit now
    expect(w3.settled).toBe(true);
    expect(b.stats().buffered).toBe(100);
    expect(b.stats().maxBuffered).toBe(100);
    await a.shutdown();
    expect(await readAllOf(b)).toEqual(concat([pattern(90, 2), pattern(10, 3)]));
  });

  it("with a reader that never reads, an unbounded writer is held at bufferSize bytes", async () => {
    const [a, b] = flowPair({ bufferSize: 1000 });
    let accepted = 0;
    const writer = (async () => {
      for (let i = 0; i < 100; i++) {
        await a.write(pattern(128, i));
        accepted += 128;
      }
    })();
    for (let i = 0; i < 10; i++) await tick();
    expect(b.stats().buffered).toBeLessThanOrEqual(1000);
    expect(accepted).toBeLessThanOrEqual(1000);
    expect(accepted).toBeGreaterThanOrEqual(1000 - 128);
    const got = readAllOf(b);
    await writer;
    await a.shutdown();
    expect((await got).length).toBe(12800);
    expect(b.stats().maxBuffered).toBeLessThanOrEqual(1000);
  });
});

describe("flowPair: half-close and close", () => {
  it("shutdown ends one direction: the peer reads the data then null, and can still write back", async () => {
    const [a, b] = flowPair();
    await a.write(Uint8Array.of(1, 2));
    await a.shutdown();
    expectCode(await rejection(a.write(Uint8Array.of(3))), "EPIPE");
    await a.shutdown(); // idempotent
    expect([...(await b.read())!]).toEqual([1, 2]);
    expect(await b.read()).toBeNull();
    expect(await b.read()).toBeNull(); // sticky
    await b.write(Uint8Array.of(9, 9, 9));
    expect([...(await a.read())!]).toEqual([9, 9, 9]);
    await b.shutdown();
    expect(await a.read()).toBeNull();
    expect(isTcpFlow(a)).toBe(false); // a plain MemoryFlow has no addresses
    await a.close();
    await b.close();
  });

  it("shutdown resolves only once pending writes are accepted (the end is queued after them)", async () => {
    const [a, b] = flowPair({ bufferSize: 10 });
    const w = track(a.write(pattern(30, 1)));
    const s = track(a.shutdown());
    await tick();
    expect(w.settled).toBe(false);
    expect(s.settled).toBe(false);
    const got = await readAllOf(b);
    expect(got).toEqual(pattern(30, 1));
    await tick();
    expect(s.settled && s.error === undefined).toBe(true);
  });

  it("close with data in flight: the peer reads every byte then null; the writes and close resolve", async () => {
    const [a, b] = flowPair({ bufferSize: 4096 });
    const chunks = Array.from({ length: 20 }, (_, i) => pattern(1000, i));
    const writes = chunks.map((c) => a.write(c));
    const closed = track(a.close());
    expectCode(await rejection(a.write(Uint8Array.of(1))), "EPIPE");
    expect(await a.read()).toBeNull(); // close stops reading
    await tick();
    expect(closed.settled).toBe(false); // 20000 bytes cannot be accepted yet
    expect(await readAllOf(b)).toEqual(concat(chunks));
    await Promise.all(writes);
    await tick();
    expect(closed.settled).toBe(false); // close() waits for the peer's end of stream too
    await b.shutdown();
    await closed.promise;
    expect(await a.close()).toBeUndefined(); // idempotent
  });

  it("close with unread received data resets the peer (RFC 1122 4.2.2.13): ECONNRESET after what it had received", async () => {
    const [a, b] = flowPair();
    await a.write(Uint8Array.of(1, 2, 3)); // b never reads it
    await b.write(Uint8Array.of(7));
    await b.close();
    expect([...(await a.read())!]).toEqual([7]); // accepted before the reset: still readable
    const e = await rejection(a.read());
    expectCode(e, "ECONNRESET");
    expect(await rejection(a.read())).toBe(e); // the same answer every time
    expectCode(await rejection(a.write(Uint8Array.of(4))), "ECONNRESET");
    await a.close(); // resolves on a failed flow
  });

  it("data written after the peer closed resets the writer", async () => {
    const [a, b] = flowPair();
    const closing = b.close(); // nothing unread: a graceful close (waits for a's end)
    expect(await a.read()).toBeNull();
    expectCode(await rejection(a.write(Uint8Array.of(1))), "ECONNRESET");
    await closing; // b answered a's data with a reset, which finished its close
    await a.shutdown().then(
      () => expect.unreachable(),
      (e: unknown) => expectCode(e, "ECONNRESET"),
    );
  });
});

describe("flowPair: abort", () => {
  it("abort rejects the aborting end's pending and later operations with ECONNABORTED, and resets the peer", async () => {
    const [a, b] = flowPair({ bufferSize: 10 });
    await a.write(pattern(10, 1)); // fills b's buffer
    const pendingWrite = track(a.write(pattern(5, 2)));
    const pendingShutdown = track(a.shutdown());
    const pendingRead = track(a.read());
    await tick();
    a.abort();
    await tick();
    expectCode(pendingWrite.error, "ECONNABORTED");
    expectCode(pendingShutdown.error, "ECONNABORTED");
    expectCode(pendingRead.error, "ECONNABORTED");
    expectCode(await rejection(a.write(Uint8Array.of(1))), "ECONNABORTED");
    expectCode(await rejection(a.read()), "ECONNABORTED");
    await a.close(); // resolves: the connection is finished
    // The peer: what was accepted before the RST is readable, then ECONNRESET.
    expect(await b.read()).toEqual(pattern(10, 1));
    expectCode(await rejection(b.read()), "ECONNRESET");
    expectCode(await rejection(b.write(Uint8Array.of(1))), "ECONNRESET");
    a.abort(); // idempotent
  });

  it("a pending read on the peer rejects with ECONNRESET; a given error is what the aborting end reports", async () => {
    const [a, b] = flowPair();
    const r = track(b.read());
    const mine = new MorganaError("ETIMEDOUT", "keepalive gave up");
    a.abort(mine);
    await tick();
    expectCode(r.error, "ECONNRESET");
    expect((r.error as MorganaError).errno).toBe(-104);
    expect(await rejection(a.read())).toBe(mine);
    expect(await rejection(a.write(Uint8Array.of(1)))).toBe(mine);
  });

  it("abort after a completed close does nothing", async () => {
    const [a, b] = flowPair();
    const closing = a.close();
    expect(await b.read()).toBeNull();
    await b.shutdown();
    await closing; // both ends finished
    a.abort();
    expect(await b.read()).toBeNull(); // no reset reached b
    await b.close();
  });
});

describe("flowPair: iteration, validation, latency, TCP ends", () => {
  it("async iteration yields the chunks, ends at end of stream; breaking out does not close the flow", async () => {
    const [a, b] = flowPair();
    void (async () => {
      for (let i = 1; i <= 3; i++) await a.write(Uint8Array.of(i));
    })();
    for await (const c of b) {
      expect([...c]).toEqual([1]);
      break;
    }
    const rest: number[] = [];
    const done = (async () => {
      for await (const c of b) rest.push(...c);
    })();
    await tick();
    await a.shutdown();
    await done;
    expect(rest).toEqual([2, 3]);
  });

  it("async iteration throws the stream's error", async () => {
    const [a, b] = flowPair();
    await a.write(Uint8Array.of(5));
    a.abort();
    const seen: number[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of b) seen.push(...c);
      })(),
    );
    expect(seen).toEqual([5]);
    expectCode(err, "ECONNRESET");
  });

  it("bad arguments are EINVAL", async () => {
    expect(() => flowPair({ bufferSize: 0 })).toThrow(MorganaError);
    expect(() => flowPair({ latencyMs: 5 })).toThrow(/clock/);
    expect(() => flowPair({ latencyMs: -1, clock: new VirtualClock() })).toThrow(MorganaError);
    const [a] = flowPair();
    expectCode(await rejection(a.write("text" as unknown as Uint8Array)), "EINVAL");
    const [c, d] = flowPair();
    expectCode(await rejection(c.writev([Uint8Array.of(1), "x" as unknown as Uint8Array])), "EINVAL");
    await c.shutdown();
    expect(await d.read()).toBeNull(); // nothing of the refused writev was sent
  });

  it("latency delays data and the end of stream by latencyMs of the injected clock, and leaves no timer behind", async () => {
    const clock = new VirtualClock();
    const [a, b] = flowPair({ latencyMs: 10, clock });
    await a.write(Uint8Array.of(1));
    const r = track(b.read());
    await clock.advance(9);
    expect(r.settled).toBe(false);
    await clock.advance(1);
    expect([...(r.value as Uint8Array)]).toEqual([1]);
    await clock.advance(5);
    await a.shutdown();
    const end = track(b.read());
    await clock.advance(9);
    expect(end.settled).toBe(false);
    await clock.advance(1);
    expect(end.settled && end.value === null).toBe(true);
    expect(clock.pendingTimers).toBe(0);

    // A read waiting for data in flight holds one timer; closing the end cancels it.
    await b.write(Uint8Array.of(2));
    const inFlight = track(a.read());
    await tick();
    expect(clock.pendingTimers).toBe(1);
    await a.close();
    expect(clock.pendingTimers).toBe(0);
    expect(inFlight.value).toBeNull();
  });

  it("tcpFlowPair ends carry mirrored addresses, record socket options and report a state", async () => {
    const [c, s] = tcpFlowPair();
    expect(c.local).toEqual(s.remote);
    expect(c.remote).toEqual(s.local);
    expect(c.info().state).toBe("ESTABLISHED");
    c.setNoDelay(true);
    c.setKeepAlive(true, { idleMs: 1000 });
    expect(c.noDelay).toBe(true);
    expect(c.keepAlive).toEqual({ enable: true, opts: { idleMs: 1000 } });
    await c.write(Uint8Array.of(1, 2, 3));
    await s.read();
    expect(c.info().bytesSent).toBe(3);
    expect(s.info().bytesReceived).toBe(3);
    await c.shutdown();
    expect(c.info().state).toBe("FIN_WAIT");
    expect(await s.read()).toBeNull();
    expect(s.info().state).toBe("CLOSE_WAIT");
    await s.close();
    expect(s.info().state).toBe("CLOSED");
  });
});
