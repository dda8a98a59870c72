/**
 * The Request a server handler receives, built lazily.
 *
 * A platform `Request` is expensive to construct on Node 20 (its constructor
 * parses the URL again, copies the headers and always creates an
 * `AbortSignal`, which Node 20 makes transferable: about 6 µs per request, a
 * third of a trivial keep-alive exchange). Most handlers read `method`, `url`
 * and a few headers. {@link createServerRequest} returns an object whose
 * prototype chain contains `Request.prototype` (so `instanceof Request`
 * holds) and which answers `method`, `url`, `headers` (a real `Headers`,
 * built on first use), `signal` (created on first use), `body` and
 * `bodyUsed` of a request without a body, and `duplex` itself; anything else
 * (a body method, `clone()`, `cache`, ..., and the platform's internal slots
 * that `new Request(request)` or `fetch(request)` read) builds the platform
 * Request once and delegates to it. The server validates up front everything
 * that could make that construction throw (method, URL, header fields), so
 * building it later cannot fail.
 *
 * Where the internal slots of a Request are not reachable (browsers keep them
 * in true internal slots), the lazy object could not be passed to
 * `new Request()`/`fetch()`; {@link lazyRequestsWork} finds that out once,
 * and the server then builds platform Requests eagerly.
 */

/** What the server knows about a request when its header section ends. */
export interface RequestParts {
  /** As the platform would normalise it (`get` → `GET`). */
  readonly method: string;
  /** The serialised URL (`new URL(...).href`), without credentials. */
  readonly url: string;
  /** The header fields as `[name0, value0, ...]`, already checked to be valid for `Headers`. */
  readonly rawHeaders: readonly string[];
  /** The request body (methods other than GET/HEAD with a body), else null. */
  readonly body: ReadableStream<Uint8Array> | null;
}

/** Builds (once) and returns the platform Request behind a lazy one. */
const MATERIALISE: unique symbol = Symbol("materialise");

/** A Request that is an instance of the platform's `Request`, built when first needed. */
class ServerRequest {
  #method: string;
  #url: string;
  #raw: readonly string[];
  #body: ReadableStream<Uint8Array> | null;
  #real: Request | null = null;
  #headers: Headers | null = null;
  #signal: AbortSignal | null = null;

  constructor(parts: RequestParts) {
    this.#method = parts.method;
    this.#url = parts.url;
    this.#raw = parts.rawHeaders;
    this.#body = parts.body;
  }

  get method(): string {
    return this.#method;
  }

  get url(): string {
    return this.#url;
  }

  /** One `Headers` object for the life of the request (also after the platform Request was built). */
  get headers(): Headers {
    let h = this.#headers;
    if (h === null) {
      h = this.#real !== null ? this.#real.headers : headersOf(this.#raw);
      this.#headers = h;
    }
    return h;
  }

  get signal(): AbortSignal {
    let s = this.#signal;
    if (s === null) {
      s = this.#real !== null ? this.#real.signal : new AbortController().signal;
      this.#signal = s;
    }
    return s;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#body === null && this.#real === null) return null;
    return this[MATERIALISE]().body;
  }

  get bodyUsed(): boolean {
    if (this.#body === null && this.#real === null) return false;
    return this[MATERIALISE]().bodyUsed;
  }

  get duplex(): "half" {
    return "half";
  }

  clone(): Request {
    const real = this[MATERIALISE]();
    const c = real.clone();
    // Fields changed on our Headers after the platform Request was built.
    const h = this.#headers;
    if (h !== null && h !== real.headers) {
      const ch = c.headers;
      for (const name of [...ch.keys()]) ch.delete(name);
      for (const [name, value] of h) ch.append(name, value);
    }
    return c;
  }

  /** The platform Request (built once). */
  [MATERIALISE](): Request {
    let r = this.#real;
    if (r === null) {
      const init: RequestInit & { duplex?: "half" } = { method: this.#method, headers: this.#headers ?? headersOf(this.#raw) };
      if (this.#body !== null) {
        init.body = this.#body;
        init.duplex = "half";
      }
      if (this.#signal !== null) init.signal = this.#signal;
      r = new Request(this.#url, init);
      this.#real = r;
    }
    return r;
  }
}

function headersOf(raw: readonly string[]): Headers {
  const h = new Headers();
  for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
  return h;
}

const OWN = new Set(["constructor", "method", "url", "headers", "signal", "body", "bodyUsed", "duplex", "clone"]);
let prepared = false;

/** Puts Request.prototype under ServerRequest.prototype and delegates every other member to the platform Request. */
function prepare(): void {
  if (prepared) return;
  prepared = true;
  const proto = ServerRequest.prototype as unknown as Record<PropertyKey, unknown>;
  const real = (self: unknown): Request => (self as ServerRequest)[MATERIALISE]();
  for (const key of Reflect.ownKeys(Request.prototype)) {
    if (typeof key === "string" && OWN.has(key)) continue;
    if (key === Symbol.toStringTag) continue;
    const d = Object.getOwnPropertyDescriptor(Request.prototype, key)!;
    if (d.get !== undefined) {
      const get = d.get;
      Object.defineProperty(proto, key, {
        configurable: true,
        enumerable: d.enumerable ?? false,
        get(this: unknown) {
          return get.call(real(this));
        },
      });
    } else if (typeof d.value === "function") {
      const fn = d.value as (...args: unknown[]) => unknown;
      Object.defineProperty(proto, key, {
        configurable: true,
        enumerable: d.enumerable ?? false,
        writable: true,
        value: {
          [fn.name](this: unknown, ...args: unknown[]) {
            return fn.apply(real(this), args);
          },
        }[fn.name],
      });
    }
  }
  // Implementations that keep a Request's state in symbol-keyed properties
  // (undici): reading them from the lazy object reads the platform Request's,
  // so `new Request(request)`, `fetch(request)` and the prototype's own
  // methods work on it.
  let sample: Request | null = null;
  try {
    sample = new Request("http://localhost/");
  } catch {
    /* no usable Request */
  }
  if (sample !== null) {
    for (const sym of Object.getOwnPropertySymbols(sample)) {
      Object.defineProperty(proto, sym, {
        configurable: true,
        enumerable: false,
        get(this: unknown) {
          return (real(this) as unknown as Record<symbol, unknown>)[sym];
        },
        set(this: unknown, v: unknown) {
          (real(this) as unknown as Record<symbol, unknown>)[sym] = v;
        },
      });
    }
  }
  // As on a platform Request: `request.constructor === Request`.
  Object.defineProperty(proto, "constructor", { configurable: true, enumerable: false, writable: true, value: Request });
  Object.setPrototypeOf(ServerRequest.prototype, Request.prototype);
}

let works: boolean | undefined;

/** True when lazy requests behave as platform Requests here (checked once). */
export function lazyRequestsWork(): boolean {
  if (works !== undefined) return works;
  works = false;
  if (typeof Request !== "function" || typeof Headers !== "function") return false;
  try {
    prepare();
    const a = new ServerRequest({ method: "POST", url: "http://localhost/p?q", rawHeaders: ["X-A", "1"], body: null }) as unknown as Request;
    const copy = new Request(a);
    works =
      a instanceof Request &&
      copy.url === "http://localhost/p?q" &&
      copy.method === "POST" &&
      copy.headers.get("x-a") === "1" &&
      a.cache === copy.cache &&
      a.clone().headers.get("x-a") === "1";
  } catch {
    works = false;
  }
  return works;
}

/**
 * The handler's Request: lazy where {@link lazyRequestsWork}, else a platform
 * Request built now. `parts` must be valid for the platform (the server checks).
 */
export function createServerRequest(parts: RequestParts): Request {
  if (lazyRequestsWork()) return new ServerRequest(parts) as unknown as Request;
  const init: RequestInit & { duplex?: "half" } = { method: parts.method, headers: headersOf(parts.rawHeaders) };
  if (parts.body !== null) {
    init.body = parts.body;
    init.duplex = "half";
  }
  return new Request(parts.url, init);
}
