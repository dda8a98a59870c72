/**
 * IPv4 and IPv6 address text <-> bytes, as used by A, AAAA and SVCB hints.
 * IPv6 text is RFC 5952 canonical (lower case, longest zero run compressed,
 * `::ffff:a.b.c.d` for IPv4-mapped addresses), which is also how tshark
 * prints `dns.aaaa`.
 */
import { invalid } from "./errors.js";

/** Writes the dotted-quad `text` at `buf[off..off+4)`; throws EINVAL when malformed. */
export function writeIpv4Text(text: string, buf: Uint8Array, off: number): void {
  let part = 0;
  let v = 0;
  let digits = 0;
  const len = text.length;
  for (let i = 0; i <= len; i++) {
    const c = i < len ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) throw invalid(`bad IPv4 address ${JSON.stringify(text)}`);
      buf[off + part++] = v;
      v = 0;
      digits = 0;
      continue;
    }
    const d = c - 0x30;
    if (d < 0 || d > 9 || (digits > 0 && v === 0)) throw invalid(`bad IPv4 address ${JSON.stringify(text)}`);
    v = v * 10 + d;
    if (v > 255) throw invalid(`bad IPv4 address ${JSON.stringify(text)}`);
    digits++;
  }
  if (part !== 4) throw invalid(`bad IPv4 address ${JSON.stringify(text)}`);
}

export function formatIpv4(buf: Uint8Array, off: number): string {
  return `${buf[off]!}.${buf[off + 1]!}.${buf[off + 2]!}.${buf[off + 3]!}`;
}

export function isIpv4Text(text: string): boolean {
  try {
    writeIpv4Text(text, new Uint8Array(4), 0);
    return true;
  } catch {
    return false;
  }
}

const GROUPS = new Uint16Array(8);
const V4 = new Uint8Array(4);

/** Writes the IPv6 address `text` (any RFC 4291 form, with an optional embedded IPv4) at `buf[off..off+16)`. */
export function writeIpv6Text(text: string, buf: Uint8Array, off: number): void {
  parseIpv6(text, buf, off);
}

function parseIpv6(text: string, buf: Uint8Array, off: number): void {
  const len = text.length;
  if (len < 2 || len > 45) throw badIpv6(text);
  const g = GROUPS;
  let n = 0; // groups parsed
  let gap = -1; // index in g where "::" stands
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) throw badIpv6(text);
    gap = 0;
    i = 2;
  }
  while (i < len) {
    let v = 0;
    let digits = 0;
    const fieldStart = i;
    for (; i < len; i++) {
      const c = text.charCodeAt(i);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) break;
      v = (v << 4) | d;
      digits++;
    }
    if (i < len && text.charCodeAt(i) === 0x2e) {
      // An embedded IPv4 address ends the text.
      if (n > 6) throw badIpv6(text);
      writeIpv4Text(text.slice(fieldStart), V4, 0);
      g[n++] = (V4[0]! << 8) | V4[1]!;
      g[n++] = (V4[2]! << 8) | V4[3]!;
      i = len;
      break;
    }
    if (digits === 0 || digits > 4 || n >= 8) throw badIpv6(text);
    g[n++] = v;
    if (i === len) break;
    if (text.charCodeAt(i) !== 0x3a) throw badIpv6(text);
    i++;
    if (i < len && text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) throw badIpv6(text);
      gap = n;
      i++;
    } else if (i === len) throw badIpv6(text);
  }
  if (gap < 0 ? n !== 8 : n > 7) throw badIpv6(text);
  const zeros = 8 - n;
  let o = off;
  for (let k = 0; k < n; k++) {
    if (k === gap) for (let z = 0; z < zeros; z++, o += 2) buf[o] = buf[o + 1] = 0;
    buf[o] = g[k]! >> 8;
    buf[o + 1] = g[k]!;
    o += 2;
  }
  if (gap === n) for (let z = 0; z < zeros; z++, o += 2) buf[o] = buf[o + 1] = 0;
}

function badIpv6(text: string): Error {
  return invalid(`bad IPv6 address ${JSON.stringify(text)}`);
}

export function isIpv6Text(text: string): boolean {
  try {
    writeIpv6Text(text, new Uint8Array(16), 0);
    return true;
  } catch {
    return false;
  }
}

const G = new Uint16Array(8);

// Small direct-mapped caches: servers and resolvers see the same addresses
// again and again. Bounded: 256 formatted addresses.
const fmtKey = new Uint8Array(256 * 16);
const fmtStr: string[] = new Array<string>(256).fill("");

/** RFC 5952 text of the 16 bytes at `buf[off..off+16)`. */
export function formatIpv6(buf: Uint8Array, off: number): string {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ buf[off + i]!, 16777619);
  const slot = (h ^ (h >>> 8) ^ (h >>> 16) ^ (h >>> 24)) & 255;
  const k = slot << 4;
  let i = 0;
  while (i < 16 && fmtKey[k + i] === buf[off + i]) i++;
  if (i === 16 && fmtStr[slot] !== "") return fmtStr[slot]!;
  const s = formatIpv6Uncached(buf, off);
  for (let j = 0; j < 16; j++) fmtKey[k + j] = buf[off + j]!;
  fmtStr[slot] = s;
  return s;
}

function formatIpv6Uncached(buf: Uint8Array, off: number): string {
  const g = G;
  for (let k = 0; k < 8; k++) g[k] = (buf[off + 2 * k]! << 8) | buf[off + 2 * k + 1]!;
  // IPv4-mapped (RFC 5952 §5).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${buf[off + 12]!}.${buf[off + 13]!}.${buf[off + 14]!}.${buf[off + 15]!}`;
  }
  // Longest run of zero groups (length >= 2), the first one on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  let s = "";
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      s += k === 0 ? "::" : ":";
      k += bestLen - 1;
      continue;
    }
    s += HEX[g[k]!] ?? g[k]!.toString(16);
    if (k < 7) s += ":";
  }
  return s;
}

const HEX: string[] = [];
for (let i = 0; i < 4096; i++) HEX.push(i.toString(16));
