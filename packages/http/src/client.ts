/**
 * A `fetch`-compatible HTTP/1.1 client over any `Tcp` (either stack), with
 * names resolved through an injected `Resolver`: connection pooling with
 * keep-alive per origin, every body framing, redirects per the Fetch
 * standard, AbortSignal and timeouts from an injected `Clock`, streaming
 * response bodies with backpressure.
 */
import {
  DropCounters,
  isIpv4,
  MorganaError,
  type Clock,
  type LayerStats,
  type Resolver,
  type Tcp,
  type TcpFlow,
} from "@morgana/interfaces";
import { BodyPipe } from "./body.js";
import { Deadline } from "./deadline.js";
import { HttpParseError } from "./errors.js";
import type { HttpMessageHead } from "./head.js";
import { HttpParser, type CallbackResult, type HttpParserOptions } from "./parser.js";
import { asBytes, CRLF, encodeLatin1, isByteString, LAST_CHUNK, writeLatin1 } from "./wire.js";

export interface FetchPoolOptions {
  /** Connections per origin (host:port), busy or idle; further requests wait for one. Default 6. */
  readonly maxSocketsPerOrigin?: number;
  /** An idle keep-alive connection is closed after this long (or the server's `Keep-Alive: timeout`, less 1 s, if shorter). Default 4000 ms. */
  readonly idleTimeoutMs?: number;
}

export interface FetchOptions {
  /** The transport: any object with a `tcp` (a Stack). */
  readonly stack: { readonly tcp: Tcp };
  /** Resolves host names; IPv4 literals are used directly, and without a resolver `localhost` is 127.0.0.1 and other names fail with ENOTFOUND. */
  readonly resolver?: Resolver;
  /** Times the timeouts and the idle pool. */
  readonly clock: Clock;
  readonly pool?: FetchPoolOptions;
  /** TCP connect timeout. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** From the request sent to the response's header section. Default 300 000 ms. */
  readonly headersTimeoutMs?: number;
  /** Longest wait for more response body bytes while the caller reads. Default 300 000 ms. */
  readonly bodyTimeoutMs?: number;
  /** The whole request, response body included. Default none. */
  readonly timeoutMs?: number;
  /** Redirects followed at most (the Fetch standard's 20). */
  readonly maxRedirections?: number;
  /** Sent as `User-Agent` unless the request has one. Default none. */
  readonly userAgent?: string;
  /** Response body bytes buffered ahead of the reader before the connection is no longer read. Default 65 536. */
  readonly responseBodyBufferBytes?: number;
  /** A cancelled response body is read and dropped up to this many bytes to keep the connection; beyond, the connection is closed. Default 65 536. */
  readonly maxDrainBytes?: number;
  /** Response parser options (limits, lenient flags). */
  readonly parserOptions?: HttpParserOptions;
}

/** The function `createFetch` returns: `fetch(input, init)` plus pool management. */
export interface HttpFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Closes idle connections and refuses new requests (`ERR_SOCKET_CLOSED`); busy connections close when their response ends. */
  close(): Promise<void>;
  stats(): LayerStats;
}

const noop = (): void => {};
const REDIRECT = new Set([301, 302, 303, 307, 308]);
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
const NORMALIZED = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"]);
const REQUEST_BODY_HEADERS = ["content-encoding", "content-language", "content-location", "content-type"];
const SKIP_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection", "keep-alive"]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const SMALL_WRITE = 16384;

/** A request body: replayable bytes, or a stream sent chunked (not replayable). */
type BodySource = { readonly bytes: Uint8Array } | { readonly stream: ReadableStream<Uint8Array> };

function networkError(cause: unknown, message = "fetch failed"): TypeError {
  return new TypeError(message, { cause });
}

function positive(v: number | undefined, def: number, name: string): number {
  if (v === undefined) return def;
  if (!(v > 0)) throw new MorganaError("EINVAL", `createFetch: ${name} must be a positive number, not ${String(v)}`);
  return v;
}

/** Retry once on a reused connection that the server closed before answering. */
class StaleConnection extends Error {
  constructor(readonly original: unknown) {
    super("the server closed a reused keep-alive connection before answering");
  }
}

/**
 * Creates a `fetch` for `http:` URLs over `opts.stack.tcp`. `https:` and
 * other schemes reject with a TypeError (TLS is out of scope).
 */
export function createFetch(opts: FetchOptions): HttpFetch {
  const client = new Client(opts);
  const f = ((input: string | URL | Request, init?: RequestInit) => client.fetch(input, init)) as HttpFetch;
  f.close = () => client.close();
  f.stats = () => client.stats();
  return f;
}

interface Control {
  readonly signal: AbortSignal;
  /** The user's signal aborted (reject with its reason) rather than a timeout. */
  userAbort: boolean;
}

class Client {
  readonly tcp: Tcp;
  readonly resolver: Resolver | undefined;
  readonly clock: Clock;
  readonly maxPerOrigin: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly timeoutMs: number;
  readonly maxRedirections: number;
  readonly userAgent: string | undefined;
  readonly bodyBufferBytes: number;
  readonly maxDrainBytes: number;
  readonly parserOptions: HttpParserOptions;
  private readonly origins = new Map<string, OriginPool>();
  closed = false;
  readonly registry: FinalizationRegistry<ClientExchange> | null;
  /** The exchange behind each Response we made (to attach the fetch's cleanup to the final one). */
  readonly exchanges = new WeakMap<Response, ClientExchange>();

  // Counters.
  requests = 0;
  responses = 0;
  opened = 0;
  reusedRequests = 0;
  retries = 0;
  redirects = 0;
  poolWaits = 0;
  readonly drops = new DropCounters();

  constructor(o: FetchOptions) {
    if (o.stack === undefined || o.stack.tcp === undefined) throw new MorganaError("EINVAL", "createFetch: stack.tcp is required");
    if (o.clock === undefined || typeof o.clock.setTimer !== "function") throw new MorganaError("EINVAL", "createFetch: a clock is required");
    this.tcp = o.stack.tcp;
    this.resolver = o.resolver;
    this.clock = o.clock;
    this.maxPerOrigin = positive(o.pool?.maxSocketsPerOrigin, 6, "pool.maxSocketsPerOrigin");
    this.idleTimeoutMs = positive(o.pool?.idleTimeoutMs, 4000, "pool.idleTimeoutMs");
    this.connectTimeoutMs = positive(o.connectTimeoutMs, 10_000, "connectTimeoutMs");
    this.headersTimeoutMs = positive(o.headersTimeoutMs, 300_000, "headersTimeoutMs");
    this.bodyTimeoutMs = positive(o.bodyTimeoutMs, 300_000, "bodyTimeoutMs");
    this.timeoutMs = o.timeoutMs === undefined ? Infinity : positive(o.timeoutMs, Infinity, "timeoutMs");
    this.maxRedirections = o.maxRedirections ?? 20;
    if (!(this.maxRedirections >= 0)) throw new MorganaError("EINVAL", "createFetch: maxRedirections must be >= 0");
    this.userAgent = o.userAgent;
    this.bodyBufferBytes = positive(o.responseBodyBufferBytes, 65_536, "responseBodyBufferBytes");
    this.maxDrainBytes = o.maxDrainBytes ?? 65_536;
    this.parserOptions = o.parserOptions ?? {};
    this.registry = typeof FinalizationRegistry === "function" ? new FinalizationRegistry<ClientExchange>((ex) => ex.abandoned()) : null;
  }

  async fetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    // ---- normalize the request (as `new Request` would, without losing the body's length) ----
    const base = input instanceof Request ? input : null;
    let url: URL;
    try {
      url = new URL(base !== null ? base.url : String(input));
    } catch (e) {
      throw new TypeError(`invalid URL ${JSON.stringify(String(input))}`, { cause: e });
    }
    let method = init.method ?? base?.method ?? "GET";
    if (!TOKEN.test(method)) throw new TypeError(`invalid method ${JSON.stringify(method)}`);
    if (NORMALIZED.has(method.toUpperCase())) method = method.toUpperCase();
    if (method === "CONNECT" || method === "TRACE" || method === "TRACK") throw new TypeError(`'${method}' HTTP method is unsupported.`);
    let headers: Headers;
    try {
      headers = new Headers(init.headers ?? base?.headers ?? undefined);
    } catch (e) {
      throw new TypeError("invalid headers", { cause: e });
    }
    const redirectMode: NonNullable<RequestInit["redirect"]> = init.redirect ?? base?.redirect ?? "follow";
    const userSignal = init.signal ?? base?.signal ?? null;
    let body: BodySource | null = null;
    const rawBody = init.body !== undefined ? init.body : base !== null ? base.body : null;
    if (rawBody !== null && rawBody !== undefined) {
      if (method === "GET" || method === "HEAD") throw new TypeError("Request with GET/HEAD method cannot have body.");
      if (base !== null && init.body === undefined && base.bodyUsed) throw new TypeError("the request body was already used");
      body = await toBodySource(rawBody, headers);
    }
    if (userSignal?.aborted) throw userSignal.reason;
    this.checkUrl(url);
    if (this.closed) throw networkError(new MorganaError("ERR_SOCKET_CLOSED", "the fetch client is closed"));

    // ---- abort and the whole-request timeout ----
    const inner = new AbortController();
    const ctl: Control = { signal: inner.signal, userAbort: false };
    const onUserAbort = (): void => {
      ctl.userAbort = true;
      inner.abort(userSignal!.reason);
    };
    userSignal?.addEventListener("abort", onUserAbort, { once: true });
    const timer =
      this.timeoutMs < Infinity
        ? this.clock.setTimer(this.timeoutMs, () => {
            this.drops.drop("request-timeout");
            inner.abort(new MorganaError("ETIMEDOUT", `the request did not complete within ${this.timeoutMs} ms`));
          })
        : null;
    let cleaned = false;
    const cleanup = (): void => {
      if (cleaned) return;
      cleaned = true;
      userSignal?.removeEventListener("abort", onUserAbort);
      timer?.cancel();
    };

    // ---- redirects ----
    let redirects = 0;
    try {
      for (;;) {
        const res = await this.send(url, method, headers, body, ctl);
        const status = res.status;
        const location = REDIRECT.has(status) ? res.headers.get("location") : null;
        if (location === null || redirectMode === "manual") {
          const ex = this.exchanges.get(res);
          if (ex === undefined || ex.ended) cleanup();
          else ex.onEnd = cleanup;
          return finalResponse(res, url, redirects);
        }
        await discard(res);
        if (redirectMode === "error") throw new TypeError(`unexpected redirect (${status}) with redirect mode "error"`);
        let next: URL;
        try {
          next = new URL(location, url);
        } catch (e) {
          throw networkError(e, `invalid redirect Location ${JSON.stringify(location)}`);
        }
        if (next.protocol !== "http:") throw networkError(new MorganaError("EPROTONOSUPPORT", `cannot follow a redirect to ${next.protocol} (only http: is supported; TLS is out of scope)`));
        if (++redirects > this.maxRedirections) throw networkError(new MorganaError("EINVAL", "redirect count exceeded"), "redirect count exceeded");
        if (status !== 303 && body !== null && "stream" in body) throw networkError(new MorganaError("EINVAL", "cannot follow a redirect with a streamed request body"));
        if (((status === 301 || status === 302) && method === "POST") || (status === 303 && method !== "GET" && method !== "HEAD")) {
          method = "GET";
          body = null;
          for (const h of REQUEST_BODY_HEADERS) headers.delete(h);
        }
        if (next.origin !== url.origin) {
          headers.delete("authorization");
          headers.delete("proxy-authorization");
          headers.delete("cookie");
        }
        this.redirects++;
        url = next;
      }
    } catch (e) {
      cleanup();
      if (ctl.userAbort) throw userSignal!.reason;
      throw e instanceof TypeError || (e instanceof DOMException && e.name === "AbortError") ? e : networkError(e);
    }
  }

  private checkUrl(url: URL): void {
    if (url.protocol === "https:") throw new TypeError(`https: is not supported (TLS is out of scope): ${url.href}`);
    if (url.protocol !== "http:") throw new TypeError(`unsupported URL scheme ${url.protocol} (only http:)`);
    if (url.username !== "" || url.password !== "") throw new TypeError("Request cannot be constructed from a URL that includes credentials");
  }

  /** One request (retried once on a stale keep-alive connection) up to its response head. */
  private async send(url: URL, method: string, headers: Headers, body: BodySource | null, ctl: Control): Promise<Response> {
    if (ctl.signal.aborted) throw ctl.signal.reason;
    const port = url.port === "" ? 80 : Number(url.port);
    const host = url.hostname;
    const key = `${host}:${port}`;
    let pool = this.origins.get(key);
    if (pool === undefined) {
      pool = new OriginPool(this, key, host, port);
      this.origins.set(key, pool);
    }
    const head = this.requestHead(url, method, headers, body);
    const replayable = body === null || "bytes" in body;
    for (let attempt = 0; ; attempt++) {
      const conn = await pool.acquire(ctl);
      const reused = conn.requests > 0;
      this.requests++;
      if (reused) this.reusedRequests++;
      try {
        return await conn.request(method, head.text, head.close, body, ctl);
      } catch (e) {
        if (e instanceof StaleConnection) {
          if (attempt === 0 && IDEMPOTENT.has(method) && replayable && !ctl.signal.aborted) {
            this.retries++;
            continue;
          }
          throw networkError(e.original);
        }
        throw e;
      }
    }
  }

  private requestHead(url: URL, method: string, headers: Headers, body: BodySource | null): { text: string; close: boolean } {
    let s = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
    let close = false;
    let hasAccept = false;
    let hasAgent = false;
    for (const [name, value] of headers) {
      if (SKIP_HEADERS.has(name)) {
        if (name === "connection" && /(^|[\s,])close($|[\s,])/i.test(value)) close = true;
        continue;
      }
      if (!isByteString(value)) throw new TypeError(`header ${name} has characters outside latin1`);
      if (name === "accept") hasAccept = true;
      else if (name === "user-agent") hasAgent = true;
      s += `${name}: ${value}\r\n`;
    }
    if (!hasAccept) s += "accept: */*\r\n";
    if (!hasAgent && this.userAgent !== undefined) s += `user-agent: ${this.userAgent}\r\n`;
    if (body === null) {
      if (method === "POST" || method === "PUT" || method === "PATCH") s += "content-length: 0\r\n";
    } else if ("bytes" in body) {
      s += `content-length: ${body.bytes.length}\r\n`;
    } else {
      s += "transfer-encoding: chunked\r\n";
    }
    if (close) s += "connection: close\r\n";
    return { text: s + "\r\n", close };
  }

  /** The IPv4 address to connect to. */
  async resolve(host: string, signal: AbortSignal): Promise<string> {
    if (isIpv4(host)) return host;
    if (host.startsWith("[")) throw new MorganaError("EAFNOSUPPORT", `IPv6 addresses are not supported: ${host}`, { hostname: host });
    if (this.resolver === undefined) {
      if (host === "localhost") return "127.0.0.1";
      throw new MorganaError("ENOTFOUND", `getaddrinfo ENOTFOUND ${host} (no resolver configured)`, { hostname: host, syscall: "getaddrinfo" });
    }
    const r = await this.resolver.lookup(host, { family: 4, signal });
    return r.address;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.origins.values()) p.closeIdle();
  }

  stats(): LayerStats {
    let open = 0;
    let idle = 0;
    for (const p of this.origins.values()) {
      open += p.total;
      idle += p.idle.length;
    }
    return {
      counters: {
        requests: this.requests,
        responses: this.responses,
        connectionsOpened: this.opened,
        connections: open,
        idleConnections: idle,
        reusedRequests: this.reusedRequests,
        retries: this.retries,
        redirects: this.redirects,
        poolWaits: this.poolWaits,
      },
      drops: this.drops.snapshot(),
    };
  }
}

async function toBodySource(raw: NonNullable<RequestInit["body"]>, headers: Headers): Promise<BodySource> {
  if (typeof raw === "string") {
    if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
    return { bytes: new TextEncoder().encode(raw) };
  }
  if (raw instanceof ReadableStream) {
    if (raw.locked) throw new TypeError("the request body stream is locked");
    return { stream: raw as ReadableStream<Uint8Array> };
  }
  const b = asBytes(raw);
  if (b !== null) return { bytes: b.slice() };
  // Blob, FormData, URLSearchParams: the platform's encoding (multipart boundary, content type).
  const r = new Response(raw);
  const ct = r.headers.get("content-type");
  if (ct !== null && !headers.has("content-type")) headers.set("content-type", ct);
  return { bytes: new Uint8Array(await r.arrayBuffer()) };
}

/** Reads and drops (or cancels) a response body we do not return. */
async function discard(res: Response): Promise<void> {
  if (res.body !== null && !res.body.locked) await res.body.cancel().catch(noop);
}

function finalResponse(res: Response, url: URL, redirects: number): Response {
  Object.defineProperty(res, "url", { value: url.href, enumerable: true });
  if (redirects > 0) Object.defineProperty(res, "redirected", { value: true, enumerable: true });
  return res;
}

interface Waiter {
  grant(conn: ClientConnection | null): void;
  fail(err: unknown): void;
}

/** The connections of one origin: idle ones (LIFO) and a bound on all. */
class OriginPool {
  readonly idle: ClientConnection[] = [];
  total = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly client: Client,
    readonly key: string,
    readonly host: string,
    readonly port: number,
  ) {}

  async acquire(ctl: Control): Promise<ClientConnection> {
    for (;;) {
      if (ctl.signal.aborted) throw ctl.signal.reason;
      const c = this.idle.pop();
      if (c !== undefined) {
        if (c.takeFromIdle()) return c;
        continue;
      }
      if (this.total < this.client.maxPerOrigin) {
        this.total++;
        try {
          return await this.connect(ctl);
        } catch (e) {
          this.total--;
          this.next();
          throw e;
        }
      }
      this.client.poolWaits++;
      const granted = await new Promise<ClientConnection | null>((resolve, reject) => {
        const w: Waiter = {
          grant: (conn) => {
            ctl.signal.removeEventListener("abort", onAbort);
            resolve(conn);
          },
          fail: (e) => {
            ctl.signal.removeEventListener("abort", onAbort);
            reject(e);
          },
        };
        const onAbort = (): void => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(ctl.signal.reason);
        };
        ctl.signal.addEventListener("abort", onAbort, { once: true });
        this.waiters.push(w);
      });
      if (granted !== null) return granted;
      // A slot was freed: loop to take an idle connection or open one.
    }
  }

  private async connect(ctl: Control): Promise<ClientConnection> {
    const client = this.client;
    let flow: TcpFlow;
    try {
      const address = await client.resolve(this.host, ctl.signal);
      flow = await client.tcp.connect({ address, port: this.port, timeoutMs: client.connectTimeoutMs, noDelay: true, signal: ctl.signal });
    } catch (e) {
      if (ctl.signal.aborted) throw ctl.signal.reason;
      client.drops.drop("connect-failed");
      throw networkError(e);
    }
    client.opened++;
    return new ClientConnection(this, flow);
  }

  /** A connection finished its exchange: reuse it (a waiter first) or count it gone. */
  release(conn: ClientConnection, reusable: boolean): void {
    if (reusable && !this.client.closed) {
      const w = this.waiters.shift();
      if (w !== undefined) {
        conn.markBusy();
        w.grant(conn);
        return;
      }
      conn.toIdle();
      this.idle.push(conn);
      return;
    }
    conn.destroy(true, null);
  }

  /** A connection closed (or will): free its slot. */
  gone(conn: ClientConnection): void {
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    if (conn.counted) {
      conn.counted = false;
      this.total--;
      this.next();
    }
  }

  private next(): void {
    const w = this.waiters.shift();
    if (w !== undefined) w.grant(null);
  }

  closeIdle(): void {
    for (const c of this.idle.splice(0)) c.destroy(true, null);
    for (const w of this.waiters.splice(0)) w.fail(networkError(new MorganaError("ERR_SOCKET_CLOSED", "the fetch client is closed")));
  }
}

type ConnDeadline = "headers" | "body" | "idle";

/** The state of one request/response on a connection. */
class ClientExchange {
  head: HttpMessageHead | null = null;
  pipe: BodyPipe | null = null;
  /** Registered with the FinalizationRegistry (never a reference to the Response itself, or it could not be collected). */
  registered = false;
  complete = false;
  settled = false;
  gotBytes = false;
  writeDone = false;
  writeFailed = false;
  cancelled = false;
  drained = 0;
  ended = false;
  resolveHead!: (r: Response) => void;
  rejectHead!: (e: unknown) => void;
  /** Runs when the exchange ends, once the fetch returned its response (releases the fetch's abort listener and timer). */
  onEnd: (() => void) | null = null;

  constructor(
    readonly conn: ClientConnection,
    readonly method: string,
    readonly reused: boolean,
    readonly ctl: Control,
  ) {}

  /** The Response was garbage-collected with its body unread: release the connection. */
  abandoned(): void {
    if (this.ended) return;
    this.conn.client.drops.drop("response-abandoned");
    this.conn.finishExchange(this, new MorganaError("ECANCELED", "the response was garbage-collected before its body was read"));
  }
}

class ClientConnection {
  readonly client: Client;
  readonly parser: HttpParser;
  private readonly deadline: Deadline<ConnDeadline>;
  requests = 0;
  counted = true;
  state: "busy" | "idle" | "closed" = "busy";
  private ex: ClientExchange | null = null;
  private pendingRead: Promise<Uint8Array | null> | null = null;
  private wakeFn: (() => void) | null = null;
  private idleMs: number;
  private serverClose = false;
  private onAbort: (() => void) | null = null;

  constructor(
    readonly pool: OriginPool,
    readonly flow: TcpFlow,
  ) {
    this.client = pool.client;
    this.idleMs = this.client.idleTimeoutMs;
    this.deadline = new Deadline(this.client.clock, (k) => this.expired(k));
    this.parser = new HttpParser(
      "response",
      {
        onHeaders: (h) => this.onHeaders(h),
        onBody: (d) => this.onBody(d),
        onMessageComplete: (h) => this.onMessageComplete(h),
      },
      this.client.parserOptions,
    );
  }

  markBusy(): void {
    this.state = "busy";
    this.deadline.clear();
  }

  /** Taken from the idle list: false if it died meanwhile. */
  takeFromIdle(): boolean {
    if (this.state !== "idle") return false;
    this.markBusy();
    return true;
  }

  toIdle(): void {
    this.state = "idle";
    this.deadline.set("idle", this.idleMs);
    // Watch the idle connection: the server closing it (or sending anything) retires it.
    const p = this.flow.read();
    this.pendingRead = p;
    p.then(
      (v) => {
        if (this.state === "idle" && this.pendingRead === p) {
          this.pendingRead = null;
          this.client.drops.drop(v === null ? "idle-closed-by-server" : "idle-unsolicited-data");
          this.destroy(v === null, null);
        }
      },
      () => {
        if (this.state === "idle" && this.pendingRead === p) {
          this.pendingRead = null;
          this.destroy(false, null);
        }
      },
    );
  }

  private read(): Promise<Uint8Array | null> {
    const p = this.pendingRead;
    if (p !== null) {
      this.pendingRead = null;
      return p;
    }
    return this.flow.read();
  }

  /** Sends a request and resolves with the response once its head arrived. */
  request(method: string, head: string, close: boolean, body: BodySource | null, ctl: Control): Promise<Response> {
    const reused = this.requests > 0;
    this.requests++;
    const ex = new ClientExchange(this, method, reused, ctl);
    const headPromise = new Promise<Response>((res, rej) => {
      ex.resolveHead = res;
      ex.rejectHead = rej;
    });
    this.ex = ex;
    if (close) this.serverClose = true;
    this.parser.pushRequestMethod(method);
    const onAbort = (): void => {
      const reason = ctl.signal.reason;
      this.client.drops.drop(ctl.userAbort ? "aborted" : "timeout");
      this.finishExchange(ex, ctl.userAbort ? reason : networkError(reason));
    };
    this.onAbort = onAbort;
    ctl.signal.addEventListener("abort", onAbort, { once: true });

    // Write the request while reading the response (a server may answer early).
    void this.writeRequest(ex, head, body);
    this.deadline.set("headers", this.client.headersTimeoutMs);
    void this.pump(ex);
    return headPromise;
  }

  private async writeRequest(ex: ClientExchange, head: string, body: BodySource | null): Promise<void> {
    const flow = this.flow;
    try {
      if (body === null) {
        await flow.write(encodeLatin1(head));
      } else if ("bytes" in body) {
        const b = body.bytes;
        if (head.length + b.length <= SMALL_WRITE) {
          const out = new Uint8Array(head.length + b.length);
          out.set(b, writeLatin1(head, out, 0));
          await flow.write(out);
        } else {
          await flow.writev([encodeLatin1(head), b.slice()]); // a copy: the same bytes may be sent again (retry, 307/308)
        }
      } else {
        await flow.write(encodeLatin1(head));
        const reader = body.stream.getReader();
        try {
          for (;;) {
            const r = await reader.read();
            if (r.done) break;
            const bytes = asBytes(r.value);
            if (bytes === null) throw new TypeError("a request body chunk is not bytes");
            if (bytes.length === 0) continue;
            if (ex.ended) throw new MorganaError("ECANCELED", "the exchange ended");
            await flow.writev([encodeLatin1(bytes.length.toString(16) + "\r\n"), bytes, CRLF.slice()]);
          }
        } catch (e) {
          reader.cancel(e).catch(noop);
          throw e;
        }
        await flow.write(LAST_CHUNK.slice());
      }
      ex.writeDone = true;
    } catch (e) {
      ex.writeFailed = true;
      if (ex.ended) return;
      if (ex.complete) {
        this.finishExchange(ex, null);
        return;
      }
      // A reused connection the server had closed: EPIPE/ECONNRESET before any response byte.
      if (ex.reused && !ex.gotBytes && e instanceof MorganaError && (e.code === "EPIPE" || e.code === "ECONNRESET" || e.code === "ECONNABORTED")) {
        this.finishExchange(ex, new StaleConnection(e));
        return;
      }
      if (ex.head === null) this.finishExchange(ex, e instanceof TypeError ? e : networkError(e));
      // After the head: the server may still complete its response; the read side decides.
    }
  }

  private async pump(ex: ClientExchange): Promise<void> {
    const parser = this.parser;
    for (;;) {
      if (ex.ended) return;
      if (ex.head !== null && !ex.cancelled) this.deadline.set("body", this.client.bodyTimeoutMs);
      let chunk: Uint8Array | null;
      try {
        chunk = await this.read();
      } catch (e) {
        if (ex.ended) return;
        if (ex.reused && !ex.gotBytes) this.finishExchange(ex, new StaleConnection(e));
        else this.finishExchange(ex, networkError(e));
        return;
      }
      if (ex.ended) return;
      if (chunk === null) {
        try {
          parser.finish();
        } catch (e) {
          this.client.drops.drop("eof-in-response");
          if (ex.reused && !ex.gotBytes) this.finishExchange(ex, new StaleConnection(new MorganaError("ECONNRESET", "the server closed the connection")));
          else this.finishExchange(ex, networkError(e));
          return;
        }
        if (ex.complete) this.finishExchange(ex, null, true);
        else if (ex.reused && !ex.gotBytes) this.finishExchange(ex, new StaleConnection(new MorganaError("ECONNRESET", "the server closed the connection")));
        else this.finishExchange(ex, networkError(new MorganaError("ECONNRESET", "the server closed the connection before a complete response")));
        return;
      }
      ex.gotBytes = true;
      let off = 0;
      while (off < chunk.length) {
        try {
          off += parser.execute(chunk, off);
        } catch (e) {
          this.client.drops.drop(e instanceof HttpParseError ? `bad-response:${e.httpCode}` : "parser-callback");
          this.finishExchange(ex, networkError(e));
          return;
        }
        if (ex.ended) return;
        if (ex.complete) {
          if (off < chunk.length) this.serverClose = true; // bytes nobody asked for: do not reuse
          break;
        }
        if (parser.upgraded) {
          this.finishExchange(ex, networkError(new MorganaError("EPROTO", "the server switched protocols (not supported by fetch)")));
          return;
        }
        if (parser.paused) {
          const pipe = ex.pipe;
          if (pipe !== null && pipe.full && !ex.cancelled) {
            this.deadline.clear();
            do {
              await new Promise<void>((r) => (this.wakeFn = r));
              if (ex.ended) return;
            } while (pipe.full && !ex.cancelled);
          }
          parser.resume();
        }
      }
      if (ex.complete) {
        // A request still being written when its response is complete: the server stopped reading it; do not reuse.
        this.finishExchange(ex, null, !ex.writeDone);
        return;
      }
    }
  }

  private onHeaders(head: HttpMessageHead): CallbackResult {
    if (head.status < 200 && head.status !== 101) return undefined; // 100 Continue, 103 Early Hints
    const ex = this.ex!;
    ex.head = head;
    this.deadline.clear();
    if (!head.keepAlive) this.serverClose = true;
    if (head.status === 101) return undefined; // the parser reports the upgrade; pump fails it
    const ka = head.get("keep-alive");
    if (ka !== undefined) {
      const m = /(?:^|[\s,;])timeout\s*=\s*(\d+)/i.exec(ka);
      if (m !== null) {
        const ms = Number(m[1]) * 1000 - 1000;
        if (ms <= 0) this.serverClose = true;
        else this.idleMs = Math.min(this.client.idleTimeoutMs, ms);
      }
    }
    let headers: Headers;
    let response: Response;
    try {
      headers = new Headers();
      const raw = head.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
      const nullBody = ex.method === "HEAD" || NULL_BODY.has(head.status);
      if (!nullBody) {
        const pipe = new BodyPipe(this.client.bodyBufferBytes);
        ex.pipe = pipe;
        pipe.onPull = () => this.kick();
        pipe.onCancel = () => this.bodyCancelled(ex);
      }
      response = new Response(ex.pipe?.stream ?? null, { status: head.status, statusText: head.reason, headers });
    } catch (e) {
      this.client.drops.drop("bad-response");
      this.finishExchange(ex, networkError(e));
      return "pause";
    }
    this.client.responses++;
    this.client.exchanges.set(response, ex);
    if (ex.pipe !== null && this.client.registry !== null) {
      this.client.registry.register(response, ex, ex);
      ex.registered = true;
    }
    ex.settled = true;
    ex.resolveHead(response);
    return undefined;
  }

  private onBody(data: Uint8Array): CallbackResult {
    const ex = this.ex!;
    if (ex.cancelled || ex.pipe === null) {
      ex.drained += data.length;
      if (ex.drained > this.client.maxDrainBytes) {
        this.client.drops.drop("drain-limit");
        this.finishExchange(ex, null, true);
        return "pause";
      }
      return undefined;
    }
    return ex.pipe.push(data) ? "pause" : undefined;
  }

  private onMessageComplete(head: HttpMessageHead): CallbackResult {
    if (head.status < 200 && head.status !== 101) return undefined;
    const ex = this.ex!;
    ex.complete = true;
    ex.pipe?.close();
    this.deadline.clear();
    return "pause";
  }

  private bodyCancelled(ex: ClientExchange): void {
    ex.cancelled = true;
    if (ex.ended) return;
    const head = ex.head;
    // Drain what is small and framed; otherwise close (an EOF body never ends by itself).
    if (head === null || head.bodyKind === "eof" || (head.bodyKind === "length" && head.contentLength - ex.pipe!.bytes > this.client.maxDrainBytes)) {
      this.client.drops.drop("cancel-close");
      this.finishExchange(ex, null, true);
      return;
    }
    this.kick();
  }

  private kick(): void {
    const w = this.wakeFn;
    if (w !== null) {
      this.wakeFn = null;
      w();
    }
  }

  private expired(kind: ConnDeadline): void {
    if (kind === "idle") {
      if (this.state === "idle") this.destroy(true, null);
      return;
    }
    const ex = this.ex;
    if (ex === null || ex.ended) return;
    this.client.drops.drop(kind === "headers" ? "headers-timeout" : "body-timeout");
    this.finishExchange(ex, networkError(new MorganaError("ETIMEDOUT", kind === "headers" ? "timed out waiting for the response headers" : "timed out waiting for the response body")));
  }

  /**
   * Ends the exchange: `err` null is success (the connection is reused when
   * it can be); otherwise the head promise rejects or the body stream errors
   * with `err`, and the connection closes. `forceClose` closes it anyway.
   */
  finishExchange(ex: ClientExchange, err: unknown, forceClose = false): void {
    if (ex.ended) return;
    ex.ended = true;
    if (this.onAbort !== null) {
      ex.ctl.signal.removeEventListener("abort", this.onAbort);
      this.onAbort = null;
    }
    if (ex.registered) this.client.registry?.unregister(ex);
    this.ex = null;
    this.kick();
    if (err !== null) {
      if (!ex.settled) {
        ex.settled = true;
        ex.rejectHead(err);
      } else if (ex.pipe !== null && ex.pipe.state === "open") {
        ex.pipe.error(err instanceof StaleConnection ? networkError(err.original) : err);
      }
      ex.onEnd?.();
      this.destroy(false, err);
      return;
    }
    ex.onEnd?.();
    const reusable = !forceClose && ex.complete && ex.writeDone && !this.serverClose && this.parser.idle && !this.parser.closed;
    if (reusable) {
      this.pool.release(this, true);
    } else {
      this.destroy(true, null);
    }
  }

  /** Closes the connection (gracefully when `graceful`, else abort) and frees its pool slot. */
  destroy(graceful: boolean, err: unknown): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.deadline.dispose();
    this.pool.gone(this);
    const ex = this.ex;
    if (ex !== null && !ex.ended) this.finishExchange(ex, err ?? networkError(new MorganaError("ECONNABORTED", "the connection was closed")));
    if (graceful) void this.flow.close();
    else this.flow.abort();
  }
}
