/**
 * The ICMP layer: answers echo requests, sends pings, turns received ICMP
 * errors into {@link IcmpErrorReport}s for the protocol that sent the
 * offending datagram, and sends rate-limited ICMP errors on behalf of IPv4
 * and the transports (RFC 792, RFC 1122 §3.2.2).
 */
import { internetChecksum, verifyChecksum } from "@morgana/checksum";
import {
  DropCounters,
  IPPROTO_ICMP,
  IPV4_HEADER_LENGTH,
  MorganaError,
  abortError,
  formatIpv4,
  isLoopbackIpv4,
  readIpv4,
  type Clock,
  type Icmp,
  type IcmpErrorKind,
  type IcmpErrorReport,
  type IcmpErrorSender,
  type IcmpErrorDetails,
  type IcmpErrorToSend,
  type Ipv4,
  type Ipv4Address,
  type Ipv4ProtocolHandler,
  type Ipv4WriteOptions,
  type LayerStats,
  type PingOptions,
  type PingResult,
  type Random,
  type Timer,
} from "@morgana/interfaces";
import { isBroadcastOrMulticast, isLocalAddress, isUnicastHost } from "./addresses.js";
import { ICMP_HEADER_LENGTH, IcmpType, MIN_QUOTE_LENGTH, isIcmpErrorType } from "./codec.js";

/** Default payload of {@link IcmpLayer.ping}, as Linux `ping`. */
export const DEFAULT_PING_SIZE = 56;
/** Default ping timeout. */
export const DEFAULT_PING_TIMEOUT_MS = 1000;
/** Largest echo payload: 65535 - 20 (IP header) - 8 (ICMP header). */
export const MAX_PING_SIZE = 65507;
/** Default error rate: tokens added per second. */
export const DEFAULT_ERROR_RATE_PER_SECOND = 10;
/** Default error burst: the bucket's capacity. */
export const DEFAULT_ERROR_BURST = 20;
/** Default bound on the IP length of an ICMP error we send (RFC 1812 §4.3.2.3). */
export const DEFAULT_MAX_ERROR_LENGTH = 576;
/** Default bound on outstanding pings. */
export const DEFAULT_MAX_PENDING_PINGS = 4096;

/** Token bucket settings for the ICMP errors this layer sends. */
export interface IcmpErrorRate {
  /** Tokens added per second of clock time (`Infinity`: no limit). */
  readonly perSecond: number;
  /** Bucket capacity: errors that can go out back to back. 0 disables sending errors. */
  readonly burst: number;
}

export interface IcmpLayerOptions {
  readonly ipv4: Ipv4;
  readonly clock: Clock;
  readonly random: Random;
  /** Rate limit of sent errors; default 10 per second with a burst of 20. */
  readonly errorRate?: IcmpErrorRate;
  /** Answer echo requests. Default true. */
  readonly replyToEcho?: boolean;
  /**
   * Answer echo requests sent to a broadcast or multicast address. Default
   * false, like Linux's `icmp_echo_ignore_broadcasts = 1` (RFC 1122 §3.2.2.6
   * allows either).
   */
  readonly replyToBroadcastEcho?: boolean;
  /**
   * Upper bound on the IP length (20-byte header + ICMP message) of the errors
   * we send; the quote is the offending IP header plus as many of its payload
   * bytes as fit, at least 8. Default 576 (RFC 1812 §4.3.2.3, as Linux). Minimum 96.
   */
  readonly maxErrorLength?: number;
  /** Identifier of this layer's echo requests; default a random 16-bit value. */
  readonly identifier?: number;
  /** Outstanding pings at most; more reject with `ENOBUFS`. Default 4096. */
  readonly maxPendingPings?: number;
}

/** Extra inputs of {@link IcmpLayer.sendError}: the interface's details plus a code override. */
export interface SendErrorDetails extends IcmpErrorDetails {
  /** Overrides the code chosen for the kind (for `time-exceeded`: 0 in transit, 1 reassembly). */
  readonly code?: number;
}

interface PendingPing {
  readonly dst: Ipv4Address;
  readonly sequence: number;
  readonly sentAt: number;
  readonly resolve: (r: PingResult) => void;
  readonly reject: (e: Error) => void;
  timer: Timer | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const SEND_KIND: Record<IcmpErrorToSend, [type: number, code: number]> = {
  "port-unreachable": [3, 3],
  "protocol-unreachable": [3, 2],
  "fragmentation-needed": [3, 4],
  "time-exceeded": [11, 0],
};

/** The error kind of a received destination unreachable / time exceeded / parameter problem. */
export function icmpErrorKind(type: number, code: number): IcmpErrorKind | undefined {
  if (type === 11) return "time-exceeded";
  if (type === 12) return "parameter-problem";
  if (type !== 3) return undefined;
  switch (code) {
    case 0:
    case 6:
    case 11:
      return "net-unreachable";
    case 1:
    case 7:
    case 8:
    case 12:
      return "host-unreachable";
    case 2:
      return "protocol-unreachable";
    case 3:
      return "port-unreachable";
    case 4:
      return "fragmentation-needed";
    case 5:
      return "source-route-failed";
    case 9:
    case 10:
    case 13:
      return "admin-prohibited";
    default:
      return "unreachable";
  }
}

function checkOption(ok: boolean, message: string): void {
  if (!ok) throw new MorganaError("EINVAL", `IcmpLayer: ${message}`);
}

/**
 * ICMP for one {@link Ipv4} layer. Registers itself for protocol 1 and as
 * the ipv4's ICMP error sender.
 */
export class IcmpLayer implements Icmp, IcmpErrorSender, Ipv4ProtocolHandler {
  /** The identifier of this layer's echo requests. */
  readonly identifier: number;

  private readonly ipv4: Ipv4;
  private readonly clock: Clock;
  private readonly replyToEcho: boolean;
  private readonly replyToBroadcastEcho: boolean;
  private readonly maxErrorLength: number;
  private readonly maxPending: number;
  private readonly ratePerMs: number;
  private readonly burst: number;
  private tokens: number;
  private lastRefill: number;
  private nextSequence = 1;
  private readonly pending = new Map<number, PendingPing>();
  private closed = false;
  private readonly drops = new DropCounters();
  private readonly c = {
    rxMessages: 0,
    rxBytes: 0,
    txMessages: 0,
    txBytes: 0,
    echoRequestsIn: 0,
    echoRepliesOut: 0,
    echoRequestsOut: 0,
    echoRepliesIn: 0,
    errorsIn: 0,
    errorsDelivered: 0,
    errorsOut: 0,
    pingTimeouts: 0,
    pingErrors: 0,
  };

  constructor(opts: IcmpLayerOptions) {
    this.ipv4 = opts.ipv4;
    this.clock = opts.clock;
    this.replyToEcho = opts.replyToEcho ?? true;
    this.replyToBroadcastEcho = opts.replyToBroadcastEcho ?? false;
    const rate = opts.errorRate ?? { perSecond: DEFAULT_ERROR_RATE_PER_SECOND, burst: DEFAULT_ERROR_BURST };
    checkOption(rate.perSecond >= 0, `errorRate.perSecond must be a non-negative number, not ${rate.perSecond}`);
    checkOption(Number.isInteger(rate.burst) && rate.burst >= 0, `errorRate.burst must be a non-negative integer, not ${rate.burst}`);
    this.ratePerMs = rate.perSecond / 1000;
    this.burst = rate.burst;
    this.tokens = rate.burst;
    this.lastRefill = this.clock.now();
    this.maxErrorLength = opts.maxErrorLength ?? DEFAULT_MAX_ERROR_LENGTH;
    checkOption(
      Number.isInteger(this.maxErrorLength) && this.maxErrorLength >= 96 && this.maxErrorLength <= 65535,
      `maxErrorLength must be an integer in 96..65535, not ${this.maxErrorLength}`,
    );
    this.maxPending = opts.maxPendingPings ?? DEFAULT_MAX_PENDING_PINGS;
    checkOption(Number.isInteger(this.maxPending) && this.maxPending >= 1 && this.maxPending <= 65535, `maxPendingPings must be an integer in 1..65535, not ${this.maxPending}`);
    if (opts.identifier !== undefined) {
      checkOption(Number.isInteger(opts.identifier) && opts.identifier >= 0 && opts.identifier <= 0xffff, `identifier must be an integer in 0..65535, not ${opts.identifier}`);
      this.identifier = opts.identifier;
    } else {
      this.identifier = opts.random.uint32() & 0xffff;
    }
    this.ipv4.register(IPPROTO_ICMP, this);
    this.ipv4.attachIcmp(this);
  }

  // ---- ping ---------------------------------------------------------------------------

  /**
   * Sends one echo request to `dst` and resolves with the matching reply. See
   * {@link Icmp.ping}; also rejects with `EINVAL` for bad options, `ENOBUFS`
   * when too many pings are outstanding, `ERR_SOCKET_CLOSED` after
   * {@link close}, and with whatever `ipv4.write` throws (`ENETUNREACH`,
   * `EMSGSIZE`).
   */
  ping(dst: Ipv4Address, opts: PingOptions = {}): Promise<PingResult> {
    try {
      return this.startPing(dst, opts);
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  private startPing(dst: Ipv4Address, opts: PingOptions): Promise<PingResult> {
    const address = formatIpv4(dst);
    const details = { syscall: "ping", address };
    if (this.closed) throw new MorganaError("ERR_SOCKET_CLOSED", "ping: the ICMP layer is closed", details);
    const size = opts.size ?? DEFAULT_PING_SIZE;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    if (!Number.isInteger(size) || size < 0 || size > MAX_PING_SIZE) {
      throw new MorganaError("EINVAL", `ping: size must be an integer in 0..${MAX_PING_SIZE}, not ${size}`, details);
    }
    if (!(timeoutMs >= 0)) throw new MorganaError("EINVAL", `ping: timeoutMs must be a non-negative number, not ${timeoutMs}`, details);
    if (opts.ttl !== undefined && !(Number.isInteger(opts.ttl) && opts.ttl >= 1 && opts.ttl <= 255)) {
      throw new MorganaError("EINVAL", `ping: ttl must be an integer in 1..255, not ${opts.ttl}`, details);
    }
    const signal = opts.signal;
    if (signal?.aborted) throw abortError(signal);
    if (this.pending.size >= this.maxPending) throw new MorganaError("ENOBUFS", `ping: ${this.pending.size} pings outstanding`, details);
    const sequence = this.allocateSequence();

    return new Promise<PingResult>((resolve, reject) => {
      const p: PendingPing = { dst, sequence, sentAt: this.clock.now(), resolve, reject, timer: undefined, signal, onAbort: undefined };
      this.pending.set(sequence, p);
      if (signal !== undefined) {
        p.onAbort = () => this.fail(p, abortError(signal));
        signal.addEventListener("abort", p.onAbort, { once: true });
      }
      if (Number.isFinite(timeoutMs)) {
        p.timer = this.clock.setTimer(timeoutMs, () => {
          p.timer = undefined;
          this.c.pingTimeouts++;
          this.fail(p, new MorganaError("ETIMEDOUT", `ping ETIMEDOUT ${address} (icmp_seq=${sequence}, ${timeoutMs} ms)`, details));
        });
      }
      const writeOpts: { -readonly [K in keyof Ipv4WriteOptions]: Ipv4WriteOptions[K] } = {
        onError: (err: Error) => {
          const code = isCode(err, "ENETUNREACH") ? "ENETUNREACH" : "EHOSTUNREACH";
          this.fail(p, new MorganaError(code, undefined, { ...details, cause: err }));
        },
      };
      if (opts.ttl !== undefined) writeOpts.ttl = opts.ttl;
      if (opts.dontFragment !== undefined) writeOpts.dontFragment = opts.dontFragment;
      const identifier = this.identifier;
      const wall = this.clock.wallTime?.() ?? this.clock.now();
      try {
        this.ipv4.write(
          dst,
          IPPROTO_ICMP,
          ICMP_HEADER_LENGTH + size,
          (buf) => {
            const n = ICMP_HEADER_LENGTH + size;
            buf[0] = IcmpType.ECHO_REQUEST;
            buf[1] = 0;
            buf[2] = 0;
            buf[3] = 0;
            buf[4] = identifier >>> 8;
            buf[5] = identifier;
            buf[6] = sequence >>> 8;
            buf[7] = sequence;
            fillEchoPayload(buf.subarray(ICMP_HEADER_LENGTH, n), wall);
            const sum = internetChecksum(buf, 0, n);
            buf[2] = sum >>> 8;
            buf[3] = sum;
            return n;
          },
          writeOpts,
        );
      } catch (e) {
        this.fail(p, e as Error);
        return;
      }
      if (this.pending.get(sequence) === p) {
        this.c.echoRequestsOut++;
        this.c.txMessages++;
        this.c.txBytes += ICMP_HEADER_LENGTH + size;
      }
    });
  }

  private allocateSequence(): number {
    // At most maxPending (< 65536) sequences are in use, so this terminates.
    for (;;) {
      const s = this.nextSequence;
      this.nextSequence = (s + 1) & 0xffff;
      if (!this.pending.has(s)) return s;
    }
  }

  private settle(p: PendingPing): boolean {
    if (this.pending.get(p.sequence) !== p) return false;
    this.pending.delete(p.sequence);
    p.timer?.cancel();
    p.timer = undefined;
    if (p.onAbort !== undefined) p.signal?.removeEventListener("abort", p.onAbort);
    return true;
  }

  private fail(p: PendingPing, err: Error): void {
    if (this.settle(p)) p.reject(err);
  }

  /** Outstanding pings. */
  get pendingPings(): number {
    return this.pending.size;
  }

  // ---- receive ------------------------------------------------------------------------

  /** {@link Ipv4ProtocolHandler.onDatagram}: one ICMP message. Never throws. */
  onDatagram(src: Ipv4Address, dst: Ipv4Address, payload: Uint8Array, header: Uint8Array): void {
    this.c.rxMessages++;
    this.c.rxBytes += payload.length;
    if (this.closed) return void this.drops.drop("closed");
    if (payload.length < ICMP_HEADER_LENGTH) return void this.drops.drop("short");
    if (!verifyChecksum(payload)) return void this.drops.drop("checksum");
    const type = payload[0]!;
    switch (type) {
      case IcmpType.ECHO_REQUEST:
        return this.onEchoRequest(src, dst, payload);
      case IcmpType.ECHO_REPLY:
        return this.onEchoReply(src, payload, header);
      case IcmpType.DESTINATION_UNREACHABLE:
      case IcmpType.TIME_EXCEEDED:
      case IcmpType.PARAMETER_PROBLEM:
        return this.onError(src, payload);
      case IcmpType.SOURCE_QUENCH:
        // Deprecated (RFC 6633): counted and ignored.
        return void this.drops.drop("source-quench");
      case IcmpType.REDIRECT:
        // Ipv4 exposes no route cache to update: counted and ignored.
        return void this.drops.drop("redirect");
      default:
        return void this.drops.drop("unsupported-type");
    }
  }

  private onEchoRequest(src: Ipv4Address, dst: Ipv4Address, payload: Uint8Array): void {
    this.c.echoRequestsIn++;
    if (!this.replyToEcho) return void this.drops.drop("echo-disabled");
    const prefixes = this.ipv4.addresses;
    const toUs = isLocalAddress(prefixes, dst);
    if (!toUs && !this.replyToBroadcastEcho) return void this.drops.drop("echo-broadcast");
    if (!isUnicastHost(prefixes, src) && !(isLoopbackIpv4(src) && isLoopbackIpv4(dst))) return void this.drops.drop("bad-source");
    const n = payload.length;
    const opts: Ipv4WriteOptions = toUs ? { src: dst } : {};
    try {
      this.ipv4.write(
        src,
        IPPROTO_ICMP,
        n,
        (buf) => {
          buf.set(payload);
          buf[0] = IcmpType.ECHO_REPLY;
          buf[2] = 0;
          buf[3] = 0;
          const sum = internetChecksum(buf, 0, n);
          buf[2] = sum >>> 8;
          buf[3] = sum;
          return n;
        },
        opts,
      );
    } catch {
      return void this.drops.drop("send-failed");
    }
    this.c.echoRepliesOut++;
    this.c.txMessages++;
    this.c.txBytes += n;
  }

  private onEchoReply(src: Ipv4Address, payload: Uint8Array, header: Uint8Array): void {
    this.c.echoRepliesIn++;
    const identifier = (payload[4]! << 8) | payload[5]!;
    const sequence = (payload[6]! << 8) | payload[7]!;
    const p = identifier === this.identifier ? this.pending.get(sequence) : undefined;
    if (p === undefined) return void this.drops.drop("unmatched-reply");
    // A unicast ping must be answered by the host pinged.
    if (src !== p.dst && isUnicastHost(this.ipv4.addresses, p.dst)) return void this.drops.drop("unmatched-reply");
    if (!this.settle(p)) return;
    p.resolve({
      from: src,
      sequence,
      identifier,
      ttl: header.length > 8 ? header[8]! : 0,
      bytes: payload.length - ICMP_HEADER_LENGTH,
      rttMs: this.clock.now() - p.sentAt,
    });
  }

  private onError(reporter: Ipv4Address, payload: Uint8Array): void {
    this.c.errorsIn++;
    const type = payload[0]!;
    const code = payload[1]!;
    const quote = payload.subarray(ICMP_HEADER_LENGTH);
    if (quote.length < MIN_QUOTE_LENGTH || quote[0]! >>> 4 !== 4) return void this.drops.drop("bad-quote");
    const hl = (quote[0]! & 0x0f) * 4;
    if (hl < IPV4_HEADER_LENGTH || quote.length < hl + 8) return void this.drops.drop("bad-quote");
    // A non-initial fragment carries no upper-layer header to demultiplex on.
    if ((((quote[6]! & 0x1f) << 8) | quote[7]!) !== 0) return void this.drops.drop("bad-quote");
    const src = readIpv4(quote, 12);
    // Only errors about datagrams we sent: their source is one of our addresses (or loopback).
    if (!isLocalAddress(this.ipv4.addresses, src)) return void this.drops.drop("not-ours");
    const report: IcmpErrorReport = {
      kind: icmpErrorKind(type, code)!,
      type,
      code,
      reporter,
      src,
      dst: readIpv4(quote, 16),
      protocol: quote[9]!,
      quoted: quote.subarray(hl),
      nextHopMtu: type === 3 && code === 4 ? (payload[6]! << 8) | payload[7]! : 0,
    };
    if (report.protocol === IPPROTO_ICMP) return this.onIcmpError(report);
    this.c.errorsDelivered++;
    this.ipv4.deliverIcmpError(report);
  }

  /**
   * {@link Ipv4ProtocolHandler.onIcmpError}: an ICMP error about an ICMP
   * message we sent. Errors about our echo requests reject the pending ping
   * (`ENETUNREACH` for net-unreachable, `EHOSTUNREACH` otherwise).
   */
  onIcmpError(report: IcmpErrorReport): void {
    const q = report.quoted;
    if (q.length < ICMP_HEADER_LENGTH || q[0] !== IcmpType.ECHO_REQUEST) return void this.drops.drop("unmatched-error");
    const identifier = (q[4]! << 8) | q[5]!;
    const sequence = (q[6]! << 8) | q[7]!;
    const p = identifier === this.identifier ? this.pending.get(sequence) : undefined;
    if (p === undefined || p.dst !== report.dst) return void this.drops.drop("unmatched-error");
    this.c.pingErrors++;
    const code = report.kind === "net-unreachable" ? "ENETUNREACH" : "EHOSTUNREACH";
    this.fail(
      p,
      new MorganaError(code, `ping ${code} ${formatIpv4(report.dst)}: ${report.kind} (type ${report.type} code ${report.code}) from ${formatIpv4(report.reporter)}`, {
        syscall: "ping",
        address: formatIpv4(report.dst),
        cause: report,
      }),
    );
  }

  // ---- sending errors -----------------------------------------------------------------

  /**
   * Sends an ICMP error about a received datagram (`header`: its IP header
   * with options; `payload`: its upper-layer bytes), following RFC 1122
   * §3.2.2: nothing is sent about an ICMP error message, a datagram to a
   * broadcast or multicast address, a non-initial fragment, or a datagram
   * whose source does not name a single host; what passes is rate-limited by
   * a token bucket. Never throws: every error not sent is a counted drop.
   *
   * `time-exceeded` is sent with code 1 (fragment reassembly time exceeded)
   * when the quoted header has MF set, else code 0; `details.code` overrides.
   * `fragmentation-needed` reports `details.nextHopMtu`, by default the
   * IP MTU towards the original source (`ipv4.mtu(src) + 20`).
   */
  sendError(kind: IcmpErrorToSend, header: Uint8Array, payload: Uint8Array, details: SendErrorDetails = {}): void {
    if (this.closed) return void this.drops.drop("closed");
    const spec = SEND_KIND[kind];
    if (spec === undefined || header.length < IPV4_HEADER_LENGTH || header[0]! >>> 4 !== 4) return void this.drops.drop("bad-header");
    const hl = (header[0]! & 0x0f) * 4;
    if (hl < IPV4_HEADER_LENGTH || hl > header.length) return void this.drops.drop("bad-header");
    const [type] = spec;
    let code = spec[1];
    if ((((header[6]! & 0x1f) << 8) | header[7]!) !== 0) return void this.drops.drop("no-error-for-fragment");
    if (header[9] === IPPROTO_ICMP) {
      // About an ICMP message: only queries (known non-error types) may be answered with an error.
      const t = payload[0];
      if (t === undefined || isIcmpErrorType(t) || t > IcmpType.ADDRESS_MASK_REPLY) return void this.drops.drop("no-error-for-icmp-error");
    }
    const prefixes = this.ipv4.addresses;
    const origSrc = readIpv4(header, 12);
    const origDst = readIpv4(header, 16);
    if (isBroadcastOrMulticast(prefixes, origDst)) return void this.drops.drop("no-error-for-broadcast");
    if (!isUnicastHost(prefixes, origSrc) && !(isLoopbackIpv4(origSrc) && isLoopbackIpv4(origDst))) return void this.drops.drop("no-error-for-bad-source");
    if (!this.takeToken()) return void this.drops.drop("rate-limited");

    let rest = 0;
    if (details.code !== undefined) code = details.code & 0xff;
    else if (kind === "time-exceeded" && (header[6]! & 0x20) !== 0) code = 1;
    if (kind === "fragmentation-needed") {
      let mtu = details.nextHopMtu;
      if (mtu === undefined) {
        try {
          mtu = this.ipv4.mtu(origSrc) + IPV4_HEADER_LENGTH;
        } catch {
          mtu = 0;
        }
      }
      rest = mtu & 0xffff;
    }
    const quoteData = Math.min(payload.length, Math.max(8, this.maxErrorLength - IPV4_HEADER_LENGTH - ICMP_HEADER_LENGTH - hl));
    const n = ICMP_HEADER_LENGTH + hl + quoteData;
    const opts: Ipv4WriteOptions = isLocalAddress(prefixes, origDst) ? { src: origDst } : {};
    try {
      this.ipv4.write(
        origSrc,
        IPPROTO_ICMP,
        n,
        (buf) => {
          buf[0] = type;
          buf[1] = code;
          buf[2] = 0;
          buf[3] = 0;
          buf[4] = rest >>> 24;
          buf[5] = rest >>> 16;
          buf[6] = rest >>> 8;
          buf[7] = rest;
          buf.set(header.subarray(0, hl), ICMP_HEADER_LENGTH);
          buf.set(payload.subarray(0, quoteData), ICMP_HEADER_LENGTH + hl);
          const sum = internetChecksum(buf, 0, n);
          buf[2] = sum >>> 8;
          buf[3] = sum;
          return n;
        },
        opts,
      );
    } catch {
      return void this.drops.drop("send-failed");
    }
    this.c.errorsOut++;
    this.c.txMessages++;
    this.c.txBytes += n;
  }

  private takeToken(): boolean {
    const now = this.clock.now();
    if (this.ratePerMs === Infinity) return true;
    const elapsed = now - this.lastRefill;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + elapsed * this.ratePerMs);
      this.lastRefill = now;
    }
    // A small epsilon absorbs float rounding of fractional refills.
    if (this.tokens >= 1 - 1e-9) {
      this.tokens = Math.max(0, this.tokens - 1);
      return true;
    }
    return false;
  }

  // ---- lifecycle ----------------------------------------------------------------------

  /**
   * Stops the layer: unregisters protocol 1, cancels every timer and rejects
   * pending pings with `ERR_SOCKET_CLOSED`. Later pings reject the same way,
   * received messages are dropped (`closed`) and no error is sent.
   * Idempotent.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    try {
      this.ipv4.unregister(IPPROTO_ICMP);
    } catch {
      // Already unregistered by the owner: nothing to do.
    }
    for (const p of [...this.pending.values()]) {
      this.fail(p, new MorganaError("ERR_SOCKET_CLOSED", "ping: the ICMP layer was closed", { syscall: "ping", address: formatIpv4(p.dst) }));
    }
    return Promise.resolve();
  }

  stats(): LayerStats {
    return { counters: { ...this.c, pendingPings: this.pending.size }, drops: this.drops.snapshot() };
  }
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/**
 * The echo payload, as Linux `ping` lays it out: a `struct timeval` (seconds
 * and microseconds, 64-bit little-endian each) when there is room for it,
 * then bytes counting up from the offset (0x10, 0x11, ...).
 */
export function fillEchoPayload(data: Uint8Array, wallMs: number): void {
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
  if (data.length >= 16 && Number.isFinite(wallMs) && wallMs >= 0) {
    const sec = Math.floor(wallMs / 1000);
    const usec = Math.floor((wallMs - sec * 1000) * 1000);
    writeU64le(data, 0, sec);
    writeU64le(data, 8, usec);
  }
}

function writeU64le(buf: Uint8Array, off: number, v: number): void {
  const lo = v >>> 0;
  const hi = Math.floor(v / 0x1_0000_0000) >>> 0;
  for (let i = 0; i < 4; i++) buf[off + i] = lo >>> (8 * i);
  for (let i = 0; i < 4; i++) buf[off + 4 + i] = hi >>> (8 * i);
}
