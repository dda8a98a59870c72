/**
 * @morgana/dns — DNS for Morgana: a fast wire codec (RFC 1035 with EDNS(0),
 * DNSSEC record types, SVCB/HTTPS and RFC 3597 opaque types), presentation
 * format and zone files, and a pure authoritative answering engine. The
 * network parts (stub resolver, UDP/TCP server over a Stack) build on these.
 */
export * from "./constants.js";
export * from "./errors.js";
export type * from "./types.js";
export {
  canonicalName,
  nameKey,
  namesEqual,
  splitName,
  labelCount,
  parentName,
  joinName,
  isSubdomain,
  nameWireLength,
  nameToWire,
  nameLabels,
  labelsToName,
  resolveName,
  relativeName,
  absoluteText,
  MAX_NAME_WIRE,
  MAX_LABEL,
} from "./name.js";
export { formatIpv4, formatIpv6, writeIpv4Text, writeIpv6Text, isIpv4Text, isIpv6Text } from "./ip.js";
export { decodeMessage, decodeHeader, decodeRdata, DEFAULT_MAX_POINTERS, NAME_CACHE_SIZE, type DecodeOptions, type DnsHeader } from "./decode.js";
export { encodeMessage, encodeMessageInto, encodeTcpMessage, encodedLength, MAX_MESSAGE_SIZE, NAME_SLOTS, type EncodeOptions } from "./encode.js";
export * from "./message.js";
export * from "./tcp.js";
export { toBase64, fromBase64, toHex, fromHex } from "./base.js";
export {
  rdataToText,
  rdataBytes,
  recordToText,
  recordTypeName,
  questionToText,
  quoteBytes,
  parseRdata,
  parseTtl,
  tokenBytes,
  formatSigTime,
  parseSigTime,
  makeRecord,
  type Token,
} from "./text.js";
export { parseZone, parseRecord, tokenize, ZONE_DEFAULTS, type ZoneParseOptions, type ParsedZone } from "./zone.js";
export {
  Zone,
  AuthoritativeServer,
  type ZoneOptions,
  type ZoneAnswer,
  type AuthoritativeServerOptions,
  type AnswerOptions,
  type ServerCounter,
} from "./server.js";
export { flagsWord, tsharkHex16, tsharkName, tsharkText } from "./tshark.js";
export {
  udpExchange,
  tcpExchange,
  checkResponse,
  parseServerAddress,
  DNS_PORT,
  type DnsServerAddress,
  type DnsTransport,
  type ExchangeOptions,
  type ExchangeResult,
  type MismatchReason,
} from "./client.js";
export { TtlCache, DEFAULT_CACHE_ENTRIES, DEFAULT_MAX_TTL, DEFAULT_MAX_NEGATIVE_TTL, type DnsCacheOptions } from "./cache.js";
export {
  StubResolver,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_ATTEMPTS,
  DEFAULT_TCP_TIMEOUT_MS,
  DEFAULT_MAX_CNAME_CHAIN,
  type StubResolverOptions,
  type ResolvedAnswer,
  type ResolveOptions,
} from "./resolver.js";
export {
  serveDns,
  DEFAULT_TCP_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_TCP_CONNECTIONS,
  DEFAULT_CLOSE_TIMEOUT_MS,
  TCP_SERVER_BUFFER,
  type ServeDnsOptions,
  type DnsServerHandle,
} from "./serve.js";
