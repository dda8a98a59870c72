/**
 * TCP (RFC 9293) over an {@link Ipv4}: the connection table, listeners,
 * resets for segments nobody wants, SYN cookies, ICMP errors, and the
 * application API (`Tcp`).
 */
import { onesComplementSum, pseudoHeaderSum } from "@morgana/checksum";
import {
  DropCounters,
  IPPROTO_TCP,
  MorganaError,
  abortError,
  formatIpv4,
  isLoopbackIpv4,
  parseIpv4,
  randomInt,
  type Clock,
  type ErrorCode,
  type IcmpErrorReport,
  type Ipv4,
  type Ipv4Address,
  type Ipv4ProtocolHandler,
  type KeepAliveOptions,
  type LayerStats,
  type Random,
  type Tcp,
  type TcpConnectOptions,
  type TcpFlow,
  type TcpListener,
  type TcpListenOptions,
} from "@morgana/interfaces";
import { ACK, FIN, RST, SYN, encodeTcpHeader, optionsLength, writeTcpChecksum, type TcpOptions } from "./codec.js";
import { checkBuffer, checkInt, checkMs, resolveConfig, wscaleFor, type TcpConfig, type TcpTuning } from "./config.js";
import { Connection, createScratch, type ConnectionHost, type ConnectionOptions, type LayerCounters, type OutputScratch } from "./connection.js";
import { COOKIE_MSS_TABLE, SynCookies, cookieMssIndex, cookieTsVal, decodeTsOptions, encodeTsOptions } from "./cookies.js";
import { Listener, type ListenerHost } from "./listener.js";
import { Segment, parseSegment } from "./segment.js";
import { siphash3u32 } from "./siphash.js";
import { DEFAULT_MSS, ESTABLISHED, SYN_RECEIVED, TIME_WAIT } from "./state.js";

/** Random draws before the ephemeral port search falls back to a scan. */
const EPHEMERAL_TRIES = 64;

export interface TcpLayerOptions extends TcpTuning {
  readonly ipv4: Ipv4;
  readonly clock: Clock;
  /** ISN and cookie secrets, ephemeral ports: must be cryptographic in production. */
  readonly random: Random;
}

/** Morgana's extensions of the connect options (see the README). */
export interface TcpConnectOptionsExt extends TcpConnectOptions {
  /** Send buffer of this connection, bytes (default: the layer's). */
  readonly sendBufferSize?: number;
  /** Receive buffer (largest window) of this connection, bytes (default: the layer's). */
  readonly receiveBufferSize?: number;
}

/** Morgana's extensions of the listen options: defaults for accepted connections. */
export interface TcpListenOptionsExt extends TcpListenOptions {
  readonly sendBufferSize?: number;
  readonly receiveBufferSize?: number;
  readonly noDelay?: boolean;
  readonly keepAlive?: boolean | KeepAliveOptions;
  /** Half-open connections before SYN cookies (default: the layer's, 256). */
  readonly synQueue?: number;
}

function newCounters(): LayerCounters & { synCookiesSent: number; synCookiesValidated: number; synCookiesFailed: number; resetsForClosedPorts: number } {
  return {
    segmentsIn: 0,
    segmentsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    retransmittedSegments: 0,
    retransmittedBytes: 0,
    fastRetransmits: 0,
    sackRecoveries: 0,
    timeouts: 0,
    resetsSent: 0,
    resetsReceived: 0,
    challengeAcks: 0,
    delayedAcks: 0,
    zeroWindowProbes: 0,
    keepAliveProbes: 0,
    activeOpens: 0,
    passiveOpens: 0,
    attemptFails: 0,
    establishedResets: 0,
    timersArmed: 0,
    icmpErrors: 0,
    pmtuReductions: 0,
    tailLossProbes: 0,
    rackRecoveries: 0,
    lostRetransmissions: 0,
    synCookiesSent: 0,
    synCookiesValidated: 0,
    synCookiesFailed: 0,
    resetsForClosedPorts: 0,
  };
}

function key4(random: Random): Uint32Array {
  const k = new Uint32Array(4);
  for (let i = 0; i < 4; i++) k[i] = random.uint32();
  return k;
}

/** ICMP error kinds: the socket error code and whether it is hard (RFC 1122 §4.2.3.9). */
export function icmpErrorClass(kind: string, code: number): { code: ErrorCode; hard: boolean } {
  switch (kind) {
    case "port-unreachable":
    case "protocol-unreachable":
      return { code: "ECONNREFUSED", hard: true };
    case "admin-prohibited":
      return { code: "EHOSTUNREACH", hard: true };
    case "net-unreachable":
      return { code: "ENETUNREACH", hard: false };
    case "unreachable":
      // Codes 6 and 9 (network unknown, prohibited) and 7, 8, 10, 13-15 are hard in Linux's table.
      if (code === 6 || code === 9) return { code: "ENETUNREACH", hard: true };
      if (code === 7 || code === 8 || code === 10 || code >= 13) return { code: "EHOSTUNREACH", hard: true };
      return { code: code === 11 ? "ENETUNREACH" : "EHOSTUNREACH", hard: false };
    case "parameter-problem":
      return { code: "EPROTO", hard: false };
    default:
      // host-unreachable, source-route-failed, time-exceeded
      return { code: "EHOSTUNREACH", hard: false };
  }
}

/**
 * The TCP layer for one {@link Ipv4} (registers protocol 6).
 */
export class TcpLayer implements Tcp, Ipv4ProtocolHandler, ConnectionHost, ListenerHost {
  readonly cfg: TcpConfig;
  readonly clock: Clock;
  readonly ipv4: Ipv4;
  private readonly random: Random;
  readonly c = newCounters();
  readonly scratch: OutputScratch = createScratch();
  private readonly drops = new DropCounters();
  /** remote address × 65536 + remote port → connections (chained by nextInBucket). */
  private readonly conns = new Map<number, Connection>();
  private nConns = 0;
  private readonly listeners = new Map<number, Listener[]>();
  private readonly seg = new Segment();
  private last: Connection | undefined = undefined;
  private readonly isnKey: Uint32Array;
  private readonly tsKey: Uint32Array;
  private readonly cookies: SynCookies;
  private readonly ours = new Set<number>();
  private timeWaits = 0;
  private chSecond = -1;
  private chLeft = 0;
  private closed = false;

  constructor(opts: TcpLayerOptions) {
    this.cfg = resolveConfig(opts);
    this.clock = opts.clock;
    this.ipv4 = opts.ipv4;
    this.random = opts.random;
    this.isnKey = key4(opts.random);
    this.tsKey = key4(opts.random);
    this.cookies = new SynCookies(key4(opts.random), key4(opts.random));
    for (const p of opts.ipv4.addresses) this.ours.add(p.address);
    opts.ipv4.register(IPPROTO_TCP, this);
  }

  // ==== ConnectionHost ===================================================================

  drop(reason: string): void {
    this.drops.drop(reason);
  }

  challengeAllowed(now: number): boolean {
    const limit = this.cfg.challengeAckLimit;
    if (limit === Infinity) return true;
    const sec = Math.floor(now / 1000);
    if (sec !== this.chSecond) {
      // Linux: a random budget in [limit/2, 1.5 limit) per second, so the counter leaks nothing (CVE-2016-5696).
      this.chSecond = sec;
      const half = (limit + 1) >>> 1;
      this.chLeft = limit === 0 ? 0 : randomInt(this.random, half, limit + half);
    }
    if (this.chLeft <= 0) return false;
    this.chLeft--;
    return true;
  }

  unlink(conn: Connection): void {
    const key = conn.key;
    let c = this.conns.get(key);
    let prev: Connection | undefined;
    while (c !== undefined && c !== conn) {
      prev = c;
      c = c.nextInBucket;
    }
    if (c === undefined) return;
    if (prev === undefined) {
      if (conn.nextInBucket === undefined) this.conns.delete(key);
      else this.conns.set(key, conn.nextInBucket);
    } else {
      prev.nextInBucket = conn.nextInBucket;
    }
    conn.nextInBucket = undefined;
    this.nConns--;
    if (this.last === conn) this.last = undefined;
    const l = conn.listener as Listener | undefined;
    if (l !== undefined) {
      l.remove(conn);
      conn.listener = undefined;
    }
  }

  canEstablish(conn: Connection): boolean {
    const l = conn.listener as Listener | undefined;
    return l !== undefined && !l.closed && !l.acceptQueueFull;
  }

  established(conn: Connection): void {
    (conn.listener as Listener).enqueue(conn);
  }

  timeWaitEnter(): boolean {
    if (this.timeWaits >= this.cfg.maxTimeWait) {
      this.drops.drop("time-wait-overflow");
      return false;
    }
    this.timeWaits++;
    return true;
  }

  timeWaitLeave(): void {
    this.timeWaits--;
  }

  halfOpenGone(conn: Connection): void {
    const l = conn.listener as Listener | undefined;
    if (l !== undefined) l.synCount--;
  }

  // ==== tables ===========================================================================

  private insert(conn: Connection): void {
    const head = this.conns.get(conn.key);
    conn.nextInBucket = head;
    this.conns.set(conn.key, conn);
    this.nConns++;
  }

  private find(la: number, lp: number, ra: number, rp: number): Connection | undefined {
    const l = this.last;
    if (l !== undefined && l.remotePort === rp && l.localPort === lp && l.remoteAddr === ra && l.localAddr === la) return l;
    for (let c = this.conns.get(ra * 65536 + rp); c !== undefined; c = c.nextInBucket) {
      if (c.localPort === lp && c.localAddr === la) {
        this.last = c;
        return c;
      }
    }
    return undefined;
  }

  private findListener(port: number, addr: number): Listener | undefined {
    const ls = this.listeners.get(port);
    if (ls === undefined) return undefined;
    let any: Listener | undefined;
    for (const l of ls) {
      if (l.address === addr) return l;
      if (l.address === 0) any = l;
    }
    return any;
  }

  private portHasListener(port: number, addr: number): boolean {
    const ls = this.listeners.get(port);
    if (ls === undefined) return false;
    return ls.some((l) => l.address === 0 || addr === 0 || l.address === addr);
  }

  /** Connections in the table (every state, TIME-WAIT included). */
  get connectionCount(): number {
    return this.nConns;
  }

  /** Every connection in the table (for tests and tools). */
  connections(): Connection[] {
    const out: Connection[] = [];
    for (const head of this.conns.values()) for (let c: Connection | undefined = head; c !== undefined; c = c.nextInBucket) out.push(c);
    return out;
  }

  // ==== secrets ==========================================================================

  private isn(la: number, lp: number, ra: number, rp: number, now: number): number {
    // RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock.
    return (siphash3u32(this.isnKey, la, ra, ((lp << 16) | rp) >>> 0) + Math.floor(now * 250)) | 0;
  }

  private tsOffset(la: number, lp: number, ra: number, rp: number): number {
    // A per-4-tuple offset (RFC 7323 §5.4): random across connections, monotonic across incarnations.
    return siphash3u32(this.tsKey, la, ra, ((lp << 16) | rp) >>> 0) | 0;
  }

  // ==== receive ==========================================================================

  /** {@link Ipv4ProtocolHandler.onDatagram}: one TCP segment. Never throws. */
  onDatagram(src: Ipv4Address, dst: Ipv4Address, payload: Uint8Array, _header: Uint8Array): void {
    if (this.closed) return void this.drops.drop("closed");
    const n = payload.length;
    // RFC 1122 §4.2.3.10: TCP ignores segments to broadcast or multicast addresses.
    if (!this.ours.has(dst) && !isLoopbackIpv4(dst)) return void this.drops.drop("not-unicast");
    if (onesComplementSum(payload, 0, n, pseudoHeaderSum(src, dst, IPPROTO_TCP, n)) !== 0xffff) {
      return void this.drops.drop(n < 20 ? "short" : "checksum");
    }
    const seg = this.seg;
    const bad = parseSegment(payload, seg);
    if (bad !== undefined) return void this.drops.drop(bad);
    seg.src = src;
    seg.dst = dst;
    const c = this.c;
    c.segmentsIn++;
    c.bytesIn += seg.len;
    const now = this.clock.now();
    const conn = this.find(dst, seg.dstPort, src, seg.srcPort);
    if (conn !== undefined) {
      if (conn.state === TIME_WAIT && (seg.flags & (SYN | ACK | RST)) === SYN) {
        const isn = this.timeWaitReuse(conn, seg);
        if (isn !== undefined) {
          conn.terminate();
          const l = this.findListener(seg.dstPort, dst);
          if (l !== undefined && !l.closed) this.listenInput(l, seg, now, isn);
          else this.refuse(seg);
          return;
        }
      }
      try {
        conn.input(seg, now);
      } catch (e) {
        // A bug must not take the stack down: count it and reset the connection.
        this.drops.drop("internal-error");
        conn.abort(new MorganaError("ECONNABORTED", `internal error: ${(e as Error).message}`, { cause: e }));
      }
      return;
    }
    const l = this.findListener(seg.dstPort, dst);
    if (l !== undefined && !l.closed) {
      this.listenInput(l, seg, now, undefined);
      return;
    }
    this.refuse(seg);
  }

  /** No connection and no listener: RST (never in reply to a RST). */
  private refuse(seg: Segment): void {
    this.drops.drop("no-listener");
    if (seg.flags & RST) return;
    this.c.resetsForClosedPorts++;
    this.sendReset(seg);
  }

  /**
   * RFC 6191 / RFC 1122 §4.2.2.13: a SYN may reopen a connection in TIME-WAIT
   * when its timestamp is newer, or (without timestamps) its sequence number
   * is above RCV.NXT. Returns the ISN to use (above the old SND.NXT), or undefined.
   */
  private timeWaitReuse(conn: Connection, seg: Segment): number | undefined {
    const newerTs = conn.tsOk && seg.hasTs && ((seg.tsVal - conn.tsRecentValue) | 0) > 0;
    const higherSeq = ((seg.seq - conn.rcvNxt) | 0) > 0;
    if (conn.tsOk && seg.hasTs ? !newerTs : !higherSeq) return undefined;
    let isn = (conn.sndNxt + 65535 + 2) | 0;
    if (isn === 0) isn = 1;
    return isn;
  }

  private listenInput(l: Listener, seg: Segment, now: number, isnHint: number | undefined): void {
    const f = seg.flags;
    if (f & RST) return void this.drops.drop("listen-rst");
    if (f & ACK) {
      if (!(f & SYN) && this.cfg.synCookies && this.tryCookie(l, seg, now)) return;
      this.drops.drop("listen-ack");
      this.c.resetsForClosedPorts++;
      this.sendReset(seg);
      return;
    }
    if (!(f & SYN)) return void this.drops.drop("listen-no-syn");
    // SYN. Linux drops SYNs while the accept queue is full.
    if (l.acceptQueueFull) return void this.drops.drop("accept-queue-full");
    if (l.synCount >= l.synQueueMax) {
      if (!this.cfg.synCookies) return void this.drops.drop("syn-queue-full");
      this.sendCookieSynAck(l, seg, now);
      return;
    }
    const la = seg.dst;
    const conn = new Connection(this, la, seg.dstPort, seg.src, seg.srcPort, true, l.connOptions);
    conn.listener = l;
    conn.halfOpen = true;
    l.synCount++;
    this.insert(conn);
    const iss = isnHint ?? this.isn(la, seg.dstPort, seg.src, seg.srcPort, now);
    conn.accept(seg, iss, this.tsOffset(la, seg.dstPort, seg.src, seg.srcPort), now);
  }

  private sendCookieSynAck(l: Listener, seg: Segment, now: number): void {
    const cfg = this.cfg;
    const la = seg.dst;
    const ports = ((seg.dstPort << 16) | seg.srcPort) >>> 0;
    const peerMss = seg.mss >= 0 ? seg.mss : DEFAULT_MSS;
    const ourMss = Math.min(cfg.mss ?? this.ipv4.mtu(seg.src) - 20, this.ipv4.mtu(seg.src) - 20);
    const idx = cookieMssIndex(Math.min(peerMss, ourMss));
    const cookie = this.cookies.make(la, seg.src, ports, seg.seq, now, idx);
    const options: TcpOptions = { mss: ourMss };
    const ts = cfg.timestamps && seg.hasTs;
    if (ts) {
      const sack = cfg.sack && seg.sackOk;
      const ws = cfg.windowScaling && seg.wscale >= 0;
      const tsNow = (Math.floor(now) + this.tsOffset(la, seg.dstPort, seg.src, seg.srcPort)) | 0;
      options.tsVal = cookieTsVal(tsNow, encodeTsOptions(ws ? seg.wscale : -1, sack)) >>> 0;
      options.tsEcr = seg.tsVal >>> 0;
      if (sack) options.sackPermitted = true;
      if (ws) options.wscale = wscaleFor(l.connOptions.receiveBufferSize);
    }
    this.c.synCookiesSent++;
    this.raw(seg.src, la, seg.dstPort, seg.srcPort, cookie, (seg.seq + 1) | 0, SYN | ACK, Math.min(l.connOptions.receiveBufferSize, 65535), options);
  }

  private tryCookie(l: Listener, seg: Segment, now: number): boolean {
    const la = seg.dst;
    const ports = ((seg.dstPort << 16) | seg.srcPort) >>> 0;
    const clientIsn = (seg.seq - 1) | 0;
    const cookie = (seg.ack - 1) | 0;
    const idx = this.cookies.check(la, seg.src, ports, clientIsn, cookie, now);
    if (idx < 0) {
      this.c.synCookiesFailed++;
      return false;
    }
    if (l.acceptQueueFull) {
      this.drops.drop("accept-queue-full");
      return true; // valid, but no room: dropped (the client retransmits)
    }
    this.c.synCookiesValidated++;
    const ts = this.cfg.timestamps && seg.hasTs;
    const o = ts ? decodeTsOptions(seg.tsEcr) : { wscale: -1, sackOk: false };
    const conn = new Connection(this, la, seg.dstPort, seg.src, seg.srcPort, true, l.connOptions);
    conn.listener = l;
    this.insert(conn);
    let tsOff = this.tsOffset(la, seg.dstPort, seg.src, seg.srcPort);
    if (ts) {
      // Our clock must not run behind the TSval the cookie carried (the peer's TS.Recent).
      const ahead = (seg.tsEcr - ((Math.floor(now) + tsOff) | 0)) | 0;
      if (ahead > 0) tsOff = (tsOff + ahead) | 0;
    }
    conn.fromCookie(seg, cookie, COOKIE_MSS_TABLE[idx]!, o.wscale, o.sackOk, tsOff, now);
    // The ACK may carry data: process it as any segment of the connection.
    if (!conn.finished && (seg.len > 0 || seg.flags & FIN)) conn.input(seg, now);
    return true;
  }

  /** RST for a segment without a connection (RFC 9293 §3.10.7.1). */
  private sendReset(seg: Segment): void {
    if (seg.flags & RST) return;
    this.c.resetsSent++;
    if (seg.flags & ACK) {
      this.raw(seg.src, seg.dst, seg.dstPort, seg.srcPort, seg.ack, 0, RST, 0, undefined);
    } else {
      const len = seg.len + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);
      this.raw(seg.src, seg.dst, seg.dstPort, seg.srcPort, 0, (seg.seq + len) | 0, RST | ACK, 0, undefined);
    }
  }

  /** A segment without a connection (RSTs, cookie SYN-ACKs). */
  private raw(dst: Ipv4Address, src: Ipv4Address, srcPort: number, dstPort: number, seq: number, ack: number, flags: number, window: number, options: TcpOptions | undefined): void {
    const h = { srcPort, dstPort, seq: seq >>> 0, ack: ack >>> 0, flags, window, ...(options !== undefined ? { options } : {}) };
    const size = 20 + (options === undefined ? 0 : optionsLength(options));
    try {
      this.ipv4.write(
        dst,
        IPPROTO_TCP,
        size,
        (b) => {
          const hl = encodeTcpHeader(b, 0, h);
          writeTcpChecksum(b, 0, hl, src, dst);
          return hl;
        },
        { src },
      );
      this.c.segmentsOut++;
    } catch {
      this.drops.drop("tx-error");
    }
  }

  /** {@link Ipv4ProtocolHandler.onIcmpError}: an ICMP error about a segment we sent. */
  onIcmpError(report: IcmpErrorReport): void {
    const q = report.quoted;
    if (q.length < 8) return void this.drops.drop("icmp-short");
    const srcPort = (q[0]! << 8) | q[1]!;
    const dstPort = (q[2]! << 8) | q[3]!;
    const seq = (q[4]! << 24) | (q[5]! << 16) | (q[6]! << 8) | q[7]!;
    const conn = this.find(report.src, srcPort, report.dst, dstPort);
    if (conn === undefined) return void this.drops.drop("icmp-no-connection");
    const { code, hard } = icmpErrorClass(report.kind, report.code);
    conn.icmpError(report.kind, code, hard, report.nextHopMtu, seq);
  }

  // ==== API ==============================================================================

  listen(opts: TcpListenOptions | TcpListenOptionsExt): Promise<TcpListener> {
    try {
      return Promise.resolve(this.listenNow(opts as TcpListenOptionsExt));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  private listenNow(opts: TcpListenOptionsExt): Listener {
    if (this.closed) throw new MorganaError("ERR_SOCKET_CLOSED", "listen: the TCP layer is closed", { syscall: "listen" });
    if (opts === null || typeof opts !== "object") throw new MorganaError("EINVAL", "listen: options required", { syscall: "listen" });
    const port = opts.port;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new MorganaError("EINVAL", `listen: port must be an integer in 0..65535, not ${String(port)}`, { syscall: "listen" });
    }
    const addr = this.localAddress(opts.address, "listen", port);
    const backlog = opts.backlog === undefined ? this.cfg.backlog : checkInt("backlog", opts.backlog, 1, 1 << 20);
    const synQueue = opts.synQueue === undefined ? this.cfg.synQueue : checkInt("synQueue", opts.synQueue, 1, 1 << 20);
    const co = this.connOptions(opts, "listen");
    let chosen = port;
    if (port === 0) chosen = this.ephemeral((p) => !this.portHasListener(p, addr), "listen", addr);
    else if (this.portHasListener(port, addr)) throw new MorganaError("EADDRINUSE", undefined, { syscall: "listen", address: formatIpv4(addr), port });
    const l = new Listener(this, addr, chosen, backlog, synQueue, co);
    let ls = this.listeners.get(chosen);
    if (ls === undefined) this.listeners.set(chosen, (ls = []));
    ls.push(l);
    return l;
  }

  private connOptions(o: { sendBufferSize?: number; receiveBufferSize?: number; noDelay?: boolean; keepAlive?: boolean | KeepAliveOptions }, syscall: string): ConnectionOptions {
    const cfg = this.cfg;
    try {
      return {
        sendBufferSize: o.sendBufferSize === undefined ? cfg.sendBufferSize : checkBuffer("sendBufferSize", o.sendBufferSize, cfg.maxBufferSize),
        receiveBufferSize: o.receiveBufferSize === undefined ? cfg.receiveBufferSize : checkBuffer("receiveBufferSize", o.receiveBufferSize, cfg.maxBufferSize),
        noDelay: o.noDelay ?? cfg.noDelay,
        keepAlive: o.keepAlive ?? false,
      };
    } catch (e) {
      throw new MorganaError("EINVAL", `${syscall}: ${(e as Error).message.replace(/^TcpLayer: /, "")}`, { syscall });
    }
  }

  private localAddress(text: string | undefined, syscall: string, port: number): Ipv4Address {
    if (text === undefined) return 0 as Ipv4Address;
    let a: Ipv4Address;
    try {
      a = parseIpv4(text);
    } catch {
      throw new MorganaError("EINVAL", `${syscall}: invalid IPv4 address ${JSON.stringify(text)}`, { syscall, address: String(text), port });
    }
    if (a !== 0 && !this.ours.has(a) && !isLoopbackIpv4(a)) throw new MorganaError("EADDRNOTAVAIL", undefined, { syscall, address: text, port });
    return a;
  }

  /** A random port of the ephemeral range for which `free` holds (RFC 6056 algorithm 1, then a scan). */
  private ephemeral(free: (p: number) => boolean, syscall: string, addr: number): number {
    const [lo, hi] = this.cfg.ephemeralRange;
    for (let i = 0; i < EPHEMERAL_TRIES; i++) {
      const p = randomInt(this.random, lo, hi + 1);
      if (free(p)) return p;
    }
    const n = hi - lo + 1;
    const start = randomInt(this.random, 0, n);
    for (let i = 0; i < n; i++) {
      const p = lo + ((start + i) % n);
      if (free(p)) return p;
    }
    throw new MorganaError("EADDRINUSE", `${syscall}: no free port in ${lo}-${hi}`, { syscall, address: formatIpv4(addr as Ipv4Address), port: 0 });
  }

  connect(opts: TcpConnectOptions | TcpConnectOptionsExt): Promise<TcpFlow> {
    let conn: Connection;
    let timeout: number | undefined;
    const o = opts as TcpConnectOptionsExt;
    try {
      if (this.closed) throw new MorganaError("ERR_SOCKET_CLOSED", "connect: the TCP layer is closed", { syscall: "connect" });
      if (o === null || typeof o !== "object") throw new MorganaError("EINVAL", "connect: options required", { syscall: "connect" });
      let dst: Ipv4Address;
      try {
        dst = parseIpv4(o.address);
      } catch {
        throw new MorganaError("EINVAL", `connect: invalid IPv4 address ${JSON.stringify(o.address)}`, { syscall: "connect", address: String(o.address) });
      }
      const port = o.port;
      if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw new MorganaError("EINVAL", `connect: port must be an integer in 1..65535, not ${String(port)}`, { syscall: "connect", address: o.address });
      }
      if (dst === 0 || dst === 0xffff_ffff || dst >>> 28 === 0xe) throw new MorganaError("EINVAL", `connect: ${o.address} is not a unicast address`, { syscall: "connect", address: o.address, port });
      if (o.timeoutMs !== undefined) timeout = checkMs("timeoutMs", o.timeoutMs, 1);
      let la = this.localAddress(o.localAddress, "connect", port);
      if (la === 0) la = this.ipv4.source(dst);
      const co = this.connOptions({ ...o, keepAlive: o.keepAlive ?? false }, "connect");
      let lp: number;
      if (o.localPort !== undefined) {
        lp = checkPort(o.localPort);
        if (this.portHasListener(lp, la) || this.find(la, lp, dst, port) !== undefined) {
          throw new MorganaError("EADDRINUSE", undefined, { syscall: "connect", address: formatIpv4(la), port: lp });
        }
      } else {
        lp = this.ephemeral((p) => !this.portHasListener(p, la) && this.find(la, p, dst, port) === undefined, "connect", la);
      }
      if (o.signal?.aborted) throw abortError(o.signal);
      conn = new Connection(this, la, lp, dst, port, false, co);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.insert(conn);
    const now = this.clock.now();
    const p = conn.open(this.isn(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort, now), this.tsOffset(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort), now, timeout);
    const signal = o.signal;
    if (signal !== undefined) {
      const onAbort = () => {
        if (conn.state <= SYN_RECEIVED && !conn.finished) {
          conn.error ??= abortError(signal);
          conn.terminate();
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const off = () => signal.removeEventListener("abort", onAbort);
      p.then(off, off);
    }
    return p;
  }

  // ==== lifecycle ========================================================================

  closeListener(l: Listener): void {
    const ls = this.listeners.get(l.port);
    if (ls !== undefined) {
      const i = ls.indexOf(l);
      if (i >= 0) ls.splice(i, 1);
      if (ls.length === 0) this.listeners.delete(l.port);
    }
    // Reset the connections never accepted: established ones in the queue and half-open ones.
    const victims: Connection[] = [];
    for (const c of l.acceptQueue) victims.push(c);
    for (const c of this.connections()) if (c.listener === l && !victims.includes(c)) victims.push(c);
    for (const c of victims) c.abort(new MorganaError("ECONNRESET", "the listener was closed", { syscall: "accept" }));
  }

  /** Closes every listener, resets every connection, cancels every timer, unregisters protocol 6. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const ls of [...this.listeners.values()]) for (const l of [...ls]) await l.close();
    for (const c of this.connections()) {
      c.abort(new MorganaError("ECONNABORTED", "the TCP layer was closed", { syscall: "close" }));
      // abort() leaves a connection whose close() completed (TIME-WAIT) alone, as the Flow
      // contract says; the layer going away ends it too, with its timer.
      if (!c.finished) c.terminate();
    }
    this.closed = true;
    try {
      this.ipv4.unregister(IPPROTO_TCP);
    } catch {
      // already unregistered
    }
  }

  stats(): LayerStats {
    let established = 0;
    let timeWait = 0;
    let halfOpen = 0;
    for (const c of this.connections()) {
      if (c.state === ESTABLISHED) established++;
      else if (c.state === TIME_WAIT) timeWait++;
      else if (c.state === SYN_RECEIVED) halfOpen++;
    }
    let listeners = 0;
    for (const ls of this.listeners.values()) listeners += ls.length;
    return {
      counters: { ...this.c, connections: this.nConns, established, timeWait, halfOpen, listeners },
      drops: this.drops.snapshot(),
    };
  }
}

function checkPort(p: unknown): number {
  if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 65535) {
    throw new MorganaError("EINVAL", `connect: localPort must be an integer in 1..65535, not ${String(p)}`, { syscall: "connect" });
  }
  return p;
}
