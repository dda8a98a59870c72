/**
 * Link and network addresses.
 *
 * Inside the stack, addresses are numbers: an IPv4 address is its 32-bit value
 * (0 to 2^32-1) and a MAC address its 48-bit value (0 to 2^48-1), both exact in
 * a JavaScript number. Comparisons, hashing (Map keys) and header read/write are
 * then free of allocation. The brand stops a port or a length being passed where
 * an address is expected: values come from `parse*`, `read*` or the checked
 * constructors {@link ipv4} and {@link mac}.
 *
 * At the application level (`Tcp`, `Udp`, `Stack`), addresses are strings, as
 * in `node:net`.
 */
import { ParseError } from "./errors.js";

declare const ipv4Brand: unique symbol;
declare const macBrand: unique symbol;

/** An IPv4 address as its unsigned 32-bit value; 10.0.0.1 is 0x0a000001. */
export type Ipv4Address = number & { readonly [ipv4Brand]: true };
/** A MAC address as its unsigned 48-bit value; 02:00:00:00:00:01 is 0x020000000001. */
export type MacAddress = number & { readonly [macBrand]: true };

/** An address with a prefix length, as configured on an interface: 10.0.0.2/24. */
export interface Ipv4Prefix {
  readonly address: Ipv4Address;
  /** 0 to 32. */
  readonly length: number;
}

/** A transport endpoint as applications see it, in the shape of Node's `AddressInfo`. */
export interface SocketAddress {
  readonly address: string;
  readonly port: number;
  readonly family: "IPv4" | "IPv6";
}

const TWO32 = 0x1_0000_0000;

/** Checks that `n` is an integer in 0..2^32-1 and brands it; `EINVAL` otherwise. */
export function ipv4(n: number): Ipv4Address {
  if (!Number.isInteger(n) || n < 0 || n >= TWO32) throw new ParseError("IPv4 address", String(n), "not an integer in 0..2^32-1");
  return n as Ipv4Address;
}

/** Checks that `n` is an integer in 0..2^48-1 and brands it; `EINVAL` otherwise. */
export function mac(n: number): MacAddress {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff_ffff) throw new ParseError("MAC address", String(n), "not an integer in 0..2^48-1");
  return n as MacAddress;
}

export const IPV4_ANY = 0 as Ipv4Address;
export const IPV4_BROADCAST = 0xffff_ffff as Ipv4Address;
export const MAC_BROADCAST = 0xffff_ffff_ffff as MacAddress;
export const MAC_ZERO = 0 as MacAddress;

function decimalOctet(s: string): number {
  // One to three digits, no sign, no leading zero (01 could mean octal elsewhere).
  if (s.length === 0 || s.length > 3) return -1;
  if (s.length > 1 && s.charCodeAt(0) === 48) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v <= 255 ? v : -1;
}

/**
 * Parses dotted-quad notation: exactly four decimal octets 0-255 without
 * leading zeros, signs or whitespace. Throws {@link ParseError} (`EINVAL`) otherwise.
 */
export function parseIpv4(text: string): Ipv4Address {
  if (typeof text !== "string") throw new ParseError("IPv4 address", String(text), "not a string");
  const parts = text.split(".");
  if (parts.length !== 4) throw new ParseError("IPv4 address", text, "expected four dot-separated octets");
  let v = 0;
  for (const p of parts) {
    const o = decimalOctet(p);
    if (o < 0) throw new ParseError("IPv4 address", text, `bad octet ${JSON.stringify(p)}`);
    v = v * 256 + o;
  }
  return v as Ipv4Address;
}

/** True when `text` is a valid dotted-quad address as {@link parseIpv4} accepts it. */
export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
}

export function formatIpv4(a: Ipv4Address): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Reads a big-endian IPv4 address at `offset`. The caller checks bounds. */
export function readIpv4(buf: Uint8Array, offset: number): Ipv4Address {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0 as Ipv4Address;
}

export function writeIpv4(buf: Uint8Array, offset: number, a: Ipv4Address): void {
  buf[offset] = a >>> 24;
  buf[offset + 1] = a >>> 16;
  buf[offset + 2] = a >>> 8;
  buf[offset + 3] = a;
}

/** The netmask for a prefix length: 24 gives 0xffffff00. */
export function prefixMask(length: number): number {
  return length === 0 ? 0 : (0xffff_ffff << (32 - length)) >>> 0;
}

/**
 * Parses `A.B.C.D/N` (N from 0 to 32, decimal, no leading zeros). The address
 * keeps its host bits: 10.0.0.2/24 is an interface address in 10.0.0.0/24.
 */
export function parseIpv4Prefix(text: string): Ipv4Prefix {
  if (typeof text !== "string") throw new ParseError("IPv4 prefix", String(text), "not a string");
  const slash = text.indexOf("/");
  if (slash < 0) throw new ParseError("IPv4 prefix", text, "missing /length");
  const lenText = text.slice(slash + 1);
  if (!/^(?:0|[1-9][0-9]?)$/.test(lenText) || Number(lenText) > 32) {
    throw new ParseError("IPv4 prefix", text, `bad prefix length ${JSON.stringify(lenText)}`);
  }
  let address: Ipv4Address;
  try {
    address = parseIpv4(text.slice(0, slash));
  } catch (e) {
    throw new ParseError("IPv4 prefix", text, (e as ParseError).message);
  }
  return { address, length: Number(lenText) };
}

export function formatIpv4Prefix(p: Ipv4Prefix): string {
  return `${formatIpv4(p.address)}/${p.length}`;
}

/** The network address of the prefix (host bits cleared). */
export function prefixNetwork(p: Ipv4Prefix): Ipv4Address {
  return (p.address & prefixMask(p.length)) >>> 0 as Ipv4Address;
}

/** The directed broadcast address of the prefix (host bits set). */
export function prefixBroadcast(p: Ipv4Prefix): Ipv4Address {
  return (p.address | ~prefixMask(p.length)) >>> 0 as Ipv4Address;
}

/** True when `a` lies inside the prefix. */
export function prefixContains(p: Ipv4Prefix, a: Ipv4Address): boolean {
  const m = prefixMask(p.length);
  return ((p.address & m) >>> 0) === ((a & m) >>> 0);
}

/** 224.0.0.0/4. */
export function isMulticastIpv4(a: Ipv4Address): boolean {
  return a >>> 28 === 0xe;
}

/** 127.0.0.0/8. */
export function isLoopbackIpv4(a: Ipv4Address): boolean {
  return a >>> 24 === 127;
}

/**
 * Parses six groups of two hexadecimal digits separated by `:` (or all by `-`),
 * in either case. Throws {@link ParseError} (`EINVAL`) otherwise.
 */
export function parseMac(text: string): MacAddress {
  if (typeof text !== "string") throw new ParseError("MAC address", String(text), "not a string");
  if (!/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}$/.test(text)) {
    throw new ParseError("MAC address", text, "expected six two-digit hex groups separated by ':' or '-'");
  }
  return parseInt(text.replace(/[:-]/g, ""), 16) as MacAddress;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase, colon-separated: 02:00:00:00:00:01 (tshark's convention). */
export function formatMac(m: MacAddress): string {
  const hi = Math.floor(m / TWO32);
  const lo = m >>> 0;
  return `${HEX[hi >>> 8]}:${HEX[hi & 255]}:${HEX[lo >>> 24]}:${HEX[(lo >>> 16) & 255]}:${HEX[(lo >>> 8) & 255]}:${HEX[lo & 255]}`;
}

/** Reads a MAC address at `offset`. The caller checks bounds. */
export function readMac(buf: Uint8Array, offset: number): MacAddress {
  const hi = (buf[offset]! << 8) | buf[offset + 1]!;
  const lo = ((buf[offset + 2]! << 24) | (buf[offset + 3]! << 16) | (buf[offset + 4]! << 8) | buf[offset + 5]!) >>> 0;
  return hi * TWO32 + lo as MacAddress;
}

export function writeMac(buf: Uint8Array, offset: number, m: MacAddress): void {
  const hi = Math.floor(m / TWO32);
  const lo = m >>> 0;
  buf[offset] = hi >>> 8;
  buf[offset + 1] = hi;
  buf[offset + 2] = lo >>> 24;
  buf[offset + 3] = lo >>> 16;
  buf[offset + 4] = lo >>> 8;
  buf[offset + 5] = lo;
}

/** The group bit (least significant bit of the first octet): multicast and broadcast. */
export function isGroupMac(m: MacAddress): boolean {
  return (Math.floor(m / 0x100_0000_0000) & 1) === 1;
}

/** A locally administered unicast MAC (02:xx:...) from 40 random bits, for virtual devices. */
export function localMac(random: { uint32(): number }): MacAddress {
  const hi = 0x0200 | (random.uint32() & 0xff);
  return hi * TWO32 + random.uint32() as MacAddress;
}
