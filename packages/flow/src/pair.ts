/**
 * An in-memory, connected pair of {@link Flow}s: the reference implementation
 * of the Flow contract, used to test the adapters of this package and code
 * written against `Flow` (protocol parsers, HTTP, the conformance suite).
 *
 * Model. Each direction is one bounded buffer of `bufferSize` bytes that plays
 * the part of the writer's send buffer and the reader's receive buffer
 * together. A write is accepted into that buffer, in part if only part of it
 * fits (zero-copy: the accepted part is a view of the caller's array), and
 * resolves when its last byte is accepted; so the buffer never holds more than
 * `bufferSize` bytes and a writer is held back while the reader does not read.
 * Accepted bytes count as sent: they stay readable by the peer even when the
 * writer aborts afterwards, as data already in a TCP receive queue does.
 */
import { RingQueue } from "@morgana/collections";
import {
  MorganaError,
  type Clock,
  type Flow,
  type KeepAliveOptions,
  type SocketAddress,
  type TcpFlow,
  type TcpInfo,
  type Timer,
} from "@morgana/interfaces";

/** Default capacity of each direction of a {@link flowPair}, in bytes (64 KiB). */
export const DEFAULT_PAIR_BUFFER_SIZE = 65536;

export interface FlowPairOptions {
  /**
   * Bytes each direction holds that were accepted from the writer and not yet
   * read; default {@link DEFAULT_PAIR_BUFFER_SIZE}. Bytes in flight (see
   * `latencyMs`) count too, like a TCP window.
   */
  readonly bufferSize?: number;
  /**
   * One-way delay of data and of the end of stream, in milliseconds of
   * `clock`; default 0. Resets (abort, the RST of an abortive close) take
   * effect at once. Needs `clock`.
   */
  readonly latencyMs?: number;
  /** The clock that times `latencyMs`; required when `latencyMs > 0`. */
  readonly clock?: Clock;
}

export interface TcpFlowPairOptions extends FlowPairOptions {
  /**
   * The local address of each end (the other end's `remote`). Default
   * 10.0.0.1:49152 for the first end (the "client") and 10.0.0.2:80 for the second.
   */
  readonly addresses?: readonly [SocketAddress, SocketAddress];
}

/** What a {@link MemoryFlow} has done, for tests. */
export interface MemoryFlowStats {
  /** Bytes this end's writes got accepted into the peer's direction. */
  readonly bytesWritten: number;
  /** Bytes `read()` returned to this end. */
  readonly bytesRead: number;
  /** Bytes waiting for this end to read (accepted from the peer, unread). */
  readonly buffered: number;
  /** The largest `buffered` seen: never above `bufferSize`. */
  readonly maxBuffered: number;
  /** Writes of this end not yet (fully) accepted. */
  readonly pendingWrites: number;
  /** Reads of this end waiting for data. */
  readonly pendingReads: number;
}

interface Segment {
  readonly data: Uint8Array;
  readonly at: number;
}

interface PendingWrite {
  data: Uint8Array;
  resolve(): void;
  reject(err: Error): void;
}

interface PendingRead {
  resolve(chunk: Uint8Array | null): void;
  reject(err: Error): void;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

const OPEN = 0;
const ENDING = 1; // shutdown requested, pending writes still to be accepted
const ENDED = 2; // the end of stream is queued for the peer
type WriteState = typeof OPEN | typeof ENDING | typeof ENDED;

const WAIT = Symbol("wait");
const EMPTY = new Uint8Array(0);

function epipe(): MorganaError {
  return new MorganaError("EPIPE", "write after end", { syscall: "write" });
}

/**
 * One end of a {@link flowPair}. Implements {@link Flow} exactly; see the
 * package README for the semantics of each call.
 */
export class MemoryFlow implements Flow {
  /** The other end; set by {@link flowPair}. */
  peer!: MemoryFlow;

  /** Bytes each direction holds. */
  readonly capacity: number;
  private readonly latency: number;
  private readonly clock: Clock | undefined;

  // Receive side: what the peer wrote and this end has not read.
  private readonly rx = new RingQueue<Segment>();
  private rxBytes = 0;
  private rxEof = false;
  private rxEofAt = 0;
  /** Set by a reset from the peer: reads answer it once `rx` is drained (and no end of stream was queued). */
  private rxResetError: MorganaError | undefined;
  /** close() was called: reads answer null and incoming data resets the peer. */
  private rxClosed = false;
  private readonly readers = new RingQueue<PendingRead>();
  /** The sticky answer of reads once null or an error was given (undefined: none yet). */
  private readFinal: null | Error | undefined;

  // Send side.
  private readonly writers = new RingQueue<PendingWrite>();
  private writeState: WriteState = OPEN;
  private shutdownWaiters: Waiter[] = [];
  /** The failure (reset by the peer, abortive close) that writes and shutdown report. */
  private writeError: Error | undefined;
  private abortError: Error | undefined;

  private closePromise: Promise<void> | undefined;
  private closeResolve: (() => void) | undefined;

  private timer: Timer | undefined;
  private timerAt = 0;
  private serving = false;
  private serveAgain = false;
  private pumping = false;
  private pumpAgain = false;

  private nWritten = 0;
  private nRead = 0;
  private maxRx = 0;

  constructor(opts: FlowPairOptions = {}) {
    const cap = opts.bufferSize ?? DEFAULT_PAIR_BUFFER_SIZE;
    if (!Number.isInteger(cap) || cap < 1) throw new MorganaError("EINVAL", `flowPair: bufferSize must be a positive integer, got ${cap}`);
    const lat = opts.latencyMs ?? 0;
    if (!(lat >= 0) || !Number.isFinite(lat)) throw new MorganaError("EINVAL", `flowPair: latencyMs must be a finite number >= 0, got ${lat}`);
    if (lat > 0 && opts.clock === undefined) throw new MorganaError("EINVAL", "flowPair: latencyMs needs a clock");
    this.capacity = cap;
    this.latency = lat;
    this.clock = opts.clock;
  }

  read(): Promise<Uint8Array | null> {
    return new Promise<Uint8Array | null>((resolve, reject) => {
      this.readers.push({ resolve, reject });
      this.serve();
    });
  }

  write(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) return Promise.reject(new MorganaError("EINVAL", "write: data must be a Uint8Array", { syscall: "write" }));
    if (this.abortError !== undefined) return Promise.reject(this.abortError);
    if (this.writeState !== OPEN || this.closePromise !== undefined) return Promise.reject(epipe());
    if (this.writeError !== undefined) return Promise.reject(this.writeError);
    return new Promise<void>((resolve, reject) => {
      this.writers.push({ data, resolve, reject });
      this.pump();
    });
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    if (!Array.isArray(chunks) || !chunks.every((c) => c instanceof Uint8Array)) {
      return Promise.reject(new MorganaError("EINVAL", "writev: chunks must be an array of Uint8Array", { syscall: "write" }));
    }
    // Every write is queued now, in order; they share the fate of the first failure.
    return Promise.all(chunks.map((c) => this.write(c))).then(() => undefined);
  }

  shutdown(): Promise<void> {
    if (this.abortError !== undefined) return Promise.reject(this.abortError);
    if (this.writeState === ENDED) return Promise.resolve();
    if (this.writeError !== undefined) return Promise.reject(this.writeError);
    return new Promise<void>((resolve, reject) => {
      this.shutdownWaiters.push({ resolve, reject });
      if (this.writeState === OPEN) this.writeState = ENDING;
      this.pump();
    });
  }

  close(): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.closePromise = new Promise<void>((resolve) => (this.closeResolve = resolve));
    const unread = this.rxBytes > 0;
    this.rxClosed = true;
    this.discardRx();
    if (this.readFinal === undefined) this.readFinal = null;
    this.serve();
    if (this.abortError !== undefined || this.writeError !== undefined) {
      this.finishClose(true);
    } else if (unread) {
      // RFC 1122 4.2.2.13: closing with received data unread sends a RST, so
      // the peer learns that data was lost; our unaccepted writes are dropped.
      this.failWrites(new MorganaError("ECONNABORTED", "close() with unread data reset the connection", { syscall: "write" }));
      this.peer.resetByPeer();
    } else {
      if (this.writeState === OPEN) this.writeState = ENDING;
      this.pump();
      if (this.writeState === ENDED) this.finishClose();
    }
    return this.closePromise;
  }

  abort(err?: Error): void {
    if (this.abortError !== undefined) return;
    // After a completed close() there is nothing left to abort.
    if (this.rxClosed && this.writeState === ENDED) return;
    const e = err ?? new MorganaError("ECONNABORTED", "connection aborted");
    this.abortError = e;
    if (this.writeError === undefined) this.failWrites(e);
    this.discardRx();
    if (this.readFinal === undefined) this.readFinal = e;
    this.serve();
    this.finishClose(true);
    this.peer.resetByPeer();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /** Counters for tests; see {@link MemoryFlowStats}. */
  stats(): MemoryFlowStats {
    return {
      bytesWritten: this.nWritten,
      bytesRead: this.nRead,
      buffered: this.rxBytes,
      maxBuffered: this.maxRx,
      pendingWrites: this.writers.length,
      pendingReads: this.readers.length,
    };
  }

  /** A coarse TCP-like state name: ESTABLISHED, FIN_WAIT, CLOSE_WAIT, CLOSING or CLOSED. */
  protected stateName(): string {
    if (this.abortError !== undefined || this.writeError !== undefined) return "CLOSED";
    const weEnded = this.writeState !== OPEN || this.closePromise !== undefined;
    const theyEnded = this.rxEof;
    if (weEnded && theyEnded) return this.closePromise !== undefined ? "CLOSED" : "CLOSING";
    if (weEnded) return "FIN_WAIT";
    if (theyEnded) return "CLOSE_WAIT";
    return "ESTABLISHED";
  }

  private now(): number {
    return this.clock !== undefined ? this.clock.now() : 0;
  }

  private discardRx(): void {
    this.rx.clear();
    this.rxBytes = 0;
    this.cancelTimer();
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) {
      this.timer.cancel();
      this.timer = undefined;
    }
  }

  private armTimer(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.cancelTimer();
    this.timerAt = at;
    this.timer = this.clock!.setTimer(at - this.now(), () => {
      this.timer = undefined;
      this.serve();
    });
  }

  /**
   * Settles close() once the connection is finished: our end of stream was
   * delivered and the peer's arrived (or, with `force`, the flow failed).
   */
  private finishClose(force = false): void {
    if (!force && !(this.writeState === ENDED && this.rxEof)) return;
    const r = this.closeResolve;
    if (r !== undefined) {
      this.closeResolve = undefined;
      r();
    }
  }

  private failWrites(err: Error): void {
    this.writeError = err;
    while (this.writers.length > 0) this.writers.shift()!.reject(err);
    const waiters = this.shutdownWaiters;
    this.shutdownWaiters = [];
    for (const w of waiters) w.reject(err);
    this.finishClose(true);
  }

  /** The peer aborted, or reset us because data it could not read was lost. */
  private resetByPeer(): void {
    if (this.abortError !== undefined || this.writeError !== undefined) return;
    const err = new MorganaError("ECONNRESET", "connection reset by peer", { syscall: "read" });
    this.failWrites(err);
    if (!this.rxClosed) this.rxResetError = err;
    this.serve();
  }

  /** Answers waiting reads, in order, with what is available. */
  private serve(): void {
    if (this.serving) {
      this.serveAgain = true;
      return;
    }
    this.serving = true;
    try {
      do {
        this.serveAgain = false;
        let freed = false;
        while (this.readers.length > 0) {
          const ans = this.nextAnswer();
          if (ans === WAIT) break;
          const r = this.readers.shift()!;
          if (ans instanceof Error) r.reject(ans);
          else {
            if (ans !== null) freed = true;
            r.resolve(ans);
          }
        }
        if (freed) this.peer.pump();
      } while (this.serveAgain);
    } finally {
      this.serving = false;
    }
  }

  private nextAnswer(): Uint8Array | null | Error | typeof WAIT {
    if (this.readFinal !== undefined) return this.readFinal;
    const head = this.rx.peek();
    if (head !== undefined) {
      if (head.at > this.now()) {
        this.armTimer(head.at);
        return WAIT;
      }
      this.rx.shift();
      this.rxBytes -= head.data.length;
      this.nRead += head.data.length;
      return head.data;
    }
    if (this.rxEof) {
      if (this.rxEofAt > this.now()) {
        this.armTimer(this.rxEofAt);
        return WAIT;
      }
      this.readFinal = null;
      return null;
    }
    if (this.rxResetError !== undefined) {
      this.readFinal = this.rxResetError;
      return this.readFinal;
    }
    return WAIT;
  }

  /** Moves pending writes into the peer's receive buffer while it has room. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.pumpOnce();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private pumpOnce(): void {
    const p = this.peer;
    let delivered = false;
    while (this.writers.length > 0) {
      const w = this.writers.peek()!;
      if (w.data.length > 0) {
        if (p.rxClosed) {
          // Data reaching an end that closed is lost: that end answers with a
          // RST, which also finishes its close().
          this.resetByPeer();
          p.finishClose(true);
          return;
        }
        const space = this.capacity - p.rxBytes;
        if (space <= 0) break;
        const n = Math.min(space, w.data.length);
        const part = n === w.data.length ? w.data : w.data.subarray(0, n);
        w.data = n === w.data.length ? EMPTY : w.data.subarray(n);
        p.rx.push({ data: part, at: this.now() + this.latency });
        p.rxBytes += n;
        if (p.rxBytes > p.maxRx) p.maxRx = p.rxBytes;
        this.nWritten += n;
        delivered = true;
        if (w.data.length > 0) break;
      }
      this.writers.shift();
      w.resolve();
    }
    if (this.writers.length === 0 && this.writeState === ENDING && this.writeError === undefined) {
      this.writeState = ENDED;
      p.rxEof = true;
      p.rxEofAt = this.now() + this.latency;
      delivered = true;
      const waiters = this.shutdownWaiters;
      this.shutdownWaiters = [];
      for (const s of waiters) s.resolve();
      if (this.closePromise !== undefined) this.finishClose();
      // The peer may have been waiting in close() for our end of stream.
      if (p.closePromise !== undefined) p.finishClose();
    }
    if (delivered) p.serve();
  }
}

/** One end of a {@link tcpFlowPair}: a {@link MemoryFlow} with addresses and socket options. */
export class MemoryTcpFlow extends MemoryFlow implements TcpFlow {
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  /** The last value given to `setNoDelay` (default false, Nagle on). */
  noDelay = false;
  /** The last `setKeepAlive` call (default disabled). */
  keepAlive: { enable: boolean; opts: KeepAliveOptions | undefined } = { enable: false, opts: undefined };

  constructor(local: SocketAddress, remote: SocketAddress, opts: FlowPairOptions = {}) {
    super(opts);
    this.local = local;
    this.remote = remote;
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
  }

  setKeepAlive(enable: boolean, opts?: KeepAliveOptions): void {
    this.keepAlive = { enable, opts };
  }

  info(): TcpInfo {
    const s = this.stats();
    return { state: this.stateName(), bytesSent: s.bytesWritten, bytesReceived: s.bytesRead, receiveWindow: this.receiveWindow() };
  }

  private receiveWindow(): number {
    return Math.max(0, this.capacity - this.stats().buffered);
  }
}

function link<T extends MemoryFlow>(a: T, b: T): [T, T] {
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * Two connected in-memory flows: what one writes the other reads. See
 * {@link MemoryFlow} and the README for the exact semantics (backpressure,
 * half-close, abortive close, resets).
 */
export function flowPair(opts: FlowPairOptions = {}): [MemoryFlow, MemoryFlow] {
  return link(new MemoryFlow(opts), new MemoryFlow(opts));
}

const DEFAULT_CLIENT: SocketAddress = { address: "10.0.0.1", port: 49152, family: "IPv4" };
const DEFAULT_SERVER: SocketAddress = { address: "10.0.0.2", port: 80, family: "IPv4" };

/**
 * Like {@link flowPair}, with {@link TcpFlow}s: addresses (`local`/`remote`),
 * `setNoDelay`/`setKeepAlive` recorded for inspection, and `info()`.
 */
export function tcpFlowPair(opts: TcpFlowPairOptions = {}): [MemoryTcpFlow, MemoryTcpFlow] {
  const [ea, eb] = opts.addresses ?? [DEFAULT_CLIENT, DEFAULT_SERVER];
  return link(new MemoryTcpFlow(ea, eb, opts), new MemoryTcpFlow(eb, ea, opts));
}
