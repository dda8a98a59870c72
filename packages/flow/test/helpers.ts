import { expect } from "vitest";
import { isMorganaError, type Flow } from "@morgana/interfaces";

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `n` bytes of a deterministic pattern that differs with `seed`, so misordered bytes show. */
export function pattern(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Lets every queued promise chain run (a macrotask turn). */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Reads a flow to its end. */
export async function readAllOf(flow: Pick<Flow, "read">): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const c = await flow.read();
    if (c === null) return concat(parts);
    expect(c.length).toBeGreaterThan(0);
    parts.push(c);
  }
}

/** Tracks whether a promise settled, and how. */
export function track<T>(p: Promise<T>): { settled: boolean; value?: T; error?: unknown; promise: Promise<T> } {
  const t: { settled: boolean; value?: T; error?: unknown; promise: Promise<T> } = { settled: false, promise: p };
  p.then(
    (v) => {
      t.settled = true;
      t.value = v;
    },
    (e: unknown) => {
      t.settled = true;
      t.error = e;
    },
  );
  return t;
}

/** Awaits `p` and returns its rejection; fails when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

/** Asserts a MorganaError (or any error with a `code`) with the given code. */
export function expectCode(err: unknown, code: string): void {
  expect(err, `expected an error ${code}`).toBeInstanceOf(Error);
  expect((err as { code?: string }).code, String(err)).toBe(code);
}

export { isMorganaError };
