/**
 * Serving an {@link AuthoritativeServer} over a Stack: UDP datagrams and TCP
 * connections (RFC 1035 §4.2, RFC 7766) on one port.
 *
 * UDP: each datagram is answered by the engine and the response sent back to
 * its source; garbage gets FORMERR or nothing, as the engine decides; nothing
 * a client sends can stop the loop. TCP: length-prefixed messages, several
 * per connection, answered in order (pipelined queries get their answers in
 * the order asked); a connection idle (or unable to take our answers) for
 * `tcpIdleTimeoutMs` is closed; at most `maxTcpConnections` at once (more are
 * reset at once); the bytes held per connection are bounded.
 */
import { DropCounters, MorganaError, type Clock, type LayerStats, type Tcp, type TcpFlow, type TcpListener, type Timer, type Udp, type UdpSocket } from "@morgana/interfaces";
import { invalid } from "./errors.js";
import type { AuthoritativeServer } from "./server.js";
import { frameTcp, TcpFrameReader } from "./tcp.js";

export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_TCP_CONNECTIONS = 100;
export const DEFAULT_CLOSE_TIMEOUT_MS = 1000;
/** Bytes a TCP connection may hold unanswered: one maximal message and a chunk. */
export const TCP_SERVER_BUFFER = 2 * 65537;
/** UDP responses handed to the stack and not yet sent before the loop waits. */
const MAX_PENDING_SENDS = 64;

export interface ServeDnsOptions {
  /** What a server needs of a Stack: UDP and/or TCP. */
  readonly stack: { readonly udp: Udp; readonly tcp?: Tcp };
  readonly server: AuthoritativeServer;
  readonly clock: Clock;
  /** Default 53. 0 picks a free port (the same one for UDP and TCP). */
  readonly port?: number;
  /** The local address to serve on; default every address of the stack. */
  readonly address?: string;
  /** Serve UDP (default true). */
  readonly udp?: boolean;
  /** Serve TCP (default true; needs a stack with TCP). */
  readonly tcp?: boolean;
  /** A TCP connection without progress for this long is closed (default 10,000 ms). */
  readonly tcpIdleTimeoutMs?: number;
  /** TCP connections served at once (default 100); more are reset. */
  readonly maxTcpConnections?: number;
  /** `close()` lets open TCP connections finish for this long, then resets them (default 1000 ms). */
  readonly closeTimeoutMs?: number;
}

/** A running DNS server. */
export interface DnsServerHandle {
  /** The address served on (`0.0.0.0` for every address). */
  readonly address: string;
  /** The port served on (UDP and TCP). */
  readonly port: number;
  readonly udp: boolean;
  readonly tcp: boolean;
  /**
   * Counters `udpQueries udpResponses tcpConnections tcpQueries tcpResponses
   * tcpActive`, drops `no-answer send-error recv-error engine-error tcp-limit
   * tcp-idle tcp-buffer tcp-truncated tcp-error`. The engine's own counters
   * are `server.stats()`.
   */
  stats(): LayerStats;
  /** Stops serving: closes the UDP socket and the listener, lets TCP connections finish (see `closeTimeoutMs`). Idempotent. */
  close(): Promise<void>;
}

/** Serves `opts.server` over `opts.stack` until `close()`. Rejects with the stack's error (`EADDRINUSE`, `EACCES`, ...) if it cannot bind. */
export async function serveDns(opts: ServeDnsOptions): Promise<DnsServerHandle> {
  const useUdp = opts.udp ?? true;
  const useTcp = opts.tcp ?? true;
  const port = opts.port ?? 53;
  const idleMs = opts.tcpIdleTimeoutMs ?? DEFAULT_TCP_IDLE_TIMEOUT_MS;
  const maxConns = opts.maxTcpConnections ?? DEFAULT_MAX_TCP_CONNECTIONS;
  const closeMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  if (!useUdp && !useTcp) throw invalid("serveDns: neither UDP nor TCP");
  if (useTcp && opts.stack.tcp === undefined) throw invalid("serveDns: the stack has no TCP (pass tcp: false)");
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw invalid(`serveDns: bad port ${String(port)}`);
  if (!(idleMs > 0) || !(Number.isInteger(maxConns) && maxConns >= 1) || !(closeMs >= 0)) throw invalid("serveDns: bad limits");

  const { clock, server } = opts;
  const counters = new Map<string, number>();
  const drops = new DropCounters();
  const count = (name: string, n = 1): void => void counters.set(name, (counters.get(name) ?? 0) + n);
  const bindOpts = (p: number) => (opts.address !== undefined ? { port: p, address: opts.address } : { port: p });

  // Bind: with port 0 and both transports, UDP picks the port and TCP must get the same one.
  let sock: UdpSocket | undefined;
  let listener: TcpListener | undefined;
  for (let attempt = 0; ; attempt++) {
    if (useUdp) sock = await opts.stack.udp.bind(bindOpts(port));
    const p = sock?.local.port ?? port;
    if (!useTcp) break;
    try {
      listener = await opts.stack.tcp!.listen(bindOpts(p));
      break;
    } catch (e) {
      await sock?.close();
      if (port !== 0 || !(e instanceof MorganaError && e.code === "EADDRINUSE") || attempt >= 16) throw e;
    }
  }
  const local = sock?.local ?? listener!.local;
  let closing: Promise<void> | undefined;
  const loops: Promise<void>[] = [];
  const conns = new Set<Conn>();

  // --- UDP ----------------------------------------------------------------
  if (sock !== undefined) {
    const s = sock;
    loops.push(
      (async () => {
        let pending = 0;
        let wake: (() => void) | undefined;
        for (;;) {
          let d;
          try {
            d = await s.recv();
          } catch {
            // An ICMP error about a response we sent (the client went away).
            drops.drop("recv-error");
            continue;
          }
          if (d === null) return;
          count("udpQueries");
          let r: Uint8Array | null;
          try {
            r = server.answer(d.data, { transport: "udp" });
          } catch {
            drops.drop("engine-error");
            continue;
          }
          if (r === null) {
            drops.drop("no-answer");
            continue;
          }
          pending++;
          s.send(r, d).then(
            () => {
              count("udpResponses");
              if (--pending < MAX_PENDING_SENDS && wake !== undefined) wake();
            },
            () => {
              drops.drop("send-error");
              if (--pending < MAX_PENDING_SENDS && wake !== undefined) wake();
            },
          );
          if (pending >= MAX_PENDING_SENDS) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
          }
        }
      })(),
    );
  }

  // --- TCP ----------------------------------------------------------------
  interface Conn {
    readonly flow: TcpFlow;
    /** Ends the connection: gracefully between queries, by a reset in the middle of one. */
    stop(reason: "idle" | "closing"): void;
    done: Promise<void>;
  }

  const serveConnection = (flow: TcpFlow): Conn => {
    const reader = new TcpFrameReader({ limit: TCP_SERVER_BUFFER });
    let timer: Timer | undefined;
    let betweenQueries = true;
    let stopping = false;
    const conn: Conn = {
      flow,
      done: Promise.resolve(),
      stop: (reason) => {
        if (stopping) return;
        stopping = true;
        if (reason === "idle") drops.drop("tcp-idle");
        if (betweenQueries && reader.buffered === 0) void flow.close();
        else if (reason === "idle") flow.abort(new MorganaError("ETIMEDOUT", "dns: TCP connection without progress"));
        // Closing in the middle of a query: its answer is sent, then the connection closes.
      },
    };
    const arm = (): void => {
      timer?.cancel();
      timer = clock.setTimer(idleMs, () => conn.stop("idle"));
    };
    conn.done = (async () => {
      try {
        flow.setNoDelay(true);
        for (;;) {
          arm();
          betweenQueries = true;
          const chunk = await flow.read();
          if (chunk === null) {
            if (reader.buffered > 0) drops.drop("tcp-truncated");
            break;
          }
          betweenQueries = false;
          for (let o = 0; o < chunk.length; ) {
            const piece = chunk.subarray(o, Math.min(chunk.length, o + 65537));
            if (!reader.push(piece)) {
              drops.drop("tcp-buffer");
              flow.abort();
              return;
            }
            o += piece.length;
            for (let m = reader.next(); m !== undefined; m = reader.next()) {
              count("tcpQueries");
              let r: Uint8Array | null;
              try {
                r = server.answer(m, { transport: "tcp" });
              } catch {
                drops.drop("engine-error");
                r = null;
              }
              if (r === null) {
                drops.drop("no-answer");
                continue;
              }
              arm();
              await flow.write(frameTcp(r));
              count("tcpResponses");
            }
          }
          if (stopping) break;
        }
        timer?.cancel();
        // Our end of stream goes out now; the stack finishes the close (the
        // peer's FIN, or its FIN-WAIT timeout) without holding this connection's slot.
        void flow.close();
      } catch {
        if (!stopping) drops.drop("tcp-error");
        flow.abort();
      } finally {
        timer?.cancel();
      }
    })();
    return conn;
  };

  if (listener !== undefined) {
    const l = listener;
    loops.push(
      (async () => {
        for (;;) {
          let flow: TcpFlow | null;
          try {
            flow = await l.accept();
          } catch {
            drops.drop("accept-error");
            continue;
          }
          if (flow === null) return;
          if (closing !== undefined || conns.size >= maxConns) {
            drops.drop("tcp-limit");
            flow.abort();
            continue;
          }
          count("tcpConnections");
          const conn = serveConnection(flow);
          conns.add(conn);
          void conn.done.finally(() => conns.delete(conn));
        }
      })(),
    );
  }

  return {
    address: local.address,
    port: local.port,
    udp: sock !== undefined,
    tcp: listener !== undefined,
    stats: () => ({ counters: { ...Object.fromEntries(counters), tcpActive: conns.size }, drops: drops.snapshot() }),
    close: () =>
      (closing ??= (async () => {
        await sock?.close();
        await listener?.close();
        await Promise.all(loops);
        const open = [...conns];
        for (const c of open) c.stop("closing");
        if (open.length > 0) {
          let timer: Timer | undefined;
          await Promise.race([
            Promise.all(open.map((c) => c.done)),
            new Promise<void>((resolve) => (timer = clock.setTimer(closeMs, resolve))),
          ]);
          timer?.cancel();
          for (const c of conns) c.flow.abort();
          await Promise.all(open.map((c) => c.done));
        }
      })()),
  };
}
