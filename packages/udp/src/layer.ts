/**
 * UDP (RFC 768, RFC 1122 §4.1) over an {@link Ipv4}: bound sockets with
 * bounded receive queues, checksums always generated and verified when
 * present, port unreachable for datagrams nobody listens for, and ICMP errors
 * surfaced to the socket that sent the offending datagram.
 */
import { RingQueue } from "@morgana/collections";
import {
  DropCounters,
  IPPROTO_UDP,
  MorganaError,
  formatIpv4,
  isLoopbackIpv4,
  isMulticastIpv4,
  parseIpv4,
  prefixBroadcast,
  prefixNetwork,
  randomInt,
  type Clock,
  type Datagram,
  type ErrorCode,
  type IcmpErrorKind,
  type IcmpErrorReport,
  type Ipv4,
  type Ipv4Address,
  type Ipv4ProtocolHandler,
  type LayerStats,
  type Random,
  type SocketAddress,
  type Udp,
  type UdpBindOptions,
  type UdpDestination,
  type UdpSocket,
} from "@morgana/interfaces";
import { UDP_HEADER_LENGTH, UDP_MAX_PAYLOAD, udpSumVerifies, writeUdpHeader } from "./codec.js";

/** Default bound of a socket's receive queue, in datagrams. */
export const DEFAULT_RECEIVE_QUEUE = 256;
/** Default ephemeral port range (IANA dynamic ports, RFC 6335), inclusive. */
export const DEFAULT_EPHEMERAL_RANGE: readonly [number, number] = [49152, 65535];
/** Random draws before the ephemeral search falls back to a scan of the range. */
export const EPHEMERAL_RANDOM_TRIES = 64;

const ANY = 0 as Ipv4Address;

export interface UdpLayerOptions {
  readonly ipv4: Ipv4;
  /** Source of ephemeral ports; must be cryptographic in production (RFC 6056). */
  readonly random: Random;
  /** Accepted for symmetry with the other layers; UDP keeps no timers. */
  readonly clock?: Clock;
  /** Default receive queue bound of new sockets, in datagrams. Default 256. */
  readonly receiveQueue?: number;
  /** Inclusive ephemeral port range. Default [49152, 65535]. */
  readonly ephemeralRange?: readonly [number, number];
}

/** The socket error for an ICMP error kind (RFC 1122 §4.1.3.3: UDP passes ICMP errors up). */
export function socketErrorCode(kind: IcmpErrorKind): ErrorCode {
  switch (kind) {
    case "port-unreachable":
      return "ECONNREFUSED";
    case "net-unreachable":
      return "ENETUNREACH";
    case "fragmentation-needed":
      return "EMSGSIZE";
    default:
      return "EHOSTUNREACH";
  }
}

function einval(syscall: string, message: string): MorganaError {
  return new MorganaError("EINVAL", message, { syscall });
}

interface Waiter {
  resolve(d: Datagram | null): void;
  reject(e: Error): void;
}

class Socket implements UdpSocket {
  readonly local: SocketAddress;
  /** The bound address as a number (0 for the wildcard). */
  readonly boundAddress: Ipv4Address;
  readonly port: number;
  private readonly queue = new RingQueue<Datagram>();
  private readonly waiters = new RingQueue<Waiter>();
  private error: MorganaError | undefined;
  private isClosed = false;

  constructor(
    private readonly layer: UdpLayer,
    address: Ipv4Address,
    port: number,
    private readonly queueLimit: number,
  ) {
    this.boundAddress = address;
    this.port = port;
    this.local = { address: formatIpv4(address), port, family: "IPv4" };
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Datagrams waiting for recv(). */
  get queued(): number {
    return this.queue.length;
  }

  send(data: Uint8Array, to: UdpDestination): Promise<void> {
    try {
      this.layer.transmit(this, data, to);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  recv(): Promise<Datagram | null> {
    if (this.isClosed) return Promise.resolve(null);
    const err = this.error;
    if (err !== undefined) {
      this.error = undefined;
      return Promise.reject(err);
    }
    const d = this.queue.shift();
    if (d !== undefined) return Promise.resolve(d);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Datagram> {
    for (;;) {
      const d = await this.recv();
      if (d === null) return;
      yield d;
    }
  }

  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    this.isClosed = true;
    this.layer.release(this);
    this.queue.clear();
    this.error = undefined;
    for (let w = this.waiters.shift(); w !== undefined; w = this.waiters.shift()) w.resolve(null);
    return Promise.resolve();
  }

  /** Hands a datagram to a waiting recv() or queues it; false when the queue is full. */
  deliver(d: Datagram): boolean {
    const w = this.waiters.shift();
    if (w !== undefined) {
      w.resolve(d);
      return true;
    }
    if (this.queue.length >= this.queueLimit) return false;
    this.queue.push(d);
    return true;
  }

  /**
   * Records an asynchronous error for the next recv(). Like a Linux socket's
   * pending error (sk_err) there is one slot: a newer error replaces an
   * unreported one. Returns true when it replaced one.
   */
  setError(err: MorganaError): boolean {
    const w = this.waiters.shift();
    if (w !== undefined) {
      w.reject(err);
      return false;
    }
    const replaced = this.error !== undefined;
    this.error = err;
    return replaced;
  }
}

/**
 * UDP for one {@link Ipv4} layer (registers protocol 17).
 *
 * Sockets are bound to a port and to one of the interface's addresses or the
 * wildcard 0.0.0.0; a port bound on the wildcard conflicts with every
 * address, and two sockets may share a port only on two different specific
 * addresses (Linux without SO_REUSEADDR).
 */
export class UdpLayer implements Udp, Ipv4ProtocolHandler {
  private readonly ipv4: Ipv4;
  private readonly random: Random;
  private readonly defaultQueue: number;
  private readonly lo: number;
  private readonly hi: number;
  /** port → bound address (0 = wildcard) → socket. */
  private readonly ports = new Map<number, Map<number, Socket>>();
  private openSockets = 0;
  private closed = false;
  private readonly drops = new DropCounters();
  private readonly c = {
    rxDatagrams: 0,
    rxBytes: 0,
    txDatagrams: 0,
    txBytes: 0,
    rxNoChecksum: 0,
    portUnreachable: 0,
    icmpErrors: 0,
    icmpErrorsReplaced: 0,
    sendErrors: 0,
  };

  constructor(opts: UdpLayerOptions) {
    this.ipv4 = opts.ipv4;
    this.random = opts.random;
    this.defaultQueue = opts.receiveQueue ?? DEFAULT_RECEIVE_QUEUE;
    if (!Number.isInteger(this.defaultQueue) || this.defaultQueue < 1) {
      throw new MorganaError("EINVAL", `UdpLayer: receiveQueue must be a positive integer, not ${this.defaultQueue}`);
    }
    const [lo, hi] = opts.ephemeralRange ?? DEFAULT_EPHEMERAL_RANGE;
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi) {
      throw new MorganaError("EINVAL", `UdpLayer: ephemeralRange must be two ports lo <= hi in 1..65535, not [${lo}, ${hi}]`);
    }
    this.lo = lo;
    this.hi = hi;
    this.ipv4.register(IPPROTO_UDP, this);
  }

  // ---- sockets ------------------------------------------------------------------------

  bind(opts: UdpBindOptions = {}): Promise<UdpSocket> {
    try {
      return Promise.resolve(this.bindNow(opts));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  private bindNow(opts: UdpBindOptions): Socket {
    if (this.closed) throw new MorganaError("ERR_SOCKET_CLOSED", "bind: the UDP layer is closed", { syscall: "bind" });
    const port = opts.port ?? 0;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw einval("bind", `bind: port must be an integer in 0..65535, not ${String(port)}`);
    }
    const queue = opts.receiveQueue ?? this.defaultQueue;
    if (typeof queue !== "number" || !Number.isInteger(queue) || queue < 1) {
      throw einval("bind", `bind: receiveQueue must be a positive integer, not ${String(queue)}`);
    }
    const text = opts.address ?? "0.0.0.0";
    let address: Ipv4Address;
    try {
      address = parseIpv4(text);
    } catch {
      throw new MorganaError("EINVAL", `bind: invalid IPv4 address ${JSON.stringify(text)}`, { syscall: "bind", address: String(text) });
    }
    if (address !== ANY && !isLoopbackIpv4(address) && !this.ipv4.addresses.some((p) => p.address === address)) {
      throw new MorganaError("EADDRNOTAVAIL", undefined, { syscall: "bind", address: text, port });
    }
    let chosen = port;
    if (port === 0) {
      chosen = this.ephemeralPort(address);
    } else if (!this.isFree(port, address)) {
      throw new MorganaError("EADDRINUSE", undefined, { syscall: "bind", address: text, port });
    }
    const s = new Socket(this, address, chosen, queue);
    let m = this.ports.get(chosen);
    if (m === undefined) this.ports.set(chosen, (m = new Map()));
    m.set(address, s);
    this.openSockets++;
    return s;
  }

  private isFree(port: number, address: Ipv4Address): boolean {
    const m = this.ports.get(port);
    if (m === undefined || m.size === 0) return true;
    if (address === ANY) return false;
    return !m.has(ANY) && !m.has(address);
  }

  /** A random free port of the ephemeral range: random draws, then a scan from a random start. */
  private ephemeralPort(address: Ipv4Address): number {
    const n = this.hi - this.lo + 1;
    for (let i = 0; i < EPHEMERAL_RANDOM_TRIES; i++) {
      const p = randomInt(this.random, this.lo, this.hi + 1);
      if (this.isFree(p, address)) return p;
    }
    const start = randomInt(this.random, 0, n);
    for (let i = 0; i < n; i++) {
      const p = this.lo + ((start + i) % n);
      if (this.isFree(p, address)) return p;
    }
    throw new MorganaError("EADDRINUSE", `bind: no free port in ${this.lo}-${this.hi}`, { syscall: "bind", address: formatIpv4(address), port: 0 });
  }

  /** @internal Called by a socket's close(): frees its port. */
  release(s: Socket): void {
    const m = this.ports.get(s.port);
    if (m?.get(s.boundAddress) === s) {
      m.delete(s.boundAddress);
      if (m.size === 0) this.ports.delete(s.port);
      this.openSockets--;
    }
  }

  private lookup(port: number, address: Ipv4Address): Socket | undefined {
    const m = this.ports.get(port);
    if (m === undefined) return undefined;
    return m.get(address) ?? m.get(ANY);
  }

  // ---- send ---------------------------------------------------------------------------

  /** @internal The body of {@link UdpSocket.send}; throws the errors the promise rejects with. */
  transmit(s: Socket, data: Uint8Array, to: UdpDestination): void {
    const toAddress = typeof to?.address === "string" ? to.address : String(to?.address);
    const toPort = to?.port;
    const details = { syscall: "send", address: toAddress, port: toPort as number };
    if (s.closed) throw new MorganaError("ERR_SOCKET_CLOSED", "send: the socket is closed", { syscall: "send" });
    if (!(data instanceof Uint8Array)) throw new MorganaError("EINVAL", "send: data must be a Uint8Array", details);
    let dst: Ipv4Address;
    try {
      dst = parseIpv4(toAddress);
    } catch {
      throw new MorganaError("EINVAL", `send: invalid IPv4 address ${JSON.stringify(toAddress)}`, details);
    }
    if (typeof toPort !== "number" || !Number.isInteger(toPort) || toPort < 1 || toPort > 65535) {
      throw new MorganaError("EINVAL", `send: port must be an integer in 1..65535, not ${String(toPort)}`, details);
    }
    if (data.length > UDP_MAX_PAYLOAD) throw new MorganaError("EMSGSIZE", `send: ${data.length} bytes above ${UDP_MAX_PAYLOAD}`, details);
    const src = s.boundAddress !== ANY ? s.boundAddress : this.ipv4.source(dst);
    const n = UDP_HEADER_LENGTH + data.length;
    const srcPort = s.port;
    this.ipv4.write(
      dst,
      IPPROTO_UDP,
      n,
      (buf) => {
        buf.set(data, UDP_HEADER_LENGTH);
        writeUdpHeader(buf, 0, srcPort, toPort, n, src, dst);
        return n;
      },
      {
        src,
        onError: (err: Error) => {
          this.c.sendErrors++;
          if (s.closed) return;
          const code = (err as { code?: unknown }).code === "ENETUNREACH" ? "ENETUNREACH" : "EHOSTUNREACH";
          if (s.setError(new MorganaError(code, undefined, { ...details, cause: err }))) this.c.icmpErrorsReplaced++;
        },
      },
    );
    this.c.txDatagrams++;
    this.c.txBytes += data.length;
  }

  // ---- receive ------------------------------------------------------------------------

  /** {@link Ipv4ProtocolHandler.onDatagram}: one UDP datagram. Never throws. */
  onDatagram(src: Ipv4Address, dst: Ipv4Address, payload: Uint8Array, header: Uint8Array): void {
    if (this.closed) return void this.drops.drop("closed");
    if (payload.length < UDP_HEADER_LENGTH) return void this.drops.drop("short");
    const length = (payload[4]! << 8) | payload[5]!;
    if (length < UDP_HEADER_LENGTH || length > payload.length) return void this.drops.drop("bad-length");
    if (payload[6] !== 0 || payload[7] !== 0) {
      if (!udpSumVerifies(payload, length, src, dst)) return void this.drops.drop("checksum");
    } else {
      this.c.rxNoChecksum++;
    }
    const dstPort = (payload[2]! << 8) | payload[3]!;
    const s = this.lookup(dstPort, dst);
    if (s === undefined) {
      this.drops.drop("no-socket");
      if (!this.isBroadcastOrMulticast(dst)) {
        this.c.portUnreachable++;
        this.ipv4.sendIcmpError("port-unreachable", header, payload);
      }
      return;
    }
    const data = payload.subarray(UDP_HEADER_LENGTH, length);
    if (!s.deliver({ data, address: formatIpv4(src), port: (payload[0]! << 8) | payload[1]! })) return void this.drops.drop("queue-full");
    this.c.rxDatagrams++;
    this.c.rxBytes += data.length;
  }

  private isBroadcastOrMulticast(a: Ipv4Address): boolean {
    if (a === 0xffff_ffff || a === 0 || isMulticastIpv4(a)) return true;
    for (const p of this.ipv4.addresses) {
      if (p.length < 31 && (a === prefixBroadcast(p) || a === prefixNetwork(p))) return true;
    }
    return false;
  }

  /**
   * {@link Ipv4ProtocolHandler.onIcmpError}: an ICMP error about a datagram
   * we sent. The socket is found by the quoted source port (and source
   * address); its next recv() rejects with the mapped error, which carries the
   * original destination's address and port.
   */
  onIcmpError(report: IcmpErrorReport): void {
    const q = report.quoted;
    if (q.length < 4) return void this.drops.drop("icmp-short");
    const srcPort = (q[0]! << 8) | q[1]!;
    const dstPort = (q[2]! << 8) | q[3]!;
    const s = this.lookup(srcPort, report.src);
    if (s === undefined) return void this.drops.drop("icmp-no-socket");
    const code = socketErrorCode(report.kind);
    const address = formatIpv4(report.dst);
    const err = new MorganaError(code, `recv ${code} ${address}:${dstPort} (ICMP ${report.kind} from ${formatIpv4(report.reporter)})`, {
      syscall: "recv",
      address,
      port: dstPort,
      cause: report,
    });
    this.c.icmpErrors++;
    if (s.setError(err)) this.c.icmpErrorsReplaced++;
  }

  // ---- lifecycle ----------------------------------------------------------------------

  /** Closes every socket and unregisters protocol 17. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all: Socket[] = [];
    for (const m of this.ports.values()) all.push(...m.values());
    for (const s of all) await s.close();
    try {
      this.ipv4.unregister(IPPROTO_UDP);
    } catch {
      // Already unregistered by the owner.
    }
  }

  stats(): LayerStats {
    return { counters: { ...this.c, sockets: this.openSockets }, drops: this.drops.snapshot() };
  }
}
