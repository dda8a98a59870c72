/**
 * `Server`: a `net.Server` look-alike over a Morgana `Stack`. `listen()` calls
 * `stack.tcp.listen()`, an accept loop wraps every accepted `TcpFlow` in a
 * facade Socket and emits `'connection'`; `close()` stops accepting and emits
 * `'close'` once every accepted connection has closed.
 */
import { EventEmitter } from "node:events";
import { MorganaError, type KeepAliveOptions, type TcpListener, type TcpListenOptions, type TcpFlow } from "@morgana/interfaces";
import { builtinLookup, classifyHost, lookupIpv4, normalizeListenArgs, type ListenOptions } from "./args.js";
import { kAttach, type NetContext, type NetSocket, type SocketOptions } from "./socket.js";

/** Options of `createServer(options)`, as `net.createServer`. */
export interface ServerOptions {
  /** Default false: an accepted socket ends its side when the peer ends. */
  allowHalfOpen?: boolean | undefined;
  /** Default false: accepted sockets start paused (nothing is read until `resume()`). */
  pauseOnConnect?: boolean | undefined;
  /** Disable Nagle on accepted connections (applied from the handshake, through `TcpListenOptions.noDelay`). */
  noDelay?: boolean | undefined;
  /** Enable keepalive on accepted connections. */
  keepAlive?: boolean | undefined;
  /** Idle time before the first probe, ms (rounded down to seconds as Node does; 0: the stack's default). */
  keepAliveInitialDelay?: number | undefined;
  /** Stream high-water mark of accepted sockets. */
  highWaterMark?: number | undefined;
}

/** How a server builds its sockets: the module's bound Socket class. */
export interface ServerContext extends NetContext {
  readonly createSocket: (options: SocketOptions) => NetSocket;
}

export class NetServer extends EventEmitter {
  /**
   * Connections beyond this are closed on arrival and reported with `'drop'`.
   * Undefined until set (no limit), as in Node; typed `number` as in @types/node.
   */
  maxConnections: number = undefined as unknown as number;

  readonly #ctx: ServerContext;
  readonly #options: ServerOptions;
  #listener: TcpListener | undefined;
  /** listen() was called and its stack.tcp.listen() has not settled (Node's handle exists then). */
  #listenPending = false;
  #closeRequested = false;
  readonly #connections = new Set<NetSocket>();

  constructor(ctx: ServerContext, options?: ServerOptions | ((socket: NetSocket) => void), connectionListener?: (socket: NetSocket) => void) {
    super();
    let opts: ServerOptions = {};
    let listener = connectionListener;
    if (typeof options === "function") listener = options;
    else if (options !== undefined && options !== null) {
      if (typeof options !== "object") throw new MorganaError("EINVAL", "createServer: options must be an object");
      opts = options;
    }
    this.#ctx = ctx;
    this.#options = { ...opts };
    if (listener !== undefined) this.on("connection", listener);
  }

  /** True while listening (after `'listening'`, until `close()`). */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /** `{ address, family, port }` while listening, else null. Null until `'listening'` too: listen is asynchronous here. */
  address(): { address: string; family: string; port: number } | null {
    const l = this.#listener;
    return l !== undefined ? { address: l.local.address, family: l.local.family, port: l.local.port } : null;
  }

  /**
   * `listen([port[, host[, backlog]]][, cb])`, `listen(options[, cb])`. Port 0
   * or none: an ephemeral port. No host, `0.0.0.0` or `::`: every address of
   * the stack. Errors (EADDRINUSE, EADDRNOTAVAIL, ENOTFOUND, EAFNOSUPPORT) are
   * emitted as `'error'`; bad arguments throw EINVAL, Unix paths ENOTSUP.
   */
  listen(port?: number | string | null, hostname?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string | null, hostname?: string, listeningListener?: () => void): this;
  listen(port?: number | string | null, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string | null, listeningListener?: () => void): this;
  /** Unix domain sockets and named pipes: throws ENOTSUP. */
  listen(path: string, backlog?: number, listeningListener?: () => void): this;
  listen(path: string, listeningListener?: () => void): this;
  listen(options: ListenOptions, listeningListener?: () => void): this;
  /** Handles and file descriptors: throws ENOTSUP. */
  listen(handle: object, backlog?: number, listeningListener?: () => void): this;
  listen(handle: object, listeningListener?: () => void): this;
  listen(...args: unknown[]): this {
    const a = normalizeListenArgs(args);
    if (this.#listener !== undefined || this.#listenPending) {
      throw new MorganaError("ERR_SERVER_ALREADY_LISTEN", "Listen method has been called more than once without closing.");
    }
    if (a.cb !== null) this.once("listening", a.cb);
    this.#listenPending = true;
    this.#closeRequested = false;
    const signal = a.signal;
    if (signal !== undefined) {
      if (signal.aborted) process.nextTick(() => this.close());
      else {
        const onAbort = () => this.close();
        signal.addEventListener("abort", onAbort, { once: true });
        this.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
    void this.#listen(a.port, a.host, a.backlog);
    return this;
  }

  async #listen(port: number, host: string | undefined, backlog: number | undefined): Promise<void> {
    let listener: TcpListener;
    try {
      let address: string | undefined;
      if (host !== undefined) {
        const kind = classifyHost(host, true);
        if (kind.kind === "ipv6") throw new MorganaError("EAFNOSUPPORT", `listen EAFNOSUPPORT ${host}:${port} (the Morgana stacks are IPv4-only)`, { syscall: "listen", address: host, port });
        if (kind.kind === "ipv4") address = kind.address;
        else if (kind.kind === "name") address = await lookupIpv4(this.#ctx.lookup ?? builtinLookup, kind.name);
      }
      if (this.#closeRequested) {
        // close() was called while the name was being resolved.
        this.#listenPending = false;
        this.#emitCloseIfDrained();
        return;
      }
      const o = this.#options;
      const opts: { -readonly [K in keyof TcpListenOptions]: TcpListenOptions[K] } = { port };
      if (address !== undefined) opts.address = address;
      if (backlog !== undefined) opts.backlog = backlog;
      if (o.noDelay !== undefined) opts.noDelay = Boolean(o.noDelay);
      if (o.keepAlive) opts.keepAlive = keepAliveOption(o.keepAliveInitialDelay);
      listener = await this.#ctx.stack.tcp.listen(opts);
    } catch (e) {
      this.#listenPending = false;
      // As net.Server: the 'listening' callback is not called; the error is emitted.
      this.emit("error", e instanceof Error ? e : new MorganaError("EIO", String(e), { cause: e }));
      return;
    }
    this.#listenPending = false;
    if (this.#closeRequested) {
      // close() was called before the stack answered: as Node, no 'listening', then 'close'.
      void listener.close();
      this.#emitCloseIfDrained();
      return;
    }
    this.#listener = listener;
    this.emit("listening");
    void this.#acceptLoop(listener);
  }

  async #acceptLoop(listener: TcpListener): Promise<void> {
    for (;;) {
      let flow: TcpFlow | null;
      try {
        flow = await listener.accept();
      } catch (e) {
        if (this.#listener === listener) this.emit("error", e);
        return;
      }
      if (flow === null) return;
      if (this.#listener !== listener) {
        flow.abort();
        continue;
      }
      this.#onConnection(flow);
    }
  }

  #onConnection(flow: TcpFlow): void {
    const max = this.maxConnections;
    if (max !== undefined && max !== null && !Number.isNaN(max) && this.#connections.size >= max) {
      this.emit("drop", {
        localAddress: flow.local.address,
        localPort: flow.local.port,
        localFamily: flow.local.family,
        remoteAddress: flow.remote.address,
        remotePort: flow.remote.port,
        remoteFamily: flow.remote.family,
      });
      flow.close().catch(() => undefined);
      return;
    }
    const o = this.#options;
    const sopts: SocketOptions = { allowHalfOpen: Boolean(o.allowHalfOpen) };
    if (o.highWaterMark !== undefined) sopts.highWaterMark = o.highWaterMark;
    if (o.noDelay !== undefined) sopts.noDelay = Boolean(o.noDelay);
    if (o.keepAlive) {
      sopts.keepAlive = true;
      if (o.keepAliveInitialDelay !== undefined) sopts.keepAliveInitialDelay = o.keepAliveInitialDelay;
    }
    const socket = this.#ctx.createSocket(sopts);
    this.#connections.add(socket);
    socket[kAttach](flow, {
      server: this,
      pauseOnCreate: Boolean(o.pauseOnConnect),
      onDestroy: () => {
        this.#connections.delete(socket);
        this.#emitCloseIfDrained();
      },
    });
    this.emit("connection", socket);
  }

  /**
   * Stops accepting (the stack refuses new connections, connections not yet
   * accepted are reset) and emits `'close'` once every accepted connection
   * has closed. `cb` gets an error (ERR_SERVER_NOT_RUNNING, as Node's) if
   * the server was not listening.
   */
  close(cb?: (err?: Error) => void): this {
    if (typeof cb === "function") {
      if (this.#listener === undefined && !this.#listenPending) {
        this.once("close", () => cb(new MorganaError("ERR_SERVER_NOT_RUNNING", "Server is not running.")));
      } else this.once("close", () => cb());
    }
    const l = this.#listener;
    if (l !== undefined) {
      this.#listener = undefined;
      // The stack stops accepting at once (its close resolves later); as Node, 'close' waits only for the connections.
      l.close().catch(() => undefined);
      this.#emitCloseIfDrained();
      return this;
    }
    if (this.#listenPending) {
      this.#closeRequested = true;
      return this;
    }
    this.#emitCloseIfDrained();
    return this;
  }

  #closing(): boolean {
    return this.#listener === undefined && !this.#listenPending;
  }

  #emitCloseIfDrained(): void {
    if (!this.#closing() || this.#connections.size > 0) return;
    process.nextTick(() => this.emit("close"));
  }

  /** Deprecated in Node (use getConnections): the number of open accepted connections. */
  get connections(): number {
    return this.#connections.size;
  }

  /** `close()` as a promise, for `await using` (resolves at once when not listening, as Node). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#listener === undefined && !this.#listenPending) return;
    await new Promise<void>((resolve, reject) => this.close((e) => (e ? reject(e) : resolve())));
  }

  /** Calls back (asynchronously) with the number of open accepted connections. */
  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.#connections.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  /** No effect (no handle keeps the event loop alive); returns this. */
  ref(): this {
    return this;
  }

  /** No effect (no handle keeps the event loop alive); returns this. */
  unref(): this {
    return this;
  }
}

function keepAliveOption(initialDelay: number | undefined): boolean | KeepAliveOptions {
  const s = Math.trunc(Number(initialDelay ?? 0) / 1000);
  return Number.isFinite(s) && s > 0 ? { idleMs: s * 1000 } : true;
}
