/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012), the keyed hash Linux uses for
 * TCP initial sequence numbers (RFC 6528) and SYN cookies. JavaScript has no
 * 64-bit integers outside BigInt, so each 64-bit lane is two unsigned 32-bit
 * halves kept in a small Uint32Array; nothing is allocated per call.
 *
 * A key is four 32-bit words: k0 = (w[1] << 32) | w[0], k1 = (w[3] << 32) | w[2],
 * i.e. the 16 key bytes read as little-endian words.
 */

// v0..v3 as [lo, hi] pairs: s[0..1] = v0, s[2..3] = v1, s[4..5] = v2, s[6..7] = v3.
const s = new Uint32Array(8);

function add(a: number, b: number): void {
  // s[a] += s[b] (64-bit)
  const lo = (s[a]! + s[b]!) >>> 0;
  const carry = lo < s[a]! ? 1 : 0;
  s[a + 1] = (s[a + 1]! + s[b + 1]! + carry) >>> 0;
  s[a] = lo;
}

function rotl(a: number, n: number): void {
  let lo = s[a]!;
  let hi = s[a + 1]!;
  if (n >= 32) {
    const t = lo;
    lo = hi;
    hi = t;
    n -= 32;
  }
  if (n > 0) {
    const nlo = (lo << n) | (hi >>> (32 - n));
    const nhi = (hi << n) | (lo >>> (32 - n));
    lo = nlo;
    hi = nhi;
  }
  s[a] = lo;
  s[a + 1] = hi;
}

function xor(a: number, b: number): void {
  s[a] = s[a]! ^ s[b]!;
  s[a + 1] = s[a + 1]! ^ s[b + 1]!;
}

function round(): void {
  add(0, 2);
  rotl(2, 13);
  xor(2, 0);
  rotl(0, 32);
  add(4, 6);
  rotl(6, 16);
  xor(6, 4);
  add(0, 6);
  rotl(6, 21);
  xor(6, 0);
  add(4, 2);
  rotl(2, 17);
  xor(2, 4);
  rotl(4, 32);
}

function init(key: Uint32Array): void {
  // "somepseudorandomlygeneratedbytes"
  s[0] = key[0]! ^ 0x70736575;
  s[1] = key[1]! ^ 0x736f6d65;
  s[2] = key[2]! ^ 0x6e646f6d;
  s[3] = key[3]! ^ 0x646f7261;
  s[4] = key[0]! ^ 0x6e657261;
  s[5] = key[1]! ^ 0x6c796765;
  s[6] = key[2]! ^ 0x79746573;
  s[7] = key[3]! ^ 0x74656462;
}

function block(lo: number, hi: number): void {
  s[6] = s[6]! ^ lo;
  s[7] = s[7]! ^ hi;
  round();
  round();
  s[0] = s[0]! ^ lo;
  s[1] = s[1]! ^ hi;
}

function finalize(): void {
  s[4] = s[4]! ^ 0xff;
  round();
  round();
  round();
  round();
}

/** The result's halves: [low 32 bits, high 32 bits] of v0 ^ v1 ^ v2 ^ v3. */
function result(out?: Uint32Array): number {
  const lo = (s[0]! ^ s[2]! ^ s[4]! ^ s[6]!) >>> 0;
  const hi = (s[1]! ^ s[3]! ^ s[5]! ^ s[7]!) >>> 0;
  if (out !== undefined) {
    out[0] = lo;
    out[1] = hi;
  }
  return lo;
}

/**
 * SipHash-2-4 of `msg` under `key` (four little-endian 32-bit words). Writes
 * the 64-bit result as [lo, hi] into `out` and returns the low 32 bits.
 */
export function siphash24(key: Uint32Array, msg: Uint8Array, out?: Uint32Array): number {
  init(key);
  const n = msg.length;
  const full = n - (n & 7);
  let i = 0;
  for (; i < full; i += 8) {
    const lo = (msg[i]! | (msg[i + 1]! << 8) | (msg[i + 2]! << 16) | (msg[i + 3]! << 24)) >>> 0;
    const hi = (msg[i + 4]! | (msg[i + 5]! << 8) | (msg[i + 6]! << 16) | (msg[i + 7]! << 24)) >>> 0;
    block(lo, hi);
  }
  // The last block: the remaining bytes, and the length (mod 256) in the top byte.
  let lo = 0;
  let hi = (n & 0xff) << 24;
  for (let j = 0; i + j < n; j++) {
    const b = msg[i + j]!;
    if (j < 4) lo |= b << (8 * j);
    else hi |= b << (8 * (j - 4));
  }
  block(lo >>> 0, hi >>> 0);
  finalize();
  return result(out);
}

/**
 * SipHash-2-4 of three 32-bit words (12 bytes, each little-endian), the shape
 * of a TCP 4-tuple: (local address, remote address, ports). Returns the low 32
 * bits of the hash; the same as `siphash24` over the 12 bytes.
 */
export function siphash3u32(key: Uint32Array, a: number, b: number, c: number): number {
  init(key);
  block(a >>> 0, b >>> 0);
  block(c >>> 0, (12 << 24) >>> 0);
  finalize();
  return result();
}

/** Like {@link siphash3u32} with a fourth word (16 bytes). */
export function siphash4u32(key: Uint32Array, a: number, b: number, c: number, d: number): number {
  init(key);
  block(a >>> 0, b >>> 0);
  block(c >>> 0, d >>> 0);
  block(0, (16 << 24) >>> 0);
  finalize();
  return result();
}
