import type { EventEmitter } from "node:events";
import type { Clock } from "@morgana/interfaces";
import { SeededRandom, systemClock } from "@morgana/sim";
import { createStack, type DirectStack } from "@morgana/stack";
import { createLink } from "@morgana/vnetif";
import { createNet, type NetModule, type NetServer, type NetSocket } from "../src/index.js";

export interface Pair {
  /** The server side, 10.N.0.1. */
  a: DirectStack;
  /** The client side, 10.N.0.2. */
  b: DirectStack;
  netA: NetModule;
  netB: NetModule;
  hostA: string;
  hostB: string;
  close(): Promise<void>;
}

/**
 * A facade whose sockets (client and accepted) are tracked, so a test's
 * teardown can destroy them before the stacks close (closing a stack resets
 * its connections, which would otherwise surface as unhandled 'error' events).
 */
export function trackedNet(net: NetModule, sockets: Set<NetSocket>): NetModule {
  const track = (s: NetSocket) => {
    sockets.add(s);
    return s;
  };
  const connect = (...args: unknown[]) => track((net.connect as (...a: unknown[]) => NetSocket)(...args));
  const createServer = (...args: unknown[]) => {
    const server = (net.createServer as (...a: unknown[]) => NetServer)(...args);
    server.prependListener("connection", track);
    return server;
  };
  return { ...net, connect, createConnection: connect, createServer } as NetModule;
}

/** Two direct stacks on an in-memory link (system clock), 10.N.0.1 and 10.N.0.2, each with its facade. */
export function pair(n: number, opts: { clock?: Clock } = {}): Pair {
  const [pa, pb] = createLink({ clock: systemClock });
  const hostA = `10.${n}.0.1`;
  const hostB = `10.${n}.0.2`;
  const a = createStack({ netif: pa, address: `${hostA}/24`, random: new SeededRandom(2 * n) });
  const b = createStack({ netif: pb, address: `${hostB}/24`, random: new SeededRandom(2 * n + 1) });
  const netOpts = opts.clock !== undefined ? { clock: opts.clock } : {};
  const sockets = new Set<NetSocket>();
  return {
    a,
    b,
    hostA,
    hostB,
    netA: trackedNet(createNet(a, netOpts), sockets),
    netB: trackedNet(createNet(b, netOpts), sockets),
    async close() {
      for (const s of sockets) {
        s.on("error", () => undefined);
        s.destroy();
      }
      await b.close();
      await a.close();
    },
  };
}

/** Seeded random bytes. */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  new SeededRandom(seed).fill(b);
  return b;
}

/**
 * Resolves with the event's arguments, or rejects after `ms` (real time)
 * naming the event. Unlike events.once it does not reject on 'error'.
 */
export function within<T extends unknown[]>(emitter: EventEmitter, event: string, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`timed out waiting for '${event}'`));
    }, ms);
    const on = (...args: unknown[]) => {
      clearTimeout(t);
      resolve(args as T);
    };
    emitter.once(event, on);
  });
}

/** Collects a stream's data into one Buffer, resolving at 'end'. */
export function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

/** Real-time sleep, for tests that must let the stacks run. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
