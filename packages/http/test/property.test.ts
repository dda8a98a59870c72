/**
 * Property tests:
 * - random valid messages (random fields, Content-Length or chunked bodies
 *   with random chunking, extensions and trailers), pipelined, round-trip
 *   through a tiny serializer and the parser under random splits;
 * - parsing is split-invariant: any split gives the same messages and the
 *   same error (code and offset) as the whole input;
 * - random bytes (and HTTP-flavoured junk) only ever raise HttpParseError,
 *   every execute() terminates, and the parser's buffer stays bounded.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HttpParseError, HttpParser, KNOWN_METHODS, parseChunkExtensions, type HttpParserOptions, type LenientFlags } from "../src/index.js";
import { enc, parse, type ParseResult } from "./helpers.js";

/** The global number of runs (FC_RUNS, default 100). */
const runs = (): number => fc.readConfigureGlobal().numRuns ?? 100;

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const FRAMING = new Set(["host", "content-length", "transfer-encoding", "connection", "upgrade"]);

const token = (max = 16): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...TCHARS.split("")), { minLength: 1, maxLength: max }).map((a) => a.join(""));

const fieldName = token(20).filter((n) => !FRAMING.has(n.toLowerCase()));

/** A field value: VCHAR, SP, HTAB and obs-text, without leading or trailing whitespace. */
const fieldValue = fc
  .array(fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.constantFrom(0x20, 0x09), fc.integer({ min: 0x80, max: 0xff })), { maxLength: 40 })
  .map((cs) => String.fromCharCode(...cs).replace(/^[ \t]+|[ \t]+$/g, ""));

const fields = fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 8 });

const quoted = fc
  .array(fc.oneof(fc.constantFrom(..."abc xyz!#[]~\t".split("")), fc.constantFrom('\\"', "\\\\")), { maxLength: 8 })
  .map((a) => `"${a.join("")}"`);
const extensions = fc.array(fc.tuple(token(8), fc.option(fc.oneof(token(8), quoted), { nil: undefined })), { maxLength: 3 });

interface Chunk {
  data: Uint8Array;
  ext: ReadonlyArray<readonly [string, string | undefined]>;
  upper: boolean;
  zeros: number;
}

interface Body {
  kind: "length" | "chunked" | "none";
  chunks: readonly Chunk[];
  lastExt: ReadonlyArray<readonly [string, string | undefined]>;
  trailers: ReadonlyArray<readonly [string, string]>;
}

const chunk: fc.Arbitrary<Chunk> = fc.record({
  data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  ext: extensions,
  upper: fc.boolean(),
  zeros: fc.integer({ min: 0, max: 2 }),
});

const body: fc.Arbitrary<Body> = fc.oneof(
  fc.record({ kind: fc.constant("none" as const), chunks: fc.constant([]), lastExt: fc.constant([]), trailers: fc.constant([]) }),
  fc.record({ kind: fc.constant("length" as const), chunks: fc.array(chunk, { maxLength: 1 }), lastExt: fc.constant([]), trailers: fc.constant([]) }),
  fc.record({ kind: fc.constant("chunked" as const), chunks: fc.array(chunk, { maxLength: 4 }), lastExt: extensions, trailers: fields }),
);

interface Msg {
  method: string;
  target: string;
  status: number;
  reason: string;
  fields: Array<[string, string]>;
  body: Body;
}

const methods = KNOWN_METHODS.filter((m) => m !== "CONNECT" && m !== "PRI");
const target = fc
  .array(fc.integer({ min: 0x21, max: 0x7e }), { maxLength: 30 })
  .map((cs) => `/${String.fromCharCode(...cs)}`);
const request: fc.Arbitrary<Msg> = fc.record({ method: fc.constantFrom(...methods), target, status: fc.constant(0), reason: fc.constant(""), fields, body });
const response: fc.Arbitrary<Msg> = fc.record({
  method: fc.constant(""),
  target: fc.constant(""),
  status: fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
  reason: fc.array(fc.constantFrom(..."OK Not Found\tÿ".split("")), { maxLength: 12 }).map((a) => a.join("")),
  fields,
  body,
});

const bodyBytes = (b: Body): Uint8Array => {
  const n = b.chunks.reduce((s, c) => s + c.data.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of b.chunks) {
    out.set(c.data, o);
    o += c.data.length;
  }
  return out;
};

const extText = (ext: ReadonlyArray<readonly [string, string | undefined]>): string => ext.map(([n, v]) => (v === undefined ? `;${n}` : `;${n}=${v}`)).join("");

/** The tiny serializer: a message as latin1 text. */
function serialize(m: Msg, kind: "request" | "response"): string {
  let s = kind === "request" ? `${m.method} ${m.target} HTTP/1.1\r\nHost: example\r\n` : `HTTP/1.1 ${m.status} ${m.reason}\r\n`;
  for (const [n, v] of m.fields) s += `${n}: ${v}\r\n`;
  const b = m.body;
  const data = bodyBytes(b);
  if (b.kind === "length") s += `Content-Length: ${data.length}\r\n\r\n${String.fromCharCode(...data)}`;
  else if (b.kind === "chunked") {
    s += "Transfer-Encoding: chunked\r\n\r\n";
    for (const c of b.chunks) {
      let size = c.data.length.toString(16);
      size = "0".repeat(c.zeros) + (c.upper ? size.toUpperCase() : size);
      s += `${size}${extText(c.ext)}\r\n${String.fromCharCode(...c.data)}\r\n`;
    }
    s += `0${extText(b.lastExt)}\r\n`;
    for (const [n, v] of b.trailers) s += `${n}: ${v}\r\n`;
    s += "\r\n";
  } else if (kind === "response") s += "Content-Length: 0\r\n\r\n";
  else s += "\r\n";
  return s;
}

const splits = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 });

function summary(r: ParseResult): string {
  return JSON.stringify({
    m: r.messages.map((m) => [m.head.method, m.head.target, m.head.status, m.head.reason, m.head.rawHeaders, m.head.rawTrailers, m.body, m.chunks, m.complete]),
    e: r.error === null ? null : [r.error.httpCode, r.error.offset],
    u: r.upgradeAt,
  });
}

describe("round trip through a serializer and the parser under random splits", () => {
  for (const kind of ["request", "response"] as const) {
    it(`${kind}s`, () => {
      fc.assert(
        fc.property(fc.array(kind === "request" ? request : response, { minLength: 1, maxLength: 4 }), splits, (msgs, split) => {
          const text = msgs.map((m) => serialize(m, kind)).join("");
          const r = parse(kind, enc(text), { split });
          expect(r.error).toBeNull();
          expect(r.messages).toHaveLength(msgs.length);
          msgs.forEach((m, i) => {
            const got = r.messages[i]!;
            expect(got.complete).toBe(true);
            if (kind === "request") {
              expect(got.head.method).toBe(m.method);
              expect(got.head.target).toBe(m.target);
            } else {
              expect(got.head.status).toBe(m.status);
              expect(got.head.reason).toBe(m.reason);
            }
            const expectedFields = kind === "request" ? [["Host", "example"], ...m.fields] : m.fields;
            expect(got.head.headers.slice(0, expectedFields.length)).toEqual(expectedFields);
            expect(got.head.bodyKind).toBe(m.body.kind === "none" ? "none" : m.body.kind === "length" && bodyBytes(m.body).length === 0 ? "none" : m.body.kind);
            expect(got.body).toBe(String.fromCharCode(...bodyBytes(m.body)));
            if (m.body.kind === "chunked") {
              const sizes = [...m.body.chunks.map((c) => c.data.length), 0];
              expect(got.chunks.map(([n]) => n)).toEqual(sizes);
              const exts = [...m.body.chunks.map((c) => c.ext), m.body.lastExt].map((e) => e.map(([n, v]) => [n, v ?? ""]));
              expect(got.chunks.map(([, e]) => parseChunkExtensions(e))).toEqual(exts);
              expect(got.head.trailers).toEqual(m.body.trailers);
            }
          });
        }),
      );
    });
  }

  it("Node Buffers and plain Uint8Arrays give the same strings (native latin1 path)", () => {
    fc.assert(
      fc.property(request, (m) => {
        const text = serialize(m, "request");
        const a = parse("request", enc(text));
        const b = parse("request", Buffer.from(text, "latin1"));
        expect(summary(b)).toBe(summary(a));
      }),
    );
  });
});

/** HTTP-flavoured junk: fragments that reach deep states, glued at random. */
const FRAGMENTS = [
  "GET ", "POST ", "HEAD ", "CONNECT ", "/", "/a?b", "*", " HTTP/1.1", " HTTP/1.0", "HTTP/1.1 ", "200", " OK", "\r\n", "\r", "\n", "\r\n\r\n",
  "Host: a", "Content-Length: ", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked", "Connection: close", "Connection: upgrade",
  "Upgrade: ws", ":", ": ", " ", "\t", "0", "5", "a", "ff", ";", "=", '"', "\\", "x", "\x00", "\x01", "\x7f", "\xff", "hello", "0\r\n\r\n",
];
const junk = fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 4 })), { maxLength: 60 }).map((a) => enc(a.join("")));

const lenient: fc.Arbitrary<LenientFlags | "all" | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant("all" as const),
  fc.record(
    {
      headers: fc.boolean(),
      chunkedLength: fc.boolean(),
      keepAlive: fc.boolean(),
      transferEncoding: fc.boolean(),
      version: fc.boolean(),
      dataAfterClose: fc.boolean(),
      optionalLfAfterCr: fc.boolean(),
      optionalCrBeforeLf: fc.boolean(),
      optionalCrlfAfterChunk: fc.boolean(),
      spacesAfterChunkSize: fc.boolean(),
      headerValueRelaxed: fc.boolean(),
    },
    { requiredKeys: [] },
  ),
);

const options: fc.Arbitrary<HttpParserOptions> = fc
  .record({ lenient, small: fc.boolean(), host: fc.boolean(), http09: fc.boolean() })
  .map(({ lenient, small, host, http09 }) => ({
    ...(lenient !== undefined ? { lenient } : {}),
    ...(small ? { maxHeaderSize: 64, maxHeaders: 3, maxTargetLength: 8, maxChunkExtensionSize: 8, maxBodySize: 16 } : {}),
    requireHost: host,
    allowHttp09: http09,
  }));

/** Feeds `bytes` in the given splits; only HttpParseError may escape; returns nothing. Checks termination and bounded buffers. */
function feedHostile(kind: "request" | "response", bytes: Uint8Array, split: number[], opts: HttpParserOptions): void {
  const p = new HttpParser(kind, { onHeaders: () => undefined, onBody: () => undefined }, opts);
  const maxCarry = 2 * ((opts.maxHeaderSize ?? 16384) + (opts.maxChunkExtensionSize ?? 16384)) + 512;
  let off = 0;
  let k = 0;
  try {
    while (off < bytes.length) {
      const end = Math.min(bytes.length, off + split[k++ % split.length]!);
      let pos = off;
      let guard = 0;
      while (pos < end) {
        const n = p.execute(bytes, pos, end);
        expect(n).toBeGreaterThanOrEqual(0);
        expect(n).toBeLessThanOrEqual(end - pos);
        pos += n;
        if (p.upgraded) return;
        if (p.paused) p.resume();
        expect(++guard).toBeLessThan(4);
      }
      // The only buffer the parser grows: bounded by the limits, not the input.
      expect((p as unknown as { carry: Uint8Array }).carry.length).toBeLessThanOrEqual(maxCarry);
      off = end;
    }
    p.finish();
  } catch (e) {
    if (!(e instanceof HttpParseError)) throw e;
    expect(e.offset).toBeGreaterThanOrEqual(0);
    expect(e.offset).toBeLessThanOrEqual(bytes.length);
  }
}

describe("hostile input", () => {
  it("random bytes only raise HttpParseError and terminate with bounded memory", () => {
    fc.assert(
      fc.property(fc.constantFrom("request" as const, "response" as const), fc.uint8Array({ maxLength: 3000 }), splits, options, (kind, bytes, split, opts) => {
        feedHostile(kind, bytes, split, opts);
      }),
      { numRuns: 3 * runs() },
    );
  });

  it("HTTP-flavoured junk only raises HttpParseError and terminates with bounded memory", () => {
    fc.assert(
      fc.property(fc.constantFrom("request" as const, "response" as const), junk, splits, options, (kind, bytes, split, opts) => {
        feedHostile(kind, bytes, split, opts);
      }),
      { numRuns: 10 * runs() },
    );
  });

  it("an endless header line is cut at maxHeaderSize, whatever the chunking", () => {
    fc.assert(
      fc.property(splits, fc.integer({ min: 32, max: 4096 }), (split, max) => {
        const bytes = enc(`GET / HTTP/1.1\r\nX: ${"v".repeat(3 * max)}`);
        const r = parse("request", bytes, { split, maxHeaderSize: max });
        expect(r.error?.httpCode).toBe("HPE_HEADER_OVERFLOW");
        expect(r.error?.offset).toBe(max);
      }),
    );
  });
});

describe("split invariance", () => {
  it("any split of HTTP-flavoured input gives the same messages and the same error as the whole", () => {
    fc.assert(
      fc.property(fc.constantFrom("request" as const, "response" as const), junk, splits, options, (kind, bytes, split, opts) => {
        const whole = parse(kind, bytes, { ...opts, finish: true });
        const parts = parse(kind, bytes, { ...opts, split, finish: true });
        expect(summary(parts)).toBe(summary(whole));
      }),
      { numRuns: 10 * runs() },
    );
  });

  it("mutated valid messages: any split gives the same result as the whole, and only HttpParseError", () => {
    const mutation = fc.tuple(fc.nat(), fc.constantFrom("insert", "delete", "replace" as const), fc.constantFrom(0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x3a, 0x3b, 0x3d, 0x30, 0x41, 0x7f, 0xff));
    fc.assert(
      fc.property(
        fc.constantFrom("request" as const, "response" as const),
        fc.array(request, { minLength: 1, maxLength: 3 }),
        fc.array(response, { minLength: 1, maxLength: 3 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        splits,
        options,
        (kind, reqs, ress, muts, split, opts) => {
          const text = kind === "request" ? reqs.map((m) => serialize(m, kind)).join("") : ress.map((m) => serialize(m, kind)).join("");
          const b = [...enc(text)];
          for (const [at, op, byte] of muts) {
            const i = b.length === 0 ? 0 : at % b.length;
            if (op === "insert") b.splice(i, 0, byte);
            else if (op === "delete") b.splice(i, 1);
            else b[i] = byte;
          }
          const bytes = Uint8Array.from(b);
          feedHostile(kind, bytes, split, opts);
          const whole = parse(kind, bytes, { ...opts, finish: true });
          const parts = parse(kind, bytes, { ...opts, split, finish: true });
          expect(summary(parts)).toBe(summary(whole));
        },
      ),
      { numRuns: 10 * runs() },
    );
  });

  it("pipelined valid requests: any split gives the same result as the whole", () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 3 }), splits, (msgs, split) => {
        const bytes = enc(msgs.map((m) => serialize(m, "request")).join(""));
        expect(summary(parse("request", bytes, { split }))).toBe(summary(parse("request", bytes)));
      }),
    );
  });
});
