/**
 * A listening socket: a bounded SYN queue (half-open connections, counted
 * here, living in the layer's connection table) and a bounded accept queue
 * of established connections waiting for `accept()`.
 */
import { RingQueue } from "@morgana/collections";
import { formatIpv4, type Ipv4Address, type SocketAddress, type TcpFlow, type TcpListener } from "@morgana/interfaces";
import type { Connection, ConnectionOptions } from "./connection.js";

export interface ListenerHost {
  closeListener(l: Listener): void;
}

export class Listener implements TcpListener {
  readonly local: SocketAddress;
  /** Half-open connections (SYN-RECEIVED) counted against `synQueueMax`. */
  synCount = 0;
  readonly acceptQueue = new RingQueue<Connection>();
  private waiters: ((c: TcpFlow | null) => void)[] = [];
  closed = false;

  constructor(
    private readonly host: ListenerHost,
    readonly address: Ipv4Address,
    readonly port: number,
    readonly backlog: number,
    readonly synQueueMax: number,
    readonly connOptions: ConnectionOptions,
  ) {
    this.local = { address: formatIpv4(address), port, family: "IPv4" };
  }

  get acceptQueueFull(): boolean {
    return this.acceptQueue.length >= this.backlog;
  }

  /** A connection of this listener reached ESTABLISHED. */
  enqueue(c: Connection): void {
    const w = this.waiters.shift();
    if (w !== undefined) {
      c.listener = undefined;
      w(c);
      return;
    }
    this.acceptQueue.push(c);
  }

  /** Removes a connection that ended before it was accepted. */
  remove(c: Connection): void {
    const q = this.acceptQueue;
    const n = q.length;
    for (let i = 0; i < n; i++) {
      const x = q.shift()!;
      if (x !== c) q.push(x);
    }
  }

  accept(): Promise<TcpFlow | null> {
    const c = this.acceptQueue.shift();
    if (c !== undefined) {
      c.listener = undefined;
      return Promise.resolve(c);
    }
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TcpFlow> {
    for (;;) {
      const c = await this.accept();
      if (c === null) return;
      yield c;
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r(null);
    this.host.closeListener(this);
    return Promise.resolve();
  }
}
