/**
 * @morgana/icmp — ICMP for IPv4 (RFC 792, RFC 1122 §3.2.2) over any `Ipv4`:
 * echo replies, `ping`, received errors turned into `IcmpErrorReport`s for
 * the protocol that sent the offending datagram, and rate-limited error
 * generation on behalf of IPv4, UDP and TCP. Also the ICMP wire codec.
 */
export {
  IcmpLayer,
  icmpErrorKind,
  fillEchoPayload,
  DEFAULT_PING_SIZE,
  DEFAULT_PING_TIMEOUT_MS,
  MAX_PING_SIZE,
  DEFAULT_ERROR_RATE_PER_SECOND,
  DEFAULT_ERROR_BURST,
  DEFAULT_MAX_ERROR_LENGTH,
  DEFAULT_MAX_PENDING_PINGS,
  type IcmpLayerOptions,
  type IcmpErrorRate,
  type SendErrorDetails,
} from "./layer.js";
export {
  decodeIcmp,
  decodeQuotedDatagram,
  encodeIcmp,
  encodeIcmpInto,
  icmpLength,
  isIcmpErrorType,
  hasIdentifier,
  ICMP_HEADER_LENGTH,
  MIN_QUOTE_LENGTH,
  IcmpType,
  UnreachableCode,
  type IcmpMessage,
  type IcmpEncodeInput,
  type QuotedDatagram,
} from "./codec.js";
