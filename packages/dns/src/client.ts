/**
 * One DNS exchange with one server over a Stack's UDP or TCP: send a query,
 * wait for the response that matches it, time out. The stub resolver builds
 * retries, server failover, TC fallback and caching on these; `morgana dns
 * query` uses them directly.
 *
 * A response is accepted only when it comes from the server's address and
 * port (UDP), has QR set, the query's ID, opcode and question (name compared
 * case-insensitively, type and class equal; RFC 5452 §9.1). An error response
 * (rcode other than NOERROR/NXDOMAIN) without a question section is accepted
 * too, as old servers answer FORMERR that way. Everything else is counted
 * (`onMismatch`) and ignored: the exchange keeps waiting for the real answer.
 */
import { abortError, isIpv4, MorganaError, type Clock, type ErrorCode, type Tcp, type TcpFlow, type Udp, type UdpSocket } from "@morgana/interfaces";
import { decodeHeader, decodeMessage } from "./decode.js";
import { encodeMessage } from "./encode.js";
import { invalid } from "./errors.js";
import { matchesQuery } from "./message.js";
import { frameTcp, TcpFrameReader } from "./tcp.js";
import type { Message } from "./types.js";

/** The default DNS port. */
export const DNS_PORT = 53;

/** A name server: an IPv4 address and a port (default 53). */
export interface DnsServerAddress {
  readonly address: string;
  readonly port?: number;
}

/** Why a received message was not taken as the response. */
export type MismatchReason = "wrong-source" | "malformed" | "not-response" | "wrong-id" | "wrong-question";

/** What an exchange needs of a Stack: UDP, and TCP for TCP exchanges. */
export interface DnsTransport {
  readonly udp: Udp;
  readonly tcp?: Tcp;
}

export interface ExchangeOptions {
  readonly stack: DnsTransport;
  readonly server: DnsServerAddress;
  readonly clock: Clock;
  /** The whole exchange (for TCP: connect, send, receive) must finish within this. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Called for each received message that is not the response (it is ignored). */
  readonly onMismatch?: (reason: MismatchReason) => void;
}

export interface ExchangeResult {
  readonly response: Message;
  /** The response's bytes (without the TCP length prefix). */
  readonly bytes: Uint8Array;
  readonly transport: "udp" | "tcp";
  /** The server's address and port. */
  readonly address: string;
  readonly port: number;
  /** Time from sending the query to receiving the response, by the clock. */
  readonly rttMs: number;
}

/** Parses `A.B.C.D`, `A.B.C.D:PORT` or `A.B.C.D#PORT` (dig's form) into a server address; EINVAL otherwise. */
export function parseServerAddress(text: string, defaultPort = DNS_PORT): { address: string; port: number } {
  const m = /^([0-9.]+)(?:[:#]([0-9]{1,5}))?$/.exec(text);
  const port = m?.[2] !== undefined ? Number(m[2]) : defaultPort;
  if (m === null || !isIpv4(m[1]!) || !(port >= 1 && port <= 65535)) throw invalid(`bad name server ${JSON.stringify(text)} (expected an IPv4 address with an optional :port)`);
  return { address: m[1]!, port };
}

function serverOf(s: DnsServerAddress): { address: string; port: number } {
  const port = s.port ?? DNS_PORT;
  if (typeof s.address !== "string" || !isIpv4(s.address)) throw invalid(`bad name server address ${JSON.stringify(s.address)}`);
  if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) throw invalid(`bad name server port ${String(port)}`);
  return { address: s.address, port };
}

function qname(query: Message): string {
  return query.questions[0]?.name ?? ".";
}

function dnsError(code: ErrorCode, query: Message, server: { address: string; port: number }, transport: string, cause?: unknown): MorganaError {
  const what = code === "ETIMEOUT" ? "no response" : code === "ECONNREFUSED" ? "connection refused" : code;
  return new MorganaError(code, `query ${code} ${qname(query)}: ${what} from ${server.address}#${server.port} (${transport})`, {
    syscall: "query",
    hostname: qname(query),
    address: server.address,
    port: server.port,
    ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * Classifies a received message: undefined when it is the response to
 * `query`, otherwise the reason to ignore it.
 */
export function checkResponse(query: Message, bytes: Uint8Array): { response: Message } | { reason: MismatchReason } {
  let header;
  try {
    header = decodeHeader(bytes);
  } catch {
    return { reason: "malformed" };
  }
  if (!header.qr) return { reason: "not-response" };
  if (header.id !== query.id) return { reason: "wrong-id" };
  let response: Message;
  try {
    response = decodeMessage(bytes);
  } catch {
    return { reason: "malformed" };
  }
  if (matchesQuery(query, response)) return { response };
  // An error response without the question (old servers' FORMERR/NOTIMP).
  if (response.questions.length === 0 && response.opcode === query.opcode && response.rcode !== 0 && response.rcode !== 3) return { response };
  return { reason: "wrong-question" };
}

/**
 * Sends `query` (its ID already set) in one UDP datagram from a fresh socket
 * on a random ephemeral port, and resolves with the matching response.
 * Rejects with `ETIMEOUT` after `timeoutMs`, `ECONNREFUSED` when the stack
 * reports the server's port closed (ICMP port unreachable; the Unix socket
 * stack cannot see it), `ABORT_ERR` on abort, or the stack's error when the
 * datagram cannot be sent (`EHOSTUNREACH`, ...).
 */
export async function udpExchange(query: Message, opts: ExchangeOptions): Promise<ExchangeResult> {
  const server = serverOf(opts.server);
  const { clock, signal } = opts;
  if (signal?.aborted) throw abortError(signal);
  const bytes = encodeMessage(query);
  const sock: UdpSocket = await opts.stack.udp.bind({ port: 0 });
  return new Promise<ExchangeResult>((resolve, reject) => {
    let done = false;
    let sentAt = clock.now();
    const finish = (err: unknown, result?: ExchangeResult): void => {
      if (done) return;
      done = true;
      timer.cancel();
      signal?.removeEventListener("abort", onAbort);
      void sock.close();
      if (err !== undefined) reject(err);
      else resolve(result!);
    };
    const onAbort = (): void => finish(abortError(signal));
    const timer = clock.setTimer(opts.timeoutMs, () => finish(dnsError("ETIMEOUT", query, server, "udp")));
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) {
      onAbort();
      return;
    }
    void (async () => {
      for (;;) {
        let d;
        try {
          d = await sock.recv();
        } catch (e) {
          if (done) return;
          const err = e as MorganaError;
          // An ICMP error about our datagram (the direct stack reports them).
          if (err.code === "ECONNREFUSED" && (err.address === undefined || err.address === server.address) && (err.port === undefined || err.port === server.port)) {
            finish(dnsError("ECONNREFUSED", query, server, "udp", e));
            return;
          }
          if ((err.code === "EHOSTUNREACH" || err.code === "ENETUNREACH") && (err.address === undefined || err.address === server.address)) {
            finish(new MorganaError(err.code, `query ${err.code} ${qname(query)}: ${server.address}#${server.port} unreachable`, { syscall: "query", hostname: qname(query), address: server.address, port: server.port, cause: e }));
            return;
          }
          continue;
        }
        if (d === null || done) return;
        if (d.address !== server.address || d.port !== server.port) {
          opts.onMismatch?.("wrong-source");
          continue;
        }
        const r = checkResponse(query, d.data);
        if ("reason" in r) {
          opts.onMismatch?.(r.reason);
          continue;
        }
        finish(undefined, { response: r.response, bytes: d.data, transport: "udp", address: server.address, port: server.port, rttMs: clock.now() - sentAt });
        return;
      }
    })();
    sock.send(bytes, server).then(
      () => undefined,
      (e: unknown) => finish(e),
    );
    sentAt = clock.now();
  });
}

/** Bound on bytes buffered while reading a TCP response: one maximal message and a chunk. */
const TCP_CLIENT_BUFFER = 2 * 65537;

/**
 * Sends `query` over a new TCP connection (RFC 7766, 2-byte length prefix)
 * and resolves with the matching response; the connection is then closed.
 * Rejects with `ETIMEOUT` when the whole exchange takes longer than
 * `timeoutMs`, `ECONNREFUSED` when the server refuses the connection, the
 * stack's error otherwise (`ECONNRESET`, `EHOSTUNREACH`, ...), `ENOTSUP` when
 * the stack has no TCP.
 */
export async function tcpExchange(query: Message, opts: ExchangeOptions): Promise<ExchangeResult> {
  const server = serverOf(opts.server);
  const { clock, signal } = opts;
  const tcp = opts.stack.tcp;
  if (tcp === undefined) throw new MorganaError("ENOTSUP", "dns: this stack has no TCP", { syscall: "query", hostname: qname(query) });
  if (signal?.aborted) throw abortError(signal);
  const framed = frameTcp(encodeMessage(query));
  const started = clock.now();
  const deadline = started + opts.timeoutMs;
  const controller = new AbortController();
  let timedOut = false;
  const timer = clock.setTimer(opts.timeoutMs, () => {
    timedOut = true;
    controller.abort();
  });
  const onAbort = (): void => controller.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let flow: TcpFlow | undefined;
  const fail = (e: unknown): MorganaError => {
    if (signal?.aborted) return abortError(signal);
    if (timedOut) return dnsError("ETIMEOUT", query, server, "tcp", e);
    const err = e as MorganaError;
    if (err.code === "ECONNREFUSED") return dnsError("ECONNREFUSED", query, server, "tcp", e);
    if (err.code === "ETIMEDOUT") return dnsError("ETIMEOUT", query, server, "tcp", e);
    return e as MorganaError;
  };
  try {
    try {
      flow = await tcp.connect({ address: server.address, port: server.port, timeoutMs: Math.max(1, deadline - clock.now()), signal: controller.signal });
    } catch (e) {
      throw fail(e);
    }
    if (controller.signal.aborted) throw fail(undefined);
    const f = flow;
    const onStop = (): void => f.abort(new MorganaError("ECONNABORTED", "dns: TCP exchange stopped"));
    controller.signal.addEventListener("abort", onStop, { once: true });
    try {
      f.setNoDelay(true);
      const sentAt = clock.now();
      await f.write(framed);
      const reader = new TcpFrameReader({ limit: TCP_CLIENT_BUFFER });
      for (;;) {
        let msg = reader.next();
        while (msg !== undefined) {
          const r = checkResponse(query, msg);
          if (!("reason" in r)) {
            void f.close();
            return { response: r.response, bytes: msg, transport: "tcp", address: server.address, port: server.port, rttMs: clock.now() - sentAt };
          }
          opts.onMismatch?.(r.reason);
          msg = reader.next();
        }
        const chunk = await f.read();
        if (chunk === null) throw new MorganaError("ECONNRESET", `query ECONNRESET ${qname(query)}: ${server.address}#${server.port} closed the connection without a response`, { syscall: "query", hostname: qname(query), address: server.address, port: server.port });
        for (let o = 0; o < chunk.length; ) {
          const piece = chunk.subarray(o, Math.min(chunk.length, o + 65537));
          if (!reader.push(piece)) throw new MorganaError("EMSGSIZE", "dns: TCP response stream over the buffer bound");
          o += piece.length;
          let m = reader.next();
          while (m !== undefined) {
            const r = checkResponse(query, m);
            if (!("reason" in r)) {
              void f.close();
              return { response: r.response, bytes: m, transport: "tcp", address: server.address, port: server.port, rttMs: clock.now() - sentAt };
            }
            opts.onMismatch?.(r.reason);
            m = reader.next();
          }
        }
      }
    } catch (e) {
      f.abort();
      throw controller.signal.aborted ? fail(e) : e;
    } finally {
      controller.signal.removeEventListener("abort", onStop);
    }
  } finally {
    timer.cancel();
    signal?.removeEventListener("abort", onAbort);
  }
}
