/**
 * Parser throughput: requests parsed per second by @morgana/http against
 * Node's built-in llhttp (the `HTTPParser` binding that node:http uses, from
 * node:_http_common) and against http-parser-js, on the same bytes in the
 * same process. Each operation parses 20 pipelined copies of a request fed
 * as one buffer; every parser delivers the method, target, version and every
 * header as strings, which the callback touches. Every parser is checked to
 * have parsed all 20 requests before it is timed.
 */
import { figure, rate } from "@morgana/benchkit";
import { createRequire } from "node:module";
import { HttpParser } from "../src/index.js";

const require = createRequire(import.meta.url);

/** The "httparse" benchmark request (a Firefox request with cookies), about 700 bytes. */
export const BROWSER_REQUEST =
  "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n" +
  "Host: www.kittyhell.com\r\n" +
  "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n" +
  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
  "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n" +
  "Accept-Encoding: gzip,deflate\r\n" +
  "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n" +
  "Keep-Alive: 115\r\n" +
  "Connection: keep-alive\r\n" +
  "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; " +
  "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; " +
  "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n" +
  "\r\n";

/** A minimal request (curl-like). */
export const SMALL_REQUEST = "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

const COPIES = 20;

function pipelined(req: string): Buffer {
  return Buffer.from(req.repeat(COPIES), "latin1");
}

let sink = 0;

/** @morgana/http: returns a function parsing one buffer, and the messages it saw. */
export function oursParser(): { parse: (b: Uint8Array) => void; count: () => number } {
  let n = 0;
  // Strict defaults (both requests carry Host).
  const p = new HttpParser("request", {
    onHeaders(h) {
      sink += h.method.length + h.target.length + h.rawHeaders.length + h.versionMinor;
    },
    onMessageComplete() {
      n++;
    },
  });
  return { parse: (b) => void p.execute(b), count: () => n };
}

interface NodeHttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(b: Buffer): number | Error;
  [k: number]: unknown;
}

/** Node's llhttp binding (what node:http runs). */
export function llhttpParser(): { parse: (b: Buffer) => void; count: () => number } {
  const { HTTPParser } = require("_http_common") as {
    HTTPParser: { new (): NodeHttpParser; REQUEST: number; kOnHeadersComplete: number; kOnMessageComplete: number; kOnHeaders: number; kOnBody: number; kOnExecute: number };
  };
  let n = 0;
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, 0, 0);
  p[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    sink += headers.length + url.length;
  };
  p[HTTPParser.kOnHeadersComplete] = (_major: number, minor: number, headers: string[], method: number, url: string) => {
    sink += method + url.length + headers.length + minor;
    return 0;
  };
  p[HTTPParser.kOnBody] = () => {};
  p[HTTPParser.kOnMessageComplete] = () => {
    n++;
  };
  return {
    parse: (b) => {
      const r = p.execute(b);
      if (r instanceof Error) throw r;
    },
    count: () => n,
  };
}

/** http-parser-js (pure JS, the legacy binding's shape). */
export function httpParserJs(): { parse: (b: Buffer) => void; count: () => number } {
  const { HTTPParser } = require("http-parser-js") as {
    HTTPParser: { new (type: string): NodeHttpParser; REQUEST: string; kOnHeadersComplete: number; kOnMessageComplete: number; kOnBody: number };
  };
  let n = 0;
  const p = new HTTPParser(HTTPParser.REQUEST);
  p[HTTPParser.kOnHeadersComplete] = (info: { method: number; url: string; headers: string[]; versionMinor: number }) => {
    sink += info.method + info.url.length + info.headers.length + info.versionMinor;
  };
  p[HTTPParser.kOnBody] = () => {};
  p[HTTPParser.kOnMessageComplete] = () => {
    n++;
  };
  return {
    parse: (b) => {
      const r = p.execute(b);
      if (r instanceof Error) throw r;
    },
    count: () => n,
  };
}

function checked(name: string, impl: { parse: (b: Buffer) => void; count: () => number }, buf: Buffer): () => void {
  impl.parse(buf);
  if (impl.count() !== COPIES) throw new Error(`${name} parsed ${impl.count()} of ${COPIES} requests`);
  return () => impl.parse(buf);
}

function pair(name: string, req: string, reference: "llhttp" | "http-parser-js"): void {
  figure("http", name, async () => {
    const buf = pipelined(req);
    const ours = checked("ours", oursParser(), buf);
    const ref = reference === "llhttp" ? checked("llhttp", llhttpParser(), buf) : checked("http-parser-js", httpParserJs(), buf);
    // Interleaved (ours, reference, ours, reference), best of two medians
    // each: the machine is shared and noisy, and neither side should gain
    // from going first.
    const o1 = await rate(ours, COPIES);
    const r1 = await rate(ref, COPIES);
    const o2 = await rate(ours, COPIES);
    const r2 = await rate(ref, COPIES);
    const oursRate = Math.max(o1, o2);
    const refRate = Math.max(r1, r2);
    return {
      unit: "req/s",
      ours: oursRate,
      reference: reference === "llhttp" ? `Node ${process.version} built-in llhttp ${process.versions["llhttp"] ?? ""} (node:_http_common HTTPParser)` : "http-parser-js 0.5.10",
      referenceValue: refRate,
      note: `${req.length}-byte request, ${COPIES} pipelined per execute(); interleaved runs, best of two`,
    };
  });
}

pair("parse-requests", BROWSER_REQUEST, "llhttp");
pair("parse-requests-vs-http-parser-js", BROWSER_REQUEST, "http-parser-js");
pair("parse-requests-small", SMALL_REQUEST, "llhttp");

export { sink };
