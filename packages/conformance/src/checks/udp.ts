/**
 * UDP: datagrams both ways with the sender's address and port, boundaries
 * kept; ICMP port unreachable as the UdpSocket contract describes it; the
 * socket lifecycle.
 */
import { expect } from "vitest";
import type { Datagram, UdpSocket } from "@morgana/interfaces";
import { SeededRandom } from "@morgana/sim";
import { equalBytes, PatternSource, text, untext } from "../data.js";
import type { CheckContext, ErrorLike } from "../context.js";
import type { Check } from "./check.js";
import { expectEphemeral } from "./tcp-data.js";

/** A signal that resolves its current promise on every `fire()`. */
class Pulse {
  private resolve!: () => void;
  promise!: Promise<void>;
  constructor() {
    this.reset();
  }
  private reset(): void {
    this.promise = new Promise((r) => (this.resolve = r));
  }
  fire(): void {
    const r = this.resolve;
    this.reset();
    r();
  }
}

/**
 * Receives until the socket closes. A lossy path makes ICMP errors about
 * datagrams this socket sent (a reassembly that timed out at the peer gives
 * "time exceeded", reported as `EHOSTUNREACH`): the contract makes the next
 * `recv()` reject with them and the socket stays usable, so such errors are
 * checked (code, the peer's address) and receiving goes on.
 */
async function receiveAll(
  ctx: CheckContext,
  sock: UdpSocket,
  peer: string,
  label: string,
  onDatagram: (d: Datagram) => Promise<void> | void,
): Promise<void> {
  for (;;) {
    let d: Datagram | null;
    try {
      d = await ctx.wait(`${label}: recv()`, sock.recv());
    } catch (e) {
      const err = e as ErrorLike;
      if (err.code !== "EHOSTUNREACH" && err.code !== "ENETUNREACH") throw e;
      expect(err.address, `${label}: an ICMP error (${String(err.message)}) names the destination`).toBe(peer);
      continue;
    }
    if (d === null) return;
    await onDatagram(d);
  }
}

/** Echoes every datagram back to its sender until the socket closes, after `check`ing it. */
function echoTask(ctx: CheckContext, sock: UdpSocket, peer: string, label: string, check: (d: Datagram) => void = () => undefined): Promise<void> {
  return ctx.task(label, () =>
    receiveAll(ctx, sock, peer, label, async (d) => {
      check(d);
      await ctx.wait(`${label}: send back`, sock.send(d.data, d));
    }),
  );
}

const exchange: Check = {
  id: "udp-exchange",
  title: "datagrams of 1 to 16384 bytes both ways: sender address and port, boundaries and bytes kept",
  directional: true,
  async run(ctx) {
    const rs = await ctx.wait(`${ctx.serverName}.udp.bind()`, ctx.server.udp.bind());
    const ss = await ctx.wait(`${ctx.clientName}.udp.bind()`, ctx.client.udp.bind());
    expectEphemeral(ctx, "udp.bind() port", rs.local.port);
    expectEphemeral(ctx, "udp.bind() port", ss.local.port);
    expect(rs.local.family, "local.family").toBe("IPv4");
    const fixed = [1, 2, 3, 64, 512, 548, 1000, 1400, 1472, 1473, 2000, 2961, 4096, 8192, 8972, 9000, 12000, 16384];
    const r = new SeededRandom(ctx.seed("sizes"));
    const n = Math.min(250, ctx.count(fixed.length + 14, fixed.length));
    const sizes = Array.from({ length: n }, (_, i) => fixed[i] ?? 1 + (r.uint32() % 16384));
    const sent = sizes.map((size, i) => {
      const d = new PatternSource(ctx.seed(`datagram ${i}`)).take(size);
      d[0] = i;
      return d;
    });
    const verify = (label: string, d: Datagram): number => {
      expect(d.data, `${label}: data is a Uint8Array`).toBeInstanceOf(Uint8Array);
      expect(d.data.length, `${label}: never an empty datagram here`).toBeGreaterThan(0);
      const i = d.data[0]!;
      const want = sent[i];
      if (want === undefined || !equalBytes(d.data, want)) {
        throw new Error(
          `${label}: a datagram of ${d.data.length} bytes starting with ${i} matches no datagram sent (datagram ${i} has ${want?.length} bytes): boundaries not kept or bytes corrupted`,
        );
      }
      return i;
    };
    const atServer = new Set<number>();
    echoTask(ctx, rs, ctx.clientAddress, `${ctx.serverName} echoes`, (d) => {
      expect(d.address, `${ctx.serverName} sees the sender's address`).toBe(ctx.clientAddress);
      expect(d.port, `${ctx.serverName} sees the sender's port`).toBe(ss.local.port);
      atServer.add(verify(ctx.serverName, d));
    });
    const echoed = new Set<number>();
    const pulse = new Pulse();
    ctx.task(`${ctx.clientName} receives the echoes`, () =>
      receiveAll(ctx, ss, ctx.serverAddress, ctx.clientName, (d) => {
        expect(d.address, `${ctx.clientName} sees the echo's source address`).toBe(ctx.serverAddress);
        expect(d.port, `${ctx.clientName} sees the echo's source port`).toBe(rs.local.port);
        echoed.add(verify(ctx.clientName, d));
        pulse.fire();
      }),
    );
    // Batches of 8, each datagram resent until its echo came back (a lossy path may drop either).
    const to = { address: ctx.serverAddress, port: rs.local.port };
    for (let start = 0; start < n; start += 8) {
      const batch = Array.from({ length: Math.min(8, n - start) }, (_, k) => start + k);
      for (let round = 0; batch.some((i) => !echoed.has(i)); round++) {
        if (round === 40) throw new Error(`datagrams ${batch.filter((i) => !echoed.has(i)).join(", ")} never came back after 40 sends`);
        for (const i of batch) if (!echoed.has(i)) await ctx.wait(`send datagram ${i} (${sizes[i]} bytes)`, ss.send(sent[i]!, to));
        const deadline = ctx.realSleep(round === 0 ? 200 : 80);
        while (batch.some((i) => !echoed.has(i))) {
          const r = await ctx.wait(`echo of datagrams ${batch.filter((i) => !echoed.has(i)).join(", ")}`, Promise.race([pulse.promise.then(() => 0), deadline.then(() => 1)]));
          if (r === 1) break;
        }
      }
    }
    expect(atServer.size, `${ctx.serverName} received every datagram`).toBe(n);
    expect(echoed.size, `${ctx.clientName} received every echo`).toBe(n);
    await ctx.wait("close both sockets", Promise.all([ss.close(), rs.close()]));
  },
};

const closedPort: Check = {
  id: "udp-closed-port",
  title: "a datagram to a closed port: the next recv() rejects with ECONNREFUSED and the destination, the socket stays usable",
  directional: true,
  async run(ctx) {
    const cs = await ctx.wait(`${ctx.clientName}.udp.bind()`, ctx.client.udp.bind());
    const es = await ctx.wait(`${ctx.serverName}.udp.bind() (echo)`, ctx.server.udp.bind());
    echoTask(ctx, es, ctx.clientAddress, `${ctx.serverName} echoes`);
    const gone = await ctx.wait(`${ctx.serverName}.udp.bind() (to be closed)`, ctx.server.udp.bind());
    const port = gone.local.port;
    await ctx.wait("close it", gone.close());
    const errors: ErrorLike[] = [];
    const probes = new Set<string>();
    const pulse = new Pulse();
    ctx.task(`${ctx.clientName} receives`, async () => {
      for (;;) {
        let d: Datagram | null;
        try {
          d = await cs.recv();
        } catch (e) {
          errors.push(e as ErrorLike);
          pulse.fire();
          continue;
        }
        if (d === null) return;
        probes.add(untext.decode(d.data));
        pulse.fire();
      }
    });
    /** Sends probe `name` to the echo socket until it comes back. */
    const roundTrip = async (name: string) => {
      for (let i = 0; !probes.has(name); i++) {
        if (i === 40) throw new Error(`probe ${name} never came back`);
        await ctx.wait(`send probe ${name}`, cs.send(text.encode(name), { address: ctx.serverAddress, port: es.local.port }));
        const deadline = ctx.realSleep(100);
        while (!probes.has(name)) {
          if ((await ctx.wait(`echo of probe ${name}`, Promise.race([pulse.promise.then(() => 0), deadline.then(() => 1)]))) === 1) break;
        }
      }
    };
    const attempts = 6;
    for (let k = 0; k < attempts && errors.length === 0; k++) {
      await ctx.wait(`send to the closed port ${port}`, cs.send(text.encode("anyone?"), { address: ctx.serverAddress, port }));
      await roundTrip(`probe ${k}`);
      // An error that overtook no probe shows up on a later recv(): one more round trip lets it in.
      if (errors.length === 0) await roundTrip(`probe ${k} bis`);
    }
    if (errors.length === 0) {
      if (ctx.options.udpIcmpErrors) {
        throw new Error(`no recv() rejected after ${attempts} datagrams to the closed port ${ctx.serverAddress}:${port} (ICMP port unreachable not reported)`);
      }
    } else {
      for (const e of errors) {
        expect(e.code, `recv() error (${String(e.message)})`).toBe("ECONNREFUSED");
        expect(e.address, "the error carries the destination's address").toBe(ctx.serverAddress);
        expect(e.port, "the error carries the destination's port").toBe(port);
      }
      await roundTrip("after the error");
    }
    await ctx.wait("close the sockets", Promise.all([cs.close(), es.close()]));
  },
};

const lifecycle: Check = {
  id: "udp-socket",
  title: "UDP socket: ephemeral ports, 65507-byte datagrams, iteration ends on close, recv() null and send ERR_SOCKET_CLOSED after close",
  directional: true,
  async run(ctx) {
    const socks = [];
    for (let i = 0; i < 3; i++) socks.push(await ctx.wait(`udp.bind() ${i}`, ctx.client.udp.bind()));
    const ports = socks.map((s) => s.local.port);
    for (const p of ports) expectEphemeral(ctx, "udp.bind() port", p);
    expect(new Set(ports).size, "three sockets get distinct ports").toBe(3);
    const [s0, s1, s2] = socks as [UdpSocket, UdpSocket, UdpSocket];
    // The largest datagram, to the peer, intact (resent: on a lossy path it has 45 fragments).
    const rs = await ctx.wait(`${ctx.serverName}.udp.bind()`, ctx.server.udp.bind());
    const big = new PatternSource(ctx.seed("big")).take(65507);
    const got = ctx.task(`${ctx.serverName} receives the big datagram`, async () => {
      const d = await ctx.wait("recv() of the 65507-byte datagram", rs.recv());
      expect(d, "recv()").not.toBeNull();
      expect(d!.data.length, "a 65507-byte datagram arrives whole").toBe(65507);
      expect(equalBytes(d!.data, big), "its bytes are intact").toBe(true);
      expect(d!.port, "source port").toBe(s0.local.port);
    });
    let arrived = false;
    void got.then(() => (arrived = true), () => (arrived = true));
    for (let i = 0; !arrived; i++) {
      if (i === 30) throw new Error("the 65507-byte datagram never arrived in 30 sends");
      await ctx.wait("send 65507 bytes", s0.send(big, { address: ctx.serverAddress, port: rs.local.port }));
      await Promise.race([got.catch(() => undefined), ctx.realSleep(i === 0 ? 500 : 150)]);
    }
    await got;
    // Iteration ends when the socket closes (here from inside the loop).
    const hello = text.encode("hello");
    const seen: string[] = [];
    const loop = ctx.task("iterate until close()", async () => {
      for await (const d of s1) {
        seen.push(untext.decode(d.data));
        void s1.close();
      }
    });
    let looped = false;
    void loop.then(() => (looped = true), () => (looped = true));
    for (let i = 0; !looped; i++) {
      if (i === 40) throw new Error("the iteration did not end");
      await ctx.wait("send hello", rs.send(hello, { address: ctx.clientAddress, port: s1.local.port }));
      await Promise.race([loop.catch(() => undefined), ctx.realSleep(100)]);
    }
    await loop;
    expect(seen[0], "the loop yielded the datagram before it ended").toBe("hello");
    // recv() pending at close, and after it; send after close.
    const pending = s2.recv();
    await ctx.wait("close()", s2.close());
    await ctx.readsNull("the recv() pending at close()", pending);
    await ctx.readsNull("recv() after close()", s2.recv());
    await ctx.rejects("send() after close()", s2.send(hello, { address: ctx.serverAddress, port: rs.local.port }), "ERR_SOCKET_CLOSED");
    await ctx.wait("close() again (idempotent)", s2.close());
    await ctx.wait("close the rest", Promise.all([s0.close(), rs.close()]));
  },
};

const receiveQueue: Check = {
  id: "udp-receive-queue",
  title: "the receive queue is bounded (bind's receiveQueue): datagrams beyond it are dropped and counted",
  directional: true,
  async run(ctx) {
    const limit = 4;
    const rs = await ctx.wait(`${ctx.serverName}.udp.bind({ receiveQueue: ${limit} })`, ctx.server.udp.bind({ receiveQueue: limit }));
    const ss = await ctx.wait(`${ctx.clientName}.udp.bind()`, ctx.client.udp.bind());
    const dropsOf = () => Object.values(ctx.server.udp.stats().drops).reduce((a, b) => a + b, 0);
    const before = dropsOf();
    const n = 24;
    for (let i = 0; i < n; i++) {
      await ctx.wait(`send datagram ${i}`, ss.send(new Uint8Array([i]), { address: ctx.serverAddress, port: rs.local.port }));
    }
    // Nobody reads: wait until the drop counter stops moving (polled, not asserted on time).
    let last = -1;
    for (let quiet = 0; quiet < 5; ) {
      const d = dropsOf();
      if (d === last) quiet++;
      else {
        quiet = 0;
        last = d;
      }
      await ctx.wait("waiting for the datagrams to arrive", ctx.realSleep(20));
    }
    const queued: number[] = [];
    for (;;) {
      const r = rs.recv();
      r.catch(() => undefined);
      const got = await ctx.wait("recv() of a queued datagram", Promise.race([r, ctx.realSleep(50).then(() => "none" as const)]));
      if (got === "none" || got === null) break;
      queued.push(got.data[0]!);
    }
    expect(queued.length, `at most receiveQueue (${limit}) datagrams were held for recv()`).toBeLessThanOrEqual(limit);
    expect(queued.length, "the queue held some datagrams").toBeGreaterThan(0);
    expect(dropsOf() - before, `${ctx.serverName}.udp.stats().drops counts the datagrams beyond the queue`).toBeGreaterThanOrEqual(1);
    await ctx.wait("close both sockets", Promise.all([ss.close(), rs.close()]));
  },
};

export const UDP_CHECKS: readonly Check[] = [exchange, closedPort, lifecycle, receiveQueue];
