/**
 * The server over in-memory flows (@morgana/flow tcpFlowPair) with a
 * VirtualClock: keep-alive, pipelining, bodies both ways, HEAD/204/304,
 * 100-continue, Connection: close, HTTP/1.0, timeouts, the connection cap,
 * graceful shutdown, handler errors, upgrades.
 */
import { describe, expect, it } from "vitest";
import { MorganaError } from "@morgana/interfaces";
import { deferred, EPOCH, flush, harness, readText } from "./server-helpers.js";
import { enc, str } from "./helpers.js";
import { httpDate, type HttpRequestInfo } from "../src/index.js";

const GET = (path: string, extra = ""): string => `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;

describe("keep-alive and framing", () => {
  it("serves several requests on one connection, with Date and Server fields", async () => {
    const seen: string[] = [];
    const h = harness({
      serverName: "morgana-test",
      handler: (req, info) => {
        seen.push(`${info.index} ${req.method} ${req.url}`);
        return new Response(`you asked for ${new URL(req.url).pathname}`);
      },
    });
    const c = h.connect();
    for (const p of ["/a", "/b", "/c"]) {
      await c.request("GET", GET(p));
      const r = await c.reader.next();
      expect(r.status).toBe(200);
      expect(r.body).toBe(`you asked for ${p}`);
      expect(r.head.get("content-length")).toBe(String(`you asked for ${p}`.length));
      expect(r.head.get("date")).toBe(httpDate(EPOCH));
      expect(r.head.get("date")).toBe("Fri, 02 Jan 2026 03:04:05 GMT");
      expect(r.head.get("server")).toBe("morgana-test");
      expect(r.head.keepAlive).toBe(true);
    }
    expect(seen).toEqual(["0 GET http://test/a", "1 GET http://test/b", "2 GET http://test/c"]);
    await flush();
    expect(h.server.stats().counters).toMatchObject({ connectionsAccepted: 1, requests: 3, responses: 3, keepAliveReuses: 2, connections: 1 });
    await c.flow.close();
    await c.done;
    expect(h.server.connections).toBe(0);
  });

  it("Date follows the clock's wall time, second by second", async () => {
    const h = harness({ handler: () => new Response("x") });
    const c = h.connect();
    await c.request("GET", GET("/"));
    expect((await c.reader.next()).head.get("date")).toBe(httpDate(EPOCH));
    await h.clock.advance(2500);
    await c.request("GET", GET("/"));
    expect((await c.reader.next()).head.get("date")).toBe(httpDate(EPOCH + 2000));
  });

  it("keeps pipelined responses in order when the first handler is slow, and runs handlers concurrently", async () => {
    const slow = deferred();
    const log: string[] = [];
    const h = harness({
      handler: async (req) => {
        const p = new URL(req.url).pathname;
        log.push(`start ${p}`);
        if (p === "/slow") await slow.promise;
        log.push(`end ${p}`);
        return new Response(`body of ${p}`);
      },
    });
    const c = h.connect();
    c.reader.expect("GET");
    c.reader.expect("GET");
    c.reader.expect("GET");
    await c.send(GET("/slow") + GET("/fast") + GET("/fast2"));
    await flush();
    // The fast handlers ran while the slow one waits; nothing was written yet.
    expect(log).toEqual(["start /slow", "start /fast", "end /fast", "start /fast2", "end /fast2"]);
    expect(c.reader.raw).toBe("");
    slow.resolve();
    expect((await c.reader.next()).body).toBe("body of /slow");
    expect((await c.reader.next()).body).toBe("body of /fast");
    expect((await c.reader.next()).body).toBe("body of /fast2");
  });

  it("stops parsing ahead at maxPipelinedRequests", async () => {
    const gate = deferred();
    let started = 0;
    const h = harness({
      maxPipelinedRequests: 2,
      handler: async () => {
        started++;
        await gate.promise;
        return new Response("ok");
      },
    });
    const c = h.connect();
    for (let i = 0; i < 5; i++) c.reader.expect("GET");
    await c.send(GET("/1") + GET("/2") + GET("/3") + GET("/4") + GET("/5"));
    await flush();
    expect(started).toBe(2);
    gate.resolve();
    for (let i = 0; i < 5; i++) expect((await c.reader.next()).body).toBe("ok");
    expect(started).toBe(5);
  });

  it("pipelined responses to a client that does not read: at most 16 KiB beyond the flow's buffer are written ahead, all arrive in order", async () => {
    const size = 10_000;
    const h = harness({ handler: (req) => new Response(new URL(req.url).pathname.slice(1).repeat(size)) });
    const c = h.connect({ bufferSize: 4096, lazy: true });
    const letters = "abcdefghij";
    for (const _ of letters) c.reader.expect("GET");
    await c.send([...letters].map((l) => GET(`/${l}`)).join(""));
    await flush(10);
    // The first 10 kB write is pending in the 4 KiB pair, the second pushed the pending bytes past 16 KiB: the server waits.
    expect(c.server.stats().pendingWrites).toBe(2);
    expect(h.server.stats().counters.responses).toBe(2);
    for (const l of letters) {
      const r = await c.reader.next();
      expect(r.body).toBe(l.repeat(size));
    }
    expect(h.server.stats().counters.responses).toBe(10);
  });

  it("a closing response held back by the flow is delivered whole before the end of stream", async () => {
    const body = "z".repeat(50_000);
    const h = harness({ handler: () => new Response(body, { headers: { connection: "close" } }) });
    const c = h.connect({ bufferSize: 1024, lazy: true });
    await c.request("GET", GET("/"));
    await flush(10);
    expect(c.server.stats().pendingWrites).toBe(1);
    const [r, ...more] = await c.reader.end();
    expect(r!.body).toBe(body);
    expect(more).toEqual([]);
    await c.flow.shutdown(); // ends the server's lingering close
    await c.done;
    expect(h.server.connections).toBe(0);
  });

  it("streams a response of unknown length with chunked coding, chunk by chunk", async () => {
    const gate = deferred();
    const h = harness({
      handler: () =>
        new Response(
          new ReadableStream({
            async start(ctl) {
              ctl.enqueue(enc("first "));
              await gate.promise;
              ctl.enqueue(enc("second"));
              ctl.close();
            },
          }),
        ),
    });
    const c = h.connect();
    await c.request("GET", GET("/"));
    await flush();
    // The head and the first chunk went out before the stream ended.
    expect(c.reader.raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(c.reader.raw).toContain("transfer-encoding: chunked\r\n");
    expect(c.reader.raw.endsWith("6\r\nfirst \r\n")).toBe(true);
    gate.resolve();
    const r = await c.reader.next();
    expect(r.body).toBe("first second");
    expect(r.chunks).toEqual([6, 6]);
    expect(r.head.has("content-length")).toBe(false);
  });

  it("writes string and byte bodies like the equivalent stream with a Content-Length (one write, stream untouched on Node)", async () => {
    const text = "héllo ✓ wörld";
    const bytes = new TextEncoder().encode(text);
    const kept: Response[] = [];
    const h = harness({
      handler: (req) => {
        const p = new URL(req.url).pathname;
        const headers = { "content-type": "text/x", "x-a": "1" };
        let r: Response;
        if (p === "/string") r = new Response(text, { headers });
        else if (p === "/bytes") r = new Response(bytes, { headers });
        else r = new Response(new Blob([bytes]).stream(), { headers: { ...headers, "content-length": String(bytes.length) } });
        kept.push(r);
        return r;
      },
    });
    const c = h.connect();
    const raw: string[] = [];
    for (const p of ["/string", "/bytes", "/stream"]) {
      const before = c.reader.raw.length;
      await c.request("GET", GET(p));
      const r = await c.reader.next();
      expect(r.head.get("content-length")).toBe(String(bytes.length));
      expect(new TextDecoder().decode(enc(r.body))).toBe(text);
      raw.push(c.reader.raw.slice(before));
    }
    expect(raw[0]).toBe(raw[2]);
    expect(raw[1]).toBe(raw[2]);
    // The string and bytes bodies were taken from the Response without reading its stream (undici keeps the source).
    expect(kept.map((r) => r.bodyUsed)).toEqual([false, false, true]);
  });

  it("uses the handler's Content-Length and closes the connection if the body disagrees", async () => {
    const h = harness({
      handler: (req) =>
        new URL(req.url).pathname === "/ok"
          ? new Response(new Blob(["12345"]).stream(), { headers: { "content-length": "5" } })
          : new Response(new Blob(["123"]).stream(), { headers: { "content-length": "5" } }),
    });
    const c = h.connect();
    await c.request("GET", GET("/ok"));
    const r = await c.reader.next();
    expect(r.body).toBe("12345");
    expect(r.head.get("content-length")).toBe("5");
    await c.request("GET", GET("/short"));
    // Three of five bytes, then the connection is aborted.
    await expect(c.reader.next()).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(c.reader.raw.endsWith("\r\n\r\n123")).toBe(true);
    await c.done;
  });

  it("answers HEAD with the GET's framing and no body; 204 and 304 have no body", async () => {
    const h = harness({
      handler: (req) => {
        const p = new URL(req.url).pathname;
        if (p === "/204") return new Response(null, { status: 204 });
        if (p === "/304") return new Response(null, { status: 304, headers: { etag: '"x"' } });
        if (p === "/stream") return new Response(new ReadableStream({ pull() {} }));
        return new Response("twelve bytes");
      },
    });
    const c = h.connect();
    await c.request("HEAD", "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = await c.reader.next();
    expect(r.status).toBe(200);
    expect(r.head.get("content-length")).toBe("12");
    expect(r.body).toBe("");
    await c.request("GET", GET("/204"));
    r = await c.reader.next();
    expect(r.status).toBe(204);
    expect(r.head.has("content-length")).toBe(false);
    await c.request("GET", GET("/304"));
    r = await c.reader.next();
    expect(r.status).toBe(304);
    expect(r.head.get("etag")).toBe('"x"');
    // HEAD of an endless stream: chunked framing announced, no body, connection kept.
    await c.request("HEAD", "HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    r = await c.reader.next();
    expect(r.head.get("transfer-encoding")).toBe("chunked");
    await c.request("GET", GET("/"));
    expect((await c.reader.next()).body).toBe("twelve bytes");
    // Exactly five head sections and two bodies on the wire.
    expect(c.reader.raw.match(/HTTP\/1\.1 /g)).toHaveLength(5);
    expect(c.reader.raw.match(/twelve bytes/g)).toHaveLength(1);
  });

  it("closes after Connection: close from the client, and from the handler", async () => {
    const h = harness({ handler: (req) => new Response("bye", new URL(req.url).pathname === "/h" ? { headers: { connection: "close" } } : {}) });
    const c = h.connect();
    await c.request("GET", GET("/", "Connection: close\r\n"));
    const [r] = await c.reader.end();
    expect(r!.head.get("connection")).toBe("close");
    expect(r!.body).toBe("bye");
    await c.flow.close();
    await c.done;

    const d = h.connect();
    await d.request("GET", GET("/h"));
    const [r2] = await d.reader.end();
    expect(r2!.head.get("connection")).toBe("close");
    await d.flow.close();
    await d.done;
  });

  it("HTTP/1.0: closes by default, keeps alive on request, delimits an unknown length by closing", async () => {
    const h = harness({
      handler: (req) =>
        new URL(req.url).pathname === "/stream" ? new Response(new ReadableStream({ pull: (ctl) => (ctl.enqueue(enc("abc")), ctl.close()) }).pipeThrough(new TransformStream())) : new Response("ten bytes!"),
    });
    const a = h.connect();
    await a.request("GET", "GET / HTTP/1.0\r\n\r\n");
    const [r] = await a.reader.end();
    expect(r!.head.get("connection")).toBe("close");
    expect(r!.body).toBe("ten bytes!");
    await a.flow.close();

    const b = h.connect();
    await b.request("GET", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r1 = await b.reader.next();
    expect(r1.head.get("connection")).toBe("keep-alive");
    expect(r1.head.get("content-length")).toBe("10");
    await b.request("GET", "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const [r2] = await b.reader.end();
    expect(r2!.body).toBe("abc");
    expect(r2!.head.get("connection")).toBe("close");
    expect(r2!.head.has("transfer-encoding")).toBe(false);
    expect(r2!.head.has("content-length")).toBe(false);
  });
});

describe("request bodies", () => {
  it("streams a chunked upload to the handler as it arrives", async () => {
    const got: string[] = [];
    const done = deferred<string>();
    const h = harness({
      handler: async (req) => {
        const reader = req.body!.getReader();
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          got.push(str(r.value));
        }
        done.resolve(got.join(""));
        return new Response(`got ${got.join("").length}`);
      },
    });
    const c = h.connect();
    await c.request("POST", "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    await flush();
    expect(got).toEqual(["hello"]); // delivered before the rest was even sent
    await c.send("6\r\n world\r\n");
    await flush();
    expect(got).toEqual(["hello", " world"]);
    await c.send("0\r\n\r\n");
    expect(await done.promise).toBe("hello world");
    expect((await c.reader.next()).body).toBe("got 11");
  });

  it("applies backpressure: an unread body stops the server reading, so the client's writes stall", async () => {
    const gate = deferred();
    let bodyText = "";
    const h = harness({
      requestBodyBufferBytes: 1024,
      handler: async (req) => {
        await gate.promise;
        bodyText = await req.text();
        return new Response(`read ${bodyText.length}`);
      },
    });
    const c = h.connect({ bufferSize: 4096 });
    const total = 200_000;
    await c.request("POST", `POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ${total}\r\n\r\n`);
    const body = new Uint8Array(total).fill(0x61);
    let written = false;
    const w = c.flow.write(body).then(() => (written = true));
    await flush(10);
    expect(written).toBe(false);
    // The server holds at most its body buffer plus one flow chunk; the pair holds 4096 more.
    const st = c.flow.stats();
    expect(st.pendingWrites).toBe(1);
    expect(c.server.stats().bytesRead).toBeLessThanOrEqual(1024 + 4096 + 200);
    gate.resolve();
    await w;
    expect((await c.reader.next()).body).toBe(`read ${total}`);
    expect(bodyText.length).toBe(total);
  });

  it("Expect: 100-continue: sends 100 when the handler reads the body", async () => {
    const h = harness({ handler: async (req) => new Response(`echo ${await req.text()}`) });
    const c = h.connect();
    await c.request("PUT", "PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    await flush();
    expect(c.reader.raw).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    await c.send("data");
    const r = await c.reader.next();
    expect(r.body).toBe("echo data");
    expect(c.reader.interim).toEqual([100]);
    expect(r.head.keepAlive).toBe(true);
  });

  it("Expect: 100-continue: no 100 when the handler answers without reading; the connection then closes", async () => {
    const h = harness({ handler: () => new Response("too big", { status: 413 }) });
    const c = h.connect();
    await c.request("PUT", "PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n");
    const [r] = await c.reader.end();
    expect(r!.status).toBe(413);
    expect(r!.head.get("connection")).toBe("close");
    expect(c.reader.interim).toEqual([]);
    expect(c.reader.raw).not.toContain("100 Continue");
  });

  it("an unknown expectation gets 417", async () => {
    const h = harness({ handler: () => new Response("no") });
    const c = h.connect();
    await c.request("PUT", "PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: something\r\n\r\n");
    const [r] = await c.reader.end();
    expect(r!.status).toBe(417);
  });

  it("drops the unread rest of a small body and keeps the connection; closes past maxDiscardBytes", async () => {
    const h = harness({ maxDiscardBytes: 1000, handler: () => new Response("ignored your body") });
    const c = h.connect();
    await c.request("POST", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\n\r\n" + "x".repeat(500));
    expect((await c.reader.next()).head.keepAlive).toBe(true);
    await c.request("GET", GET("/next"));
    expect((await c.reader.next()).body).toBe("ignored your body");

    const d = h.connect();
    await d.request("POST", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    const r = await d.reader.next();
    expect(r.status).toBe(200);
    await d.send("y".repeat(5000));
    await d.reader.end(); // the server closes after dropping 1000 bytes
    expect(h.server.stats().drops["discard-limit"]).toBe(1);
  });

  it("a GET with a body: the body is read and dropped, the Request has none", async () => {
    let hadBody = true;
    const h = harness({
      handler: (req) => {
        hadBody = req.body !== null;
        return new Response("ok");
      },
    });
    const c = h.connect();
    await c.request("GET", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" + GET("/2"));
    c.reader.expect("GET");
    await c.reader.next();
    await c.reader.next();
    expect(hadBody).toBe(false);
  });
});

describe("timeouts (VirtualClock)", () => {
  it("slow loris: a header section dribbled one byte per second is cut off at headersTimeoutMs with 408", async () => {
    let called = false;
    const h = harness({
      headersTimeoutMs: 10_000,
      handler: () => {
        called = true;
        return new Response("x");
      },
    });
    const c = h.connect();
    const text = "GET / HTTP/1.1\r\nHost: t\r\nX-Padding: " + "a".repeat(100);
    let i = 0;
    for (; i < text.length && !c.reader.finished; i++) {
      await c.send(text[i]!);
      await h.clock.advance(1000);
    }
    // Cut off at 10 s, not when the client stopped.
    expect(i).toBeGreaterThanOrEqual(10);
    expect(i).toBeLessThanOrEqual(12);
    expect(c.reader.raw).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(c.reader.raw).toContain("connection: close");
    expect(called).toBe(false);
    expect(h.server.stats().drops["headers-timeout"]).toBe(1);
    await h.clock.advance(5000); // linger
    await c.done;
  });

  it("closes an idle keep-alive connection after idleTimeoutMs, and a silent new one too", async () => {
    const h = harness({ idleTimeoutMs: 5000, handler: () => new Response("x") });
    const c = h.connect();
    await c.request("GET", GET("/"));
    await c.reader.next();
    await h.clock.advance(4999);
    expect(c.reader.finished).toBe(false);
    await h.clock.advance(2);
    await c.reader.end();
    expect(h.server.stats().counters.idleTimeouts).toBe(1);
    // Lingering: the server waits for our end (or lingerMs) before closing.
    await h.clock.advance(2000);
    await c.done;

    const d = h.connect();
    await h.clock.advance(5001);
    await d.reader.end();
    expect(d.reader.raw).toBe("");
  });

  it("a client sending CRLFs between requests does not reset the idle timer", async () => {
    const h = harness({ idleTimeoutMs: 5000, handler: () => new Response("x") });
    const c = h.connect();
    for (let i = 0; i < 10 && !c.reader.finished; i++) {
      await c.send("\r\n");
      await h.clock.advance(1000);
    }
    expect(c.reader.finished).toBe(true);
    expect(h.clock.now()).toBeLessThanOrEqual(6000);
  });

  it("a stalled request body times out after bodyTimeoutMs: the handler's read fails and the client gets 408", async () => {
    let readError: unknown = null;
    const h = harness({
      bodyTimeoutMs: 3000,
      handler: async (req) => {
        try {
          await req.text();
        } catch (e) {
          readError = e;
        }
        return new Response("never sent");
      },
    });
    const c = h.connect();
    await c.request("POST", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345");
    await h.clock.advance(2999);
    expect(c.reader.raw).toBe("");
    await h.clock.advance(2);
    const [r] = await c.reader.end();
    expect(r!.status).toBe(408);
    expect((readError as MorganaError).code).toBe("ETIMEDOUT");
    expect(h.server.stats().drops["body-timeout"]).toBe(1);
  });

  it("a client that stops reading the response is cut off after sendTimeoutMs", async () => {
    const h = harness({ sendTimeoutMs: 10_000, handler: () => new Response(new Uint8Array(1_000_000)) });
    const c = h.connect({ bufferSize: 8192, lazy: true });
    await c.request("GET", GET("/big"));
    await flush(5);
    await h.clock.advance(9_999);
    expect(h.server.connections).toBe(1);
    await h.clock.advance(2);
    await c.done;
    expect(h.server.connections).toBe(0);
    expect(h.server.stats().drops["send-timeout"]).toBe(1);
    // What was sent before is still readable, then the reset.
    await expect(c.reader.end()).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("no timeout fires while the handler is busy, and no timer is left after close", async () => {
    const gate = deferred();
    const h = harness({ idleTimeoutMs: 1000, headersTimeoutMs: 1000, handler: async () => (await gate.promise, new Response("late")) });
    const c = h.connect();
    await c.request("GET", GET("/"));
    await h.clock.advance(60_000);
    expect(c.reader.finished).toBe(false);
    gate.resolve();
    expect((await c.reader.next()).body).toBe("late");
    await c.flow.close();
    await c.done;
    await h.clock.runUntilIdle();
    expect(h.clock.pendingTimers).toBe(0);
  });
});

describe("limits, errors, shutdown", () => {
  it("answers 503 beyond maxConnections and closes that connection", async () => {
    const h = harness({ maxConnections: 2, handler: () => new Response("ok") });
    const a = h.connect();
    const b = h.connect();
    const c = h.connect();
    const [r] = await c.reader.end();
    expect(r!.status).toBe(503);
    expect(h.server.connections).toBe(2);
    expect(h.server.stats().counters.connectionsRejected).toBe(1);
    await a.request("GET", GET("/"));
    expect((await a.reader.next()).body).toBe("ok");
    await b.flow.close();
    await b.done;
    const d = h.connect();
    await d.request("GET", GET("/"));
    expect((await d.reader.next()).body).toBe("ok");
  });

  it("handler exceptions, rejections and non-Responses become 500; the connection stays usable", async () => {
    const errors: unknown[] = [];
    const h = harness({
      onError: (e) => errors.push(e),
      handler: (req) => {
        const p = new URL(req.url).pathname;
        if (p === "/throw") throw new Error("boom");
        if (p === "/reject") return Promise.reject(new Error("async boom"));
        if (p === "/null") return null as unknown as Response;
        return new Response("fine");
      },
    });
    const c = h.connect();
    for (const p of ["/throw", "/reject", "/null"]) {
      await c.request("GET", GET(p));
      const r = await c.reader.next();
      expect(r.status).toBe(500);
      expect(r.body).toBe("500 Internal Server Error\n");
    }
    await c.request("GET", GET("/ok"));
    expect((await c.reader.next()).body).toBe("fine");
    expect(errors.map((e) => (e as Error).message)).toEqual(["boom", "async boom", "the handler returned null, not a Response"]);
    expect(h.server.stats().drops["handler-error"]).toBe(3);
  });

  it("a response body that fails after the head was sent closes the connection", async () => {
    const gate = deferred();
    const h = harness({
      handler: () =>
        new Response(
          new ReadableStream({
            async start(ctl) {
              ctl.enqueue(enc("partial"));
              await gate.promise;
              ctl.error(new Error("stream broke"));
            },
          }),
        ),
    });
    const c = h.connect();
    await c.request("GET", GET("/"));
    await flush();
    expect(c.reader.raw.endsWith("7\r\npartial\r\n")).toBe(true);
    gate.resolve();
    await expect(c.reader.next()).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(c.reader.raw).toContain("transfer-encoding: chunked");
    expect(c.reader.raw).not.toContain("0\r\n\r\n");
    await c.done;
  });

  it("a response body that fails before any byte becomes a 500", async () => {
    const errors: unknown[] = [];
    const h = harness({ onError: (e) => errors.push(e), handler: () => new Response(new ReadableStream({ pull: (ctl) => ctl.error(new Error("nope")) })) });
    const c = h.connect();
    await c.request("GET", GET("/"));
    const r = await c.reader.next();
    expect(r.status).toBe(500);
    expect(r.head.keepAlive).toBe(true);
    expect((errors[0] as Error).message).toBe("nope");
  });

  it("graceful shutdown: idle connections close at once, in-flight requests finish with Connection: close", async () => {
    const gate = deferred();
    const h = harness({
      handler: async (req) => {
        if (new URL(req.url).pathname === "/slow") await gate.promise;
        return new Response("done");
      },
    });
    const idle = h.connect();
    await idle.request("GET", GET("/"));
    await idle.reader.next();
    const busy = h.connect();
    await busy.request("GET", GET("/slow"));
    await flush();
    let closed = false;
    const closing = h.server.close().then(() => (closed = true));
    await idle.reader.end();
    await idle.flow.close();
    expect(closed).toBe(false);
    gate.resolve();
    const [r] = await busy.reader.end();
    expect(r!.body).toBe("done");
    expect(r!.head.get("connection")).toBe("close");
    await busy.flow.close();
    await closing;
    expect(h.server.connections).toBe(0);
    // After close: new connections are closed without an answer.
    const late = h.connect();
    expect(await late.reader.end()).toEqual([]);
  });

  it("graceful shutdown: requests still running at the deadline are cut off", async () => {
    const h = harness({ handler: () => new Promise<Response>(() => {}) });
    const c = h.connect();
    await c.request("GET", GET("/forever"));
    await flush();
    const closing = h.server.close({ deadlineMs: 10_000 });
    await h.clock.advance(9_999);
    expect(c.reader.finished).toBe(false);
    await h.clock.advance(2);
    await closing;
    await expect(c.reader.end()).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(h.server.stats().drops["shutdown-deadline"]).toBe(1);
  });

  it("a request that arrives while draining is answered with Connection: close", async () => {
    const h = harness({ handler: () => new Response("ok") });
    const c = h.connect();
    await c.send("GET / HTTP/1.1\r\nHo");
    await flush();
    const closing = h.server.close();
    c.reader.expect("GET");
    await c.send("st: t\r\n\r\n");
    const [r] = await c.reader.end();
    expect(r!.head.get("connection")).toBe("close");
    await c.flow.close();
    await closing;
  });
});

describe("upgrades and odd requests", () => {
  it("hands an Upgrade request's flow and the bytes after it to onUpgrade", async () => {
    const got = deferred<{ method: string; rest: string; info: string }>();
    const h = harness({
      handler: () => new Response("not used"),
      onUpgrade: async (u) => {
        await u.flow.write(enc("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"));
        const more = await u.flow.read();
        got.resolve({ method: u.head.method, rest: str(u.rest), info: str(more!) });
        await u.flow.write(more!);
        await u.flow.close();
      },
    });
    const c = h.connect();
    await c.send(GET("/ws", "Connection: Upgrade\r\nUpgrade: echo\r\n") + "early");
    await flush();
    await c.send("later");
    const r = await got.promise;
    expect(r).toEqual({ method: "GET", rest: "early", info: "later" });
    await c.done;
    expect(h.server.connections).toBe(0);
    expect(h.server.stats().counters.upgrades).toBe(1);
    await c.flow.shutdown();
    await c.reader.end();
    expect(c.reader.raw).toBe("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nlater");
  });

  it("CONNECT without onUpgrade gets 501; an Upgrade field without onUpgrade is ignored", async () => {
    const h = harness({ handler: (req) => new Response(`plain ${new URL(req.url).pathname}`) });
    const c = h.connect();
    await c.request("GET", GET("/ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n"));
    expect((await c.reader.next()).body).toBe("plain /ws");
    await c.request("CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    const [r] = await c.reader.end();
    expect(r!.status).toBe(501);
  });

  it("builds the Request URL from Host, an absolute-form target, or our address; rejects a bad Host", async () => {
    const urls: string[] = [];
    const infos: HttpRequestInfo[] = [];
    const h = harness({
      handler: (req, info) => {
        urls.push(req.url);
        infos.push(info);
        return new Response("ok");
      },
    });
    const c = h.connect();
    await c.request("GET", "GET /p?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
    await c.reader.next();
    await c.request("GET", "GET http://other.test/abs HTTP/1.1\r\nHost: other.test\r\n\r\n");
    await c.reader.next();
    await c.request("OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    await c.reader.next();
    await c.request("GET", "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    await c.reader.next();
    expect(urls).toEqual(["http://example.com:8080/p?q=1", "http://other.test/abs", "http://h/", "http://10.0.0.2/x"]);
    expect(infos[0]!.remote).toEqual({ address: "10.0.0.1", port: 49152, family: "IPv4" });
    expect(infos[2]!.head.target).toBe("*");
    await c.request("GET", "GET / HTTP/1.1\r\nHost: evil.com/path\r\n\r\n");
    const [r] = await c.reader.end();
    expect(r!.status).toBe(400);
  });

  it("request bodies reach the handler for POST with Content-Length, and the handler can stream the echo", async () => {
    const h = harness({ handler: (req) => new Response(req.body) });
    const c = h.connect();
    const body = "0123456789".repeat(10_000);
    await c.request("POST", `POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`);
    const w = c.send(body);
    const r = await c.reader.next();
    await w;
    expect(r.body).toBe(body);
    expect(r.head.get("transfer-encoding")).toBe("chunked");
  });
});

describe("the request object", () => {
  it("carries method, headers in order, and a streaming body", async () => {
    const seen = deferred<{ m: string; h: Array<[string, string]>; b: string }>();
    const h = harness({
      handler: async (req) => {
        seen.resolve({ m: req.method, h: [...req.headers], b: await readText(req.body) });
        return new Response(null, { status: 201 });
      },
    });
    const c = h.connect();
    await c.request("PATCH", "PATCH /r HTTP/1.1\r\nHost: t\r\nX-B: 2\r\nX-A: 1\r\nContent-Type: text/x\r\nContent-Length: 2\r\n\r\nhi");
    const r = await c.reader.next();
    expect(r.status).toBe(201);
    expect(r.head.get("content-length")).toBe("0");
    expect(await seen.promise).toEqual({
      m: "PATCH",
      h: [
        ["content-length", "2"],
        ["content-type", "text/x"],
        ["host", "t"],
        ["x-a", "1"],
        ["x-b", "2"],
      ],
      b: "hi",
    });
  });
});
