/**
 * @morgana/ethif — Ethernet II over any Netif: EtherType demultiplexing,
 * destination filtering (unicast, broadcast, joined multicast, promiscuous),
 * one optional 802.1Q VLAN, counters; and the Ethernet wire codec.
 */
export { Ethif, type EthifOptions } from "./ethif.js";
export {
  decodeEthernet,
  encodeEthernetHeader,
  encodeEthernet,
  ethernetHeaderLength,
  TAGGED_HEADER_LENGTH,
  MIN_ETHERTYPE,
  MAX_VLAN_ID,
  ETHERNET_HEADER_LENGTH,
  VLAN_TAG_LENGTH,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_VLAN,
  type EthernetHeader,
  type DecodedEthernet,
  type VlanTag,
} from "./codec.js";
