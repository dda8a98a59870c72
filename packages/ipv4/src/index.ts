/**
 * @morgana/ipv4 — IPv4 for Morgana (RFC 791, RFC 1122 host requirements):
 * receive validation and demultiplexing, routing (on-link, gateway,
 * broadcast, multicast, loopback), fragmentation, bounded reassembly, and the
 * IPv4 header codec.
 */
export {
  decodeIpv4,
  decodeIpv4Options,
  encodeIpv4,
  encodeIpv4Header,
  headerChecksum,
  ipv4StructureProblem,
  multicastMac,
  writeIpv4Header20,
  IPV4_MAX_HEADER_LENGTH,
  IPV4_MAX_PAYLOAD,
  IPV4_MAX_TOTAL_LENGTH,
  type Ipv4Flags,
  type Ipv4Header,
  type Ipv4HeaderInit,
  type Ipv4Option,
  type Ipv4StructureProblem,
} from "./codec.js";
export { DEFAULT_REASSEMBLY_LIMITS, type ReassemblyLimits } from "./reassembly.js";
export { ALL_HOSTS_GROUP, DATAGRAM_DROP_REASONS, Ipv4Layer, PACKET_DROP_REASONS, type Ipv4LayerOptions } from "./layer.js";
