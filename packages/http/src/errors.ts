import { DecodeError } from "@morgana/interfaces";

/**
 * Why a message was rejected. The names follow llhttp's `HPE_*` error names
 * (Node.js reports the same names in `err.code` of `clientError`); the limit
 * and Host codes are Morgana's own.
 */
export type HttpErrorCode =
  /** A start line, header or chunk line is missing its CR before LF (strict mode). */
  | "HPE_CR_EXPECTED"
  /** A CR is not followed by LF (bare CR). */
  | "HPE_LF_EXPECTED"
  /** Unknown method, or a method that is not a token. Servers answer 501 for unknown methods. */
  | "HPE_INVALID_METHOD"
  /** Invalid character in the request-target, or an empty target. */
  | "HPE_INVALID_URL"
  /** The start line does not have the fixed text it must have (`HTTP/`). */
  | "HPE_INVALID_CONSTANT"
  /** Malformed or unsupported HTTP version. Servers answer 505 for well-formed unsupported versions. */
  | "HPE_INVALID_VERSION"
  /** Invalid field name, invalid character in a field value, obs-fold, a line without a colon. */
  | "HPE_INVALID_HEADER_TOKEN"
  /** Whitespace at the start of the first header line. */
  | "HPE_UNEXPECTED_SPACE"
  /** Content-Length that is empty, not all digits, a list, or too large. */
  | "HPE_INVALID_CONTENT_LENGTH"
  /** A second Content-Length, or Content-Length together with Transfer-Encoding. */
  | "HPE_UNEXPECTED_CONTENT_LENGTH"
  /** Transfer-Encoding whose final coding is not `chunked` (requests), or a malformed coding list. */
  | "HPE_INVALID_TRANSFER_ENCODING"
  /** A chunk size that is empty, not hex, followed by junk, or too large. */
  | "HPE_INVALID_CHUNK_SIZE"
  /** A malformed chunk extension (empty name, bad quoting, control characters). */
  | "HPE_INVALID_CHUNK_EXTENSION"
  /** Status code not three digits in 100..999. */
  | "HPE_INVALID_STATUS"
  /** The connection ended inside a message (`finish()` in the middle of a message). */
  | "HPE_INVALID_EOF_STATE"
  /** Bytes after a message that ended the connection (`Connection: close`, HTTP/1.0 without keep-alive). */
  | "HPE_CLOSED_CONNECTION"
  /** The header section (or the trailer section) is larger than `maxHeaderSize`. Servers answer 431. */
  | "HPE_HEADER_OVERFLOW"
  /** More header (or trailer) fields than `maxHeaders`. Servers answer 431. */
  | "HPE_TOO_MANY_HEADERS"
  /** The request-target is longer than `maxTargetLength`. Servers answer 414. */
  | "HPE_URI_TOO_LONG"
  /** The chunk extensions of one chunk are longer than `maxChunkExtensionSize`. */
  | "HPE_CHUNK_EXTENSIONS_OVERFLOW"
  /** The body is larger than `maxBodySize`. Servers answer 413. */
  | "HPE_BODY_TOO_LARGE"
  /** An HTTP/1.1 request without a Host header field. */
  | "HPE_MISSING_HOST"
  /** A request with more than one Host header field. */
  | "HPE_DUPLICATE_HOST";

/** The HTTP status a server should answer with when a request fails with `code`. */
export function statusForError(code: HttpErrorCode): number {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
    case "HPE_TOO_MANY_HEADERS":
      return 431;
    case "HPE_URI_TOO_LONG":
      return 414;
    case "HPE_BODY_TOO_LARGE":
      return 413;
    case "HPE_INVALID_METHOD":
      return 501;
    case "HPE_INVALID_VERSION":
      return 505;
    default:
      return 400;
  }
}

/**
 * A message was rejected by the parser. `code` is `EBADMSG` (like every
 * {@link DecodeError}); `httpCode` says what failed (`HPE_*`), `offset` is the
 * byte offset in the whole stream given to the parser (across every
 * `execute()` call), `reason` a sentence naming what failed and where (the
 * header name, the offending byte), and `status` the HTTP status a server
 * should answer with (400, 413, 414, 431, 501 or 505).
 */
export class HttpParseError extends DecodeError {
  readonly httpCode: HttpErrorCode;
  readonly status: number;

  constructor(httpCode: HttpErrorCode, offset: number, reason: string, status = statusForError(httpCode)) {
    super("http", offset, reason);
    this.name = "HttpParseError";
    this.httpCode = httpCode;
    this.status = status;
  }
}

/** `0x0c` style rendering of a byte for error messages; printable ASCII also shows the character. */
export function describeByte(c: number): string {
  const hex = "0x" + c.toString(16).padStart(2, "0");
  return c > 0x20 && c < 0x7f ? `${hex} (${JSON.stringify(String.fromCharCode(c))})` : hex;
}
