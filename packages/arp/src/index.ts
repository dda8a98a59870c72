/**
 * @morgana/arp — address resolution (RFC 826) over any Ethernet, with RFC 5227
 * announcements, conflict detection and probing: a bounded LRU cache with
 * expiry and unicast refresh, static entries, coalesced queries with bounded
 * retries, a bounded queue of packets awaiting resolution; and the ARP codec.
 */
export { ArpLayer, ARP_DEFAULTS, type ArpOptions } from "./arp.js";
export {
  decodeArp,
  encodeArp,
  encodeArpPacket,
  arpPacket,
  ARP_HTYPE_ETHERNET,
  ARP_PTYPE_IPV4,
  ARP_OP_REQUEST,
  ARP_OP_REPLY,
  ARP_PACKET_LENGTH,
  ARP_FIXED_LENGTH,
  type ArpPacket,
} from "./codec.js";
