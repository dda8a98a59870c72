import { Socket } from "node:net";
import { Worker } from "node:worker_threads";
import { MorganaError, type TcpFlow } from "@morgana/interfaces";
import { VirtualClock } from "@morgana/sim";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytes, concat, isPending, pair, readAll, rejection, sleep, stack, until } from "./helpers.js";

/** A loopback port nobody listens on: listen on an ephemeral port, then close it. */
async function closedPort(): Promise<number> {
  const s = stack();
  const l = await s.tcp.listen({ port: 0, address: "127.0.0.1" });
  const port = l.local.port;
  await l.close();
  return port;
}

describe("listen, connect, accept", () => {
  it("connects and both ends agree on the addresses", async () => {
    const s = stack();
    const { listener, client, server } = await pair(s);
    expect(listener.local).toEqual({ address: "127.0.0.1", port: listener.local.port, family: "IPv4" });
    expect(listener.local.port).toBeGreaterThan(0);
    expect(client.remote).toEqual({ address: "127.0.0.1", port: listener.local.port, family: "IPv4" });
    expect(server.local).toEqual(client.remote);
    expect(server.remote).toEqual(client.local);
    expect(client.local.port).not.toBe(listener.local.port);
  });

  it("ephemeral ports are distinct and reported in local.port", async () => {
    const s = stack();
    const a = await s.tcp.listen({ port: 0 });
    const b = await s.tcp.listen({ port: 0 });
    expect(a.local.port).toBeGreaterThan(0);
    expect(b.local.port).toBeGreaterThan(0);
    expect(a.local.port).not.toBe(b.local.port);
    const c1 = await s.tcp.connect({ address: "127.0.0.1", port: a.local.port });
    const c2 = await s.tcp.connect({ address: "127.0.0.1", port: a.local.port });
    expect(c1.local.port).not.toBe(c2.local.port);
  });

  it("accept() gives connections in arrival order", async () => {
    const s = stack();
    const l = await s.tcp.listen({ port: 0 });
    const clients: TcpFlow[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await s.tcp.connect({ address: "127.0.0.1", port: l.local.port });
      await until(() => (l as unknown as { pending: number }).pending === i + 1, 2000, "queued connection");
      clients.push(c);
    }
    for (const c of clients) {
      const f = await l.accept();
      expect(f?.remote.port).toBe(c.local.port);
    }
  });

  it("an explicit local port is used", async () => {
    const s = stack();
    const l = await s.tcp.listen({ port: 0 });
    const freePort = await closedPort();
    const c = await s.tcp.connect({ address: "127.0.0.1", port: l.local.port, localAddress: "127.0.0.1", localPort: freePort });
    expect(c.local).toEqual({ address: "127.0.0.1", port: freePort, family: "IPv4" });
    const f = await l.accept();
    expect(f?.remote.port).toBe(freePort);
  });

  it("a refused connection rejects with ECONNREFUSED carrying address and port", async () => {
    const port = await closedPort();
    const s = stack();
    const e = await rejection(s.tcp.connect({ address: "127.0.0.1", port }));
    expect(e).toBeInstanceOf(MorganaError);
    expect(e).toMatchObject({ code: "ECONNREFUSED", errno: -111, syscall: "connect", address: "127.0.0.1", port });
    expect(s.stats().tcp.counters.connectFailures).toBe(1);
  });

  it("listening on a port in use rejects with EADDRINUSE", async () => {
    const s = stack();
    const l = await s.tcp.listen({ port: 0, address: "127.0.0.1" });
    const e = await rejection(s.tcp.listen({ port: l.local.port, address: "127.0.0.1" }));
    expect(e).toBeInstanceOf(MorganaError);
    expect(e).toMatchObject({ code: "EADDRINUSE", errno: -98, address: "127.0.0.1", port: l.local.port });
    expect(e.syscall).toBe("listen");
    // Another stack on the same host sees the same port taken: the ports are the host's.
    const other = stack();
    expect((await rejection(other.tcp.listen({ port: l.local.port }))).code).toBe("EADDRINUSE");
  });

  it("an explicit local port in use rejects with EADDRINUSE", async () => {
    const s = stack();
    const l = await s.tcp.listen({ port: 0, address: "127.0.0.1" });
    const e = await rejection(
      s.tcp.connect({ address: "127.0.0.1", port: l.local.port, localAddress: "127.0.0.1", localPort: l.local.port }),
    );
    expect(e).toMatchObject({ code: "EADDRINUSE", syscall: "bind", address: "127.0.0.1", port: l.local.port });
  });

  it("bad arguments reject with EINVAL before touching the host", async () => {
    const s = stack();
    for (const p of [
      s.tcp.connect({ address: "localhost", port: 80 }),
      s.tcp.connect({ address: "127.0.0.1", port: 0 }),
      s.tcp.connect({ address: "127.0.0.1", port: 70000 }),
      s.tcp.connect({ address: "127.0.0.1", port: 80, timeoutMs: -1 }),
      s.tcp.connect({ address: "127.0.0.1", port: 80, localAddress: "nowhere" }),
      s.tcp.listen({ port: 1.5 }),
      s.tcp.listen({ port: 0, address: "1.2.3" }),
      s.tcp.listen({ port: 0, backlog: 0 }),
    ]) {
      expect((await rejection(p)).code).toBe("EINVAL");
    }
  });

  it("a restricted stack refuses addresses it does not own with EADDRNOTAVAIL", async () => {
    const s = stack({ addresses: ["127.0.0.1"] });
    const e = await rejection(s.tcp.listen({ port: 0, address: "192.0.2.1" }));
    expect(e).toMatchObject({ code: "EADDRNOTAVAIL", address: "192.0.2.1" });
    expect(s.addresses()).toEqual(["127.0.0.1"]);
  });

  it("the wildcard of a stack with two addresses listens on both, and only on them", async () => {
    const s = stack({ addresses: ["127.0.0.1", "127.0.0.2"] });
    const l = await s.tcp.listen({ port: 0 });
    expect(l.local.address).toBe("0.0.0.0");
    const a = await s.tcp.connect({ address: "127.0.0.1", port: l.local.port });
    const b = await s.tcp.connect({ address: "127.0.0.2", port: l.local.port });
    const fa = await l.accept();
    const fb = await l.accept();
    expect(new Set([fa?.local.address, fb?.local.address])).toEqual(new Set(["127.0.0.1", "127.0.0.2"]));
    expect(a.remote.address).toBe("127.0.0.1");
    expect(b.remote.address).toBe("127.0.0.2");
    expect((await rejection(s.tcp.connect({ address: "127.0.0.3", port: l.local.port }))).code).toBe("ECONNREFUSED");
  });

  it("the default stack owns the host's addresses, 127.0.0.1 included", async () => {
    const { createSocketStack } = await import("../src/index.js");
    const s = createSocketStack();
    try {
      expect(s.name).toBe("unix-socket");
      expect(s.addresses()).toContain("127.0.0.1");
      const l = await s.tcp.listen({ port: 0 });
      expect(l.local.address).toBe("0.0.0.0");
    } finally {
      await s.close();
    }
  });

  it("100 concurrent connections each echo their own data", async () => {
    const s = stack();
    const l = await s.tcp.listen({ port: 0, backlog: 200 });
    const serve = (async () => {
      const done: Promise<void>[] = [];
      for (let i = 0; i < 100; i++) {
        const f = await l.accept();
        if (f === null) throw new Error("listener closed");
        done.push(
          (async () => {
            for await (const chunk of f) await f.write(chunk);
            await f.close();
          })(),
        );
      }
      await Promise.all(done);
    })();
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const data = bytes(1000 + i * 37, `conn-${i}`);
        const c = await s.tcp.connect({ address: "127.0.0.1", port: l.local.port });
        const [, got] = await Promise.all([c.write(data).then(() => c.shutdown()), readAll(c)]);
        await c.close();
        return Buffer.from(got).equals(data);
      }),
    );
    await serve;
    expect(results.every(Boolean)).toBe(true);
    expect(s.stats().tcp.counters.connectionsAccepted).toBe(100);
    expect(s.stats().tcp.counters.connectionsOpened).toBe(100);
    await until(() => s.stats().tcp.counters.connections === 0, 5000, "every flow finished");
  });
});

describe("listener", () => {
  it("accept() resolves null after close, also when pending; new connections are refused", async () => {
    const s = stack();
    const l = await s.tcp.listen({ port: 0 });
    const pending = l.accept();
    await l.close();
    expect(await pending).toBeNull();
    expect(await l.accept()).toBeNull();
    await l.close(); // idempotent
    expect((await rejection(s.tcp.connect({ address: "127.0.0.1", port: l.local.port }))).code).toBe("ECONNREFUSED");
  });

  it("close() resets connections never accepted and leaves accepted ones alone", async () => {
    const s = stack();
    const l = await s.tcp.listen({ port: 0 });
    const a = await s.tcp.connect({ address: "127.0.0.1", port: l.local.port });
    const accepted = (await l.accept())!;
    const b = await s.tcp.connect({ address: "127.0.0.1", port: l.local.port });
    await until(() => (l as unknown as { pending: number }).pending === 1, 2000, "queued connection");
    await l.close();
    expect((await rejection(b.read())).code).toBe("ECONNRESET");
    expect(s.stats().tcp.drops["listener-closed"]).toBe(1);
    await a.write(new Uint8Array([7]));
    expect([...((await accepted.read()) ?? [])]).toEqual([7]);
  });

  it("connections beyond the backlog are reset and counted", async () => {
    const s = stack();
    const l = await s.tcp.listen({ port: 0, backlog: 2 });
    const clients = await Promise.all(Array.from({ length: 4 }, () => s.tcp.connect({ address: "127.0.0.1", port: l.local.port })));
    await until(() => (s.stats().tcp.drops["backlog-full"] ?? 0) === 2, 2000, "two drops");
    const settled: string[] = [];
    clients.forEach((c, i) => c.read().then(() => settled.push(`${i}:data`), (e: MorganaError) => settled.push(`${i}:${e.code}`)));
    await until(() => settled.length === 2, 2000, "two resets");
    await sleep(50);
    expect(settled.map((x) => x.split(":")[1])).toEqual(["ECONNRESET", "ECONNRESET"]);
    expect((l as unknown as { pending: number }).pending).toBe(2);
    const queued = [await l.accept(), await l.accept()];
    expect(new Set(queued.map((f) => f!.remote.port)).size).toBe(2);
  });

  it("async iteration yields connections and ends on close; break does not close", async () => {
    const s = stack();
    const l = await s.tcp.listen({ port: 0 });
    const c1 = await s.tcp.connect({ address: "127.0.0.1", port: l.local.port });
    const seen: number[] = [];
    for await (const f of l) {
      seen.push(f.remote.port);
      break;
    }
    expect(seen).toEqual([c1.local.port]);
    const c2 = await s.tcp.connect({ address: "127.0.0.1", port: l.local.port });
    const it = (async () => {
      const ports: number[] = [];
      for await (const f of l) ports.push(f.remote.port);
      return ports;
    })();
    await until(() => s.stats().tcp.counters.connectionsAccepted === 2, 2000, "second accept");
    await l.close();
    expect(await it).toEqual([c2.local.port]);
  });
});

/** A loopback port whose listener never accepts: its thread is blocked and its accept queue (backlog 1) is full. */
async function blackholePort(): Promise<{ port: number; release(): Promise<void>; fillers: Socket[] }> {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const net = require("node:net");
    const srv = net.createServer(() => {}).listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
      parentPort.postMessage(srv.address().port);
      setImmediate(() => Atomics.wait(new Int32Array(workerData), 0, 0));
    });`;
  const sab = new SharedArrayBuffer(4);
  const worker = new Worker(code, { eval: true, workerData: sab });
  const port = await new Promise<number>((r) => worker.once("message", r));
  await sleep(20);
  // Fill the accept queue (backlog + 1 connections complete; later SYNs are dropped).
  const fillers: Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const f = new Socket();
    f.on("error", () => {});
    f.connect(port, "127.0.0.1");
    fillers.push(f);
  }
  await sleep(50);
  return {
    port,
    fillers,
    async release() {
      for (const f of fillers) f.destroy();
      Atomics.store(new Int32Array(sab), 0, 1);
      Atomics.notify(new Int32Array(sab), 0);
      await worker.terminate();
    },
  };
}

describe("connect timeout and cancellation", () => {
  it("timeoutMs rejects with ETIMEDOUT when SYNs go unanswered (a full accept queue on loopback)", async () => {
    const hole = await blackholePort();
    try {
      const s = stack();
      const t0 = Date.now();
      const e = await rejection(s.tcp.connect({ address: "127.0.0.1", port: hole.port, timeoutMs: 300 }));
      const took = Date.now() - t0;
      expect(e).toBeInstanceOf(MorganaError);
      expect(e).toMatchObject({ code: "ETIMEDOUT", errno: -110, syscall: "connect", address: "127.0.0.1", port: hole.port });
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(3000);
    } finally {
      await hole.release();
    }
  });

  it("the timeout comes from the injected clock", async () => {
    const hole = await blackholePort();
    try {
      const clock = new VirtualClock();
      const s = stack({ clock, tcp: { connectTimeoutMs: 10_000 } });
      const p = s.tcp.connect({ address: "127.0.0.1", port: hole.port });
      expect(await isPending(p, 100)).toBe(true);
      await clock.advance(10_000);
      expect((await rejection(p)).code).toBe("ETIMEDOUT");
    } finally {
      await hole.release();
    }
  });

  it("an AbortSignal cancels a pending connect with ABORT_ERR", async () => {
    const hole = await blackholePort();
    try {
      const s = stack();
      const ac = new AbortController();
      const p = s.tcp.connect({ address: "127.0.0.1", port: hole.port, signal: ac.signal });
      expect(await isPending(p, 50)).toBe(true);
      ac.abort(new Error("user gave up"));
      const e = await rejection(p);
      expect(e).toMatchObject({ code: "ABORT_ERR" });
      expect((e as Error).cause).toBeInstanceOf(Error);
      // An already aborted signal rejects at once.
      expect((await rejection(s.tcp.connect({ address: "127.0.0.1", port: hole.port, signal: ac.signal }))).code).toBe("ABORT_ERR");
    } finally {
      await hole.release();
    }
  });

  it("stack.close() cancels a pending connect with ECONNABORTED", async () => {
    const hole = await blackholePort();
    try {
      const s = stack();
      const p = s.tcp.connect({ address: "127.0.0.1", port: hole.port });
      expect(await isPending(p, 50)).toBe(true);
      await s.close();
      expect((await rejection(p)).code).toBe("ECONNABORTED");
    } finally {
      await hole.release();
    }
  });
});

describe("stats", () => {
  it("counts connections and bytes in both directions", async () => {
    const s = stack();
    const { client, server } = await pair(s);
    await client.write(bytes(1000));
    await client.writev([bytes(10), bytes(20)]);
    await client.shutdown();
    const got = await readAll(server);
    await server.write(bytes(500));
    await server.close();
    await readAll(client);
    await client.close();
    const t = s.stats().tcp.counters;
    expect(got.length).toBe(1030);
    expect(t.connectionsOpened).toBe(1);
    expect(t.connectionsAccepted).toBe(1);
    expect(t.txBytes).toBe(1530);
    expect(t.rxBytes).toBe(1530);
    expect(t.connections).toBe(0);
    expect(t.listeners).toBe(1);
    expect(client.info()).toMatchObject({ state: "CLOSED", bytesSent: 1030, bytesReceived: 500 });
    expect(server.info()).toMatchObject({ state: "CLOSED", bytesSent: 500, bytesReceived: 1030 });
    expect(Object.keys(s.stats())).toEqual(["tcp", "udp"]);
  });
});

describe("echo property", () => {
  it("random chunk sequences in both directions at once arrive whole and in order", async () => {
    const s = stack();
    const listener = await s.tcp.listen({ port: 0, address: "127.0.0.1" });
    // Chunk sizes up to 200 KB (several high-water marks), contents from a seeded generator.
    const chunk = fc.tuple(fc.integer({ min: 0, max: 200_000 }), fc.integer()).map(([n, seed]) => bytes(n, seed));
    const chunks = fc.array(chunk, { maxLength: 10 });
    await fc.assert(
      fc.asyncProperty(chunks, chunks, fc.boolean(), async (up, down, useWritev) => {
        const [client, accepted] = await Promise.all([s.tcp.connect({ address: "127.0.0.1", port: listener.local.port }), listener.accept()]);
        const server = accepted!;
        const send = async (f: TcpFlow, parts: Uint8Array[]) => {
          // The flow owns what it was given: send copies so the expectation stays intact.
          if (useWritev) await f.writev(parts.map((p) => p.slice()));
          else for (const p of parts) await f.write(p.slice());
          await f.shutdown();
        };
        const [, , atServer, atClient] = await Promise.all([send(client, up), send(server, down), readAll(server), readAll(client)]);
        await Promise.all([client.close(), server.close()]);
        expect(Buffer.from(atServer).equals(concat(up))).toBe(true);
        expect(Buffer.from(atClient).equals(concat(down))).toBe(true);
      }),
    );
  });
});
