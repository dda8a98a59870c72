/**
 * Drawing decisions from an injected {@link Random}.
 */
import type { Random } from "@morgana/interfaces";

const TWO32 = 0x1_0000_0000;

/**
 * True with probability `p` (0 never, 1 always). Always consumes exactly one
 * `uint32()`, so the stream position does not depend on `p`.
 */
export function chance(random: Random, p: number): boolean {
  return random.uint32() < p * TWO32;
}

/** A float in [0, 1) from one `uint32()` (32 bits are plenty for delays and rates). */
export function unit(random: Random): number {
  return random.uint32() / TWO32;
}

/**
 * An independent generator seeded from four draws of `parent`
 * (xoshiro128**). {@link impair} gives each layer its own stream this way, so
 * enabling one impairment does not shift the decisions of another. Not
 * cryptographic; impairment decisions need no secrecy.
 */
export function deriveRandom(parent: Random): Random {
  let a = parent.uint32() | 0;
  let b = parent.uint32() | 0;
  let c = parent.uint32() | 0;
  let d = parent.uint32() | 0;
  if ((a | b | c | d) === 0) a = 1;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  return {
    uint32: next,
    fill(bytes: Uint8Array): void {
      for (let i = 0; i < bytes.length; i += 4) {
        let x = next();
        for (let j = i; j < i + 4 && j < bytes.length; j++, x >>>= 8) bytes[j] = x;
      }
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
