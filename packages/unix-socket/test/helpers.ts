import { SeededRandom } from "@morgana/sim";
import type { Flow, TcpFlow, TcpListener } from "@morgana/interfaces";
import { afterEach } from "vitest";
import { createSocketStack, type SocketStack, type SocketStackOptions } from "../src/index.js";

const open: SocketStack[] = [];

/** A loopback-only stack, closed after the test. */
export function stack(opts: SocketStackOptions = {}): SocketStack {
  const s = createSocketStack({ addresses: ["127.0.0.1"], ...opts });
  open.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** A listener on an ephemeral loopback port, a connected client flow and the accepted server flow. */
export async function pair(s: SocketStack, c: SocketStack = s): Promise<{ listener: TcpListener; client: TcpFlow; server: TcpFlow }> {
  const listener = await s.tcp.listen({ port: 0, address: "127.0.0.1" });
  const [client, server] = await Promise.all([c.tcp.connect({ address: "127.0.0.1", port: listener.local.port }), listener.accept()]);
  if (server === null) throw new Error("accept returned null");
  return { listener, client, server };
}

export function bytes(n: number, seed: number | string = 1): Uint8Array {
  const b = new Uint8Array(n);
  new SeededRandom(seed).fill(b);
  return b;
}

/** Reads until end of stream and returns everything, concatenated. */
export async function readAll(f: Flow): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (let c = await f.read(); c !== null; c = await f.read()) {
    parts.push(c);
    n += c.length;
  }
  return concat(parts, n);
}

export function concat(parts: readonly Uint8Array[], total = parts.reduce((a, p) => a + p.length, 0)): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Resolves after `ms` of real time (these tests use real sockets). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether `p` is still pending after the event loop has had `ms` to run. */
export async function isPending(p: Promise<unknown>, ms = 50): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await sleep(ms);
  return !done;
}

/** Waits until `cond()` holds, polling, or fails after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Rejection reason of `p`, or a failure if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; address?: string; port?: number; errno?: number; syscall?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}
