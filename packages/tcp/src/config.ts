/**
 * The TCP layer's tunables, their defaults and their bounds. Every default is
 * documented in the README with its reason.
 */
import { MorganaError, type KeepAliveOptions } from "@morgana/interfaces";
import type { CongestionControlName } from "./cc.js";

export const DEFAULTS = {
  /** Send and receive buffers, bytes (per connection). */
  sendBufferSize: 256 * 1024,
  receiveBufferSize: 256 * 1024,
  /** The largest buffer a connection may ask for. */
  maxBufferSize: 16 * 1024 * 1024,
  windowScaling: true,
  timestamps: true,
  sack: true,
  /** Segments (RFC 6928). */
  initialWindow: 10,
  minRtoMs: 1000,
  initialRtoMs: 1000,
  maxRtoMs: 120_000,
  /** Retransmissions of a data segment (or unanswered zero-window probes) before ETIMEDOUT. */
  maxRetransmissions: 15,
  /** SYN retransmissions before a connection attempt fails. */
  synRetries: 6,
  /** SYN-ACK retransmissions before a half-open connection is dropped. */
  synAckRetries: 5,
  delayedAckMs: 40,
  noDelay: false,
  keepAliveIdleMs: 7_200_000,
  keepAliveIntervalMs: 75_000,
  keepAliveCount: 9,
  timeWaitMs: 60_000,
  /** Connections held in TIME-WAIT per layer; beyond, a closing connection skips TIME-WAIT (Linux's tcp_max_tw_buckets). */
  maxTimeWait: 16_384,
  /** How long a closed (orphaned) connection waits in FIN-WAIT-2 for the peer's FIN. */
  finWait2Ms: 60_000,
  /** Accept queue (established, not yet accepted), like Node's default backlog. */
  backlog: 511,
  /** Half-open connections per listener before SYN cookies. */
  synQueue: 256,
  synCookies: true,
  /** RFC 5961 challenge ACKs per second for the whole layer (randomised around it). */
  challengeAckLimit: 1000,
  /** Per connection: at most one ACK in reply to out-of-window segments per interval (ms). */
  invalidAckIntervalMs: 500,
  congestionControl: "cubic" as CongestionControlName,
  /** Tail loss probes (RFC 8985 §7) with SACK. */
  tailLossProbe: true,
  /** Out-of-order ranges held per connection. */
  maxOooRanges: 64,
  /** SACK blocks remembered by the sender per connection. */
  maxSackBlocks: 64,
  ephemeralRange: [49152, 65535] as readonly [number, number],
} as const;

export interface TcpTuning {
  /** Default send buffer per connection, bytes. Default 256 KiB. */
  readonly sendBufferSize?: number;
  /** Default receive buffer (the largest window advertised) per connection, bytes. Default 256 KiB. */
  readonly receiveBufferSize?: number;
  /** Upper bound for per-connection buffer sizes. Default 16 MiB. */
  readonly maxBufferSize?: number;
  /** Offer window scaling (RFC 7323). Default true. */
  readonly windowScaling?: boolean;
  /** Offer timestamps (RFC 7323). Default true. */
  readonly timestamps?: boolean;
  /** Offer SACK (RFC 2018). Default true. */
  readonly sack?: boolean;
  /** Initial congestion window in segments. Default 10 (RFC 6928). */
  readonly initialWindow?: number;
  /** Minimum RTO, ms. Default 1000 (RFC 6298); LANs and tests may use 200 like Linux. */
  readonly minRtoMs?: number;
  /** RTO before any RTT sample, ms. Default 1000 (RFC 6298). */
  readonly initialRtoMs?: number;
  /** Maximum RTO (backoff cap), ms. Default 120 000 (Linux's TCP_RTO_MAX). */
  readonly maxRtoMs?: number;
  /** Consecutive timeouts of one segment before ETIMEDOUT. Default 15. */
  readonly maxRetransmissions?: number;
  /** SYN retransmissions before ETIMEDOUT. Default 6 (about 127 s with a 1 s initial RTO). */
  readonly synRetries?: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped. Default 5. */
  readonly synAckRetries?: number;
  /** Delayed ACK timer, ms; 0 acknowledges every segment at once. Default 40. */
  readonly delayedAckMs?: number;
  /** Default for new connections: disable Nagle's algorithm. Default false. */
  readonly noDelay?: boolean;
  /** Keepalive defaults when enabled without explicit values. Default 2 h idle, 75 s interval, 9 probes. */
  readonly keepAlive?: KeepAliveOptions;
  /** TIME-WAIT duration (2 × MSL), ms. Default 60 000. */
  readonly timeWaitMs?: number;
  /** Connections in TIME-WAIT per layer; beyond, closing connections skip TIME-WAIT. Default 16 384. */
  readonly maxTimeWait?: number;
  /** FIN-WAIT-2 timeout for closed connections, ms. Default 60 000. */
  readonly finWait2Ms?: number;
  /** Default accept queue of listeners. Default 511. */
  readonly backlog?: number;
  /** Half-open connections per listener. Default 256. */
  readonly synQueue?: number;
  /** Answer SYNs with SYN cookies once the SYN queue is full. Default true (else such SYNs are dropped). */
  readonly synCookies?: boolean;
  /** RFC 5961 challenge ACKs per second for the layer. Default 1000; Infinity disables the limit. */
  readonly challengeAckLimit?: number;
  /** Minimum interval between ACKs answering out-of-window segments on one connection, ms. Default 500. */
  readonly invalidAckIntervalMs?: number;
  /** Congestion control for new connections. Default "cubic". */
  readonly congestionControl?: CongestionControlName;
  /** Send a tail loss probe (RFC 8985 §7) after max(2·SRTT, 10 ms) without ACK, when SACK is on. Default true. */
  readonly tailLossProbe?: boolean;
  /** Out-of-order ranges held per connection. Default 64. */
  readonly maxOooRanges?: number;
  /** SACK blocks the sender tracks per connection. Default 64. */
  readonly maxSackBlocks?: number;
  /** Inclusive ephemeral port range. Default [49152, 65535]. */
  readonly ephemeralRange?: readonly [number, number];
  /** Override the MSS we advertise (default: the path MTU minus 40). */
  readonly mss?: number;
}

/** The resolved configuration. */
export interface TcpConfig {
  sendBufferSize: number;
  receiveBufferSize: number;
  maxBufferSize: number;
  windowScaling: boolean;
  timestamps: boolean;
  sack: boolean;
  initialWindow: number;
  minRtoMs: number;
  initialRtoMs: number;
  maxRtoMs: number;
  maxRetransmissions: number;
  synRetries: number;
  synAckRetries: number;
  delayedAckMs: number;
  noDelay: boolean;
  keepAliveIdleMs: number;
  keepAliveIntervalMs: number;
  keepAliveCount: number;
  timeWaitMs: number;
  maxTimeWait: number;
  finWait2Ms: number;
  backlog: number;
  synQueue: number;
  synCookies: boolean;
  challengeAckLimit: number;
  invalidAckIntervalMs: number;
  congestionControl: CongestionControlName;
  tailLossProbe: boolean;
  maxOooRanges: number;
  maxSackBlocks: number;
  ephemeralRange: readonly [number, number];
  mss: number | undefined;
}

function bad(name: string, v: unknown, what: string): never {
  throw new MorganaError("EINVAL", `TcpLayer: ${name} must be ${what}, not ${String(v)}`);
}

export function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) bad(name, v, `an integer in ${min}..${max}`);
  return v;
}

export function checkMs(name: string, v: unknown, min = 0): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min) bad(name, v, `a finite number of ms >= ${min}`);
  return v;
}

/** Validates a buffer size against the layer's bound. */
export function checkBuffer(name: string, v: unknown, max: number): number {
  return checkInt(name, v, 1024, max);
}

export function resolveConfig(t: TcpTuning): TcpConfig {
  const maxBufferSize = checkInt("maxBufferSize", t.maxBufferSize ?? DEFAULTS.maxBufferSize, 4096, 1 << 30);
  const ka = t.keepAlive ?? {};
  const [lo, hi] = t.ephemeralRange ?? DEFAULTS.ephemeralRange;
  checkInt("ephemeralRange[0]", lo, 1, 65535);
  checkInt("ephemeralRange[1]", hi, lo, 65535);
  const cc = t.congestionControl ?? DEFAULTS.congestionControl;
  if (cc !== "cubic" && cc !== "newreno") bad("congestionControl", cc, '"cubic" or "newreno"');
  const minRtoMs = checkMs("minRtoMs", t.minRtoMs ?? DEFAULTS.minRtoMs, 1);
  const maxRtoMs = checkMs("maxRtoMs", t.maxRtoMs ?? DEFAULTS.maxRtoMs, minRtoMs);
  const challenge = t.challengeAckLimit ?? DEFAULTS.challengeAckLimit;
  if (challenge !== Infinity) checkInt("challengeAckLimit", challenge, 0, 1e9);
  return {
    sendBufferSize: checkBuffer("sendBufferSize", t.sendBufferSize ?? DEFAULTS.sendBufferSize, maxBufferSize),
    receiveBufferSize: checkBuffer("receiveBufferSize", t.receiveBufferSize ?? DEFAULTS.receiveBufferSize, maxBufferSize),
    maxBufferSize,
    windowScaling: t.windowScaling ?? DEFAULTS.windowScaling,
    timestamps: t.timestamps ?? DEFAULTS.timestamps,
    sack: t.sack ?? DEFAULTS.sack,
    initialWindow: checkInt("initialWindow", t.initialWindow ?? DEFAULTS.initialWindow, 1, 1000),
    minRtoMs,
    initialRtoMs: checkMs("initialRtoMs", t.initialRtoMs ?? DEFAULTS.initialRtoMs, 1),
    maxRtoMs,
    maxRetransmissions: checkInt("maxRetransmissions", t.maxRetransmissions ?? DEFAULTS.maxRetransmissions, 1, 100),
    synRetries: checkInt("synRetries", t.synRetries ?? DEFAULTS.synRetries, 0, 100),
    synAckRetries: checkInt("synAckRetries", t.synAckRetries ?? DEFAULTS.synAckRetries, 0, 100),
    delayedAckMs: checkMs("delayedAckMs", t.delayedAckMs ?? DEFAULTS.delayedAckMs),
    noDelay: t.noDelay ?? DEFAULTS.noDelay,
    keepAliveIdleMs: checkMs("keepAlive.idleMs", ka.idleMs ?? DEFAULTS.keepAliveIdleMs, 1),
    keepAliveIntervalMs: checkMs("keepAlive.intervalMs", ka.intervalMs ?? DEFAULTS.keepAliveIntervalMs, 1),
    keepAliveCount: checkInt("keepAlive.count", ka.count ?? DEFAULTS.keepAliveCount, 1, 1000),
    timeWaitMs: checkMs("timeWaitMs", t.timeWaitMs ?? DEFAULTS.timeWaitMs),
    maxTimeWait: checkInt("maxTimeWait", t.maxTimeWait ?? DEFAULTS.maxTimeWait, 0, 1 << 24),
    finWait2Ms: checkMs("finWait2Ms", t.finWait2Ms ?? DEFAULTS.finWait2Ms),
    backlog: checkInt("backlog", t.backlog ?? DEFAULTS.backlog, 1, 1 << 20),
    synQueue: checkInt("synQueue", t.synQueue ?? DEFAULTS.synQueue, 1, 1 << 20),
    synCookies: t.synCookies ?? DEFAULTS.synCookies,
    challengeAckLimit: challenge,
    invalidAckIntervalMs: checkMs("invalidAckIntervalMs", t.invalidAckIntervalMs ?? DEFAULTS.invalidAckIntervalMs),
    congestionControl: cc,
    tailLossProbe: t.tailLossProbe ?? DEFAULTS.tailLossProbe,
    maxOooRanges: checkInt("maxOooRanges", t.maxOooRanges ?? DEFAULTS.maxOooRanges, 1, 4096),
    maxSackBlocks: checkInt("maxSackBlocks", t.maxSackBlocks ?? DEFAULTS.maxSackBlocks, 1, 4096),
    ephemeralRange: [lo, hi],
    mss: t.mss === undefined ? undefined : checkInt("mss", t.mss, 88, 65495),
  };
}

/** The smallest window scale shift that lets the window field cover `buffer` bytes (max 14, RFC 7323). */
export function wscaleFor(buffer: number): number {
  let s = 0;
  while (s < 14 && 65535 * 2 ** s < buffer) s++;
  return s;
}
