/**
 * The TCP wire format (RFC 9293 §3.1) and its options: MSS (RFC 9293),
 * window scale and timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018).
 *
 * Decoding never throws for bad options: a malformed option list is reported
 * in `optionsError` with the options decoded before it (a dissector still
 * wants the header fields, and the state machine drops the segment).
 */
import { finish, onesComplementSum, pseudoHeaderSum } from "@morgana/checksum";
import { DecodeError, IPPROTO_TCP, MorganaError, type Ipv4Address } from "@morgana/interfaces";

export const TCP_HEADER_LENGTH = 20;
export const TCP_MAX_HEADER_LENGTH = 60;

/** Flag bits of byte 13 (and the AE bit, RFC 9768, in byte 12's low bit). */
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export const OPT_EOL = 0;
export const OPT_NOP = 1;
export const OPT_MSS = 2;
export const OPT_WSCALE = 3;
export const OPT_SACK_PERMITTED = 4;
export const OPT_SACK = 5;
export const OPT_TIMESTAMP = 8;

/** A SACK block: bytes [left, right) in sequence space (32-bit, unsigned). */
export interface SackBlock {
  readonly left: number;
  readonly right: number;
}

/** The options TCP understands; unknown options are listed in `unknown`. */
export interface TcpOptions {
  mss?: number;
  /** Window scale shift as sent (RFC 7323 caps its use at 14). */
  wscale?: number;
  sackPermitted?: boolean;
  sack?: SackBlock[];
  /** Timestamp value and echo reply. */
  tsVal?: number;
  tsEcr?: number;
  /** Kinds of options that were present but not understood. */
  unknown?: number[];
}

export interface TcpHeader {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** Data offset × 4: 20 to 60. */
  readonly headerLength: number;
  /** The 8 flag bits of byte 13 (CWR ECE URG ACK PSH RST SYN FIN), plus 0x100 for AE (byte 12 bit 0). */
  readonly flags: number;
  readonly window: number;
  readonly checksum: number;
  readonly urgentPointer: number;
  readonly options: TcpOptions;
  /** Set when the option bytes are malformed (the options before the fault are kept). */
  readonly optionsError?: string;
  /** The segment's data (a view). */
  readonly payload: Uint8Array;
}

/**
 * Decodes a TCP segment (the whole IP payload). Throws `DecodeError("tcp",
 * offset, reason)` when the input is shorter than 20 bytes or the data offset
 * is below 5 or beyond the input. Checksums are not verified here: see
 * {@link verifyTcpChecksum}.
 */
export function decodeTcp(bytes: Uint8Array): TcpHeader {
  if (bytes.length < TCP_HEADER_LENGTH) {
    throw new DecodeError("tcp", bytes.length, `truncated header: ${bytes.length} of 20 bytes`);
  }
  const hl = (bytes[12]! >>> 4) * 4;
  if (hl < TCP_HEADER_LENGTH) throw new DecodeError("tcp", 12, `data offset ${hl / 4} below 5`);
  if (hl > bytes.length) throw new DecodeError("tcp", 12, `header length ${hl} beyond the ${bytes.length} bytes received`);
  const options: TcpOptions = {};
  const optionsError = decodeOptions(bytes, TCP_HEADER_LENGTH, hl, options);
  const h: TcpHeader = {
    srcPort: (bytes[0]! << 8) | bytes[1]!,
    dstPort: (bytes[2]! << 8) | bytes[3]!,
    seq: ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0,
    ack: ((bytes[8]! << 24) | (bytes[9]! << 16) | (bytes[10]! << 8) | bytes[11]!) >>> 0,
    headerLength: hl,
    flags: bytes[13]! | ((bytes[12]! & 1) << 8),
    window: (bytes[14]! << 8) | bytes[15]!,
    checksum: (bytes[16]! << 8) | bytes[17]!,
    urgentPointer: (bytes[18]! << 8) | bytes[19]!,
    options,
    payload: bytes.subarray(hl),
  };
  return optionsError === undefined ? h : { ...h, optionsError };
}

/**
 * Parses the option bytes `[start, end)` into `out`; returns an error string
 * for malformed input (options decoded before it stay in `out`).
 */
export function decodeOptions(b: Uint8Array, start: number, end: number, out: TcpOptions): string | undefined {
  let i = start;
  while (i < end) {
    const kind = b[i]!;
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return `option ${kind} at offset ${i} has no length byte`;
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return `option ${kind} at offset ${i} has bad length ${len}`;
    switch (kind) {
      case OPT_MSS:
        if (len !== 4) return `MSS option length ${len}, expected 4`;
        out.mss = (b[i + 2]! << 8) | b[i + 3]!;
        break;
      case OPT_WSCALE:
        if (len !== 3) return `window scale option length ${len}, expected 3`;
        out.wscale = b[i + 2]!;
        break;
      case OPT_SACK_PERMITTED:
        if (len !== 2) return `SACK-permitted option length ${len}, expected 2`;
        out.sackPermitted = true;
        break;
      case OPT_SACK: {
        if ((len - 2) % 8 !== 0 || len < 10) return `SACK option length ${len}, expected 2 + 8n`;
        const blocks: SackBlock[] = [];
        for (let j = i + 2; j < i + len; j += 8) blocks.push({ left: readU32(b, j), right: readU32(b, j + 4) });
        out.sack = blocks;
        break;
      }
      case OPT_TIMESTAMP:
        if (len !== 10) return `timestamp option length ${len}, expected 10`;
        out.tsVal = readU32(b, i + 2);
        out.tsEcr = readU32(b, i + 6);
        break;
      default:
        (out.unknown ??= []).push(kind);
    }
    i += len;
  }
  return undefined;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/**
 * The bytes the options take when encoded by {@link encodeOptions}, padded to
 * a multiple of 4. Layout follows Linux: MSS, then SACK-permitted + timestamps
 * packed as NOP NOP TS or SACKOK TS, window scale as NOP WS, SACK blocks as NOP NOP SACK.
 */
export function optionsLength(o: TcpOptions): number {
  let n = 0;
  if (o.mss !== undefined) n += 4;
  if (o.tsVal !== undefined) n += 12; // (NOP NOP | SACKOK) + TS
  else if (o.sackPermitted) n += 4; // NOP NOP SACKOK
  if (o.wscale !== undefined) n += 4; // NOP WS
  if (o.sack !== undefined && o.sack.length > 0) n += 4 + 8 * o.sack.length; // NOP NOP SACK
  return n;
}

/** Writes the options at `offset`; returns the bytes written (a multiple of 4). */
export function encodeOptions(b: Uint8Array, offset: number, o: TcpOptions): number {
  let i = offset;
  if (o.mss !== undefined) {
    b[i] = OPT_MSS;
    b[i + 1] = 4;
    b[i + 2] = o.mss >>> 8;
    b[i + 3] = o.mss;
    i += 4;
  }
  if (o.tsVal !== undefined) {
    if (o.sackPermitted) {
      b[i] = OPT_SACK_PERMITTED;
      b[i + 1] = 2;
    } else {
      b[i] = OPT_NOP;
      b[i + 1] = OPT_NOP;
    }
    b[i + 2] = OPT_TIMESTAMP;
    b[i + 3] = 10;
    writeU32(b, i + 4, o.tsVal);
    writeU32(b, i + 8, o.tsEcr ?? 0);
    i += 12;
  } else if (o.sackPermitted) {
    b[i] = OPT_NOP;
    b[i + 1] = OPT_NOP;
    b[i + 2] = OPT_SACK_PERMITTED;
    b[i + 3] = 2;
    i += 4;
  }
  if (o.wscale !== undefined) {
    b[i] = OPT_NOP;
    b[i + 1] = OPT_WSCALE;
    b[i + 2] = 3;
    b[i + 3] = o.wscale;
    i += 4;
  }
  if (o.sack !== undefined && o.sack.length > 0) {
    b[i] = OPT_NOP;
    b[i + 1] = OPT_NOP;
    b[i + 2] = OPT_SACK;
    b[i + 3] = 2 + 8 * o.sack.length;
    i += 4;
    for (const s of o.sack) {
      writeU32(b, i, s.left);
      writeU32(b, i + 4, s.right);
      i += 8;
    }
  }
  return i - offset;
}

/** What {@link encodeTcpHeader} writes. */
export interface TcpHeaderInit {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** Flag bits as in {@link TcpHeader.flags}. */
  readonly flags: number;
  readonly window: number;
  readonly urgentPointer?: number;
  readonly options?: TcpOptions;
}

/**
 * Writes the header (with options, checksum field zero) at `offset` and
 * returns its length. Throws `EINVAL` for out-of-range fields or options over
 * 40 bytes. The checksum is written by {@link writeTcpChecksum} once the
 * payload is in place.
 */
export function encodeTcpHeader(b: Uint8Array, offset: number, h: TcpHeaderInit): number {
  const optLen = h.options === undefined ? 0 : optionsLength(h.options);
  if (optLen > 40) throw new MorganaError("EINVAL", `tcp: options take ${optLen} bytes, more than 40`);
  const hl = TCP_HEADER_LENGTH + optLen;
  if (offset < 0 || offset + hl > b.length) throw new MorganaError("EINVAL", "tcp: no room for the header");
  b[offset] = h.srcPort >>> 8;
  b[offset + 1] = h.srcPort;
  b[offset + 2] = h.dstPort >>> 8;
  b[offset + 3] = h.dstPort;
  writeU32(b, offset + 4, h.seq);
  writeU32(b, offset + 8, h.ack);
  b[offset + 12] = ((hl / 4) << 4) | ((h.flags >>> 8) & 1);
  b[offset + 13] = h.flags & 0xff;
  b[offset + 14] = h.window >>> 8;
  b[offset + 15] = h.window;
  b[offset + 16] = 0;
  b[offset + 17] = 0;
  const up = h.urgentPointer ?? 0;
  b[offset + 18] = up >>> 8;
  b[offset + 19] = up;
  if (optLen > 0) encodeOptions(b, offset + TCP_HEADER_LENGTH, h.options!);
  return hl;
}

/** Computes and writes the checksum of the `length`-byte segment at `offset`. */
export function writeTcpChecksum(b: Uint8Array, offset: number, length: number, src: Ipv4Address, dst: Ipv4Address): void {
  b[offset + 16] = 0;
  b[offset + 17] = 0;
  const c = finish(onesComplementSum(b, offset, offset + length, pseudoHeaderSum(src, dst, IPPROTO_TCP, length)));
  b[offset + 16] = c >>> 8;
  b[offset + 17] = c;
}

/** True when the segment's checksum verifies for the pseudo-header of `src` → `dst`. */
export function verifyTcpChecksum(segment: Uint8Array, src: Ipv4Address, dst: Ipv4Address): boolean {
  return onesComplementSum(segment, 0, segment.length, pseudoHeaderSum(src, dst, IPPROTO_TCP, segment.length)) === 0xffff;
}

/** A whole segment in a fresh buffer (tests, tools). */
export function encodeTcp(h: TcpHeaderInit, payload: Uint8Array, src: Ipv4Address, dst: Ipv4Address): Uint8Array {
  const hl = TCP_HEADER_LENGTH + (h.options === undefined ? 0 : optionsLength(h.options));
  const b = new Uint8Array(hl + payload.length);
  encodeTcpHeader(b, 0, h);
  b.set(payload, hl);
  writeTcpChecksum(b, 0, b.length, src, dst);
  return b;
}

/** Names of the flags set, for logs: "SYN,ACK". */
export function flagNames(flags: number): string {
  const names: [number, string][] = [[0x100, "AE"], [CWR, "CWR"], [ECE, "ECE"], [URG, "URG"], [ACK, "ACK"], [PSH, "PSH"], [RST, "RST"], [SYN, "SYN"], [FIN, "FIN"]];
  return names.filter(([bit]) => flags & bit).map(([, n]) => n).join(",") || "none";
}
