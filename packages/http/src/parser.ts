import { MorganaError } from "@morgana/interfaces";
import {
  CR,
  HEX,
  HTAB,
  LF,
  NAME_LENIENT,
  QDTEXT,
  QPAIR,
  REASON,
  SP,
  TARGET,
  TCHAR,
  VALUE_LENIENT,
  VALUE_RELAXED,
  VALUE_STRICT,
  isToken,
  latin1,
  trimOws,
} from "./chars.js";
import { describeByte, HttpParseError, type HttpErrorCode } from "./errors.js";
import { HttpMessageHead, type BodyKind } from "./head.js";
import { matchMethod } from "./methods.js";

/**
 * Opt-in leniencies, named after llhttp's lenient flags. Every flag is off by
 * default; each re-opens a door that request smuggling has used, so enable
 * only what a deployment needs.
 */
export interface LenientFlags {
  /** obs-fold (line folding) in field values, bytes other than tchar in field names, any byte but CR/LF in values, a bare CR ending a header line. */
  readonly headers?: boolean;
  /** Accept Transfer-Encoding together with Content-Length (Transfer-Encoding wins); a request whose final coding is not chunked is then read to EOF. */
  readonly chunkedLength?: boolean;
  /** Keep parsing after a message that closes the connection (`Connection: close`, HTTP/1.0). */
  readonly keepAlive?: boolean;
  /** A request whose Transfer-Encoding does not end in `chunked` (or an HTTP/1.0 request with Transfer-Encoding) is read to EOF instead of rejected. */
  readonly transferEncoding?: boolean;
  /** Any single-digit `HTTP/x.y` version. */
  readonly version?: boolean;
  /** Silently discard bytes after a message that closed the connection. */
  readonly dataAfterClose?: boolean;
  /** A CR not followed by LF ends the line (start line, headers, chunk lines). */
  readonly optionalLfAfterCr?: boolean;
  /** A bare LF ends the line. */
  readonly optionalCrBeforeLf?: boolean;
  /** The CRLF after chunk data may be missing. */
  readonly optionalCrlfAfterChunk?: boolean;
  /** Spaces and tabs between the chunk size and the extensions or the line end. */
  readonly spacesAfterChunkSize?: boolean;
  /** Control characters other than NUL, CR and LF in field values. */
  readonly headerValueRelaxed?: boolean;
}

/** Every lenient flag on: llhttp's "lenient all". */
export const ALL_LENIENT: Required<LenientFlags> = {
  headers: true,
  chunkedLength: true,
  keepAlive: true,
  transferEncoding: true,
  version: true,
  dataAfterClose: true,
  optionalLfAfterCr: true,
  optionalCrBeforeLf: true,
  optionalCrlfAfterChunk: true,
  spacesAfterChunkSize: true,
  headerValueRelaxed: true,
};

export interface HttpParserOptions {
  /** Bytes of the start line plus header section (and, separately, of the trailer section). Default 16384 (16 KiB). */
  readonly maxHeaderSize?: number;
  /** Header fields per message (and trailer fields). Default 100. */
  readonly maxHeaders?: number;
  /** Bytes of the request-target. Default 8192 (8 KiB). */
  readonly maxTargetLength?: number;
  /** Bytes of the chunk extensions of one chunk (from `;` to the line end). Default 16384 (16 KiB, as Node). */
  readonly maxChunkExtensionSize?: number;
  /** Body bytes per message (Content-Length is checked up front, chunked bodies as they arrive). Default unlimited. */
  readonly maxBodySize?: number;
  /** Reject HTTP/1.1 requests without a Host field (RFC 9112 §3.2). Default true. Duplicate Host fields are always rejected. */
  readonly requireHost?: boolean;
  /** Accept request methods outside {@link KNOWN_METHODS} (any token). Default false. */
  readonly allowUnknownMethods?: boolean;
  /** Accept a request line without a version (taken as HTTP/0.9; headers are still parsed) and `HTTP/0.9` responses. Default false. */
  readonly allowHttp09?: boolean;
  /** Lenient flags (all off by default); `"all"` turns every one on. */
  readonly lenient?: LenientFlags | "all";
}

/** What a callback may return: nothing, `"pause"` (stop `execute()` after this event), or from `onHeaders` `"skip-body"`. */
export type CallbackResult = void | undefined | "pause" | "skip-body";

/**
 * The events of a parse. Every callback is optional and may return `"pause"`:
 * `execute()` then returns right after the event, with the number of bytes it
 * consumed, and parses nothing more until {@link HttpParser.resume}.
 */
export interface HttpParserHandler {
  /** The first byte of a message arrived (after any empty lines). */
  onMessageBegin?(): CallbackResult;
  /**
   * The start line and header section are complete. Returning `"skip-body"`
   * makes the parser treat the message as having no body (e.g. a response to
   * a HEAD request, when `pushRequestMethod` is not used).
   * A pause requested here for a message without a body takes effect after
   * `onMessageComplete` (as does a pause from the last chunk's
   * `onChunkComplete`), so a caller never waits for a completion that needs
   * no more bytes.
   */
  onHeaders?(head: HttpMessageHead): CallbackResult;
  /**
   * Body bytes (decoded from chunked framing). `data` is a view into the
   * buffer given to `execute()`: copy it if it must outlive the call.
   */
  onBody?(data: Uint8Array, head: HttpMessageHead): CallbackResult;
  /** A chunk-size line was read: the size (0 for the last chunk) and its raw extensions (`";a=b;c"`, `""` when none). */
  onChunkHeader?(size: number, extensions: string): CallbackResult;
  /** A chunk (its data and CRLF) is complete; for the last chunk, after the trailer section. */
  onChunkComplete?(): CallbackResult;
  /** The message is complete; `head.rawTrailers` holds the trailer fields, if any. */
  onMessageComplete?(head: HttpMessageHead): CallbackResult;
}

// Parser states.
const S_START = 0;
const S_CLOSED = 1;
const S_DEAD = 2;
const S_UPGRADED = 3;
const S_METHOD = 4;
const S_TARGET = 5;
const S_REQ_PROTO = 6;
const S_REQ_MAJOR = 7;
const S_REQ_DOT = 8;
const S_REQ_MINOR = 9;
const S_REQ_LINE_END = 10;
const S_RES_PROTO = 11;
const S_RES_MAJOR = 12;
const S_RES_DOT = 13;
const S_RES_MINOR = 14;
const S_RES_SP = 15;
const S_STATUS = 16;
const S_STATUS_END = 17;
const S_REASON = 18;
const S_LF = 19;
const S_FIRST_LINE = 20;
const S_FIELD_START = 21;
const S_NAME = 22;
const S_VALUE_OWS = 23;
const S_VALUE = 24;
const S_FIELD_END = 25;
const S_BODY_LENGTH = 26;
const S_BODY_EOF = 27;
const S_CHUNK_SIZE_START = 28;
const S_CHUNK_SIZE = 29;
const S_CHUNK_SIZE_WS = 30;
const S_EXT_NAME_START = 31;
const S_EXT_NAME = 32;
const S_EXT_VALUE_START = 33;
const S_EXT_TOKEN = 34;
const S_EXT_QUOTED = 35;
const S_EXT_QESC = 36;
const S_EXT_AFTER_QUOTED = 37;
const S_CHUNK_DATA = 38;
const S_CHUNK_DATA_END = 39;

// What an LF (state S_LF) completes.
const L_START_LINE = 0;
const L_FIELD = 1;
const L_SECTION = 2;
const L_CHUNK_HEADER = 3;
const L_CHUNK_DATA = 4;

const LF_CONTEXT = ["the start line", "a header line", "the end of the header section", "the chunk-size line", "chunk data"];

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f];
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const NO_CODINGS = { codings: [] as string[], wellFormed: false };

function where(state: number): string {
  if (state <= S_UPGRADED) return "between messages";
  if (state <= S_REASON) return "in the start line";
  if (state <= S_FIELD_END) return "in the header section";
  if (state === S_BODY_LENGTH) return "in a Content-Length body";
  return "in a chunked body";
}

/** Field kinds recognised while parsing (`fkind`). */
const K_OTHER = 0;
const K_HOST = 1;
const K_UPGRADE = 2;
const K_CONNECTION = 3;
const K_CONTENT_LENGTH = 4;
const K_TRANSFER_ENCODING = 5;

/**
 * An incremental HTTP/1.1 parser (RFC 9110/9112) for requests or responses,
 * fed with byte chunks split anywhere. One parser serves one connection; it
 * handles any number of pipelined messages.
 *
 * - `execute(chunk)` parses and calls the handler; it returns the number of
 *   bytes consumed, which is `chunk.length` unless a callback paused or an
 *   upgrade (CONNECT, `Upgrade`, 101) ended HTTP on this connection: the
 *   bytes from there on are the caller's (`chunk.subarray(n)`).
 * - Malformed input throws {@link HttpParseError}; the parser is then dead
 *   (every later call throws the same error). Nothing else is thrown, except
 *   what a callback throws.
 * - `finish()` tells the parser the peer closed: it completes a body that runs
 *   to EOF and throws `HPE_INVALID_EOF_STATE` inside any other message.
 *
 * How it stays fast: a byte-level state machine with table-driven inner
 * loops over the caller's `Uint8Array`; while scanning a header section it
 * only records offsets, and at its end decodes the whole section once (one
 * native call when it is ASCII) and cuts the strings out of it. Only a
 * section that straddles chunks is copied (into one reusable buffer, bounded
 * by `maxHeaderSize`); body bytes are passed on as views.
 */
export class HttpParser {
  readonly kind: "request" | "response";
  private readonly h: HttpParserHandler;
  private readonly isRequest: boolean;

  // Options.
  private readonly maxHeaderSize: number;
  private readonly maxHeaders: number;
  private readonly maxTargetLength: number;
  private readonly maxChunkExt: number;
  private readonly maxBodySize: number;
  private readonly requireHost: boolean;
  private readonly allowUnknownMethods: boolean;
  private readonly allowHttp09: boolean;
  private readonly lenHeaders: boolean;
  private readonly lenChunkedLength: boolean;
  private readonly lenKeepAlive: boolean;
  private readonly lenTransferEncoding: boolean;
  private readonly lenVersion: boolean;
  private readonly lenDataAfterClose: boolean;
  private readonly lenLfAfterCr: boolean;
  private readonly lenCrBeforeLf: boolean;
  private readonly lenCrlfAfterChunk: boolean;
  private readonly lenSpacesAfterChunkSize: boolean;
  private readonly nameTable: Uint8Array;
  private readonly valueTable: Uint8Array;

  // Machine state.
  private state = S_START;
  private isPaused = false;
  private error: HttpParseError | null = null;
  private consumed = 0;
  private base = 0;
  private idx = 0;
  private lfNext = 0;
  /** The line end is a bare LF already consumed (chunk-size lines): one more LF is taken if present. */
  private lfLoose = false;
  private limitRemaining = 0;
  private limitIsExt = false;

  // The capture region: a header section, a trailer section or one line of
  // chunk extensions. Offsets inside it are relative to its first byte; the
  // bytes that arrived in earlier chunks are in `carry`.
  private capturing = false;
  private carry = new Uint8Array(0);
  private carryLen = 0;
  /** The region has bytes >= 0x80 (decoded as latin1, not as ASCII). */
  private hi = false;
  private rbuf: Uint8Array = this.carry;
  private roff = 0;
  private methodEnd = 0;
  private targetStart = 0;
  private targetEnd = 0;
  private reasonStart = 0;
  private reasonEnd = 0;
  /** Per field: name start, name end, value start, value end (region offsets). */
  private readonly fpos: Int32Array;
  private readonly fkind: Uint8Array;
  /** Folded values (lenient.headers), by field index. */
  private foldVals: Array<string | undefined> | null = null;

  // The message being parsed.
  private method = "";
  private vMajor = 0;
  private vMinor = 0;
  private status = 0;
  private nFields = 0;
  private inTrailers = false;
  private folding = false;
  private clSeen = false;
  private contentLength = -1;
  private upgradeHeader = false;
  private hostCount = 0;
  private head: HttpMessageHead | null = null;
  private trailers: string[] | null = null;
  private remaining = 0;
  private bodyBytes = 0;
  private chunkSize = 0;
  private chunkExt = "";
  private readonly methodQueue: string[] = [];

  constructor(kind: "request" | "response", handler: HttpParserHandler = {}, options: HttpParserOptions = {}) {
    if (kind !== "request" && kind !== "response") throw new MorganaError("EINVAL", `HttpParser: kind must be "request" or "response", not ${String(kind)}`);
    this.kind = kind;
    this.isRequest = kind === "request";
    this.h = handler;
    this.maxHeaderSize = positive(options.maxHeaderSize, 16384, "maxHeaderSize");
    this.maxHeaders = positive(options.maxHeaders, 100, "maxHeaders");
    this.maxTargetLength = positive(options.maxTargetLength, 8192, "maxTargetLength");
    this.maxChunkExt = positive(options.maxChunkExtensionSize, 16384, "maxChunkExtensionSize");
    this.maxBodySize = positive(options.maxBodySize, Infinity, "maxBodySize");
    this.requireHost = options.requireHost ?? true;
    this.allowUnknownMethods = options.allowUnknownMethods ?? false;
    this.allowHttp09 = options.allowHttp09 ?? false;
    const l: LenientFlags = options.lenient === "all" ? ALL_LENIENT : (options.lenient ?? {});
    this.lenHeaders = l.headers ?? false;
    this.lenChunkedLength = l.chunkedLength ?? false;
    this.lenKeepAlive = l.keepAlive ?? false;
    this.lenTransferEncoding = l.transferEncoding ?? false;
    this.lenVersion = l.version ?? false;
    this.lenDataAfterClose = l.dataAfterClose ?? false;
    this.lenLfAfterCr = l.optionalLfAfterCr ?? false;
    this.lenCrBeforeLf = l.optionalCrBeforeLf ?? false;
    this.lenCrlfAfterChunk = l.optionalCrlfAfterChunk ?? false;
    this.lenSpacesAfterChunkSize = l.spacesAfterChunkSize ?? false;
    this.nameTable = this.lenHeaders ? NAME_LENIENT : TCHAR;
    this.valueTable = this.lenHeaders ? VALUE_LENIENT : l.headerValueRelaxed ? VALUE_RELAXED : VALUE_STRICT;
    this.limitRemaining = this.maxHeaderSize;
    // A field line takes at least 3 bytes ("a:" CRLF is 4), so the header
    // size limit bounds the field count too.
    const slots = Math.min(this.maxHeaders, Math.ceil(this.maxHeaderSize / 3)) + 1;
    this.fpos = new Int32Array(slots * 4);
    this.fkind = new Uint8Array(slots);
  }

  /** True after a callback paused, until {@link resume}. */
  get paused(): boolean {
    return this.isPaused;
  }

  /** True once an upgrade/CONNECT message completed: the rest of the stream is not HTTP. */
  get upgraded(): boolean {
    return this.state === S_UPGRADED;
  }

  /** True between messages (no message in progress). */
  get idle(): boolean {
    return this.state === S_START || this.state === S_CLOSED;
  }

  /** True after a message that ends the connection (`Connection: close`, HTTP/1.0 without keep-alive, a body to EOF). */
  get closed(): boolean {
    return this.state === S_CLOSED;
  }

  /** The error that killed the parser, if any. */
  get failure(): HttpParseError | null {
    return this.error;
  }

  /** Bytes consumed since construction or {@link reset}. */
  get bytesConsumed(): number {
    return this.consumed;
  }

  /** Clears a pause; the next `execute()` continues where the last stopped. */
  resume(): void {
    this.isPaused = false;
  }

  /** After an upgrade the caller declined (it answered the request normally): keep parsing HTTP. */
  resumeAfterUpgrade(): void {
    if (this.state === S_UPGRADED) this.state = S_START;
  }

  /**
   * Response parsers: the method of the next request sent on this connection,
   * in order (a FIFO). A response to HEAD has no body, a 2xx response to
   * CONNECT is a tunnel. Final (non-1xx) responses consume one entry; without
   * one the response is parsed as if answering GET.
   */
  pushRequestMethod(method: string): void {
    this.methodQueue.push(method);
  }

  /** Forgets everything (for reuse on a new connection). Options and handler stay. */
  reset(): void {
    this.state = S_START;
    this.isPaused = false;
    this.error = null;
    this.consumed = 0;
    this.capturing = false;
    this.carryLen = 0;
    this.lfLoose = false;
    this.limitRemaining = this.maxHeaderSize;
    this.limitIsExt = false;
    this.methodQueue.length = 0;
    this.head = null;
  }

  /**
   * Parses `data[start..end)`. Returns the number of bytes consumed: all of
   * them, unless a callback paused or the message was an upgrade. Throws
   * {@link HttpParseError} on malformed input.
   */
  execute(data: Uint8Array, start = 0, end = data.length): number {
    if (!(start >= 0 && start <= end && end <= data.length)) {
      throw new MorganaError("EINVAL", `HttpParser.execute: bad range [${start}, ${end}) of a ${data.length}-byte buffer`);
    }
    if (this.error !== null) throw this.error;
    if (this.isPaused || this.state === S_UPGRADED) return 0;
    const h = this.h;
    let state = this.state;
    let p = start;
    // Where the capture region's bytes in this chunk begin: region offset of
    // data[i] is carryLen + (i - cap).
    let cap = start;
    let hl = start + this.limitRemaining;
    // A DataView of `data` for reading 4 bytes at a time (made on first use).
    let dv: DataView | null = null;
    this.base = this.consumed - start;

    loop: while (p < end) {
      // Limits of the header/trailer section and of chunk extensions, exact
      // to the byte: the scanning loops stop at `hl`, this catches the states
      // that take one byte at a time.
      if (
        p >= hl &&
        (state <= S_FIELD_END ? state >= S_METHOD && (state !== S_LF || this.lfNext <= L_SECTION) : state >= S_EXT_NAME_START && state <= S_EXT_AFTER_QUOTED)
      ) {
        throw this.overflow(p);
      }
      switch (state) {
        case S_START: {
          let c = data[p]!;
          while (c === CR || c === LF) {
            if (++p === end) break loop;
            c = data[p]!;
          }
          this.beginMessage();
          hl = p + this.maxHeaderSize;
          this.limitIsExt = false;
          cap = p;
          this.openRegion();
          if (this.isRequest) {
            state = S_METHOD;
          } else {
            this.idx = 0;
            state = S_RES_PROTO;
          }
          if (h.onMessageBegin !== undefined && h.onMessageBegin() === "pause") {
            this.isPaused = true;
            break loop;
          }
          break;
        }

        case S_CLOSED: {
          if (this.lenDataAfterClose) {
            p = end;
            break;
          }
          let c = data[p]!;
          while (c === CR || c === LF) {
            if (++p === end) break loop;
            c = data[p]!;
          }
          throw this.fail("HPE_CLOSED_CONNECTION", p, "data after a message that closed the connection (Connection: close or HTTP/1.0 without keep-alive)");
        }

        // ---- request line ----
        case S_METHOD: {
          const lim = hl < end ? hl : end;
          while (p < lim && TCHAR[data[p]!] === 1) p++;
          if (p === lim) {
            if (lim < end) throw this.overflow(p);
            break;
          }
          const c = data[p]!;
          const len = this.carryLen + (p - cap);
          if (c !== SP || len === 0) {
            throw this.fail(
              "HPE_INVALID_METHOD",
              p,
              len === 0
                ? `invalid character ${describeByte(c)} at the start of the request line`
                : `invalid character ${describeByte(c)} in the method (expected a token followed by one SP)`,
            );
          }
          cap = this.view(data, cap, p);
          const m = matchMethod(this.rbuf, this.roff, this.roff + len);
          if (m === undefined) {
            if (!this.allowUnknownMethods) {
              throw this.fail("HPE_INVALID_METHOD", p, `unknown method ${JSON.stringify(latin1(this.rbuf, this.roff, this.roff + len))}`);
            }
            this.method = "";
          } else {
            this.method = m;
          }
          this.methodEnd = len;
          p++;
          this.targetStart = len + 1;
          state = S_TARGET;
          break;
        }

        case S_TARGET: {
          const lim = hl < end ? hl : end;
          if (p + 4 <= lim) {
            // Four bytes at a time while all are VCHAR (0x21-0x7e).
            dv ??= new DataView(data.buffer, data.byteOffset, data.byteLength);
            while (p + 4 <= lim) {
              const x = dv.getInt32(p, true);
              if ((((x - 0x21212121) & ~x) | ((x + 0x01010101) | x)) & 0x80808080) break;
              p += 4;
            }
          }
          while (p < lim && TARGET[data[p]!] === 1) p++;
          const len = this.carryLen + (p - cap) - this.targetStart;
          if (len > this.maxTargetLength) {
            // Reported at the first byte past the limit, whatever the chunking.
            throw this.fail("HPE_URI_TOO_LONG", p - (len - this.maxTargetLength), `request-target longer than ${this.maxTargetLength} bytes (maxTargetLength)`);
          }
          if (p === lim) {
            if (lim < end) throw this.overflow(p);
            break;
          }
          const c = data[p]!;
          this.targetEnd = this.targetStart + len;
          if (c === SP) {
            if (len === 0) throw this.fail("HPE_INVALID_URL", p, "empty request-target (two SP after the method)");
            p++;
            this.idx = 0;
            state = S_REQ_PROTO;
          } else if ((c === CR || c === LF) && this.allowHttp09 && len > 0) {
            this.vMajor = 0;
            this.vMinor = 9;
            state = S_REQ_LINE_END;
          } else if (c === CR || c === LF) {
            throw this.fail("HPE_INVALID_VERSION", p, "request line without an HTTP version (HTTP/0.9 is not accepted)");
          } else {
            throw this.fail("HPE_INVALID_URL", p, `invalid character ${describeByte(c)} in the request-target`);
          }
          break;
        }

        case S_REQ_PROTO:
        case S_RES_PROTO: {
          if (this.idx === 0 && p + 10 <= end && p + 10 <= hl) {
            // Fast path: "HTTP/d.d" then CRLF (request) or SP (response).
            const M = data[p + 5]! - 0x30;
            const m = data[p + 7]! - 0x30;
            if (
              data[p] === 0x48 && data[p + 1] === 0x54 && data[p + 2] === 0x54 && data[p + 3] === 0x50 && data[p + 4] === 0x2f &&
              M >= 0 && M <= 9 && data[p + 6] === 0x2e && m >= 0 && m <= 9
            ) {
              this.vMajor = M;
              this.vMinor = m;
              if (state === S_REQ_PROTO) {
                if (data[p + 8] === CR && data[p + 9] === LF) {
                  this.checkVersion(p + 7);
                  p += 10;
                  state = S_FIRST_LINE;
                  break;
                }
              } else if (data[p + 8] === SP) {
                this.checkVersion(p + 7);
                p += 9;
                this.status = 0;
                this.idx = 0;
                state = S_STATUS;
                break;
              }
            }
          }
          const c = data[p]!;
          if (c !== HTTP_SLASH[this.idx]) {
            throw this.fail(
              "HPE_INVALID_CONSTANT",
              p,
              state === S_REQ_PROTO
                ? `expected "HTTP/" after the request-target, got ${describeByte(c)}`
                : `expected "HTTP/" at the start of the status line, got ${describeByte(c)}`,
            );
          }
          p++;
          if (++this.idx === 5) state = state === S_REQ_PROTO ? S_REQ_MAJOR : S_RES_MAJOR;
          break;
        }

        case S_REQ_MAJOR:
        case S_RES_MAJOR: {
          const c = data[p]!;
          if (c < 0x30 || c > 0x39) throw this.fail("HPE_INVALID_VERSION", p, `expected the major version digit, got ${describeByte(c)}`);
          this.vMajor = c - 0x30;
          p++;
          state = state === S_REQ_MAJOR ? S_REQ_DOT : S_RES_DOT;
          break;
        }

        case S_REQ_DOT:
        case S_RES_DOT: {
          const c = data[p]!;
          if (c !== 0x2e) throw this.fail("HPE_INVALID_VERSION", p, `expected "." in the HTTP version, got ${describeByte(c)}`);
          p++;
          state = state === S_REQ_DOT ? S_REQ_MINOR : S_RES_MINOR;
          break;
        }

        case S_REQ_MINOR:
        case S_RES_MINOR: {
          const c = data[p]!;
          if (c < 0x30 || c > 0x39) throw this.fail("HPE_INVALID_VERSION", p, `expected the minor version digit, got ${describeByte(c)}`);
          this.vMinor = c - 0x30;
          this.checkVersion(p);
          p++;
          state = state === S_REQ_MINOR ? S_REQ_LINE_END : S_RES_SP;
          break;
        }

        case S_REQ_LINE_END: {
          const c = data[p]!;
          if (c === CR) {
            p++;
            this.lfNext = L_START_LINE;
            state = S_LF;
          } else if (c === LF && this.lenCrBeforeLf) {
            p++;
            state = S_FIRST_LINE;
          } else if (c === LF) {
            throw this.fail("HPE_CR_EXPECTED", p, "bare LF at the end of the request line (expected CRLF)");
          } else {
            throw this.fail("HPE_INVALID_VERSION", p, `expected CRLF after the HTTP version, got ${describeByte(c)}`);
          }
          break;
        }

        // ---- status line ----
        case S_RES_SP: {
          const c = data[p]!;
          if (c !== SP) throw this.fail("HPE_INVALID_VERSION", p, `expected one SP after the HTTP version, got ${describeByte(c)}`);
          p++;
          this.status = 0;
          this.idx = 0;
          state = S_STATUS;
          break;
        }

        case S_STATUS: {
          const c = data[p]!;
          if (c < 0x30 || c > 0x39) {
            throw this.fail("HPE_INVALID_STATUS", p, `invalid character ${describeByte(c)} in the status code (expected three digits)`);
          }
          this.status = this.status * 10 + (c - 0x30);
          p++;
          if (++this.idx === 3) {
            if (this.status < 100) throw this.fail("HPE_INVALID_STATUS", p, `status code ${String(this.status).padStart(3, "0")} is below 100`);
            state = S_STATUS_END;
          }
          break;
        }

        case S_STATUS_END: {
          const c = data[p]!;
          if (c === SP) {
            p++;
            this.reasonStart = this.reasonEnd = this.carryLen + (p - cap);
            state = S_REASON;
          } else if (c === CR) {
            p++;
            this.lfNext = L_START_LINE;
            state = S_LF;
          } else if (c === LF && this.lenCrBeforeLf) {
            p++;
            state = S_FIRST_LINE;
          } else {
            throw this.fail(c === LF ? "HPE_CR_EXPECTED" : "HPE_INVALID_STATUS", p, `expected SP or CRLF after the status code, got ${describeByte(c)}`);
          }
          break;
        }

        case S_REASON: {
          const lim = hl < end ? hl : end;
          for (;;) {
            while (p < lim && REASON[data[p]!] === 1) p++;
            if (p < lim && REASON[data[p]!] === 2) {
              this.hi = true;
              p++;
            } else break;
          }
          if (p === lim) {
            if (lim < end) throw this.overflow(p);
            break;
          }
          const c = data[p]!;
          if (c === CR || (c === LF && this.lenCrBeforeLf)) {
            this.reasonEnd = this.carryLen + (p - cap);
            p++;
            if (c === CR) {
              this.lfNext = L_START_LINE;
              state = S_LF;
            } else {
              state = S_FIRST_LINE;
            }
          } else if (c === LF) {
            throw this.fail("HPE_CR_EXPECTED", p, "bare LF at the end of the status line (expected CRLF)");
          } else {
            throw this.fail("HPE_INVALID_STATUS", p, `invalid character ${describeByte(c)} in the reason phrase`);
          }
          break;
        }

        // ---- line ends ----
        case S_LF: {
          const next = this.lfNext;
          if (data[p] === LF) p++;
          else if (!(this.lenLfAfterCr || this.lfLoose || (next === L_FIELD && this.lenHeaders))) {
            throw this.fail("HPE_LF_EXPECTED", p, `bare CR (not followed by LF) at the end of ${LF_CONTEXT[next]}`);
          }
          this.lfLoose = false;
          switch (next) {
            case L_START_LINE:
              state = S_FIRST_LINE;
              break;
            case L_FIELD:
              state = S_FIELD_END;
              break;
            case L_SECTION:
              state = this.inTrailers ? this.trailersDone(data, cap, p) : this.headersDone(data, cap, p);
              if (this.isPaused || state === S_UPGRADED) break loop;
              break;
            case L_CHUNK_HEADER:
              state = this.chunkHeaderDone(p);
              if (state === S_FIELD_START) {
                hl = p + this.maxHeaderSize;
                cap = p;
                this.openRegion();
              }
              if (this.isPaused) break loop;
              break;
            default:
              state = S_CHUNK_SIZE_START;
              if (h.onChunkComplete !== undefined && h.onChunkComplete() === "pause") {
                this.isPaused = true;
                break loop;
              }
          }
          break;
        }

        // ---- header section (and trailer section) ----
        case S_FIRST_LINE: {
          const c = data[p]!;
          if (c === SP || c === HTAB) throw this.fail("HPE_UNEXPECTED_SPACE", p, "whitespace at the start of the first header line");
          state = S_FIELD_START;
          break;
        }

        case S_FIELD_START: {
          if (p >= hl) throw this.overflow(p);
          if (this.carryLen === 0 && !this.lenHeaders) {
            // Fast path: whole, well-formed field lines in this chunk.
            dv ??= new DataView(data.buffer, data.byteOffset, data.byteLength);
            const q = this.fastFields(data, dv, cap, p, hl < end ? hl : end);
            if (q > p) {
              p = q;
              state = S_FIELD_END;
              break;
            }
          }
          const c = data[p]!;
          if (c === CR) {
            p++;
            this.lfNext = L_SECTION;
            state = S_LF;
          } else if (c === LF) {
            if (!this.lenCrBeforeLf) throw this.fail("HPE_CR_EXPECTED", p, `bare LF ending the ${this.inTrailers ? "trailer" : "header"} section (expected CRLF)`);
            p++;
            state = this.inTrailers ? this.trailersDone(data, cap, p) : this.headersDone(data, cap, p);
            if (this.isPaused || state === S_UPGRADED) break loop;
          } else {
            if (this.nameTable[c] === 0) {
              throw this.fail("HPE_INVALID_HEADER_TOKEN", p, c === SP || c === HTAB ? "whitespace before a field name" : `invalid character ${describeByte(c)} at the start of a field name`);
            }
            const n = this.nFields;
            if (n >= this.maxHeaders) {
              throw this.fail("HPE_TOO_MANY_HEADERS", p, `more than ${this.maxHeaders} ${this.inTrailers ? "trailer" : "header"} fields (maxHeaders)`);
            }
            this.fpos[n * 4] = this.carryLen + (p - cap);
            state = S_NAME;
          }
          break;
        }

        case S_NAME: {
          const lim = hl < end ? hl : end;
          const t = this.nameTable;
          for (;;) {
            while (p < lim && t[data[p]!] === 1) p++;
            if (p < lim && t[data[p]!] === 2) {
              this.hi = true;
              p++;
            } else break;
          }
          if (p === lim) {
            if (lim < end) throw this.overflow(p);
            break;
          }
          const c = data[p]!;
          if (c !== 0x3a) {
            let why: string;
            if (c === SP || c === HTAB) why = "whitespace between the field name and the colon";
            else if (c === CR || c === LF) why = "header line without a colon";
            else why = `invalid character ${describeByte(c)} in a field name`;
            throw this.fail("HPE_INVALID_HEADER_TOKEN", p, why);
          }
          this.fpos[this.nFields * 4 + 1] = this.carryLen + (p - cap);
          p++;
          state = S_VALUE_OWS;
          break;
        }

        case S_VALUE_OWS: {
          const lim = hl < end ? hl : end;
          let c = 0;
          while (p < lim && ((c = data[p]!) === SP || c === HTAB)) p++;
          if (p === lim) {
            if (lim < end) throw this.overflow(p);
            break;
          }
          this.fpos[this.nFields * 4 + 2] = this.carryLen + (p - cap);
          state = S_VALUE;
          break;
        }

        case S_VALUE: {
          const lim = hl < end ? hl : end;
          const t = this.valueTable;
          for (;;) {
            while (p < lim && t[data[p]!] === 1) p++;
            if (p < lim && t[data[p]!] === 2) {
              this.hi = true;
              p++;
            } else break;
          }
          if (p === lim) {
            if (lim < end) throw this.overflow(p);
            break;
          }
          const c = data[p]!;
          if (c === CR || (c === LF && this.lenCrBeforeLf)) {
            // The value ends before trailing OWS.
            const k = this.nFields * 4;
            const vs = this.fpos[k + 2]!;
            let ve = this.carryLen + (p - cap);
            const prev = p > cap ? data[p - 1] : -1;
            if (ve > vs && (prev === SP || prev === HTAB || prev === -1)) {
              cap = this.view(data, cap, p);
              const b = this.rbuf;
              const o = this.roff;
              while (ve > vs && (b[o + ve - 1] === SP || b[o + ve - 1] === HTAB)) ve--;
            }
            this.fpos[k + 3] = ve;
            if (this.folding) {
              this.folding = false;
              cap = this.view(data, cap, p);
              const piece = latin1(this.rbuf, this.roff + vs, this.roff + ve, !this.hi);
              const fv = this.foldVals!;
              const b = fv[this.nFields]!;
              fv[this.nFields] = b.length === 0 ? piece : piece.length === 0 ? b : `${b} ${piece}`;
            }
            // Strict mode has no obs-fold: the field is complete at its line
            // end, so its framing checks run before the next line arrives.
            if (!this.lenHeaders) cap = this.commitField(data, cap, p);
            p++;
            if (c === CR) {
              this.lfNext = L_FIELD;
              state = S_LF;
            } else {
              state = S_FIELD_END;
            }
          } else if (c === LF) {
            throw this.fail("HPE_CR_EXPECTED", p, `bare LF in the value of ${this.fieldName(data, cap, p)} (expected CRLF)`);
          } else {
            throw this.fail("HPE_INVALID_HEADER_TOKEN", p, `invalid character ${describeByte(c)} in the value of ${this.fieldName(data, cap, p)}`);
          }
          break;
        }

        case S_FIELD_END: {
          const c = data[p]!;
          if (c === SP || c === HTAB) {
            if (!this.lenHeaders) {
              throw this.fail("HPE_INVALID_HEADER_TOKEN", p, `obs-fold (a line starting with whitespace) after ${this.fieldName(data, cap, p)}`);
            }
            // Join the folded lines: keep the value so far as a string.
            const fv = (this.foldVals ??= []);
            const n = this.nFields;
            if (fv[n] === undefined) {
              cap = this.view(data, cap, p);
              const k = n * 4;
              fv[n] = latin1(this.rbuf, this.roff + this.fpos[k + 2]!, this.roff + this.fpos[k + 3]!, !this.hi);
            }
            this.folding = true;
            state = S_VALUE_OWS;
            break;
          }
          if (this.lenHeaders) cap = this.commitField(data, cap, p);
          state = S_FIELD_START;
          break;
        }

        // ---- bodies ----
        case S_BODY_LENGTH: {
          const avail = end - p;
          const n = avail < this.remaining ? avail : this.remaining;
          let r: CallbackResult = undefined;
          if (h.onBody !== undefined) r = h.onBody(data.subarray(p, p + n), this.head!);
          p += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            state = this.messageDone();
            if (state === S_UPGRADED) break loop;
          }
          if (r === "pause") this.isPaused = true;
          if (this.isPaused) break loop;
          break;
        }

        case S_BODY_EOF: {
          let n = end - p;
          const room = this.maxBodySize - this.bodyBytes;
          const over = n > room;
          if (over) n = room; // deliver up to the limit, then fail at the first byte past it
          this.bodyBytes += n;
          let r: CallbackResult = undefined;
          if (h.onBody !== undefined && n > 0) r = h.onBody(data.subarray(p, p + n), this.head!);
          p += n;
          if (over) throw this.fail("HPE_BODY_TOO_LARGE", p, `body larger than ${this.maxBodySize} bytes (maxBodySize)`);
          if (r === "pause") {
            this.isPaused = true;
            break loop;
          }
          break;
        }

        case S_CHUNK_SIZE_START: {
          const c = data[p]!;
          const d = HEX[c]!;
          if (d === 255) throw this.fail("HPE_INVALID_CHUNK_SIZE", p, `invalid character ${describeByte(c)} where a chunk size (hex digits) must start`);
          this.chunkSize = d;
          this.chunkExt = "";
          p++;
          state = S_CHUNK_SIZE;
          break;
        }

        case S_CHUNK_SIZE:
        case S_CHUNK_SIZE_WS: {
          let c = 0;
          if (state === S_CHUNK_SIZE) {
            let size = this.chunkSize;
            let d = 0;
            while (p < end && (d = HEX[(c = data[p]!)]!) !== 255) {
              if (size > 0x1ffffffffffff) throw this.fail("HPE_INVALID_CHUNK_SIZE", p, "chunk size overflow (more than 2^53 - 1)");
              size = size * 16 + d;
              p++;
            }
            this.chunkSize = size;
          } else {
            while (p < end && ((c = data[p]!) === SP || c === HTAB)) p++;
          }
          if (p === end) break;
          state = this.afterChunkSize(c, p, state);
          if (state === S_EXT_NAME_START) {
            hl = p + this.maxChunkExt + 1;
            this.limitIsExt = true;
            if (h.onChunkHeader !== undefined) {
              cap = p;
              this.openRegion();
            }
          }
          p++;
          break;
        }

        case S_EXT_NAME_START: {
          if (p >= hl) throw this.overflow(p);
          const c = data[p]!;
          if (TCHAR[c] !== 1) throw this.fail("HPE_INVALID_CHUNK_EXTENSION", p, `expected a chunk-extension name after ";", got ${describeByte(c)}`);
          p++;
          state = S_EXT_NAME;
          break;
        }

        case S_EXT_NAME:
        case S_EXT_TOKEN: {
          const lim = hl < end ? hl : end;
          while (p < lim && TCHAR[data[p]!] === 1) p++;
          if (p === lim) {
            if (lim < end) throw this.overflow(p);
            break;
          }
          const c = data[p]!;
          if (c === 0x3d && state === S_EXT_NAME) {
            p++;
            state = S_EXT_VALUE_START;
          } else {
            const s = this.afterExtension(c, data, cap, p);
            if (s < 0) throw this.fail("HPE_INVALID_CHUNK_EXTENSION", p, `invalid character ${describeByte(c)} in a chunk extension`);
            state = s;
            p++;
          }
          break;
        }

        case S_EXT_VALUE_START: {
          if (p >= hl) throw this.overflow(p);
          const c = data[p]!;
          if (c === 0x22) state = S_EXT_QUOTED;
          else if (TCHAR[c] === 1) state = S_EXT_TOKEN;
          else throw this.fail("HPE_INVALID_CHUNK_EXTENSION", p, `expected a token or quoted-string after "=" in a chunk extension, got ${describeByte(c)}`);
          p++;
          break;
        }

        case S_EXT_QUOTED: {
          const lim = hl < end ? hl : end;
          for (;;) {
            while (p < lim && QDTEXT[data[p]!] === 1) p++;
            if (p < lim && QDTEXT[data[p]!] === 2) {
              this.hi = true;
              p++;
            } else break;
          }
          if (p === lim) {
            if (lim < end) throw this.overflow(p);
            break;
          }
          const c = data[p]!;
          if (c === 0x22) state = S_EXT_AFTER_QUOTED;
          else if (c === 0x5c) state = S_EXT_QESC;
          else throw this.fail("HPE_INVALID_CHUNK_EXTENSION", p, `invalid character ${describeByte(c)} in a quoted chunk-extension value`);
          p++;
          break;
        }

        case S_EXT_QESC: {
          const c = data[p]!;
          const k = QPAIR[c]!;
          if (k === 0) throw this.fail("HPE_INVALID_CHUNK_EXTENSION", p, `invalid character ${describeByte(c)} after a backslash in a chunk extension`);
          if (k === 2) this.hi = true;
          p++;
          state = S_EXT_QUOTED;
          break;
        }

        case S_EXT_AFTER_QUOTED: {
          const c = data[p]!;
          const s = this.afterExtension(c, data, cap, p);
          if (s < 0) throw this.fail("HPE_INVALID_CHUNK_EXTENSION", p, `invalid character ${describeByte(c)} after a quoted chunk-extension value`);
          state = s;
          p++;
          break;
        }

        case S_CHUNK_DATA: {
          const avail = end - p;
          const n = avail < this.remaining ? avail : this.remaining;
          let r: CallbackResult = undefined;
          if (h.onBody !== undefined) r = h.onBody(data.subarray(p, p + n), this.head!);
          p += n;
          this.remaining -= n;
          if (this.remaining === 0) state = S_CHUNK_DATA_END;
          if (r === "pause") {
            this.isPaused = true;
            break loop;
          }
          break;
        }

        case S_CHUNK_DATA_END: {
          const c = data[p]!;
          if (c === CR) {
            p++;
            this.lfNext = L_CHUNK_DATA;
            state = S_LF;
            break;
          }
          if (c === LF && this.lenCrBeforeLf) p++;
          else if (!this.lenCrlfAfterChunk) throw this.fail(c === LF ? "HPE_CR_EXPECTED" : "HPE_INVALID_CHUNK_SIZE", p, `expected CRLF after chunk data, got ${describeByte(c)}`);
          state = S_CHUNK_SIZE_START;
          if (h.onChunkComplete !== undefined && h.onChunkComplete() === "pause") {
            this.isPaused = true;
            break loop;
          }
          break;
        }

        default:
          // S_DEAD and S_UPGRADED never reach the loop.
          throw this.fail("HPE_INVALID_EOF_STATE", p, `internal: unexpected state ${state}`);
      }
    }

    if (this.capturing && p > cap) this.append(data, cap, p);
    this.limitRemaining = hl - p;
    this.state = state;
    this.consumed += p - start;
    return p - start;
  }

  /**
   * The peer finished sending (end of stream). Completes a body delimited by
   * EOF (calling `onMessageComplete`); does nothing between messages; throws
   * `HPE_INVALID_EOF_STATE` inside a message.
   */
  finish(): void {
    if (this.error !== null) throw this.error;
    const s = this.state;
    if (s === S_START || s === S_CLOSED || s === S_UPGRADED) return;
    if (s === S_BODY_EOF) {
      this.messageDone();
      this.state = S_CLOSED;
      return;
    }
    this.base = this.consumed;
    throw this.fail("HPE_INVALID_EOF_STATE", 0, `the stream ended ${where(s)}`);
  }

  // ---- helpers ----

  private fail(code: HttpErrorCode, p: number, reason: string): HttpParseError {
    const e = new HttpParseError(code, this.base + p, reason);
    this.error = e;
    this.state = S_DEAD;
    this.capturing = false;
    this.carryLen = 0;
    return e;
  }

  private overflow(p: number): HttpParseError {
    if (this.limitIsExt) {
      return this.fail("HPE_CHUNK_EXTENSIONS_OVERFLOW", p, `chunk extensions longer than ${this.maxChunkExt} bytes (maxChunkExtensionSize)`);
    }
    return this.fail(
      "HPE_HEADER_OVERFLOW",
      p,
      `${this.inTrailers ? "trailer section" : "start line and header section"} larger than ${this.maxHeaderSize} bytes (maxHeaderSize)`,
    );
  }

  /** `header field "Name"` for error messages (the field being parsed). */
  private fieldName(data: Uint8Array, cap: number, p: number): string {
    this.view(data, cap, p);
    const k = this.nFields * 4;
    const name = latin1(this.rbuf, this.roff + this.fpos[k]!, this.roff + this.fpos[k + 1]!);
    return `${this.inTrailers ? "trailer" : "header"} field ${JSON.stringify(name)}`;
  }

  private checkVersion(p: number): void {
    const M = this.vMajor;
    const m = this.vMinor;
    if (M === 1 && (m === 1 || m === 0)) return;
    if (this.lenVersion) return;
    if (M === 0 && m === 9 && this.allowHttp09) return;
    if (M === 2 && m === 0 && this.isRequest && this.method === "PRI") return;
    throw this.fail("HPE_INVALID_VERSION", p, `unsupported HTTP version ${M}.${m}`);
  }

  private openRegion(): void {
    this.capturing = true;
    this.carryLen = 0;
    this.hi = false;
  }

  private closeRegion(): void {
    this.capturing = false;
    this.carryLen = 0;
    if (this.carry.length > 65536) this.carry = new Uint8Array(0);
  }

  /** Appends `data[from..to)` to the carry buffer. */
  private append(data: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    const need = this.carryLen + n;
    if (need > this.carry.length) {
      const grown = new Uint8Array(Math.max(need, this.carry.length * 2, 256));
      grown.set(this.carry.subarray(0, this.carryLen));
      this.carry = grown;
    }
    this.carry.set(data.subarray(from, to), this.carryLen);
    this.carryLen = need;
  }

  /**
   * Makes the capture region up to `p` contiguous: sets `rbuf`/`roff` so that
   * region offset r is `rbuf[roff + r]`, and returns the new `cap`.
   */
  private view(data: Uint8Array, cap: number, p: number): number {
    if (this.carryLen > 0) {
      this.append(data, cap, p);
      this.rbuf = this.carry;
      this.roff = 0;
      return p;
    }
    this.rbuf = data;
    this.roff = cap;
    return cap;
  }

  private beginMessage(): void {
    this.method = "";
    this.vMajor = 0;
    this.vMinor = 0;
    this.status = 0;
    this.methodEnd = this.targetStart = this.targetEnd = this.reasonStart = this.reasonEnd = 0;
    this.nFields = 0;
    this.foldVals = null;
    this.trailers = null;
    this.inTrailers = false;
    this.folding = false;
    this.clSeen = false;
    this.contentLength = -1;
    this.upgradeHeader = false;
    this.hostCount = 0;
    this.head = null;
    this.bodyBytes = 0;
  }

  /** True when the region bytes [s, e) equal `lower` ignoring ASCII case (`lower` is lower-case letters and '-'). */
  private nameIs(s: number, e: number, lower: string): boolean {
    if (e - s !== lower.length) return false;
    const b = this.rbuf;
    const o = this.roff + s;
    for (let i = 0; i < lower.length; i++) if ((b[o + i]! | 0x20) !== lower.charCodeAt(i)) return false;
    return true;
  }

  /** Commits the field being parsed (its name and value are recorded); returns the new `cap`. */
  private commitField(data: Uint8Array, cap: number, p: number): number {
    const n = this.nFields++;
    if (this.inTrailers) return cap;
    const k = n * 4;
    const ns = this.fpos[k]!;
    let ne = this.fpos[k + 1]!;
    let kind = K_OTHER;
    let len = ne - ns;
    if (this.lenHeaders) {
      // A lenient name may end in whitespace ("Content-Length :").
      cap = this.view(data, cap, p);
      while (ne > ns && (this.rbuf[this.roff + ne - 1] === SP || this.rbuf[this.roff + ne - 1] === HTAB)) ne--;
      len = ne - ns;
    }
    if (len === 4 || len === 7 || len === 10 || len === 14 || len === 17) {
      cap = this.view(data, cap, p);
      if (len === 4 && this.nameIs(ns, ne, "host")) kind = K_HOST;
      else if (len === 7 && this.nameIs(ns, ne, "upgrade")) kind = K_UPGRADE;
      else if (len === 10 && this.nameIs(ns, ne, "connection")) kind = K_CONNECTION;
      else if (len === 14 && this.nameIs(ns, ne, "content-length")) kind = K_CONTENT_LENGTH;
      else if (len === 17 && this.nameIs(ns, ne, "transfer-encoding")) kind = K_TRANSFER_ENCODING;
    }
    this.fkind[n] = kind;
    switch (kind) {
      case K_HOST:
        if (this.isRequest && ++this.hostCount > 1) throw this.fail("HPE_DUPLICATE_HOST", p, "more than one Host header field");
        break;
      case K_UPGRADE:
        this.upgradeHeader = true;
        break;
      case K_CONTENT_LENGTH: {
        if (this.clSeen) throw this.fail("HPE_UNEXPECTED_CONTENT_LENGTH", p, "more than one Content-Length header field");
        const fold = this.foldVals?.[n];
        const value = fold ?? latin1(this.rbuf, this.roff + this.fpos[k + 2]!, this.roff + this.fpos[k + 3]!, !this.hi);
        this.contentLength = this.parseContentLength(value, p);
        this.clSeen = true;
        break;
      }
    }
    return cap;
  }

  private parseContentLength(value: string, p: number): number {
    if (value.length === 0) throw this.fail("HPE_INVALID_CONTENT_LENGTH", p, "empty Content-Length");
    let n = 0;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x30 || c > 0x39) {
        throw this.fail("HPE_INVALID_CONTENT_LENGTH", p, `invalid character ${describeByte(c & 0xff)} in Content-Length ${JSON.stringify(value)} (digits only)`);
      }
      n = n * 10 + (c - 0x30);
      if (n > MAX_SAFE) throw this.fail("HPE_INVALID_CONTENT_LENGTH", p, `Content-Length ${value} overflows (more than 2^53 - 1)`);
    }
    return n;
  }

  /**
   * Strict mode, region in `data` (cap is its start): consumes complete
   * `name: value CRLF` lines starting at `p` while they are well formed and
   * entirely before `lim`; returns the position after the last line taken
   * (p when none). Anything unusual is left to the byte-level states.
   */
  private fastFields(data: Uint8Array, dv: DataView, cap: number, p: number, lim: number): number {
    const vt = this.valueTable;
    const f = this.fpos;
    let n = this.nFields;
    const max = this.maxHeaders;
    let hi = this.hi;
    let done = p;
    while (n < max) {
      let q = done;
      const ns = q;
      while (q < lim && TCHAR[data[q]!] === 1) q++;
      if (q === ns || q >= lim || data[q] !== 0x3a) break;
      const ne = q;
      q++;
      let c = 0;
      while (q < lim && ((c = data[q]!) === SP || c === HTAB)) q++;
      const vs = q;
      for (;;) {
        // Four bytes at a time while they are all printable ASCII (0x20-0x7e):
        // no byte below 0x20 and none above 0x7e (SWAR "hasless"/"hasmore").
        while (q + 4 <= lim) {
          const x = dv.getInt32(q, true);
          if ((((x - 0x20202020) & ~x) | ((x + 0x01010101) | x)) & 0x80808080) break;
          q += 4;
        }
        if (q >= lim) break;
        const k = vt[data[q]!];
        if (k === 1) q++;
        else if (k === 2) {
          hi = true;
          q++;
        } else break;
      }
      if (q + 1 >= lim || data[q] !== CR || data[q + 1] !== LF) break;
      let ve = q;
      while (ve > vs && ((c = data[ve - 1]!) === SP || c === HTAB)) ve--;
      const k = n * 4;
      f[k] = ns - cap;
      f[k + 1] = ne - cap;
      f[k + 2] = vs - cap;
      f[k + 3] = ve - cap;
      this.hi = hi;
      this.nFields = n;
      const len = ne - ns;
      if (len === 4 || len === 7 || len === 10 || len === 14 || len === 17) this.commitField(data, cap, q);
      else {
        this.fkind[n] = K_OTHER;
        this.nFields = n + 1;
      }
      n = this.nFields;
      done = q + 2;
    }
    return done;
  }

  /** The strings of the fields recorded in the region, as a flat [name, value, ...] list. */
  private fieldStrings(str: string): string[] {
    const n = this.nFields;
    const raw: string[] = [];
    const f = this.fpos;
    const fv = this.foldVals;
    for (let i = 0; i < n; i++) {
      const k = i * 4;
      const folded = fv === null ? undefined : fv[i];
      raw.push(str.slice(f[k]!, f[k + 1]!), folded ?? str.slice(f[k + 2]!, f[k + 3]!));
    }
    return raw;
  }

  /** The header section ended at `p`: decide the framing, build the head, call `onHeaders`; returns the next state. */
  private headersDone(data: Uint8Array, cap: number, p: number): number {
    const len = this.carryLen + (p - cap);
    this.view(data, cap, p);
    const str = latin1(this.rbuf, this.roff, this.roff + len, !this.hi);
    this.closeRegion();
    const raw = this.fieldStrings(str);
    const req = this.isRequest;
    const M = this.vMajor;
    const m = this.vMinor;
    const http11 = M > 1 || (M === 1 && m >= 1);
    if (req && this.requireHost && http11 && this.hostCount === 0) {
      throw this.fail("HPE_MISSING_HOST", p, "HTTP/1.1 request without a Host header field");
    }
    // Connection tokens and transfer codings.
    let connClose = false;
    let connKeepAlive = false;
    let connUpgrade = false;
    let teValues: string[] | null = null;
    const fk = this.fkind;
    for (let i = 0; i < this.nFields; i++) {
      const kind = fk[i];
      if (kind === K_CONNECTION) {
        const rv = raw[i * 2 + 1]!;
        if (rv === "keep-alive" || rv === "Keep-Alive") {
          connKeepAlive = true;
          continue;
        }
        if (rv === "close" || rv === "Close") {
          connClose = true;
          continue;
        }
        const v = rv.toLowerCase();
        let a = 0;
        while (a <= v.length) {
          let b = v.indexOf(",", a);
          if (b < 0) b = v.length;
          const tok = trimOws(v.slice(a, b));
          if (tok === "close") connClose = true;
          else if (tok === "keep-alive") connKeepAlive = true;
          else if (tok === "upgrade") connUpgrade = true;
          a = b + 1;
        }
      } else if (kind === K_TRANSFER_ENCODING) {
        (teValues ??= []).push(raw[i * 2 + 1]!);
      }
    }
    const te = teValues !== null;
    const cl = this.clSeen;
    let kind: BodyKind = "none";
    let upgrade = false;
    let keepAlive = http11 ? !connClose : M === 1 && connKeepAlive && !connClose;
    const t = teValues !== null ? transferCodings(teValues) : NO_CODINGS;
    const codings = t.codings;
    let method = this.method;
    if (req && method === "") method = str.slice(0, this.methodEnd);
    if (req) {
      if (method === "CONNECT" || method === "PRI") {
        upgrade = true;
      } else {
        if (te) {
          if (cl && !this.lenChunkedLength) {
            throw this.fail("HPE_UNEXPECTED_CONTENT_LENGTH", p, "request with both Transfer-Encoding and Content-Length");
          }
          if (!http11 && !(this.lenTransferEncoding || this.lenChunkedLength)) {
            throw this.fail("HPE_INVALID_TRANSFER_ENCODING", p, `Transfer-Encoding in an HTTP/${M}.${m} request`);
          }
          const last = codings.length - 1;
          if (t.wellFormed && codings[last] === "chunked" && codings.indexOf("chunked") === last) {
            kind = "chunked";
          } else if (this.lenTransferEncoding || this.lenChunkedLength) {
            kind = "eof";
          } else {
            throw this.fail(
              "HPE_INVALID_TRANSFER_ENCODING",
              p,
              `request Transfer-Encoding ${JSON.stringify(teValues!.join(", "))} does not end with a single "chunked" coding`,
            );
          }
        } else if (cl) {
          kind = this.contentLength > 0 ? "length" : "none";
        }
        upgrade = connUpgrade && this.upgradeHeader;
      }
    } else {
      const status = this.status;
      const final = status >= 200 || status === 101;
      const reqMethod = final && this.methodQueue.length > 0 ? this.methodQueue.shift()! : "GET";
      if (te && cl && !this.lenChunkedLength) {
        throw this.fail("HPE_UNEXPECTED_CONTENT_LENGTH", p, "response with both Transfer-Encoding and Content-Length");
      }
      if (status === 101 || (reqMethod === "CONNECT" && status >= 200 && status < 300)) {
        upgrade = true;
      } else if (status < 200 || status === 204 || status === 304 || reqMethod === "HEAD") {
        kind = "none";
        if (status < 200) keepAlive = true;
      } else if (te) {
        kind = codings.length > 0 && codings[codings.length - 1] === "chunked" ? "chunked" : "eof";
      } else if (cl) {
        kind = this.contentLength > 0 ? "length" : "none";
      } else {
        kind = "eof";
      }
    }
    if (kind === "eof") keepAlive = false;
    if (kind === "length" && this.contentLength > this.maxBodySize) {
      throw this.fail("HPE_BODY_TOO_LARGE", p, `Content-Length ${this.contentLength} is larger than ${this.maxBodySize} bytes (maxBodySize)`);
    }
    const head = new HttpMessageHead(
      this.kind,
      method,
      req ? str.slice(this.targetStart, this.targetEnd) : "",
      M,
      m,
      this.status,
      req ? "" : str.slice(this.reasonStart, this.reasonEnd),
      raw,
      keepAlive,
      upgrade,
      kind,
      this.contentLength,
      codings,
    );
    this.head = head;
    const h = this.h;
    if (h.onHeaders !== undefined) {
      const r = h.onHeaders(head);
      if (r === "skip-body") kind = "none";
      else if (r === "pause") this.isPaused = true;
    }
    switch (kind) {
      case "none":
        return this.messageDone();
      case "length":
        this.remaining = this.contentLength;
        return S_BODY_LENGTH;
      case "chunked":
        return S_CHUNK_SIZE_START;
      default:
        return S_BODY_EOF;
    }
  }

  /** The message is complete: call `onMessageComplete`; returns the next state. */
  private messageDone(): number {
    const head = this.head!;
    if (this.trailers !== null && this.trailers.length > 0) head.rawTrailers = this.trailers;
    const h = this.h;
    if (h.onMessageComplete !== undefined && h.onMessageComplete(head) === "pause") this.isPaused = true;
    if (head.upgrade) return S_UPGRADED;
    if (!head.keepAlive && !this.lenKeepAlive) return S_CLOSED;
    return S_START;
  }

  /** The trailer section ended at `p`. */
  private trailersDone(data: Uint8Array, cap: number, p: number): number {
    const len = this.carryLen + (p - cap);
    this.view(data, cap, p);
    const str = latin1(this.rbuf, this.roff, this.roff + len, !this.hi);
    this.trailers = this.fieldStrings(str);
    this.closeRegion();
    const h = this.h;
    if (h.onChunkComplete !== undefined && h.onChunkComplete() === "pause") this.isPaused = true;
    return this.messageDone();
  }

  /**
   * The byte `c` at `p` ended the hex digits of a chunk size (state `from`);
   * returns the next state; the caller consumes `c`. Under
   * `optionalCrBeforeLf` a bare LF ends the line like llhttp does on
   * chunk-size lines: it stands for the CR, and an LF right after it is part
   * of the line end.
   */
  private afterChunkSize(c: number, p: number, from: number): number {
    if (c === 0x3b) return S_EXT_NAME_START;
    if (c === CR || (c === LF && this.lenCrBeforeLf)) {
      this.lfNext = L_CHUNK_HEADER;
      this.lfLoose = c === LF;
      return S_LF;
    }
    if ((c === SP || c === HTAB) && this.lenSpacesAfterChunkSize) return S_CHUNK_SIZE_WS;
    if (c === LF) throw this.fail("HPE_CR_EXPECTED", p, "bare LF after the chunk size (expected CRLF)");
    throw this.fail(
      "HPE_INVALID_CHUNK_SIZE",
      p,
      from === S_CHUNK_SIZE ? `invalid character ${describeByte(c)} in the chunk size` : `invalid character ${describeByte(c)} after the chunk size`,
    );
  }

  /**
   * The byte `c` at `p` ended a chunk-extension name, token value or quoted
   * value: `;` starts another extension, CR (or a bare LF when lenient) ends
   * the line. Returns the next state (the caller consumes `c`), or -1 when
   * `c` is not allowed there.
   */
  private afterExtension(c: number, data: Uint8Array, cap: number, p: number): number {
    if (c === 0x3b) return S_EXT_NAME_START;
    if (c === CR || (c === LF && this.lenCrBeforeLf)) {
      if (this.capturing) {
        const len = this.carryLen + (p - cap);
        this.view(data, cap, p);
        this.chunkExt = latin1(this.rbuf, this.roff, this.roff + len, !this.hi);
        this.closeRegion();
      }
      this.limitIsExt = false;
      this.lfNext = L_CHUNK_HEADER;
      this.lfLoose = c === LF;
      return S_LF;
    }
    return -1;
  }

  /** The chunk-size line ended: call `onChunkHeader`; returns the next state. */
  private chunkHeaderDone(p: number): number {
    const size = this.chunkSize;
    const h = this.h;
    if (h.onChunkHeader !== undefined && h.onChunkHeader(size, this.chunkExt) === "pause") this.isPaused = true;
    if (size === 0) {
      this.inTrailers = true;
      this.nFields = 0;
      this.foldVals = null;
      this.limitIsExt = false;
      return S_FIELD_START;
    }
    if (this.bodyBytes + size > this.maxBodySize) {
      throw this.fail("HPE_BODY_TOO_LARGE", p, `chunked body larger than ${this.maxBodySize} bytes (maxBodySize)`);
    }
    this.bodyBytes += size;
    this.remaining = size;
    return S_CHUNK_DATA;
  }
}

/**
 * Transfer codings, lower-cased, from the Transfer-Encoding values, and
 * whether the list is well formed (non-empty tokens; parameters allowed).
 */
function transferCodings(values: string[]): { codings: string[]; wellFormed: boolean } {
  const codings: string[] = [];
  let wellFormed = true;
  for (const v of values) {
    for (const el of v.split(",")) {
      const semi = el.indexOf(";");
      const name = trimOws(semi < 0 ? el : el.slice(0, semi));
      if (name.length === 0) {
        wellFormed = false;
        continue;
      }
      if (!isToken(name)) wellFormed = false;
      codings.push(name.toLowerCase());
    }
  }
  if (codings.length === 0) wellFormed = false;
  return { codings, wellFormed };
}

function positive(v: number | undefined, def: number, name: string): number {
  if (v === undefined) return def;
  if (!(v > 0)) throw new MorganaError("EINVAL", `HttpParser: ${name} must be a positive number, not ${v}`);
  return v;
}
