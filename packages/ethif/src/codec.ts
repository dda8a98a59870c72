/**
 * The Ethernet II wire format, with an optional IEEE 802.1Q tag.
 *
 * ```
 *  0      6      12         14 (untagged)
 *  | dst  | src  | EtherType | payload ...
 *
 *  0      6      12       14    16         18 (tagged)
 *  | dst  | src  | 0x8100 | TCI | EtherType | payload ...
 *  TCI = PCP (3 bits) | DEI (1 bit) | VID (12 bits)
 * ```
 *
 * No FCS: devices hand frames over without it.
 */
import {
  DecodeError,
  ETHERNET_HEADER_LENGTH,
  ETHERTYPE_VLAN,
  MorganaError,
  VLAN_TAG_LENGTH,
  readMac,
  writeMac,
  type MacAddress,
} from "@morgana/interfaces";

export { ETHERNET_HEADER_LENGTH, VLAN_TAG_LENGTH, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN } from "@morgana/interfaces";

/** Header length of an 802.1Q-tagged frame: 18 bytes. */
export const TAGGED_HEADER_LENGTH = ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
/** The smallest value that is an EtherType rather than an IEEE 802.3 length (0x0600 = 1536). */
export const MIN_ETHERTYPE = 0x0600;
/** The largest VLAN id; 0 means "priority tag only" and 4095 is reserved. */
export const MAX_VLAN_ID = 4094;

/** The fields of an 802.1Q tag control information (TCI). */
export interface VlanTag {
  /** Priority code point, 0..7. */
  readonly pcp: number;
  /** Drop eligible indicator. */
  readonly dei: boolean;
  /** VLAN identifier, 0..4095 (0: priority-tagged frame, 4095: reserved). */
  readonly id: number;
}

/** An Ethernet II header, as {@link encodeEthernetHeader} writes it. */
export interface EthernetHeader {
  readonly dst: MacAddress;
  readonly src: MacAddress;
  /**
   * The EtherType of the payload (after the tag when tagged). Values below
   * 0x0600 are IEEE 802.3 length fields; they are reported as read.
   */
  readonly etherType: number;
  /** Present when the frame carries an 802.1Q tag (TPID 0x8100). */
  readonly vlan?: VlanTag;
}

/** What {@link decodeEthernet} returns. */
export interface DecodedEthernet extends EthernetHeader {
  /** 14, or 18 with an 802.1Q tag. */
  readonly headerLength: number;
  /** The bytes after the header: a view into the frame, not a copy. */
  readonly payload: Uint8Array;
}

/**
 * Decodes an Ethernet II frame (without FCS). One 802.1Q tag (TPID 0x8100) is
 * recognised; a second one, if any, is reported as the EtherType 0x8100.
 * Throws {@link DecodeError} (layer `eth`) when the frame is shorter than its
 * header. Any EtherType is accepted (the caller decides what it handles).
 */
export function decodeEthernet(frame: Uint8Array): DecodedEthernet {
  if (frame.length < ETHERNET_HEADER_LENGTH) {
    throw new DecodeError("eth", frame.length, `frame of ${frame.length} bytes is shorter than the 14-byte header`);
  }
  const dst = readMac(frame, 0);
  const src = readMac(frame, 6);
  const type = (frame[12]! << 8) | frame[13]!;
  if (type !== ETHERTYPE_VLAN) {
    return { dst, src, etherType: type, headerLength: ETHERNET_HEADER_LENGTH, payload: frame.subarray(ETHERNET_HEADER_LENGTH) };
  }
  if (frame.length < TAGGED_HEADER_LENGTH) {
    throw new DecodeError("eth", frame.length, `802.1Q-tagged frame of ${frame.length} bytes is shorter than the 18-byte header`);
  }
  const tci = (frame[14]! << 8) | frame[15]!;
  return {
    dst,
    src,
    etherType: (frame[16]! << 8) | frame[17]!,
    vlan: { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, id: tci & 0x0fff },
    headerLength: TAGGED_HEADER_LENGTH,
    payload: frame.subarray(TAGGED_HEADER_LENGTH),
  };
}

/** The header length {@link encodeEthernetHeader} writes for `header`: 14, or 18 with a tag. */
export function ethernetHeaderLength(header: EthernetHeader): number {
  return header.vlan === undefined ? ETHERNET_HEADER_LENGTH : TAGGED_HEADER_LENGTH;
}

function isMac(m: unknown): m is MacAddress {
  return typeof m === "number" && Number.isInteger(m) && m >= 0 && m <= 0xffff_ffff_ffff;
}

function isUint(v: unknown, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
}

function invalid(what: string): MorganaError {
  return new MorganaError("EINVAL", `encodeEthernetHeader: ${what}`);
}

/**
 * Writes `header` into `buf` at `offset` and returns the number of bytes
 * written (14, or 18 with a tag). Throws `EINVAL` for out-of-range fields, for
 * an untagged header whose EtherType is 0x8100 (it would read back as a tag),
 * or when the buffer is too small.
 */
export function encodeEthernetHeader(buf: Uint8Array, offset: number, header: EthernetHeader): number {
  const len = ethernetHeaderLength(header);
  if (!Number.isInteger(offset) || offset < 0 || offset + len > buf.length) {
    throw invalid(`no room for a ${len}-byte header at offset ${offset} of a ${buf.length}-byte buffer`);
  }
  if (!isMac(header.dst)) throw invalid(`bad destination MAC ${String(header.dst)}`);
  if (!isMac(header.src)) throw invalid(`bad source MAC ${String(header.src)}`);
  if (!isUint(header.etherType, 0xffff)) throw invalid(`bad EtherType ${String(header.etherType)}`);
  writeMac(buf, offset, header.dst);
  writeMac(buf, offset + 6, header.src);
  const vlan = header.vlan;
  let at = offset + 12;
  if (vlan !== undefined) {
    if (!isUint(vlan.pcp, 7)) throw invalid(`bad VLAN priority ${String(vlan.pcp)}`);
    if (!isUint(vlan.id, 0x0fff)) throw invalid(`bad VLAN id ${String(vlan.id)}`);
    const tci = (vlan.pcp << 13) | (vlan.dei ? 0x1000 : 0) | vlan.id;
    buf[at] = ETHERTYPE_VLAN >>> 8;
    buf[at + 1] = ETHERTYPE_VLAN & 0xff;
    buf[at + 2] = tci >>> 8;
    buf[at + 3] = tci & 0xff;
    at += 4;
  } else if (header.etherType === ETHERTYPE_VLAN) {
    throw invalid("EtherType 0x8100 without a vlan tag (use the vlan field)");
  }
  buf[at] = header.etherType >>> 8;
  buf[at + 1] = header.etherType & 0xff;
  return len;
}

/** Allocates a frame holding `header` followed by a copy of `payload`. */
export function encodeEthernet(header: EthernetHeader, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const len = ethernetHeaderLength(header);
  const frame = new Uint8Array(len + payload.length);
  encodeEthernetHeader(frame, 0, header);
  frame.set(payload, len);
  return frame;
}
