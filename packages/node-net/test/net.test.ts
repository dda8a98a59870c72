/**
 * net.Socket / net.Server behaviour of the facade over two direct stacks on
 * an in-memory link.
 */
import { createHash } from "node:crypto";
import { Duplex, Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, describe, expect, it } from "vitest";
import { isMorganaError, type KeepAliveOptions, type Stack, type TcpConnectOptions, type TcpFlow, type TcpListenOptions } from "@morgana/interfaces";
import { VirtualClock } from "@morgana/sim";
import { createNet, type NetServer, type NetSocket } from "../src/index.js";
import { bytes, collect, delay, pair, within, type Pair } from "./helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let nextNet = 20;
function setup(opts: { clock?: VirtualClock } = {}): Pair {
  const p = pair(nextNet++, opts);
  cleanups.push(() => p.close());
  return p;
}

async function listening(server: NetServer, port = 0, host?: string): Promise<number> {
  if (host !== undefined) server.listen(port, host);
  else server.listen(port);
  await within(server, "listening");
  cleanups.push(() => void server.close());
  return server.address()!.port;
}

/** Records every event of interest on an emitter, in order. */
function record(s: NodeJS.EventEmitter, events = ["lookup", "connect", "ready", "timeout", "drain", "end", "finish", "error", "close"]): string[] {
  const log: string[] = [];
  for (const e of events) {
    s.on(e, (...args: unknown[]) => {
      if (e === "error") log.push(`error:${(args[0] as { code?: string }).code}`);
      else if (e === "close") log.push(`close:${String(args[0])}`);
      else if (e === "lookup") log.push(`lookup:${args[0] === null ? "ok" : (args[0] as { code: string }).code}:${String(args[1])}:${String(args[2])}:${String(args[3])}`);
      else log.push(e);
    });
  }
  return log;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("connect and echo", () => {
  it("echoes 300 kB through net.connect / createServer, with net.Socket's event order", async () => {
    const p = setup();
    let serverSide: NetSocket | undefined;
    const server = p.netA.createServer((s) => {
      serverSide = s;
      s.pipe(s);
    });
    const port = await listening(server, 7, p.hostA);
    const data = bytes(300_000, 1);
    const c = p.netB.connect(port, p.hostA);
    const log = record(c);
    expect([c.connecting, c.pending, c.readyState]).toEqual([true, true, "opening"]);
    c.end(data);
    const echoed = await collect(c);
    await within(c, "close");
    expect(sha(echoed)).toBe(sha(data));
    // 'finish' (our FIN queued) and the echo race; the rest is ordered.
    expect(log.filter((e) => e !== "finish")).toEqual(["connect", "ready", "end", "close:false"]);
    expect(log.indexOf("finish")).toBeGreaterThan(log.indexOf("ready"));
    expect(log.indexOf("finish")).toBeLessThan(log.indexOf("close:false"));
    expect([c.bytesRead, c.bytesWritten]).toEqual([data.length, data.length]);
    expect([serverSide!.bytesRead, serverSide!.bytesWritten]).toEqual([data.length, data.length]);
    expect([c.connecting, c.pending, c.readyState, c.destroyed]).toEqual([false, true, "closed", true]);
  });

  it("queues writes and end() made before the connection is established", async () => {
    const p = setup();
    const got: Promise<Buffer>[] = [];
    const server = p.netA.createServer((s) => got.push(collect(s)));
    const port = await listening(server);
    const c = p.netB.createConnection({ port, host: p.hostA });
    expect(c.write("hello ")).toBe(true);
    expect(c.bytesWritten).toBe(6); // counted while queued, as Node does
    c.end("world");
    await within(c, "finish");
    expect((await got[0]!).toString()).toBe("hello world");
    expect(c.bytesWritten).toBe(11);
    c.destroy();
  });

  it("reports the addresses of both ends", async () => {
    const p = setup();
    const accepted: NetSocket[] = [];
    const server = p.netA.createServer((s) => accepted.push(s));
    const port = await listening(server, 8080);
    expect(server.address()).toEqual({ address: "0.0.0.0", family: "IPv4", port: 8080 });
    expect(server.listening).toBe(true);
    const c = p.netB.connect({ port, host: p.hostA });
    expect(c.address()).toEqual({});
    expect([c.localAddress, c.remoteAddress]).toEqual([undefined, undefined]);
    await within(c, "connect");
    expect([c.remoteAddress, c.remotePort, c.remoteFamily]).toEqual([p.hostA, 8080, "IPv4"]);
    expect([c.localAddress, c.localFamily]).toEqual([p.hostB, "IPv4"]);
    expect(c.localPort).toBeGreaterThanOrEqual(49152);
    expect(c.address()).toEqual({ address: p.hostB, family: "IPv4", port: c.localPort });
    while (accepted.length === 0) await delay(1);
    const s = accepted[0]!;
    expect([s.remoteAddress, s.remotePort, s.remoteFamily, s.localAddress, s.localPort]).toEqual([p.hostB, c.localPort, "IPv4", p.hostA, 8080]);
    expect([s.connecting, s.pending, s.readyState, s.server]).toEqual([false, false, "open", server]);
    expect(s).toBeInstanceOf(p.netA.Socket);
    expect(s).toBeInstanceOf(Duplex);
    expect(c).toBeInstanceOf(p.netB.Stream);
    expect([p.netB.isIP("10.0.0.1"), p.netB.isIPv4("::1"), p.netB.isIPv6("::1")]).toEqual([4, false, true]);
    expect(c.server).toBe(null);
    c.destroy();
    await within(c, "close");
    // As Node: the local end is gone with the handle, the peer is remembered.
    expect(c.address()).toEqual({});
    expect([c.localAddress, c.remoteAddress]).toEqual([undefined, p.hostA]);
  });

  it("resolves 'localhost' (127.0.0.1) with a 'lookup' event and fails other names with ENOTFOUND", async () => {
    const p = setup();
    const server = p.netB.createServer((s) => s.end("hi"));
    const port = await listening(server);
    const c = p.netB.connect(port); // host defaults to localhost, as in Node
    const log = record(c);
    expect((await collect(c)).toString()).toBe("hi");
    await within(c, "close");
    expect(log[0]).toBe("lookup:ok:127.0.0.1:4:localhost");
    expect(c.remoteAddress).toBe("127.0.0.1");

    const bad = p.netB.connect(port, "db.example");
    const badLog = record(bad);
    const [err] = await within<[Error & { code: string; syscall: string; hostname: string }]>(bad, "error");
    await within(bad, "close");
    expect([err.code, err.syscall, err.hostname]).toEqual(["ENOTFOUND", "getaddrinfo", "db.example"]);
    expect(isMorganaError(err, "ENOTFOUND")).toBe(true);
    expect(badLog).toEqual(["lookup:ENOTFOUND:undefined:undefined:db.example", "error:ENOTFOUND", "close:true"]);
  });

  it("uses a lookup function for names, per module or per connection", async () => {
    const p = setup();
    const server = p.netA.createServer((s) => s.end(s.remoteAddress));
    const port = await listening(server);
    const names: string[] = [];
    const net = createNet(p.b, {
      lookup: (name, _o, cb) => {
        names.push(name);
        setImmediate(() => cb(null, [{ address: "::1", family: 6 }, { address: p.hostA, family: 4 }]));
      },
    });
    const c = net.connect(port, "server.test");
    const log = record(c);
    expect((await collect(c)).toString()).toBe(p.hostB);
    expect(log[0]).toBe(`lookup:ok:${p.hostA}:4:server.test`);
    const d = net.connect({ port, host: "other.test", lookup: (_n, _o, cb) => cb(null, p.hostA, 4) });
    expect((await collect(d)).toString()).toBe(p.hostB);
    expect(names).toEqual(["server.test"]);
  });

  it("rejects what the stack cannot do: IPv6 destinations, Unix paths, bad ports", async () => {
    const p = setup();
    const v6 = p.netB.connect(80, "::1");
    const [err] = await within<[Error & { code: string }]>(v6, "error");
    expect(err.code).toBe("EAFNOSUPPORT");
    expect(() => p.netB.connect("/tmp/socket")).toThrow(expect.objectContaining({ code: "ENOTSUP" }));
    expect(() => p.netB.connect(70000, p.hostA)).toThrow(expect.objectContaining({ code: "ERR_SOCKET_BAD_PORT" }));
    expect(() => p.netB.connect({ port: 80, host: p.hostA, localAddress: "fe80::1" })).toThrow(expect.objectContaining({ code: "EAFNOSUPPORT" }));
    expect(() => p.netB.connect({ port: 80, host: p.hostA, localAddress: "not-an-ip" })).toThrow(expect.objectContaining({ code: "ERR_INVALID_IP_ADDRESS" }));
    expect(() => p.netA.createServer().listen("/tmp/sock")).toThrow(expect.objectContaining({ code: "ENOTSUP" }));
    expect(() => p.netA.createServer().listen(-1)).toThrow(expect.objectContaining({ code: "ERR_SOCKET_BAD_PORT" }));
  });
});

describe("half-open", () => {
  it("allowHalfOpen true: the server answers after the client's end, and ends when it wants", async () => {
    const p = setup();
    const serverStates: string[] = [];
    const server = p.netA.createServer({ allowHalfOpen: true }, (s) => {
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("end", () => {
        serverStates.push(s.readyState);
        setTimeout(() => {
          // Half-open: still writable after the peer's FIN.
          s.write(`got ${Buffer.concat(chunks).length} bytes`);
          s.end();
        }, 50);
      });
    });
    const port = await listening(server);
    const c = p.netB.connect({ port, host: p.hostA, allowHalfOpen: true });
    const log = record(c);
    c.end(bytes(100_000, 2));
    await within(c, "finish");
    expect(c.readyState).toBe("readOnly");
    expect((await collect(c)).toString()).toBe("got 100000 bytes");
    await within(c, "close");
    expect(serverStates).toEqual(["writeOnly"]);
    expect(log.filter((e) => e !== "finish")).toEqual(["connect", "ready", "end", "close:false"]);
  });

  it("allowHalfOpen false (default): the peer's end ends our side, and a later write is EPIPE", async () => {
    const p = setup();
    let serverSide: NetSocket | undefined;
    const server = p.netA.createServer((s) => {
      serverSide = s;
      s.resume();
    });
    const port = await listening(server);
    const c = p.netB.connect({ port, host: p.hostA, allowHalfOpen: true });
    await within(c, "connect");
    while (serverSide === undefined) await delay(1);
    const sLog = record(serverSide);
    const received = collect(c);
    c.end();
    await within(serverSide, "finish"); // ended by the facade, not by us
    expect(serverSide.writableEnded).toBe(true);
    expect(await received).toEqual(Buffer.alloc(0)); // the client saw our automatic FIN
    await within(serverSide, "close");
    expect(sLog).toEqual(["end", "finish", "close:false"]);
    c.destroy();

    // A write after the automatic end: EPIPE, as net.Socket's writeAfterFIN.
    const writeErrors: Promise<Error | null | undefined>[] = [];
    const server2 = p.netA.createServer((s) => {
      s.on("error", () => undefined);
      s.resume();
      s.on("end", () => setImmediate(() => writeErrors.push(new Promise((r) => s.write("late", (e) => r(e))))));
    });
    const port2 = await listening(server2);
    const d = p.netB.connect({ port: port2, host: p.hostA });
    d.end();
    while (writeErrors.length === 0) await delay(1);
    expect(await writeErrors[0]).toMatchObject({ code: "EPIPE", message: "This socket has been ended by the other party" });
    d.destroy();
  });

  it("allowHalfOpen false on the client: the server's end() ends the client too", async () => {
    const p = setup();
    const serverLogs: string[][] = [];
    const server = p.netA.createServer({ allowHalfOpen: true }, (s) => {
      serverLogs.push(record(s));
      s.resume();
      s.end("bye");
    });
    const port = await listening(server);
    const c = p.netB.connect(port, p.hostA);
    const log = record(c);
    expect((await collect(c)).toString()).toBe("bye");
    await within(c, "close");
    expect(log).toEqual(["connect", "ready", "end", "finish", "close:false"]);
    while (serverLogs[0]!.at(-1) !== "close:false") await delay(1);
    expect(serverLogs[0]!.filter((e) => e !== "finish")).toEqual(["end", "close:false"]);
  });
});

describe("errors", () => {
  it("ECONNREFUSED is an 'error' event with Node's fields, then 'close' with hadError true", async () => {
    const p = setup();
    const c = p.netB.connect(9, p.hostA);
    const log = record(c);
    const writeErr = new Promise<Error | null | undefined>((r) => c.write("x", (e) => r(e)));
    const [err] = await within<[Error & { code: string; errno: number; syscall: string; address: string; port: number }]>(c, "error");
    await within(c, "close");
    expect(isMorganaError(err)).toBe(true);
    expect([err.code, err.errno, err.syscall, err.address, err.port]).toEqual(["ECONNREFUSED", -111, "connect", p.hostA, 9]);
    expect(err.message).toBe(`connect ECONNREFUSED ${p.hostA}:9`);
    expect(log).toEqual(["error:ECONNREFUSED", "close:true"]);
    expect([c.connecting, c.readyState, c.destroyed]).toEqual([false, "closed", true]);
    expect((await writeErr)?.message).toMatch(/closed/);
  });

  it("EADDRINUSE on the second listen, as an 'error' event; the first server is unaffected", async () => {
    const p = setup();
    const first = p.netA.createServer();
    await listening(first, 8000);
    const second = p.netA.createServer();
    let listened = false;
    second.listen(8000, () => (listened = true));
    const [err] = await within<[Error & { code: string; syscall: string; port: number }]>(second, "error");
    expect([err.code, err.syscall, err.port]).toEqual(["EADDRINUSE", "listen", 8000]);
    expect([second.listening, second.address(), listened]).toEqual([false, null, false]);
    expect(first.listening).toBe(true);
    expect(() => first.listen(8001)).toThrow(expect.objectContaining({ code: "ERR_SERVER_ALREADY_LISTEN" }));
    await second[Symbol.asyncDispose](); // not listening: resolves at once
    await first[Symbol.asyncDispose]();
    expect(first.listening).toBe(false);
    const refused = p.netB.connect(8000, p.hostA);
    expect((await within<[Error & { code: string }]>(refused, "error"))[0].code).toBe("ECONNREFUSED");
  });

  it("destroy() mid-transfer by the receiver: the sender gets a reset, the receiver a clean close", async () => {
    const p = setup();
    let receiver: NetSocket | undefined;
    let received = 0;
    const server = p.netA.createServer((s) => {
      receiver = s;
      s.on("data", (c: Buffer) => {
        received += c.length;
        if (received >= 64 * 1024 && !s.destroyed) s.destroy();
      });
    });
    const port = await listening(server);
    const c = p.netB.connect(port, p.hostA);
    const log = record(c);
    c.write(bytes(4 << 20, 3));
    const [err] = await within<[Error & { code: string }]>(c, "error");
    await within(c, "close");
    expect(["ECONNRESET", "EPIPE"]).toContain(err.code);
    expect(log.slice(-2)).toEqual([`error:${err.code}`, "close:true"]);
    expect(receiver!.destroyed).toBe(true);
    expect(received).toBeLessThan(4 << 20);
  });

  it("destroy() mid-transfer by the sender: queued writes are discarded, no error, 'close' false, the receiver gets a prefix", async () => {
    const p = setup();
    const chunk = 16 * 1024;
    const data = bytes(256 * chunk, 4);
    const accepted: NetSocket[] = [];
    const server = p.netA.createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
    const port = await listening(server);
    const c = p.netB.connect(port, p.hostA);
    const log = record(c);
    await within(c, "connect");
    // Fill the connection (the receiver does not read) until a write is no longer accepted.
    let off = 0;
    for (;;) {
      const done = new Promise<boolean>((r) => c.write(data.subarray(off, off + chunk), () => r(true)));
      off += chunk;
      if (!(await Promise.race([done, delay(50).then(() => false)]))) break;
    }
    const handedOver = off;
    expect(handedOver).toBeLessThan(data.length / 2);
    // These wait in the socket's writable buffer.
    for (; off < data.length; off += chunk) c.write(data.subarray(off, off + chunk));
    expect(c.writableLength).toBeGreaterThan(data.length / 2);
    c.destroy(); // discards what is still queued, as net.Socket does
    await within(c, "close");
    expect(log.filter((e) => e !== "drain")).toEqual(["connect", "ready", "close:false"]);
    expect([c.destroyed, c.writableFinished]).toEqual([true, false]);
    const s = accepted[0]!;
    s.on("error", () => undefined);
    const prefix = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      s.on("data", (x: Buffer) => chunks.push(x));
      s.on("close", () => resolve(Buffer.concat(chunks)));
      s.resume();
    });
    // What the connection had accepted is delivered (a graceful close), the rest is not.
    expect(prefix.length).toBe(handedOver);
    expect(prefix.equals(data.subarray(0, prefix.length))).toBe(true);
  });

  it("resetAndDestroy() sends a reset: the peer's read fails with ECONNRESET", async () => {
    const p = setup();
    const peerErr: Promise<Error & { code: string }>[] = [];
    const server = p.netA.createServer((s) => {
      peerErr.push(within<[Error & { code: string }]>(s, "error").then(([e]) => e));
    });
    const port = await listening(server);
    const c = p.netB.connect(port, p.hostA);
    await within(c, "connect");
    while (peerErr.length === 0) await delay(1);
    const log = record(c);
    c.resetAndDestroy();
    await within(c, "close");
    expect(log).toEqual(["close:false"]);
    expect((await peerErr[0]!).code).toBe("ECONNRESET");
  });

  it("an AbortSignal destroys the socket with ABORT_ERR", async () => {
    const p = setup();
    const ac = new AbortController();
    const server = p.netA.createServer();
    const port = await listening(server);
    const c = p.netB.connect({ port, host: p.hostA, signal: ac.signal });
    await within(c, "connect");
    const log = record(c);
    ac.abort();
    await within(c, "close");
    expect(log).toEqual(["error:ABORT_ERR", "close:true"]);
  });
});

describe("timeouts, options, server life cycle", () => {
  it("setTimeout emits 'timeout' after that long idle (virtual clock); activity re-arms it; 0 disables", async () => {
    const clock = new VirtualClock();
    const p = setup({ clock });
    const accepted: NetSocket[] = [];
    const server = p.netA.createServer((s) => {
      accepted.push(s);
      s.resume();
    });
    const port = await listening(server);
    const c = p.netB.connect({ port, host: p.hostA, timeout: 1000 });
    expect(c.timeout).toBe(1000);
    await within(c, "connect");
    const timeouts: number[] = [];
    c.on("timeout", () => timeouts.push(clock.now()));
    clock.advanceSync(999);
    expect(timeouts).toEqual([]);
    c.write("x"); // activity at 999 re-arms: next timeout at 1999
    await delay(5);
    clock.advanceSync(1);
    expect(timeouts).toEqual([]);
    clock.advanceSync(998);
    expect(timeouts).toEqual([]);
    clock.advanceSync(1);
    expect(timeouts).toEqual([1999]);
    expect(c.destroyed).toBe(false); // 'timeout' does not end the socket
    c.setTimeout(0);
    clock.advanceSync(10_000);
    expect(timeouts).toEqual([1999]);
    const cb: number[] = [];
    c.setTimeout(500, () => cb.push(clock.now()));
    clock.advanceSync(500);
    expect(cb).toEqual([11_999 + 500]);
    c.destroy();
    expect(clock.pendingTimers).toBe(0);
  }, 20_000);

  it("maps noDelay/keepAlive options and setters onto the TcpFlow and the listener", async () => {
    const p = setup();
    const calls: unknown[][] = [];
    const spy = spyStack(p.b, calls);
    const spyA = spyStack(p.a, calls);
    const net = createNet(spy);
    const netA = createNet(spyA);
    const server = netA.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 3500 });
    const port = await listening(server);
    const c = net.connect({ port, host: p.hostA, noDelay: true, keepAlive: true, keepAliveInitialDelay: 5000 });
    await within(c, "connect");
    c.setNoDelay(true); // unchanged: not forwarded (as Node)
    c.setNoDelay(false);
    c.setKeepAlive(true, 1500);
    c.setKeepAlive(false);
    expect(c.setNoDelay()).toBe(c);
    c.destroy();
    expect(calls).toEqual([
      ["listen", { port: 0, noDelay: true, keepAlive: { idleMs: 3000 } }],
      ["connect", { address: p.hostA, port, noDelay: true, keepAlive: { idleMs: 5000 } }],
      ["setNoDelay", false],
      ["setKeepAlive", true, { idleMs: 1000 }],
      ["setKeepAlive", false, undefined],
      ["setNoDelay", true],
    ]);
  });

  it("server.close() stops accepting and emits 'close' only after the last connection closed", async () => {
    const p = setup();
    const accepted: NetSocket[] = [];
    const server = p.netA.createServer((s) => {
      accepted.push(s);
      s.resume();
    });
    const port = await listening(server);
    const c = p.netB.connect(port, p.hostA);
    await within(c, "connect");
    while (accepted.length === 0) await delay(1);
    const count = await new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    expect(count).toBe(1);
    let closed = false;
    server.close(() => (closed = true));
    expect(server.listening).toBe(false);
    expect(server.address()).toBe(null);
    const refused = p.netB.connect(port, p.hostA);
    const [err] = await within<[Error & { code: string }]>(refused, "error");
    expect(err.code).toBe("ECONNREFUSED");
    await delay(50);
    expect(closed).toBe(false);
    c.write("still served");
    c.end();
    await within(server, "close");
    expect(closed).toBe(true);
    expect(accepted[0]!.destroyed).toBe(true);
    const notRunning = await new Promise<Error | undefined>((r) => server.close((e) => r(e)));
    expect(notRunning?.message).toBe("Server is not running.");
  });

  it("maxConnections closes the extra connection and emits 'drop'", async () => {
    const p = setup();
    const server = p.netA.createServer((s) => s.resume());
    server.maxConnections = 1;
    const port = await listening(server);
    const drops: { remoteAddress: string; remotePort: number }[] = [];
    server.on("drop", (d: { remoteAddress: string; remotePort: number }) => drops.push(d));
    const c1 = p.netB.connect(port, p.hostA);
    await within(c1, "connect");
    await delay(10);
    const c2 = p.netB.connect(port, p.hostA);
    let c2port: number | undefined;
    c2.on("connect", () => (c2port = c2.localPort));
    c2.resume();
    await within(c2, "close");
    expect(drops).toEqual([expect.objectContaining({ remoteAddress: p.hostB, remotePort: c2port, localAddress: p.hostA, localPort: port })]);
    expect(c1.destroyed).toBe(false);
    c1.destroy();
  });

  it("pauseOnConnect: nothing is read until resume(); ref/unref return the object", async () => {
    const p = setup();
    const accepted: NetSocket[] = [];
    const server = p.netA.createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
    expect(server.ref()).toBe(server);
    expect(server.unref()).toBe(server);
    const port = await listening(server);
    const c = p.netB.connect(port, p.hostA);
    expect(c.ref()).toBe(c);
    expect(c.unref()).toBe(c);
    c.end("abc");
    await within(c, "finish");
    while (accepted.length === 0) await delay(1);
    await delay(20);
    expect(accepted[0]!.bytesRead).toBe(0);
    accepted[0]!.resume();
    expect((await collect(accepted[0]!)).toString()).toBe("abc");
    c.destroy();
  });
});

describe("streams", () => {
  it("backpressure: write() returns false, 'drain' only comes once the peer reads", async () => {
    const p = setup();
    const accepted: NetSocket[] = [];
    const server = p.netA.createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
    const port = await listening(server);
    const c = p.netB.connect(port, p.hostA);
    await within(c, "connect");
    const data = bytes(2 << 20, 5);
    const chunk = 16 * 1024;
    let written = 0;
    let falses = 0;
    let drains = 0;
    const pump = () => {
      while (written < data.length) {
        const ok = c.write(data.subarray(written, written + chunk));
        written += chunk;
        if (!ok) {
          falses++;
          c.once("drain", () => {
            drains++;
            pump();
          });
          return;
        }
      }
      c.end();
    };
    pump();
    // The receiver reads nothing: the writer stalls once its send buffer and the
    // peer's receive window (256 KiB each on the direct stack) are full.
    for (let prev = -1, i = 0; prev !== written && i < 100; i++) {
      prev = written;
      await delay(100);
    }
    const stalledAt = written;
    expect(stalledAt).toBeGreaterThanOrEqual(256 * 1024);
    expect(stalledAt).toBeLessThan(1 << 20);
    expect(c.writableNeedDrain).toBe(true);
    expect(falses).toBe(drains + 1);
    while (accepted.length === 0) await delay(1);
    const got = collect(accepted[0]!);
    accepted[0]!.resume();
    expect(sha(await got)).toBe(sha(data));
    expect(written).toBe(data.length);
    expect(drains).toBeGreaterThan(0);
    expect(falses).toBe(drains);
  });

  it("stream.pipeline through the socket: source → socket → echo → socket → sink", async () => {
    const p = setup();
    const server = p.netA.createServer((s) => s.pipe(s));
    const port = await listening(server);
    const c = p.netB.connect(port, p.hostA);
    const chunks = Array.from({ length: 64 }, (_, i) => bytes(10_000 + i, 100 + i));
    const expected = sha(Buffer.concat(chunks));
    const h = createHash("sha256");
    let n = 0;
    await pipeline(
      Readable.from(chunks),
      c,
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          n += chunk.length;
          cb(null, chunk);
        },
      }),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          h.update(chunk);
          cb();
        },
      }),
    );
    expect(h.digest("hex")).toBe(expected);
    expect(n).toBe(Buffer.concat(chunks).length);
  });

  it("pipeline rejects with the socket's error when the connection fails", async () => {
    const p = setup();
    const c = p.netB.connect(1, p.hostA);
    await expect(pipeline(Readable.from([Buffer.from("x")]), c)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});

/** A Stack that records listen/connect options and flow setter calls. */
function spyStack(stack: Stack, calls: unknown[][]): Stack {
  const tcp = stack.tcp;
  const strip = (o: object) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== "signal"));
  const wrap = (f: TcpFlow): TcpFlow =>
    new Proxy(f, {
      get(target, prop, receiver) {
        if (prop === "setNoDelay") return (v: boolean) => (calls.push(["setNoDelay", v]), target.setNoDelay(v));
        if (prop === "setKeepAlive") return (e: boolean, o?: KeepAliveOptions) => (calls.push(["setKeepAlive", e, o]), target.setKeepAlive(e, o));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return {
    name: stack.name,
    udp: stack.udp,
    addresses: () => stack.addresses(),
    stats: () => stack.stats(),
    close: () => stack.close(),
    tcp: {
      stats: () => tcp.stats(),
      connect: async (o: TcpConnectOptions) => {
        calls.push(["connect", strip(o)]);
        return wrap(await tcp.connect(o));
      },
      listen: async (o: TcpListenOptions) => {
        calls.push(["listen", strip(o)]);
        const l = await tcp.listen(o);
        return {
          local: l.local,
          close: () => l.close(),
          accept: async () => {
            const f = await l.accept();
            return f === null ? null : wrap(f);
          },
          [Symbol.asyncIterator]: () => l[Symbol.asyncIterator](),
        };
      },
    },
  };
}
