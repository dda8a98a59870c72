/**
 * Helpers shared by the server and the client to write HTTP/1.1 messages:
 * status lines, latin1 encoding of a header section, IMF-fixdate (`Date`),
 * the check that a Host value is `host[:port]`, and reading a body that the
 * platform's Response already holds.
 */
import type { Clock } from "@morgana/interfaces";

/** Reason phrases of RFC 9110 §15 (and a few registered extensions). */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  102: "Processing",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

const statusLines = new Map<number, string>();

/** `HTTP/1.1 200 OK\r\n`; the default reason phrase when `reason` is empty. Cached for default phrases. */
export function statusLine(status: number, reason: string): string {
  if (reason === "" || reason === STATUS_TEXT[status]) {
    let line = statusLines.get(status);
    if (line === undefined) {
      line = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ""}\r\n`;
      statusLines.set(status, line);
    }
    return line;
  }
  return `HTTP/1.1 ${status} ${reason}\r\n`;
}

/** Writes `s` as latin1 (each UTF-16 code unit's low byte) into `out` at `off`; returns the end offset. */
export function writeLatin1(s: string, out: Uint8Array, off: number): number {
  const n = s.length;
  for (let i = 0; i < n; i++) out[off + i] = s.charCodeAt(i);
  return off + n;
}

/** `s` as latin1 bytes (header sections are ByteStrings: every code unit is below 256). */
export function encodeLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  writeLatin1(s, out, 0);
  return out;
}

/** True when every code unit of `s` is below 256 (a ByteString). */
export function isByteString(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 255) return false;
  return true;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number): string => (n < 10 ? "0" : "") + n;

/** IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`. */
export function httpDate(ms: number): string {
  const d = new Date(ms);
  return (
    `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`
  );
}

/** The `date: ...\r\n` line from a clock's wall time, formatted once per second. */
export class DateLine {
  private second = NaN;
  private line = "";

  constructor(private readonly clock: Clock) {}

  /** The header line, or `""` when the clock has no wall time (RFC 9110 §6.6.1: no clock, no Date). */
  get(): string {
    const wall = this.clock.wallTime;
    if (wall === undefined) return "";
    const ms = wall.call(this.clock);
    const s = Math.floor(ms / 1000);
    if (s !== this.second) {
      this.second = s;
      this.line = `date: ${httpDate(s * 1000)}\r\n`;
    }
    return this.line;
  }
}

const SLAB_SIZE = 32768;
const SLAB_MAX = 4096;
let slab = new Uint8Array(0);
let slabOff = 0;

/**
 * `n` zeroed bytes for an outgoing message. Small ones are views carved from
 * a shared 32 KiB slab (as Node's Buffer pool does) rather than one
 * ArrayBuffer each, whose allocation and garbage collection cost more than
 * writing a small response. The Flow contract allows it: a write owns the
 * bytes of its view, not the whole ArrayBuffer; nothing writes to a view
 * once it was handed out. A slab lives while any of its views does.
 */
export function allocOut(n: number): Uint8Array {
  if (n > SLAB_MAX) return new Uint8Array(n);
  if (slabOff + n > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabOff = 0;
  }
  const v = slab.subarray(slabOff, slabOff + n);
  slabOff = (slabOff + n + 7) & ~7;
  return v;
}

/** `s` (a ByteString) as latin1 bytes in a fresh {@link allocOut} view. */
export function encodeOut(s: string): Uint8Array {
  const out = allocOut(s.length);
  writeHeadBytes(s, out);
  return out;
}

/** Templates: a write takes ownership of its bytes (the Flow contract), so callers send a copy (`.slice()`). */
export const CRLF = Uint8Array.of(13, 10);
export const LAST_CHUNK = Uint8Array.of(0x30, 13, 10, 13, 10);

// reg-name / IPv4 / IP-literal characters of RFC 3986 §3.2.2 plus ':' for the port.
const HOST_CHARS = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%:[]") HOST_CHARS[c.charCodeAt(0)] = 1;

/** True when `v` is a plausible `uri-host [ ":" port ]` (RFC 9110 §7.2): no `/`, `@`, `?`, `#`, spaces or controls. */
export function isValidHost(v: string): boolean {
  if (v.length === 0 || v.length > 1024) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 128 || HOST_CHARS[c] !== 1) return false;
  }
  return true;
}

/** A chunk from a ReadableStream as a Uint8Array view (any ArrayBufferView or ArrayBuffer), or null for anything else. */
export function asBytes(v: unknown): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return null;
}

const NOT_YET: unique symbol = Symbol("not yet");
export type NotYet = typeof NOT_YET;
export { NOT_YET };

/**
 * Resolves with `p`'s value if `p` settles within a few microtask turns,
 * else with {@link NOT_YET} (`p` keeps running). Used to find out whether a
 * response body that produced a chunk has already ended (a Response built
 * from a string or bytes closes within two turns), so that it can be sent
 * with a Content-Length in one write.
 */
export function settledSoon<T>(p: Promise<T>): Promise<T | NotYet> {
  const later = Promise.resolve()
    .then(() => undefined)
    .then(() => undefined)
    .then(() => undefined)
    .then((): NotYet => NOT_YET);
  return Promise.race<T | NotYet>([p, later]);
}

// ---- Node's Response internals (undici, Node's web streams), each used only
// when it has exactly the expected shape; anywhere else the public API is used.
// On Node 20 a Response's ReadableStream is slow to touch (`locked` about
// 0.5 µs, `bodyUsed` about 1 µs on a fresh Response) and iterating its
// Headers builds a sorted copy (about 0.8 µs): together a sixth of a trivial
// keep-alive exchange.

interface UndiciBody {
  stream?: unknown;
  source?: unknown;
  length?: unknown;
}
interface UndiciHeaderEntry {
  name?: unknown;
  value?: unknown;
}
interface UndiciState {
  body?: UndiciBody | null;
  headersList?: Record<symbol, unknown> | null;
}
interface StreamState {
  disturbed?: unknown;
  reader?: unknown;
  state?: unknown;
}

/** `Symbol(state)` of undici's Response; null when absent. */
let stateSymbol: symbol | null | undefined;
/** `Symbol(headers map)` of undici's HeadersList; null when absent. */
let headersMapSymbol: symbol | null | undefined;
/** `Symbol(kState)` of Node's ReadableStream; null when absent. */
let streamStateSymbol: symbol | null | undefined;

function symbolNamed(o: object, description: string): symbol | null {
  for (const s of Object.getOwnPropertySymbols(o)) if (s.description === description) return s;
  return null;
}

function undiciState(res: Response): UndiciState | null {
  let sym = stateSymbol;
  if (sym === undefined) sym = stateSymbol = symbolNamed(res, "state");
  if (sym === null) return null;
  const st = (res as unknown as Record<symbol, unknown>)[sym];
  return typeof st === "object" && st !== null ? (st as UndiciState) : null;
}

/**
 * True when `stream` is unlocked and was never read: from Node's stream state
 * when it has the expected shape (`disturbed`, `reader`, `state`), else from
 * `locked` and `res.bodyUsed`.
 */
function untouched(res: Response, stream: ReadableStream): boolean {
  let sym = streamStateSymbol;
  if (sym === undefined) sym = streamStateSymbol = symbolNamed(stream, "kState");
  if (sym !== null) {
    const ss = (stream as unknown as Record<symbol, StreamState | undefined>)[sym];
    if (ss !== undefined && ss !== null && typeof ss.disturbed === "boolean" && "reader" in ss && typeof ss.state === "string") {
      return !ss.disturbed && ss.reader === undefined && ss.state === "readable";
    }
  }
  return !stream.locked && !res.bodyUsed;
}

/**
 * The header fields of a Response as the platform iterates them: lower-case
 * names in order, values of repeated names combined (`Set-Cookie` values
 * separate). Read from undici's header map (lower-case name → `{ name, value }`,
 * values already combined) when it has that shape and no `Set-Cookie`, with
 * the names sorted as the iteration does; otherwise by iterating `headers`.
 */
export function responseFields(res: Response): Iterable<readonly [string, string]> {
  const list = undiciState(res)?.headersList;
  if (list !== null && list !== undefined) {
    let sym = headersMapSymbol;
    if (sym === undefined) sym = headersMapSymbol = symbolNamed(list, "headers map");
    const map = sym === null ? undefined : list[sym];
    if (map instanceof Map && !map.has("set-cookie")) {
      const out: Array<[string, string]> = [];
      let sorted = true;
      for (const [k, e] of map as Map<unknown, UndiciHeaderEntry | undefined>) {
        const v = e?.value;
        if (typeof k !== "string" || typeof v !== "string") return res.headers;
        if (out.length > 0 && out[out.length - 1]![0] > k) sorted = false;
        out.push([k, v]);
      }
      if (!sorted) out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
      return out;
    }
  }
  return res.headers;
}

/**
 * The body of a Response built from a string or bytes, without reading its
 * stream: Node's Response (undici) keeps the source in its internal state
 * (`Symbol(state)` → `body: { stream, source, length }`). Used only when that
 * state has exactly this shape, its stream is the Response's unread, unlocked
 * body, and the length agrees; otherwise (other runtimes, other undici
 * versions, streams, Blobs) `null`, and the caller reads the stream.
 */
export function knownBody(res: Response, body: ReadableStream): { text: string; bytes: null; length: number } | { text: null; bytes: Uint8Array; length: number } | null {
  const b = undiciState(res)?.body;
  if (b === null || b === undefined || b.stream !== body || typeof b.length !== "number") return null;
  const src = b.source;
  if (typeof src === "string") return untouched(res, body) ? { text: src, bytes: null, length: b.length } : null;
  if (src instanceof Uint8Array && src.byteLength === b.length) return untouched(res, body) ? { text: null, bytes: src, length: b.length } : null;
  return null;
}

const utf8 = new TextEncoder();

/**
 * Writes a header section `s` (a ByteString) as latin1 at the start of
 * `out` (at least `s.length` bytes); returns `s.length`. ASCII, the usual
 * case, goes through the native UTF-8 encoder (where both encodings agree);
 * any other code unit falls back to the byte loop.
 */
export function writeHeadBytes(s: string, out: Uint8Array): number {
  const r = utf8.encodeInto(s, out);
  if (r.read !== s.length || r.written !== s.length) writeLatin1(s, out, 0);
  return s.length;
}

/** Encodes `s` as UTF-8 into `out` at `off`; returns the bytes written. */
export function writeUtf8(s: string, out: Uint8Array, off: number): number {
  return utf8.encodeInto(s, out.subarray(off)).written;
}
