/**
 * One TCP connection: the transmission control block, the RFC 9293 state
 * machine, loss recovery, and the {@link TcpFlow} the application holds.
 *
 * The core is sans-IO: `input(seg, now)` takes a parsed segment and the
 * current time, `onTimer()` runs the deadlines, and every segment leaves
 * through `ipv4.write` with a fill function bound once per connection, so
 * the header, options and data are written straight into the frame (data
 * copied once from the send buffer, checksum computed once). One clock timer
 * per connection is armed for the earliest deadline (RTO, persist, delayed
 * ACK, keepalive, TIME-WAIT, FIN-WAIT-2, connect timeout) and re-armed
 * lazily: a later deadline never cancels it, the timer fires early and re-arms.
 *
 * Sequence numbers are int32 (`| 0`) and compared by signed difference.
 */
import {
  IPPROTO_TCP,
  MorganaError,
  formatIpv4,
  type ErrorCode,
  type Ipv4Address,
  type Ipv4WriteOptions,
  type KeepAliveOptions,
  type SocketAddress,
  type TcpFlow,
  type TcpInfo,
  type Timer,
} from "@morgana/interfaces";
import { finish, onesComplementSum, pseudoHeaderSum } from "@morgana/checksum";
import { ChunkQueue, SendQueue } from "./buffers.js";
import { createCongestionControl, type CongestionControl } from "./cc.js";
import { ACK, FIN, OPT_MSS, OPT_NOP, OPT_SACK, OPT_SACK_PERMITTED, OPT_TIMESTAMP, OPT_WSCALE, PSH, RST, SYN } from "./codec.js";
import { wscaleFor, type TcpConfig } from "./config.js";
import { Reassembly } from "./reassembly.js";
import { Scoreboard } from "./scoreboard.js";
import type { Segment } from "./segment.js";
import {
  CLOSED,
  CLOSE_WAIT,
  CLOSING,
  DEFAULT_MSS,
  DUP_THRESH,
  ESTABLISHED,
  FALLBACK_RTO_MS,
  FIN_WAIT_1,
  FIN_WAIT_2,
  LAST_ACK,
  LOSS,
  MAX_READ,
  MIN_MSS,
  OPEN,
  PAWS_IDLE_MS,
  RECOVERY,
  STATE_NAMES,
  SYN_RECEIVED,
  SYN_SENT,
  TIME_WAIT,
} from "./state.js";

/**
 * Per-layer scratch state shared by its connections (segment output is
 * synchronous and never re-entrant, so one copy serves them all): the SACK
 * blocks and hole being written, and the fill closure ipv4.write calls, which
 * forwards to `conn`.
 */
export interface OutputScratch {
  readonly sack: Int32Array;
  readonly hole: Int32Array;
  conn: Connection | undefined;
  readonly fill: (b: Uint8Array) => number;
  /** The segment being written: sequence number, flags, data offset and length, option bytes, SACK blocks, RST ack, time. */
  seq: number;
  flags: number;
  dataOff: number;
  dataLen: number;
  optLen: number;
  sackN: number;
  rstAck: number;
  now: number;
  /** Write options shared by established connections, by local address. */
  readonly opts: Map<number, Ipv4WriteOptions>;
}

export function createScratch(): OutputScratch {
  const s: OutputScratch = {
    sack: new Int32Array(8),
    hole: new Int32Array(2),
    conn: undefined,
    fill: (b) => s.conn!.fillSegment(b),
    seq: 0,
    flags: 0,
    dataOff: 0,
    dataLen: 0,
    optLen: 0,
    sackN: 0,
    rstAck: 0,
    now: 0,
    opts: new Map(),
  };
  return s;
}

/** What a connection needs from its layer. */
export interface ConnectionHost {
  readonly scratch: OutputScratch;
  readonly cfg: TcpConfig;
  readonly clock: { now(): number; setTimer(ms: number, cb: () => void): Timer };
  readonly ipv4: { write(dst: Ipv4Address, protocol: number, size: number, fill: (b: Uint8Array) => number, opts?: Ipv4WriteOptions): void; mtu(dst: Ipv4Address): number };
  readonly c: LayerCounters;
  drop(reason: string): void;
  /** Layer-wide RFC 5961 challenge ACK budget: true when one may be sent now. */
  challengeAllowed(now: number): boolean;
  /** The connection ended: remove it from the tables. */
  unlink(conn: Connection): void;
  /** Whether a passive connection's listener has room in its accept queue. */
  canEstablish(conn: Connection): boolean;
  /** A passive connection reached ESTABLISHED: hand it to its listener. */
  established(conn: Connection): void;
  /** A passive half-open connection left SYN-RECEIVED without being established. */
  halfOpenGone(conn: Connection): void;
  /** A connection enters TIME-WAIT: false when the layer's TIME-WAIT table is full (then it just ends). */
  timeWaitEnter(): boolean;
  timeWaitLeave(): void;
}

/** The layer's counters connections update (a plain object of numbers). */
export interface LayerCounters {
  segmentsIn: number;
  segmentsOut: number;
  bytesIn: number;
  bytesOut: number;
  retransmittedSegments: number;
  retransmittedBytes: number;
  fastRetransmits: number;
  sackRecoveries: number;
  timeouts: number;
  resetsSent: number;
  resetsReceived: number;
  challengeAcks: number;
  delayedAcks: number;
  zeroWindowProbes: number;
  keepAliveProbes: number;
  activeOpens: number;
  passiveOpens: number;
  attemptFails: number;
  establishedResets: number;
  timersArmed: number;
  icmpErrors: number;
  pmtuReductions: number;
  tailLossProbes: number;
  rackRecoveries: number;
  lostRetransmissions: number;
}

interface PendingWrite {
  data: Uint8Array | readonly Uint8Array[];
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
}

const RESOLVED: Promise<void> = Promise.resolve();
const TS_OPTION = 12;

function err(code: ErrorCode, syscall: string, address: string, port: number, message?: string): MorganaError {
  return new MorganaError(code, message, { syscall, address, port });
}

export interface ConnectionOptions {
  sendBufferSize: number;
  receiveBufferSize: number;
  noDelay: boolean;
  keepAlive: boolean | KeepAliveOptions;
}

export class Connection implements TcpFlow {
  // ---- identity --------------------------------------------------------------------------
  readonly host: ConnectionHost;
  readonly localAddr: Ipv4Address;
  readonly localPort: number;
  readonly remoteAddr: Ipv4Address;
  readonly remotePort: number;
  /** remote address × 65536 + remote port: the connection table key. */
  get key(): number {
    return this.remoteAddr * 65536 + this.remotePort;
  }
  /** Next connection with the same key (another local address or port). */
  nextInBucket: Connection | undefined = undefined;
  /** The listener a passive connection came from, until it is accepted. */
  listener: unknown = undefined;
  /** Counted in its listener's SYN queue. */
  halfOpen = false;
  state = CLOSED;
  private readonly passive: boolean;

  // ---- timers ----------------------------------------------------------------------------
  private timer: Timer | undefined = undefined;
  private timerAt = Infinity;
  private readonly onTimerBound: () => void;
  private rtoAt = Infinity;
  private delAckAt = Infinity;
  private persistAt = Infinity;
  private keepAt = Infinity;
  /** TIME-WAIT expiry, or the FIN-WAIT-2 timeout of a closed connection. */
  private lingerAt = Infinity;
  private connectAt = Infinity;

  // ---- send side -------------------------------------------------------------------------
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  maxSndWnd = 0;
  sndWscale = 0;
  private readonly sq = new SendQueue();
  sndBufSize: number;
  private pendingWrites: PendingWrite[] | undefined = undefined;
  private finQueued = false;
  finSent = false;
  private finSeq = 0;
  private finAcked = false;
  /** MSS we advertised; the largest TCP payload+options we accept per segment. */
  advMss = DEFAULT_MSS;
  /** Largest TCP payload + options per segment we send (min of the peer's MSS and our path). */
  mssBase = DEFAULT_MSS;
  /** Payload bytes of a full segment (mssBase minus the timestamp option). */
  smss = DEFAULT_MSS;
  cc: CongestionControl;
  recState = OPEN;
  private recoverPoint = 0;
  private highRxt = 0;
  private lossBound = 0;
  dupAcks = 0;
  private renoDup = 0;
  private forceRetransmit = false;
  private sb: Scoreboard | undefined = undefined;
  rto: number;
  srtt = 0;
  rttvar = 0;
  private hasRtt = false;
  private rttTiming = false;
  private rttSeq = 0;
  private rttTime = 0;
  /** Consecutive timeouts of the oldest segment (reset when new data is acknowledged). */
  retries = 0;
  private synRetransmits = 0;
  private persistBackoff = 0;
  private probesOut = 0;
  private lastSend = 0;
  noDelay: boolean;
  private segsSent = 0;
  private lastRetransTs = 0;
  private retransTsValid = false;
  /** Tail loss probe (RFC 8985 §7): deadline, and the episode in progress. */
  private tlpAt = Infinity;
  private lastRetransAt = 0;
  private tlpActive = false;
  private tlpRetrans = false;
  private tlpHigh = 0;

  // ---- receive side ----------------------------------------------------------------------
  irs = 0;
  rcvNxt = 0;
  /** The right edge of the window we advertised (never moves left). */
  rcvAdvRight = 0;
  rcvWscale = 0;
  rcvBufSize: number;
  private readonly rq = new ChunkQueue();
  private reasm: Reassembly | undefined = undefined;
  /** Sequence number of a FIN received out of order (valid when finPending). */
  private finPendingSeq = 0;
  private finPending = false;
  /** FIN received and consumed: end of stream after the queued data. */
  private eof = false;
  private readWaiters: Waiter<Uint8Array | null>[] | undefined = undefined;
  private ackPending = false;
  private bytesSinceAck = 0;
  private rcvMss = DEFAULT_MSS;
  tsOk = false;
  sackOk = false;
  wsOk = false;
  private tsRecent = 0;
  private tsRecentAge = 0;
  private tsRecentValid = false;
  tsOffset = 0;
  private lastAckSent = 0;
  private lastRecv = 0;
  private lastOowAck = -Infinity;

  // ---- application -----------------------------------------------------------------------
  private connectWaiter: Waiter<TcpFlow> | undefined = undefined;
  private closeWaiters: (() => void)[] | undefined = undefined;
  private shutdownWaiters: Waiter<void>[] | undefined = undefined;
  private shutdownCalled = false;
  private closeCalled = false;
  /** The failure every pending and later operation rejects with (a MorganaError, or the Error given to abort()). */
  error: Error | undefined = undefined;
  private softError: ErrorCode | undefined = undefined;
  private kaEnabled = false;
  private kaIdle: number;
  private kaInterval: number;
  private kaCount: number;
  private kaProbes = 0;
  private freed = false;
  private timeWaitCounted = false;
  private aborted = false;

  // ---- counters --------------------------------------------------------------------------
  bytesSent = 0;
  bytesReceived = 0;
  retransSegs = 0;
  retransBytes = 0;

  // ---- output ----------------------------------------------------------------------------
  /** Write options while connecting (with an onError for neighbour failures); shared ones after. */
  private wopts: Ipv4WriteOptions;
  private localText: SocketAddress | undefined = undefined;
  private remoteText: SocketAddress | undefined = undefined;

  constructor(host: ConnectionHost, localAddr: Ipv4Address, localPort: number, remoteAddr: Ipv4Address, remotePort: number, passive: boolean, o: ConnectionOptions) {
    this.host = host;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
    this.passive = passive;
    const cfg = host.cfg;
    this.sndBufSize = o.sendBufferSize;
    this.rcvBufSize = o.receiveBufferSize;
    this.noDelay = o.noDelay;
    this.rto = cfg.initialRtoMs;
    this.cc = createCongestionControl(cfg.congestionControl, cfg.initialWindow * DEFAULT_MSS);
    this.kaIdle = cfg.keepAliveIdleMs;
    this.kaInterval = cfg.keepAliveIntervalMs;
    this.kaCount = cfg.keepAliveCount;
    this.onTimerBound = () => this.onTimer();
    if (o.keepAlive !== false) this.setKeepAlive(true, o.keepAlive === true ? undefined : o.keepAlive);
    this.wopts = { src: localAddr, dontFragment: true, onError: (e: Error) => this.onSendError(e) };
    // The MSS we offer: the path MTU minus the IP and TCP headers (RFC 9293 §3.7.1, RFC 6691).
    const pathMss = host.ipv4.mtu(remoteAddr) - 20;
    this.advMss = Math.min(cfg.mss ?? pathMss, pathMss, 65535);
  }

  // ==== TcpFlow ==========================================================================

  get local(): SocketAddress {
    return (this.localText ??= { address: formatIpv4(this.localAddr), port: this.localPort, family: "IPv4" });
  }

  get remote(): SocketAddress {
    return (this.remoteText ??= { address: formatIpv4(this.remoteAddr), port: this.remotePort, family: "IPv4" });
  }

  private fail0(code: ErrorCode, syscall: string, message?: string): MorganaError {
    return err(code, syscall, formatIpv4(this.remoteAddr), this.remotePort, message);
  }

  read(): Promise<Uint8Array | null> {
    if (this.rq.count > 0) {
      const c = this.rq.take(MAX_READ)!;
      this.afterRead();
      return Promise.resolve(c);
    }
    // A FIN already received wins over a later error, as in Linux (SOCK_DONE before sk_err).
    if (this.eof && !this.aborted) return Promise.resolve(null);
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.closeCalled) return Promise.resolve(null);
    return new Promise((resolve, reject) => (this.readWaiters ??= []).push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const c = await this.read();
      if (c === null) return;
      yield c;
    }
  }

  private writeError(): Error | undefined {
    if (this.error !== undefined) return this.error;
    if (this.shutdownCalled || this.closeCalled) return this.fail0("EPIPE", "write", "write after end");
    return undefined;
  }

  write(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) return Promise.reject(new MorganaError("EINVAL", "write: data must be a Uint8Array", { syscall: "write" }));
    const e = this.writeError();
    if (e !== undefined) return Promise.reject(e);
    if (data.length === 0) return RESOLVED;
    if (this.pendingWrites === undefined && this.sq.size < this.sndBufSize) {
      this.sq.push(data);
      this.trySend(this.host.clock.now());
      return RESOLVED;
    }
    return new Promise((resolve, reject) => (this.pendingWrites ??= []).push({ data, resolve, reject }));
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    if (!Array.isArray(chunks) || chunks.some((c) => !(c instanceof Uint8Array))) {
      return Promise.reject(new MorganaError("EINVAL", "writev: chunks must be Uint8Arrays", { syscall: "write" }));
    }
    const e = this.writeError();
    if (e !== undefined) return Promise.reject(e);
    if (this.pendingWrites === undefined && this.sq.size < this.sndBufSize) {
      for (const c of chunks) this.sq.push(c);
      this.trySend(this.host.clock.now());
      return RESOLVED;
    }
    return new Promise((resolve, reject) => (this.pendingWrites ??= []).push({ data: chunks, resolve, reject }));
  }

  shutdown(): Promise<void> {
    if (this.shutdownCalled) return this.error !== undefined && !this.finQueued ? Promise.reject(this.error) : RESOLVED;
    if (this.error !== undefined) return Promise.reject(this.error);
    this.shutdownCalled = true;
    if (this.pendingWrites === undefined) {
      this.queueFin();
      return RESOLVED;
    }
    return new Promise((resolve, reject) => (this.shutdownWaiters ??= []).push({ resolve, reject }));
  }

  close(): Promise<void> {
    if (this.closeCalled) return this.finishedPromise();
    this.closeCalled = true;
    const p = this.finishedPromise();
    // Readers see the end of the stream.
    this.wakeReaders();
    if (this.freed || this.state === TIME_WAIT) return p;
    if (this.error !== undefined) return p;
    if (this.rq.bytes > 0 || (this.reasm !== undefined && !this.reasm.empty)) {
      // Unread data: abort with RST, as Linux does (RFC 2525 §2.17).
      this.rq.clear();
      this.resetAndFree("ECONNRESET", false);
      return p;
    }
    if (!this.shutdownCalled) void this.shutdown().catch(() => undefined);
    if (this.state === FIN_WAIT_2) this.armFinWait2(this.host.clock.now());
    return p;
  }

  private finishedPromise(): Promise<void> {
    if (this.freed || this.state === TIME_WAIT || this.state === CLOSED) return RESOLVED;
    return new Promise((resolve) => (this.closeWaiters ??= []).push(resolve));
  }

  abort(e?: Error): void {
    // Nothing to do once the connection is gone, or after a completed close() (TIME-WAIT): the Flow contract.
    if (this.freed || (this.closeCalled && this.state === TIME_WAIT)) {
      return;
    }
    const error = e instanceof Error ? e : this.fail0("ECONNABORTED", "abort", "connection aborted");
    this.rq.clear();
    this.reasm?.clear();
    this.aborted = true;
    if (this.state >= SYN_RECEIVED && this.state !== TIME_WAIT) this.sendRst(this.sndNxt, 0, false);
    this.error ??= error;
    this.terminate();
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay !== false;
    if (this.noDelay) this.trySend(this.host.clock.now());
  }

  setKeepAlive(enable: boolean, opts?: KeepAliveOptions): void {
    if (opts?.idleMs !== undefined) this.kaIdle = positive("idleMs", opts.idleMs);
    if (opts?.intervalMs !== undefined) this.kaInterval = positive("intervalMs", opts.intervalMs);
    if (opts?.count !== undefined) this.kaCount = positive("count", opts.count);
    this.kaEnabled = enable;
    this.kaProbes = 0;
    if (!enable) {
      this.keepAt = Infinity;
      return;
    }
    if (this.state === ESTABLISHED || this.state === CLOSE_WAIT) {
      const now = this.host.clock.now();
      this.setDeadline(now, (this.keepAt = now + this.kaIdle));
    }
  }

  info(): TcpInfo {
    return {
      state: STATE_NAMES[this.state]!,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      mss: this.smss,
      srttMs: this.srtt,
      rttVarMs: this.rttvar,
      rtoMs: this.rto,
      cwnd: Math.round(this.cc.cwnd),
      ssthresh: this.cc.ssthresh === Infinity ? 0x7fffffff : Math.round(this.cc.ssthresh),
      sendWindow: this.sndWnd,
      receiveWindow: Math.max(0, (this.rcvAdvRight - this.rcvNxt) | 0),
      retransmissions: this.retransSegs,
      bytesRetransmitted: this.retransBytes,
      windowScaling: this.wsOk,
      timestamps: this.tsOk,
      sack: this.sackOk,
    };
  }

  /** The congestion control module's name and the recovery state, for tests and tools. */
  debugState(): { cc: string; recovery: number; unsent: number; queued: number; oooRanges: number; timerArmed: boolean; deadlines: Record<string, number> } {
    return {
      cc: this.cc.name,
      recovery: this.recState,
      unsent: Math.max(0, (this.sndUna + this.sq.size - this.sndNxt) | 0),
      queued: this.rq.bytes,
      oooRanges: this.reasm?.ranges.length ?? 0,
      timerArmed: this.timer !== undefined,
      deadlines: { tlp: this.tlpAt, rto: this.rtoAt, delAck: this.delAckAt, persist: this.persistAt, keepalive: this.keepAt, linger: this.lingerAt, connect: this.connectAt },
    };
  }

  // ==== opening ===========================================================================

  /** Active open: sends the SYN. Resolves the returned promise when ESTABLISHED. */
  open(iss: number, tsOffset: number, now: number, timeoutMs: number | undefined): Promise<TcpFlow> {
    this.iss = iss | 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.tsOffset = tsOffset | 0;
    this.rcvWscale = this.host.cfg.windowScaling ? wscaleFor(this.rcvBufSize) : 0;
    this.state = SYN_SENT;
    this.host.c.activeOpens++;
    const p = new Promise<TcpFlow>((resolve, reject) => (this.connectWaiter = { resolve, reject }));
    this.sendSyn(now);
    this.sndNxt = (this.iss + 1) | 0;
    if (this.error !== undefined) {
      // ipv4.write refused the SYN (no route, layer down).
      this.host.c.attemptFails++;
      this.terminate();
      return p;
    }
    if (timeoutMs !== undefined) this.setDeadline(now, (this.connectAt = now + timeoutMs));
    return p;
  }

  /** Passive open: a SYN arrived at a listener. Sends the SYN-ACK. */
  accept(seg: Segment, iss: number, tsOffset: number, now: number): void {
    this.iss = iss | 0;
    this.tsOffset = tsOffset | 0;
    this.irs = seg.seq;
    this.rcvNxt = (seg.seq + 1) | 0;
    this.negotiate(seg, now);
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndWnd = seg.wnd; // never scaled in a SYN
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = seg.seq;
    this.rcvAdvRight = (this.rcvNxt + Math.min(this.rcvBufSize, 65535)) | 0;
    this.lastAckSent = this.rcvNxt;
    this.state = SYN_RECEIVED;
    this.host.c.passiveOpens++;
    this.lastRecv = now;
    this.sendSyn(now);
    this.sndNxt = (this.iss + 1) | 0;
  }

  /**
   * Establishes a connection reconstructed from a SYN cookie (the final ACK
   * of the handshake), with the options the cookie preserved.
   */
  fromCookie(seg: Segment, iss: number, mss: number, peerWscale: number, sackOk: boolean, tsOffset: number, now: number): void {
    const cfg = this.host.cfg;
    this.iss = iss | 0;
    this.irs = (seg.seq - 1) | 0;
    this.rcvNxt = seg.seq;
    this.sndUna = (iss + 1) | 0;
    this.sndNxt = this.sndUna;
    this.tsOffset = tsOffset | 0;
    this.tsOk = cfg.timestamps && seg.hasTs;
    if (this.tsOk) {
      this.tsRecent = seg.tsVal;
      this.tsRecentAge = now;
      this.tsRecentValid = true;
    }
    this.sackOk = cfg.sack && sackOk && this.tsOk;
    this.wsOk = cfg.windowScaling && peerWscale >= 0 && this.tsOk;
    this.sndWscale = this.wsOk ? Math.min(peerWscale, 14) : 0;
    this.rcvWscale = this.wsOk ? wscaleFor(this.rcvBufSize) : 0;
    this.setMss(mss);
    this.sndWnd = seg.wnd << this.sndWscale;
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    // The SYN-ACK advertised min(buffer, 65535) unscaled.
    this.rcvAdvRight = (this.rcvNxt + Math.min(this.rcvBufSize, 65535)) | 0;
    this.lastAckSent = this.rcvNxt;
    this.host.c.passiveOpens++;
    this.lastRecv = now;
    this.becomeEstablished(now);
  }

  private negotiate(seg: Segment, now: number): void {
    const cfg = this.host.cfg;
    this.tsOk = cfg.timestamps && seg.hasTs;
    if (this.tsOk) {
      this.tsRecent = seg.tsVal;
      this.tsRecentAge = now;
      this.tsRecentValid = true;
    }
    this.sackOk = cfg.sack && seg.sackOk;
    this.wsOk = cfg.windowScaling && seg.wscale >= 0;
    this.sndWscale = this.wsOk ? Math.min(seg.wscale, 14) : 0;
    this.rcvWscale = this.wsOk ? wscaleFor(this.rcvBufSize) : 0;
    this.setMss(seg.mss >= 0 ? seg.mss : DEFAULT_MSS);
  }

  private setMss(peerMss: number): void {
    let m = Math.min(peerMss, this.advMss);
    if (m < MIN_MSS) m = MIN_MSS;
    this.mssBase = m;
    this.smss = m - (this.tsOk ? TS_OPTION : 0);
  }

  private becomeEstablished(now: number): void {
    this.state = ESTABLISHED;
    const cfg = this.host.cfg;
    // RFC 5681 §3.1: one segment after a lost SYN or SYN-ACK; else RFC 6928's initial window.
    this.cc.cwnd = (this.synRetransmits > 0 ? 1 : cfg.initialWindow) * this.smss;
    if (!this.hasRtt && this.synRetransmits > 0) this.rto = Math.max(this.rto, FALLBACK_RTO_MS);
    else if (!this.hasRtt) this.rto = cfg.initialRtoMs;
    this.rtoAt = Infinity;
    this.retries = 0;
    this.lastSend = now;
    if (this.kaEnabled) this.setDeadline(now, (this.keepAt = now + this.kaIdle));
    // Established: shared write options (neighbour failures no longer matter to a connect() call).
    const shared = this.host.scratch.opts;
    let so = shared.get(this.localAddr);
    if (so === undefined) shared.set(this.localAddr, (so = { src: this.localAddr, dontFragment: true }));
    this.wopts = so;
    // The handshake's retransmission timer is not needed any more: an idle connection holds no timer.
    if (this.timer !== undefined && this.nextDeadline() === Infinity) this.cancelTimer();
    if (this.passive) {
      this.host.established(this);
    } else {
      const w = this.connectWaiter;
      this.connectWaiter = undefined;
      this.connectAt = Infinity;
      w?.resolve(this);
    }
  }

  // ==== input ============================================================================

  /** One segment for this connection (checksum verified, header parsed). Never throws. */
  input(seg: Segment, now: number): void {
    if (this.freed) return;
    if (this.state === SYN_SENT) this.inputSynSent(seg, now);
    else this.inputSynchronized(seg, now);
    if (!this.freed) this.afterInput(now);
  }

  private inputSynSent(seg: Segment, now: number): void {
    const f = seg.flags;
    const host = this.host;
    if (f & ACK) {
      // RFC 9293 §3.10.7.3: an ACK outside (ISS, SND.NXT] is unacceptable.
      if (((seg.ack - this.iss) | 0) <= 0 || ((seg.ack - this.sndNxt) | 0) > 0) {
        host.drop("bad-ack");
        if (!(f & RST)) this.sendRst(seg.ack, 0, false);
        return;
      }
    }
    if (f & RST) {
      if (f & ACK) {
        host.c.resetsReceived++;
        host.c.attemptFails++;
        this.error ??= this.fail0("ECONNREFUSED", "connect");
        this.terminate();
      } else {
        host.drop("rst-without-ack");
      }
      return;
    }
    if (!(f & SYN)) {
      host.drop("no-syn");
      return;
    }
    this.irs = seg.seq;
    this.rcvNxt = (seg.seq + 1) | 0;
    this.negotiate(seg, now);
    this.lastRecv = now;
    this.sndWl1 = seg.seq;
    if (f & ACK) {
      // Our SYN is acknowledged: measure its RTT (Karn: only if not retransmitted, or by the echoed timestamp).
      if (this.tsOk && seg.tsEcr !== 0) this.rttSample(((this.tsNow(now) - seg.tsEcr) | 0), now);
      else if (this.synRetransmits === 0) this.rttSample(now - this.rttTime, now);
      this.sndUna = seg.ack;
      this.sndWnd = seg.wnd; // never scaled in a SYN-ACK (RFC 7323 §2.2)
      this.maxSndWnd = this.sndWnd;
      this.sndWl2 = seg.ack;
      this.rcvAdvRight = (this.rcvNxt + Math.min(this.rcvBufSize, 65535)) | 0;
      this.lastAckSent = this.rcvNxt;
      this.becomeEstablished(now);
      if (this.freed) return;
      // Data or FIN in the SYN-ACK continues at step 6 (RFC 9293).
      if (seg.len > 0 || f & FIN) this.processText(seg, (seg.seq + 1) | 0, now);
      this.ackPending = true;
      this.sendAckNow(now);
      this.trySend(now);
      return;
    }
    // Simultaneous open (RFC 9293 §3.5, figure 8): SYN-SENT → SYN-RECEIVED, answer SYN-ACK.
    this.state = SYN_RECEIVED;
    this.sndWnd = seg.wnd;
    this.maxSndWnd = seg.wnd;
    this.rcvAdvRight = (this.rcvNxt + Math.min(this.rcvBufSize, 65535)) | 0;
    this.sendSyn(now);
  }

  private inputSynchronized(seg: Segment, now: number): void {
    const host = this.host;
    const f = seg.flags;
    const st = this.state;
    // TIME-WAIT: a retransmitted FIN is acknowledged again and restarts the timer.
    if (st === TIME_WAIT && f & FIN && !(f & RST) && ((seg.seq + seg.len + 1 - this.rcvNxt) | 0) === 0) {
      this.ackPending = true;
      this.sendAckNow(now);
      this.setDeadline(now, (this.lingerAt = now + host.cfg.timeWaitMs));
      return;
    }
    // SYN-RECEIVED (passive): a retransmitted SYN gets the SYN-ACK again.
    if (st === SYN_RECEIVED && (f & (SYN | ACK | RST)) === SYN && seg.seq === this.irs) {
      this.sendSyn(now);
      return;
    }
    // Simultaneous open: the peer's SYN-ACK acknowledges our SYN (its SYN is old news). Linux accepts it.
    if (
      st === SYN_RECEIVED &&
      !this.passive &&
      (f & (SYN | ACK | RST)) === (SYN | ACK) &&
      ((seg.seq + 1 - this.rcvNxt) | 0) === 0 &&
      seg.ack === this.sndNxt
    ) {
      this.lastRecv = now;
      if (this.tsOk && seg.hasTs && seg.tsEcr !== 0) this.rttSample(((this.tsNow(now) - seg.tsEcr) | 0), now);
      this.sndUna = seg.ack;
      this.sndWnd = seg.wnd;
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.becomeEstablished(now);
      this.ackNow(now);
      return;
    }
    // PAWS (RFC 7323 §5.3 R1).
    if (this.tsOk && seg.hasTs && this.tsRecentValid && !(f & RST) && ((seg.tsVal - this.tsRecent) | 0) < 0) {
      if (now - this.tsRecentAge > PAWS_IDLE_MS) {
        this.tsRecentValid = false; // §5.5: a 24-day-old TS.Recent is no longer valid
      } else {
        host.drop("paws");
        this.oowAck(now);
        return;
      }
    }
    // Step 1: sequence number acceptability (RFC 9293 §3.10.7.4).
    const segLen = seg.len + (f & SYN ? 1 : 0) + (f & FIN ? 1 : 0);
    const wnd = Math.max(0, (this.rcvAdvRight - this.rcvNxt) | 0);
    const d = (seg.seq - this.rcvNxt) | 0;
    let ok: boolean;
    if (segLen === 0) ok = wnd === 0 ? d === 0 : d >= 0 && d < wnd;
    else if (wnd === 0) ok = d === 0 && seg.len === 0 && (f & (FIN | SYN)) === FIN; // a bare FIN at RCV.NXT (as Linux)
    else {
      const dEnd = (d + segLen - 1) | 0;
      ok = (d >= 0 && d < wnd) || (dEnd >= 0 && dEnd < wnd);
    }
    // Also a duplicate that ends exactly at RCV.NXT, as Linux accepts (end_seq >= rcv_wup): it
    // refreshes TS.Recent, so our ACK echoes the retransmission and the peer's RTT stays sane.
    if (!ok && segLen > 0 && ((d + segLen) | 0) === 0) ok = true;
    if (!ok) {
      if (f & RST) {
        host.drop("out-of-window");
        return;
      }
      if (f & SYN) {
        // RFC 5961 §4: a SYN, whatever its sequence number, gets a challenge ACK.
        this.challengeAck(now);
        return;
      }
      // A zero window still takes ACKs (RFC 9293): process the ACK part of an unacceptable data segment.
      if (wnd === 0 && d === 0 && f & ACK && segLen > 0) {
        if (this.processAckField(seg, now)) {
          this.oowAck(now);
        }
        host.drop("zero-window");
        return;
      }
      host.drop("out-of-window");
      this.oowAck(now);
      return;
    }
    this.lastRecv = now;
    // Step 2: RST (RFC 5961 §3.2: exact match resets, in-window gets a challenge ACK).
    if (f & RST) {
      if (d !== 0) {
        this.challengeAck(now);
        return;
      }
      this.onReset();
      return;
    }
    // Step 4: SYN in a synchronized state (RFC 5961 §4.2): challenge ACK.
    if (f & SYN) {
      this.challengeAck(now);
      return;
    }
    // Step 5: ACK.
    if (!(f & ACK)) {
      host.drop("no-ack");
      return;
    }
    if (st === SYN_RECEIVED) {
      if (((seg.ack - this.sndUna) | 0) <= 0 || ((seg.ack - this.sndNxt) | 0) > 0) {
        host.drop("bad-ack");
        this.sendRst(seg.ack, 0, false);
        return;
      }
      if (this.passive && !host.canEstablish(this)) {
        // Like Linux: the ACK is dropped and the connection stays half-open (the SYN-ACK is retransmitted).
        host.drop("accept-queue-full");
        return;
      }
      this.sndWnd = seg.wnd << this.sndWscale;
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      if (this.tsOk && seg.hasTs && seg.tsEcr !== 0) this.rttSample(((this.tsNow(now) - seg.tsEcr) | 0), now);
      else if (this.synRetransmits === 0) this.rttSample(now - this.rttTime, now);
      this.sndUna = seg.ack;
      this.lastAckSent = this.rcvNxt;
      this.halfOpenDone();
      this.becomeEstablished(now);
      if (this.freed) return;
    }
    if (!this.processAckField(seg, now)) return;
    if (this.freed) return;
    // Steps 7 and 8: text and FIN.
    if (seg.len > 0 || f & FIN) this.processText(seg, seg.seq, now);
  }

  /**
   * The ACK field of an acceptable segment (step 5). Returns false when the
   * segment is to be dropped (an ACK of unsent data or a too old one).
   */
  private processAckField(seg: Segment, now: number): boolean {
    const ack = seg.ack;
    // RFC 9293: an ACK of something not yet sent: send an ACK and drop.
    if (((ack - this.sndNxt) | 0) > 0) {
      this.host.drop("ack-unsent");
      this.challengeAck(now);
      return false;
    }
    // RFC 5961 §5.2: acceptable if SND.UNA - MAX.SND.WND <= SEG.ACK.
    if (((ack - ((this.sndUna - this.maxSndWnd) | 0)) | 0) < 0) {
      this.host.drop("ack-too-old");
      this.challengeAck(now);
      return false;
    }
    this.probesOut = 0;
    this.kaProbes = 0;
    // RFC 7323 §4.3: TS.Recent from segments that start at or before Last.ACK.sent.
    if (this.tsOk && seg.hasTs && ((seg.seq - this.lastAckSent) | 0) <= 0 && (!this.tsRecentValid || ((seg.tsVal - this.tsRecent) | 0) >= 0)) {
      this.tsRecent = seg.tsVal;
      this.tsRecentAge = now;
      this.tsRecentValid = true;
    }
    const oldWnd = this.sndWnd;
    // Window update (RFC 9293 §3.10.7.4 step 5).
    if (((seg.seq - this.sndWl1) | 0) > 0 || (seg.seq === this.sndWl1 && ((ack - this.sndWl2) | 0) >= 0)) {
      this.sndWnd = seg.wnd << this.sndWscale;
      if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
    }
    let newlySacked = 0;
    if (this.sackOk && seg.sackCount > 0) {
      const sb = (this.sb ??= new Scoreboard(this.host.cfg.maxSackBlocks));
      newlySacked = sb.update(seg.sack, seg.sackCount, this.sndUna, this.sndNxt);
      if (newlySacked > 0 && this.recState === RECOVERY) {
        // More SACKed data above: more holes count as lost (RFC 6675 IsLost).
        const b = sb.lossBoundary(this.sndUna, this.smss, DUP_THRESH);
        if (((b - this.lossBound) | 0) > 0) this.lossBound = b;
      }
    }
    const acked = (ack - this.sndUna) | 0;
    if (acked > 0) this.onNewAck(seg, acked, now);
    else if (acked === 0 && this.sndNxt !== this.sndUna && seg.len === 0 && !(seg.flags & (SYN | FIN))) {
      const isDup = this.sackOk ? newlySacked > 0 : this.sndWnd === oldWnd;
      if (isDup) this.onDupAck(now);
    }
    return true;
  }

  private onNewAck(seg: Segment, acked: number, now: number): void {
    let dataAcked = acked;
    if (this.finSent && !this.finAcked && ((seg.ack - this.finSeq) | 0) > 0) {
      this.finAcked = true;
      dataAcked--;
    }
    const flightBefore = (this.sndNxt - this.sndUna) | 0;
    this.sq.ack(dataAcked);
    this.sndUna = seg.ack;
    this.sb?.advance(this.sndUna);
    // RTT: the echoed timestamp (RFC 7323 §4), else the one timed segment (Karn).
    if (this.tsOk && seg.hasTs && seg.tsEcr !== 0) {
      const r = (this.tsNow(now) - seg.tsEcr) | 0;
      // Karn for timestamps: an echo older than our last retransmission cannot tell which
      // transmission was acknowledged (the peer echoes TS.Recent of the original after an ACK loss).
      const ambiguous = this.retransTsValid && ((seg.tsEcr - this.lastRetransTs) | 0) < 0;
      if (r >= 0 && r < 0x40000000 && !ambiguous) this.rttSample(r, now, flightBefore);
    } else if (this.rttTiming && ((seg.ack - this.rttSeq) | 0) > 0) {
      this.rttTiming = false;
      this.rttSample(now - this.rttTime, now);
    }
    // New data acknowledged: the give-up count restarts. The backed-off RTO stays until a valid
    // RTT sample replaces it (Karn's algorithm, RFC 6298 §5).
    this.retries = 0;
    this.persistBackoff = 0;
    // Congestion control and loss recovery.
    const smss = this.smss;
    if (this.recState === OPEN) {
      if (flightBefore + 2 * smss >= this.cc.cwnd || (this.cc.cwnd < this.cc.ssthresh && 2 * flightBefore >= this.cc.cwnd)) {
        this.cc.onAck(dataAcked, smss, now, this.srtt);
      }
    } else if (((this.sndUna - this.recoverPoint) | 0) >= 0) {
      // The recovery point is acknowledged: recovery is over.
      if (this.recState === RECOVERY) this.cc.onRecoveryEnd(smss);
      this.recState = OPEN;
      this.renoDup = 0;
    } else {
      // A partial ACK: the new first hole is lost too (RFC 6582 §3.2 step 5).
      if (this.recState === LOSS) this.cc.onAck(dataAcked, smss, now, this.srtt);
      const head = (this.sndUna + smss) | 0;
      if (((head - this.lossBound) | 0) > 0) this.lossBound = ((head - this.sndNxt) | 0) > 0 ? this.sndNxt : head;
      if (((this.highRxt - this.sndUna) | 0) < 0) this.highRxt = this.sndUna;
      if (!this.sackOk && this.recState === RECOVERY) {
        this.renoDup = Math.max(0, this.renoDup - Math.ceil(dataAcked / smss));
        // NewReno: retransmit the first unacknowledged segment at once.
        this.highRxt = this.sndUna;
        this.forceRetransmit = true;
      }
    }
    this.dupAcks = 0;
    // A tail loss probe answered: if it was a retransmission, it repaired a loss (no D-SACK to
    // say otherwise), so the window is reduced as for a fast retransmit (RFC 8985 §7.4.2).
    if (this.tlpActive && ((seg.ack - this.tlpHigh) | 0) >= 0) {
      this.tlpActive = false;
      if (this.tlpRetrans && this.recState === OPEN) this.cc.onLoss(flightBefore, smss, now);
    }
    // RFC 6298 (5.2)/(5.3): stop the timer when everything is acknowledged, else restart it.
    if (this.sndNxt === this.sndUna) {
      this.rtoAt = Infinity;
      this.tlpAt = Infinity;
    } else {
      this.setDeadline(now, (this.rtoAt = now + this.rto));
      const f = (this.sndNxt - this.sndUna) | 0;
      if (this.tlpAllowed()) this.tlpAt = now + this.pto(f);
      else if (this.recState === OPEN || !this.sackOk) this.tlpAt = Infinity;
    }
    // Space in the send buffer: accept waiting writes.
    if (this.pendingWrites !== undefined) this.drainPendingWrites();
    // Our FIN acknowledged: state transitions (RFC 9293 step 5).
    if (this.finAcked) {
      const st = this.state;
      if (st === FIN_WAIT_1) {
        this.state = FIN_WAIT_2;
        if (this.closeCalled) this.armFinWait2(now);
      } else if (st === CLOSING) {
        this.enterTimeWait(now);
      } else if (st === LAST_ACK) {
        this.terminate();
      }
    }
  }

  private onDupAck(now: number): void {
    this.dupAcks++;
    if (this.recState === OPEN) {
      const lost = this.sackOk && this.sb !== undefined && ((this.sb.lossBoundary(this.sndUna, this.smss, DUP_THRESH) - this.sndUna) | 0) > 0;
      // Early retransmit (RFC 5827): with fewer than 4 segments outstanding and no new data to
      // send (which would bring more duplicate ACKs), the threshold is one less than outstanding.
      let thresh = DUP_THRESH;
      const flight = (this.sndNxt - this.sndUna) | 0;
      const segs = Math.ceil(flight / this.smss);
      if (segs < 4) {
        const unsent = (this.sndUna + this.sq.size - this.sndNxt) | 0;
        const wndRoom = (this.sndUna + this.sndWnd - this.sndNxt) | 0;
        if (unsent <= 0 || wndRoom <= 0) thresh = Math.max(1, segs - 1);
      }
      if (this.dupAcks >= thresh || lost) this.enterRecovery(now);
      // Else limited transmit (RFC 3042): trySend lets new data out.
    } else if (this.recState === RECOVERY && !this.sackOk) {
      this.renoDup++; // each duplicate ACK: a segment has left the network
    }
  }

  private enterRecovery(now: number, lostBelow?: number): void {
    const host = this.host;
    const flight = (this.sndNxt - this.sndUna) | 0;
    this.recState = RECOVERY;
    this.tlpAt = Infinity;
    this.tlpActive = false;
    this.recoverPoint = this.sndNxt;
    this.highRxt = this.sndUna;
    this.cc.onLoss(flight, this.smss, now);
    let lb = (this.sndUna + this.smss) | 0;
    if (this.sackOk && this.sb !== undefined) {
      host.c.sackRecoveries++;
      const b = this.sb.lossBoundary(this.sndUna, this.smss, DUP_THRESH);
      if (((b - lb) | 0) > 0) lb = b;
      this.renoDup = 0;
    } else {
      this.renoDup = this.dupAcks;
    }
    if (lostBelow !== undefined && ((lostBelow - lb) | 0) > 0) lb = lostBelow;
    if (((lb - this.sndNxt) | 0) > 0) lb = this.sndNxt;
    this.lossBound = lb;
    this.forceRetransmit = true;
    this.rttTiming = false;
    host.c.fastRetransmits++;
  }

  /** RFC 6675 pipe: outstanding bytes not SACKed and not lost, plus retransmitted ones. */
  pipe(): number {
    const una = this.sndUna;
    const out = (this.sndNxt - una) | 0;
    if (this.recState === OPEN) return out;
    let lb = (this.lossBound - una) | 0;
    if (lb < 0) lb = 0;
    if (lb > out) lb = out;
    let hr = (this.highRxt - una) | 0;
    if (hr < 0) hr = 0;
    if (hr > lb) hr = lb;
    let p: number;
    const sb = this.sb;
    if (this.sackOk && sb !== undefined) {
      const lost = lb - sb.sackedBelow(una, (una + lb) | 0);
      const retx = hr - sb.sackedBelow(una, (una + hr) | 0);
      p = out - sb.sacked - lost + retx;
    } else {
      p = out - this.renoDup * this.smss - lb + hr;
    }
    return p < 0 ? 0 : p;
  }

  /** Steps 7 and 8: segment text and FIN. `start` is the sequence number of the first data byte. */
  private processText(seg: Segment, start: number, now: number): void {
    const st = this.state;
    const f = seg.flags;
    if (seg.len > 0) {
      if (st === ESTABLISHED || st === FIN_WAIT_1 || st === FIN_WAIT_2) {
        if (this.closeCalled && ((start + seg.len - this.rcvNxt) | 0) > 0) {
          // New data after close(): nobody will read it. Reset (Linux's "abort on data").
          this.host.drop("data-after-close");
          this.resetAndFree("ECONNRESET", false);
          return;
        }
        this.processData(start, seg.data, now);
      } else {
        this.host.drop("data-after-fin");
      }
    }
    if (f & FIN) {
      const finSeq = (start + seg.len) | 0;
      if (finSeq === this.rcvNxt) this.onFin(now);
      else if (((finSeq - this.rcvNxt) | 0) < 0) this.ackNow(now); // a retransmitted FIN: our ACK was lost
      else if (((finSeq - this.rcvNxt) | 0) > 0 && ((finSeq - this.rcvAdvRight) | 0) < 0) {
        this.finPending = true;
        this.finPendingSeq = finSeq;
      }
    }
  }

  private processData(seq: number, data: Uint8Array, now: number): void {
    let off = (this.rcvNxt - seq) | 0;
    if (off >= data.length) {
      // Entirely old: a duplicate (RFC 5681: ACK at once).
      this.ackNow(now);
      return;
    }
    if (off < 0) off = 0;
    let d = off > 0 ? data.subarray(off) : data;
    const s = (seq + off) | 0;
    const room = (this.rcvAdvRight - s) | 0;
    if (room <= 0) {
      this.ackNow(now);
      return;
    }
    if (d.length > room) d = d.subarray(0, room);
    if (d.length > this.rcvMss) this.rcvMss = Math.min(d.length, this.advMss);
    const reasm = this.reasm;
    if (s === this.rcvNxt && (reasm === undefined || reasm.empty)) {
      // The fast path: in order, nothing out of order waiting.
      this.rcvNxt = (s + d.length) | 0;
      this.deliver(d);
      this.bytesSinceAck += d.length;
      if (this.finPending && this.finPendingSeq === this.rcvNxt) this.onFin(now);
      else this.scheduleAck(now);
      return;
    }
    const r = (this.reasm ??= new Reassembly(this.host.cfg.maxOooRanges));
    const stored = r.insert(s, d, this.rcvNxt);
    if (stored === 0 && s !== this.rcvNxt) this.host.drop("ooo-full-or-duplicate");
    // Pull whatever is now in order.
    for (let range = r.takeFirst(this.rcvNxt); range !== undefined; range = r.takeFirst(this.rcvNxt)) {
      const q = range.data;
      let skip = (this.rcvNxt - range.start) | 0;
      for (let k = 0; k < q.count; k++) {
        let c = q.at(k);
        if (skip > 0) {
          if (skip >= c.length) {
            skip -= c.length;
            continue;
          }
          c = c.subarray(skip);
          skip = 0;
        }
        this.deliver(c);
      }
      this.rcvNxt = range.end;
    }
    if (this.finPending && this.finPendingSeq === this.rcvNxt) {
      this.onFin(now);
      return;
    }
    // Out-of-order data and filled holes are acknowledged at once (RFC 5681 §4.2, RFC 9293).
    this.ackNow(now);
  }

  private deliver(d: Uint8Array): void {
    this.bytesReceived += d.length;
    const w = this.readWaiters;
    if (w !== undefined && w.length > 0 && this.rq.count === 0) {
      const waiter = w.shift()!;
      if (w.length === 0) this.readWaiters = undefined;
      waiter.resolve(d);
      return;
    }
    this.rq.push(d);
  }

  private onFin(now: number): void {
    this.finPending = false;
    this.rcvNxt = (this.rcvNxt + 1) | 0;
    this.eof = true;
    this.ackNow(now);
    switch (this.state) {
      case SYN_RECEIVED:
      case ESTABLISHED:
        this.state = CLOSE_WAIT;
        break;
      case FIN_WAIT_1:
        if (this.finAcked) this.enterTimeWait(now);
        else this.state = CLOSING;
        break;
      case FIN_WAIT_2:
        this.enterTimeWait(now);
        break;
      default:
        break;
    }
    this.wakeReaders();
  }

  private wakeReaders(): void {
    const w = this.readWaiters;
    if (w === undefined) return;
    while (w.length > 0) {
      if (this.rq.count > 0) {
        w.shift()!.resolve(this.rq.take(MAX_READ)!);
        this.afterRead();
        continue;
      }
      if (this.eof && !this.aborted) w.shift()!.resolve(null);
      else if (this.error !== undefined) w.shift()!.reject(this.error);
      else if (this.closeCalled || this.freed) w.shift()!.resolve(null);
      else break;
    }
    if (w.length === 0) this.readWaiters = undefined;
  }

  private onReset(): void {
    const host = this.host;
    host.c.resetsReceived++;
    switch (this.state) {
      case SYN_RECEIVED:
        if (this.passive) {
          // RFC 9293: a passive SYN-RECEIVED connection returns to LISTEN (it is just dropped).
          this.terminate();
        } else {
          host.c.attemptFails++;
          this.error ??= this.fail0("ECONNREFUSED", "connect");
          this.terminate();
        }
        return;
      case ESTABLISHED:
      case FIN_WAIT_1:
      case FIN_WAIT_2:
      case CLOSE_WAIT:
        host.c.establishedResets++;
        this.error ??= this.fail0("ECONNRESET", "read");
        this.terminate();
        return;
      default:
        // CLOSING, LAST-ACK, TIME-WAIT: just close.
        this.terminate();
    }
  }

  /** An ACK that answers an unacceptable segment, at most one per invalidAckIntervalMs. */
  private oowAck(now: number): void {
    if (now - this.lastOowAck < this.host.cfg.invalidAckIntervalMs) {
      this.host.drop("oow-ack-rate-limited");
      return;
    }
    this.lastOowAck = now;
    this.ackPending = true;
    this.sendAckNow(now);
  }

  /** RFC 5961 challenge ACK, limited per connection and per layer. */
  private challengeAck(now: number): void {
    const host = this.host;
    if (now - this.lastOowAck < host.cfg.invalidAckIntervalMs || !host.challengeAllowed(now)) {
      host.drop("challenge-ack-rate-limited");
      return;
    }
    this.lastOowAck = now;
    host.c.challengeAcks++;
    this.ackPending = true;
    this.sendAckNow(now);
  }

  // ==== ACK decisions ====================================================================

  private ackNow(_now: number): void {
    this.ackPending = true;
    this.delAckAt = -1; // marker: send immediately after input
  }

  private scheduleAck(now: number): void {
    this.ackPending = true;
    const cfg = this.host.cfg;
    // RFC 5681 §4.2 / RFC 9293 §3.8.6.3: ACK at least every second full-sized segment.
    if (cfg.delayedAckMs === 0 || this.bytesSinceAck >= 2 * this.rcvMss) {
      this.delAckAt = -1;
      return;
    }
    if (this.delAckAt === Infinity) this.setDeadline(now, (this.delAckAt = now + cfg.delayedAckMs));
  }

  /** After processing a segment: send what can be sent, then any ACK still owed now. */
  private afterInput(now: number): void {
    const st = this.state;
    if (st === ESTABLISHED || st === CLOSE_WAIT || st === FIN_WAIT_1 || st === LAST_ACK || st === CLOSING) this.trySend(now);
    if (this.ackPending && this.delAckAt === -1) this.sendAckNow(now);
  }

  private sendAckNow(now: number): void {
    if (this.freed || this.state === SYN_SENT || this.state === CLOSED) return;
    this.emit(this.sndNxt, ACK, 0, 0, now);
  }

  // ==== sending ==========================================================================

  /** Sends new data, FIN and retransmissions as the windows allow. */
  trySend(now: number): void {
    if (this.freed) return;
    const st = this.state;
    if (st !== ESTABLISHED && st !== CLOSE_WAIT && st !== FIN_WAIT_1 && st !== LAST_ACK && st !== CLOSING) return;
    if (this.recState !== OPEN) this.sendRecovery(now);
    else {
      const flight0 = (this.sndNxt - this.sndUna) | 0;
      // RFC 5681 §4.1: restart from the initial window after an idle period longer than the RTO.
      if (flight0 === 0 && now - this.lastSend > this.rto && this.segsSent > 0) {
        const rw = this.host.cfg.initialWindow * this.smss;
        if (this.cc.cwnd > rw) this.cc.onIdleRestart(rw);
      }
      for (;;) {
        const flight = (this.sndNxt - this.sndUna) | 0;
        let room = this.cc.cwnd - flight;
        if (this.dupAcks > 0 && this.dupAcks < DUP_THRESH) room += this.dupAcks * this.smss;
        if (this.sendNewSegment(now, room, flight) <= 0) break;
      }
    }
    this.armSendTimers(now);
  }

  /**
   * Sends one segment of new data (or the FIN) if the windows, Nagle and
   * silly-window avoidance allow. Returns 1 when sent, 0 when blocked by the
   * congestion window or nothing to send, -1 when blocked by the peer's window.
   */
  private sendNewSegment(now: number, cwndRoom: number, flight: number): number {
    if (this.finSent) return 0;
    const avail = (this.sndUna + this.sq.size - this.sndNxt) | 0;
    if (avail <= 0) {
      if (!this.finQueued) return 0;
      if (cwndRoom <= 0 && flight > 0) return 0;
      // Like Linux, a bare FIN waits for window (the persist timer probes meanwhile).
      if (((this.sndUna + this.sndWnd - this.sndNxt) | 0) <= 0) return -1;
      this.sendFinalFin(now);
      return 1;
    }
    const maxData = this.maxDataPerSegment();
    let len = avail < maxData ? avail : maxData;
    const wndRoom = (this.sndUna + this.sndWnd - this.sndNxt) | 0;
    if (len > wndRoom) {
      if (wndRoom <= 0) return -1;
      // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a partial segment only when it is at least
      // half the largest window the peer offered; else wait (the persist timer overrides).
      if (wndRoom < this.maxSndWnd / 2) return -1;
      len = wndRoom;
    }
    if (len > cwndRoom && flight > 0) return 0;
    // Nagle (RFC 896, RFC 9293 §3.7.4): a short final segment waits while data is unacknowledged.
    if (len < maxData && len === avail && !this.noDelay && !this.finQueued && flight > 0) return 0;
    const fin = this.finQueued && len === avail;
    const seq = this.sndNxt;
    this.sendData(seq, len, fin, now);
    this.sndNxt = (seq + len + (fin ? 1 : 0)) | 0;
    if (fin) {
      this.finSent = true;
      this.finSeq = (seq + len) | 0;
    }
    this.bytesSent += len;
    if (!this.rttTiming && !this.tsOk) {
      this.rttTiming = true;
      this.rttSeq = seq;
      this.rttTime = now;
    }
    return 1;
  }

  private sendFinalFin(now: number): void {
    const seq = this.sndNxt;
    this.sendData(seq, 0, true, now);
    this.finSent = true;
    this.finSeq = seq;
    this.sndNxt = (seq + 1) | 0;
  }

  /** Recovery: retransmit lost holes (RFC 6675 NextSeg), then new data, while pipe < cwnd. */
  private sendRecovery(now: number): void {
    const smss = this.smss;
    const out = this.host.scratch.hole;
    for (let guard = 0; guard < 100_000; guard++) {
      if (!this.forceRetransmit && this.pipe() + smss > this.cc.cwnd) break;
      const from = ((this.highRxt - this.sndUna) | 0) > 0 ? this.highRxt : this.sndUna;
      const limit = ((this.lossBound - this.sndNxt) | 0) < 0 ? this.lossBound : this.sndNxt;
      let found: boolean;
      if (this.sackOk && this.sb !== undefined) found = this.sb.nextHole(this.sndUna, from, limit, out);
      else {
        found = ((limit - from) | 0) > 0;
        out[0] = from;
        out[1] = limit;
      }
      if (found) {
        const p = out[0]!;
        const holeLen = (out[1]! - p) | 0;
        const sent = this.retransmit(p, holeLen, now);
        this.highRxt = (p + sent) | 0;
        this.forceRetransmit = false;
        if (sent === 0) break;
        continue;
      }
      this.forceRetransmit = false;
      // NextSeg rule 2: new data.
      const flight = (this.sndNxt - this.sndUna) | 0;
      if (this.sendNewSegment(now, this.cc.cwnd - this.pipe(), flight) <= 0) break;
    }
  }

  /** Retransmits up to one segment at `p` (at most `maxLen` sequence numbers). Returns the sequence space covered. */
  private retransmit(p: number, maxLen: number, now: number): number {
    const dataEnd = (this.sndUna + this.sq.size) | 0;
    let dataLen = (dataEnd - p) | 0;
    if (dataLen < 0) dataLen = 0;
    const maxData = this.maxDataPerSegment();
    if (dataLen > maxData) dataLen = maxData;
    if (dataLen > maxLen) dataLen = maxLen;
    const fin = this.finSent && ((p + dataLen - this.finSeq) | 0) === 0 && maxLen > dataLen;
    if (dataLen === 0 && !fin) return 0;
    this.sendData(p, dataLen, fin, now);
    this.lastRetransTs = this.tsNow(now);
    this.retransTsValid = true;
    this.lastRetransAt = now;
    this.retransSegs++;
    this.retransBytes += dataLen;
    this.host.c.retransmittedSegments++;
    this.host.c.retransmittedBytes += dataLen;
    this.rttTiming = false; // Karn
    return dataLen + (fin ? 1 : 0);
  }

  private maxDataPerSegment(): number {
    // The SACK option rides on every segment while data waits out of order.
    if (this.sackOk && this.reasm !== undefined && !this.reasm.empty) {
      const n = Math.min(this.reasm.ranges.length, this.tsOk ? 3 : 4);
      return Math.max(1, this.mssBase - (this.tsOk ? TS_OPTION : 0) - 4 - 8 * n);
    }
    return this.smss;
  }

  /** Arms the RTO when data is outstanding, the persist timer when the peer's window blocks us. */
  private armSendTimers(now: number): void {
    const flight = (this.sndNxt - this.sndUna) | 0;
    if (flight > 0) {
      if (this.rtoAt === Infinity) this.setDeadline(now, (this.rtoAt = now + this.rto));
      if (this.tlpAt === Infinity) {
        if (this.tlpAllowed()) this.setDeadline(now, (this.tlpAt = now + this.pto(flight)));
        else if (this.recState !== OPEN && this.sackOk && this.host.cfg.tailLossProbe) {
          // In recovery the same timer checks for lost retransmissions.
          this.setDeadline(now, (this.tlpAt = this.lastRetransAt + this.pto(flight)));
        }
      }
      this.persistAt = Infinity;
      return;
    }
    this.rtoAt = Infinity;
    this.tlpAt = Infinity;
    const unsent = ((this.sndUna + this.sq.size - this.sndNxt) | 0) > 0 || (this.finQueued && !this.finSent);
    if (unsent && this.persistAt === Infinity) this.setDeadline(now, (this.persistAt = now + this.persistInterval()));
    else if (!unsent) this.persistAt = Infinity;
  }

  private tlpAllowed(): boolean {
    return this.host.cfg.tailLossProbe && this.sackOk && this.recState === OPEN && !this.tlpActive;
  }

  /** The probe timeout (RFC 8985 §7.2): 2·SRTT (at least 10 ms), +200 ms with one segment in flight, at most the RTO. */
  private pto(flight: number): number {
    let t = this.hasRtt ? Math.max(2 * this.srtt, 10) : 1000;
    if (flight <= this.smss) t += 200;
    return t < this.rto ? t : this.rto;
  }

  /** The probe: one new segment if the peer's window allows, else the last segment again. */
  private onTlp(now: number): void {
    const st = this.state;
    if (st !== ESTABLISHED && st !== CLOSE_WAIT && st !== FIN_WAIT_1 && st !== LAST_ACK && st !== CLOSING) return;
    const flight = (this.sndNxt - this.sndUna) | 0;
    if (flight <= 0) return;
    if (this.recState !== OPEN) {
      this.checkLostRetransmissions(now, flight);
      return;
    }
    if (!this.tlpAllowed()) return;
    const sb = this.sb;
    if (sb !== undefined && sb.blocks > 0) {
      // RACK-style (RFC 8985 §6): data sent after the holes was delivered (SACKed) at least
      // 2·SRTT ago, far beyond any reordering window: the holes below it are lost.
      this.host.c.rackRecoveries++;
      this.enterRecovery(now, sb.left[sb.blocks - 1]!);
      this.trySend(now);
      this.setDeadline(now, (this.rtoAt = now + this.rto));
      return;
    }
    const avail = (this.sndUna + this.sq.size - this.sndNxt) | 0;
    const wndRoom = (this.sndUna + this.sndWnd - this.sndNxt) | 0;
    const maxData = this.maxDataPerSegment();
    this.host.c.tailLossProbes++;
    if (!this.finSent && avail > 0 && wndRoom >= Math.min(avail, maxData)) {
      const len = Math.min(avail, maxData, wndRoom);
      const fin = this.finQueued && len === avail;
      const seq = this.sndNxt;
      this.sendData(seq, len, fin, now);
      this.sndNxt = (seq + len + (fin ? 1 : 0)) | 0;
      if (fin) {
        this.finSent = true;
        this.finSeq = (seq + len) | 0;
      }
      this.bytesSent += len;
      this.tlpRetrans = false;
    } else {
      const last = Math.min(flight, maxData + (this.finSent ? 1 : 0));
      this.retransmit((this.sndNxt - last) | 0, last, now);
      this.tlpRetrans = true;
    }
    this.tlpActive = true;
    this.tlpHigh = this.sndNxt;
    this.setDeadline(now, (this.rtoAt = now + this.rto));
  }

  /**
   * In recovery: retransmissions older than the probe timeout whose holes are
   * still neither acknowledged nor SACKed were lost again (RACK, RFC 8985 §6.2
   * in its simplest form): send them again instead of waiting for the RTO.
   */
  private checkLostRetransmissions(now: number, flight: number): void {
    if (!this.sackOk) return;
    const due = this.lastRetransAt + this.pto(flight);
    if (now < due) {
      this.setDeadline(now, (this.tlpAt = due));
      return;
    }
    if (((this.highRxt - this.sndUna) | 0) <= 0) return;
    const out = this.host.scratch.hole;
    const holes = this.sb !== undefined ? this.sb.nextHole(this.sndUna, this.sndUna, this.highRxt, out) : true;
    if (!holes) return;
    this.host.c.lostRetransmissions++;
    this.highRxt = this.sndUna;
    this.forceRetransmit = true;
    this.trySend(now);
  }

  private persistInterval(): number {
    const cfg = this.host.cfg;
    const base = Math.max(this.rto, cfg.minRtoMs);
    return Math.min(base * 2 ** this.persistBackoff, cfg.maxRtoMs);
  }

  /** Builds and sends a segment carrying `len` bytes at `seq` (plus FIN). */
  private sendData(seq: number, len: number, fin: boolean, now: number): void {
    let flags = ACK;
    if (fin) flags |= FIN;
    if (len > 0 && ((seq + len - (this.sndUna + this.sq.size)) | 0) === 0) flags |= PSH;
    this.emit(seq, flags, (seq - this.sndUna) | 0, len, now);
  }

  private sendSyn(now: number): void {
    const flags = this.state === SYN_SENT ? SYN : SYN | ACK;
    if (this.synRetransmits === 0) this.rttTime = now;
    this.emit(this.iss, flags, 0, 0, now);
    if (this.rtoAt === Infinity) this.setDeadline(now, (this.rtoAt = now + this.rto));
  }

  /** A RST from this connection. */
  private sendRst(seq: number, ack: number, withAck: boolean): void {
    this.host.c.resetsSent++;
    this.emit(seq | 0, withAck ? RST | ACK : RST, 0, 0, this.host.clock.now(), ack);
  }

  /** The one place segments leave: computes the size, then ipv4.write fills the frame in place. */
  private emit(seq: number, flags: number, dataOff: number, dataLen: number, now: number, rstAck = 0): void {
    const host = this.host;
    const x = host.scratch;
    x.seq = seq;
    x.flags = flags;
    x.dataOff = dataOff;
    x.dataLen = dataLen;
    let opt = 0;
    x.sackN = 0;
    if (flags & SYN) {
      opt = this.synOptionsLength();
    } else if (!(flags & RST)) {
      if (this.tsOk) opt = TS_OPTION;
      if (this.sackOk && this.reasm !== undefined && !this.reasm.empty) {
        const max = this.tsOk ? 3 : 4;
        const n = this.reasm.sackBlocks(x.sack, max);
        x.sackN = n;
        if (n > 0) opt += 4 + 8 * n;
      }
    } else {
      x.rstAck = rstAck;
    }
    x.optLen = opt;
    x.now = now;
    const size = 20 + opt + dataLen;
    try {
      x.conn = this;
      host.ipv4.write(this.remoteAddr, IPPROTO_TCP, size, host.scratch.fill, this.wopts);
    } catch (e) {
      host.drop("tx-error");
      if (this.state === SYN_SENT && this.connectWaiter !== undefined) {
        const code = (e as { code?: unknown }).code;
        this.error ??= this.fail0(code === "ENETUNREACH" || code === "EHOSTUNREACH" || code === "ENETDOWN" ? code : "ENETUNREACH", "connect");
      }
      return;
    }
    host.c.segmentsOut++;
    host.c.bytesOut += dataLen;
    this.segsSent++;
    if (dataLen > 0 || flags & (SYN | FIN)) this.lastSend = now;
    if (flags & ACK) {
      this.ackPending = false;
      this.bytesSinceAck = 0;
      this.delAckAt = Infinity;
      this.lastAckSent = this.rcvNxt;
    }
  }


  private synOptionsLength(): number {
    const cfg = this.host.cfg;
    const active = this.state === SYN_SENT;
    let n = 4; // MSS
    const ts = active ? cfg.timestamps : this.tsOk;
    const sack = active ? cfg.sack : this.sackOk;
    const ws = active ? cfg.windowScaling : this.wsOk;
    if (ts) n += 12;
    else if (sack) n += 4;
    if (ws) n += 4;
    return n;
  }

  /** The fill function (called through the layer's shared closure): writes header, options and data into the frame and checksums it. */
  fillSegment(b: Uint8Array): number {
    const x = this.host.scratch;
    const flags = x.flags;
    const dataLen = x.dataLen;
    const hl = 20 + x.optLen;
    const seq = x.seq;
    b[0] = this.localPort >>> 8;
    b[1] = this.localPort;
    b[2] = this.remotePort >>> 8;
    b[3] = this.remotePort;
    b[4] = seq >>> 24;
    b[5] = seq >>> 16;
    b[6] = seq >>> 8;
    b[7] = seq;
    const ack = flags & RST ? x.rstAck : flags & ACK ? this.rcvNxt : 0;
    b[8] = ack >>> 24;
    b[9] = ack >>> 16;
    b[10] = ack >>> 8;
    b[11] = ack;
    b[12] = (hl >>> 2) << 4;
    b[13] = flags;
    let win = 0;
    if (flags & SYN) win = Math.min(this.rcvBufSize, 65535);
    else if (!(flags & RST)) win = this.selectWindow();
    b[14] = win >>> 8;
    b[15] = win;
    b[16] = 0;
    b[17] = 0;
    b[18] = 0;
    b[19] = 0;
    let o = 20;
    if (flags & SYN) o = this.writeSynOptions(b, o);
    else if (!(flags & RST)) {
      if (this.tsOk) {
        const tsv = this.tsNow(x.now);
        const tse = this.tsRecent;
        b[o] = OPT_NOP;
        b[o + 1] = OPT_NOP;
        b[o + 2] = OPT_TIMESTAMP;
        b[o + 3] = 10;
        b[o + 4] = tsv >>> 24;
        b[o + 5] = tsv >>> 16;
        b[o + 6] = tsv >>> 8;
        b[o + 7] = tsv;
        b[o + 8] = tse >>> 24;
        b[o + 9] = tse >>> 16;
        b[o + 10] = tse >>> 8;
        b[o + 11] = tse;
        o += 12;
      }
      const n = x.sackN;
      if (n > 0) {
        b[o] = OPT_NOP;
        b[o + 1] = OPT_NOP;
        b[o + 2] = OPT_SACK;
        b[o + 3] = 2 + 8 * n;
        o += 4;
        const s = x.sack;
        for (let k = 0; k < 2 * n; k++) {
          const v = s[k]!;
          b[o] = v >>> 24;
          b[o + 1] = v >>> 16;
          b[o + 2] = v >>> 8;
          b[o + 3] = v;
          o += 4;
        }
      }
    }
    if (dataLen > 0) this.sq.copy(x.dataOff, dataLen, b, hl);
    const total = hl + dataLen;
    const c = finish(onesComplementSum(b, 0, total, pseudoHeaderSum(this.localAddr, this.remoteAddr, IPPROTO_TCP, total)));
    b[16] = c >>> 8;
    b[17] = c;
    return total;
  }

  private writeSynOptions(b: Uint8Array, o: number): number {
    const cfg = this.host.cfg;
    const x = this.host.scratch;
    const active = this.state === SYN_SENT;
    const ts = active ? cfg.timestamps : this.tsOk;
    const sack = active ? cfg.sack : this.sackOk;
    const ws = active ? cfg.windowScaling : this.wsOk;
    b[o] = OPT_MSS;
    b[o + 1] = 4;
    b[o + 2] = this.advMss >>> 8;
    b[o + 3] = this.advMss;
    o += 4;
    if (ts) {
      if (sack) {
        b[o] = OPT_SACK_PERMITTED;
        b[o + 1] = 2;
      } else {
        b[o] = OPT_NOP;
        b[o + 1] = OPT_NOP;
      }
      b[o + 2] = OPT_TIMESTAMP;
      b[o + 3] = 10;
      const tsv = this.tsNow(x.now);
      const tse = active ? 0 : this.tsRecent;
      b[o + 4] = tsv >>> 24;
      b[o + 5] = tsv >>> 16;
      b[o + 6] = tsv >>> 8;
      b[o + 7] = tsv;
      b[o + 8] = tse >>> 24;
      b[o + 9] = tse >>> 16;
      b[o + 10] = tse >>> 8;
      b[o + 11] = tse;
      o += 12;
    } else if (sack) {
      b[o] = OPT_NOP;
      b[o + 1] = OPT_NOP;
      b[o + 2] = OPT_SACK_PERMITTED;
      b[o + 3] = 2;
      o += 4;
    }
    if (ws) {
      b[o] = OPT_NOP;
      b[o + 1] = OPT_WSCALE;
      b[o + 2] = 3;
      b[o + 3] = this.rcvWscale;
      o += 4;
    }
    return o;
  }

  /**
   * The window to advertise, with receiver silly-window avoidance (RFC 9293
   * §3.8.6.2.2): the right edge moves only by at least min(buffer/2, MSS),
   * and never moves left.
   */
  private selectWindow(): number {
    const free = this.rcvBufSize - this.rq.bytes;
    const cand = (this.rcvNxt + (free > 0 ? free : 0)) | 0;
    const step = Math.min(this.rcvBufSize >>> 1, this.advMss);
    if (((cand - this.rcvAdvRight) | 0) >= step) this.rcvAdvRight = cand;
    let w = (this.rcvAdvRight - this.rcvNxt) | 0;
    if (w < 0) w = 0;
    let field = w >>> this.rcvWscale;
    if (field > 65535) field = 65535;
    const edge = (this.rcvNxt + (field << this.rcvWscale)) | 0;
    if (((edge - this.rcvAdvRight) | 0) > 0) this.rcvAdvRight = edge;
    return field;
  }

  /**
   * After the application read: a window update when the window had closed
   * by half or more and now doubles (Linux's rule), or when the reader has
   * drained the queue and the right edge can move by an eighth of the buffer
   * (a burst arrived faster than the reader could take it).
   */
  private afterRead(): void {
    const st = this.state;
    if (st !== ESTABLISHED && st !== FIN_WAIT_1 && st !== FIN_WAIT_2) return;
    const cur = (this.rcvAdvRight - this.rcvNxt) | 0;
    const free = this.rcvBufSize - this.rq.bytes;
    const gain = free - cur;
    const step = Math.min(this.rcvBufSize >>> 1, this.advMss);
    if (gain < step) return;
    if ((2 * cur <= this.rcvBufSize && free >= 2 * cur) || (this.rq.count === 0 && gain >= Math.max(this.advMss, this.rcvBufSize >>> 3))) {
      const now = this.host.clock.now();
      this.ackPending = true;
      this.sendAckNow(now);
    }
  }

  // ==== timers ===========================================================================

  /** Makes sure the clock timer fires no later than `at`. */
  private setDeadline(now: number, at: number): void {
    if (this.freed) return;
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      this.timer.cancel();
    } else {
      this.host.c.timersArmed++;
    }
    this.timerAt = at;
    this.timer = this.host.clock.setTimer(at - now, this.onTimerBound);
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    this.timer.cancel();
    this.timer = undefined;
    this.timerAt = Infinity;
    this.host.c.timersArmed--;
  }

  private nextDeadline(): number {
    let t = this.rtoAt;
    if (this.delAckAt < t && this.delAckAt >= 0) t = this.delAckAt;
    if (this.persistAt < t) t = this.persistAt;
    if (this.tlpAt < t) t = this.tlpAt;
    if (this.keepAt < t) t = this.keepAt;
    if (this.lingerAt < t) t = this.lingerAt;
    if (this.connectAt < t) t = this.connectAt;
    return t;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.host.c.timersArmed--;
    if (this.freed) return;
    const now = this.host.clock.now();
    if (this.lingerAt <= now) {
      // TIME-WAIT over, or a closed connection gave up waiting in FIN-WAIT-2.
      this.terminate();
      return;
    }
    if (this.connectAt <= now) {
      this.connectAt = Infinity;
      this.host.c.attemptFails++;
      this.error ??= this.fail0(this.softError ?? "ETIMEDOUT", "connect");
      this.terminate();
      return;
    }
    if (this.rtoAt <= now) {
      this.rtoAt = Infinity;
      this.tlpAt = Infinity;
      this.onRto(now);
      if (this.freed) return;
    }
    if (this.tlpAt <= now) {
      this.tlpAt = Infinity;
      this.onTlp(now);
      if (this.freed) return;
    }
    if (this.persistAt <= now) {
      this.persistAt = Infinity;
      this.onPersist(now);
      if (this.freed) return;
    }
    if (this.delAckAt <= now && this.delAckAt >= 0) {
      this.delAckAt = Infinity;
      if (this.ackPending) {
        this.host.c.delayedAcks++;
        this.sendAckNow(now);
      }
    }
    if (this.keepAt <= now) {
      this.keepAt = Infinity;
      this.onKeepAlive(now);
      if (this.freed) return;
    }
    const next = this.nextDeadline();
    if (next !== Infinity) this.setDeadline(now, next);
  }

  private onRto(now: number): void {
    const host = this.host;
    const cfg = host.cfg;
    const st = this.state;
    if (st === SYN_SENT || st === SYN_RECEIVED) {
      const limit = st === SYN_SENT || !this.passive ? cfg.synRetries : cfg.synAckRetries;
      if (this.synRetransmits >= limit) {
        if (this.passive) {
          host.drop("syn-ack-timeout");
          this.terminate();
        } else {
          host.c.attemptFails++;
          this.error ??= this.fail0(this.softError ?? "ETIMEDOUT", "connect");
          this.terminate();
        }
        return;
      }
      this.synRetransmits++;
      host.c.timeouts++;
      this.rto = Math.min(this.rto * 2, cfg.maxRtoMs);
      host.c.retransmittedSegments++;
      this.sendSyn(now);
      return;
    }
    const flight = (this.sndNxt - this.sndUna) | 0;
    if (flight === 0) return;
    this.retries++;
    host.c.timeouts++;
    if (this.retries > cfg.maxRetransmissions) {
      this.error ??= this.fail0(this.softError ?? "ETIMEDOUT", "write");
      this.terminate();
      return;
    }
    this.tlpActive = false;
    const first = this.recState !== LOSS || this.retries === 1;
    this.cc.onTimeout(flight, this.smss, now, first);
    this.rto = Math.min(this.rto * 2, cfg.maxRtoMs);
    // RFC 2018 §8: forget SACK information after a timeout; resend everything outstanding.
    this.sb?.clear();
    this.recState = LOSS;
    this.recoverPoint = this.sndNxt;
    this.highRxt = this.sndUna;
    this.lossBound = this.sndNxt;
    this.renoDup = 0;
    this.dupAcks = 0;
    this.forceRetransmit = true;
    this.rttTiming = false;
    this.sendRecovery(now);
    this.setDeadline(now, (this.rtoAt = now + this.rto));
  }

  private onPersist(now: number): void {
    const st = this.state;
    if (st !== ESTABLISHED && st !== CLOSE_WAIT && st !== FIN_WAIT_1 && st !== LAST_ACK) return;
    if (((this.sndNxt - this.sndUna) | 0) > 0) return;
    const avail = (this.sndUna + this.sq.size - this.sndNxt) | 0;
    if (avail <= 0 && !(this.finQueued && !this.finSent)) return;
    if (this.probesOut >= this.host.cfg.maxRetransmissions) {
      this.error ??= this.fail0(this.softError ?? "ETIMEDOUT", "write");
      this.terminate();
      return;
    }
    this.probesOut++;
    const wndRoom = (this.sndUna + this.sndWnd - this.sndNxt) | 0;
    if (wndRoom > 0 && avail > 0) {
      // A small window the sender SWS rule refused: the override timeout sends what fits.
      const len = Math.min(avail, wndRoom, this.maxDataPerSegment());
      const seq = this.sndNxt;
      const fin = this.finQueued && len === avail;
      this.sendData(seq, len, fin, now);
      this.sndNxt = (seq + len + (fin ? 1 : 0)) | 0;
      if (fin) {
        this.finSent = true;
        this.finSeq = (seq + len) | 0;
      }
      this.bytesSent += len;
      this.armSendTimers(now);
      return;
    }
    // Zero window: a probe with an old sequence number makes the peer answer with its window.
    this.host.c.zeroWindowProbes++;
    this.emit((this.sndUna - 1) | 0, ACK, 0, 0, now);
    this.persistBackoff++;
    this.setDeadline(now, (this.persistAt = now + this.persistInterval()));
  }

  private onKeepAlive(now: number): void {
    const st = this.state;
    if (!this.kaEnabled || (st !== ESTABLISHED && st !== CLOSE_WAIT)) return;
    if (((this.sndNxt - this.sndUna) | 0) > 0 || this.sq.size > 0) {
      this.setDeadline(now, (this.keepAt = now + this.kaIdle));
      return;
    }
    const idle = now - this.lastRecv;
    if (idle < this.kaIdle) {
      this.setDeadline(now, (this.keepAt = this.lastRecv + this.kaIdle));
      return;
    }
    if (this.kaProbes >= this.kaCount) {
      this.sendRst(this.sndNxt, 0, false);
      this.error ??= this.fail0("ETIMEDOUT", "read");
      this.terminate();
      return;
    }
    this.kaProbes++;
    this.host.c.keepAliveProbes++;
    this.emit((this.sndUna - 1) | 0, ACK, 0, 0, now);
    this.setDeadline(now, (this.keepAt = now + this.kaInterval));
  }

  private armFinWait2(now: number): void {
    this.setDeadline(now, (this.lingerAt = now + this.host.cfg.finWait2Ms));
  }

  // ==== RTT ==============================================================================

  private rttSample(r: number, _now: number, flight = 0): void {
    if (!(r >= 0)) return;
    if (!this.hasRtt) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasRtt = true;
    } else {
      // RFC 7323 Appendix G: with a sample per ACK, scale the gains by the samples per RTT.
      const k = this.tsOk && flight > 0 ? Math.max(1, Math.ceil(flight / (2 * this.smss))) : 1;
      const beta = 0.25 / k;
      const alpha = 0.125 / k;
      this.rttvar = (1 - beta) * this.rttvar + beta * Math.abs(this.srtt - r);
      this.srtt = (1 - alpha) * this.srtt + alpha * r;
    }
    this.rto = this.computeRto();
  }

  private computeRto(): number {
    const cfg = this.host.cfg;
    if (!this.hasRtt) return cfg.initialRtoMs;
    const r = this.srtt + Math.max(1, 4 * this.rttvar);
    return Math.min(Math.max(r, cfg.minRtoMs), cfg.maxRtoMs);
  }

  tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) | 0;
  }

  // ==== closing ==========================================================================

  private queueFin(): void {
    if (this.finQueued || this.error !== undefined) return;
    this.finQueued = true;
    if (this.state === ESTABLISHED || this.state === SYN_RECEIVED) this.state = FIN_WAIT_1;
    else if (this.state === CLOSE_WAIT) this.state = LAST_ACK;
    this.trySend(this.host.clock.now());
  }

  private drainPendingWrites(): void {
    const pw = this.pendingWrites!;
    let n = 0;
    while (n < pw.length && this.sq.size < this.sndBufSize) {
      const w = pw[n++]!;
      if (w.data instanceof Uint8Array) this.sq.push(w.data);
      else for (const c of w.data) this.sq.push(c);
      w.resolve();
    }
    if (n === pw.length) this.pendingWrites = undefined;
    else if (n > 0) pw.splice(0, n);
    if (this.pendingWrites === undefined && this.shutdownCalled && !this.finQueued) {
      this.queueFin();
      const sw = this.shutdownWaiters;
      this.shutdownWaiters = undefined;
      if (sw !== undefined) for (const w of sw) w.resolve();
    }
  }

  private enterTimeWait(now: number): void {
    this.state = TIME_WAIT;
    this.rtoAt = Infinity;
    this.tlpAt = Infinity;
    this.persistAt = Infinity;
    this.keepAt = Infinity;
    this.connectAt = Infinity;
    this.sq.clear();
    this.sb = undefined;
    this.pendingWrites = undefined;
    this.resolveClose();
    this.wakeReaders();
    if (this.host.cfg.timeWaitMs <= 0 || !this.host.timeWaitEnter()) {
      // No TIME-WAIT (configured off, or the table is full, as Linux's tcp_max_tw_buckets).
      this.terminate();
      return;
    }
    this.timeWaitCounted = true;
    this.setDeadline(now, (this.lingerAt = now + this.host.cfg.timeWaitMs));
  }

  /** Sends a RST (when synchronized) and ends the connection with `code`. */
  private resetAndFree(code: ErrorCode, reportToApp: boolean): void {
    this.sendRst(this.sndNxt, 0, false);
    if (reportToApp) this.error ??= this.fail0(code, "read");
    this.terminate();
  }

  /** Hands an ICMP error about this connection (validated by the layer). */
  icmpError(kind: string, code: ErrorCode, hard: boolean, nextHopMtu: number, seq: number): void {
    const host = this.host;
    host.c.icmpErrors++;
    // RFC 5927: the quoted sequence number must be one we have sent and not had acknowledged.
    if (((seq - this.sndUna) | 0) < 0 || ((seq - this.sndNxt) | 0) >= 0) {
      if (!(this.state === SYN_SENT && seq === this.iss)) {
        host.drop("icmp-out-of-window");
        return;
      }
    }
    if (kind === "fragmentation-needed") {
      this.pmtu(nextHopMtu);
      return;
    }
    if (this.state === SYN_SENT) {
      if (hard) {
        host.c.attemptFails++;
        this.error ??= this.fail0(code, "connect");
        this.terminate();
      } else {
        this.softError = code;
      }
      return;
    }
    if (this.state === SYN_RECEIVED && this.passive) {
      if (hard) this.terminate();
      return;
    }
    // Synchronized: RFC 1122 §4.2.3.9 / RFC 5461: remembered, reported only if the connection times out.
    this.softError = code;
  }

  private pmtu(nextHopMtu: number): void {
    if (nextHopMtu < 68) return;
    const mss = Math.max(nextHopMtu, 552) - 40;
    if (mss >= this.mssBase) return;
    this.host.c.pmtuReductions++;
    this.mssBase = Math.max(mss, MIN_MSS);
    this.smss = this.mssBase - (this.tsOk ? TS_OPTION : 0);
    if (this.cc.cwnd < this.smss) this.cc.cwnd = this.smss;
    // Resend what is outstanding in the smaller size (no congestion response: RFC 1191).
    const now = this.host.clock.now();
    if (((this.sndNxt - this.sndUna) | 0) > 0 && this.state >= ESTABLISHED) {
      this.recState = LOSS;
      this.recoverPoint = this.sndNxt;
      this.highRxt = this.sndUna;
      this.lossBound = this.sndNxt;
      this.forceRetransmit = true;
      this.trySend(now);
    }
  }

  private onSendError(e: Error): void {
    // Neighbour resolution failed after the write: a soft error (reported on timeout).
    const code = (e as { code?: unknown }).code;
    this.softError = code === "ENETUNREACH" ? "ENETUNREACH" : "EHOSTUNREACH";
  }

  private resolveClose(): void {
    const cw = this.closeWaiters;
    this.closeWaiters = undefined;
    if (cw !== undefined) for (const r of cw) r();
  }

  /**
   * Ends the connection: cancels the timer, frees the table entry and the
   * send buffer, settles every waiting promise. Idempotent.
   */
  terminate(): void {
    if (this.freed) return;
    this.freed = true;
    this.state = CLOSED;
    if (this.timeWaitCounted) {
      this.timeWaitCounted = false;
      this.host.timeWaitLeave();
    }
    this.cancelTimer();
    this.rtoAt = this.delAckAt = this.persistAt = this.keepAt = this.lingerAt = this.connectAt = this.tlpAt = Infinity;
    if (this.halfOpen) this.halfOpenDone();
    this.host.unlink(this);
    this.sq.clear();
    this.sb = undefined;
    this.reasm = undefined;
    const e = this.error;
    const cw = this.connectWaiter;
    this.connectWaiter = undefined;
    if (cw !== undefined) cw.reject(e ?? this.fail0("ECONNABORTED", "connect"));
    const pw = this.pendingWrites;
    this.pendingWrites = undefined;
    const writeErr = e ?? this.fail0("EPIPE", "write");
    if (pw !== undefined) for (const w of pw) w.reject(writeErr);
    const sw = this.shutdownWaiters;
    this.shutdownWaiters = undefined;
    if (sw !== undefined) for (const w of sw) w.reject(writeErr);
    // Ended without an error (orderly close, TIME-WAIT over, a closed flow's timeout): readers get the end.
    if (e === undefined) this.eof = true;
    this.wakeReaders();
    this.resolveClose();
  }

  private halfOpenDone(): void {
    if (!this.halfOpen) return;
    this.halfOpen = false;
    this.host.halfOpenGone(this);
  }

  /** TS.Recent (RFC 7323), for the TIME-WAIT reuse check. */
  get tsRecentValue(): number {
    return this.tsRecent;
  }

  /** True once the connection has ended and left the tables. */
  get finished(): boolean {
    return this.freed;
  }
}

function positive(name: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new MorganaError("EINVAL", `setKeepAlive: ${name} must be a positive number, not ${String(v)}`);
  return v;
}
