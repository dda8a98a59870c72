/**
 * SYN cookies (RFC 4987 §3.6, in the layout Linux uses): when a listener's
 * SYN queue is full, the SYN-ACK's sequence number encodes everything needed
 * to rebuild the connection from the client's final ACK, so a SYN flood
 * costs no memory.
 *
 *   ISN = H1(4-tuple) + client ISN + (minute << 24) + ((H2(4-tuple, minute) + mssIndex) mod 2^24)
 *
 * H1 and H2 are SipHash-2-4 under two secrets drawn from the injected Random.
 * A cookie is valid for the minute it was made in and the next two. With
 * timestamps the low 6 bits of the SYN-ACK's TSval carry the client's window
 * scale (4 bits, 15 = none) and SACK-permitted (1 bit), so those options
 * survive too; without timestamps a cookie connection has neither.
 */
import { siphash4u32 } from "./siphash.js";

/** MSS values a cookie can carry (3 bits); the client's MSS is rounded down to one. */
export const COOKIE_MSS_TABLE: readonly number[] = [536, 1220, 1300, 1360, 1440, 1460, 4312, 8960];
const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Minutes (counter steps) a cookie stays valid after the one it was made in. */
const MAX_AGE = 2;
/** Counter step: one minute. */
export const COOKIE_PERIOD_MS = 60_000;

export function cookieMssIndex(mss: number): number {
  let idx = 0;
  for (let i = 0; i < COOKIE_MSS_TABLE.length; i++) if (COOKIE_MSS_TABLE[i]! <= mss) idx = i;
  return idx;
}

export class SynCookies {
  constructor(
    private readonly k1: Uint32Array,
    private readonly k2: Uint32Array,
  ) {}

  /** The cookie (our ISN) for a SYN with sequence number `clientIsn`. */
  make(la: number, ra: number, ports: number, clientIsn: number, now: number, mssIndex: number): number {
    const count = Math.floor(now / COOKIE_PERIOD_MS) >>> 0;
    const h1 = siphash4u32(this.k1, la, ra, ports, 0);
    const h2 = siphash4u32(this.k2, la, ra, ports, count);
    return (h1 + clientIsn + ((count << COOKIE_BITS) | 0) + ((h2 + mssIndex) & COOKIE_MASK)) | 0;
  }

  /**
   * Checks the cookie `cookie` (the ACK number minus one) of an ACK whose
   * sequence number minus one is `clientIsn`. Returns the MSS index, or -1.
   */
  check(la: number, ra: number, ports: number, clientIsn: number, cookie: number, now: number): number {
    const count = Math.floor(now / COOKIE_PERIOD_MS) >>> 0;
    const h1 = siphash4u32(this.k1, la, ra, ports, 0);
    const v = (cookie - h1 - clientIsn) | 0;
    const age = (count - (v >>> COOKIE_BITS)) & 0xff;
    if (age > MAX_AGE) return -1;
    const h2 = siphash4u32(this.k2, la, ra, ports, (count - age) >>> 0);
    const idx = (v - h2) & COOKIE_MASK;
    return idx < COOKIE_MSS_TABLE.length ? idx : -1;
  }
}

/** Options carried in the low 6 bits of a cookie SYN-ACK's TSval. */
export function encodeTsOptions(wscale: number, sackOk: boolean): number {
  return (wscale < 0 ? 0xf : Math.min(wscale, 14)) | (sackOk ? 0x10 : 0);
}

export function decodeTsOptions(tsEcr: number): { wscale: number; sackOk: boolean } {
  const w = tsEcr & 0xf;
  return { wscale: w === 0xf ? -1 : w, sackOk: (tsEcr & 0x10) !== 0 };
}

/** A TSval at or after `tsNow` whose low 6 bits are `bits`. */
export function cookieTsVal(tsNow: number, bits: number): number {
  let v = (tsNow & ~0x3f) | bits;
  if (((v - tsNow) | 0) < 0) v = (v + 0x40) | 0;
  return v | 0;
}
