import { HttpParseError, HttpParser, type HttpMessageHead, type HttpParserOptions } from "../src/index.js";

export const enc = (s: string): Uint8Array => {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
};

export const str = (b: Uint8Array): string => {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return s;
};

export interface Parsed {
  head: HttpMessageHead;
  body: string;
  chunks: Array<[number, string]>;
  complete: boolean;
}

export interface ParseResult {
  messages: Parsed[];
  error: HttpParseError | null;
  /** Offset of the first byte after an upgrade, or -1. */
  upgradeAt: number;
  /** Bytes consumed in total. */
  consumed: number;
}

/**
 * Parses `input` fed in the given chunk sizes (cycled; default: one chunk),
 * optionally calling finish() at the end. Messages are recorded as they
 * complete their header section; errors are caught and returned.
 */
export function parse(
  kind: "request" | "response",
  input: Uint8Array | string,
  options: HttpParserOptions & { split?: number[]; finish?: boolean; methods?: string[] } = {},
): ParseResult {
  const bytes = typeof input === "string" ? enc(input) : input;
  const messages: Parsed[] = [];
  let cur: Parsed | null = null;
  const parser = new HttpParser(
    kind,
    {
      onHeaders(head) {
        cur = { head, body: "", chunks: [], complete: false };
        messages.push(cur);
      },
      onBody(data) {
        cur!.body += str(data);
      },
      onChunkHeader(size, ext) {
        cur!.chunks.push([size, ext]);
      },
      onMessageComplete() {
        cur!.complete = true;
      },
    },
    options,
  );
  for (const m of options.methods ?? []) parser.pushRequestMethod(m);
  const split = options.split ?? [bytes.length || 1];
  let error: HttpParseError | null = null;
  let upgradeAt = -1;
  let off = 0;
  let k = 0;
  try {
    while (off < bytes.length) {
      const n = Math.max(1, split[k++ % split.length]!);
      const end = Math.min(bytes.length, off + n);
      let pos = off;
      while (pos < end) {
        pos += parser.execute(bytes, pos, end);
        if (parser.upgraded) {
          upgradeAt = parser.bytesConsumed;
          break;
        }
        if (parser.paused) parser.resume();
      }
      if (upgradeAt >= 0) break;
      off = end;
    }
    if (options.finish === true && upgradeAt < 0) parser.finish();
  } catch (e) {
    if (!(e instanceof HttpParseError)) throw e;
    error = e;
  }
  return { messages, error, upgradeAt, consumed: parser.bytesConsumed };
}

/** Parses whole and one byte at a time; asserts both agree and returns the whole-input result. */
export function parseBothWays(kind: "request" | "response", input: Uint8Array | string, options: HttpParserOptions & { finish?: boolean; methods?: string[] } = {}): ParseResult {
  const whole = parse(kind, input, options);
  const bytewise = parse(kind, input, { ...options, split: [1] });
  const sum = (r: ParseResult): string =>
    JSON.stringify({
      m: r.messages.map((m) => [m.head.method, m.head.target, m.head.status, m.head.rawHeaders, m.head.rawTrailers, m.body, m.chunks, m.complete]),
      e: r.error?.httpCode ?? null,
      u: r.upgradeAt,
    });
  if (sum(whole) !== sum(bytewise)) throw new Error(`whole vs byte-by-byte differ:\n${sum(whole)}\n${sum(bytewise)}`);
  return whole;
}
