/**
 * How the body of a message is delimited (RFC 9112 §6.3):
 * - `none`: no body (requests without Content-Length/Transfer-Encoding,
 *   `Content-Length: 0`, HEAD/1xx/204/304 responses, upgrades and CONNECT);
 * - `length`: `Content-Length` bytes;
 * - `chunked`: the chunked transfer coding;
 * - `eof`: everything until the connection closes (responses without a
 *   length; requests only under a lenient flag).
 */
export type BodyKind = "none" | "length" | "chunked" | "eof";

function lowerEquals(raw: string, lower: string): boolean {
  return raw.length === lower.length && (raw === lower || raw.toLowerCase() === lower);
}

/**
 * The parsed head of one request or response. One object per message; the
 * parser fills it once, at the end of the header section, and sets
 * `rawTrailers` before `onMessageComplete`.
 *
 * Field names keep their case as received; lookups ({@link get},
 * {@link getAll}, {@link has}) are case-insensitive and lower-case only the
 * names whose length matches.
 */
export class HttpMessageHead {
  /** The header fields in order as `[name0, value0, name1, value1, ...]` (like Node's `rawHeaders`). */
  readonly rawHeaders: string[];
  /** The trailer fields in the same flat form; `null` until the message completes or when there are none. */
  rawTrailers: string[] | null = null;
  private tuples: Array<[string, string]> | null = null;

  constructor(
    /** `request` or `response`. */
    readonly kind: "request" | "response",
    /** The request method (interned string for known methods); `""` for responses. */
    readonly method: string,
    /** The request-target exactly as received (origin-, absolute-, authority- or asterisk-form); `""` for responses. */
    readonly target: string,
    readonly versionMajor: number,
    readonly versionMinor: number,
    /** The status code of a response; 0 for requests. */
    readonly status: number,
    /** The reason phrase of a response (may be empty); `""` for requests. */
    readonly reason: string,
    rawHeaders: string[],
    /** Whether the connection may carry another message after this one (RFC 9112 §9.3). */
    readonly keepAlive: boolean,
    /**
     * The parser stops after this message and hands the connection back:
     * CONNECT requests, requests with `Connection: upgrade` and an `Upgrade`
     * field, `PRI` (the HTTP/2 preface), 101 responses, 2xx responses to
     * CONNECT.
     */
    readonly upgrade: boolean,
    readonly bodyKind: BodyKind,
    /** The Content-Length value when one was given (even if it does not frame the body), else -1. */
    readonly contentLength: number,
    /** The transfer codings named by Transfer-Encoding, lower-cased, in order; empty when absent. */
    readonly transferCodings: readonly string[],
  ) {
    this.rawHeaders = rawHeaders;
  }

  /** `"1.1"`, `"1.0"`, ... */
  get version(): string {
    return `${this.versionMajor}.${this.versionMinor}`;
  }

  /** The header fields as `[name, value]` pairs in order, names in their received case. Built on first use. */
  get headers(): ReadonlyArray<readonly [string, string]> {
    if (this.tuples === null) {
      const raw = this.rawHeaders;
      const out: Array<[string, string]> = new Array(raw.length >> 1);
      for (let i = 0; i < raw.length; i += 2) out[i >> 1] = [raw[i]!, raw[i + 1]!];
      this.tuples = out;
    }
    return this.tuples;
  }

  /** The trailer fields as `[name, value]` pairs (empty when none). */
  get trailers(): ReadonlyArray<readonly [string, string]> {
    const raw = this.rawTrailers ?? [];
    const out: Array<[string, string]> = [];
    for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
    return out;
  }

  /**
   * The value of a field, case-insensitively; several fields of the same name
   * are joined with `", "` (RFC 9110 §5.3; `Set-Cookie` is better read with
   * {@link getAll}). `undefined` when absent.
   */
  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    const raw = this.rawHeaders;
    let out: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      if (lowerEquals(raw[i]!, lower)) out = out === undefined ? raw[i + 1]! : `${out}, ${raw[i + 1]!}`;
    }
    return out;
  }

  /** Every value of a field, case-insensitively, in order. */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const raw = this.rawHeaders;
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) if (lowerEquals(raw[i]!, lower)) out.push(raw[i + 1]!);
    return out;
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (lowerEquals(raw[i]!, lower)) return true;
    return false;
  }

  /** True when `token` (case-insensitive) is one of the comma-separated tokens of the field `name` (e.g. `Connection`). */
  hasToken(name: string, token: string): boolean {
    const want = token.toLowerCase();
    for (const v of this.getAll(name)) {
      for (const part of v.split(",")) if (part.trim().toLowerCase() === want) return true;
    }
    return false;
  }
}
