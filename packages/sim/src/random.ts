import type { Random } from "@morgana/interfaces";

/** splitmix32: expands a 32-bit seed into well-mixed state words. */
function splitmix32(state: { s: number }): number {
  let z = (state.s = (state.s + 0x9e3779b9) | 0);
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A 32-bit FNV-1a hash, to turn string seeds and labels into numbers. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A seeded {@link Random}: xoshiro128** (period 2^128-1), state from splitmix32.
 * The same seed gives the same bytes on every platform. Not cryptographic: for
 * tests and simulation only.
 */
export class SeededRandom implements Random {
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | string = 0) {
    this.seed = typeof seed === "string" ? fnv1a(seed) : seed >>> 0;
    const st = { s: this.seed };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  fill(bytes: Uint8Array): void {
    let i = 0;
    const n = bytes.length;
    for (; i + 4 <= n; i += 4) {
      const x = this.uint32();
      bytes[i] = x;
      bytes[i + 1] = x >>> 8;
      bytes[i + 2] = x >>> 16;
      bytes[i + 3] = x >>> 24;
    }
    if (i < n) {
      let x = this.uint32();
      for (; i < n; i++, x >>>= 8) bytes[i] = x;
    }
  }

  /**
   * An independent generator derived from this seed and a label, so that each
   * component of a simulation gets its own stream and adding draws in one does
   * not shift the others.
   */
  fork(label: string): SeededRandom {
    return new SeededRandom((Math.imul(this.seed, 0x9e3779b1) ^ fnv1a(label)) >>> 0);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Cryptographic randomness from `crypto.getRandomValues` (Node 20 and browsers). */
export class SystemRandom implements Random {
  private readonly pool = new Uint32Array(64);
  private next = 64;

  fill(bytes: Uint8Array): void {
    // getRandomValues accepts at most 65536 bytes per call.
    for (let off = 0; off < bytes.length; off += 65536) {
      globalThis.crypto.getRandomValues(bytes.subarray(off, Math.min(bytes.length, off + 65536)));
    }
  }

  uint32(): number {
    if (this.next === this.pool.length) {
      globalThis.crypto.getRandomValues(this.pool);
      this.next = 0;
    }
    return this.pool[this.next++]!;
  }
}

/** The process-wide cryptographic {@link Random}. */
export const systemRandom: Random = new SystemRandom();
