/**
 * @morgana/checksum — the Internet checksum (RFC 1071), as IPv4, ICMP, UDP and
 * TCP use it. A utility package: any implementation package may depend on it.
 *
 * The one's complement sum is independent of byte order up to a final swap
 * (RFC 1071 §2(B)), so the fast path reads aligned 32-bit little-endian words
 * through a Uint32Array, accumulates them in a float64 (exact up to 2^53, i.e.
 * for inputs up to 8 MiB per call; longer inputs are summed in slices), folds
 * to 16 bits and swaps once. Unaligned heads and odd tails are handled bytewise.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAX_FAST_BYTES = 1 << 23; // 2^21 words of < 2^32 each: the float64 sum stays exact

function fold(sum: number): number {
  // Reduce an exact non-negative integer to 16 bits with end-around carry.
  if (sum <= 0x7fffffff) {
    sum = (sum & 0xffff) + (sum >>> 16);
    return (sum & 0xffff) + (sum >>> 16);
  }
  while (sum > 0xffff) sum = (sum % 65536) + Math.floor(sum / 65536);
  return sum;
}

/** Below this many bytes the bytewise loop beats creating a Uint32Array view. */
const SMALL = 256;

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/** Big-endian one's complement sum of `buf[start, end)` as 16-bit words (odd tail padded with 0), not folded. */
function sumBytewise(buf: Uint8Array, start: number, end: number): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Sum of an even-length, 4-aligned range read as native 32-bit words, folded and in big-endian order. */
function sumAligned(buf: Uint8Array, start: number, end: number): number {
  const words = (end - start) >>> 2;
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset + start, words);
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = 0;
  for (; i + 4 <= words; i += 4) {
    a += u32[i]!;
    b += u32[i + 1]!;
    c += u32[i + 2]!;
    d += u32[i + 3]!;
  }
  for (; i < words; i++) a += u32[i]!;
  let s = fold(a + b + c + d);
  if (LITTLE_ENDIAN) s = swap16(s);
  // A trailing 16-bit word (length ≡ 2 mod 4).
  const tail = start + words * 4;
  if (tail < end) s += sumBytewise(buf, tail, end);
  return s;
}

/**
 * The one's complement sum of `buf[start, end)` taken as big-endian 16-bit
 * words (an odd final byte is padded with zero), plus `initial`, folded to 16
 * bits. Not complemented: combine partial sums with it, then {@link finish}.
 * Note: a part that does not start at an even offset of the checksummed whole
 * must be summed separately and byte-swapped (RFC 1071 §2(B)); the TCP/UDP
 * layers only ever sum even-aligned parts.
 */
export function onesComplementSum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  let sum = initial;
  let i = start;
  // Bring the read position to 4-byte memory alignment, 16 bits at a time;
  // an odd memory address cannot be aligned that way, so it takes the bytewise path.
  const addr = buf.byteOffset + i;
  if ((addr & 1) !== 0 || end - i < SMALL) return fold(sum + sumBytewise(buf, i, end));
  if ((addr & 2) !== 0) {
    sum += (buf[i]! << 8) | buf[i + 1]!;
    i += 2;
  }
  while (end - i >= 4) {
    const len = Math.min(end - i, MAX_FAST_BYTES) & ~3;
    sum = fold(sum + sumAligned(buf, i, i + len));
    i += len;
  }
  return fold(sum + sumBytewise(buf, i, end));
}

/** The checksum field value for a folded sum: its one's complement, 16 bits. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** The Internet checksum of `buf[start, end)` (the value to put in a header). */
export function internetChecksum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  return finish(onesComplementSum(buf, start, end, initial));
}

/**
 * The one's complement sum of the IPv4 pseudo-header TCP and UDP checksum:
 * source, destination, zero, protocol, upper-layer length (RFC 768, RFC 9293).
 * Addresses are 32-bit numbers (see `Ipv4Address`).
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return fold((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length);
}

/**
 * True when the checksum over `buf[start, end)` (which contains its own
 * checksum field) verifies, i.e. the sum including `initial` is 0xffff.
 */
export function verifyChecksum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): boolean {
  return onesComplementSum(buf, start, end, initial) === 0xffff;
}

/**
 * Incremental update (RFC 1624, eqn. 3) of a checksum field `old` when one
 * 16-bit word of the covered data changes from `oldWord` to `newWord`:
 * HC' = ~(~HC + ~m + m'). Used to decrement a TTL without re-summing.
 */
export function updateChecksum(old: number, oldWord: number, newWord: number): number {
  return ~fold((~old & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** The textbook byte-pair implementation, kept as the reference for tests and benchmarks. */
export function referenceChecksum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) {
    sum += (buf[i]! << 8) + (i + 1 < end ? buf[i + 1]! : 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}
