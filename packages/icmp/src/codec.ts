/**
 * The ICMP for IPv4 wire format (RFC 792): an 8-byte header (type, code,
 * checksum, four type-specific bytes) and a body. Decoding keeps every field,
 * including the checksum as read; encoding writes in place into a caller
 * buffer and computes the checksum.
 */
import { internetChecksum, verifyChecksum } from "@morgana/checksum";
import { DecodeError, MorganaError, readIpv4, type Ipv4Address } from "@morgana/interfaces";

/** The ICMP header: type, code, checksum and four type-specific bytes. */
export const ICMP_HEADER_LENGTH = 8;

/** ICMP message types (RFC 792, RFC 950, RFC 1256). */
export const IcmpType = {
  ECHO_REPLY: 0,
  DESTINATION_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  ROUTER_ADVERTISEMENT: 9,
  ROUTER_SOLICITATION: 10,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
  TIMESTAMP: 13,
  TIMESTAMP_REPLY: 14,
  INFORMATION_REQUEST: 15,
  INFORMATION_REPLY: 16,
  ADDRESS_MASK_REQUEST: 17,
  ADDRESS_MASK_REPLY: 18,
} as const;

/** Codes of Destination Unreachable (type 3; RFC 792, RFC 1122, RFC 1812). */
export const UnreachableCode = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAGMENTATION_NEEDED: 4,
  SOURCE_ROUTE_FAILED: 5,
  NET_UNKNOWN: 6,
  HOST_UNKNOWN: 7,
  HOST_ISOLATED: 8,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  NET_TOS: 11,
  HOST_TOS: 12,
  ADMIN_PROHIBITED: 13,
  PRECEDENCE_VIOLATION: 14,
  PRECEDENCE_CUTOFF: 15,
} as const;

/**
 * True for the ICMP error message types (RFC 1122 §3.2.2): destination
 * unreachable, source quench, redirect, time exceeded, parameter problem.
 */
export function isIcmpErrorType(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** True for the query types whose bytes 4-7 are an identifier and a sequence number. */
export function hasIdentifier(type: number): boolean {
  return type === 0 || type === 8 || (type >= 13 && type <= 18);
}

/** A decoded ICMP message. Optional fields are present only for the types that have them. */
export interface IcmpMessage {
  readonly type: number;
  readonly code: number;
  /** The checksum field as read. */
  readonly checksum: number;
  /** Whether the checksum over the whole message verifies. */
  readonly checksumValid: boolean;
  /** Bytes 4-7 as an unsigned 32-bit number ("unused" in most errors). */
  readonly rest: number;
  /** Echo, timestamp, information and address mask messages: bytes 4-5. */
  readonly identifier?: number;
  /** Echo, timestamp, information and address mask messages: bytes 6-7. */
  readonly sequence?: number;
  /** Destination unreachable code 4: the next-hop MTU (RFC 1191) in bytes 6-7; 0 when not given. */
  readonly nextHopMtu?: number;
  /** Parameter problem: the pointer in byte 4. */
  readonly pointer?: number;
  /** Redirect: the gateway address in bytes 4-7. */
  readonly gateway?: Ipv4Address;
  /** The bytes after the 8-byte header (a view into the input). */
  readonly body: Uint8Array;
}

/**
 * Decodes an ICMP message (the whole IP payload). Throws
 * `DecodeError("icmp", offset, reason)` when it is shorter than the 8-byte
 * header; a wrong checksum is not an error (see `checksumValid`).
 */
export function decodeIcmp(bytes: Uint8Array): IcmpMessage {
  if (bytes.length < ICMP_HEADER_LENGTH) {
    throw new DecodeError("icmp", bytes.length, `truncated header: ${bytes.length} of ${ICMP_HEADER_LENGTH} bytes`);
  }
  const type = bytes[0]!;
  const code = bytes[1]!;
  const checksum = (bytes[2]! << 8) | bytes[3]!;
  const rest = readIpv4(bytes, 4) as number;
  const msg: {
    -readonly [K in keyof IcmpMessage]: IcmpMessage[K];
  } = { type, code, checksum, checksumValid: verifyChecksum(bytes), rest, body: bytes.subarray(ICMP_HEADER_LENGTH) };
  if (hasIdentifier(type)) {
    msg.identifier = rest >>> 16;
    msg.sequence = rest & 0xffff;
  } else if (type === 3 && code === 4) {
    msg.nextHopMtu = rest & 0xffff;
  } else if (type === 12) {
    msg.pointer = rest >>> 24;
  } else if (type === 5) {
    msg.gateway = rest as Ipv4Address;
  }
  return msg;
}

/** The IP datagram an ICMP error quotes: its header fields and the upper-layer bytes. */
export interface QuotedDatagram {
  /** Header length in bytes (IHL × 4). */
  readonly headerLength: number;
  readonly tos: number;
  readonly totalLength: number;
  readonly id: number;
  /** The three flag bits (reserved, DF, MF) as 0..7. */
  readonly flags: number;
  /** In 8-byte units. */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly headerChecksum: number;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  /** The quoted IP header, options included (a view). */
  readonly header: Uint8Array;
  /** The quoted upper-layer bytes, at least 8 (a view). */
  readonly data: Uint8Array;
}

/** The smallest quote this package accepts: a 20-byte IP header and 8 upper-layer bytes. */
export const MIN_QUOTE_LENGTH = 28;

/**
 * Parses the datagram quoted in the body of an ICMP error (destination
 * unreachable, source quench, redirect, time exceeded, parameter problem).
 * Requires an IPv4 header (version 4, IHL ≥ 5) and at least 8 bytes of its
 * upper-layer data (RFC 792). Throws `DecodeError("icmp", offset, reason)`
 * with offsets counted from the start of the ICMP message (`base` = 8 for the
 * body of a message).
 */
export function decodeQuotedDatagram(body: Uint8Array, base = ICMP_HEADER_LENGTH): QuotedDatagram {
  if (body.length < MIN_QUOTE_LENGTH) {
    throw new DecodeError("icmp", base + body.length, `quoted datagram too short: ${body.length} bytes, need ${MIN_QUOTE_LENGTH}`);
  }
  const version = body[0]! >>> 4;
  if (version !== 4) throw new DecodeError("icmp", base, `quoted datagram has IP version ${version}`);
  const headerLength = (body[0]! & 0x0f) * 4;
  if (headerLength < 20) throw new DecodeError("icmp", base, `quoted header length ${headerLength} below 20`);
  if (body.length < headerLength + 8) {
    throw new DecodeError("icmp", base + body.length, `quoted datagram has ${body.length - headerLength} upper-layer bytes, need 8`);
  }
  return {
    headerLength,
    tos: body[1]!,
    totalLength: (body[2]! << 8) | body[3]!,
    id: (body[4]! << 8) | body[5]!,
    flags: body[6]! >>> 5,
    fragmentOffset: ((body[6]! & 0x1f) << 8) | body[7]!,
    ttl: body[8]!,
    protocol: body[9]!,
    headerChecksum: (body[10]! << 8) | body[11]!,
    src: readIpv4(body, 12),
    dst: readIpv4(body, 16),
    header: body.subarray(0, headerLength),
    data: body.subarray(headerLength),
  };
}

/** What {@link encodeIcmp} writes. */
export interface IcmpEncodeInput {
  readonly type: number;
  readonly code?: number;
  /** Bytes 4-7; ignored when `identifier` or `sequence` is given. Default 0. */
  readonly rest?: number;
  readonly identifier?: number;
  readonly sequence?: number;
  readonly body?: Uint8Array;
  /** Write this checksum instead of computing it (to build corrupt messages in tests). */
  readonly checksum?: number;
}

function checkU(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new MorganaError("EINVAL", `encodeIcmp: ${name} must be an integer in 0..${max}, not ${v}`);
}

/** The encoded length of `msg`: 8 + body length. */
export function icmpLength(msg: IcmpEncodeInput): number {
  return ICMP_HEADER_LENGTH + (msg.body?.length ?? 0);
}

/**
 * Writes `msg` into `buf` at `offset` and returns the number of bytes
 * written. The checksum is computed over the written message unless given.
 * `EINVAL` for out-of-range fields or a buffer too small.
 */
export function encodeIcmpInto(buf: Uint8Array, offset: number, msg: IcmpEncodeInput): number {
  const code = msg.code ?? 0;
  checkU("type", msg.type, 255);
  checkU("code", code, 255);
  let rest = msg.rest ?? 0;
  if (msg.identifier !== undefined || msg.sequence !== undefined) {
    const id = msg.identifier ?? 0;
    const seq = msg.sequence ?? 0;
    checkU("identifier", id, 0xffff);
    checkU("sequence", seq, 0xffff);
    rest = id * 65536 + seq;
  }
  checkU("rest", rest, 0xffff_ffff);
  const len = icmpLength(msg);
  if (!Number.isInteger(offset) || offset < 0 || offset + len > buf.length) {
    throw new MorganaError("EINVAL", `encodeIcmp: ${len} bytes do not fit at offset ${offset} of a ${buf.length}-byte buffer`);
  }
  buf[offset] = msg.type;
  buf[offset + 1] = code;
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
  buf[offset + 4] = rest >>> 24;
  buf[offset + 5] = rest >>> 16;
  buf[offset + 6] = rest >>> 8;
  buf[offset + 7] = rest;
  if (msg.body !== undefined) buf.set(msg.body, offset + ICMP_HEADER_LENGTH);
  let sum: number;
  if (msg.checksum !== undefined) {
    checkU("checksum", msg.checksum, 0xffff);
    sum = msg.checksum;
  } else {
    sum = internetChecksum(buf, offset, offset + len);
  }
  buf[offset + 2] = sum >>> 8;
  buf[offset + 3] = sum;
  return len;
}

/** Encodes `msg` into a new buffer of exactly its length. */
export function encodeIcmp(msg: IcmpEncodeInput): Uint8Array {
  const buf = new Uint8Array(icmpLength(msg));
  encodeIcmpInto(buf, 0, msg);
  return buf;
}
