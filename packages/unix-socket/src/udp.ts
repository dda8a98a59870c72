/**
 * {@link Udp} on `node:dgram` (`udp4` sockets).
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import {
  DropCounters,
  MorganaError,
  isIpv4,
  type Datagram,
  type LayerStats,
  type SocketAddress,
  type Udp,
  type UdpBindOptions,
  type UdpDestination,
  type UdpSocket,
} from "@morgana/interfaces";
import { WILDCARD, isLoopback, type AddressPlan } from "./addresses.js";
import { einval, fromNodeError } from "./errors.js";

/** Default bound of a socket's receive queue, in datagrams (as on the direct stack). */
export const DEFAULT_RECEIVE_QUEUE = 256;
/** The largest UDP payload over IPv4: 65535 - 20 - 8. */
export const UDP_MAX_PAYLOAD = 65507;
/** Attempts to find one ephemeral port free on every address of a restricted stack. */
const EPHEMERAL_TRIES = 16;

export interface SocketUdpOptions {
  /** Default receive queue bound of new sockets, in datagrams. Default 256. */
  readonly receiveQueue?: number;
  /**
   * SO_RCVBUF of each host socket, in bytes (the kernel caps it at
   * net.core.rmem_max). Default the system's (208 KiB on Linux, about 256
   * small datagrams): datagrams the kernel drops for lack of room are not
   * seen by the stack and not counted (Linux counts them in /proc/net/snmp,
   * RcvbufErrors).
   */
  readonly recvBufferSize?: number;
  /** SO_SNDBUF of each host socket, in bytes; default the system's. */
  readonly sendBufferSize?: number;
}

interface Waiter {
  resolve(d: Datagram | null): void;
  reject(e: Error): void;
}

/** A bound UDP socket over one dgram socket per host address (one, except on a restricted stack). */
class SocketUdpSocket implements UdpSocket {
  readonly local: SocketAddress;
  private readonly queue: Datagram[] = [];
  private head = 0;
  private readonly waiters: Waiter[] = [];
  private error: Error | undefined;
  private isClosed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly udp: SocketUdp,
    private readonly sockets: readonly { socket: Socket; address: string }[],
    local: SocketAddress,
    private readonly limit: number,
  ) {
    this.local = local;
    for (const { socket } of sockets) {
      socket.on("message", (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(msg, rinfo));
      socket.on("error", (err: Error) => this.onError(err));
    }
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.isClosed) return void this.udp.drops.drop("closed");
    const d: Datagram = { data: new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), address: rinfo.address, port: rinfo.port };
    const w = this.waiters.shift();
    if (w !== undefined) w.resolve(d);
    else if (this.queue.length - this.head >= this.limit) return void this.udp.drops.drop("queue-full");
    else this.queue.push(d);
    this.udp.counters.rxDatagrams++;
    this.udp.counters.rxBytes += d.data.length;
  }

  /**
   * An asynchronous socket error (Node reports ICMP errors only for connected
   * sockets, which this stack does not create, so this is rare). As on Linux
   * there is one pending-error slot; the next recv() rejects with it.
   */
  private onError(err: Error): void {
    if (this.isClosed) return;
    this.udp.counters.socketErrors++;
    const e = fromNodeError(err, { syscall: "recv" });
    const w = this.waiters.shift();
    if (w !== undefined) return w.reject(e);
    if (this.error !== undefined) this.udp.counters.socketErrorsReplaced++;
    this.error = e;
  }

  send(data: Uint8Array, to: UdpDestination): Promise<void> {
    const address = typeof to?.address === "string" ? to.address : String(to?.address);
    const port = to?.port;
    const details = { syscall: "send", address, port: port as number };
    if (this.isClosed) return Promise.reject(new MorganaError("ERR_SOCKET_CLOSED", "send: the socket is closed", { syscall: "send" }));
    if (!(data instanceof Uint8Array)) return Promise.reject(einval("send", "data must be a Uint8Array", details));
    if (!isIpv4(address)) return Promise.reject(einval("send", `invalid IPv4 address ${JSON.stringify(address)}`, details));
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      return Promise.reject(einval("send", `port must be an integer in 1..65535, not ${String(port)}`, details));
    }
    if (data.length > UDP_MAX_PAYLOAD) {
      return Promise.reject(new MorganaError("EMSGSIZE", `send EMSGSIZE: ${data.length} bytes above ${UDP_MAX_PAYLOAD}`, details));
    }
    const socket = this.pick(address);
    return new Promise<void>((resolve, reject) => {
      try {
        socket.send(data, port, address, (err) => {
          if (err) return reject(fromNodeError(err, details));
          this.udp.counters.txDatagrams++;
          this.udp.counters.txBytes += data.length;
          resolve();
        });
      } catch (err) {
        reject(fromNodeError(err, details));
      }
    });
  }

  /** The host socket to send from: one bound to a loopback address for loopback destinations, else a non-loopback one. */
  private pick(dst: string): Socket {
    if (this.sockets.length === 1) return this.sockets[0]!.socket;
    const wantLoop = isLoopback(dst);
    return (this.sockets.find((s) => isLoopback(s.address) === wantLoop) ?? this.sockets[0]!).socket;
  }

  recv(): Promise<Datagram | null> {
    if (this.isClosed) return Promise.resolve(null);
    const err = this.error;
    if (err !== undefined) {
      this.error = undefined;
      return Promise.reject(err);
    }
    if (this.head < this.queue.length) {
      const d = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Datagram;
      if (this.head > 64 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      return Promise.resolve(d);
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Datagram> {
    for (;;) {
      const d = await this.recv();
      if (d === null) return;
      yield d;
    }
  }

  /** Datagrams waiting for recv(). */
  get queued(): number {
    return this.queue.length - this.head;
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.isClosed = true;
    this.queue.length = 0;
    this.head = 0;
    this.error = undefined;
    for (let w = this.waiters.shift(); w !== undefined; w = this.waiters.shift()) w.resolve(null);
    this.closing = Promise.all(this.sockets.map(({ socket }) => closeDgram(socket))).then(() => this.udp.socketClosed(this));
    return this.closing;
  }
}

function closeDgram(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

interface BufferSizes {
  readonly recvBufferSize?: number;
  readonly sendBufferSize?: number;
}

function bindDgram(address: string, port: number, sizes: BufferSizes): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = createSocket({ type: "udp4", ...sizes });
    const onError = (err: Error) => {
      socket.off("listening", onListening);
      try {
        socket.close();
      } catch {
        // never bound
      }
      reject(fromNodeError(err, { syscall: "bind", address, port }));
    };
    const onListening = () => {
      socket.off("error", onError);
      resolve(socket);
    };
    socket.once("error", onError);
    socket.once("listening", onListening);
    socket.bind({ port, address, exclusive: true });
  });
}

/** UDP on the host's sockets. */
export class SocketUdp implements Udp {
  /** @internal */
  readonly drops = new DropCounters();
  /** @internal */
  readonly counters = { rxDatagrams: 0, rxBytes: 0, txDatagrams: 0, txBytes: 0, socketErrors: 0, socketErrorsReplaced: 0 };
  private readonly open = new Set<SocketUdpSocket>();
  private readonly defaultQueue: number;
  private readonly sizes: BufferSizes;
  private isClosed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly plan: AddressPlan,
    opts: SocketUdpOptions = {},
  ) {
    this.defaultQueue = opts.receiveQueue ?? DEFAULT_RECEIVE_QUEUE;
    if (!Number.isInteger(this.defaultQueue) || this.defaultQueue < 1) {
      throw new MorganaError("EINVAL", `createSocketStack: udp.receiveQueue must be a positive integer, not ${String(opts.receiveQueue)}`);
    }
    const sizes: { recvBufferSize?: number; sendBufferSize?: number } = {};
    for (const k of ["recvBufferSize", "sendBufferSize"] as const) {
      const v = opts[k];
      if (v === undefined) continue;
      if (!Number.isInteger(v) || v < 1) throw new MorganaError("EINVAL", `createSocketStack: udp.${k} must be a positive integer, not ${String(v)}`);
      sizes[k] = v;
    }
    this.sizes = sizes;
  }

  async bind(opts: UdpBindOptions = {}): Promise<UdpSocket> {
    if (this.isClosed) throw new MorganaError("ERR_SOCKET_CLOSED", "bind: the stack is closed", { syscall: "bind" });
    if (typeof opts !== "object" || opts === null) throw einval("bind", "options must be an object");
    const port = opts.port ?? 0;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw einval("bind", `port must be an integer in 0..65535, not ${String(port)}`);
    }
    const limit = opts.receiveQueue ?? this.defaultQueue;
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
      throw einval("bind", `receiveQueue must be a positive integer, not ${String(limit)}`);
    }
    const targets = this.plan.bindTargets(opts.address, "bind", port);
    const bound = await this.bindAll(targets, port);
    if (this.isClosed) {
      await Promise.all(bound.map((b) => closeDgram(b.socket)));
      throw new MorganaError("ERR_SOCKET_CLOSED", "bind: the stack is closed", { syscall: "bind" });
    }
    const chosen = bound[0]!.socket.address().port;
    // The wildcard reads 0.0.0.0 however many host sockets implement it (as on the direct stack).
    const address = opts.address === undefined || opts.address === WILDCARD ? WILDCARD : targets[0]!;
    const s = new SocketUdpSocket(this, bound, { address, port: chosen, family: "IPv4" }, limit);
    this.open.add(s);
    return s;
  }

  /** Binds one socket per target on the same port (for port 0, retried until one port is free everywhere). */
  private async bindAll(targets: readonly string[], port: number): Promise<{ socket: Socket; address: string }[]> {
    for (let attempt = 0; ; attempt++) {
      const bound: { socket: Socket; address: string }[] = [];
      let p = port;
      try {
        for (const address of targets) {
          const socket = await bindDgram(address, p, this.sizes);
          bound.push({ socket, address });
          if (p === 0) p = socket.address().port;
        }
        return bound;
      } catch (e) {
        await Promise.all(bound.map((b) => closeDgram(b.socket)));
        const retry = port === 0 && bound.length > 0 && (e as MorganaError).code === "EADDRINUSE" && attempt < EPHEMERAL_TRIES;
        if (!retry) throw e;
      }
    }
  }

  /** @internal */
  socketClosed(s: SocketUdpSocket): void {
    this.open.delete(s);
  }

  stats(): LayerStats {
    return { counters: { ...this.counters, sockets: this.open.size }, drops: this.drops.snapshot() };
  }

  /** Closes every socket; `bind` then rejects with `ERR_SOCKET_CLOSED`. Idempotent. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.isClosed = true;
    this.closing = Promise.all([...this.open].map((s) => s.close())).then(() => undefined);
    return this.closing;
  }
}
