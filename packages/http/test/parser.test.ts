import { MorganaError } from "@morgana/interfaces";
import { describe, expect, it } from "vitest";
import {
  ALL_LENIENT,
  HttpParseError,
  HttpParser,
  KNOWN_METHODS,
  parseChunkExtensions,
  parseRequestTarget,
  statusForError,
  unquote,
  type HttpMessageHead,
} from "../src/index.js";
import { enc, parse, parseBothWays, str } from "./helpers.js";

describe("requests", () => {
  it("parses the start line, headers (raw case, order, OWS trimmed) and a Content-Length body", () => {
    const r = parseBothWays("request", "POST /form?q=1 HTTP/1.1\r\nHost: example.com\r\nX-Dup: a\r\nx-dup:  b \t\r\nContent-Length: 5\r\n\r\nhello");
    expect(r.error).toBeNull();
    const m = r.messages[0]!;
    expect(m.head.kind).toBe("request");
    expect(m.head.method).toBe("POST");
    expect(m.head.target).toBe("/form?q=1");
    expect(m.head.version).toBe("1.1");
    expect([m.head.versionMajor, m.head.versionMinor]).toEqual([1, 1]);
    expect(m.head.rawHeaders).toEqual(["Host", "example.com", "X-Dup", "a", "x-dup", "b", "Content-Length", "5"]);
    expect(m.head.headers).toEqual([
      ["Host", "example.com"],
      ["X-Dup", "a"],
      ["x-dup", "b"],
      ["Content-Length", "5"],
    ]);
    expect(m.head.get("X-DUP")).toBe("a, b");
    expect(m.head.getAll("x-dup")).toEqual(["a", "b"]);
    expect(m.head.has("content-length")).toBe(true);
    expect(m.head.has("content-type")).toBe(false);
    expect(m.head.get("content-type")).toBeUndefined();
    expect(m.head.bodyKind).toBe("length");
    expect(m.head.contentLength).toBe(5);
    expect(m.head.keepAlive).toBe(true);
    expect(m.head.upgrade).toBe(false);
    expect(m.body).toBe("hello");
    expect(m.complete).toBe(true);
  });

  it("parses a chunked body with extensions and trailers", () => {
    const r = parseBothWays(
      "request",
      'PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n5;a=1;b="x \\"y\\""\r\nhello\r\n6\r\n world\r\n0;last\r\nDigest: abc\r\nX-T: 1\r\n\r\n',
    );
    expect(r.error).toBeNull();
    const m = r.messages[0]!;
    expect(m.head.bodyKind).toBe("chunked");
    expect(m.head.transferCodings).toEqual(["gzip", "chunked"]);
    expect(m.body).toBe("hello world");
    expect(m.chunks).toEqual([
      [5, ';a=1;b="x \\"y\\""'],
      [6, ""],
      [0, ";last"],
    ]);
    expect(parseChunkExtensions(m.chunks[0]![1])).toEqual([
      ["a", "1"],
      ["b", '"x \\"y\\""'],
    ]);
    expect(unquote('"x \\"y\\""')).toBe('x "y"');
    expect(m.head.rawTrailers).toEqual(["Digest", "abc", "X-T", "1"]);
    expect(m.head.trailers).toEqual([
      ["Digest", "abc"],
      ["X-T", "1"],
    ]);
    expect(m.complete).toBe(true);
  });

  it("parses pipelined messages in one buffer and ignores empty lines between them", () => {
    const one = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    const two = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi";
    const three = "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
    const r = parseBothWays("request", `\r\n${one}${two}\r\n${three}`);
    expect(r.error).toBeNull();
    expect(r.messages.map((m) => [m.head.target, m.body, m.complete])).toEqual([
      ["/a", "", true],
      ["/b", "hi", true],
      ["/c", "", true],
    ]);
  });

  it("decides keep-alive from the version and Connection tokens", () => {
    const ka = (input: string): boolean => parse("request", input).messages[0]!.head.keepAlive;
    expect(ka("GET / HTTP/1.1\r\nHost: h\r\n\r\n")).toBe(true);
    expect(ka("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")).toBe(false);
    expect(ka("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n")).toBe(false);
    expect(ka("GET / HTTP/1.0\r\n\r\n")).toBe(false);
    expect(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).toBe(true);
    expect(ka("GET / HTTP/1.0\r\nConnection: foo,  Keep-Alive \r\n\r\n")).toBe(true);
  });

  it("hands back CONNECT after the header section, with the tunnel bytes left unconsumed", () => {
    const input = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01TLS...";
    const r = parseBothWays("request", input);
    expect(r.error).toBeNull();
    expect(r.messages[0]!.head.upgrade).toBe(true);
    expect(r.messages[0]!.head.bodyKind).toBe("none");
    expect(r.messages[0]!.complete).toBe(true);
    expect(r.upgradeAt).toBe(input.indexOf("\x16"));
    expect(parseRequestTarget(r.messages[0]!.head.target, "CONNECT")).toEqual({ form: "authority", host: "example.com:443" });
  });

  it("hands back an Upgrade request after its body; execute() then consumes nothing until resumeAfterUpgrade()", () => {
    const req = "POST /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabc";
    const bytes = enc(`${req}\x81\x05hello`);
    const heads: HttpMessageHead[] = [];
    const p = new HttpParser("request", { onHeaders: (h) => void heads.push(h) });
    const n = p.execute(bytes);
    expect(n).toBe(req.length);
    expect(p.upgraded).toBe(true);
    expect(heads[0]!.upgrade).toBe(true);
    expect(p.execute(bytes, n)).toBe(0);
    // Declined: the bytes after it are HTTP again.
    const next = enc("GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    p.resumeAfterUpgrade();
    expect(p.execute(next)).toBe(next.length);
    expect(heads.map((h) => h.target)).toEqual(["/ws", "/next"]);
  });

  it("an Upgrade field without Connection: upgrade is an ordinary request", () => {
    const r = parse("request", "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
    expect(r.upgradeAt).toBe(-1);
    expect(r.messages.map((m) => m.head.upgrade)).toEqual([false, false]);
  });

  it("treats the HTTP/2 preface (PRI * HTTP/2.0) as an upgrade", () => {
    const input = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const r = parse("request", input, { requireHost: false });
    expect(r.error).toBeNull();
    expect(r.messages[0]!.head.method).toBe("PRI");
    expect(r.upgradeAt).toBe(input.indexOf("SM"));
  });

  it("rejects unknown methods unless allowUnknownMethods", () => {
    const input = "BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n";
    const strict = parse("request", input);
    expect(strict.error?.httpCode).toBe("HPE_INVALID_METHOD");
    expect(strict.error?.status).toBe(501);
    expect(strict.error?.reason).toContain('"BREW"');
    const loose = parseBothWays("request", input, { allowUnknownMethods: true });
    expect(loose.messages[0]!.head.method).toBe("BREW");
    expect(KNOWN_METHODS).toContain("QUERY");
    // Known methods are interned: the same string object every time.
    const m1 = parse("request", "PROPFIND / HTTP/1.1\r\nHost: h\r\n\r\n").messages[0]!.head.method;
    expect(m1).toBe("PROPFIND");
  });

  it("keeps obs-text in values byte-exact (latin1), also from Node Buffers", () => {
    const input = "GET / HTTP/1.1\r\nHost: h\r\nX-Name: D\xc3\xbcsseldorf \xff\r\nX-Long: " + "\xe9".repeat(40) + "\r\n\r\n";
    for (const bytes of [enc(input), Buffer.from(input, "latin1")]) {
      const r = parse("request", bytes);
      expect(r.messages[0]!.head.get("x-name")).toBe("D\xc3\xbcsseldorf \xff");
      expect(r.messages[0]!.head.get("x-long")).toBe("\xe9".repeat(40));
    }
  });

  it("gives errors with the HPE code, the stream offset, the field name and the byte", () => {
    const input = "GET / HTTP/1.1\r\nHost: h\r\nX-Bad: ok\x01no\r\n\r\n";
    const r = parse("request", input, { split: [7] });
    const e = r.error!;
    expect(e).toBeInstanceOf(HttpParseError);
    expect(e).toBeInstanceOf(MorganaError);
    expect(e.httpCode).toBe("HPE_INVALID_HEADER_TOKEN");
    expect(e.offset).toBe(input.indexOf("\x01"));
    expect(e.message).toContain('header field "X-Bad"');
    expect(e.message).toContain("0x01");
    expect(e.message).toContain(`byte offset ${input.indexOf("\x01")}`);
    expect(e.status).toBe(400);
  });

  it("maps limit errors to the status a server answers with", () => {
    expect(statusForError("HPE_HEADER_OVERFLOW")).toBe(431);
    expect(statusForError("HPE_TOO_MANY_HEADERS")).toBe(431);
    expect(statusForError("HPE_URI_TOO_LONG")).toBe(414);
    expect(statusForError("HPE_BODY_TOO_LARGE")).toBe(413);
    expect(statusForError("HPE_INVALID_VERSION")).toBe(505);
    expect(statusForError("HPE_INVALID_METHOD")).toBe(501);
    expect(statusForError("HPE_INVALID_CHUNK_SIZE")).toBe(400);
  });
});

describe("limits", () => {
  const head = (extra: string): string => `GET / HTTP/1.1\r\nHost: h\r\n${extra}\r\n`;

  it("maxHeaderSize counts the start line and header section, inclusive", () => {
    const base = head("X: ");
    const exact = base.replace("X: ", `X: ${"a".repeat(100 - base.length)}`);
    expect(exact.length).toBe(100);
    expect(parseBothWays("request", exact, { maxHeaderSize: 100 }).error).toBeNull();
    const over = parseBothWays("request", exact.replace("X: ", "X: a"), { maxHeaderSize: 100 });
    expect(over.error?.httpCode).toBe("HPE_HEADER_OVERFLOW");
    expect(over.error?.status).toBe(431);
  });

  it("maxHeaders", () => {
    expect(parseBothWays("request", head("A: 1\r\nB: 2"), { maxHeaders: 3 }).error).toBeNull();
    expect(parseBothWays("request", head("A: 1\r\nB: 2\r\nC: 3"), { maxHeaders: 3 }).error?.httpCode).toBe("HPE_TOO_MANY_HEADERS");
  });

  it("maxTargetLength", () => {
    expect(parseBothWays("request", "GET /abcd HTTP/1.1\r\nHost: h\r\n\r\n", { maxTargetLength: 5 }).error).toBeNull();
    const e = parseBothWays("request", "GET /abcde HTTP/1.1\r\nHost: h\r\n\r\n", { maxTargetLength: 5 }).error;
    expect(e?.httpCode).toBe("HPE_URI_TOO_LONG");
    expect(e?.status).toBe(414);
  });

  it("maxChunkExtensionSize applies per chunk line", () => {
    const body = (ext: string): string => `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;${ext}\r\na\r\n1;${ext}\r\nb\r\n0\r\n\r\n`;
    expect(parseBothWays("request", body("x".repeat(9)), { maxChunkExtensionSize: 10 }).error).toBeNull();
    expect(parseBothWays("request", body("x".repeat(10)), { maxChunkExtensionSize: 10 }).error?.httpCode).toBe("HPE_CHUNK_EXTENSIONS_OVERFLOW");
  });

  it("maxBodySize checks Content-Length up front, chunked and EOF bodies as they arrive", () => {
    const cl = (n: number): string => `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${n}\r\n\r\n${"x".repeat(n)}`;
    expect(parse("request", cl(10), { maxBodySize: 10 }).error).toBeNull();
    const e = parse("request", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", { maxBodySize: 10 }).error;
    expect(e?.httpCode).toBe("HPE_BODY_TOO_LARGE");
    expect(e?.status).toBe(413);
    const chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nxxxxxx\r\n5\r\nxxxxx\r\n0\r\n\r\n";
    const c = parse("request", chunked, { maxBodySize: 10 });
    expect(c.error?.httpCode).toBe("HPE_BODY_TOO_LARGE");
    expect(c.messages[0]!.body).toBe("xxxxxx");
    const eof = parse("response", `HTTP/1.1 200 OK\r\n\r\n${"x".repeat(11)}`, { maxBodySize: 10 });
    expect(eof.error?.httpCode).toBe("HPE_BODY_TOO_LARGE");
  });

  it("rejects a bad execute() range with EINVAL (API misuse, not a parse error)", () => {
    const p = new HttpParser("request");
    const b = enc("GET / HTTP/1.1\r\n");
    for (const [s, e] of [[-1, 3], [4, 3], [0, b.length + 1]] as const) {
      expect(() => p.execute(b, s, e)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    }
    expect(p.failure).toBeNull();
  });

  it("rejects bad options with EINVAL", () => {
    expect(() => new HttpParser("both" as "request")).toThrow(MorganaError);
    expect(() => new HttpParser("request", {}, { maxHeaderSize: 0 })).toThrow(/maxHeaderSize/);
    expect(() => new HttpParser("request", {}, { maxBodySize: -1 })).toThrow(/maxBodySize/);
  });
});

describe("responses", () => {
  it("parses status, reason and framing", () => {
    const r = parseBothWays("response", "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnopHTTP/1.0 200 \r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
    expect(r.error).toBeNull();
    expect(r.messages.map((m) => [m.head.status, m.head.reason, m.head.version, m.body, m.head.keepAlive])).toEqual([
      [404, "Not Found", "1.1", "nop", true],
      [200, "", "1.0", "", true],
    ]);
  });

  it("uses the request method queue: HEAD has no body, 2xx to CONNECT is a tunnel, 1xx does not consume", () => {
    const input =
      "HTTP/1.1 100 Continue\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + // HEAD: no body
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + // GET
      "HTTP/1.1 200 Connection established\r\n\r\nTUNNEL";
    const r = parseBothWays("response", input, { methods: ["HEAD", "GET", "CONNECT"] });
    expect(r.error).toBeNull();
    expect(r.messages.map((m) => [m.head.status, m.body, m.head.bodyKind, m.head.upgrade])).toEqual([
      [100, "", "none", false],
      [200, "", "none", false],
      [200, "ok", "length", false],
      [200, "", "none", true],
    ]);
    expect(r.upgradeAt).toBe(input.indexOf("TUNNEL"));
  });

  it("204 and 304 have no body; 101 hands back the connection", () => {
    const input = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nWS";
    const r = parseBothWays("response", input);
    expect(r.messages.map((m) => [m.head.status, m.head.bodyKind])).toEqual([
      [204, "none"],
      [304, "none"],
      [101, "none"],
    ]);
    expect(r.upgradeAt).toBe(input.indexOf("WS"));
  });

  it("a response whose Transfer-Encoding does not end in chunked is read to EOF", () => {
    const r = parseBothWays("response", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nGZ\r\n0\r\n\r\n", { finish: true });
    expect(r.messages[0]!.head.bodyKind).toBe("eof");
    expect(r.messages[0]!.body).toBe("GZ\r\n0\r\n\r\n");
    expect(r.messages[0]!.complete).toBe(true);
  });

  it("onHeaders can return skip-body (a HEAD response without the queue)", () => {
    const bodies: string[] = [];
    const p = new HttpParser("response", { onHeaders: () => "skip-body", onBody: (d) => void bodies.push(str(d)) });
    p.execute(enc("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"));
    expect(bodies).toEqual([]);
    expect(p.idle).toBe(true);
  });
});

describe("control: pause, finish, reset, state", () => {
  it("pauses at each callback and resumes where it stopped", () => {
    const input = enc("POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    const events: string[] = [];
    const p = new HttpParser("request", {
      onMessageBegin: () => (events.push("begin"), "pause"),
      onHeaders: (h) => (events.push(`head ${h.target}`), "pause"),
      onChunkHeader: (n) => (events.push(`chunk ${n}`), "pause"),
      onBody: (d) => (events.push(`body ${str(d)}`), "pause"),
      onChunkComplete: () => (events.push("chunk done"), "pause"),
      onMessageComplete: (h) => (events.push(`done ${h.target}`), "pause"),
    });
    let off = 0;
    let stops = 0;
    while (off < input.length) {
      const n = p.execute(input, off);
      off += n;
      if (p.paused) {
        stops++;
        expect(p.execute(input, off)).toBe(0); // paused: nothing consumed
        p.resume();
      }
    }
    expect(events).toEqual(["begin", "head /a", "chunk 3", "body abc", "chunk done", "chunk 0", "chunk done", "done /a", "begin", "head /b", "done /b"]);
    // A pause from onHeaders of a message without a body, or from
    // onChunkComplete of the last chunk, takes effect after onMessageComplete
    // (so a caller never waits on a completion that needs no more bytes).
    expect(stops).toBe(events.length - 2);
  });

  it("finish(): no-op between messages, completes EOF bodies, throws inside a message", () => {
    const idle = new HttpParser("request");
    idle.execute(enc("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    expect(idle.idle).toBe(true);
    expect(() => idle.finish()).not.toThrow();

    const mid = new HttpParser("request");
    mid.execute(enc("GET / HTTP/1.1\r\nHost: h\r\nX-Y"));
    expect(mid.idle).toBe(false);
    expect(() => mid.finish()).toThrow(expect.objectContaining({ httpCode: "HPE_INVALID_EOF_STATE" }));

    let done = 0;
    const eof = new HttpParser("response", { onMessageComplete: () => void done++ });
    eof.execute(enc("HTTP/1.0 200 OK\r\n\r\nbody"));
    expect(done).toBe(0);
    eof.finish();
    expect(done).toBe(1);
    expect(eof.closed).toBe(true);
  });

  it("reset() makes a parser reusable after an error", () => {
    const p = new HttpParser("request");
    expect(() => p.execute(enc("BAD\x01"))).toThrow(HttpParseError);
    p.reset();
    expect(p.failure).toBeNull();
    expect(p.execute(enc("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))).toBe(27);
    expect(p.bytesConsumed).toBe(27);
  });
});

describe("lenient flags", () => {
  it("are all off by default and each one opens only its door", () => {
    const cases: Array<[keyof typeof ALL_LENIENT, string]> = [
      ["headers", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"],
      ["chunkedLength", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
      ["transferEncoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"],
      ["version", "GET / HTTP/1.7\r\nHost: h\r\n\r\n"],
      ["optionalLfAfterCr", "GET / HTTP/1.1\rHost: h\r\n\r\n"],
      ["optionalCrBeforeLf", "GET / HTTP/1.1\nHost: h\n\n"],
      ["optionalCrlfAfterChunk", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na0\r\n\r\n"],
      ["spacesAfterChunkSize", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1 \t\r\na\r\n0\r\n\r\n"],
      ["headerValueRelaxed", "GET / HTTP/1.1\r\nHost: h\r\nX: a\fb\r\n\r\n"],
      ["keepAlive", "GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"],
      ["dataAfterClose", "GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\ngarbage"],
    ];
    for (const [flag, input] of cases) {
      expect(parseBothWays("request", input).error, `${flag} off`).not.toBeNull();
      const r = parseBothWays("request", input, { lenient: { [flag]: true } });
      expect(r.error, `${flag} on`).toBeNull();
      expect(r.messages.length, flag).toBeGreaterThan(0);
      expect(parseBothWays("request", input, { lenient: "all" }).error, `${flag} with all`).toBeNull();
    }
  });

  it("headers: folded values are joined with one SP; the head keeps the framing of the joined value", () => {
    const r = parseBothWays("request", "GET / HTTP/1.1\r\nHost: h\r\nX: a  \r\n \t b\r\n\tc\r\nContent-Length:\r\n 2\r\n\r\nok", { lenient: { headers: true } });
    expect(r.error).toBeNull();
    expect(r.messages[0]!.head.get("x")).toBe("a b c");
    expect(r.messages[0]!.head.contentLength).toBe(2);
    expect(r.messages[0]!.body).toBe("ok");
  });

  it("headerValueRelaxed still rejects NUL, CR and LF", () => {
    expect(parse("request", "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", { lenient: { headerValueRelaxed: true } }).error?.httpCode).toBe("HPE_INVALID_HEADER_TOKEN");
    expect(parse("request", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", { lenient: { headerValueRelaxed: true } }).error?.httpCode).toBe("HPE_LF_EXPECTED");
  });
});

describe("parseRequestTarget", () => {
  it("splits the four forms", () => {
    expect(parseRequestTarget("/p/a?x=1&y=?#frag")).toEqual({ form: "origin", path: "/p/a", query: "x=1&y=?", fragment: "frag" });
    expect(parseRequestTarget("*")).toEqual({ form: "asterisk" });
    expect(parseRequestTarget("http://u:p@[::1]:8080/x?y")).toEqual({ form: "absolute", schema: "http", host: "u:p@[::1]:8080", path: "/x", query: "y" });
    expect(parseRequestTarget("https://example.com")).toEqual({ form: "absolute", schema: "https", host: "example.com" });
    expect(parseRequestTarget("example.com:443", "CONNECT")).toEqual({ form: "authority", host: "example.com:443" });
  });

  it("rejects malformed targets with HPE_INVALID_URL", () => {
    for (const bad of ["", "foo", "http:/x", "http://a@b@c/", "http://[::1/", "http://a b/", "/\x7f", "http://exa<mple.com/"]) {
      expect(() => parseRequestTarget(bad), bad).toThrow(expect.objectContaining({ httpCode: "HPE_INVALID_URL" }));
    }
  });
});
