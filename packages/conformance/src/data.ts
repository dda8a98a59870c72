/**
 * Deterministic test data: byte streams from a seed, readable in pieces of
 * any size, and a verifier that compares received bytes with the stream.
 */
import { SeededRandom } from "@morgana/sim";

const BLOCK = 65536;

/**
 * An endless byte stream determined by its seed: two sources with the same
 * seed give the same bytes, however the reads are cut.
 */
export class PatternSource {
  private readonly random: SeededRandom;
  private block = new Uint8Array(BLOCK);
  private pos = BLOCK;
  /** Bytes taken so far. */
  offset = 0;

  constructor(seed: number) {
    this.random = new SeededRandom(seed);
  }

  /** The next `n` bytes, in a new array (owned by the caller). */
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      if (this.pos === BLOCK) {
        this.random.fill(this.block);
        this.pos = 0;
      }
      const k = Math.min(n - o, BLOCK - this.pos);
      out.set(this.block.subarray(this.pos, this.pos + k), o);
      this.pos += k;
      o += k;
    }
    this.offset += n;
    return out;
  }
}

/** Checks received chunks against the stream of a seed, in order. */
export class PatternVerifier {
  private readonly source: PatternSource;
  /** Bytes verified so far. */
  received = 0;

  constructor(
    seed: number,
    private readonly label: string,
  ) {
    this.source = new PatternSource(seed);
  }

  /** Throws at the first byte that differs from the stream. */
  check(chunk: Uint8Array): void {
    const want = this.source.take(chunk.length);
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== want[i]) {
        throw new Error(
          `${this.label}: byte ${this.received + i} differs (got ${chunk[i]}, want ${want[i]}; chunk of ${chunk.length} bytes at offset ${this.received}): data corrupted, lost, duplicated or reordered`,
        );
      }
    }
    this.received += chunk.length;
  }
}

/**
 * Chunk sizes that add up to `total`, drawn from `seed`: a mix of tiny
 * writes, around-MSS writes and large ones (up to 64 KiB).
 */
export function chunkSizes(total: number, seed: number): number[] {
  const r = new SeededRandom(seed);
  const out: number[] = [];
  let left = total;
  while (left > 0) {
    const kind = r.uint32() % 4;
    const max = kind === 0 ? 16 : kind === 1 ? 1500 : kind === 2 ? 9000 : 65536;
    const n = Math.min(left, 1 + (r.uint32() % max));
    out.push(n);
    left -= n;
  }
  return out;
}

/** A small integer from a seed and a label, for per-connection seeds. */
export function deriveSeed(seed: number, label: string): number {
  return new SeededRandom(seed).fork(label).uint32();
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const text = new TextEncoder();
export const untext = new TextDecoder();
