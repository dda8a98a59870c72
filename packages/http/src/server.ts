/**
 * An HTTP/1.1 server over any `Flow`, with a fetch-style handler:
 * `(request: Request, info) => Response | Promise<Response>` using the
 * platform's `Request` and `Response` (Node 20, browsers), streaming bodies
 * both ways.
 *
 * One {@link Connection} per flow runs two loops: the read loop feeds the
 * parser and starts a handler at the end of each request's header section
 * (pipelined requests run concurrently, up to `maxPipelinedRequests`); the
 * write loop writes the responses in request order. Timeouts come from the
 * injected `Clock`; nothing here touches Node.
 */
import { DropCounters, MorganaError, type Clock, type Flow, type LayerStats, type SocketAddress, type Tcp, type TcpListener, type TcpListenOptions } from "@morgana/interfaces";
import { BodyPipe } from "./body.js";
import { Deadline } from "./deadline.js";
import { HttpParseError } from "./errors.js";
import type { HttpMessageHead } from "./head.js";
import { HttpParser, type CallbackResult, type HttpParserOptions } from "./parser.js";
import { createServerRequest } from "./request.js";
import { simpleHref, simpleOrigin } from "./url.js";
import { asBytes, CRLF, DateLine, encodeLatin1, isValidHost, knownBody, LAST_CHUNK, responseFields, NOT_YET, settledSoon, STATUS_TEXT, statusLine, allocOut, encodeOut, writeHeadBytes, writeLatin1, writeUtf8 } from "./wire.js";

/** What a handler gets besides the Request. */
export interface HttpRequestInfo {
  /** The parsed request head: method, target as received, version, raw headers. */
  readonly head: HttpMessageHead;
  /** The peer's address when the flow is a TcpFlow. */
  readonly remote: SocketAddress | undefined;
  /** Our address when the flow is a TcpFlow. */
  readonly local: SocketAddress | undefined;
  /** Position of this request on its connection (0 for the first). */
  readonly index: number;
}

export type HttpHandler = (request: Request, info: HttpRequestInfo) => Response | Promise<Response>;

/** A connection handed over after an Upgrade or CONNECT request (see `onUpgrade`). */
export interface HttpUpgrade {
  /** The request head (CONNECT cannot be a platform Request). */
  readonly head: HttpMessageHead;
  /** The connection, now the callback's: it writes the 101/200 answer itself and closes the flow. */
  readonly flow: Flow;
  /** Bytes already received after the request (the start of the new protocol); may be empty. */
  readonly rest: Uint8Array;
  readonly remote: SocketAddress | undefined;
  readonly local: SocketAddress | undefined;
}

export interface HttpServerOptions {
  readonly handler: HttpHandler;
  /** Times every timeout, and gives `Date` (its `wallTime()`). */
  readonly clock: Clock;
  /** Takes over Upgrade and CONNECT requests. Without it, CONNECT (and the HTTP/2 preface) get 501 and an Upgrade field is ignored. */
  readonly onUpgrade?: (upgrade: HttpUpgrade) => void | Promise<void>;
  /** Handler exceptions and rejections (answered with 500), and failures of `onUpgrade`. */
  readonly onError?: (err: unknown) => void;
  /** Open connections; more are answered 503 and closed. Default 1024. */
  readonly maxConnections?: number;
  /** Requests per connection whose handler started and whose response is not yet written; the parser stops reading ahead there. Default 16. */
  readonly maxPipelinedRequests?: number;
  /** From the first byte of a request to the end of its header section. Default 30 000 ms (answered 408, then close). */
  readonly headersTimeoutMs?: number;
  /** Longest wait for the next bytes of a request body while the handler wants them. Default 30 000 ms (408 or close). */
  readonly bodyTimeoutMs?: number;
  /** A keep-alive connection with nothing in flight is closed after this long. Default 5000 ms. */
  readonly idleTimeoutMs?: number;
  /** A response write the flow does not accept for this long (a client that stopped reading) aborts the connection. Default 30 000 ms. */
  readonly sendTimeoutMs?: number;
  /** Lingering close: after our FIN, unread input is read and dropped for up to this long (or 64 KiB) before the flow is closed. Default 2000 ms. */
  readonly lingerMs?: number;
  /** Request body bytes buffered ahead of the handler before the server stops reading. Default 65 536. */
  readonly requestBodyBufferBytes?: number;
  /** Request body bytes the server reads and drops when a handler answered without reading the body; beyond it the connection is closed. Default 262 144. */
  readonly maxDiscardBytes?: number;
  /** Header-section bytes (start line + fields). Default 16 384 (431). */
  readonly maxHeaderSize?: number;
  /** Header fields. Default 100 (431). */
  readonly maxHeaders?: number;
  /** Request-target bytes. Default 8192 (414). */
  readonly maxTargetLength?: number;
  /** Request body bytes. Default unlimited (413). */
  readonly maxBodySize?: number;
  /** Further parser options (lenient flags, ...); the options above win. */
  readonly parserOptions?: HttpParserOptions;
  /** Send `Date` (from `clock.wallTime()`). Default true. */
  readonly date?: boolean;
  /** The `Server` field value; default none. */
  readonly serverName?: string;
}

export interface HttpServerCloseOptions {
  /** In-flight requests still running after this long are cut off (flows aborted). Default 30 000 ms. */
  readonly deadlineMs?: number;
}

export interface HttpServer {
  /** Serves HTTP on one flow (any Flow); resolves when the connection is finished or handed over. */
  handleConnection(flow: Flow): Promise<void>;
  /** Accepts and serves connections until the listener closes (or the server closes it). */
  serve(listener: TcpListener): Promise<void>;
  /** Listens on `tcp` and serves in the background; resolves with the listener (its `local.port`). */
  listen(tcp: Tcp, opts: TcpListenOptions): Promise<TcpListener>;
  /**
   * Graceful shutdown: stops accepting (closes the listeners), closes idle
   * connections, lets in-flight requests finish (their responses carry
   * `Connection: close`), then aborts what is left at the deadline.
   * Resolves when every connection is finished. Idempotent.
   */
  close(opts?: HttpServerCloseOptions): Promise<void>;
  /** Open connections. */
  readonly connections: number;
  stats(): LayerStats;
}

interface ErrorSpec {
  readonly status: number;
  /** Close the connection after it (parse errors, timeouts). */
  readonly close: boolean;
}

type Outcome = Response | ErrorSpec;

interface Exchange {
  /** Null for an error answered before any head was parsed. */
  readonly head: HttpMessageHead | null;
  readonly isHead: boolean;
  outcome: Outcome | null;
  body: BodyPipe | null;
  bodyDone: boolean;
  discard: boolean;
  discarded: number;
  close: boolean;
  expectContinue: boolean;
  continueSent: boolean;
  continueWanted: boolean;
  upgrade: boolean;
  rest: Uint8Array | null;
  writing: boolean;
}

const CONTINUE = encodeLatin1("HTTP/1.1 100 Continue\r\n\r\n");
const LINGER_BYTES = 65536;
const SMALL_WRITE = 16384;
const noop = (): void => {};
const RESOLVED = Promise.resolve();

/** Methods a platform Request refuses (Fetch "forbidden method"). */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
/** Methods a platform Request upper-cases (Fetch "normalize a method"). */
const NORMALISED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

function normaliseMethod(m: string): string {
  if (NORMALISED_METHODS.has(m)) return m;
  const u = m.toUpperCase();
  return NORMALISED_METHODS.has(u) ? u : m;
}

function isErrorSpec(o: Outcome): o is ErrorSpec {
  return !(o instanceof Response) && typeof (o as ErrorSpec).close === "boolean" && !("headers" in o);
}

function isResponse(v: unknown): v is Response {
  if (v instanceof Response) return true;
  const r = v as Response | null;
  return r !== null && typeof r === "object" && typeof r.status === "number" && typeof r.headers === "object" && r.headers !== null && "body" in r;
}

function cancelBody(res: Response): void {
  const b = res.body;
  if (b !== null && !b.locked) b.cancel().catch(noop);
}

function positive(v: number | undefined, def: number, name: string): number {
  if (v === undefined) return def;
  if (!(v > 0)) throw new MorganaError("EINVAL", `createHttpServer: ${name} must be a positive number, not ${String(v)}`);
  return v;
}

/** Creates a server; nothing is opened until `listen`, `serve` or `handleConnection`. */
export function createHttpServer(opts: HttpServerOptions): HttpServer {
  return new Server(opts);
}

class Server implements HttpServer {
  readonly handler: HttpHandler;
  readonly clock: Clock;
  readonly onUpgrade: ((u: HttpUpgrade) => void | Promise<void>) | undefined;
  readonly onError: (err: unknown) => void;
  readonly maxConnections: number;
  readonly maxPipelined: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly lingerMs: number;
  readonly bodyBufferBytes: number;
  readonly maxDiscardBytes: number;
  readonly parserOptions: HttpParserOptions;
  readonly dateLine: DateLine | null;
  readonly serverLine: string;
  /** Header fields must be checked against `Headers` before the handler runs (lenient header parsing). */
  readonly checkHeaders: boolean;

  readonly conns = new Set<Connection>();
  private readonly listeners = new Set<TcpListener>();
  draining = false;
  private closing: Promise<void> | null = null;

  // Counters.
  accepted = 0;
  rejected = 0;
  requests = 0;
  responses = 0;
  reused = 0;
  upgrades = 0;
  idleClosed = 0;
  readonly drops = new DropCounters();

  constructor(o: HttpServerOptions) {
    if (typeof o.handler !== "function") throw new MorganaError("EINVAL", "createHttpServer: handler must be a function");
    if (o.clock === undefined || typeof o.clock.setTimer !== "function") throw new MorganaError("EINVAL", "createHttpServer: a clock is required");
    this.handler = o.handler;
    this.clock = o.clock;
    this.onUpgrade = o.onUpgrade;
    this.onError = o.onError ?? noop;
    this.maxConnections = positive(o.maxConnections, 1024, "maxConnections");
    this.maxPipelined = positive(o.maxPipelinedRequests, 16, "maxPipelinedRequests");
    this.headersTimeoutMs = positive(o.headersTimeoutMs, 30_000, "headersTimeoutMs");
    this.bodyTimeoutMs = positive(o.bodyTimeoutMs, 30_000, "bodyTimeoutMs");
    this.idleTimeoutMs = positive(o.idleTimeoutMs, 5_000, "idleTimeoutMs");
    this.sendTimeoutMs = positive(o.sendTimeoutMs, 30_000, "sendTimeoutMs");
    this.lingerMs = positive(o.lingerMs, 2_000, "lingerMs");
    this.bodyBufferBytes = positive(o.requestBodyBufferBytes, 65_536, "requestBodyBufferBytes");
    this.maxDiscardBytes = positive(o.maxDiscardBytes, 262_144, "maxDiscardBytes");
    const p: { -readonly [K in keyof HttpParserOptions]: HttpParserOptions[K] } = { ...o.parserOptions };
    if (o.maxHeaderSize !== undefined) p.maxHeaderSize = o.maxHeaderSize;
    if (o.maxHeaders !== undefined) p.maxHeaders = o.maxHeaders;
    if (o.maxTargetLength !== undefined) p.maxTargetLength = o.maxTargetLength;
    if (o.maxBodySize !== undefined) p.maxBodySize = o.maxBodySize;
    this.parserOptions = p;
    this.checkHeaders = p.lenient === "all" || p.lenient?.headers === true || p.lenient?.headerValueRelaxed === true;
    new HttpParser("request", {}, p); // validates the options now
    this.dateLine = o.date === false ? null : new DateLine(o.clock);
    if (o.serverName !== undefined && /[\0-\x1f\x7f]/.test(o.serverName)) throw new MorganaError("EINVAL", "createHttpServer: serverName has control characters");
    this.serverLine = o.serverName === undefined ? "" : `server: ${o.serverName}\r\n`;
  }

  get connections(): number {
    return this.conns.size;
  }

  handleConnection(flow: Flow): Promise<void> {
    if (this.closing !== null) {
      void flow.close();
      return Promise.resolve();
    }
    const f = flow as Partial<{ setNoDelay(b: boolean): void }>;
    if (typeof f.setNoDelay === "function") {
      try {
        f.setNoDelay(true);
      } catch {
        /* not supported */
      }
    }
    if (this.conns.size >= this.maxConnections) {
      this.rejected++;
      this.drops.drop("connection-limit");
      const c = new Connection(this, flow, false);
      c.reject(503);
      return c.finished;
    }
    this.accepted++;
    const c = new Connection(this, flow, true);
    this.conns.add(c);
    c.start();
    return c.finished;
  }

  async serve(listener: TcpListener): Promise<void> {
    if (this.closing !== null) {
      await listener.close();
      return;
    }
    this.listeners.add(listener);
    try {
      for (;;) {
        const flow = await listener.accept();
        if (flow === null) break;
        void this.handleConnection(flow);
      }
    } finally {
      this.listeners.delete(listener);
    }
  }

  async listen(tcp: Tcp, opts: TcpListenOptions): Promise<TcpListener> {
    if (this.closing !== null) throw new MorganaError("ERR_SOCKET_CLOSED", "the HTTP server is closed");
    const listener = await tcp.listen(opts);
    void this.serve(listener).catch((e) => this.onError(e));
    return listener;
  }

  close(opts: HttpServerCloseOptions = {}): Promise<void> {
    if (this.closing !== null) return this.closing;
    const deadlineMs = opts.deadlineMs ?? 30_000;
    this.draining = true;
    this.closing = (async () => {
      await Promise.all([...this.listeners].map((l) => l.close().catch(noop)));
      const all = [...this.conns];
      for (const c of all) c.drain();
      if (this.conns.size === 0) return;
      const timer = this.clock.setTimer(deadlineMs, () => {
        for (const c of [...this.conns]) c.fail(new MorganaError("ECONNABORTED", "the HTTP server shut down"), "shutdown-deadline");
      });
      await Promise.all(all.map((c) => c.finished));
      timer.cancel();
    })();
    return this.closing;
  }

  stats(): LayerStats {
    return {
      counters: {
        connections: this.conns.size,
        connectionsAccepted: this.accepted,
        connectionsRejected: this.rejected,
        requests: this.requests,
        responses: this.responses,
        keepAliveReuses: this.reused,
        upgrades: this.upgrades,
        idleTimeouts: this.idleClosed,
      },
      drops: this.drops.snapshot(),
    };
  }
}

type DeadlineKind = "idle" | "headers" | "body";

class Connection {
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private readonly parser: HttpParser;
  private readonly deadline: Deadline<DeadlineKind>;
  /** Armed while a response write is pending. */
  private readonly sendDeadline: Deadline<"send">;
  private readonly remote: SocketAddress | undefined;
  private readonly local: SocketAddress | undefined;
  private readonly queue: Exchange[] = [];
  private cur: Exchange | null = null;
  private index = 0;
  private writing = false;
  /** No further request is parsed (close requested, error, draining, EOF, upgrade). */
  private readStopped = false;
  private eofSeen = false;
  private closing = false;
  private done = false;
  private handedOver = false;
  private discardedAfterStop = 0;
  private lingerTimer: { cancel(): void } | null = null;
  private wakeFn: (() => void) | null = null;
  /** The last Host value in the simple form and its origin (`http://host[:port]`), for {@link simpleHref}. */
  private lastHost = "";
  private lastOrigin: string | null = null;
  /** Writes handed to the flow and not yet accepted, and their bytes (reset when none is pending). */
  private writesPending = 0;
  private pendingBytes = 0;
  /** The writer waits for pending writes (backpressure, or an upgrade hand-over). */
  private waitingWrites = false;
  /** endConnection() waits for pending writes. */
  private endWhenWritten = false;

  constructor(
    private readonly server: Server,
    private readonly flow: Flow,
    private readonly counted: boolean,
  ) {
    this.finished = new Promise((r) => (this.resolveFinished = r));
    const t = flow as Partial<{ remote: SocketAddress; local: SocketAddress }>;
    this.remote = t.remote;
    this.local = t.local;
    this.deadline = new Deadline(server.clock, (k) => this.expired(k));
    this.sendDeadline = new Deadline(server.clock, () => {
      this.fail(new MorganaError("ETIMEDOUT", "the client did not read the response"), "send-timeout");
    });
    this.parser = new HttpParser(
      "request",
      {
        onMessageBegin: () => this.onMessageBegin(),
        onHeaders: (h) => this.onHeaders(h),
        onBody: (d) => this.onBody(d),
        onMessageComplete: () => this.onMessageComplete(),
      },
      server.parserOptions,
    );
  }

  start(): void {
    this.deadline.set("idle", this.server.idleTimeoutMs);
    void this.readLoop();
  }

  /** Over the connection cap: answer `status` and close. */
  reject(status: number): void {
    this.readStopped = true;
    this.queue.push(this.errorExchange(status));
    this.maybeWrite();
    void this.readLoop();
  }

  // ---- parser callbacks ----

  private onMessageBegin(): CallbackResult {
    this.deadline.set("headers", this.server.headersTimeoutMs);
    return undefined;
  }

  private onHeaders(head: HttpMessageHead): CallbackResult {
    const server = this.server;
    this.deadline.clear();
    server.requests++;
    if (this.index > 0) server.reused++;
    const ex: Exchange = {
      head,
      isHead: head.method === "HEAD",
      outcome: null,
      body: null,
      bodyDone: false,
      discard: false,
      discarded: 0,
      close: !head.keepAlive || server.draining,
      expectContinue: false,
      continueSent: false,
      continueWanted: false,
      upgrade: false,
      rest: null,
      writing: false,
    };
    this.cur = ex;
    this.queue.push(ex);
    const index = this.index++;
    const hasBody = head.bodyKind !== "none";

    if (head.upgrade) {
      if (server.onUpgrade !== undefined) {
        ex.upgrade = true;
        ex.discard = true; // the body of an Upgrade request is not delivered
        return undefined;
      }
      if (head.method === "CONNECT" || head.method === "PRI") return this.refuse(ex, 501);
      // Otherwise the Upgrade field is ignored (RFC 9110 §7.8); the read loop resumes HTTP.
    }

    if (head.rawHeaders.length > 0) {
      const expect = head.get("expect");
      if (expect !== undefined) {
        if (expect.trim().toLowerCase() !== "100-continue") return this.refuse(ex, 417);
        // RFC 9110 §10.1.1: no 100 for HTTP/1.0 clients.
        ex.expectContinue = hasBody && head.versionMinor >= 1;
      }
    }

    // The URL: Host (validated), else our address.
    let host = head.get("host");
    let origin: string | null = null;
    if (host === undefined || host === "") host = this.local !== undefined ? `${this.local.address}:${this.local.port}` : "localhost";
    if (host === this.lastHost) origin = this.lastOrigin;
    else if (!isValidHost(host)) return this.refuse(ex, 400);
    else if ((origin = simpleOrigin(host)) !== null) {
      this.lastHost = host;
      this.lastOrigin = origin;
    }
    const t = head.target;
    let url: string;
    if (t.charCodeAt(0) === 0x2f) url = "http://" + host + t;
    else if (t === "*") url = "http://" + host + "/";
    else if (/^https?:\/\//i.test(t)) url = t;
    else return this.refuse(ex, 400);

    const method = normaliseMethod(head.method);
    if (!NORMALISED_METHODS.has(method) && FORBIDDEN_METHODS.has(method.toUpperCase())) return this.refuse(ex, method === "TRACE" || method === "TRACK" ? 501 : 400);
    // What `new URL(url).href` gives, without the URL parser in the common case.
    let href = origin === null ? null : t === "*" ? origin + "/" : simpleHref(origin, t);
    if (href === null) {
      try {
        const u = new URL(url);
        // A platform Request refuses credentials in its URL.
        if (u.username !== "" || u.password !== "") return this.refuse(ex, 400);
        href = u.href;
      } catch {
        return this.refuse(ex, 400);
      }
    }
    if (server.checkHeaders) {
      // Lenient parsing may let through fields that Headers refuses.
      try {
        const h = new Headers();
        const raw = head.rawHeaders;
        for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
      } catch {
        return this.refuse(ex, 400);
      }
    }
    let body: ReadableStream<Uint8Array> | null = null;
    if (hasBody) {
      if (method === "GET" || method === "HEAD") {
        ex.discard = true; // a platform Request cannot carry a GET/HEAD body: it is read and dropped
      } else {
        const pipe = new BodyPipe(server.bodyBufferBytes);
        ex.body = pipe;
        pipe.onPull = () => this.bodyPulled(ex);
        pipe.onCancel = () => {
          ex.discard = true;
          this.kick();
        };
        body = pipe.stream;
      }
    }
    let request: Request;
    try {
      request = createServerRequest({ method, url: href, rawHeaders: head.rawHeaders, body });
    } catch {
      ex.body = null;
      return this.refuse(ex, 400);
    }
    const info: HttpRequestInfo = { head, remote: this.remote, local: this.local, index };
    // The handler runs in a microtask, outside the parser's callback (a resolved
    // promise's reaction costs less than queueMicrotask, which Node wraps in an AsyncResource).
    RESOLVED.then(() => this.runHandler(ex, request, info));
    this.maybeWrite();
    return undefined;
  }

  private runHandler(ex: Exchange, request: Request, info: HttpRequestInfo): void {
    let r: Response | Promise<Response>;
    try {
      r = this.server.handler(request, info);
    } catch (e) {
      this.handlerFailed(ex, e);
      return;
    }
    if (r !== null && typeof r === "object" && typeof (r as Promise<Response>).then === "function") {
      (r as Promise<Response>).then(
        (v) => this.settle(ex, v),
        (e) => this.handlerFailed(ex, e),
      );
    } else {
      this.settle(ex, r as Response);
    }
  }

  private onBody(data: Uint8Array): CallbackResult {
    const ex = this.cur!;
    const pipe = ex.body;
    if (pipe === null || ex.discard) {
      ex.discarded += data.length;
      if (ex.discarded > this.server.maxDiscardBytes) {
        this.server.drops.drop("discard-limit");
        ex.close = true;
        this.stopReading();
        return "pause";
      }
      return undefined;
    }
    return pipe.push(data) ? "pause" : undefined;
  }

  private onMessageComplete(): CallbackResult {
    const ex = this.cur;
    this.cur = null;
    if (ex !== null) {
      ex.bodyDone = true;
      ex.body?.close();
      if (ex.close) this.readStopped = true;
    }
    if (this.readStopped) return "pause";
    if (this.queue.length >= this.server.maxPipelined) return "pause";
    return undefined;
  }

  // ---- reading ----

  private async readLoop(): Promise<void> {
    const parser = this.parser;
    const flow = this.flow;
    for (;;) {
      if (!this.readStopped) this.readDeadline();
      let chunk: Uint8Array | null;
      try {
        chunk = await flow.read();
      } catch (e) {
        if (!this.done) this.fail(e, this.closing ? "linger-error" : "read-error");
        return;
      }
      if (this.done) return;
      if (chunk === null) {
        this.eofSeen = true;
        if (!this.readStopped) this.endOfInput();
        if (this.closing) this.finish();
        else this.checkEnd();
        return;
      }
      if (this.readStopped) {
        // Lingering: the input is read and dropped (bounded).
        this.discardedAfterStop += chunk.length;
        if (this.discardedAfterStop > LINGER_BYTES) {
          if (this.closing) {
            this.finish();
            return;
          }
          // Stop reading until the responses are written, then close.
          await this.waitClosing();
          this.finish();
          return;
        }
        continue;
      }
      let off = 0;
      while (off < chunk.length) {
        try {
          off += parser.execute(chunk, off);
        } catch (e) {
          if (e instanceof HttpParseError) this.parseError(e);
          else this.fail(e, "parser-callback");
          break;
        }
        if (this.done) return;
        if (parser.upgraded) {
          const ex = this.queue[this.queue.length - 1];
          if (ex !== undefined && ex.upgrade) {
            ex.rest = chunk.subarray(off);
            this.readStopped = true;
            this.deadline.clear();
            this.maybeWrite();
            return; // the flow belongs to onUpgrade from here on
          }
          parser.resumeAfterUpgrade();
        }
        if (this.readStopped) break;
        if (parser.paused) {
          if (this.mustWait()) {
            this.deadline.clear();
            do {
              await new Promise<void>((r) => (this.wakeFn = r));
              if (this.done) return;
            } while (this.mustWait());
          }
          if (this.readStopped) break;
          parser.resume();
        }
      }
      if (this.readStopped) this.checkEnd();
    }
  }

  /** Sets the read deadline for the wait that follows. */
  private readDeadline(): void {
    const cur = this.cur;
    if (cur !== null) {
      if (cur.expectContinue && !cur.continueSent) this.deadline.clear();
      else this.deadline.set("body", this.server.bodyTimeoutMs);
    } else if (!this.parser.idle) {
      // In a header section: the headers deadline set at its first byte runs on.
    } else if (this.queue.length === 0) {
      if (this.deadline.kind !== "idle") this.deadline.set("idle", this.server.idleTimeoutMs);
    } else {
      this.deadline.clear();
    }
  }

  private mustWait(): boolean {
    if (this.done || this.readStopped) return false;
    const cur = this.cur;
    if (cur !== null && cur.body !== null && !cur.discard && cur.body.full) return true;
    return this.parser.idle && this.queue.length >= this.server.maxPipelined;
  }

  private kick(): void {
    const w = this.wakeFn;
    if (w !== null) {
      this.wakeFn = null;
      w();
    }
  }

  private waitClosing(): Promise<void> {
    return new Promise<void>((r) => {
      const check = (): void => {
        if (this.closing || this.done) r();
        else this.wakeFn = check;
      };
      check();
    });
  }

  private stopReading(): void {
    this.readStopped = true;
    this.deadline.clear();
    this.kick();
  }

  /** The peer finished sending. */
  private endOfInput(): void {
    this.readStopped = true;
    this.deadline.clear();
    try {
      this.parser.finish();
    } catch (e) {
      // The stream ended inside a request: its body (if a handler reads it) fails.
      const ex = this.cur;
      if (ex !== null) {
        ex.body?.error(e);
        ex.close = true;
        this.override(ex, { status: (e as HttpParseError).status ?? 400, close: true });
      }
      this.server.drops.drop("eof-in-request");
    }
  }

  private parseError(e: HttpParseError): void {
    this.server.drops.drop(`bad-request:${e.httpCode}`);
    this.stopReading();
    const ex = this.cur;
    if (ex !== null) {
      // The error is in the body of a request whose handler runs: it fails, and the answer is the error.
      ex.body?.error(e);
      ex.close = true;
      this.override(ex, { status: e.status, close: true });
    } else {
      this.queue.push(this.errorExchange(e.status));
      this.maybeWrite();
    }
  }

  private refuse(ex: Exchange, status: number): CallbackResult {
    this.server.drops.drop(`refused:${status}`);
    ex.outcome = { status, close: true };
    ex.close = true;
    this.readStopped = true;
    this.maybeWrite();
    return "pause";
  }

  private errorExchange(status: number): Exchange {
    return {
      head: null,
      isHead: false,
      outcome: { status, close: true },
      body: null,
      bodyDone: true,
      discard: true,
      discarded: 0,
      close: true,
      expectContinue: false,
      continueSent: false,
      continueWanted: false,
      upgrade: false,
      rest: null,
      writing: false,
    };
  }

  private expired(kind: DeadlineKind): void {
    if (this.done || this.closing) return;
    const server = this.server;
    if (kind === "idle") {
      if (this.queue.length === 0 && this.parser.idle) {
        server.idleClosed++;
        this.readStopped = true;
        this.endConnection();
      }
      return;
    }
    if (kind === "headers") {
      server.drops.drop("headers-timeout");
      this.stopReading();
      if (this.queue.length === 0) {
        this.queue.push(this.errorExchange(408));
        this.maybeWrite();
      } else {
        this.fail(new MorganaError("ETIMEDOUT", "request header timeout"), null);
      }
      return;
    }
    // body
    server.drops.drop("body-timeout");
    this.stopReading();
    const ex = this.cur;
    if (ex !== null) {
      ex.body?.error(new MorganaError("ETIMEDOUT", "request body timeout"));
      ex.close = true;
      this.override(ex, { status: 408, close: true });
    }
    this.checkEnd();
  }

  // ---- handler results ----

  private settle(ex: Exchange, v: unknown): void {
    if (!isResponse(v)) {
      this.handlerFailed(ex, new TypeError(`the handler returned ${v === null ? "null" : typeof v}, not a Response`));
      return;
    }
    if (this.done || ex.outcome !== null) {
      cancelBody(v);
      return;
    }
    ex.outcome = v;
    if (this.queue[0] === ex) this.maybeWrite();
  }

  private handlerFailed(ex: Exchange, err: unknown): void {
    this.server.drops.drop("handler-error");
    try {
      this.server.onError(err);
    } catch {
      /* ignore */
    }
    if (ex.outcome === null && !this.done) {
      ex.outcome = { status: 500, close: false };
      if (this.queue[0] === ex) this.maybeWrite();
    }
  }

  /** Replaces a response not yet being written (timeouts, body errors). */
  private override(ex: Exchange, spec: ErrorSpec): void {
    if (ex.writing) return;
    const prev = ex.outcome;
    if (prev !== null && !isErrorSpec(prev)) cancelBody(prev);
    ex.outcome = spec;
    this.maybeWrite();
  }

  private bodyPulled(ex: Exchange): void {
    if (ex.expectContinue && !ex.continueSent && !ex.writing) {
      if (this.queue[0] === ex) this.sendContinue(ex);
      else ex.continueWanted = true;
    }
    this.kick();
  }

  private sendContinue(ex: Exchange): void {
    ex.continueSent = true;
    this.flow.write(CONTINUE.slice()).catch(noop);
    // The client now sends the body: its timeout starts when the read loop waits again.
    if (this.cur === ex && this.deadline.kind === null) this.deadline.set("body", this.server.bodyTimeoutMs);
  }

  // ---- writing ----

  private maybeWrite(): void {
    if (!this.writing && !this.done && this.queue.length > 0) this.pump();
  }

  /**
   * Writes the responses at the head of the queue, in order. A response
   * that is complete at hand (a string or bytes body, no body, an error) is
   * serialised and written synchronously, without waiting for the write to
   * be accepted (the flow keeps writes in order; the next response waits
   * while 16 KiB or more are still pending, and the send timeout runs while
   * anything is); other bodies go through {@link writeStreamed}. Returns
   * when the head of the queue has no response yet (`settle` calls again),
   * when the queue is empty, or while a streamed body is being written.
   */
  private pump(): void {
    this.writing = true;
    for (;;) {
      if (this.done) {
        this.writing = false;
        return;
      }
      const ex = this.queue[0];
      if (ex === undefined) break;
      if (ex.upgrade) {
        if (ex.rest === null) break; // the read loop calls again once the request is complete
        if (this.writesPending > 0) {
          this.waitingWrites = true; // hand over once the earlier responses were accepted
          return;
        }
        this.writing = false;
        this.handOver(ex);
        return;
      }
      if (ex.continueWanted && !ex.continueSent && !ex.bodyDone) this.sendContinue(ex);
      const outcome = ex.outcome;
      if (outcome === null) {
        this.writing = false;
        return;
      }
      if (this.writesPending > 0 && this.pendingBytes >= SMALL_WRITE) {
        this.waitingWrites = true; // onWritten resumes
        return;
      }
      ex.writing = true;
      let keep: boolean | Promise<boolean>;
      try {
        keep = isErrorSpec(outcome) ? this.writeError(ex, outcome) : this.writeResponse(ex, outcome);
      } catch (e) {
        this.writing = false;
        if (!this.done) this.fail(e, "write-error");
        return;
      }
      if (typeof keep !== "boolean") {
        keep.then(
          (k) => {
            if (this.done) return;
            if (this.written(ex, k)) this.pump();
            else this.writing = false;
          },
          (e: unknown) => {
            this.writing = false;
            if (!this.done) this.fail(e, "write-error");
          },
        );
        return;
      }
      if (!this.written(ex, keep)) {
        this.writing = false;
        return;
      }
    }
    this.writing = false;
    if (this.readStopped) this.checkEnd();
    else if (this.queue.length === 0 && this.parser.idle) this.deadline.set("idle", this.server.idleTimeoutMs);
  }

  /** The response of the head of the queue is written (or being written): next. Returns false when the connection ends. */
  private written(ex: Exchange, keep: boolean): boolean {
    this.queue.shift();
    this.server.responses++;
    if (!ex.bodyDone && !keep) {
      ex.body?.error(new MorganaError("ECANCELED", "the response was sent before the request body was complete"));
    } else if (!ex.bodyDone) {
      // The rest of the request body is read and dropped (bounded by maxDiscardBytes).
      ex.discard = true;
      ex.body?.error(new MorganaError("ECANCELED", "the response was sent before the request body was complete"));
      this.kick();
    }
    if (!keep) {
      this.readStopped = true;
      this.endConnection();
      return false;
    }
    this.kick();
    return true;
  }

  /** Should this response keep the connection open (before the handler's own fields)? */
  private keepAliveFor(ex: Exchange): boolean {
    if (ex.close || ex.head === null || !ex.head.keepAlive) return false;
    if (this.server.draining && this.queue.length === 1 && (this.readStopped || this.parser.idle)) return false;
    if (ex.expectContinue && !ex.continueSent && !ex.bodyDone) return false;
    return true;
  }

  private writeError(ex: Exchange, spec: ErrorSpec): boolean {
    const keep = !spec.close && ex.head !== null && this.keepAliveFor(ex);
    const text = `${spec.status} ${STATUS_TEXT[spec.status] ?? ""}\n`;
    let s = statusLine(spec.status, "");
    if (this.server.dateLine !== null) s += this.server.dateLine.get();
    s += this.server.serverLine;
    s += `content-type: text/plain; charset=utf-8\r\ncontent-length: ${text.length}\r\n`;
    s += keep ? (ex.head!.versionMinor === 0 ? "connection: keep-alive\r\n\r\n" : "\r\n") : "connection: close\r\n\r\n";
    if (!ex.isHead) s += text;
    this.writeHead(s);
    return keep;
  }

  /**
   * Writes one response. Framing: the handler's Content-Length when it set
   * one; otherwise, if the body ends within a few microtask turns after at
   * most 64 KiB (a Response built from a string or bytes does), a
   * Content-Length and one write of head and body; otherwise chunked
   * (HTTP/1.1) or delimited by closing the connection (HTTP/1.0). Returns
   * whether the connection stays open: at once when the response was
   * written synchronously (no body, or a body known without reading its
   * stream), else a promise.
   */
  private writeResponse(ex: Exchange, res: Response): boolean | Promise<boolean> {
    const head = ex.head!;
    const status = res.status;
    const http10 = head.versionMinor === 0;
    let keep = this.keepAliveFor(ex);
    let userLength = -1;
    let hasDate = false;
    let hasServer = false;
    let fields = "";
    for (const [name, value] of responseFields(res)) {
      switch (name) {
        case "content-length": {
          const n = /^[0-9]{1,15}$/.test(value) ? Number(value) : NaN;
          if (Number.isFinite(n)) userLength = n;
          continue;
        }
        case "transfer-encoding":
        case "keep-alive":
          continue;
        case "connection":
          if (/(^|[\s,])close($|[\s,])/i.test(value)) keep = false;
          continue;
        case "date":
          hasDate = true;
          break;
        case "server":
          hasServer = true;
          break;
      }
      fields += name + ": " + value + "\r\n";
    }
    let s = statusLine(status, res.statusText);
    if (!hasDate && this.server.dateLine !== null) s += this.server.dateLine.get();
    if (!hasServer) s += this.server.serverLine;
    s += fields;

    const body = res.body;
    if (status === 204 || status === 304 || status < 200) {
      if (body !== null) cancelBody(res);
      if (status === 304 && userLength >= 0) s += `content-length: ${userLength}\r\n`;
      this.writeHead(s + this.connectionLine(keep, http10));
      return keep;
    }
    if (body === null) {
      if (!ex.isHead || userLength >= 0) s += `content-length: ${ex.isHead ? userLength : 0}\r\n`;
      this.writeHead(s + this.connectionLine(keep, http10));
      return keep;
    }
    if (userLength >= 0 && ex.isHead) {
      cancelBody(res);
      this.writeHead(s + `content-length: ${userLength}\r\n` + this.connectionLine(keep, http10));
      return keep;
    }

    // A body built from a string or bytes: one write of head and body, no stream reads.
    const known = knownBody(res, body);
    if (known !== null && (userLength < 0 || userLength === known.length)) {
      s += `content-length: ${known.length}\r\n` + this.connectionLine(keep, http10);
      if (ex.isHead || known.length === 0) {
        this.writeHead(s);
      } else if (known.length + s.length <= SMALL_WRITE || known.bytes === null) {
        const out = allocOut(s.length + known.length);
        const off = writeHeadBytes(s, out);
        if (known.bytes !== null) out.set(known.bytes, off);
        else if (known.text.length === known.length && known.length <= 64) writeLatin1(known.text, out, off); // ASCII (as long in UTF-8 as in UTF-16), short
        else if (writeUtf8(known.text, out, off) !== known.length) throw new Error("knownBody: length mismatch");
        this.track(this.flow.write(out), out.length);
      } else {
        this.track(this.flow.writev([encodeOut(s), known.bytes.slice()]), s.length + known.length);
      }
      return keep;
    }
    return this.writeStreamed(ex, body, s, keep, userLength, http10);
  }

  /** The rest of {@link writeResponse}: a body read from its stream. */
  private async writeStreamed(
    ex: Exchange,
    body: ReadableStream<Uint8Array>,
    s: string,
    keep: boolean,
    userLength: number,
    http10: boolean,
  ): Promise<boolean> {
    const reader = body.getReader();
    let failed = true;
    const server = this.server;
    try {
      if (userLength >= 0) {
        await this.send(encodeOut(s + `content-length: ${userLength}\r\n` + this.connectionLine(keep, http10)));
        let sent = 0;
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          const bytes = asBytes(r.value);
          if (bytes === null) throw new TypeError("a response body chunk is not bytes");
          if (sent + bytes.length > userLength) throw new MorganaError("EMSGSIZE", `the response body is longer than its Content-Length ${userLength}`);
          sent += bytes.length;
          if (bytes.length > 0) await this.send(bytes);
        }
        if (sent !== userLength) throw new MorganaError("EMSGSIZE", `the response body (${sent} bytes) is shorter than its Content-Length ${userLength}`);
        failed = false;
        return keep;
      }

      // Unknown length: read ahead what is available at once (a Response built
      // from a string or bytes has its one chunk and its end within two turns).
      const chunks: Uint8Array[] = [];
      let total = 0;
      let pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]> | null = null;
      let ended = false;
      try {
        for (;;) {
          const p = reader.read();
          const r = await settledSoon(p);
          if (r === NOT_YET) {
            pending = p;
            break;
          }
          if (r.done) {
            ended = true;
            break;
          }
          const bytes = asBytes(r.value);
          if (bytes === null) throw new TypeError("a response body chunk is not bytes");
          if (bytes.length === 0) continue;
          chunks.push(bytes);
          total += bytes.length;
          if (total >= 65536) {
            // Enough to send: one more look decides between a length and chunked.
            const q = reader.read();
            const last = await settledSoon(q);
            if (last === NOT_YET) pending = q;
            else if (last.done) ended = true;
            else {
              const more = asBytes(last.value);
              if (more === null) throw new TypeError("a response body chunk is not bytes");
              chunks.push(more);
              total += more.length;
            }
            break;
          }
        }
      } catch (e) {
        // Nothing was written yet: the body failed before its first byte.
        server.drops.drop("response-body-error");
        server.onError(e);
        return this.writeError(ex, { status: 500, close: false });
      }
      if (ended) {
        s += `content-length: ${total}\r\n` + this.connectionLine(keep, http10);
        if (ex.isHead || total === 0) await this.send(encodeOut(s));
        else await this.writeHeadAndChunks(s, chunks, total);
        failed = false;
        return keep;
      }
      if (ex.isHead) {
        reader.cancel().catch(noop);
        pending?.catch(noop);
        await this.send(encodeOut(s + (http10 ? "" : "transfer-encoding: chunked\r\n") + this.connectionLine(keep && !http10, http10)));
        failed = false;
        return keep && !http10;
      }
      if (http10) {
        // No chunked coding for HTTP/1.0: the body ends with the connection.
        keep = false;
        await this.writeHeadAndChunks(s + this.connectionLine(false, true), chunks, total);
        for (;;) {
          const r = await (pending ?? reader.read());
          pending = null;
          if (r.done) break;
          const bytes = asBytes(r.value);
          if (bytes === null) throw new TypeError("a response body chunk is not bytes");
          if (bytes.length > 0) await this.send(bytes);
        }
        failed = false;
        return false;
      }
      s += "transfer-encoding: chunked\r\n" + this.connectionLine(keep, false);
      const parts: Uint8Array[] = [encodeOut(s)];
      if (total > 0) parts.push(encodeOut(total.toString(16) + "\r\n"), ...chunks, CRLF.slice());
      await this.sendv(parts);
      for (;;) {
        const r = await (pending ?? reader.read());
        pending = null;
        if (r.done) break;
        const bytes = asBytes(r.value);
        if (bytes === null) throw new TypeError("a response body chunk is not bytes");
        if (bytes.length === 0) continue;
        await this.sendv([encodeOut(bytes.length.toString(16) + "\r\n"), bytes, CRLF.slice()]);
      }
      await this.send(LAST_CHUNK.slice());
      failed = false;
      return keep;
    } finally {
      if (failed) reader.cancel().catch(noop);
    }
  }

  /** flow.write under the send timeout. */
  private send(data: Uint8Array): Promise<void> {
    return this.track(this.flow.write(data), data.length);
  }

  private sendv(chunks: Uint8Array[]): Promise<void> {
    let n = 0;
    for (const c of chunks) n += c.length;
    return this.track(this.flow.writev(chunks), n);
  }

  /** A header section (latin1) in one write, not awaited. */
  private writeHead(s: string): void {
    const out = encodeOut(s);
    this.track(this.flow.write(out), out.length);
  }

  /**
   * Counts a write until the flow accepts it, under the send timeout (armed
   * while any write is pending). A failed write fails the connection.
   */
  private track(p: Promise<void>, bytes: number): Promise<void> {
    this.writesPending++;
    this.pendingBytes += bytes;
    this.sendDeadline.set("send", this.server.sendTimeoutMs);
    p.then(this.onWritten, this.onWriteFailed);
    return p;
  }

  private readonly onWritten = (): void => {
    if (--this.writesPending > 0) return;
    this.pendingBytes = 0;
    this.sendDeadline.clear();
    if (this.done) return;
    if (this.endWhenWritten) {
      this.endWhenWritten = false;
      this.endConnection();
    } else if (this.waitingWrites) {
      this.waitingWrites = false;
      this.pump();
    }
  };

  private readonly onWriteFailed = (e: unknown): void => {
    this.writesPending--;
    if (!this.done) this.fail(e, "write-error");
  };

  private connectionLine(keep: boolean, http10: boolean): string {
    if (!keep) return "connection: close\r\n\r\n";
    return http10 ? "connection: keep-alive\r\n\r\n" : "\r\n";
  }

  private async writeHeadAndChunks(head: string, chunks: Uint8Array[], total: number): Promise<void> {
    if (total + head.length <= SMALL_WRITE) {
      const out = allocOut(head.length + total);
      let off = writeHeadBytes(head, out);
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      await this.send(out);
    } else {
      await this.sendv([encodeOut(head), ...chunks]);
    }
  }

  // ---- ending ----

  private handOver(ex: Exchange): void {
    const server = this.server;
    const upgrade = server.onUpgrade!;
    server.upgrades++;
    this.handedOver = true;
    this.queue.length = 0;
    this.finish(false);
    const u: HttpUpgrade = { head: ex.head!, flow: this.flow, rest: ex.rest ?? new Uint8Array(0), remote: this.remote, local: this.local };
    void (async () => {
      try {
        await upgrade(u);
      } catch (e) {
        server.drops.drop("upgrade-error");
        server.onError(e);
        this.flow.abort();
      }
    })();
  }

  /** Closes gracefully after the responses: FIN, then linger (read and drop input) before close. */
  private endConnection(): void {
    if (this.closing || this.done) return;
    if (this.writesPending > 0) {
      // FIN (or close) once the last responses were accepted, under the send timeout.
      this.endWhenWritten = true;
      return;
    }
    this.closing = true;
    this.readStopped = true;
    this.deadline.dispose();
    if (this.eofSeen) {
      this.finish();
      return;
    }
    this.flow.shutdown().catch(noop);
    this.lingerTimer = this.server.clock.setTimer(this.server.lingerMs, () => this.finish());
    this.kick();
  }

  /** Ends gracefully once nothing is left to write and no more requests will be read. */
  private checkEnd(): void {
    if (this.readStopped && !this.writing && this.queue.length === 0 && !this.closing && !this.done) this.endConnection();
  }

  /** Server shutdown: close when idle, else after the requests already read. */
  drain(): void {
    if (this.done || this.closing) return;
    if (this.parser.idle && this.cur === null) {
      this.readStopped = true;
      const last = this.queue[this.queue.length - 1];
      if (last !== undefined && !last.writing) last.close = true;
      this.kick();
      this.checkEnd();
    }
    // Otherwise a request is being received: it is answered with Connection: close (onHeaders).
  }

  fail(err: unknown, reason: string | null): void {
    if (this.done) return;
    if (reason !== null) this.server.drops.drop(reason);
    this.flow.abort(err instanceof Error ? err : undefined);
    this.finish(false);
  }

  /** The connection is over: release everything; `close` the flow unless it was aborted or handed over. */
  private finish(close = true): void {
    if (this.done) return;
    this.done = true;
    this.readStopped = true;
    this.deadline.dispose();
    this.sendDeadline.dispose();
    this.lingerTimer?.cancel();
    this.lingerTimer = null;
    if (close && !this.handedOver) void this.flow.close();
    if (this.counted) this.server.conns.delete(this);
    const gone = new MorganaError("ECONNABORTED", "the connection closed");
    for (const ex of this.queue) {
      ex.body?.error(gone);
      if (ex.outcome !== null && !isErrorSpec(ex.outcome) && !ex.writing) cancelBody(ex.outcome);
    }
    this.cur?.body?.error(gone);
    this.queue.length = 0;
    this.kick();
    this.resolveFinished();
  }
}
