/**
 * TCP between two direct stacks in one process over an in-memory vnetif link
 * (system clock, crypto-free seeded random), against node:net over 127.0.0.1
 * in the same run:
 *
 * - tcp.bulk-mtu1500 / tcp.bulk-mtu9000: one connection, 64 KiB writes, Gbit/s
 *   of payload received over ~2 s after a warm-up;
 * - tcp.rtt-small: 64-byte request/response round trips (noDelay), µs each;
 * - tcp.connections-per-second: sequential connect + accept + close on both ends;
 * - tcp.memory-per-idle-connection: JS heap (plus external memory) per
 *   connection endpoint, 2000 idle established connections, after global.gc().
 */
import net from "node:net";
import { figure } from "@morgana/benchkit";
import type { TcpFlow } from "@morgana/interfaces";
import { SeededRandom, systemClock } from "@morgana/sim";
import { createLink } from "@morgana/vnetif";
import { createStack, type DirectStack } from "../src/index.js";

const CHUNK = 64 * 1024;
const WARMUP_MS = 300;
const MEASURE_MS = 2000;

function pair(mtu = 1500, tcp: Record<string, unknown> = {}): { a: DirectStack; b: DirectStack } {
  const [pa, pb] = createLink({ clock: systemClock, mtu });
  const a = createStack({ netif: pa, address: "10.0.0.1/24", random: new SeededRandom(1), tcp });
  const b = createStack({ netif: pb, address: "10.0.0.2/24", random: new SeededRandom(2), tcp });
  a.arp.addStatic(b.ipv4.addresses[0]!.address, b.netif.mac);
  b.arp.addStatic(a.ipv4.addresses[0]!.address, a.netif.mac);
  return { a, b };
}

async function connected(a: DirectStack, b: DirectStack, port: number, opts: { noDelay?: boolean } = {}): Promise<{ c: TcpFlow; s: TcpFlow }> {
  const l = await b.tcp.listen({ port, ...opts });
  const [c, s] = await Promise.all([a.tcp.connect({ address: "10.0.0.2", port, ...opts }), l.accept()]);
  await l.close();
  return { c, s: s! };
}

/**
 * Bytes per second received in the measurement window while the writer keeps
 * writing. The in-memory link runs entirely on microtasks, so the clock is
 * polled in the writer loop (a setTimeout would starve), and the loop yields
 * to the event loop every 4 MiB so that timers and I/O still run.
 */
async function measureBulk(write: (chunk: Uint8Array) => Promise<void>, onData: (cb: (n: number) => void) => void): Promise<number> {
  let received = 0;
  onData((n) => (received += n));
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  const start = performance.now();
  let r0 = -1;
  let t0 = 0;
  for (let i = 1; ; i++) {
    await write(chunk);
    if (i % 64 === 0) await new Promise((r) => setImmediate(r));
    const now = performance.now();
    if (r0 < 0 && now - start >= WARMUP_MS) {
      r0 = received;
      t0 = now;
    } else if (r0 >= 0 && now - t0 >= MEASURE_MS) {
      return ((received - r0) * 1000) / (now - t0);
    }
  }
}

async function morganaBulk(mtu: number): Promise<{ bps: number; retrans: number }> {
  const { a, b } = pair(mtu);
  const { c, s } = await connected(a, b, 5001);
  const bps = await measureBulk(
    (chunk) => c.write(chunk),
    (cb) => {
      void (async () => {
        try {
          for await (const x of s) cb(x.length);
        } catch {
          // closed at the end
        }
      })();
    },
  );
  const retrans = a.tcp.stats().counters.retransmittedSegments!;
  await a.close();
  await b.close();
  return { bps, retrans };
}

async function nodeBulk(): Promise<number> {
  let onData: (n: number) => void = () => undefined;
  const server = net.createServer((sock) => sock.on("data", (d: Buffer) => onData(d.length)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, "127.0.0.1");
  await new Promise<void>((r) => client.on("connect", () => r()));
  const bps = await measureBulk(
    (chunk) =>
      new Promise<void>((resolve) => {
        if (client.write(chunk)) resolve();
        else client.once("drain", () => resolve());
      }),
    (cb) => (onData = cb),
  );
  client.destroy();
  await new Promise((r) => server.close(r));
  return bps;
}

for (const mtu of [1500, 9000]) {
  figure("tcp", `bulk-mtu${mtu}`, async () => {
    const ours = await morganaBulk(mtu);
    const ref = await nodeBulk();
    return {
      unit: "Gbit/s",
      ours: (ours.bps * 8) / 1e9,
      reference: "node:net over 127.0.0.1",
      referenceValue: (ref * 8) / 1e9,
      note: `one connection, 64 KiB writes, ${MEASURE_MS} ms after ${WARMUP_MS} ms warm-up; two direct stacks on a vnetif link (MTU ${mtu}), 256 KiB buffers, CUBIC; ${ours.retrans} retransmissions`,
    };
  });
}

// ---- small-message round trips -------------------------------------------------------------

const MSG = 64;
const RTT_MS = 1500;

async function pingPong(send: (b: Uint8Array) => void, next: () => Promise<void>): Promise<number> {
  const msg = new Uint8Array(MSG);
  // warm-up
  for (let i = 0; i < 2000; i++) {
    send(msg);
    await next();
  }
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < RTT_MS) {
    for (let i = 0; i < 100; i++) {
      send(msg);
      await next();
    }
    n += 100;
  }
  return ((performance.now() - t0) * 1000) / n;
}

/** Reads exactly `n` bytes from a flow (messages may be split or merged). */
function reader(f: TcpFlow): (n: number) => Promise<void> {
  let buffered = 0;
  return async (n) => {
    while (buffered < n) {
      const c = await f.read();
      if (c === null) throw new Error("eof");
      buffered += c.length;
    }
    buffered -= n;
  };
}

async function morganaRtt(): Promise<number> {
  const { a, b } = pair(1500, { noDelay: true });
  const { c, s } = await connected(a, b, 5002, { noDelay: true });
  const sr = reader(s);
  let stop = false;
  const echo = (async () => {
    const back = new Uint8Array(MSG);
    try {
      while (!stop) {
        await sr(MSG);
        void s.write(back.slice());
      }
    } catch {
      // closed
    }
  })();
  const cr = reader(c);
  const us = await pingPong(
    (m) => void c.write(m.slice()),
    () => cr(MSG),
  );
  stop = true;
  await a.close();
  await b.close();
  await echo;
  return us;
}

async function nodeRtt(): Promise<number> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    let got = 0;
    sock.on("data", (d: Buffer) => {
      got += d.length;
      while (got >= MSG) {
        got -= MSG;
        sock.write(Buffer.alloc(MSG));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  client.setNoDelay(true);
  await new Promise<void>((r) => client.on("connect", () => r()));
  let buffered = 0;
  let waiter: (() => void) | undefined;
  client.on("data", (d: Buffer) => {
    buffered += d.length;
    if (buffered >= MSG && waiter !== undefined) {
      buffered -= MSG;
      const w = waiter;
      waiter = undefined;
      w();
    }
  });
  const us = await pingPong(
    (m) => void client.write(m),
    () =>
      new Promise<void>((r) => {
        if (buffered >= MSG) {
          buffered -= MSG;
          r();
        } else waiter = r;
      }),
  );
  client.destroy();
  await new Promise((r) => server.close(r));
  return us;
}

figure("tcp", "rtt-small", async () => {
  const ours = await morganaRtt();
  const ref = await nodeRtt();
  return {
    unit: "µs",
    ours,
    reference: "node:net over 127.0.0.1",
    referenceValue: ref,
    lowerIsBetter: true,
    note: `${MSG}-byte request and response, noDelay, one connection, mean over ${RTT_MS} ms`,
  };
});

// ---- connections opened and closed per second ------------------------------------------------

const CONNS = 3000;

async function morganaConnections(): Promise<number> {
  const { a, b } = pair();
  const l = await b.tcp.listen({ port: 5003, backlog: 1024 });
  const once = async () => {
    const [c, s] = await Promise.all([a.tcp.connect({ address: "10.0.0.2", port: 5003 }), l.accept()]);
    await Promise.all([c.close(), s!.close()]);
  };
  for (let i = 0; i < 200; i++) await once();
  const t0 = performance.now();
  for (let i = 0; i < CONNS; i++) await once();
  const rate = (CONNS * 1000) / (performance.now() - t0);
  await a.close();
  await b.close();
  return rate;
}

async function nodeConnections(): Promise<number> {
  const server = net.createServer((sock) => {
    sock.on("end", () => sock.end());
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen({ port: 0, host: "127.0.0.1", backlog: 1024 }, r));
  const port = (server.address() as net.AddressInfo).port;
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const c = net.connect(port, "127.0.0.1");
      c.on("connect", () => c.end());
      c.on("data", () => undefined);
      c.on("close", () => resolve());
      c.on("error", reject);
    });
  for (let i = 0; i < 200; i++) await once();
  const t0 = performance.now();
  for (let i = 0; i < CONNS; i++) await once();
  const rate = (CONNS * 1000) / (performance.now() - t0);
  await new Promise((r) => server.close(r));
  return rate;
}

figure("tcp", "connections-per-second", async () => {
  const ours = await morganaConnections();
  const ref = await nodeConnections();
  return {
    unit: "connections/s",
    ours,
    reference: "node:net over 127.0.0.1",
    referenceValue: ref,
    note: `${CONNS} sequential connect + accept + close (FIN both ways) on one listener`,
  };
});

// ---- memory per idle connection --------------------------------------------------------------

const IDLE = 2000;

function heap(): number {
  const g = globalThis as { gc?: () => void };
  g.gc?.();
  g.gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

async function morganaMemory(): Promise<number> {
  const { a, b } = pair();
  const l = await b.tcp.listen({ port: 5004, backlog: IDLE });
  // Warm up the code paths, so compiled code is not counted.
  const warm = await connected(a, b, 5005);
  warm.c.abort();
  const before = heap();
  const flows: TcpFlow[] = [];
  for (let i = 0; i < IDLE; i++) {
    const [c, s] = await Promise.all([a.tcp.connect({ address: "10.0.0.2", port: 5004 }), l.accept()]);
    flows.push(c, s!);
  }
  const after = heap();
  const per = (after - before) / flows.length;
  await a.close();
  await b.close();
  return per;
}

async function nodeMemory(): Promise<number> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((sock) => accepted.push(sock));
  await new Promise<void>((r) => server.listen({ port: 0, host: "127.0.0.1", backlog: IDLE }, r));
  const port = (server.address() as net.AddressInfo).port;
  const open = () =>
    new Promise<net.Socket>((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => resolve(c));
    });
  const w = await open();
  w.destroy();
  const before = heap();
  const clients: net.Socket[] = [];
  for (let i = 0; i < IDLE; i++) clients.push(await open());
  while (accepted.length < IDLE + 1) await new Promise((r) => setTimeout(r, 1));
  const after = heap();
  const per = (after - before) / (clients.length + accepted.length - 1);
  for (const s of [...clients, ...accepted]) s.destroy();
  await new Promise((r) => server.close(r));
  return per;
}

figure("tcp", "memory-per-idle-connection", async () => {
  const ours = await morganaMemory();
  const ref = await nodeMemory();
  return {
    unit: "bytes",
    ours,
    reference: "node:net socket (JS heap + external; kernel memory not counted)",
    referenceValue: ref,
    lowerIsBetter: true,
    note: `per connection endpoint (each side of ${IDLE} idle established connections), measured with global.gc()`,
  };
});
