/**
 * A {@link TcpFlow} over a `net.Socket`, with the exact Flow contract of
 * `@morgana/interfaces`: pull reads with real backpressure, writes held back
 * by the send buffer, half-close, close, abort.
 */
import type { Socket } from "node:net";
import {
  MorganaError,
  type Clock,
  type KeepAliveOptions,
  type SocketAddress,
  type TcpFlow,
  type TcpInfo,
  type Timer,
} from "@morgana/interfaces";
import { einval, fromNodeError } from "./errors.js";

/** What a flow reports to the stack that owns it. */
export interface FlowOwner {
  readonly clock: Clock;
  /** How long `close()` waits for the peer to finish before destroying the socket. */
  readonly finTimeoutMs: number;
  bytesSent(n: number): void;
  bytesReceived(n: number): void;
  /** A reset was sent: by `abort()`, or by `close()` with unread data or data arriving after it. */
  resetSent(reason: "abort" | "close-unread" | "data-after-close"): void;
  /** The socket is closed; the flow holds no resource any more. */
  finished(flow: SocketTcpFlow): void;
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
}

/** The answer every read gives once the read side is over: `null`, or an error. */
interface ReadEnd {
  readonly error: Error | undefined;
}

const RESOLVED = Promise.resolve();

/** How long a reset waits for a pending shutdown to complete before the socket is closed without one. */
export const RESET_WAIT_MS = 1000;

function addressOf(address: string | undefined, port: number | undefined): SocketAddress {
  return { address: address ?? "0.0.0.0", port: port ?? 0, family: "IPv4" };
}

/**
 * A TCP connection on a host socket. Created by the stack's `connect()` and
 * by listeners; not constructed by applications.
 */
export class SocketTcpFlow implements TcpFlow {
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  private readonly socket: Socket;
  private readonly owner: FlowOwner;

  private readonly readWaiters: Waiter<Uint8Array | null>[] = [];
  private readEnd: ReadEnd | undefined;
  private readonly drainWaiters: Waiter<void>[] = [];
  /** The stream's error (peer reset, keepalive timeout, ...) or the abort error. */
  private failure: Error | undefined;
  private aborted = false;
  /** shutdown() or close() was called: writes fail with EPIPE. */
  private writeShut = false;
  private peerEnded = false;
  private firstEnd: "local" | "peer" | undefined;
  private isClosed = false;
  /** close() was called. */
  private closing = false;
  private closeWaiter: (() => void) | undefined;
  private closePromise: Promise<void> | undefined;
  private finTimer: Timer | undefined;

  constructor(socket: Socket, owner: FlowOwner) {
    this.socket = socket;
    this.owner = owner;
    this.local = addressOf(socket.localAddress, socket.localPort);
    this.remote = addressOf(socket.remoteAddress, socket.remotePort);
    socket.on("readable", () => this.onReadable());
    socket.on("end", () => this.onEnd());
    socket.on("error", (err: Error) => this.onError(err));
    socket.on("close", () => this.onClose());
    socket.on("drain", () => this.settleDrain(undefined));
    // After end() Node emits no 'drain': writes held back resolve once everything was handed to the kernel.
    socket.on("finish", () => this.settleDrain(undefined));
  }

  // ---- reading ------------------------------------------------------------------------

  read(): Promise<Uint8Array | null> {
    const end = this.readEnd;
    if (end !== undefined) return end.error === undefined ? Promise.resolve(null) : Promise.reject(end.error);
    if (this.readWaiters.length === 0) {
      const chunk = this.take();
      if (chunk !== null) return Promise.resolve(chunk);
    }
    return new Promise((resolve, reject) => this.readWaiters.push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /** Everything Node has buffered (at most about one high-water mark), as a plain Uint8Array view; null if none. */
  private take(): Uint8Array | null {
    if (this.socket.destroyed) return null;
    const b = this.socket.read() as Buffer | null;
    if (b === null || b.length === 0) return null;
    this.owner.bytesReceived(b.length);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  private onReadable(): void {
    if (this.closing) {
      // After close(): the application will read no more. As Linux does for a
      // closed socket, data from the peer is answered with a reset; the FIN
      // (a read returning null) lets the socket finish.
      if (this.socket.destroyed) return;
      const b = this.socket.read() as Buffer | null;
      if (b !== null && b.length > 0) this.reset("data-after-close");
      return;
    }
    this.serveReads();
  }

  private serveReads(): void {
    while (this.readWaiters.length > 0) {
      if (this.readEnd !== undefined) return this.flushReads();
      const chunk = this.take();
      if (chunk === null) return;
      this.readWaiters.shift()!.resolve(chunk);
    }
  }

  /** Fixes the answer of every further read (the first one set wins) and gives it to waiting reads. */
  private endReads(error: Error | undefined): void {
    if (this.readEnd === undefined) this.readEnd = { error };
    this.flushReads();
  }

  private flushReads(): void {
    const end = this.readEnd;
    if (end === undefined) return;
    for (let w = this.readWaiters.shift(); w !== undefined; w = this.readWaiters.shift()) {
      if (end.error === undefined) w.resolve(null);
      else w.reject(end.error);
    }
  }

  private onEnd(): void {
    this.peerEnded = true;
    this.firstEnd ??= "peer";
    this.endReads(undefined);
  }

  // ---- writing ------------------------------------------------------------------------

  write(data: Uint8Array): Promise<void> {
    return this.send([data], "write");
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    return this.send(chunks, "writev");
  }

  private send(chunks: readonly Uint8Array[], syscall: string): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.writeShut || this.socket.destroyed) {
      return Promise.reject(
        new MorganaError("EPIPE", `${syscall} EPIPE: the flow was shut down or closed`, {
          syscall,
          address: this.remote.address,
          port: this.remote.port,
        }),
      );
    }
    if (!Array.isArray(chunks)) return Promise.reject(einval(syscall, "chunks must be an array of Uint8Array"));
    let total = 0;
    for (const c of chunks) {
      if (!(c instanceof Uint8Array)) return Promise.reject(einval(syscall, "data must be a Uint8Array"));
      total += c.length;
    }
    if (total === 0) return RESOLVED;
    let ok = true;
    const many = chunks.length > 1;
    if (many) this.socket.cork();
    for (const c of chunks) if (c.length > 0) ok = this.socket.write(c);
    if (many) this.socket.uncork();
    this.owner.bytesSent(total);
    // Below the high-water mark the data is accepted; above it the writer waits for 'drain'.
    if (ok || this.socket.writableLength === 0) return RESOLVED;
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  private settleDrain(error: Error | undefined): void {
    for (let w = this.drainWaiters.shift(); w !== undefined; w = this.drainWaiters.shift()) {
      if (error === undefined) w.resolve();
      else w.reject(error);
    }
  }

  shutdown(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.writeShut || this.socket.destroyed) return RESOLVED;
    this.writeShut = true;
    this.firstEnd ??= "local";
    this.socket.end();
    return RESOLVED;
  }

  // ---- closing ------------------------------------------------------------------------

  close(): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.closing = true;
    this.closePromise = new Promise<void>((resolve) => {
      this.closeWaiter = resolve;
    });
    // Reading stops: pending and later reads give null (unless the read side already ended).
    this.endReads(undefined);
    if (this.isClosed) {
      this.settleClose();
      return this.closePromise;
    }
    if (this.aborted || this.failure !== undefined || this.socket.destroyed) {
      // Already failed or being destroyed: 'close' follows and settles close().
      return this.closePromise;
    }
    if (this.socket.readableLength > 0) {
      // Unread data: discard it and reset, as Linux's close() does (before any
      // FIN: a reset is not possible while a shutdown is in progress).
      this.writeShut = true;
      this.reset("close-unread");
      return this.closePromise;
    }
    if (!this.writeShut) {
      this.writeShut = true;
      this.firstEnd ??= "local";
      this.socket.end();
    }
    // Keep reading so that the peer's FIN (or data, answered with a reset) is seen.
    this.onReadable();
    if (!this.socket.destroyed) {
      this.finTimer = this.owner.clock.setTimer(this.owner.finTimeoutMs, () => {
        this.finTimer = undefined;
        this.socket.destroy();
      });
    }
    return this.closePromise;
  }

  abort(err?: Error): void {
    // The Flow contract: nothing happens after a completed close().
    if (this.closePromise !== undefined && this.isClosed) return;
    const e =
      err instanceof Error
        ? err
        : new MorganaError("ECONNABORTED", "the flow was aborted", { address: this.remote.address, port: this.remote.port });
    if (this.aborted) return;
    this.aborted = true;
    this.failure ??= e;
    this.endReads(this.failure);
    this.settleDrain(this.failure);
    this.finTimer?.cancel();
    this.finTimer = undefined;
    if (!this.socket.destroyed) {
      this.owner.resetSent("abort");
      this.resetSocket();
    }
  }

  private reset(reason: "close-unread" | "data-after-close"): void {
    if (this.socket.destroyed) return;
    this.owner.resetSent(reason);
    this.resetSocket();
  }

  /**
   * Sends a reset and destroys the socket. libuv refuses SO_LINGER 0 while a
   * shutdown request is pending (Node would report EINVAL and keep the handle
   * open), so during that window the reset waits for the shutdown to complete;
   * if it has not within {@link RESET_WAIT_MS} (the kernel send buffer stays
   * full), the socket is closed without a reset.
   */
  private resetSocket(): void {
    const s = this.socket;
    if (s.destroyed) return;
    const shutdownPending = s.writableEnded && !s.writableFinished && s.writableLength === 0;
    if (!shutdownPending) return this.resetNow();
    const timer = this.owner.clock.setTimer(RESET_WAIT_MS, () => {
      s.off("finish", onFinish);
      s.destroy();
    });
    const onFinish = () => {
      timer.cancel();
      this.resetNow();
    };
    s.once("finish", onFinish);
    s.once("close", () => timer.cancel());
  }

  private resetNow(): void {
    const s = this.socket as Socket & { resetAndDestroy?: () => Socket };
    if (s.destroyed) return;
    // resetAndDestroy (Node >= 16.17) closes with SO_LINGER 0: the kernel sends RST.
    if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
    else s.destroy();
  }

  private onError(err: Error): void {
    if (this.aborted) return;
    const e = this.mapError(err);
    this.failure ??= e;
    this.endReads(this.failure);
    this.settleDrain(this.failure);
  }

  private mapError(err: Error): Error {
    const details = { address: this.remote.address, port: this.remote.port };
    const code = (err as { code?: unknown }).code;
    // Our own shutdown is caught before Node is asked, so a kernel EPIPE on write means the
    // peer reset the connection: report it as the contract names it.
    if (code === "EPIPE") return new MorganaError("ECONNRESET", undefined, { ...details, syscall: "write", cause: err });
    return fromNodeError(err, details);
  }

  private onClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.finTimer?.cancel();
    this.finTimer = undefined;
    this.endReads(this.failure);
    // Writes still held back were not handed to the kernel: they are lost, and say so.
    this.settleDrain(
      this.failure ?? new MorganaError("ECONNABORTED", "the connection closed before the data was sent", { syscall: "write" }),
    );
    this.settleClose();
    this.owner.finished(this);
  }

  private settleClose(): void {
    const w = this.closeWaiter;
    if (w === undefined) return;
    this.closeWaiter = undefined;
    w();
  }

  // ---- options and information --------------------------------------------------------

  setNoDelay(noDelay: boolean): void {
    this.socket.setNoDelay(noDelay);
  }

  /**
   * Enables or disables keepalive. `idleMs` becomes TCP_KEEPIDLE in whole
   * seconds, rounded up, at least 1 s; without it the kernel's idle time
   * applies (net.ipv4.tcp_keepalive_time, 7200 s by default). `intervalMs` and
   * `count` cannot be set through Node: with `idleMs`, libuv fixes them at 1 s
   * and 10 probes; without it they are the kernel's (75 s, 9).
   */
  setKeepAlive(enable: boolean, opts?: KeepAliveOptions): void {
    if (!enable) {
      this.socket.setKeepAlive(false);
      return;
    }
    const idle = opts?.idleMs;
    if (idle === undefined) {
      this.socket.setKeepAlive(true);
      return;
    }
    if (typeof idle !== "number" || !(idle >= 0) || !Number.isFinite(idle)) {
      throw einval("setKeepAlive", `idleMs must be a non-negative number, not ${String(idle)}`);
    }
    this.socket.setKeepAlive(true, Math.max(1, Math.ceil(idle / 1000)) * 1000);
  }

  info(): TcpInfo {
    const s = this.socket;
    // bytesWritten counts what Node still buffers; bytesSent is what the kernel took.
    const bytesSent = Math.max(0, s.bytesWritten - s.writableLength);
    return { state: this.state(), bytesSent, bytesReceived: s.bytesRead };
  }

  private state(): string {
    if (this.isClosed || this.socket.destroyed) return "CLOSED";
    const localEnded = this.writeShut;
    if (!localEnded && !this.peerEnded) return "ESTABLISHED";
    if (localEnded && !this.peerEnded) return "FIN-WAIT-1";
    if (!localEnded) return "CLOSE-WAIT";
    return this.firstEnd === "peer" ? "LAST-ACK" : "TIME-WAIT";
  }

  /** Bytes Node holds that the application has not read yet (bounded by about one high-water mark). */
  get bufferedReadBytes(): number {
    return this.socket.readableLength;
  }

  /** Bytes written by the application that Node has not handed to the kernel yet. */
  get bufferedWriteBytes(): number {
    return this.socket.writableLength;
  }

  /** True once the host socket is closed. */
  get closed(): boolean {
    return this.isClosed;
  }
}
