import { Writable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { VirtualClock } from "@morgana/sim";
import { flowPair, tcpFlowPair } from "../src/index.js";
import { toNodeDuplex, type FlowDuplex } from "../src/node.js";
import { concat, expectCode, pattern, readAllOf, rejection, tick } from "./helpers.js";

function collect(d: FlowDuplex): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    d.on("data", (c: Buffer) => parts.push(c));
    d.on("end", () => resolve(concat(parts)));
    d.on("error", reject);
  });
}

async function sendAll(d: FlowDuplex, chunks: Uint8Array[]): Promise<void> {
  for (const c of chunks) {
    if (!d.write(c)) await new Promise((r) => d.once("drain", r));
  }
  await new Promise<void>((resolve, reject) => {
    d.end(() => resolve());
    d.once("error", reject);
  });
}

function nextEvent<T = unknown>(d: NodeJS.EventEmitter, name: string): Promise<T> {
  return new Promise((r) => d.once(name, r as (v: T) => void));
}

describe("toNodeDuplex", () => {
  it("carries random data both ways at once; end() half-closes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4000 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 8000 }),
        async (sizesA, sizesB, bufferSize) => {
          const [a, b] = flowPair({ bufferSize });
          const da = toNodeDuplex(a);
          const db = toNodeDuplex(b);
          const fromA = sizesA.map((n, i) => pattern(n, i));
          const fromB = sizesB.map((n, i) => pattern(n, 300 + i));
          const wantAB = concat(fromA);
          const wantBA = concat(fromB);
          const closed = Promise.all([nextEvent(da, "close"), nextEvent(db, "close")]);
          const [, , gotAB, gotBA] = await Promise.all([sendAll(da, fromA), sendAll(db, fromB), collect(db), collect(da)]);
          expect(Buffer.from(gotAB).equals(wantAB)).toBe(true);
          expect(Buffer.from(gotBA).equals(wantBA)).toBe(true);
          await closed; // both directions ended: autoDestroy closed both
          expect(da.bytesRead).toBe(wantBA.length);
          expect(da.bytesWritten).toBe(wantAB.length);
        },
      ),
    );
  });

  it("piping into a slow writable reads the flow only as fast as it drains (bounded read-ahead)", async () => {
    const [a, b] = flowPair({ bufferSize: 4000 });
    const total = 200;
    const producer = (async () => {
      for (let i = 0; i < total; i++) await a.write(pattern(1000, i));
      await a.shutdown();
    })();
    const d = toNodeDuplex(b, { readableHighWaterMark: 2000 });
    let consumed = 0;
    let maxAhead = 0;
    const sink = new Writable({
      highWaterMark: 1000,
      write(chunk: Buffer, _enc, cb) {
        consumed += chunk.length;
        maxAhead = Math.max(maxAhead, b.stats().bytesRead - consumed);
        setImmediate(() => setImmediate(cb));
      },
    });
    d.pipe(sink);
    await nextEvent(sink, "finish");
    await producer;
    expect(consumed).toBe(total * 1000);
    // readable buffer (2000 + one chunk) + sink buffer (1000 + one chunk) + the chunk being written
    expect(maxAhead).toBeLessThanOrEqual(6000);
    expect(b.stats().maxBuffered).toBeLessThanOrEqual(4000);
  });

  it("write() reports backpressure while the peer does not read", async () => {
    const [a, b] = flowPair({ bufferSize: 3000 });
    const d = toNodeDuplex(a, { writableHighWaterMark: 2000 });
    let written = 0;
    const producer = (async () => {
      for (let i = 0; i < 50; i++) {
        if (!d.write(pattern(1000, i))) await nextEvent(d, "drain");
        written++;
      }
      d.end();
    })();
    for (let i = 0; i < 10; i++) await tick();
    expect(a.stats().bytesWritten).toBeLessThanOrEqual(3000);
    // 3 chunks accepted by the flow, at most 2 more in the duplex's buffer, then write() said false.
    expect(written).toBeLessThanOrEqual(5);
    expect(d.writableLength).toBeGreaterThanOrEqual(1000);
    const got = await readAllOf(b);
    await producer;
    expect(got).toEqual(concat(Array.from({ length: 50 }, (_, i) => pattern(1000, i))));
  });

  it("after end(), the duplex still reads; when the peer ends too it closes the flow", async () => {
    const [a, b] = flowPair();
    const close = vi.spyOn(a, "close");
    const d = toNodeDuplex(a);
    d.end(Buffer.from("bye"));
    expect(Buffer.from((await b.read())!).toString()).toBe("bye");
    expect(await b.read()).toBeNull();
    const data = nextEvent<Buffer>(d, "data");
    await b.write(Buffer.from("still here"));
    expect((await data).toString()).toBe("still here");
    expect(close).not.toHaveBeenCalled();
    const closed = nextEvent(d, "close");
    await b.shutdown();
    await closed;
    expect(close).toHaveBeenCalledTimes(1);
  });

  it("with allowHalfOpen false, the end of the readable ends the writable", async () => {
    const [a, b] = flowPair();
    const d = toNodeDuplex(a, { allowHalfOpen: false });
    d.resume();
    await b.shutdown();
    expect(await b.read()).toBeNull(); // the duplex ended its side in turn
  });

  it("a reset emits 'error' with the flow's code, errno and syscall intact, then 'close'", async () => {
    const [a, b] = flowPair();
    const d = toNodeDuplex(a);
    d.resume();
    const err = nextEvent<NodeJS.ErrnoException>(d, "error");
    const closed = nextEvent(d, "close");
    b.abort();
    const e = await err;
    expectCode(e, "ECONNRESET");
    expect(e.errno).toBe(-104);
    expect(e.syscall).toBe("read");
    await closed;
  });

  it("a write failure emits 'error' with its code", async () => {
    const [a, b] = flowPair();
    const d = toNodeDuplex(a);
    b.abort(); // nobody reads the duplex, so the reset shows on the next write
    const err = nextEvent<NodeJS.ErrnoException>(d, "error");
    d.write(Buffer.from("x"));
    expectCode(await err, "ECONNRESET");
  });

  it("destroy() closes the flow gracefully (written data arrives); resetAndDestroy() aborts it", async () => {
    const [a, b] = flowPair();
    const close = vi.spyOn(a, "close");
    const d = toNodeDuplex(a);
    d.write(Buffer.from("last words"), () => d.destroy(new Error("local failure")));
    const err = await nextEvent<Error>(d, "error");
    expect(err.message).toBe("local failure");
    expect(close).toHaveBeenCalledTimes(1);
    expect(Buffer.from(await readAllOf(b)).toString()).toBe("last words");

    const [c, e] = flowPair();
    const abort = vi.spyOn(c, "abort");
    const dc = toNodeDuplex(c);
    const closed = nextEvent(dc, "close");
    dc.resetAndDestroy();
    await closed;
    expect(abort).toHaveBeenCalledTimes(1);
    expectCode(await rejection(e.read()), "ECONNRESET");
  });

  it("exposes a TcpFlow's addresses and forwards setNoDelay/setKeepAlive; a plain flow has none and ignores them", () => {
    const [c, s] = tcpFlowPair({
      addresses: [
        { address: "192.0.2.1", port: 40000, family: "IPv4" },
        { address: "192.0.2.2", port: 8080, family: "IPv4" },
      ],
    });
    const d = toNodeDuplex(c);
    expect([d.remoteAddress, d.remotePort, d.remoteFamily]).toEqual(["192.0.2.2", 8080, "IPv4"]);
    expect([d.localAddress, d.localPort, d.localFamily]).toEqual(["192.0.2.1", 40000, "IPv4"]);
    expect(d.address()).toEqual({ address: "192.0.2.1", port: 40000, family: "IPv4" });
    expect(d.setNoDelay()).toBe(d);
    expect(c.noDelay).toBe(true);
    d.setKeepAlive(true, 5000);
    expect(c.keepAlive).toEqual({ enable: true, opts: { idleMs: 5000 } });
    d.setKeepAlive(false);
    expect(c.keepAlive).toEqual({ enable: false, opts: undefined });
    expect(s.noDelay).toBe(false);
    expect(d.readyState).toBe("open");
    expect([d.connecting, d.pending, d.ref(), d.unref()]).toEqual([false, false, d, d]);

    const p = toNodeDuplex(flowPair()[0]);
    expect([p.remoteAddress, p.remotePort, p.localAddress, p.localPort]).toEqual([undefined, undefined, undefined, undefined]);
    expect(p.address()).toEqual({});
    expect(p.setNoDelay(true).setKeepAlive(true, 1000)).toBe(p);
  });

  it("setTimeout emits 'timeout' after that long without activity, on the injected clock", async () => {
    const clock = new VirtualClock();
    const [a, b] = flowPair();
    const d = toNodeDuplex(a, { clock });
    d.resume();
    const fired: number[] = [];
    d.setTimeout(1000, () => fired.push(clock.now()));
    expect(d.timeout).toBe(1000);
    await clock.advance(600);
    await b.write(Uint8Array.of(1)); // activity at 600 pushes the deadline to 1600
    await tick();
    await clock.advance(900);
    expect(fired).toEqual([]);
    await clock.advance(100);
    expect(fired).toEqual([1600]);
    await clock.advance(5000);
    expect(d.listenerCount("timeout")).toBe(0); // the callback was a once-listener
    const again: number[] = [];
    d.on("timeout", () => again.push(clock.now()));
    await clock.advance(5000);
    expect(again).toEqual([]); // no new activity: no new timeout
    const t0 = clock.now();
    d.write(Buffer.from("x")); // activity re-arms it
    await tick();
    await clock.advance(1000);
    expect(again).toEqual([t0 + 1000]);
    d.setTimeout(0);
    await b.write(Uint8Array.of(2));
    await clock.advance(5000);
    expect(again).toEqual([t0 + 1000]);
    d.setTimeout(300);
    d.destroy();
    await tick();
    expect(clock.pendingTimers).toBe(0);
    expect(() => d.setTimeout(-1)).toThrow(/bad timeout/);
  });
});
