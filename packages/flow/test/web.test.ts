import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { flowPair, toWebStreams } from "../src/index.js";
import { concat, expectCode, pattern, readAllOf, rejection, tick, track } from "./helpers.js";

async function collect(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const reader = readable.getReader();
  const parts: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concat(parts);
    parts.push(value);
  }
}

async function send(writable: WritableStream<Uint8Array>, chunks: Uint8Array[]): Promise<void> {
  const writer = writable.getWriter();
  for (const c of chunks) {
    await writer.ready;
    void writer.write(c);
  }
  await writer.close();
}

describe("toWebStreams", () => {
  it("carries random data both ways at once, with writable close as a half-close", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 8000 }),
        async (sizesA, sizesB, bufferSize) => {
          const [a, b] = flowPair({ bufferSize });
          const sa = toWebStreams(a);
          const sb = toWebStreams(b);
          const fromA = sizesA.map((n, i) => pattern(n, i));
          const fromB = sizesB.map((n, i) => pattern(n, 500 + i));
          const wantAB = concat(fromA);
          const wantBA = concat(fromB);
          const [, , gotAB, gotBA] = await Promise.all([send(sa.writable, fromA), send(sb.writable, fromB), collect(sb.readable), collect(sa.readable)]);
          expect(gotAB).toEqual(wantAB);
          expect(gotBA).toEqual(wantBA);
          expect(b.stats().maxBuffered).toBeLessThanOrEqual(bufferSize);
        },
      ),
    );
  });

  it("pipeTo a slow sink reads the flow only as fast as the sink consumes (bounded read-ahead)", async () => {
    const [a, b] = flowPair({ bufferSize: 4000 });
    const total = 200;
    const producer = (async () => {
      for (let i = 0; i < total; i++) await a.write(pattern(1000, i));
      await a.shutdown();
    })();
    let consumed = 0;
    let maxAhead = 0;
    const sink = new WritableStream<Uint8Array>({
      async write(chunk) {
        consumed += chunk.length;
        maxAhead = Math.max(maxAhead, b.stats().bytesRead - consumed);
        for (let i = 0; i < 3; i++) await tick();
      },
    });
    const { readable } = toWebStreams(b);
    await readable.pipeTo(sink);
    await producer;
    expect(consumed).toBe(total * 1000);
    // Read ahead: the readable's queue (1 chunk) + the chunk pipeTo holds + the sink's queue (1 chunk).
    expect(maxAhead).toBeLessThanOrEqual(3 * 1000);
    expect(b.stats().maxBuffered).toBeLessThanOrEqual(4000);
  });

  it("readableHighWaterMark 0 reads only when asked", async () => {
    const [a, b] = flowPair();
    await a.write(Uint8Array.of(1));
    await a.write(Uint8Array.of(2));
    const { readable } = toWebStreams(b, { readableHighWaterMark: 0 });
    await tick();
    expect(b.stats().bytesRead).toBe(0);
    const reader = readable.getReader();
    expect([...(await reader.read()).value!]).toEqual([1]);
    await tick();
    expect(b.stats().bytesRead).toBe(1);
    // The default, 1, reads one chunk ahead of the consumer and no more.
    const [c, d] = flowPair();
    for (let i = 0; i < 5; i++) await c.write(Uint8Array.of(i));
    const ahead = toWebStreams(d).readable;
    await tick();
    expect(d.stats().bytesRead).toBe(1);
    await ahead.getReader().read();
    await tick();
    expect(d.stats().bytesRead).toBe(2);
  });

  it("the writable's backpressure is the flow's: writer.ready waits while the peer does not read", async () => {
    const [a, b] = flowPair({ bufferSize: 2500 });
    const writer = toWebStreams(a).writable.getWriter();
    let queued = 0;
    const producer = (async () => {
      for (let i = 0; i < 50; i++) {
        await writer.ready;
        void writer.write(pattern(1000, i));
        queued++;
      }
      await writer.close();
    })();
    for (let i = 0; i < 10; i++) await tick();
    expect(a.stats().bytesWritten).toBeLessThanOrEqual(2500);
    expect(queued).toBeLessThanOrEqual(5); // 2.5 chunks accepted, one being written, one queued
    expect(writer.desiredSize).toBeLessThanOrEqual(0);
    const got = await readAllOf(b);
    await producer;
    expect(got).toEqual(concat(Array.from({ length: 50 }, (_, i) => pattern(1000, i))));
  });

  it("a reset of the peer errors the readable and the writable with ECONNRESET", async () => {
    const [a, b] = flowPair();
    const { readable, writable } = toWebStreams(a);
    const reader = readable.getReader();
    const writer = writable.getWriter();
    const pending = reader.read();
    b.abort();
    expectCode(await rejection(pending), "ECONNRESET");
    expectCode(await rejection(writer.write(Uint8Array.of(1))), "ECONNRESET");
  });

  it("cancel closes the flow: the peer reads the end of stream, later writes fail with EPIPE", async () => {
    const [a, b] = flowPair();
    const close = vi.spyOn(a, "close");
    const { readable, writable } = toWebStreams(a);
    const writer = writable.getWriter();
    await writer.write(Uint8Array.of(7));
    await readable.cancel("not interested");
    expect(close).toHaveBeenCalledTimes(1);
    expect([...(await b.read())!]).toEqual([7]);
    expect(await b.read()).toBeNull();
    expectCode(await rejection(writer.write(Uint8Array.of(8))), "EPIPE");
  });

  it("writable abort aborts the flow: the peer gets ECONNRESET, the readable errors with the reason", async () => {
    const [a, b] = flowPair();
    const { readable, writable } = toWebStreams(a);
    const reason = new Error("give up");
    const reader = readable.getReader();
    const pending = track(reader.read());
    await writable.abort(reason);
    expectCode(await rejection(b.read()), "ECONNRESET");
    await tick();
    expect(pending.error).toBe(reason);
    // A reason that is not an Error becomes ECONNABORTED.
    const [c, d] = flowPair();
    await toWebStreams(c).writable.abort("string reason");
    expectCode(await rejection(c.read()), "ECONNABORTED");
    expectCode(await rejection(d.read()), "ECONNRESET");
  });

  it("closes the flow once the readable ended and the writable closed", async () => {
    const [a, b] = flowPair();
    const close = vi.spyOn(a, "close");
    const { readable, writable } = toWebStreams(a);
    await writable.getWriter().close();
    expect(await b.read()).toBeNull();
    expect(close).not.toHaveBeenCalled();
    await b.shutdown();
    expect((await readable.getReader().read()).done).toBe(true);
    await tick();
    expect(close).toHaveBeenCalledTimes(1);
  });

  it("accepts ArrayBuffer views, rejects other chunks with EINVAL, and validates options", async () => {
    const [a, b] = flowPair();
    const writer = toWebStreams(a).writable.getWriter();
    await writer.write(new Uint16Array([0x0201]) as unknown as Uint8Array);
    expect([...(await b.read())!]).toEqual([1, 2]);
    expectCode(await rejection(writer.write("text" as unknown as Uint8Array)), "EINVAL");
    expect(() => toWebStreams(a, { writableHighWaterMark: 0 })).toThrow(/writableHighWaterMark/);
    expect(() => toWebStreams(a, { readableHighWaterMark: -1 })).toThrow(/readableHighWaterMark/);
  });
});
