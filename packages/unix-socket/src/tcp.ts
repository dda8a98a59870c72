/**
 * {@link Tcp} on `node:net`: listeners over `net.Server`, connections over
 * `net.Socket`, both half-open capable.
 */
import { Server, Socket } from "node:net";
import {
  DropCounters,
  MorganaError,
  isIpv4,
  type Clock,
  type KeepAliveOptions,
  type LayerStats,
  type SocketAddress,
  type Tcp,
  type TcpConnectOptions,
  type TcpFlow,
  type TcpListenOptions,
  type TcpListener,
  type Timer,
} from "@morgana/interfaces";
import { WILDCARD, type AddressPlan } from "./addresses.js";
import { einval, fromNodeError } from "./errors.js";
import { SocketTcpFlow, type FlowOwner } from "./flow.js";

/** Default `backlog`: Node's own default for `server.listen()`. */
export const DEFAULT_BACKLOG = 511;
/** Default wait of `close()` for the peer's FIN: Linux's net.ipv4.tcp_fin_timeout. */
export const DEFAULT_FIN_TIMEOUT_MS = 60_000;

export interface SocketTcpOptions {
  /** Default backlog of listeners (connections waiting for `accept()`). Default 511. */
  readonly backlog?: number;
  /**
   * Node's stream high-water mark for every socket, in bytes: how much a flow
   * buffers in JavaScript on each side (read-ahead, and written data not yet
   * taken by the kernel) before backpressure applies. Default Node's (16 KiB).
   */
  readonly highWaterMark?: number;
  /** How long `close()` waits for the peer to finish. Default 60 000 ms. */
  readonly finTimeoutMs?: number;
  /** Default `timeoutMs` of `connect()`; default none (the kernel gives up after its SYN retries). */
  readonly connectTimeoutMs?: number;
}

function checkPort(syscall: string, port: unknown, min: number, name = "port"): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < min || port > 65535) {
    throw einval(syscall, `${name} must be an integer in ${min}..65535, not ${String(port)}`);
  }
  return port;
}

function checkPositive(where: string, name: string, v: unknown, allowZero = false): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new MorganaError("EINVAL", `${where}: ${name} must be a ${allowZero ? "non-negative" : "positive"} number, not ${String(v)}`);
  }
  return v;
}

function abortError(signal: AbortSignal): MorganaError {
  return new MorganaError("ABORT_ERR", "The operation was aborted", { syscall: "connect", cause: signal.reason });
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
}

/** A listener over one `net.Server` per host address it listens on (one, except on a restricted stack). */
class SocketTcpListener implements TcpListener {
  readonly local: SocketAddress;
  private readonly queue: SocketTcpFlow[] = [];
  private readonly waiters: Waiter<TcpFlow | null>[] = [];
  private isClosed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly tcp: SocketTcp,
    private readonly servers: Server[],
    local: SocketAddress,
    private readonly backlog: number,
    private readonly accepted: Pick<TcpListenOptions, "noDelay" | "keepAlive"> = {},
  ) {
    this.local = local;
    for (const s of servers) {
      // Errors after listening (EMFILE on accept, ...) are counted, never thrown.
      s.on("error", () => this.tcp.drops.drop("accept-error"));
    }
  }

  /** @internal A connection established on one of the servers. */
  onConnection(socket: Socket): void {
    if (this.isClosed || socket.destroyed || socket.remoteAddress === undefined) {
      this.tcp.drops.drop(this.isClosed ? "listener-closed" : "closed-before-accept");
      resetQuietly(socket);
      return;
    }
    const w = this.waiters.shift();
    if (w === undefined && this.queue.length >= this.backlog) {
      // Node accepts from the kernel at once; the backlog is enforced here.
      this.tcp.drops.drop("backlog-full");
      resetQuietly(socket);
      return;
    }
    const flow = this.tcp.adopt(socket);
    const { noDelay, keepAlive } = this.accepted;
    if (noDelay !== undefined) flow.setNoDelay(noDelay);
    if (keepAlive !== undefined && keepAlive !== false) flow.setKeepAlive(true, keepAlive === true ? undefined : keepAlive);
    this.tcp.counters.connectionsAccepted++;
    if (w !== undefined) w.resolve(flow);
    else this.queue.push(flow);
  }

  accept(): Promise<TcpFlow | null> {
    const f = this.queue.shift();
    if (f !== undefined) return Promise.resolve(f);
    if (this.isClosed) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TcpFlow> {
    for (;;) {
      const f = await this.accept();
      if (f === null) return;
      yield f;
    }
  }

  /** Connections established and waiting for `accept()`. */
  get pending(): number {
    return this.queue.length;
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.isClosed = true;
    for (let w = this.waiters.shift(); w !== undefined; w = this.waiters.shift()) w.resolve(null);
    // Connections the OS accepted but the application never took are reset.
    for (let f = this.queue.shift(); f !== undefined; f = this.queue.shift()) {
      this.tcp.drops.drop("listener-closed");
      f.abort();
    }
    this.closing = Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            // server.close() stops listening at once; its 'close' waits for the
            // connections it accepted, which are the application's business.
            if (!s.listening) return resolve();
            s.close();
            resolve();
          }),
      ),
    ).then(() => {
      this.tcp.listenerClosed(this);
    });
    return this.closing;
  }
}

function resetQuietly(socket: Socket): void {
  socket.on("error", () => {});
  const s = socket as Socket & { resetAndDestroy?: () => Socket };
  if (socket.destroyed) return;
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
  else s.destroy();
}

/** TCP on the host's sockets. */
export class SocketTcp implements Tcp {
  /** @internal */
  readonly drops = new DropCounters();
  /** @internal */
  readonly counters = {
    connectionsOpened: 0,
    connectionsAccepted: 0,
    connectFailures: 0,
    txBytes: 0,
    rxBytes: 0,
    resetsSent: 0,
  };
  private readonly flows = new Set<SocketTcpFlow>();
  private readonly listeners = new Set<SocketTcpListener>();
  private readonly servers = new Set<Server>();
  private readonly connecting = new Set<{ cancel(err: Error): void }>();
  private readonly sockets = new Set<Socket>();
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private readonly backlog: number;
  private readonly highWaterMark: number | undefined;
  private readonly connectTimeoutMs: number | undefined;
  private readonly owner: FlowOwner;

  constructor(
    private readonly plan: AddressPlan,
    clock: Clock,
    opts: SocketTcpOptions = {},
  ) {
    this.backlog = opts.backlog ?? DEFAULT_BACKLOG;
    if (!Number.isInteger(this.backlog) || this.backlog < 1) {
      throw new MorganaError("EINVAL", `createSocketStack: tcp.backlog must be a positive integer, not ${String(opts.backlog)}`);
    }
    this.highWaterMark = opts.highWaterMark === undefined ? undefined : checkPositive("createSocketStack", "tcp.highWaterMark", opts.highWaterMark);
    this.connectTimeoutMs =
      opts.connectTimeoutMs === undefined ? undefined : checkPositive("createSocketStack", "tcp.connectTimeoutMs", opts.connectTimeoutMs);
    const finTimeoutMs = checkPositive("createSocketStack", "tcp.finTimeoutMs", opts.finTimeoutMs ?? DEFAULT_FIN_TIMEOUT_MS, true);
    const c = this.counters;
    this.owner = {
      clock,
      finTimeoutMs,
      bytesSent: (n) => void (c.txBytes += n),
      bytesReceived: (n) => void (c.rxBytes += n),
      resetSent: (reason) => {
        c.resetsSent++;
        if (reason === "data-after-close") this.drops.drop("data-after-close");
        if (reason === "close-unread") this.drops.drop("unread-at-close");
      },
      finished: (flow) => void this.flows.delete(flow),
    };
  }

  // ---- listen -------------------------------------------------------------------------

  async listen(opts: TcpListenOptions): Promise<TcpListener> {
    if (this.isClosed) throw new MorganaError("ERR_SOCKET_CLOSED", "listen: the stack is closed", { syscall: "listen" });
    if (typeof opts !== "object" || opts === null) throw einval("listen", "options must be an object");
    const port = checkPort("listen", opts.port, 0);
    const backlog = opts.backlog ?? this.backlog;
    if (typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 1) {
      throw einval("listen", `backlog must be a positive integer, not ${String(backlog)}`);
    }
    const targets = this.plan.bindTargets(opts.address, "listen", port);
    const servers: Server[] = [];
    // Connections can arrive on the first server before the last one listens (or fails).
    let listener: SocketTcpListener | undefined;
    const onConnection = (socket: Socket) => {
      if (listener !== undefined) listener.onConnection(socket);
      else {
        this.drops.drop("closed-before-accept");
        resetQuietly(socket);
      }
    };
    let chosen = port;
    try {
      for (const host of targets) {
        const server = new Server({
          allowHalfOpen: true,
          ...(this.highWaterMark !== undefined ? { highWaterMark: this.highWaterMark } : {}),
        });
        this.servers.add(server);
        server.on("connection", onConnection);
        server.once("close", () => this.servers.delete(server));
        servers.push(server);
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => reject(fromNodeError(err, { syscall: "listen", address: host, port: chosen }));
          server.once("error", onError);
          // The kernel's queue only matters while the event loop is busy (Node accepts at once);
          // a small one would drop SYNs of a burst. The backlog proper is enforced on the JS queue.
          server.listen({ port: chosen, host, backlog: Math.max(backlog, DEFAULT_BACKLOG), exclusive: true }, () => {
            server.off("error", onError);
            resolve();
          });
        });
        if (chosen === 0) chosen = (server.address() as { port: number }).port;
        if (this.isClosed) throw new MorganaError("ERR_SOCKET_CLOSED", "listen: the stack is closed", { syscall: "listen" });
      }
    } catch (e) {
      for (const s of servers) {
        if (s.listening) s.close();
        else this.servers.delete(s);
      }
      throw e;
    }
    // The wildcard reads 0.0.0.0 however many host sockets implement it (as on the direct stack).
    const address = opts.address === undefined || opts.address === WILDCARD ? WILDCARD : targets[0]!;
    listener = new SocketTcpListener(this, servers, { address, port: chosen, family: "IPv4" }, backlog, opts);
    this.listeners.add(listener);
    return listener;
  }

  /** @internal */
  listenerClosed(l: SocketTcpListener): void {
    this.listeners.delete(l);
  }

  // ---- connect ------------------------------------------------------------------------

  connect(opts: TcpConnectOptions): Promise<TcpFlow> {
    try {
      return this.connectNow(opts);
    } catch (e) {
      this.counters.connectFailures++;
      return Promise.reject(e as Error);
    }
  }

  private connectNow(opts: TcpConnectOptions): Promise<TcpFlow> {
    if (this.isClosed) throw new MorganaError("ERR_SOCKET_CLOSED", "connect: the stack is closed", { syscall: "connect" });
    if (typeof opts !== "object" || opts === null) throw einval("connect", "options must be an object");
    const { address, signal } = opts;
    if (typeof address !== "string" || !isIpv4(address) || address === WILDCARD) {
      throw einval("connect", `address must be a dotted-quad IPv4 address, not ${JSON.stringify(address)}`, { address: String(address) });
    }
    const port = checkPort("connect", opts.port, 1);
    const details = { syscall: "connect", address, port };
    const localPort = opts.localPort === undefined ? undefined : checkPort("connect", opts.localPort, 0, "localPort");
    let localAddress = opts.localAddress;
    if (localAddress !== undefined) {
      if (typeof localAddress !== "string" || !isIpv4(localAddress)) {
        throw einval("connect", `localAddress must be a dotted-quad IPv4 address, not ${JSON.stringify(localAddress)}`);
      }
      if (localAddress !== WILDCARD) this.plan.check(localAddress, "connect", localPort ?? 0);
    } else {
      localAddress = this.plan.sourceFor(address);
    }
    const timeoutMs = opts.timeoutMs ?? this.connectTimeoutMs;
    if (timeoutMs !== undefined) checkPositive("connect", "timeoutMs", timeoutMs);
    if (signal !== undefined && signal.aborted) throw abortError(signal);
    const keepAlive = opts.keepAlive;

    const socket = new Socket({
      allowHalfOpen: true,
      ...(this.highWaterMark !== undefined ? { readableHighWaterMark: this.highWaterMark, writableHighWaterMark: this.highWaterMark } : {}),
    });
    this.track(socket);
    return new Promise<TcpFlow>((resolve, reject) => {
      let timer: Timer | undefined;
      let settled = false;
      const cleanup = () => {
        settled = true;
        timer?.cancel();
        signal?.removeEventListener("abort", onAbort);
        socket.off("error", onError);
        socket.off("connect", onConnect);
        this.connecting.delete(pending);
      };
      const fail = (err: Error) => {
        if (settled) return;
        cleanup();
        this.counters.connectFailures++;
        socket.on("error", () => {});
        socket.destroy();
        reject(err);
      };
      const onError = (err: Error) => fail(fromNodeError(err, details));
      const onAbort = () => fail(abortError(signal!));
      const onConnect = () => {
        if (settled) return;
        cleanup();
        const flow = this.adopt(socket);
        this.counters.connectionsOpened++;
        if (opts.noDelay !== undefined) flow.setNoDelay(opts.noDelay);
        if (keepAlive !== undefined && keepAlive !== false) {
          flow.setKeepAlive(true, keepAlive === true ? undefined : (keepAlive as KeepAliveOptions));
        }
        resolve(flow);
      };
      const pending = { cancel: (err: Error) => fail(err) };
      this.connecting.add(pending);
      socket.once("error", onError);
      socket.once("connect", onConnect);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = this.owner.clock.setTimer(timeoutMs, () =>
          fail(new MorganaError("ETIMEDOUT", `connect ETIMEDOUT ${address}:${port} (no answer within ${timeoutMs} ms)`, details)),
        );
      }
      socket.connect({
        host: address,
        port,
        family: 4,
        ...(localAddress !== undefined ? { localAddress } : {}),
        ...(localPort !== undefined ? { localPort } : {}),
      });
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }

  /** @internal Wraps an established socket in a flow owned by this stack. */
  adopt(socket: Socket): SocketTcpFlow {
    if (!this.sockets.has(socket)) this.track(socket);
    const flow = new SocketTcpFlow(socket, this.owner);
    this.flows.add(flow);
    return flow;
  }

  // ---- lifecycle ----------------------------------------------------------------------

  stats(): LayerStats {
    return {
      counters: { ...this.counters, connections: this.flows.size, listeners: this.listeners.size },
      drops: this.drops.snapshot(),
    };
  }

  /**
   * Closes every listener (resetting unaccepted connections), cancels pending
   * connects (`ECONNABORTED`), aborts every open flow (RST; its pending
   * operations reject with `ECONNABORTED`), and resolves when every host
   * socket and server is closed. Idempotent; `listen`/`connect` then reject
   * with `ERR_SOCKET_CLOSED`.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.isClosed = true;
    // Every socket and server still in the sets has not emitted 'close' yet.
    const closed = (what: Socket | Server) => new Promise<void>((resolve) => what.once("close", () => resolve()));
    this.closing = (async () => {
      const waits: Promise<void>[] = [];
      for (const s of this.sockets) waits.push(closed(s));
      for (const s of this.servers) waits.push(closed(s));
      for (const l of [...this.listeners]) await l.close();
      const stackClosed = () => new MorganaError("ECONNABORTED", "the stack was closed");
      for (const c of [...this.connecting]) c.cancel(stackClosed());
      for (const f of [...this.flows]) f.abort(stackClosed());
      for (const s of this.sockets) if (!s.destroyed) s.destroy();
      await Promise.all(waits);
    })();
    return this.closing;
  }
}
