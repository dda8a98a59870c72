/**
 * Layer 3: IPv4 and ICMP.
 */
import type { Ipv4Address, Ipv4Prefix } from "./address.js";
import type { Fill } from "./netif.js";
import type { LayerStats } from "./stats.js";

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** The length of an IPv4 header without options. */
export const IPV4_HEADER_LENGTH = 20;

/** What ICMP reported about a datagram we sent, decoded for the upper layer. */
export type IcmpErrorKind =
  | "net-unreachable"
  | "host-unreachable"
  | "protocol-unreachable"
  | "port-unreachable"
  | "fragmentation-needed"
  | "source-route-failed"
  | "admin-prohibited"
  | "unreachable"
  | "time-exceeded"
  | "parameter-problem";

/**
 * An ICMP error concerning a datagram this host sent, handed to the upper
 * layer that sent it (by protocol number). `quoted` holds the beginning of the
 * original upper-layer header (at least 8 bytes: enough for both ports).
 */
export interface IcmpErrorReport {
  readonly kind: IcmpErrorKind;
  readonly type: number;
  readonly code: number;
  /** The host that sent the ICMP message. */
  readonly reporter: Ipv4Address;
  /** Source, destination and protocol of the original datagram. */
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly protocol: number;
  readonly quoted: Uint8Array;
  /** For `fragmentation-needed`: the next-hop MTU (RFC 1191), 0 when not given. */
  readonly nextHopMtu: number;
}

/** What an upper layer registers with {@link Ipv4.register}. */
export interface Ipv4ProtocolHandler {
  /**
   * One datagram for this protocol, after validation and reassembly.
   * `payload` is the upper-layer bytes (owned by the handler); `header` the IP
   * header including options (TTL at byte 8), needed to quote the datagram in
   * an ICMP error. `src`/`dst` are what the TCP/UDP pseudo-header needs.
   */
  onDatagram(src: Ipv4Address, dst: Ipv4Address, payload: Uint8Array, header: Uint8Array): void;
  /** An ICMP error about a datagram of this protocol that we sent. */
  onIcmpError?(report: IcmpErrorReport): void;
}

/** Options of {@link Ipv4.write}. */
export interface Ipv4WriteOptions {
  /** Default 64. */
  readonly ttl?: number;
  /** The DS field byte (DSCP and ECN). Default 0. */
  readonly tos?: number;
  /** Set DF; a datagram above the path MTU then throws `EMSGSIZE` instead of being fragmented. */
  readonly dontFragment?: boolean;
  /** The source address; default {@link Ipv4.source} of the destination. */
  readonly src?: Ipv4Address;
  /** Called if the datagram is dropped after `write` returned (neighbour resolution failed, queue overflow). */
  readonly onError?: (err: Error) => void;
}

/** The ICMP error kinds an upper layer asks the ICMP layer to send about a received datagram. */
export type IcmpErrorToSend = "port-unreachable" | "protocol-unreachable" | "fragmentation-needed" | "time-exceeded";

/** Extra information for {@link IcmpErrorSender.sendError}. */
export interface IcmpErrorDetails {
  /** For `fragmentation-needed`: the MTU to report (RFC 1191). */
  readonly nextHopMtu?: number;
}

/**
 * Sends ICMP errors about received datagrams; implemented by an ICMP layer,
 * rate-limited there. `header` is the offending datagram's IP header and
 * `payload` its upper-layer bytes (at least the first 8 are quoted).
 * `time-exceeded` is sent with code 1 (fragment reassembly time exceeded) when
 * `header` is a fragment (MF set or a non-zero offset) and code 0 otherwise.
 */
export interface IcmpErrorSender {
  sendError(kind: IcmpErrorToSend, header: Uint8Array, payload: Uint8Array, details?: IcmpErrorDetails): void;
}

/**
 * IPv4 (RFC 791, RFC 1122) for one interface.
 *
 * Contract:
 * - Receive: only valid datagrams (version, header length, total length,
 *   header checksum) addressed to one of our addresses or a broadcast address
 *   reach a handler, reassembled when fragmented (with bounded memory). Others
 *   are dropped and counted by reason. A datagram for a protocol with no
 *   handler is answered with ICMP protocol unreachable when an ICMP layer is
 *   attached.
 * - `write(dst, protocol, size, fill, opts)` allocates one buffer for the
 *   whole frame and lets `fill` write the `size`-byte payload in place; the IP
 *   header is written and the checksum computed after. Datagrams above the MTU
 *   are fragmented unless `dontFragment`. Throws `ENETUNREACH` when there is
 *   no route, `EMSGSIZE` when `size` exceeds 65515 or the MTU with DF,
 *   `EINVAL` for a bad protocol.
 * - `mtu(dst)` is the payload size that goes out unfragmented; `source(dst)`
 *   the address we send from.
 */
export interface Ipv4 {
  readonly addresses: readonly Ipv4Prefix[];
  readonly gateway: Ipv4Address | undefined;
  source(dst: Ipv4Address): Ipv4Address;
  mtu(dst: Ipv4Address): number;
  write(dst: Ipv4Address, protocol: number, size: number, fill: Fill, opts?: Ipv4WriteOptions): void;
  /** Throws `EADDRINUSE` when the protocol already has a handler. */
  register(protocol: number, handler: Ipv4ProtocolHandler): void;
  unregister(protocol: number): void;
  /** Used by the ICMP layer: hands a decoded error to the handler of `report.protocol`. */
  deliverIcmpError(report: IcmpErrorReport): void;
  /** Used by the ICMP layer to attach itself as the sender of ICMP errors. */
  attachIcmp(sender: IcmpErrorSender): void;
  /** Used by upper layers (UDP: port unreachable): forwards to the attached ICMP layer, if any. */
  sendIcmpError(kind: IcmpErrorToSend, header: Uint8Array, payload: Uint8Array, details?: IcmpErrorDetails): void;
  stats(): LayerStats;
  /** Cancels every timer and frees reassembly state; later writes throw `ENETDOWN`. Idempotent. */
  close(): void;
}

export interface PingOptions {
  /** Default 1000 ms; then the promise rejects with `ETIMEDOUT`. */
  readonly timeoutMs?: number;
  /** ICMP echo payload bytes, default 56 (as Linux ping). */
  readonly size?: number;
  readonly ttl?: number;
  readonly dontFragment?: boolean;
  readonly signal?: AbortSignal;
}

export interface PingResult {
  readonly from: Ipv4Address;
  readonly sequence: number;
  readonly identifier: number;
  /** TTL of the reply. */
  readonly ttl: number;
  /** Payload bytes in the reply. */
  readonly bytes: number;
  readonly rttMs: number;
}

/**
 * ICMP for IPv4 (RFC 792): echo, and errors.
 *
 * Contract: `ping` sends one echo request and resolves with the matching reply,
 * or rejects with `ETIMEDOUT` (no reply in time), `EHOSTUNREACH`/`ENETUNREACH`
 * (an ICMP error or failed neighbour resolution), or `ABORT_ERR`.
 */
export interface Icmp {
  ping(dst: Ipv4Address, opts?: PingOptions): Promise<PingResult>;
  stats(): LayerStats;
  /** Rejects pending pings and stops answering. Idempotent. */
  close(): Promise<void>;
}
