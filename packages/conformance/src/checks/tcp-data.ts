/**
 * TCP connections and data: addresses as both ends see them, echo and
 * simultaneous transfer of random data, half-close, close with data in
 * flight, backpressure, many connections at once.
 */
import { expect } from "vitest";
import type { SocketAddress, TcpFlow } from "@morgana/interfaces";
import { SeededRandom } from "@morgana/sim";
import { chunkSizes, concat, PatternSource, text, untext } from "../data.js";
import type { CheckContext } from "../context.js";
import type { Check } from "./check.js";

const KiB = 1024;
const MiB = 1024 * KiB;

export function expectAddress(label: string, got: SocketAddress, address: string, port: number): void {
  expect(got.address, `${label}.address`).toBe(address);
  expect(got.port, `${label}.port`).toBe(port);
  expect(got.family, `${label}.family`).toBe("IPv4");
}

export function expectEphemeral(ctx: CheckContext, label: string, port: number): void {
  const [lo, hi] = ctx.options.ephemeralPortRange;
  expect(Number.isInteger(port), `${label}: ${port} is an integer`).toBe(true);
  expect(port >= lo && port <= hi, `${label}: port ${port} lies in the ephemeral range ${lo}-${hi}`).toBe(true);
}

/** Reads exactly `n` bytes (the peer sends no more before it waits). */
export async function readExactly(ctx: CheckContext, flow: TcpFlow, n: number, label: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let got = 0;
  while (got < n) {
    const c = await ctx.wait(`${label}: read (${got} of ${n} bytes)`, flow.read());
    if (c === null) throw new Error(`${label}: end of stream after ${got} of ${n} bytes`);
    chunks.push(c);
    got += c.length;
  }
  const all = concat(chunks);
  expect(all.length, `${label}: no more than the ${n} bytes sent`).toBe(n);
  return all;
}

/** Both ends finish: shutdown, read the end of stream, close. */
export async function finish(ctx: CheckContext, client: TcpFlow, server: TcpFlow): Promise<void> {
  await ctx.wait("client.shutdown()", client.shutdown());
  await ctx.readsNull("server reads the end of stream", server.read());
  await ctx.wait("server.shutdown()", server.shutdown());
  await ctx.readsNull("client reads the end of stream", client.read());
  await ctx.wait("client.close() and server.close()", Promise.all([client.close(), server.close()]));
}

async function echoServer(ctx: CheckContext, flow: TcpFlow, label: string): Promise<number> {
  let n = 0;
  for await (const chunk of flow) {
    expect(chunk.length, `${label}: iteration yields non-empty chunks`).toBeGreaterThan(0);
    n += chunk.length;
    await ctx.wait(`${label}: echo write at byte ${n}`, flow.write(chunk));
  }
  await ctx.wait(`${label}: shutdown`, flow.shutdown());
  await ctx.wait(`${label}: close`, flow.close());
  return n;
}

const connectAddresses: Check = {
  id: "tcp-connect",
  title: "listen on port 0, connect, accept: addresses and ports as both ends see them",
  directional: true,
  async run(ctx) {
    const listener = await ctx.wait("listen({ port: 0 })", ctx.server.tcp.listen({ port: 0 }));
    const port = listener.local.port;
    expect(port, "listen({ port: 0 }) picks a port (listener.local.port)").not.toBe(0);
    expectEphemeral(ctx, "listen({ port: 0 })", port);
    expect(listener.local.family, "listener.local.family").toBe("IPv4");
    const { client, server } = await ctx.connect({ listener });
    expectEphemeral(ctx, "client.local.port", client.local.port);
    expectAddress("client.local", client.local, ctx.clientAddress, client.local.port);
    expectAddress("client.remote", client.remote, ctx.serverAddress, port);
    expectAddress("server.local", server.local, ctx.serverAddress, port);
    expectAddress("server.remote", server.remote, ctx.clientAddress, client.local.port);
    expect(client.info().state, "client.info().state").toBe("ESTABLISHED");
    expect(server.info().state, "server.info().state").toBe("ESTABLISHED");
    // The socket options exist and leave the connection working.
    client.setNoDelay(true);
    server.setNoDelay(false);
    client.setKeepAlive(true, { idleMs: 10_000 });
    client.setKeepAlive(false);

    await ctx.wait("client writes hello", client.write(text.encode("hello")));
    expect(untext.decode(await readExactly(ctx, server, 5, "server reads hello"))).toBe("hello");
    await ctx.wait("server writes world!", server.write(text.encode("world!")));
    expect(untext.decode(await readExactly(ctx, client, 6, "client reads world!"))).toBe("world!");
    const ci = client.info();
    const si = server.info();
    expect(ci.bytesReceived, "client.info().bytesReceived counts the 6 bytes").toBeGreaterThanOrEqual(6);
    expect(si.bytesReceived, "server.info().bytesReceived counts the 5 bytes").toBeGreaterThanOrEqual(5);
    await finish(ctx, client, server);
    await ctx.wait("listener.close()", listener.close());
  },
};

const listenAddress: Check = {
  id: "tcp-listen-address",
  title: "listen on a specific address, connect with localAddress and localPort",
  directional: true,
  async run(ctx) {
    const listener = await ctx.wait(
      `listen({ port: 0, address: ${ctx.serverAddress} })`,
      ctx.server.tcp.listen({ port: 0, address: ctx.serverAddress }),
    );
    expectAddress("listener.local", listener.local, ctx.serverAddress, listener.local.port);
    // A free local port on the client: one a listener just had.
    const probe = await ctx.wait("client listen({ port: 0 }) to find a free port", ctx.client.tcp.listen({ port: 0 }));
    const localPort = probe.local.port;
    await ctx.wait("close the probe listener", probe.close());
    const ownAddress = ctx.client.addresses().includes(ctx.clientAddress);
    const { client, server, port } = await ctx.connect({
      listener,
      connect: { localPort, ...(ownAddress ? { localAddress: ctx.clientAddress } : {}) },
    });
    expectAddress("client.local (explicit localPort)", client.local, ctx.clientAddress, localPort);
    expectAddress("server.remote", server.remote, ctx.clientAddress, localPort);
    expectAddress("server.local", server.local, ctx.serverAddress, port);
    await ctx.wait("server writes x", server.write(text.encode("x")));
    expect(untext.decode(await readExactly(ctx, client, 1, "client reads x"))).toBe("x");
    await finish(ctx, client, server);
    await ctx.wait("listener.close()", listener.close());
  },
};

const echo: Check = {
  id: "tcp-echo",
  title: "echo of 1 MB of random data in random chunks (write and writev), byte for byte",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    const total = ctx.bytes(MiB);
    const seed = ctx.seed("data");
    const echoed = ctx.task("server echoes", () => echoServer(ctx, server, "server"));
    const writer = ctx.task("client writes", async () => {
      await ctx.writePattern(client, seed, total, "client");
      await ctx.wait("client.shutdown()", client.shutdown());
    });
    const got = await ctx.readPattern(client, seed, "client reads the echo");
    expect(got, "bytes echoed").toBe(total);
    await writer;
    expect(await echoed, "bytes the server read").toBe(total);
    await ctx.wait("client.close()", client.close());
    await ctx.wait("listener.close()", listener.close());
  },
};

const bidirectional: Check = {
  id: "tcp-both-ways",
  title: "1 MB each way at the same time, then both ends shut down",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    const total = ctx.bytes(MiB);
    const up = ctx.seed("up");
    const down = ctx.seed("down");
    const tasks = [
      ctx.task("client writes", async () => {
        await ctx.writePattern(client, up, total, "client");
        await ctx.wait("client.shutdown()", client.shutdown());
      }),
      ctx.task("server writes", async () => {
        await ctx.writePattern(server, down, total, "server");
        await ctx.wait("server.shutdown()", server.shutdown());
      }),
    ];
    const [atServer, atClient] = await Promise.all([
      ctx.task("server reads", () => ctx.readPattern(server, up, "server reads")),
      ctx.task("client reads", () => ctx.readPattern(client, down, "client reads")),
    ]);
    expect(atServer, "bytes the server received").toBe(total);
    expect(atClient, "bytes the client received").toBe(total);
    await Promise.all(tasks);
    await ctx.wait("client.close() and server.close()", Promise.all([client.close(), server.close()]));
    await ctx.wait("listener.close()", listener.close());
  },
};

const halfClose: Check = {
  id: "tcp-half-close",
  title: "half-close: after shutdown() the peer reads the end of stream and can still write back",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    const total = ctx.bytes(256 * KiB);
    const up = ctx.seed("up");
    const down = ctx.seed("down");
    await ctx.writePattern(client, up, total, "client");
    await ctx.wait("client.shutdown()", client.shutdown());
    await ctx.wait("client.shutdown() again (idempotent)", client.shutdown());
    expect(await ctx.readPattern(server, up, "server reads until the end of stream"), "bytes before the end of stream").toBe(total);
    await ctx.readsNull("server reads again after the end", server.read());
    // The half-closed client still reads what the server writes now.
    const reader = ctx.task("client reads the reply", () => ctx.readPattern(client, down, "client reads the reply"));
    await ctx.writePattern(server, down, total, "server (after the client's shutdown)");
    await ctx.wait("server.shutdown()", server.shutdown());
    expect(await reader, "bytes written back after the half-close").toBe(total);
    await ctx.wait("client.close() and server.close()", Promise.all([client.close(), server.close()]));
    await ctx.wait("listener.close()", listener.close());
  },
};

const closeInFlight: Check = {
  id: "tcp-close-in-flight",
  title: "close() with data in flight: everything written before close() arrives before the end of stream, close() resolves",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    const total = ctx.bytes(512 * KiB);
    const seed = ctx.seed("data");
    const reader = ctx.task("server reads", async () => {
      const n = await ctx.readPattern(server, seed, "server reads");
      await ctx.readsNull("server reads again", server.read());
      await ctx.wait("server.close()", server.close());
      return n;
    });
    // The first half is awaited (accepted), the rest is still being written when close() is called.
    const src = new PatternSource(seed);
    const sizes = chunkSizes(total, seed ^ 0x77);
    const half = Math.floor(sizes.length / 2);
    for (let i = 0; i < half; i++) await ctx.wait(`client write ${i}`, client.write(src.take(sizes[i]!)));
    const unawaited: Promise<void>[] = [];
    for (let i = half; i < sizes.length; i++) {
      const p = client.write(src.take(sizes[i]!));
      p.catch(() => undefined);
      unawaited.push(p);
    }
    const closed = client.close();
    await ctx.rejects("write after close()", client.write(new Uint8Array([1])), "EPIPE");
    await ctx.wait(`the ${unawaited.length} writes issued before close() resolve`, Promise.all(unawaited));
    expect(await reader, "bytes delivered before the end of stream").toBe(total);
    await ctx.wait("client.close() resolves", closed);
    await ctx.wait("listener.close()", listener.close());
  },
};

const backpressure: Check = {
  id: "tcp-backpressure",
  title: "backpressure: writes stay pending while the peer does not read, memory stays bounded, then every byte arrives once, in order",
  directional: true,
  async run(ctx) {
    const { client: writer, server: reader, listener } = await ctx.connect();
    const seed = ctx.seed("data");
    const src = new PatternSource(seed);
    const sizes = new SeededRandom(seed ^ 0x1234);
    const cap = 2 * ctx.options.maxBufferedBytes;
    const maxOutstanding = 4;
    let issued = 0;
    let accepted = 0;
    let pending = 0;
    let stop = false;
    const outstanding: Promise<void>[] = [];
    const writing = ctx.task("writer", async () => {
      while (!stop && issued < cap) {
        const n = 1 + (sizes.uint32() % 65536);
        const p = writer.write(src.take(n)).then(() => {
          accepted += n;
          pending--;
        });
        p.catch(() => undefined);
        issued += n;
        pending++;
        outstanding.push(p);
        if (outstanding.length >= maxOutstanding) await ctx.wait(`writer: write at byte ${accepted}`, outstanding.shift()!);
      }
      while (outstanding.length > 0) await ctx.wait(`writer: draining at byte ${accepted}`, outstanding.shift()!);
      await ctx.wait("writer.shutdown()", writer.shutdown());
    });
    // Wait until the writer is held back: writes pending and no progress for a while (polled, never asserted on time).
    ctx.step("waiting for the writer to be held back");
    let last = -1;
    let quiet = 0;
    while (quiet < 10) {
      if (issued >= cap) {
        throw new Error(`no backpressure: ${issued} bytes were written while the peer read nothing (bound ${ctx.options.maxBufferedBytes})`);
      }
      if (pending > 0 && accepted === last) quiet++;
      else {
        quiet = 0;
        last = accepted;
      }
      await ctx.wait("polling the writer's progress", ctx.realSleep(20));
    }
    expect(pending, "writes pending while the peer does not read").toBeGreaterThan(0);
    expect(
      accepted,
      `bytes accepted while the peer read nothing stay below maxBufferedBytes (${ctx.options.maxBufferedBytes})`,
    ).toBeLessThanOrEqual(ctx.options.maxBufferedBytes);
    expect(issued - accepted, "bytes held in pending writes").toBeGreaterThan(0);
    // Resume: the reader reads everything; the writer finishes its pending writes and ends.
    stop = true;
    const got = await ctx.readPattern(reader, seed, "reader (resumed)");
    await writing;
    expect(got, "every byte written arrives exactly once").toBe(issued);
    await ctx.wait("close both", Promise.all([writer.close(), reader.close()]));
    await ctx.wait("listener.close()", listener.close());
  },
};

const many: Check = {
  id: "tcp-many",
  title: "50 concurrent connections, each echoing its own data",
  directional: true,
  async run(ctx) {
    const n = ctx.count(50, 2);
    const listener = await ctx.wait("listen({ port: 0 })", ctx.server.tcp.listen({ port: 0 }));
    const port = listener.local.port;
    const acceptor = ctx.task("server accepts", async () => {
      for (let i = 0; i < n; i++) {
        const f = await ctx.wait(`accept ${i} of ${n}`, listener.accept());
        expect(f, "accept() on an open listener").not.toBeNull();
        void ctx.task(`server echo ${i}`, () => echoServer(ctx, f!, `server echo ${i}`));
      }
    });
    const sizes = new SeededRandom(ctx.seed("sizes"));
    const clients = await ctx.wait(
      `${n} concurrent connect()s`,
      Promise.all(Array.from({ length: n }, () => ctx.client.tcp.connect({ address: ctx.serverAddress, port }))),
    );
    const ports = new Set(clients.map((c) => c.local.port));
    expect(ports.size, "every connection has its own local port").toBe(n);
    await ctx.wait(
      "every connection echoes its data",
      Promise.all(
        clients.map(async (c, i) => {
          const total = ctx.bytes(1 + (sizes.uint32() % (32 * KiB)));
          const seed = ctx.seed(`conn ${i}`);
          const w = ctx.task(`client ${i} writes`, async () => {
            await ctx.writePattern(c, seed, total, `client ${i}`);
            await ctx.wait(`client ${i} shutdown`, c.shutdown());
          });
          const got = await ctx.readPattern(c, seed, `client ${i} reads`);
          expect(got, `connection ${i}: bytes echoed`).toBe(total);
          await w;
          await ctx.wait(`client ${i} close`, c.close());
        }),
      ),
    );
    await acceptor;
    await ctx.wait("listener.close()", listener.close());
  },
};

export const TCP_DATA_CHECKS: readonly Check[] = [connectAddresses, listenAddress, echo, bidirectional, halfClose, closeInFlight, backpressure, many];
