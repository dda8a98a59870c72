/**
 * The remote stack (a unix-socket stack on the kernel's sockets in the peer's
 * namespace, driven over a pipe) against Morgana's direct stack on a
 * dgram-netif bridged to that namespace's TAP: the pair the conformance suite
 * runs on.
 */
import { createHash } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import { createDgramNetif } from "@morgana/dgram-netif";
import { MorganaError, type Flow, type TcpFlow } from "@morgana/interfaces";
import { SeededRandom } from "@morgana/sim";
import { createStack, type DirectStack } from "../src/index.js";
import { createLinuxPeer, createRemoteStack, type LinuxPeer, type RemoteStack } from "@morgana/linux-peer";
import { describeLinux } from "@morgana/linux-peer/vitest";

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Pair {
  peer: LinuxPeer;
  direct: DirectStack;
  remote: RemoteStack;
  /** The direct stack's address (as Linux reaches it) and the kernel's. */
  me: string;
  linux: string;
}

async function pair(): Promise<Pair> {
  const peer = await createLinuxPeer();
  cleanup.push(() => peer.close());
  const netif = await createDgramNetif({ localPort: peer.morganaPort, remotePort: peer.socatPort, mtu: peer.mtu });
  const me = peer.hostAddress(2);
  const direct = createStack({ netif, address: `${me}/${peer.prefixLength}`, tcp: { minRtoMs: 200 } });
  cleanup.push(() => direct.close());
  const remote = await createRemoteStack(peer);
  cleanup.push(() => remote.close());
  return { peer, direct, remote, me, linux: peer.address };
}

function randomBytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  new SeededRandom(seed).fill(b);
  return b;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const MB = 1024 * 1024;

/** Writes `data` in 64 KiB chunks while reading everything the flow returns, until end of stream. */
async function exchange(flow: Flow, data: Uint8Array): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = (async () => {
    for await (const c of flow) chunks.push(c);
  })();
  for (let off = 0; off < data.length; off += 65536) await flow.write(data.subarray(off, Math.min(data.length, off + 65536)));
  await flow.shutdown();
  await reader;
  return concat(chunks);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) (out.set(c, o), (o += c.length));
  return out;
}

/** Echoes every connection of `listener` until it closes; resolves when the first echo finished. */
async function echoOnce(accept: () => Promise<TcpFlow | null>): Promise<TcpFlow> {
  const flow = (await accept())!;
  for await (const c of flow) await flow.write(c);
  await flow.close();
  return flow;
}

async function rejection(p: Promise<unknown>): Promise<MorganaError> {
  try {
    await p;
  } catch (e) {
    return e as MorganaError;
  }
  throw new Error("expected a rejection");
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeLinux("the remote stack (the kernel's sockets in the namespace, over RPC) with the direct stack", () => {
  it("a direct client sends 1 MB to a remote echo server and gets it back (SHA-256); addresses and ports on both sides", async () => {
    const { direct, remote, me, linux } = await pair();
    const listener = await remote.tcp.listen({ port: 7100 });
    expect(listener.local).toEqual({ address: "0.0.0.0", port: 7100, family: "IPv4" });
    expect(remote.addresses()).toEqual([linux]);
    const served = echoOnce(() => listener.accept());
    const flow = await direct.tcp.connect({ address: linux, port: 7100, timeoutMs: 10_000 });
    const data = randomBytes(MB, 1);
    const t0 = performance.now();
    const back = await exchange(flow, data);
    const ms = performance.now() - t0;
    await flow.close();
    const server = await served;
    expect(back.length).toBe(MB);
    expect(sha(back)).toBe(sha(data));
    // The remote (accepted) flow sees the direct stack's address and port, and its own.
    expect(server.remote).toEqual({ address: me, port: flow.local.port, family: "IPv4" });
    expect(server.local).toEqual({ address: linux, port: 7100, family: "IPv4" });
    expect(flow.remote).toEqual({ address: linux, port: 7100, family: "IPv4" });
    // The helper's counters came back with the answers.
    const tcp = remote.stats().tcp!.counters;
    expect(tcp.connectionsAccepted).toBe(1);
    expect(tcp.rxBytes).toBe(MB);
    expect(tcp.txBytes).toBe(MB);
    expect(server.info()).toMatchObject({ state: "CLOSED", bytesReceived: MB, bytesSent: MB });
    console.log(`direct → remote echo, 1 MB each way: ${ms.toFixed(0)} ms`);
  });

  it("a remote client sends 1 MB to a direct echo server and gets it back (SHA-256)", async () => {
    const { direct, remote, me, linux } = await pair();
    const listener = await direct.tcp.listen({ port: 7101 });
    const served = echoOnce(() => listener.accept());
    const flow = await remote.tcp.connect({ address: me, port: 7101, timeoutMs: 10_000 });
    expect(flow.local.address).toBe(linux);
    expect(flow.remote).toEqual({ address: me, port: 7101, family: "IPv4" });
    expect(flow.info().state).toBe("ESTABLISHED");
    const data = randomBytes(MB, 2);
    const t0 = performance.now();
    const back = await exchange(flow, data);
    const ms = performance.now() - t0;
    await flow.close();
    const server = await served;
    expect(server.remote).toEqual({ address: linux, port: flow.local.port, family: "IPv4" });
    expect(back.length).toBe(MB);
    expect(sha(back)).toBe(sha(data));
    expect(flow.info()).toMatchObject({ state: "CLOSED", bytesSent: MB, bytesReceived: MB });
    expect(remote.stats().tcp!.counters).toMatchObject({ connectionsOpened: 1, txBytes: MB, rxBytes: MB });
    // After close every call answers as the helper's flow did, without asking it.
    const calls = remote.stats().rpc!.counters.calls!;
    expect(await flow.read()).toBeNull();
    expect((await rejection(flow.write(new Uint8Array(1)))).code).toBe("EPIPE");
    await flow.shutdown();
    expect(remote.stats().rpc!.counters.calls).toBe(calls);
    console.log(`remote → direct echo, 1 MB each way: ${ms.toFixed(0)} ms`);
  });

  it("ECONNREFUSED both ways, as MorganaErrors with errno, syscall, address and port", async () => {
    const { direct, remote, me, linux } = await pair();
    const fromRemote = await rejection(remote.tcp.connect({ address: me, port: 7199, timeoutMs: 10_000 }));
    expect(fromRemote).toBeInstanceOf(MorganaError);
    expect(fromRemote).toMatchObject({ code: "ECONNREFUSED", errno: -111, syscall: "connect", address: me, port: 7199 });
    const fromDirect = await rejection(direct.tcp.connect({ address: linux, port: 7198, timeoutMs: 10_000 }));
    expect(fromDirect).toMatchObject({ code: "ECONNREFUSED" });
    expect(remote.stats().tcp!.counters.connectFailures).toBe(1);
  });

  it("EADDRINUSE on the remote side (TCP listen, UDP bind); EINVAL and EADDRNOTAVAIL come from the helper's checks", async () => {
    const { remote, linux } = await pair();
    const l = await remote.tcp.listen({ port: 7200 });
    const e = await rejection(remote.tcp.listen({ port: 7200 }));
    expect(e).toBeInstanceOf(MorganaError);
    expect(e).toMatchObject({ code: "EADDRINUSE", errno: -98, syscall: "listen", address: linux, port: 7200 });
    const u = await remote.udp.bind({ port: 7201 });
    expect(await rejection(remote.udp.bind({ port: 7201 }))).toMatchObject({ code: "EADDRINUSE", errno: -98, syscall: "bind", port: 7201 });
    expect(await rejection(remote.tcp.listen({ port: 70000 }))).toMatchObject({ code: "EINVAL", syscall: "listen" });
    expect(await rejection(remote.tcp.connect({ address: "10.0.0.1", port: Number.NaN }))).toMatchObject({ code: "EINVAL", syscall: "connect" });
    expect(await rejection(remote.tcp.listen({ port: 7202, address: "10.9.9.9" }))).toMatchObject({ code: "EADDRNOTAVAIL", syscall: "listen" });
    await l.close();
    await u.close();
    // The port is free again once the listener closed.
    const again = await remote.tcp.listen({ port: 7200 });
    expect(again.local.port).toBe(7200);
  });

  it("UDP both ways: datagrams with their sender's address and port, a 9000-byte one fragmented by IP; EMSGSIZE", async () => {
    const { direct, remote, me, linux } = await pair();
    const r = await remote.udp.bind({ port: 0 });
    const d = await direct.udp.bind({ port: 7300 });
    expect(r.local.port).toBeGreaterThan(0);
    const small = randomBytes(100, 3);
    await d.send(small, { address: linux, port: r.local.port });
    const got = (await r.recv())!;
    expect(got).toEqual({ data: small, address: me, port: 7300 });
    expect(Object.getPrototypeOf(got.data)).toBe(Uint8Array.prototype);
    const big = randomBytes(9000, 4);
    await r.send(big, got); // a received Datagram is a destination
    const back = (await d.recv())!;
    expect(back.address).toBe(linux);
    expect(back.port).toBe(r.local.port);
    expect(sha(back.data)).toBe(sha(big));
    await d.send(big, { address: linux, port: r.local.port });
    expect(sha((await r.recv())!.data)).toBe(sha(big));
    expect(await rejection(r.send(new Uint8Array(65508), { address: me, port: 7300 }))).toMatchObject({ code: "EMSGSIZE", errno: -90, syscall: "send", address: me, port: 7300 });
    expect(await rejection(r.send("x" as unknown as Uint8Array, { address: me, port: 7300 }))).toMatchObject({ code: "EINVAL", syscall: "send" });
    expect(remote.stats().udp!.counters).toMatchObject({ rxDatagrams: 2, txDatagrams: 1, txBytes: 9000 });
    // recv() pending across close() resolves null; send after close is ERR_SOCKET_CLOSED.
    const pending = r.recv();
    await r.close();
    expect(await pending).toBeNull();
    expect(await r.recv()).toBeNull();
    expect(await rejection(r.send(small, { address: me, port: 7300 }))).toMatchObject({ code: "ERR_SOCKET_CLOSED", syscall: "send" });
  });

  it("backpressure: a remote reader that does not read holds the direct writer back (Linux closes its window), then releases it", async () => {
    const { direct, remote, peer, linux } = await pair();
    const listener = await remote.tcp.listen({ port: 7400 });
    const accepted = listener.accept();
    const flow = await direct.tcp.connect({ address: linux, port: 7400, timeoutMs: 10_000 });
    const server = (await accepted)!;
    const chunk = randomBytes(65536, 5);
    let written = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        await flow.write(chunk);
        written += chunk.length;
      }
    })();
    // Wait until the writer makes no progress for a second.
    let last = -1;
    let stillSince = Date.now();
    await waitFor(
      () => {
        if (written !== last) {
          last = written;
          stillSince = Date.now();
        }
        return Date.now() - stillSince > 1000;
      },
      "the writer to stall",
      30_000,
    );
    const stalledAt = written;
    // Nothing was read by the application; the kernel holds the data and advertises a zero window.
    expect(remote.stats().tcp!.counters.rxBytes).toBe(0);
    expect(stalledAt).toBeGreaterThan(0);
    expect(stalledAt).toBeLessThan(32 * MB);
    expect(flow.info().sendWindow).toBe(0);
    const ss = await peer.exec(["ss", "-Htn", "state", "established", `sport = :7400`]);
    const recvQ = Number(ss.stdout.trim().split(/\s+/)[0]);
    expect(recvQ).toBeGreaterThan(16 * 1024);
    console.log(`backpressure: the writer stalled after ${(stalledAt / MB).toFixed(2)} MB; kernel Recv-Q ${recvQ} bytes`);
    // Reading releases the writer.
    stop = true;
    let read = 0;
    const reader = (async () => {
      for await (const c of server) read += c.length;
    })();
    await writer;
    expect(written).toBeGreaterThan(stalledAt);
    await flow.shutdown();
    await reader;
    expect(read).toBe(written);
    await Promise.all([flow.close(), server.close()]);
  });

  it("backpressure the other way: a remote writer stays pending while the direct reader does not read", async () => {
    const { direct, remote, me } = await pair();
    const listener = await direct.tcp.listen({ port: 7410 });
    const accepted = listener.accept();
    const flow = await remote.tcp.connect({ address: me, port: 7410, timeoutMs: 10_000 });
    const server = (await accepted)!;
    const chunk = randomBytes(65536, 6);
    let written = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        await flow.write(chunk);
        written += chunk.length;
      }
    })();
    let last = -1;
    let stillSince = Date.now();
    await waitFor(
      () => {
        if (written !== last) {
          last = written;
          stillSince = Date.now();
        }
        return Date.now() - stillSince > 1000;
      },
      "the remote writer to stall",
      30_000,
    );
    const stalledAt = written;
    expect(stalledAt).toBeGreaterThan(0);
    expect(stalledAt).toBeLessThan(32 * MB);
    // The helper's counters agree: what its flow accepted is what we were told it accepted, plus the pending write.
    expect(remote.stats().tcp!.counters.txBytes! - stalledAt).toBeLessThanOrEqual(chunk.length);
    stop = true;
    let read = 0;
    const reader = (async () => {
      for await (const c of server) read += c.length;
    })();
    await writer;
    await flow.shutdown();
    await reader;
    expect(read).toBe(written);
    await Promise.all([flow.close(), server.close()]);
  });

  it("flow semantics across the pipe: half-close, EPIPE, EINVAL, writev, abort with an error, RST seen by the peer", async () => {
    const { direct, remote, me } = await pair();
    const listener = await direct.tcp.listen({ port: 7500 });
    const accepted = listener.accept();
    const flow = await remote.tcp.connect({ address: me, port: 7500, timeoutMs: 10_000 });
    const peerFlow = (await accepted)!;
    // writev: all chunks, in order; a bad chunk is EINVAL and nothing is sent.
    expect(await rejection(flow.writev([new Uint8Array([1]), "x" as unknown as Uint8Array]))).toMatchObject({ code: "EINVAL", syscall: "writev" });
    expect(await rejection(flow.write(7 as unknown as Uint8Array))).toMatchObject({ code: "EINVAL", syscall: "write" });
    await flow.writev([new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3])]);
    await flow.shutdown();
    expect(await rejection(flow.write(new Uint8Array([4])))).toMatchObject({ code: "EPIPE", errno: -32, syscall: "write" });
    const received = concat(await collect(peerFlow));
    expect([...received]).toEqual([1, 2, 3]);
    // Half-closed: the other direction still works.
    await peerFlow.write(new Uint8Array([9, 8]));
    expect([...(await flow.read())!]).toEqual([9, 8]);
    // A pending read is rejected at once by abort(err), with that error; the peer sees a reset.
    const pending = flow.read();
    const mine = new Error("mine");
    flow.abort(mine);
    expect(await rejection(pending)).toBe(mine);
    expect(await rejection(flow.read())).toBe(mine);
    expect(await rejection(flow.write(new Uint8Array(1)))).toBe(mine);
    await flow.close(); // never rejects
    await waitFor(() => remote.stats().tcp!.counters.resetsSent === 1, "the helper to count the reset");
    // The peer's read side had ended (our FIN), so the reset shows on its writes.
    await waitFor(() => peerFlow.write(new Uint8Array(1)).then(() => false, (e: MorganaError) => e.code === "ECONNRESET"), "ECONNRESET on the peer");
  });

  it("connect: a signal cancels the attempt (ABORT_ERR, cause = the reason); timeoutMs gives ETIMEDOUT", async () => {
    const { remote, peer } = await pair();
    const nobody = peer.hostAddress(9); // no host: ARP gets no answer
    const ac = new AbortController();
    const attempt = remote.tcp.connect({ address: nobody, port: 80, signal: ac.signal });
    setTimeout(() => ac.abort(new Error("enough")), 100);
    const e = await rejection(attempt);
    expect(e).toMatchObject({ code: "ABORT_ERR", syscall: "connect" });
    expect((e.cause as Error).message).toBe("enough");
    const pre = new AbortController();
    pre.abort();
    expect(await rejection(remote.tcp.connect({ address: nobody, port: 80, signal: pre.signal }))).toMatchObject({ code: "ABORT_ERR" });
    const t0 = Date.now();
    expect(await rejection(remote.tcp.connect({ address: nobody, port: 80, timeoutMs: 300 }))).toMatchObject({
      code: "ETIMEDOUT",
      errno: -110,
      syscall: "connect",
      address: nobody,
      port: 80,
    });
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  it("stack.close(): the peer sees a reset; pending reads reject ECONNABORTED, accept and recv give null; later calls ERR_SOCKET_CLOSED; idempotent", async () => {
    const { direct, remote, linux } = await pair();
    const listener = await remote.tcp.listen({ port: 7600 });
    const accepted = listener.accept();
    const flow = await direct.tcp.connect({ address: linux, port: 7600, timeoutMs: 10_000 });
    const server = (await accepted)!;
    const sock = await remote.udp.bind({});
    const pendingRead = rejection(server.read());
    const pendingAccept = listener.accept();
    const pendingRecv = sock.recv();
    const closing = remote.close();
    expect(remote.close()).toBe(closing);
    await closing;
    expect(await pendingRead).toMatchObject({ code: "ECONNABORTED", message: "the stack was closed" });
    expect(await pendingAccept).toBeNull();
    expect(await pendingRecv).toBeNull();
    expect(await rejection(server.write(new Uint8Array(1)))).toMatchObject({ code: "ECONNABORTED" });
    await server.close();
    expect((await rejection(flow.read())).code).toBe("ECONNRESET");
    expect(await rejection(remote.tcp.listen({ port: 7601 }))).toMatchObject({ code: "ERR_SOCKET_CLOSED", syscall: "listen" });
    expect(await rejection(remote.tcp.connect({ address: linux, port: 7600 }))).toMatchObject({ code: "ERR_SOCKET_CLOSED", syscall: "connect" });
    expect(await rejection(remote.udp.bind({}))).toMatchObject({ code: "ERR_SOCKET_CLOSED", syscall: "bind" });
    expect(await remote.helperExited).toEqual({ code: 0, signal: null });
    expect(remote.crashed).toBeUndefined();
  });

  it("a helper crash rejects every pending call with a clear error, never hangs; later calls too; close() still resolves", async () => {
    const { direct, remote, linux } = await pair();
    const listener = await remote.tcp.listen({ port: 7700 });
    const accepted = listener.accept();
    const flow = await direct.tcp.connect({ address: linux, port: 7700, timeoutMs: 10_000 });
    const server = (await accepted)!;
    const sock = await remote.udp.bind({});
    const pending = [server.read(), server.write(new Uint8Array(1)).then(() => server.read()), listener.accept(), sock.recv()];
    process.kill(remote.helper.pid, "SIGKILL");
    const t0 = Date.now();
    const errors = await Promise.all(pending.map(rejection));
    expect(Date.now() - t0).toBeLessThan(5000);
    for (const e of errors) {
      expect(e).toBeInstanceOf(MorganaError);
      expect(e.code).toBe("ECONNABORTED");
      expect(e.message).toMatch(/remote stack helper \(pid \d+, namespace mg[0-9a-z-]+\) exited unexpectedly \(signal SIGKILL\)/);
    }
    expect(remote.crashed).toBe(errors[0]);
    expect(await rejection(remote.tcp.listen({ port: 7701 }))).toBe(remote.crashed);
    expect(await rejection(server.read())).toBe(remote.crashed);
    await server.close(); // never rejects
    await listener.close();
    await remote.close();
    expect(remote.stats().rpc!.counters.pendingCalls).toBe(0);
    flow.abort();
  });
});

async function collect(flow: Flow): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of flow) out.push(c);
  return out;
}
