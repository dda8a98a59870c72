/**
 * Byte streams and the transports applications use. Addresses here are
 * strings, as in `node:net`; the same application code runs on the direct
 * stack and on the Unix socket stack.
 */
import type { SocketAddress } from "./address.js";
import type { LayerStats } from "./stats.js";

/**
 * A reliable, ordered, bidirectional byte stream (a TCP connection, a TLS
 * session, an in-memory pipe).
 *
 * Contract:
 * - `read()` resolves with the next chunk (at least one byte, never empty, a
 *   plain `Uint8Array` rather than a subclass such as `Buffer`, owned by the
 *   caller), with `null` once the peer has finished sending (end
 *   of stream) or the flow was closed, and rejects with a {@link MorganaError}
 *   (`ECONNRESET`, `ETIMEDOUT`, ...) when the stream failed. Data received
 *   before a failure is still read before the error; an end of stream already
 *   received still gives `null`. After `null` or an error, every further read
 *   gives the same answer. Concurrent reads are served in order. Unread data is
 *   the receiver's backpressure: the implementation stops accepting more from
 *   the peer when its receive buffer is full.
 * - `write(data)` resolves once the data is accepted into the send buffer
 *   (not when it is delivered); while the buffer is full it stays pending —
 *   that is the writer's backpressure. Ownership of the bytes of `data` (the
 *   view, not its whole ArrayBuffer, which may be shared) passes to the flow:
 *   do not modify them afterwards; the flow never detaches or transfers the
 *   buffer. Writes are sent in call order; an empty write is allowed and sends
 *   nothing. It rejects with the stream's error after a failure (that error
 *   wins), otherwise with `EPIPE` after `shutdown()`/`close()`. Accepted data
 *   is never silently lost: if it cannot be delivered, the flow reports an
 *   error. `writev` is all or nothing: every chunk is checked before any is
 *   queued.
 * - `shutdown()` half-closes: the data already written is sent, then the end of
 *   stream (TCP FIN); reading continues. It resolves when the end is queued, is
 *   idempotent, and rejects with the stream's error after a failure.
 * - `close()` shuts down writing and stops reading; it resolves when the
 *   connection is finished: the written data and our end of stream were
 *   delivered and the peer's end of stream arrived — or the flow failed, or an
 *   implementation-documented FIN-WAIT timeout passed (60 s in Morgana's
 *   stacks). It never rejects (also after `abort()` or a reset) and is
 *   idempotent. Closing with unread received data, or receiving data after
 *   `close()`, resets the connection (RFC 1122 §4.2.2.13): the peer sees
 *   `ECONNRESET`.
 * - `abort()` ends at once (TCP RST), discarding unsent data; pending and later
 *   operations reject with `ECONNABORTED` (or the given error). It does nothing
 *   after a completed `close()` or a previous `abort()`.
 * - Async iteration yields the chunks `read()` would give, ends at end of
 *   stream, and throws the stream's error. Breaking out of the loop does not
 *   close the flow.
 * - There is no way to stop reading while still writing: an application that
 *   stops reading keeps the peer's data in the window (backpressure) or closes.
 */
export interface Flow extends AsyncIterable<Uint8Array> {
  read(): Promise<Uint8Array | null>;
  write(data: Uint8Array): Promise<void>;
  writev(chunks: readonly Uint8Array[]): Promise<void>;
  shutdown(): Promise<void>;
  close(): Promise<void>;
  abort(err?: Error): void;
}

/**
 * Keepalive settings (all in milliseconds except `count`). Fields an
 * implementation cannot set are ignored, and its README says which.
 */
export interface KeepAliveOptions {
  /** Idle time before the first probe. */
  readonly idleMs?: number;
  /** Time between unanswered probes. */
  readonly intervalMs?: number;
  /** Unanswered probes before the connection fails with `ETIMEDOUT`. */
  readonly count?: number;
}

/** Connection statistics; fields a stack cannot measure are absent. */
export interface TcpInfo {
  /** An RFC 9293 state name (`ESTABLISHED`, `FIN-WAIT-1`, `TIME-WAIT`, ...); a host stack may approximate. */
  readonly state: string;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly mss?: number;
  readonly srttMs?: number;
  readonly rttVarMs?: number;
  readonly rtoMs?: number;
  readonly cwnd?: number;
  readonly ssthresh?: number;
  readonly sendWindow?: number;
  readonly receiveWindow?: number;
  readonly retransmissions?: number;
  readonly bytesRetransmitted?: number;
  readonly windowScaling?: boolean;
  readonly timestamps?: boolean;
  readonly sack?: boolean;
}

/** A TCP connection. */
export interface TcpFlow extends Flow {
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  /** Disable (true) or enable (false) Nagle's algorithm. */
  setNoDelay(noDelay: boolean): void;
  setKeepAlive(enable: boolean, opts?: KeepAliveOptions): void;
  info(): TcpInfo;
}

export interface TcpListenOptions {
  /**
   * 0 picks an ephemeral port; see `local.port`. Ephemeral ports come from the
   * implementation's documented dynamic range (the direct stack: 49152-65535,
   * RFC 6335; the socket stack: the host kernel's, on Linux 32768-60999).
   */
  readonly port: number;
  /** The local address to accept on; default every address of the stack. */
  readonly address?: string;
  /**
   * Established connections waiting for `accept()`; the implementation
   * documents its default and what happens beyond it (a SYN dropped, or a
   * connection reset after the handshake, which the client sees as
   * `ECONNRESET` after a successful connect).
   */
  readonly backlog?: number;
  /** Options applied to every accepted connection (see {@link TcpConnectOptions}). */
  readonly noDelay?: boolean;
  readonly keepAlive?: boolean | KeepAliveOptions;
  readonly sendBufferSize?: number;
  readonly receiveBufferSize?: number;
}

/**
 * Accepts connections. Contract: `accept()` resolves with the next established
 * connection in arrival order, with `null` after `close()`. Iteration yields
 * the same and ends on close. `close()` stops listening (new SYNs are refused)
 * and resets connections that were never accepted; accepted connections are
 * unaffected.
 */
export interface TcpListener extends AsyncIterable<TcpFlow> {
  readonly local: SocketAddress;
  accept(): Promise<TcpFlow | null>;
  close(): Promise<void>;
}

export interface TcpConnectOptions {
  /** The remote IPv4 address in dotted-quad form (names are a Resolver's job). */
  readonly address: string;
  readonly port: number;
  readonly localAddress?: string;
  /** Default: a random port of the implementation's ephemeral range (see {@link TcpListenOptions.port}). */
  readonly localPort?: number;
  /** Give up with `ETIMEDOUT` after this long; the implementation documents its default. */
  readonly timeoutMs?: number;
  readonly noDelay?: boolean;
  readonly keepAlive?: boolean | KeepAliveOptions;
  /**
   * Bytes of unacknowledged and unsent data the connection holds (write
   * backpressure starts beyond), and bytes of received data it holds for the
   * application (the advertised window). Implementations document their
   * defaults and bounds; a host stack may ignore them (and says so).
   */
  readonly sendBufferSize?: number;
  readonly receiveBufferSize?: number;
  /** Cancels the connection attempt only (rejecting with `ABORT_ERR`); it has no effect once connected. */
  readonly signal?: AbortSignal;
}

/**
 * TCP as an application sees it. Errors: `ECONNREFUSED` (RST to our SYN),
 * `ETIMEDOUT`, `EHOSTUNREACH`/`ENETUNREACH`, `EADDRINUSE` (listen on a port
 * in use, or an explicit local port in use), `EINVAL` for bad arguments.
 */
export interface Tcp {
  listen(opts: TcpListenOptions): Promise<TcpListener>;
  connect(opts: TcpConnectOptions): Promise<TcpFlow>;
  stats(): LayerStats;
}

/** One received UDP datagram; `address`/`port` are the sender's. */
export interface Datagram {
  readonly data: Uint8Array;
  readonly address: string;
  readonly port: number;
}

/** A destination for {@link UdpSocket.send}; a received {@link Datagram} is one. */
export interface UdpDestination {
  readonly address: string;
  readonly port: number;
}

export interface UdpBindOptions {
  /** Default 0: a random port of the implementation's ephemeral range (see {@link TcpListenOptions.port}). */
  readonly port?: number;
  readonly address?: string;
  /** Datagrams held for `recv()`; more are dropped and counted. The implementation documents its default. */
  readonly receiveQueue?: number;
}

/**
 * A bound UDP socket.
 *
 * Contract:
 * - `send(data, to)` resolves when the datagram was handed to the network (the
 *   caller may reuse `data` then), and rejects with `EMSGSIZE` above 65507 bytes, `ENETUNREACH`/`EHOSTUNREACH`
 *   when it cannot be routed, `ERR_SOCKET_CLOSED` after close.
 * - `recv()` resolves with the next datagram, in arrival order, or `null` after
 *   `close()`. An ICMP error about a datagram this socket sent (for example port
 *   unreachable, as `ECONNREFUSED`) makes the next `recv()` reject with that
 *   error, carrying the destination's `address` and `port`; the socket stays
 *   usable. This holds where the host allows: the Unix socket stack cannot
 *   observe ICMP errors for unconnected sockets (its README says so). Iteration yields datagrams, throws such errors, and ends on close.
 * - The receive queue is bounded: datagrams beyond it are dropped and counted.
 */
export interface UdpSocket extends AsyncIterable<Datagram> {
  readonly local: SocketAddress;
  send(data: Uint8Array, to: UdpDestination): Promise<void>;
  recv(): Promise<Datagram | null>;
  close(): Promise<void>;
}

/** UDP as an application sees it. `bind` rejects with `EADDRINUSE` when the port is taken. */
export interface Udp {
  bind(opts?: UdpBindOptions): Promise<UdpSocket>;
  stats(): LayerStats;
}

/**
 * A TCP/IP stack as an application sees it: what a program written against
 * `@morgana/interfaces` needs, whichever stack it is linked with.
 */
export interface Stack {
  /** Which implementation this is, for logs: `"direct"`, `"unix-socket"`, ... */
  readonly name: string;
  readonly tcp: Tcp;
  readonly udp: Udp;
  /** The stack's IPv4 addresses, dotted quad. */
  addresses(): string[];
  /** Counters of every layer, by layer name. */
  stats(): Readonly<Record<string, LayerStats>>;
  /**
   * Closes every listener and socket and aborts every open connection (RST to
   * the peer; pending operations reject with `ECONNABORTED`, pending connects
   * too), cancels every timer, releases the device. Idempotent. Afterwards
   * `listen`, `connect` and `bind` reject with `ERR_SOCKET_CLOSED`.
   */
  close(): Promise<void>;
}
