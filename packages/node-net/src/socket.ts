/**
 * `Socket`: a `net.Socket` look-alike over a Morgana `Stack`. A `stream.Duplex`
 * that connects with `stack.tcp.connect()` (or wraps a flow a Server accepted)
 * and maps its stream operations onto the `TcpFlow` exactly as
 * `@morgana/flow`'s `FlowDuplex` does, adding the connection life cycle of
 * `net.Socket`: `connecting`/`pending`/`readyState`, the `lookup`, `connect`,
 * `ready` and `close(hadError)` events, writes queued while connecting,
 * `allowHalfOpen: false` by default.
 */
import { Duplex } from "node:stream";
import { MorganaError, abortError, type Clock, type KeepAliveOptions, type SocketAddress, type Stack, type TcpConnectOptions, type TcpFlow, type Timer } from "@morgana/interfaces";
import { SystemClock } from "@morgana/sim";
import { builtinLookup, classifyHost, lookupIpv4, normalizeConnectArgs, validatePort, type ConnectOptions, type LookupFunction } from "./args.js";
import { isIP } from "node:net";

/** Options of `new Socket(options)` (the facade binds `stack`, `clock` and `lookup` for you). */
export interface SocketOptions {
  /** Default false: when the peer ends, the socket ends its side too (as `net.Socket`). */
  allowHalfOpen?: boolean | undefined;
  /** Destroys the socket with an `AbortError` (`ABORT_ERR`) when aborted, at any time. */
  signal?: AbortSignal | undefined;
  noDelay?: boolean | undefined;
  keepAlive?: boolean | undefined;
  keepAliveInitialDelay?: number | undefined;
  highWaterMark?: number | undefined;
  readableHighWaterMark?: number | undefined;
  writableHighWaterMark?: number | undefined;
  /** Not supported (there are no file descriptors): throws ENOTSUP. */
  fd?: number | undefined;
  /** Accepted and ignored: a facade socket is always readable and writable. */
  readable?: boolean | undefined;
  writable?: boolean | undefined;
}

/** What a socket needs from its module: the stack, the clock of idle timeouts, the default name resolver. */
export interface NetContext {
  readonly stack: Stack;
  /** Times `setTimeout` idle timeouts. Default: the system clock with unreferenced timers. */
  readonly clock?: Clock;
  /** Default `lookup` for host names; default: "localhost" is 127.0.0.1, other names fail with ENOTFOUND. */
  readonly lookup?: LookupFunction;
}

/** Internal: how a Server hands an accepted flow to a socket. */
export const kAttach: unique symbol = Symbol("morgana.net.attach");

export interface AttachOptions {
  readonly server: object;
  readonly pauseOnCreate: boolean;
  readonly onDestroy: () => void;
}

let defaultClock: Clock | undefined;

type WriteCb = (error?: Error | null) => void;

/**
 * A `net.Socket` over a Morgana Stack. Construct it through `createNet(stack)`:
 * `net.connect(...)`, `new net.Socket().connect(...)`, or as the argument of a
 * Server's `'connection'` event.
 */
export class NetSocket extends Duplex {
  /** The Server that accepted this socket, or null for a client socket (as `net.Socket.server`). */
  server: object | null = null;
  /** The idle timeout set by `setTimeout`, in ms; undefined until set. */
  timeout?: number;
  /** Bytes received. */
  bytesRead = 0;

  readonly #stack: Stack;
  readonly #clock: Clock;
  readonly #lookup: LookupFunction | undefined;
  #flow: TcpFlow | undefined;
  /** Like Node's `_handle`: set from `connect()` (or accept) until destroy. */
  #handle = false;
  #connecting = false;
  #released = false;
  #reading = false;
  #dispatched = 0;
  #inFlight = 0;
  #peerEnded = false;
  #timer: Timer | undefined;
  #lastActivity = 0;
  #noDelay: boolean | undefined;
  #keepAlive = false;
  #keepAliveDelay = 0;
  #connectAbort: AbortController | undefined;
  #local: SocketAddress | undefined;
  #remote: SocketAddress | undefined;
  #onDestroy: (() => void) | undefined;
  #attempted: string[] = [];

  constructor(options: SocketOptions & NetContext) {
    if (options === null || typeof options !== "object" || typeof options.stack !== "object" || options.stack === null) {
      throw new MorganaError("EINVAL", "NetSocket: options.stack (a Morgana Stack) is required; use createNet(stack).Socket");
    }
    if (options.fd !== undefined) throw new MorganaError("ENOTSUP", "Socket: file descriptors are not supported by the Morgana net facade");
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      emitClose: false,
      autoDestroy: true,
      ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
      ...(options.readableHighWaterMark !== undefined ? { readableHighWaterMark: options.readableHighWaterMark } : {}),
      ...(options.writableHighWaterMark !== undefined ? { writableHighWaterMark: options.writableHighWaterMark } : {}),
    });
    this.#stack = options.stack;
    this.#clock = options.clock ?? (defaultClock ??= new SystemClock({ unref: true }));
    this.#lookup = options.lookup;
    if (options.noDelay !== undefined) this.#noDelay = Boolean(options.noDelay);
    if (options.keepAlive !== undefined) {
      this.#keepAlive = Boolean(options.keepAlive);
      this.#keepAliveDelay = keepAliveSeconds(options.keepAliveInitialDelay);
    }
    // As net.Socket: with allowHalfOpen false, a write once the peer's end has ended our side is EPIPE.
    this.on("end", () => {
      this.#peerEnded = true;
    });
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) process.nextTick(() => this.destroy(abortError(signal)));
      else {
        const onAbort = () => this.destroy(abortError(signal));
        signal.addEventListener("abort", onAbort, { once: true });
        this.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
  }

  // ==== connection life cycle ===========================================================

  /**
   * `connect(options[, connectListener])`, `connect(port[, host][, connectListener])`.
   * Invalid arguments throw (EINVAL; ENOTSUP for a Unix path); connection
   * failures are emitted as `'error'` then `'close'`.
   */
  connect(options: ConnectOptions, connectListener?: () => void): this;
  connect(port: number | string, host: string, connectListener?: () => void): this;
  connect(port: number | string, connectListener?: () => void): this;
  /** Unix domain sockets: throws ENOTSUP. */
  connect(path: string, connectListener?: () => void): this;
  connect(...args: unknown[]): this {
    const [options, cb] = normalizeConnectArgs(args);
    if (options.path !== undefined) throw new MorganaError("ENOTSUP", "connect: Unix domain sockets are not supported by the Morgana net facade", { syscall: "connect", address: options.path });
    if (this.destroyed) throw new MorganaError("ERR_SOCKET_CLOSED", "connect: a destroyed facade socket cannot connect again; create a new one");
    if (this.#handle) throw new MorganaError(this.#connecting ? "EALREADY" : "EISCONN", "connect: the socket is already connecting or connected", { syscall: "connect" });
    if (options.port === undefined) throw new MorganaError("ERR_MISSING_ARGS", 'The "options" or "port" or "path" argument must be specified');
    const port = validatePort(options.port, "Port", false);
    const localAddress = options.localAddress;
    if (localAddress !== undefined && localAddress !== "" && isIP(localAddress) !== 4) {
      if (isIP(localAddress) === 6) throw new MorganaError("EAFNOSUPPORT", `connect: IPv6 localAddress ${localAddress} (the Morgana net facade is IPv4 only)`, { syscall: "connect" });
      throw new MorganaError("ERR_INVALID_IP_ADDRESS", `Invalid IP address: ${String(localAddress)}`, { syscall: "connect" });
    }
    const localPort = options.localPort === undefined || options.localPort === 0 ? undefined : validatePort(options.localPort, "options.localPort", false);
    if (options.noDelay !== undefined) this.#noDelay = Boolean(options.noDelay);
    if (options.keepAlive !== undefined) {
      this.#keepAlive = Boolean(options.keepAlive);
      this.#keepAliveDelay = keepAliveSeconds(options.keepAliveInitialDelay);
    }
    if (cb !== null) this.once("connect", cb);
    this.#handle = true;
    this.#connecting = true;
    void this.#start(options, port, localAddress || undefined, localPort);
    return this;
  }

  async #start(options: ConnectOptions, port: number, localAddress: string | undefined, localPort: number | undefined): Promise<void> {
    const host = options.host || "localhost"; // as Node: an empty host is localhost
    const kind = classifyHost(host, false);
    let address: string;
    if (kind.kind === "ipv6" || options.family === 6) {
      const e = new MorganaError("EAFNOSUPPORT", `connect EAFNOSUPPORT ${host}:${port} (the Morgana stacks are IPv4-only)`, { syscall: "connect", address: host, port });
      process.nextTick(() => this.#fail(e));
      return;
    } else if (kind.kind === "ipv4") {
      address = kind.address;
    } else {
      const name = kind.kind === "name" ? kind.name : host;
      let resolved: string | undefined;
      let error: Error | undefined;
      try {
        resolved = await lookupIpv4(options.lookup ?? this.#lookup ?? builtinLookup, name);
      } catch (e) {
        error = e instanceof Error ? e : new MorganaError("ENOTFOUND", String(e), { syscall: "getaddrinfo", hostname: name });
      }
      if (!this.#connecting || this.destroyed) return;
      if (error !== undefined) {
        this.emit("lookup", error, undefined, undefined, host);
        this.#fail(error);
        return;
      }
      address = resolved!;
      this.#attempted = [`${address}:${port}`];
      this.emit("lookup", null, address, 4, host);
      if (!this.#connecting || this.destroyed) return;
    }
    const ac = new AbortController();
    this.#connectAbort = ac;
    const opts: { -readonly [K in keyof TcpConnectOptions]: TcpConnectOptions[K] } = { address, port, signal: ac.signal };
    if (localAddress !== undefined) opts.localAddress = localAddress;
    if (localPort !== undefined) opts.localPort = localPort;
    if (this.#noDelay !== undefined) opts.noDelay = this.#noDelay;
    if (this.#keepAlive) opts.keepAlive = this.#keepAliveOptions();
    let flow: TcpFlow;
    try {
      flow = await this.#stack.tcp.connect(opts);
    } catch (e) {
      if (this.#connectAbort === ac) this.#connectAbort = undefined;
      this.#fail(e);
      return;
    }
    if (this.#connectAbort === ac) this.#connectAbort = undefined;
    if (this.destroyed || !this.#connecting) {
      // Destroyed while the handshake completed: release the connection.
      flow.close().catch(() => undefined);
      return;
    }
    this.#setFlow(flow);
    this.#connecting = false;
    this.emit("connect");
    this.emit("ready");
    if (!this.isPaused()) this.read(0);
  }

  #fail(e: unknown): void {
    if (this.destroyed) return;
    this.destroy(e instanceof Error ? e : new MorganaError("EIO", String(e), { cause: e }));
  }

  #setFlow(flow: TcpFlow): void {
    this.#flow = flow;
    this.#local = flow.local;
    this.#remote = flow.remote;
  }

  #keepAliveOptions(): boolean | KeepAliveOptions {
    return this.#keepAliveDelay > 0 ? { idleMs: this.#keepAliveDelay * 1000 } : true;
  }

  /** Internal: a Server hands over an accepted flow. */
  [kAttach](flow: TcpFlow, opts: AttachOptions): void {
    this.#setFlow(flow);
    this.#handle = true;
    this.server = opts.server;
    this.#onDestroy = opts.onDestroy;
    // noDelay/keepAlive were applied by the listener (TcpListenOptions); the state here only mirrors them.
    // As net.Server's pauseOnConnect: nothing is read until resume().
    if (opts.pauseOnCreate) this.pause();
    else this.read(0);
  }

  // ==== net.Socket members ===============================================================

  /** True from `connect()` until `'connect'` or failure. */
  get connecting(): boolean {
    return this.#connecting;
  }

  /** As `net.Socket.pending`: true while not connected (before connect, while connecting, after destroy). */
  get pending(): boolean {
    return !this.#handle || this.#connecting;
  }

  /** `"opening"` while connecting, then `"open"`, `"readOnly"`, `"writeOnly"` or `"closed"`. */
  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.#connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable && !this.writable) return "readOnly";
    if (!this.readable && this.writable) return "writeOnly";
    return "closed";
  }

  /** Bytes handed to the connection plus bytes still queued in the writable, as `net.Socket.bytesWritten`. */
  get bytesWritten(): number {
    return this.#dispatched + Math.max(0, this.writableLength - this.#inFlight);
  }

  /** `["address:port"]` after a name was resolved (Node fills it when it resolved a name), else empty. */
  get autoSelectFamilyAttemptedAddresses(): string[] {
    return [...this.#attempted];
  }

  /** Deprecated in Node; `writableLength` while there is a connection, undefined otherwise (typed `number` as in @types/node). */
  get bufferSize(): number {
    return this.#handle ? this.writableLength : (undefined as unknown as number);
  }

  get remoteAddress(): string | undefined {
    return this.#remote?.address;
  }

  get remotePort(): number | undefined {
    return this.#remote?.port;
  }

  get remoteFamily(): string | undefined {
    return this.#remote?.family;
  }

  // localAddress, localPort, localFamily: accessors defined here, typed as optional properties in the
  // interface below (as @types/node declares them), so that a NetSocket is assignable to net.Socket.
  static {
    const local = (s: NetSocket) => s.#liveLocal();
    Object.defineProperties(NetSocket.prototype, {
      localAddress: { configurable: true, enumerable: false, get: function (this: NetSocket) { return local(this)?.address; } },
      localPort: { configurable: true, enumerable: false, get: function (this: NetSocket) { return local(this)?.port; } },
      localFamily: { configurable: true, enumerable: false, get: function (this: NetSocket) { return local(this)?.family; } },
    });
  }

  #liveLocal(): SocketAddress | undefined {
    return this.#handle && !this.#connecting ? this.#local : undefined;
  }

  /** `{ address, family, port }` of the local end while connected, `{}` otherwise. */
  address(): { address: string; family: string; port: number } | Record<string, never> {
    const l = this.#liveLocal();
    return l !== undefined ? { address: l.address, family: l.family, port: l.port } : {};
  }

  /** Forwarded to `TcpFlow.setNoDelay` (remembered until connected). `true` when omitted. */
  setNoDelay(noDelay?: boolean): this {
    const enable = noDelay === undefined ? true : Boolean(noDelay);
    if (this.#flow === undefined || this.#released) {
      this.#noDelay = enable;
      return this;
    }
    if (enable !== this.#noDelay) {
      this.#noDelay = enable;
      this.#flow.setNoDelay(enable);
    }
    return this;
  }

  /**
   * Forwarded to `TcpFlow.setKeepAlive`; `initialDelay` (ms, rounded down to
   * whole seconds as Node does) becomes `idleMs`, 0 keeps the stack's default.
   */
  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    const on = Boolean(enable);
    const delay = keepAliveSeconds(initialDelay);
    if (this.#flow === undefined || this.#released) {
      this.#keepAlive = on;
      this.#keepAliveDelay = delay;
      return this;
    }
    if (on !== this.#keepAlive || (on && delay !== this.#keepAliveDelay)) {
      this.#keepAlive = on;
      this.#keepAliveDelay = delay;
      this.#flow.setKeepAlive(on, on && delay > 0 ? { idleMs: delay * 1000 } : undefined);
    }
    return this;
  }

  /**
   * Emits `'timeout'` after `ms` without a read or a write (also while
   * connecting); it does not end the socket. 0 disables. Timed by the
   * module's clock.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (this.destroyed) return this;
    if (typeof ms !== "number") throw new MorganaError("ERR_INVALID_ARG_TYPE", `The "msecs" argument must be of type number. Received ${typeof ms}`);
    if (Number.isNaN(ms) || ms < 0 || !Number.isFinite(ms)) throw new MorganaError("ERR_OUT_OF_RANGE", `The value of "msecs" is out of range. It must be a non-negative finite number. Received ${String(ms)}`);
    if (callback !== undefined && typeof callback !== "function") throw new MorganaError("ERR_INVALID_ARG_TYPE", `The "callback" argument must be of type function. Received ${typeof callback}`);
    this.timeout = ms;
    this.#clearTimer();
    if (ms === 0) {
      if (callback !== undefined) this.removeListener("timeout", callback);
      return this;
    }
    this.#lastActivity = this.#clock.now();
    this.#arm(ms);
    if (callback !== undefined) this.once("timeout", callback);
    return this;
  }

  /** No effect (there is no handle keeping the event loop alive); returns this. */
  ref(): this {
    return this;
  }

  /** No effect (there is no handle keeping the event loop alive); returns this. */
  unref(): this {
    return this;
  }

  /** `end()`, then `destroy()` once the writable finished. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  /** Closes with a TCP RST (`flow.abort()`) instead of a FIN, then destroys without an error. */
  resetAndDestroy(): this {
    if (this.#flow !== undefined && !this.#released) {
      this.#released = true;
      this.#flow.abort();
      this.destroy();
    } else if (this.#connecting) {
      this.once("connect", () => this.resetAndDestroy());
    } else {
      this.destroy(new MorganaError("ERR_SOCKET_CLOSED", "Socket is closed"));
    }
    return this;
  }

  /** As `net.Socket`: once the peer ended and `allowHalfOpen` is false, a write is EPIPE. */
  override write(chunk: unknown, encoding?: BufferEncoding | WriteCb, cb?: WriteCb): boolean {
    if (this.#peerEnded && !this.allowHalfOpen && this.writableEnded) {
      const callback = typeof encoding === "function" ? encoding : cb;
      const er = new MorganaError("EPIPE", "This socket has been ended by the other party");
      if (typeof callback === "function") process.nextTick(callback, er);
      this.destroy(er);
      return false;
    }
    return super.write(chunk, encoding as BufferEncoding, cb);
  }

  // ==== Duplex implementation ============================================================

  override _read(): void {
    if (this.#connecting || this.#flow === undefined) {
      if (this.#connecting) this.once("connect", () => this._read());
      return;
    }
    if (this.#reading || this.#released) return;
    this.#reading = true;
    const flow = this.#flow;
    flow.read().then(
      (chunk) => {
        this.#reading = false;
        if (this.destroyed) return;
        if (chunk === null) {
          this.push(null);
          return;
        }
        this.bytesRead += chunk.length;
        this.#touch();
        this.push(chunk);
      },
      (err: unknown) => {
        this.#reading = false;
        this.#fail(err);
      },
    );
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: WriteCb): void {
    this.#writeGeneric(chunk, callback, () => this._write(chunk, encoding, callback));
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, callback: WriteCb): void {
    this.#writeGeneric(
      chunks.map((c) => c.chunk),
      callback,
      () => this._writev(chunks, callback),
    );
  }

  #writeGeneric(data: Buffer | Buffer[], callback: WriteCb, retry: () => void): void {
    if (this.#connecting) {
      // As net.Socket: the write waits for 'connect'; a close before that fails it.
      const onClose = () => callback(new MorganaError("ERR_SOCKET_CLOSED_BEFORE_CONNECTION", "Socket closed before the connection was established"));
      this.once("close", onClose);
      this.once("connect", () => {
        this.off("close", onClose);
        retry();
      });
      return;
    }
    const flow = this.#flow;
    if (flow === undefined || this.#released) {
      callback(new MorganaError("ERR_SOCKET_CLOSED", "Socket is closed"));
      return;
    }
    const n = Array.isArray(data) ? data.reduce((s, b) => s + b.length, 0) : data.length;
    this.#dispatched += n;
    this.#inFlight += n;
    this.#touch();
    (Array.isArray(data) ? flow.writev(data) : flow.write(data)).then(
      () => {
        this.#inFlight -= n;
        this.#touch();
        callback();
      },
      (err: Error) => {
        this.#inFlight -= n;
        callback(err);
      },
    );
  }

  override _final(callback: WriteCb): void {
    if (this.#connecting) {
      this.once("connect", () => this._final(callback));
      return;
    }
    const flow = this.#flow;
    if (flow === undefined || this.#released) {
      callback();
      return;
    }
    flow.shutdown().then(
      () => callback(),
      (err: Error) => callback(err),
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    const hadHandle = this.#handle;
    this.#handle = false;
    this.#connecting = false;
    this.#clearTimer();
    if (this.#connectAbort !== undefined) {
      this.#connectAbort.abort();
      this.#connectAbort = undefined;
    }
    if (this.#flow !== undefined && !this.#released) {
      this.#released = true;
      // Graceful, not awaited: data already accepted is still sent; unread input makes it a reset.
      this.#flow.close().catch(() => undefined);
    }
    callback(err);
    // As net.Socket: 'close' (with hadError) comes after 'error', once the "handle" is closed.
    if (hadHandle) setImmediate(() => this.emit("close", err !== null && err !== undefined));
    else process.nextTick(() => this.emit("close"));
    const onDestroy = this.#onDestroy;
    this.#onDestroy = undefined;
    onDestroy?.();
  }

  // ==== idle timer =======================================================================

  #touch(): void {
    const t = this.timeout;
    if (t === undefined || t === 0 || this.destroyed) return;
    this.#lastActivity = this.#clock.now();
    if (this.#timer === undefined) this.#arm(t);
  }

  #arm(delay: number): void {
    this.#timer = this.#clock.setTimer(delay, () => {
      this.#timer = undefined;
      const t = this.timeout;
      if (t === undefined || t === 0 || this.destroyed) return;
      const idle = this.#clock.now() - this.#lastActivity;
      if (idle >= t) this.emit("timeout");
      else this.#arm(t - idle);
    });
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      this.#timer.cancel();
      this.#timer = undefined;
    }
  }
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface NetSocket {
  /** The local address while connected; undefined before the connection and after destroy, as in Node. */
  readonly localAddress?: string;
  /** The local port while connected; undefined before the connection and after destroy. */
  readonly localPort?: number;
  /** "IPv4" while connected; undefined before the connection and after destroy. */
  readonly localFamily?: string;
}

function keepAliveSeconds(ms: number | undefined): number {
  const s = Math.trunc(Number(ms ?? 0) / 1000);
  return Number.isFinite(s) && s > 0 ? s : 0;
}
