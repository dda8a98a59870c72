/**
 * The IPv4 header wire format (RFC 791 §3.1): a decoder that keeps every field
 * (for dissectors as well as the receive path), an encoder writing into a
 * caller's buffer, and small helpers.
 */
import { finish, onesComplementSum } from "@morgana/checksum";
import {
  DecodeError,
  MorganaError,
  isMulticastIpv4,
  readIpv4,
  writeIpv4,
  type Ipv4Address,
  type MacAddress,
} from "@morgana/interfaces";

/** Largest value of the 16-bit total length field. */
export const IPV4_MAX_TOTAL_LENGTH = 65535;
/** Largest payload a datagram with a minimal (20-byte) header can carry. */
export const IPV4_MAX_PAYLOAD = 65515;
/** Largest header (IHL 15). */
export const IPV4_MAX_HEADER_LENGTH = 60;

const FLAG_RESERVED = 0x8000;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;

/** The three flag bits of byte 6. */
export interface Ipv4Flags {
  /** Bit 0, "must be zero" (RFC 791); RFC 3514's evil bit. */
  readonly reserved: boolean;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
}

/** A decoded IPv4 header with views of its options and payload. */
export interface Ipv4Header {
  /** Always 4 (other versions are a {@link DecodeError}). */
  readonly version: number;
  /** IHL × 4: 20 to 60 bytes. */
  readonly headerLength: number;
  /** The whole DS field byte (byte 1). */
  readonly tos: number;
  /** The upper six bits of `tos`. */
  readonly dscp: number;
  /** The lower two bits of `tos`. */
  readonly ecn: number;
  readonly totalLength: number;
  readonly id: number;
  readonly flags: Ipv4Flags;
  /** In bytes (the field's 8-byte units × 8): 0 to 65528. */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  /** The header checksum as read. */
  readonly checksum: number;
  /** Whether the header checksum verifies. A bad checksum is not a decode error. */
  readonly checksumValid: boolean;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  /** A view of the option bytes (headerLength − 20 bytes, possibly empty), padding included. */
  readonly options: Uint8Array;
  /** A view of the payload, trimmed to the total length (trailing link padding excluded). */
  readonly payload: Uint8Array;
}

/** What {@link encodeIpv4Header} writes. Absent fields take the defaults noted. */
export interface Ipv4HeaderInit {
  /** The DS field byte, default 0. */
  readonly tos?: number;
  /** Header plus payload, 20..65535 and at least the header length. */
  readonly totalLength: number;
  /** Default 0. */
  readonly id?: number;
  /** Default all clear. */
  readonly flags?: Partial<Ipv4Flags>;
  /** In bytes, a multiple of 8 from 0 to 65528; default 0. */
  readonly fragmentOffset?: number;
  /** Default 64. */
  readonly ttl?: number;
  readonly protocol: number;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  /** Option bytes, padded by the caller to a multiple of 4, at most 40; default none. */
  readonly options?: Uint8Array;
  /** Written as is instead of the computed checksum (to build bad headers in tests). */
  readonly checksum?: number;
}

/**
 * The structural problems of an IPv4 packet, also used as the receive path's
 * drop reasons. `undefined` means the header is well formed.
 */
export type Ipv4StructureProblem = "short" | "version" | "header-length" | "header-truncated" | "total-length" | "truncated";

/**
 * Checks the structure of the IPv4 packet at the start of `bytes` without
 * allocating: at least 20 bytes, version 4, IHL ≥ 5, the header inside the
 * bytes, the total length between the header length and the bytes available.
 * The checksum is not checked.
 */
export function ipv4StructureProblem(bytes: Uint8Array): Ipv4StructureProblem | undefined {
  const len = bytes.length;
  if (len < 20) return "short";
  const vihl = bytes[0]!;
  if (vihl >>> 4 !== 4) return "version";
  const hl = (vihl & 0x0f) * 4;
  if (hl < 20) return "header-length";
  if (hl > len) return "header-truncated";
  const total = (bytes[2]! << 8) | bytes[3]!;
  if (total < hl) return "total-length";
  if (total > len) return "truncated";
  return undefined;
}

function decodeError(bytes: Uint8Array, problem: Ipv4StructureProblem): DecodeError {
  const len = bytes.length;
  switch (problem) {
    case "short":
      return new DecodeError("ipv4", len, `truncated header: ${len} bytes, need 20`);
    case "version":
      return new DecodeError("ipv4", 0, `version ${bytes[0]! >>> 4}, expected 4`);
    case "header-length":
      return new DecodeError("ipv4", 0, `header length ${(bytes[0]! & 0x0f) * 4} below 20`);
    case "header-truncated":
      return new DecodeError("ipv4", len, `header length ${(bytes[0]! & 0x0f) * 4} exceeds the ${len} bytes available`);
    case "total-length":
      return new DecodeError("ipv4", 2, `total length ${(bytes[2]! << 8) | bytes[3]!} below the header length ${(bytes[0]! & 0x0f) * 4}`);
    case "truncated":
      return new DecodeError("ipv4", 2, `total length ${(bytes[2]! << 8) | bytes[3]!} exceeds the ${len} bytes available`);
  }
}

/**
 * Decodes the IPv4 packet at the start of `bytes` (bytes beyond the total
 * length, such as Ethernet padding, are ignored). Throws {@link DecodeError}
 * (layer `ipv4`) for structural errors; a wrong checksum is reported in
 * `checksumValid`. Options are returned as raw bytes; see {@link decodeIpv4Options}.
 */
export function decodeIpv4(bytes: Uint8Array): Ipv4Header {
  const problem = ipv4StructureProblem(bytes);
  if (problem !== undefined) throw decodeError(bytes, problem);
  const tos = bytes[1]!;
  const hl = (bytes[0]! & 0x0f) * 4;
  const total = (bytes[2]! << 8) | bytes[3]!;
  const ff = (bytes[6]! << 8) | bytes[7]!;
  return {
    version: 4,
    headerLength: hl,
    tos,
    dscp: tos >>> 2,
    ecn: tos & 3,
    totalLength: total,
    id: (bytes[4]! << 8) | bytes[5]!,
    flags: { reserved: (ff & FLAG_RESERVED) !== 0, dontFragment: (ff & FLAG_DF) !== 0, moreFragments: (ff & FLAG_MF) !== 0 },
    fragmentOffset: (ff & 0x1fff) * 8,
    ttl: bytes[8]!,
    protocol: bytes[9]!,
    checksum: (bytes[10]! << 8) | bytes[11]!,
    checksumValid: onesComplementSum(bytes, 0, hl) === 0xffff,
    src: readIpv4(bytes, 12),
    dst: readIpv4(bytes, 16),
    options: bytes.subarray(20, hl),
    payload: bytes.subarray(hl, total),
  };
}

function checkField(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MorganaError("EINVAL", `ipv4: ${name} ${value} is not an integer in ${min}..${max}`);
  }
}

/**
 * The header checksum of a 20-byte header with these fields, from the values
 * (no reading back), plus `extra` (the folded sum of any options).
 */
export function headerChecksum(
  tos: number,
  totalLength: number,
  id: number,
  flagsAndOffset: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
  ihl = 5,
  extra = 0,
): number {
  return finish(
    ((0x40 | ihl) << 8) + tos + totalLength + id + flagsAndOffset + ((ttl << 8) | protocol) +
      (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + extra,
  );
}

/**
 * Writes a 20-byte header without options at `buf[off]`, checksum included.
 * No validation: the receive and send paths of this package call it with
 * checked values.
 */
export function writeIpv4Header20(
  buf: Uint8Array,
  off: number,
  tos: number,
  totalLength: number,
  id: number,
  flagsAndOffset: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
): void {
  buf[off] = 0x45;
  buf[off + 1] = tos;
  buf[off + 2] = totalLength >>> 8;
  buf[off + 3] = totalLength;
  buf[off + 4] = id >>> 8;
  buf[off + 5] = id;
  buf[off + 6] = flagsAndOffset >>> 8;
  buf[off + 7] = flagsAndOffset;
  buf[off + 8] = ttl;
  buf[off + 9] = protocol;
  writeIpv4(buf, off + 12, src as Ipv4Address);
  writeIpv4(buf, off + 16, dst as Ipv4Address);
  const c = headerChecksum(tos, totalLength, id, flagsAndOffset, ttl, protocol, src, dst);
  buf[off + 10] = c >>> 8;
  buf[off + 11] = c;
}

/**
 * Encodes an IPv4 header into `buf` at `offset` and returns its length
 * (20 + options). The checksum is computed unless `fields.checksum` is given.
 * Throws `EINVAL` for a field out of range or a buffer too small.
 */
export function encodeIpv4Header(buf: Uint8Array, offset: number, fields: Ipv4HeaderInit): number {
  const options = fields.options ?? EMPTY;
  if (options.length % 4 !== 0 || options.length > 40) {
    throw new MorganaError("EINVAL", `ipv4: options are ${options.length} bytes, need a multiple of 4 up to 40`);
  }
  const hl = 20 + options.length;
  const tos = fields.tos ?? 0;
  const id = fields.id ?? 0;
  const ttl = fields.ttl ?? 64;
  const fragmentOffset = fields.fragmentOffset ?? 0;
  checkField("offset", offset, 0, Number.MAX_SAFE_INTEGER);
  if (offset + hl > buf.length) throw new MorganaError("EINVAL", `ipv4: a ${hl}-byte header does not fit at offset ${offset} of ${buf.length} bytes`);
  checkField("tos", tos, 0, 255);
  checkField("total length", fields.totalLength, hl, IPV4_MAX_TOTAL_LENGTH);
  checkField("id", id, 0, 0xffff);
  checkField("fragment offset", fragmentOffset, 0, 0x1fff * 8);
  if (fragmentOffset % 8 !== 0) throw new MorganaError("EINVAL", `ipv4: fragment offset ${fragmentOffset} is not a multiple of 8`);
  checkField("ttl", fields.ttl ?? 64, 0, 255);
  checkField("protocol", fields.protocol, 0, 255);
  checkField("src", fields.src, 0, 0xffff_ffff);
  checkField("dst", fields.dst, 0, 0xffff_ffff);
  if (fields.checksum !== undefined) checkField("checksum", fields.checksum, 0, 0xffff);
  const f = fields.flags;
  const ff =
    (f?.reserved === true ? FLAG_RESERVED : 0) | (f?.dontFragment === true ? FLAG_DF : 0) | (f?.moreFragments === true ? FLAG_MF : 0) |
    (fragmentOffset >>> 3);
  buf[offset] = 0x40 | (hl >>> 2);
  buf[offset + 1] = tos;
  buf[offset + 2] = fields.totalLength >>> 8;
  buf[offset + 3] = fields.totalLength;
  buf[offset + 4] = id >>> 8;
  buf[offset + 5] = id;
  buf[offset + 6] = ff >>> 8;
  buf[offset + 7] = ff;
  buf[offset + 8] = ttl;
  buf[offset + 9] = fields.protocol;
  writeIpv4(buf, offset + 12, fields.src);
  writeIpv4(buf, offset + 16, fields.dst);
  buf.set(options, offset + 20);
  const c =
    fields.checksum ??
    headerChecksum(tos, fields.totalLength, id, ff, ttl, fields.protocol, fields.src, fields.dst, hl >>> 2, options.length > 0 ? onesComplementSum(options) : 0);
  buf[offset + 10] = c >>> 8;
  buf[offset + 11] = c;
  return hl;
}

const EMPTY = new Uint8Array(0);

/**
 * Allocates a whole datagram: the header from `fields` (its `totalLength` is
 * replaced by header + payload) followed by `payload`.
 */
export function encodeIpv4(fields: Omit<Ipv4HeaderInit, "totalLength">, payload: Uint8Array = EMPTY): Uint8Array {
  const hl = 20 + (fields.options?.length ?? 0);
  const totalLength = hl + payload.length;
  if (totalLength > IPV4_MAX_TOTAL_LENGTH) throw new MorganaError("EMSGSIZE", `ipv4: datagram of ${totalLength} bytes exceeds 65535`);
  const out = new Uint8Array(totalLength);
  encodeIpv4Header(out, 0, { ...fields, totalLength });
  out.set(payload, hl);
  return out;
}

/** One option of an IPv4 header. */
export interface Ipv4Option {
  /** The whole type octet. */
  readonly type: number;
  /** Copied-into-fragments flag (bit 0 of the type). */
  readonly copied: boolean;
  /** Option class (bits 1-2): 0 control, 2 debugging and measurement. */
  readonly optionClass: number;
  /** Option number (bits 3-7). */
  readonly number: number;
  /** The option's length octet (1 for End of Option List and No Operation). */
  readonly length: number;
  /** A view of the option data (after type and length). */
  readonly data: Uint8Array;
}

/**
 * Splits option bytes (as in {@link Ipv4Header.options}) into options. End of
 * Option List (type 0) ends the list: what follows is padding. Throws
 * {@link DecodeError} for a length octet that is missing, below 2, or beyond
 * the options; `base` is added to offsets in errors (20: the options' offset
 * in the header).
 */
export function decodeIpv4Options(options: Uint8Array, base = 20): Ipv4Option[] {
  const out: Ipv4Option[] = [];
  let i = 0;
  while (i < options.length) {
    const type = options[i]!;
    const head = { type, copied: (type & 0x80) !== 0, optionClass: (type >>> 5) & 3, number: type & 0x1f };
    if (type === 0 || type === 1) {
      out.push({ ...head, length: 1, data: options.subarray(i + 1, i + 1) });
      i++;
      if (type === 0) break;
      continue;
    }
    if (i + 1 >= options.length) throw new DecodeError("ipv4", base + i + 1, `option ${type} has no length octet`);
    const len = options[i + 1]!;
    if (len < 2) throw new DecodeError("ipv4", base + i + 1, `option ${type} has length ${len}, below 2`);
    if (i + len > options.length) throw new DecodeError("ipv4", base + i + 1, `option ${type} of length ${len} overruns the options`);
    out.push({ ...head, length: len, data: options.subarray(i + 2, i + len) });
    i += len;
  }
  return out;
}

/**
 * The Ethernet multicast MAC of an IPv4 multicast group (RFC 1112 §6.4):
 * 01:00:5e followed by the low 23 bits of the group. Throws `EINVAL` for an
 * address outside 224.0.0.0/4.
 */
export function multicastMac(group: Ipv4Address): MacAddress {
  if (!isMulticastIpv4(group)) throw new MorganaError("EINVAL", `ipv4: ${group >>> 24}.${(group >>> 16) & 255}.${(group >>> 8) & 255}.${group & 255} is not a multicast address`);
  return (0x01005e000000 + (group & 0x7fffff)) as MacAddress;
}
