/**
 * The UDP wire format (RFC 768): an 8-byte header (source port, destination
 * port, length, checksum) and the data. The checksum covers a pseudo-header
 * (source and destination address, protocol 17, UDP length), the header and
 * the data; a computed 0 is sent as 0xffff, and 0 on the wire means "no
 * checksum".
 */
import { finish, onesComplementSum, pseudoHeaderSum } from "@morgana/checksum";
import { DecodeError, IPPROTO_UDP, MorganaError, type Ipv4Address } from "@morgana/interfaces";

export const UDP_HEADER_LENGTH = 8;
/** The largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header). */
export const UDP_MAX_PAYLOAD = 65507;

/** A decoded UDP datagram. */
export interface UdpDatagramFields {
  readonly srcPort: number;
  readonly dstPort: number;
  /** The length field: header + data, in bytes. */
  readonly length: number;
  /** The checksum field as read (0: the sender computed none). */
  readonly checksum: number;
  /** The data, `length - 8` bytes: a view into the input (bytes beyond `length` are not part of it). */
  readonly payload: Uint8Array;
}

/**
 * Decodes a UDP datagram (the whole IP payload). Bytes beyond the length field
 * are ignored (trailing padding). Throws `DecodeError("udp", offset, reason)`
 * when the input is shorter than the header, or when the length field is below
 * 8 or beyond the input. The checksum is not verified here: see
 * {@link verifyUdpChecksum}.
 */
export function decodeUdp(bytes: Uint8Array): UdpDatagramFields {
  if (bytes.length < UDP_HEADER_LENGTH) {
    throw new DecodeError("udp", bytes.length, `truncated header: ${bytes.length} of ${UDP_HEADER_LENGTH} bytes`);
  }
  const length = (bytes[4]! << 8) | bytes[5]!;
  if (length < UDP_HEADER_LENGTH) throw new DecodeError("udp", 4, `length field ${length} below the header length 8`);
  if (length > bytes.length) throw new DecodeError("udp", 4, `length field ${length} beyond the ${bytes.length} bytes received`);
  return {
    srcPort: (bytes[0]! << 8) | bytes[1]!,
    dstPort: (bytes[2]! << 8) | bytes[3]!,
    length,
    checksum: (bytes[6]! << 8) | bytes[7]!,
    payload: bytes.subarray(UDP_HEADER_LENGTH, length),
  };
}

/**
 * The checksum field value for the `length`-byte datagram at `offset` of
 * `buf`, sent from `src` to `dst`, whatever its checksum field holds now
 * (bytes 6-7 are skipped). Never 0: a computed 0 is returned as 0xffff.
 */
export function computeUdpChecksum(buf: Uint8Array, src: Ipv4Address, dst: Ipv4Address, offset = 0, length = buf.length - offset): number {
  // The header's first six bytes, then the data (the checksum field is skipped).
  let sum = pseudoHeaderSum(src, dst, IPPROTO_UDP, length);
  sum += ((buf[offset]! << 8) | buf[offset + 1]!) + ((buf[offset + 2]! << 8) | buf[offset + 3]!) + ((buf[offset + 4]! << 8) | buf[offset + 5]!);
  sum = onesComplementSum(buf, offset + UDP_HEADER_LENGTH, offset + length, sum);
  const c = finish(sum);
  return c === 0 ? 0xffff : c;
}


/**
 * True when the datagram's checksum verifies against the pseudo-header of
 * `src`/`dst`, or when its checksum field is 0 (the sender sent none, which
 * RFC 768 allows over IPv4). The sum covers `length` bytes (the length field)
 * when that field is valid, else the whole input. False when `bytes` is
 * shorter than a header.
 */
export function verifyUdpChecksum(bytes: Uint8Array, src: Ipv4Address, dst: Ipv4Address): boolean {
  if (bytes.length < UDP_HEADER_LENGTH) return false;
  if (bytes[6] === 0 && bytes[7] === 0) return true;
  const field = (bytes[4]! << 8) | bytes[5]!;
  const len = field >= UDP_HEADER_LENGTH && field <= bytes.length ? field : bytes.length;
  return udpSumVerifies(bytes, len, src, dst);
}

/** True when the sum over the `length`-byte datagram (checksum field included) and the pseudo-header is 0xffff. */
export function udpSumVerifies(bytes: Uint8Array, length: number, src: Ipv4Address, dst: Ipv4Address): boolean {
  return onesComplementSum(bytes, 0, length, pseudoHeaderSum(src, dst, IPPROTO_UDP, length)) === 0xffff;
}

/** What {@link encodeUdp} writes. */
export interface UdpEncodeInput {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  /**
   * The checksum field to write instead of the computed one (0 sends none);
   * for tests and tools. Default: computed with the pseudo-header.
   */
  readonly checksum?: number;
  /** The length field to write instead of 8 + payload length (to build malformed datagrams). */
  readonly length?: number;
}

function checkPort(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new MorganaError("EINVAL", `encodeUdp: ${name} must be an integer in 0..65535, not ${v}`);
}

/**
 * Writes the header and the checksum of a datagram whose data is already in
 * place at `offset + 8` (the in-place path: a fill callback copies the data,
 * then calls this). `length` is header + data. No validation.
 */
export function writeUdpHeader(
  buf: Uint8Array,
  offset: number,
  srcPort: number,
  dstPort: number,
  length: number,
  src: Ipv4Address,
  dst: Ipv4Address,
): void {
  buf[offset] = srcPort >>> 8;
  buf[offset + 1] = srcPort;
  buf[offset + 2] = dstPort >>> 8;
  buf[offset + 3] = dstPort;
  buf[offset + 4] = length >>> 8;
  buf[offset + 5] = length;
  const c = computeUdpChecksum(buf, src, dst, offset, length);
  buf[offset + 6] = c >>> 8;
  buf[offset + 7] = c;
}

/**
 * Writes a datagram from `src` to `dst` into `buf` at `offset` (header, data,
 * checksum) and returns its length. `EINVAL` for bad ports or a buffer too
 * small, `EMSGSIZE` for a payload above 65507 bytes.
 */
export function encodeUdpInto(buf: Uint8Array, offset: number, d: UdpEncodeInput, src: Ipv4Address, dst: Ipv4Address): number {
  checkPort("srcPort", d.srcPort);
  checkPort("dstPort", d.dstPort);
  if (d.payload.length > UDP_MAX_PAYLOAD) throw new MorganaError("EMSGSIZE", `encodeUdp: ${d.payload.length} bytes above ${UDP_MAX_PAYLOAD}`);
  const n = UDP_HEADER_LENGTH + d.payload.length;
  if (!Number.isInteger(offset) || offset < 0 || offset + n > buf.length) {
    throw new MorganaError("EINVAL", `encodeUdp: ${n} bytes do not fit at offset ${offset} of a ${buf.length}-byte buffer`);
  }
  buf.set(d.payload, offset + UDP_HEADER_LENGTH);
  writeUdpHeader(buf, offset, d.srcPort, d.dstPort, n, src, dst);
  if (d.length !== undefined) {
    checkPort("length", d.length);
    buf[offset + 4] = d.length >>> 8;
    buf[offset + 5] = d.length;
  }
  if (d.checksum !== undefined) {
    checkPort("checksum", d.checksum);
    buf[offset + 6] = d.checksum >>> 8;
    buf[offset + 7] = d.checksum;
  }
  return n;
}

/** Encodes a datagram into a new buffer of exactly its length. */
export function encodeUdp(d: UdpEncodeInput, src: Ipv4Address, dst: Ipv4Address): Uint8Array {
  const buf = new Uint8Array(UDP_HEADER_LENGTH + Math.min(d.payload.length, UDP_MAX_PAYLOAD + 1));
  encodeUdpInto(buf, 0, d, src, dst);
  return buf;
}
