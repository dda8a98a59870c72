/**
 * The parser driven the way the server (next part of issue 7) will drive it
 * over a Flow: chunks from an async source, a pause at each complete request
 * while an async handler runs (backpressure: no more bytes are parsed until it
 * finishes), responses in request order, and an upgrade handing the remaining
 * bytes back.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HttpParser, type HttpMessageHead } from "../src/index.js";
import { enc, str } from "./helpers.js";

async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let off = 0;
  let k = 0;
  while (off < bytes.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    yield bytes.slice(off, off + n);
    off += n;
    await Promise.resolve();
  }
}

interface Served {
  log: string[];
  rest: string;
  maxInFlight: number;
}

async function serve(source: AsyncIterable<Uint8Array>): Promise<Served> {
  const log: string[] = [];
  let current: { head: HttpMessageHead; body: string } | null = null;
  let done: { head: HttpMessageHead; body: string } | null = null;
  let inFlight = 0;
  let maxInFlight = 0;
  const parser = new HttpParser("request", {
    onHeaders(head) {
      current = { head, body: "" };
    },
    onBody(data) {
      current!.body += str(data);
    },
    onMessageComplete() {
      done = current;
      return "pause";
    },
  });
  let rest = "";
  for await (const chunk of source) {
    if (parser.upgraded) {
      rest += str(chunk);
      continue;
    }
    let off = 0;
    while (off < chunk.length) {
      off += parser.execute(chunk, off);
      if (parser.paused) {
        const req = done!;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 0)); // the handler
        log.push(`${req.head.method} ${req.head.target} ${req.body}`);
        inFlight--;
        parser.resume();
      }
      if (parser.upgraded) {
        rest += str(chunk.subarray(off));
        break;
      }
    }
  }
  parser.finish();
  return { log, rest, maxInFlight };
}

describe("driving the parser from an async byte source", () => {
  it("serves pipelined requests one at a time, in order, for any chunking, then hands back an upgrade", async () => {
    const input =
      "POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\none" +
      "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n" +
      "PUT /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nthr\r\n2\r\nee\r\n0\r\n\r\n" +
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" +
      "\x81\x02hi";
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }), async (sizes) => {
        const r = await serve(chunked(enc(input), sizes));
        expect(r.log).toEqual(["POST /1 one", "GET /2 ", "PUT /3 three", "GET /ws "]);
        expect(r.rest).toBe("\x81\x02hi");
        expect(r.maxInFlight).toBe(1);
      }),
      { numRuns: 30 },
    );
  });
});
