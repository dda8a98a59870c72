/**
 * @morgana/node-net — a `node:net`-compatible facade over any Morgana Stack,
 * so Node libraries that take a socket or a `net`-like module (node:http via
 * `'connection'`, undici's `connect`, database drivers, ...) run over the
 * pure-TypeScript stack or any other `Stack`.
 *
 * ```ts
 * const net = createNet(stack);
 * net.createServer((s) => s.pipe(s)).listen(7);
 * const c = net.connect(7, "10.0.0.2", () => c.end("hello"));
 * ```
 */
import { isIP, isIPv4, isIPv6 } from "node:net";
import { MorganaError, type Clock, type Stack } from "@morgana/interfaces";
import type { ConnectOptions, LookupFunction } from "./args.js";
import { NetServer, type ServerOptions } from "./server.js";
import { NetSocket, type SocketOptions } from "./socket.js";

export { NetSocket, type SocketOptions, type NetContext } from "./socket.js";
export { NetServer, type ServerOptions, type ServerContext } from "./server.js";
export type { ConnectOptions, ListenOptions, LookupFunction } from "./args.js";

/** Options of {@link createNet}. */
export interface CreateNetOptions {
  /** The clock of socket idle timeouts (`setTimeout`). Default: the system clock with unreferenced timers. */
  readonly clock?: Clock;
  /**
   * Name resolution for hosts that are not dotted quads (`dns.lookup`
   * shape). Default: "localhost" is 127.0.0.1, any other name fails with
   * ENOTFOUND. A per-connection `lookup` option overrides it.
   */
  readonly lookup?: LookupFunction;
}

/** The constructor of the module's sockets: `new net.Socket(options?)`. */
export type SocketClass = new (options?: SocketOptions) => NetSocket;
/** The constructor of the module's servers: `new net.Server(options?, listener?)`. */
export type ServerClass = new (options?: ServerOptions | ((socket: NetSocket) => void), connectionListener?: (socket: NetSocket) => void) => NetServer;

/** The `node:net`-shaped module {@link createNet} returns. */
export interface NetModule {
  /** The stack every socket and server of this module uses. */
  readonly stack: Stack;
  readonly Socket: SocketClass;
  /** Node's alias of Socket. */
  readonly Stream: SocketClass;
  readonly Server: ServerClass;
  createServer(connectionListener?: (socket: NetSocket) => void): NetServer;
  createServer(options?: ServerOptions, connectionListener?: (socket: NetSocket) => void): NetServer;
  connect(options: ConnectOptions, connectionListener?: () => void): NetSocket;
  connect(port: number | string, host?: string, connectionListener?: () => void): NetSocket;
  connect(port: number | string, connectionListener?: () => void): NetSocket;
  createConnection(options: ConnectOptions, connectionListener?: () => void): NetSocket;
  createConnection(port: number | string, host?: string, connectionListener?: () => void): NetSocket;
  createConnection(port: number | string, connectionListener?: () => void): NetSocket;
  /** From `node:net`. */
  isIP(input: string): number;
  isIPv4(input: string): boolean;
  isIPv6(input: string): boolean;
}

/**
 * A `node:net`-shaped module whose sockets and servers run over `stack`.
 * See the README for the supported surface and what differs from `node:net`.
 */
export function createNet(stack: Stack, options: CreateNetOptions = {}): NetModule {
  if (stack === null || typeof stack !== "object" || typeof stack.tcp !== "object") throw new MorganaError("EINVAL", "createNet: a Morgana Stack is required");
  const ctx = {
    stack,
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
    ...(options.lookup !== undefined ? { lookup: options.lookup } : {}),
  };

  class Socket extends NetSocket {
    constructor(opts: SocketOptions = {}) {
      super({ ...opts, ...ctx });
    }
  }

  const serverCtx = { ...ctx, createSocket: (o: SocketOptions) => new Socket(o) };

  class Server extends NetServer {
    constructor(opts?: ServerOptions | ((socket: NetSocket) => void), connectionListener?: (socket: NetSocket) => void) {
      super(serverCtx, opts, connectionListener);
    }
  }

  function connect(...args: unknown[]): NetSocket {
    const first = args[0];
    const opts: ConnectOptions = typeof first === "object" && first !== null ? (first as ConnectOptions) : {};
    const sopts: SocketOptions = {};
    if (opts.allowHalfOpen !== undefined) sopts.allowHalfOpen = opts.allowHalfOpen;
    if (opts.signal !== undefined) sopts.signal = opts.signal;
    if (opts.noDelay !== undefined) sopts.noDelay = opts.noDelay;
    if (opts.keepAlive !== undefined) sopts.keepAlive = opts.keepAlive;
    if (opts.keepAliveInitialDelay !== undefined) sopts.keepAliveInitialDelay = opts.keepAliveInitialDelay;
    if (opts.highWaterMark !== undefined) sopts.highWaterMark = opts.highWaterMark;
    if (opts.readableHighWaterMark !== undefined) sopts.readableHighWaterMark = opts.readableHighWaterMark;
    if (opts.writableHighWaterMark !== undefined) sopts.writableHighWaterMark = opts.writableHighWaterMark;
    const socket = new Socket(sopts);
    // As net.connect: the `timeout` option is the idle timeout of setTimeout.
    if (opts.timeout) socket.setTimeout(opts.timeout);
    return (socket.connect as (...a: unknown[]) => NetSocket)(...args);
  }

  function createServer(...args: unknown[]): NetServer {
    return new Server(args[0] as ServerOptions, args[1] as (socket: NetSocket) => void);
  }

  return {
    stack,
    Socket,
    Stream: Socket,
    Server,
    createServer: createServer as NetModule["createServer"],
    connect: connect as NetModule["connect"],
    createConnection: connect as NetModule["createConnection"],
    isIP,
    isIPv4,
    isIPv6,
  };
}
