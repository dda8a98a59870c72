import { MorganaError } from "@morgana/interfaces";
import { VirtualClock } from "@morgana/sim";
import { describe, expect, it } from "vitest";
import type { SocketTcpFlow } from "../src/index.js";
import { bytes, concat, isPending, pair, readAll, rejection, sleep, stack, until } from "./helpers.js";

const enc = (t: string) => new TextEncoder().encode(t);
const dec = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

describe("read", () => {
  it("gives plain Uint8Array chunks of at least one byte, then null, then null again", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    await client.write(enc("hello"));
    await client.shutdown();
    const chunk = await server.read();
    expect(chunk).not.toBeNull();
    // Not a Buffer: the same type the direct stack gives (Buffer#toString would differ).
    expect(Object.getPrototypeOf(chunk)).toBe(Uint8Array.prototype);
    expect(dec(chunk)).toBe("hello");
    expect(await server.read()).toBeNull();
    expect(await server.read()).toBeNull();
    expect(await Promise.all([server.read(), server.read()])).toEqual([null, null]);
  });

  it("serves concurrent reads in call order", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    const reads = [server.read(), server.read(), server.read(), server.read()];
    for (const t of ["a", "b", "c"]) {
      await client.write(enc(t));
      await sleep(20);
    }
    await client.shutdown();
    expect((await Promise.all(reads)).map(dec)).toEqual(["a", "b", "c", null]);
  });

  it("async iteration yields the chunks, ends at end of stream, and break leaves the flow open", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    await client.write(enc("first"));
    for await (const c of server) {
      expect(dec(c)).toBe("first");
      break;
    }
    await client.write(enc("second"));
    expect(dec(await server.read())).toBe("second");
    await client.write(enc("third"));
    await client.shutdown();
    const rest: string[] = [];
    for await (const c of server) rest.push(dec(c)!);
    expect(rest.join("")).toBe("third");
  });

  it("async iteration throws the stream's error", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    const it = (async () => {
      for await (const _ of server) void _;
    })();
    client.abort();
    expect((await rejection(it)).code).toBe("ECONNRESET");
  });
});

describe("half-close", () => {
  it("after the client shuts down, the server reads null and can still send", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    await client.write(enc("request"));
    await client.shutdown();
    await client.shutdown(); // idempotent
    expect(client.info().state).toBe("FIN-WAIT-1");
    expect(dec(await readAll(server))).toBe("request");
    expect(server.info().state).toBe("CLOSE-WAIT");
    // The write side of the client is closed: EPIPE.
    const e = await rejection(client.write(enc("more")));
    expect(e).toBeInstanceOf(MorganaError);
    expect(e).toMatchObject({ code: "EPIPE", errno: -32 });
    expect((await rejection(client.writev([enc("x")]))).code).toBe("EPIPE");
    // The server's direction is still open.
    const big = bytes(300_000, "reply");
    const reading = readAll(client);
    await server.write(big);
    await server.write(enc("end"));
    await server.close();
    const got = await reading;
    expect(Buffer.from(got).equals(Buffer.from(concat([big, enc("end")])))).toBe(true);
    await client.close();
    expect(client.info().state).toBe("CLOSED");
  });

  it("write after close rejects with EPIPE", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    const closing = client.close();
    expect((await rejection(client.write(enc("x")))).code).toBe("EPIPE");
    await server.close();
    await closing;
    expect((await rejection(client.write(enc("x")))).code).toBe("EPIPE");
    await expect(client.shutdown()).resolves.toBeUndefined();
  });
});

describe("close", () => {
  it("delivers data still in flight, then the end of stream", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    const data = bytes(2_000_000, "in-flight");
    // Write without waiting, then close at once: everything accepted is still delivered.
    const w = client.write(data);
    const closed = client.close();
    const got = await readAll(server);
    expect(Buffer.from(got).equals(Buffer.from(data))).toBe(true);
    await w;
    await server.close();
    await closed;
    expect(client.info().state).toBe("CLOSED");
  });

  it("resolves only when the peer has finished too, and is idempotent", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    const c1 = client.close();
    const c2 = client.close();
    expect(c1).toBe(c2);
    expect(await server.read()).toBeNull();
    expect(await isPending(c1, 100)).toBe(true);
    await server.close();
    await c1;
    await client.close();
  });

  it("pending reads resolve null, and later reads give null", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    const r = client.read();
    const closing = client.close();
    expect(await r).toBeNull();
    expect(await client.read()).toBeNull();
    await server.close();
    await closing;
  });

  it("with unread data it resets the connection, as Linux close() does", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    await client.write(enc("unread"));
    await until(() => (server as SocketTcpFlow).bufferedReadBytes > 0, 2000, "data buffered at the server");
    await server.close();
    expect((await rejection(client.read())).code).toBe("ECONNRESET");
    expect(s.stats().tcp.drops["unread-at-close"]).toBe(1);
    expect(s.stats().tcp.counters.resetsSent).toBe(1);
  });

  it("data arriving after close is answered with a reset", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    const closing = server.close();
    expect(await client.read()).toBeNull();
    await client.write(enc("too late"));
    await closing;
    // The client's read side has ended (null stays null); its writes see the reset.
    expect(await client.read()).toBeNull();
    let code: string | undefined;
    for (let i = 0; i < 50 && code === undefined; i++) {
      await client.write(enc("x")).catch((e: MorganaError) => (code = e.code));
      await sleep(10);
    }
    expect(code).toBe("ECONNRESET");
    expect(s.stats().tcp.drops["data-after-close"]).toBe(1);
  });

  it("resolves even when the peer resets while it waits; the lost writes report the error", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    // The peer does not read: 8 MB cannot all leave Node's buffer before the reset.
    const w = rejection(client.write(bytes(8 << 20, "lost")));
    const closing = client.close();
    await sleep(50);
    server.abort();
    await closing;
    expect((await w).code).toBe("ECONNRESET");
    expect(client.info().state).toBe("CLOSED");
  });

  it("gives up waiting for the peer after finTimeoutMs of the injected clock", async () => {
    const clock = new VirtualClock();
    const s = stack({ clock });
    const { client, server } = await pair(s);
    const closing = server.close();
    expect(await client.read()).toBeNull();
    expect(await isPending(closing, 50)).toBe(true);
    await clock.advance(60_000);
    await closing;
    expect(server.info().state).toBe("CLOSED");
    // The peer sees the end of the connection as the kernel closes the socket.
    await client.close();
  });
});

describe("abort", () => {
  it("resets: the peer's read rejects with ECONNRESET; pending and later operations reject with ECONNABORTED", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    const pendingRead = client.read();
    client.abort();
    client.abort(); // idempotent
    const e = await rejection(pendingRead);
    expect(e).toBeInstanceOf(MorganaError);
    expect(e).toMatchObject({ code: "ECONNABORTED", errno: -103 });
    expect((await rejection(client.read())).code).toBe("ECONNABORTED");
    expect((await rejection(client.write(enc("x")))).code).toBe("ECONNABORTED");
    expect((await rejection(client.shutdown())).code).toBe("ECONNABORTED");
    await client.close(); // resolves: the connection is finished
    const r = await rejection(server.read());
    expect(r).toMatchObject({ code: "ECONNRESET", errno: -104 });
    // The error is sticky on the reset side too, for reads and writes.
    expect((await rejection(server.read())).code).toBe("ECONNRESET");
    expect((await rejection(server.write(enc("x")))).code).toBe("ECONNRESET");
  });

  it("right after shutdown() still resets (once the pending shutdown completes) and frees the socket", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    await client.write(enc("data"));
    await client.shutdown();
    client.abort();
    await until(() => (client as SocketTcpFlow).closed, 2000, "the aborted socket closes");
    // The server may see the data and the FIN before the reset: its read side ends cleanly
    // (null stays null) and the reset shows on writing.
    let code: string | undefined;
    try {
      await readAll(server);
      for (let i = 0; i < 50 && code === undefined; i++) {
        await server.write(enc("x"));
        await sleep(10);
      }
    } catch (e) {
      code = (e as MorganaError).code;
    }
    expect(code).toBe("ECONNRESET");
    expect(s.stats().tcp.counters.resetsSent).toBe(1);
  });

  it("rejects with the given error", async () => {
    const s = stack();
    const { client } = await pair(s);
    const boom = new Error("boom");
    const r = client.read();
    client.abort(boom);
    expect(await rejection(r)).toBe(boom);
    expect(await rejection(client.write(enc("x")))).toBe(boom);
  });

  it("a writer held back by a peer that resets gets ECONNRESET", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    const chunk = bytes(1 << 20, "w");
    let err: MorganaError | undefined;
    const writing = (async () => {
      try {
        for (;;) await client.write(chunk);
      } catch (e) {
        err = e as MorganaError;
      }
    })();
    await sleep(100);
    server.abort();
    await writing;
    expect(err?.code).toBe("ECONNRESET");
  });
});

describe("backpressure", () => {
  it("a writer is held back while the reader does not read, memory stays bounded, and nothing is lost", async () => {
    const hwm = 16 * 1024;
    const s = stack({ tcp: { highWaterMark: hwm } });
    const { client, server } = await pair(s);
    const chunk = 64 * 1024;
    const sent: Uint8Array[] = [];
    let blocked: Promise<void> | undefined;
    for (let i = 0; i < 10_000; i++) {
      const data = bytes(chunk, i);
      sent.push(data);
      const w = client.write(data.slice());
      // Pending past a turn of the event loop, then still pending 200 ms later: held back.
      if ((await isPending(w, 0)) && (await isPending(w, 200))) {
        blocked = w;
        break;
      }
      // Node holds at most about one high-water mark (plus the write that crossed it).
      expect((client as SocketTcpFlow).bufferedWriteBytes).toBeLessThanOrEqual(hwm + chunk);
    }
    expect(blocked).toBeDefined();
    // The kernel buffers filled (socket buffers), the JS side did not.
    expect((server as SocketTcpFlow).bufferedReadBytes).toBeLessThanOrEqual(hwm + chunk);
    expect((client as SocketTcpFlow).bufferedWriteBytes).toBeLessThanOrEqual(hwm + chunk);
    expect(await isPending(blocked!, 200)).toBe(true);
    const total = sent.length * chunk;
    expect(total).toBeGreaterThan(hwm);
    // Reading releases the writer, and every byte arrives in order.
    const reading = (async () => {
      const parts: Uint8Array[] = [];
      let n = 0;
      while (n < total) {
        const c = await server.read();
        if (c === null) break;
        expect((server as SocketTcpFlow).bufferedReadBytes).toBeLessThanOrEqual(hwm + chunk);
        parts.push(c);
        n += c.length;
      }
      return concat(parts, n);
    })();
    await blocked;
    const got = await reading;
    expect(got.length).toBe(total);
    expect(Buffer.from(got).equals(Buffer.from(concat(sent)))).toBe(true);
  });
});

describe("options and info", () => {
  it("noDelay and keepAlive are accepted at connect and later", async () => {
    const s = stack();
    const l = await s.tcp.listen({ port: 0 });
    const c = await s.tcp.connect({ address: "127.0.0.1", port: l.local.port, noDelay: true, keepAlive: { idleMs: 1500, intervalMs: 500, count: 3 } });
    c.setNoDelay(false);
    c.setKeepAlive(true);
    c.setKeepAlive(true, { idleMs: 10 });
    c.setKeepAlive(false);
    expect(() => c.setKeepAlive(true, { idleMs: -1 })).toThrow(expect.objectContaining({ code: "EINVAL" }));
    const c2 = await s.tcp.connect({ address: "127.0.0.1", port: l.local.port, keepAlive: true });
    expect(c2.info().state).toBe("ESTABLISHED");
  });

  it("info() reports state and byte counts only (what a host socket can measure)", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    await client.write(bytes(12345));
    await until(() => server.info().bytesReceived === 12345, 2000, "bytes at the server");
    const i = client.info();
    expect(i).toEqual({ state: "ESTABLISHED", bytesSent: 12345, bytesReceived: 0 });
    expect(Object.keys(i).sort()).toEqual(["bytesReceived", "bytesSent", "state"]);
  });

  it("writes transfer ownership without copying into JS; empty writes resolve at once", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    await client.write(new Uint8Array(0));
    await client.writev([]);
    await client.writev([new Uint8Array(0), enc("a"), new Uint8Array(0), enc("b")]);
    await client.shutdown();
    expect(dec(await readAll(server))).toBe("ab");
    expect((await rejection(server.write("text" as unknown as Uint8Array))).code).toBe("EINVAL");
  });
});
