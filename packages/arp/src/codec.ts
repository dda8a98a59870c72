/**
 * The ARP wire format (RFC 826) for Ethernet hardware addresses and IPv4
 * protocol addresses:
 *
 * ```
 *  0      2      4     5     6       8     14    18    24    28
 *  | htype | ptype | hlen | plen | oper | sha | spa | tha | tpa |
 * ```
 */
import { DecodeError, MorganaError, readIpv4, readMac, writeIpv4, writeMac, type Ipv4Address, type MacAddress } from "@morgana/interfaces";

/** Hardware type of Ethernet (10 Mb and every later speed). */
export const ARP_HTYPE_ETHERNET = 1;
/** Protocol type of IPv4 (its EtherType). */
export const ARP_PTYPE_IPV4 = 0x0800;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;
/** Length of an Ethernet/IPv4 ARP packet: 28 bytes (Ethernet padding after it is ignored). */
export const ARP_PACKET_LENGTH = 28;
/** Length of the fixed part before the addresses. */
export const ARP_FIXED_LENGTH = 8;

/** An ARP packet with 6-byte hardware and 4-byte protocol addresses. */
export interface ArpPacket {
  /** 1 for Ethernet. */
  readonly hardwareType: number;
  /** 0x0800 for IPv4. */
  readonly protocolType: number;
  /** Always 6 (the decoder refuses other sizes). */
  readonly hardwareSize: number;
  /** Always 4 (the decoder refuses other sizes). */
  readonly protocolSize: number;
  /** 1 request, 2 reply; other values are reported as read. */
  readonly opcode: number;
  readonly senderMac: MacAddress;
  readonly senderIp: Ipv4Address;
  readonly targetMac: MacAddress;
  readonly targetIp: Ipv4Address;
}

/**
 * Decodes an ARP packet with 6-byte hardware and 4-byte protocol addresses
 * (any hardware type, protocol type and opcode are returned as read; bytes
 * after the 28th, such as Ethernet padding, are ignored). Throws
 * {@link DecodeError} (layer `arp`) when the input is shorter than 8 bytes,
 * the address sizes are not 6 and 4, or the addresses are truncated.
 */
export function decodeArp(bytes: Uint8Array): ArpPacket {
  if (bytes.length < ARP_FIXED_LENGTH) {
    throw new DecodeError("arp", bytes.length, `packet of ${bytes.length} bytes is shorter than the 8-byte fixed header`);
  }
  const hardwareSize = bytes[4]!;
  const protocolSize = bytes[5]!;
  if (hardwareSize !== 6) throw new DecodeError("arp", 4, `hardware address size ${hardwareSize}, only 6 is supported`);
  if (protocolSize !== 4) throw new DecodeError("arp", 5, `protocol address size ${protocolSize}, only 4 is supported`);
  if (bytes.length < ARP_PACKET_LENGTH) {
    throw new DecodeError("arp", bytes.length, `packet of ${bytes.length} bytes is shorter than the 28 bytes its address sizes need`);
  }
  return {
    hardwareType: (bytes[0]! << 8) | bytes[1]!,
    protocolType: (bytes[2]! << 8) | bytes[3]!,
    hardwareSize,
    protocolSize,
    opcode: (bytes[6]! << 8) | bytes[7]!,
    senderMac: readMac(bytes, 8),
    senderIp: readIpv4(bytes, 14),
    targetMac: readMac(bytes, 18),
    targetIp: readIpv4(bytes, 24),
  };
}

function isUint(v: unknown, max: number): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
}

/**
 * Writes `packet` (28 bytes) into `buf` at `offset` and returns 28. Throws
 * `EINVAL` for out-of-range fields, address sizes other than 6 and 4, or a
 * buffer without room.
 */
export function encodeArp(buf: Uint8Array, offset: number, packet: ArpPacket): number {
  const bad = (what: string) => new MorganaError("EINVAL", `encodeArp: ${what}`);
  if (!Number.isInteger(offset) || offset < 0 || offset + ARP_PACKET_LENGTH > buf.length) {
    throw bad(`no room for 28 bytes at offset ${offset} of a ${buf.length}-byte buffer`);
  }
  if (!isUint(packet.hardwareType, 0xffff)) throw bad(`bad hardware type ${String(packet.hardwareType)}`);
  if (!isUint(packet.protocolType, 0xffff)) throw bad(`bad protocol type ${String(packet.protocolType)}`);
  if (packet.hardwareSize !== 6 || packet.protocolSize !== 4) throw bad("only 6-byte hardware and 4-byte protocol addresses are supported");
  if (!isUint(packet.opcode, 0xffff)) throw bad(`bad opcode ${String(packet.opcode)}`);
  for (const k of ["senderMac", "targetMac"] as const) if (!isUint(packet[k], 0xffff_ffff_ffff)) throw bad(`bad ${k} ${String(packet[k])}`);
  for (const k of ["senderIp", "targetIp"] as const) if (!isUint(packet[k], 0xffff_ffff)) throw bad(`bad ${k} ${String(packet[k])}`);
  const o = offset;
  buf[o] = packet.hardwareType >>> 8;
  buf[o + 1] = packet.hardwareType & 0xff;
  buf[o + 2] = packet.protocolType >>> 8;
  buf[o + 3] = packet.protocolType & 0xff;
  buf[o + 4] = 6;
  buf[o + 5] = 4;
  buf[o + 6] = packet.opcode >>> 8;
  buf[o + 7] = packet.opcode & 0xff;
  writeMac(buf, o + 8, packet.senderMac);
  writeIpv4(buf, o + 14, packet.senderIp);
  writeMac(buf, o + 18, packet.targetMac);
  writeIpv4(buf, o + 24, packet.targetIp);
  return ARP_PACKET_LENGTH;
}

/** Allocates the 28 bytes of `packet`. */
export function encodeArpPacket(packet: ArpPacket): Uint8Array {
  const buf = new Uint8Array(ARP_PACKET_LENGTH);
  encodeArp(buf, 0, packet);
  return buf;
}

/** An Ethernet/IPv4 packet with the given opcode and addresses (types and sizes filled in). */
export function arpPacket(opcode: number, senderMac: MacAddress, senderIp: Ipv4Address, targetMac: MacAddress, targetIp: Ipv4Address): ArpPacket {
  return { hardwareType: ARP_HTYPE_ETHERNET, protocolType: ARP_PTYPE_IPV4, hardwareSize: 6, protocolSize: 4, opcode, senderMac, senderIp, targetMac, targetIp };
}
