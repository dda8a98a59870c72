/**
 * @morgana/udp — UDP (RFC 768, RFC 1122 §4.1) over any `Ipv4`: bound sockets
 * with bounded receive queues, random ephemeral ports, checksums, port
 * unreachable, and ICMP errors surfaced to the sending socket. Also the UDP
 * wire codec.
 */
export {
  UdpLayer,
  socketErrorCode,
  DEFAULT_RECEIVE_QUEUE,
  DEFAULT_EPHEMERAL_RANGE,
  EPHEMERAL_RANDOM_TRIES,
  type UdpLayerOptions,
} from "./layer.js";
export {
  decodeUdp,
  encodeUdp,
  encodeUdpInto,
  writeUdpHeader,
  computeUdpChecksum,
  verifyUdpChecksum,
  UDP_HEADER_LENGTH,
  UDP_MAX_PAYLOAD,
  type UdpDatagramFields,
  type UdpEncodeInput,
} from "./codec.js";
