/**
 * The fetch client against our server and scripted raw peers over in-memory
 * flows, with a VirtualClock: body framings both ways, pooling, redirects,
 * abort and timeouts, draining on cancel, retry on a stale connection, the
 * response-side hardening class.
 */
import { describe, expect, it } from "vitest";
import { MorganaError } from "@morgana/interfaces";
import { VirtualClock } from "@morgana/sim";
import { createFetch, createHttpServer, HttpParseError, type FetchOptions, type HttpHandler} from "../src/index.js";
import { latin1, memoryTcp, readHead, tableResolver, type Accept } from "./client-helpers.js";
import { classes } from "./hardening-cases.js";
import { str } from "./helpers.js";
import { flush } from "./server-helpers.js";

const ORIGIN = "http://10.0.0.2";

function setup(handler: HttpHandler, opts: Partial<FetchOptions> = {}, serverOpts: { idleTimeoutMs?: number } = {}) {
  const clock = new VirtualClock({ epochMs: Date.UTC(2026, 0, 1) });
  const server = createHttpServer({ clock, handler, ...serverOpts });
  const tcp = memoryTcp({ "10.0.0.2:80": (f) => void server.handleConnection(f) });
  const fetch = createFetch({ stack: { tcp }, clock, ...opts });
  return { clock, server, tcp, fetch };
}

/** A scripted peer: `script(flow)` talks raw HTTP. */
function rawSetup(script: Accept, opts: Partial<FetchOptions> = {}) {
  const clock = new VirtualClock();
  const tcp = memoryTcp({ "10.0.0.2:80": (f) => void script(f) });
  const fetch = createFetch({ stack: { tcp }, clock, ...opts });
  return { clock, tcp, fetch };
}

/** Echoes what the server saw: method, content-type, transfer-encoding, content-length, body. */
const echo: HttpHandler = async (req) =>
  Response.json({
    method: req.method,
    url: req.url,
    type: req.headers.get("content-type"),
    te: req.headers.get("transfer-encoding"),
    cl: req.headers.get("content-length"),
    auth: req.headers.get("authorization"),
    host: req.headers.get("host"),
    body: req.body === null ? null : await req.text(),
  });

describe("framings and bodies", () => {
  it("reads Content-Length and chunked bodies and reuses one keep-alive connection", async () => {
    const { fetch, tcp, server } = setup((req) =>
      new URL(req.url).pathname === "/chunked"
        ? new Response(new ReadableStream({ start: (c) => void (c.enqueue(latin1("ab")), setTimeout(() => (c.enqueue(latin1("cd")), c.close()), 1)) }))
        : new Response("fixed body"),
    );
    const a = await fetch(`${ORIGIN}/`);
    expect(a.status).toBe(200);
    expect(a.headers.get("content-length")).toBe("10");
    expect(await a.text()).toBe("fixed body");
    const b = await fetch(`${ORIGIN}/chunked`);
    expect(b.headers.get("transfer-encoding")).toBe("chunked");
    expect(await b.text()).toBe("abcd");
    const c = await fetch(`${ORIGIN}/again`);
    expect(await c.text()).toBe("fixed body");
    expect(tcp.total()).toBe(1);
    expect(fetch.stats().counters).toMatchObject({ requests: 3, connectionsOpened: 1, reusedRequests: 2 });
    expect(server.stats().counters.keepAliveReuses).toBe(2);
    expect(c.url).toBe(`${ORIGIN}/again`);
    expect(c.redirected).toBe(false);
  });

  it("sends string, bytes, URLSearchParams, Blob and FormData bodies with a Content-Length, streams with chunked", async () => {
    const { fetch } = setup(echo);
    const j = async (init: RequestInit) => (await fetch(`${ORIGIN}/e`, { method: "POST", ...init })).json();
    expect(await j({ body: "text" })).toMatchObject({ type: "text/plain;charset=UTF-8", cl: "4", te: null, body: "text" });
    expect(await j({ body: new Uint8Array([104, 105]) })).toMatchObject({ type: null, cl: "2", body: "hi" });
    expect(await j({ body: new URLSearchParams({ a: "1", b: "x y" }) })).toMatchObject({ type: "application/x-www-form-urlencoded;charset=UTF-8", body: "a=1&b=x+y" });
    expect(await j({ body: new Blob(["blob!"], { type: "text/x" }) })).toMatchObject({ type: "text/x", cl: "5", body: "blob!" });
    const fd = new FormData();
    fd.set("field", "value");
    const m = (await j({ body: fd })) as { type: string; body: string; cl: string };
    expect(m.type).toMatch(/^multipart\/form-data; boundary=/);
    expect(m.body).toContain('name="field"');
    expect(Number(m.cl)).toBe(latin1(m.body).length);
    const stream = new ReadableStream({ start: (c) => (c.enqueue(latin1("str")), c.enqueue(latin1("eam")), c.close()) });
    expect(await j({ body: stream, duplex: "half" } as RequestInit)).toMatchObject({ te: "chunked", cl: null, body: "stream" });
    expect(await j({ method: "PUT", body: null })).toMatchObject({ method: "PUT", cl: "0", body: null });
  });

  it("accepts a Request object as input, and rejects a GET with a body", async () => {
    const { fetch } = setup(echo);
    const r = await fetch(new Request(`${ORIGIN}/req`, { method: "POST", body: "from request", headers: { "x-a": "1" } }));
    expect(await r.json()).toMatchObject({ method: "POST", body: "from request" });
    await expect(fetch(`${ORIGIN}/`, { body: "x" })).rejects.toThrow(TypeError);
  });

  it("HEAD has no body; 204 has a null body; a response without a length is read to the close", async () => {
    const { fetch, tcp } = setup((req) => (new URL(req.url).pathname === "/204" ? new Response(null, { status: 204 }) : new Response("0123456789")));
    const h = await fetch(`${ORIGIN}/`, { method: "HEAD" });
    expect(h.headers.get("content-length")).toBe("10");
    expect(h.body).toBe(null);
    const n = await fetch(`${ORIGIN}/204`);
    expect(n.status).toBe(204);
    expect(n.body).toBe(null);
    expect(await (await fetch(`${ORIGIN}/`)).text()).toBe("0123456789");
    expect(tcp.total()).toBe(1);

    const raw = rawSetup(async (f) => {
      await readHead(f);
      await f.write(latin1("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"));
      await f.close();
    });
    const r = await raw.fetch(`${ORIGIN}/`);
    expect(await r.text()).toBe("until the end");
    await raw.fetch(`${ORIGIN}/`).then((x) => x.text());
    expect(raw.tcp.total()).toBe(2); // close-delimited: never reused
  });

  it("skips interim 1xx responses", async () => {
    const { fetch } = rawSetup(async (f) => {
      await readHead(f);
      await f.write(latin1("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    });
    const r = await fetch(`${ORIGIN}/`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("ok");
  });

  it("streams a large response with backpressure: the server is held back while the reader is slow", async () => {
    let produced = 0;
    const CHUNK = 16384;
    const TOTAL = 4 * 1024 * 1024;
    const { fetch } = setup(() =>
      new Response(
        new ReadableStream({
          pull(c) {
            if (produced >= TOTAL) return c.close();
            c.enqueue(new Uint8Array(CHUNK).fill(produced / CHUNK));
            produced += CHUNK;
          },
        }),
      ),
    );
    const r = await fetch(`${ORIGIN}/big`);
    const reader = r.body!.getReader();
    let consumed = 0;
    let maxAhead = 0;
    for (;;) {
      const x = await reader.read();
      if (x.done) break;
      consumed += x.value.length;
      await flush(1);
      maxAhead = Math.max(maxAhead, produced - consumed);
    }
    expect(consumed).toBe(TOTAL);
    // Client buffer (64 KiB) + flow pair (64 KiB) + one server chunk and read-ahead: far below the 4 MiB body.
    expect(maxAhead).toBeLessThanOrEqual(256 * 1024);
  });
});

describe("pool", () => {
  it("limits connections per origin; waiting requests get a freed connection", async () => {
    const gates: Array<() => void> = [];
    const { fetch, tcp, server } = setup(
      () =>
        new Promise<Response>((resolve) => {
          gates.push(() => resolve(new Response("done")));
        }),
      { pool: { maxSocketsPerOrigin: 2 } },
    );
    const all = [1, 2, 3, 4, 5].map((i) => fetch(`${ORIGIN}/${i}`).then((r) => r.text()));
    await flush(5);
    expect(tcp.total()).toBe(2);
    expect(server.connections).toBe(2);
    expect(gates.length).toBe(2);
    while (gates.length > 0 || (await Promise.race([Promise.all(all).then(() => true), flush(3).then(() => false)])) === false) {
      gates.shift()?.();
      await flush(3);
      expect(server.connections).toBeLessThanOrEqual(2);
    }
    expect(await Promise.all(all)).toEqual(["done", "done", "done", "done", "done"]);
    expect(tcp.total()).toBe(2);
    expect(fetch.stats().counters.poolWaits).toBe(3);
  });

  it("closes idle connections after idleTimeoutMs, or the server's Keep-Alive timeout less 1 s", async () => {
    const { fetch, clock, server } = setup(() => new Response("x"), { pool: { idleTimeoutMs: 4000 } });
    await (await fetch(`${ORIGIN}/`)).text();
    await flush();
    expect(fetch.stats().counters.idleConnections).toBe(1);
    await clock.advance(3999);
    expect(fetch.stats().counters.idleConnections).toBe(1);
    await clock.advance(2);
    expect(fetch.stats().counters.connections).toBe(0);
    await clock.advance(3000);
    expect(server.connections).toBe(0);

    const raw = rawSetup(
      async (f) => {
        await readHead(f);
        await f.write(latin1("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=2\r\nContent-Length: 1\r\n\r\nx"));
      },
      { pool: { idleTimeoutMs: 60_000 } },
    );
    await (await raw.fetch(`${ORIGIN}/`)).text();
    await raw.clock.advance(999);
    expect(raw.fetch.stats().counters.idleConnections).toBe(1);
    await raw.clock.advance(2);
    expect(raw.fetch.stats().counters.connections).toBe(0);
  });

  it("notices a server closing an idle connection and opens a new one", async () => {
    const { fetch, tcp, clock } = setup(() => new Response("x"), {}, { idleTimeoutMs: 1000 });
    await (await fetch(`${ORIGIN}/`)).text();
    await clock.advance(1001);
    await flush();
    expect(fetch.stats().drops["idle-closed-by-server"]).toBe(1);
    expect(await (await fetch(`${ORIGIN}/`)).text()).toBe("x");
    expect(tcp.total()).toBe(2);
    expect(fetch.stats().counters.retries).toBe(0);
  });

  it("retries an idempotent request once when a reused connection was closed before any response byte", async () => {
    let conns = 0;
    const script = async (f: Parameters<Accept>[0]) => {
      conns++;
      const first = await readHead(f);
      if (first === null) return;
      await f.write(latin1("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"));
      // The next request on this connection: closed without an answer (the keep-alive race).
      await readHead(f, first.rest);
      f.abort();
    };
    const { fetch, tcp } = rawSetup(script);
    expect(await (await fetch(`${ORIGIN}/a`)).text()).toBe("first");
    expect(await (await fetch(`${ORIGIN}/b`)).text()).toBe("first");
    expect(fetch.stats().counters.retries).toBe(1);
    expect(tcp.total()).toBe(2);
    // Not for POST: the request may have been processed.
    const err = await fetch(`${ORIGIN}/c`, { method: "POST", body: "x" }).catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(fetch.stats().counters.retries).toBe(1);
    expect(conns).toBe(2);
  });

  it("cancelling a small body drains it and keeps the connection; a large one closes it", async () => {
    const { fetch, tcp } = setup((req) => new Response(new URL(req.url).pathname === "/big" ? new Uint8Array(1_000_000) : "small body"));
    const a = await fetch(`${ORIGIN}/small`);
    await a.body!.cancel();
    await flush();
    expect(await (await fetch(`${ORIGIN}/next`)).text()).toBe("small body");
    expect(tcp.total()).toBe(1);
    const b = await fetch(`${ORIGIN}/big`);
    await b.body!.cancel();
    await flush();
    expect(await (await fetch(`${ORIGIN}/next`)).text()).toBe("small body");
    expect(tcp.total()).toBe(2);
    expect(fetch.stats().drops["cancel-close"]).toBe(1);
  });

  it("close() closes idle connections and refuses new requests", async () => {
    const { fetch, server } = setup(() => new Response("x"));
    await (await fetch(`${ORIGIN}/`)).text();
    await fetch.close();
    await flush();
    expect(fetch.stats().counters.connections).toBe(0);
    const e = await fetch(`${ORIGIN}/`).catch((x) => x);
    expect(e).toBeInstanceOf(TypeError);
    expect((e as TypeError).cause).toMatchObject({ code: "ERR_SOCKET_CLOSED" });
    void server;
  });
});

describe("redirects", () => {
  function redirectServer(): HttpHandler {
    return async (req) => {
      const u = new URL(req.url);
      const m = /^\/r(\d+)\/?(.*)$/.exec(u.pathname);
      if (m !== null) return new Response(null, { status: Number(m[1]), headers: { location: "/" + m[2] } });
      if (u.pathname.startsWith("/loop")) return new Response(null, { status: 302, headers: { location: `/loop${Number(u.pathname.slice(5) || 0) + 1}` } });
      if (u.pathname === "/abs") return new Response(null, { status: 301, headers: { location: "http://other.test/final" } });
      if (u.pathname === "/https") return new Response(null, { status: 301, headers: { location: "https://10.0.0.2/" } });
      return echo(req, undefined as never);
    };
  }

  it("303 turns any method but HEAD into GET; 301/302 turn POST into GET; the body and its fields are dropped", async () => {
    const { fetch } = setup(redirectServer());
    for (const [status, method, want] of [
      [303, "PUT", "GET"],
      [303, "POST", "GET"],
      [301, "POST", "GET"],
      [302, "POST", "GET"],
      [302, "PUT", "PUT"],
      [301, "DELETE", "DELETE"],
    ] as const) {
      const r = await fetch(`${ORIGIN}/r${status}/target`, { method, body: "payload", headers: { "content-type": "text/x" } });
      const j = (await r.json()) as { method: string; body: string | null; type: string | null };
      expect(r.redirected, `${status} ${method}`).toBe(true);
      expect(r.url).toBe(`${ORIGIN}/target`);
      expect(j.method, `${status} ${method}`).toBe(want);
      if (want === "GET") expect([j.body, j.type]).toEqual([null, null]);
      else expect([j.body, j.type]).toEqual(["payload", "text/x"]);
    }
  });

  it("307 and 308 keep the method and the body; a streamed body cannot be replayed", async () => {
    const { fetch } = setup(redirectServer());
    for (const s of [307, 308]) {
      const j = (await (await fetch(`${ORIGIN}/r${s}/t`, { method: "POST", body: "keep me" })).json()) as { method: string; body: string };
      expect(j).toMatchObject({ method: "POST", body: "keep me" });
    }
    const stream = new ReadableStream({ start: (c) => (c.enqueue(latin1("s")), c.close()) });
    const e = await fetch(`${ORIGIN}/r307/t`, { method: "POST", body: stream, duplex: "half" } as RequestInit).catch((x) => x);
    expect(e).toBeInstanceOf(TypeError);
    // 303 drops the body, so a stream is fine there.
    const stream2 = new ReadableStream({ start: (c) => (c.enqueue(latin1("s")), c.close()) });
    expect(((await (await fetch(`${ORIGIN}/r303/t`, { method: "POST", body: stream2, duplex: "half" } as RequestInit)).json()) as { method: string }).method).toBe("GET");
  });

  it("strips Authorization (and Cookie) on a cross-origin redirect, keeps it on the same origin", async () => {
    const clock = new VirtualClock();
    const a = createHttpServer({ clock, handler: redirectServer() });
    const b = createHttpServer({ clock, handler: echo });
    const tcp = memoryTcp({ "10.0.0.2:80": (f) => void a.handleConnection(f), "10.0.0.3:80": (f) => void b.handleConnection(f) });
    const resolver = tableResolver({ "other.test": "10.0.0.3" });
    const fetch = createFetch({ stack: { tcp }, clock, resolver });
    const same = (await (await fetch(`${ORIGIN}/r302/x`, { headers: { authorization: "Bearer s3cret", cookie: "a=b" } })).json()) as { auth: string | null };
    expect(same.auth).toBe("Bearer s3cret");
    const cross = await fetch(`${ORIGIN}/abs`, { headers: { authorization: "Bearer s3cret", cookie: "a=b" } });
    const j = (await cross.json()) as { auth: string | null; host: string; url: string };
    expect(j.auth).toBe(null);
    expect(j.host).toBe("other.test");
    expect(cross.url).toBe("http://other.test/final");
    expect(resolver.lookups).toEqual(["other.test"]);
  });

  it("follows at most 20 redirects; manual returns the redirect; error rejects; https: is refused", async () => {
    const { fetch } = setup(redirectServer());
    const loop = await fetch(`${ORIGIN}/loop0`).catch((e) => e);
    expect(loop).toBeInstanceOf(TypeError);
    expect((loop as TypeError).message).toBe("redirect count exceeded");
    const manual = await fetch(`${ORIGIN}/r302/x`, { redirect: "manual" });
    expect(manual.status).toBe(302);
    expect(manual.headers.get("location")).toBe("/x");
    await expect(fetch(`${ORIGIN}/r302/x`, { redirect: "error" })).rejects.toThrow(TypeError);
    await expect(fetch(`${ORIGIN}/https`)).rejects.toThrow(TypeError);
    // After all that, the pool is healthy.
    expect(((await (await fetch(`${ORIGIN}/ok`)).json()) as { method: string }).method).toBe("GET");
  });

  it("exactly 20 redirects are followed", async () => {
    const { fetch } = setup(async (req) => {
      const n = Number(new URL(req.url).pathname.slice(1));
      return n < 20 ? new Response(null, { status: 301, headers: { location: `/${n + 1}` } }) : new Response("arrived");
    });
    const r = await fetch(`${ORIGIN}/0`);
    expect(await r.text()).toBe("arrived");
    expect(fetch.stats().counters.redirects).toBe(20);
  });
});

describe("abort and timeouts", () => {
  it("an already aborted signal rejects with its reason", async () => {
    const { fetch, tcp } = setup(() => new Response("x"));
    const ac = new AbortController();
    ac.abort(new Error("mine"));
    await expect(fetch(`${ORIGIN}/`, { signal: ac.signal })).rejects.toThrow("mine");
    expect(tcp.total()).toBe(0);
  });

  it("aborting while waiting for the head rejects with an AbortError and closes the connection", async () => {
    const { fetch, server } = setup(() => new Promise<Response>(() => {}));
    const ac = new AbortController();
    const p = fetch(`${ORIGIN}/`, { signal: ac.signal });
    await flush();
    expect(server.connections).toBe(1);
    ac.abort();
    const e = await p.catch((x) => x);
    expect((e as DOMException).name).toBe("AbortError");
    await flush();
    expect(fetch.stats().counters.connections).toBe(0);
  });

  it("aborting while reading the body errors the body stream", async () => {
    const { fetch } = setup(() => new Response(new ReadableStream({ start: (c) => c.enqueue(latin1("part")) })));
    const ac = new AbortController();
    const r = await fetch(`${ORIGIN}/`, { signal: ac.signal });
    const reader = r.body!.getReader();
    expect(str((await reader.read()).value!)).toBe("part");
    ac.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: "AbortError" });
  });

  it("headersTimeoutMs, bodyTimeoutMs and timeoutMs reject with ETIMEDOUT as the cause", async () => {
    const stall = () => new Promise<Response>(() => {});
    const h = setup(stall, { headersTimeoutMs: 5000 });
    const p = h.fetch(`${ORIGIN}/`).catch((e) => e);
    await h.clock.advance(4999);
    await h.clock.advance(2);
    const e = await p;
    expect(e).toBeInstanceOf(TypeError);
    expect((e as TypeError).cause).toMatchObject({ code: "ETIMEDOUT" });

    const b = setup(() => new Response(new ReadableStream({ start: (c) => c.enqueue(latin1("x")) })), { bodyTimeoutMs: 3000 });
    const r = await b.fetch(`${ORIGIN}/`);
    const text = r.text().catch((x) => x);
    await b.clock.advance(3001);
    expect(((await text) as TypeError).cause).toMatchObject({ code: "ETIMEDOUT" });
    expect(b.fetch.stats().drops["body-timeout"]).toBe(1);

    const t = setup(stall, { timeoutMs: 1000 });
    const q = t.fetch(`${ORIGIN}/`).catch((x) => x);
    await t.clock.advance(1001);
    expect(((await q) as TypeError).cause).toMatchObject({ code: "ETIMEDOUT" });
    await t.clock.runUntilIdle();
  });

  it("the whole-request timeout does not fire after a completed fetch (no timer left)", async () => {
    const { fetch, clock } = setup(() => new Response("quick"), { timeoutMs: 1000 });
    expect(await (await fetch(`${ORIGIN}/`)).text()).toBe("quick");
    await fetch.close();
    await clock.advance(10_000);
    expect(fetch.stats().drops["request-timeout"]).toBeUndefined();
  });
});

describe("URLs, names and errors", () => {
  it("resolves names through the resolver; localhost without one; other names fail with ENOTFOUND", async () => {
    const clock = new VirtualClock();
    const server = createHttpServer({ clock, handler: echo });
    const tcp = memoryTcp({ "10.0.0.2:8080": (f) => void server.handleConnection(f), "127.0.0.1:80": (f) => void server.handleConnection(f) });
    const fetch = createFetch({ stack: { tcp }, clock, resolver: tableResolver({ "web.test": "10.0.0.2" }) });
    expect(((await (await fetch("http://web.test:8080/p")).json()) as { host: string }).host).toBe("web.test:8080");
    const bare = createFetch({ stack: { tcp }, clock });
    expect(((await (await bare("http://localhost/")).json()) as { host: string }).host).toBe("localhost");
    const e = await bare("http://nowhere.test/").catch((x) => x);
    expect((e as TypeError).cause).toMatchObject({ code: "ENOTFOUND" });
    const refused = await bare("http://10.9.9.9/").catch((x) => x);
    expect((refused as TypeError).cause).toMatchObject({ code: "ECONNREFUSED" });
  });

  it("refuses https: and other schemes with a TypeError", async () => {
    const { fetch, tcp } = setup(() => new Response("x"));
    await expect(fetch("https://10.0.0.2/")).rejects.toThrow(/TLS is out of scope/);
    await expect(fetch("ftp://10.0.0.2/")).rejects.toThrow(TypeError);
    await expect(fetch("not a url")).rejects.toThrow(TypeError);
    expect(tcp.total()).toBe(0);
  });

  describe("malformed responses are network errors (dns-http.md §2.5 class 11)", () => {
    const cases = classes["11. response side (our client)"]!;
    for (const c of cases) {
      it(c.name, async () => {
        const { fetch, tcp } = rawSetup(async (f) => {
          await readHead(f);
          await f.write(latin1(c.input)).catch(() => undefined);
          await f.close();
        });
        if (c.code === "HPE_CLOSED_CONNECTION") {
          // The client reads one response and never the bytes after it; the connection is not reused.
          const r = await fetch(`${ORIGIN}/`);
          expect(await r.text()).toBe("hi");
          await fetch(`${ORIGIN}/`).then((x) => x.text());
          expect(tcp.total()).toBe(2);
          return;
        }
        const e = await fetch(`${ORIGIN}/`).catch((x) => x);
        expect(e).toBeInstanceOf(TypeError);
        expect((e as TypeError).cause).toBeInstanceOf(HttpParseError);
        expect(((e as TypeError).cause as HttpParseError).httpCode).toBe(c.code);
      });
    }
  });

  it("a response larger than maxBodySize errors the body (413-class limit on the client)", async () => {
    const { fetch } = setup(() => new Response("x".repeat(1000)), { parserOptions: { maxBodySize: 100 } });
    const e = await fetch(`${ORIGIN}/`).catch((x) => x);
    expect((e as TypeError).cause).toMatchObject({ httpCode: "HPE_BODY_TOO_LARGE" });
  });

  it("the server closing mid-body errors the body stream", async () => {
    const { fetch } = rawSetup(async (f) => {
      await readHead(f);
      await f.write(latin1("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"));
      await f.close();
    });
    const r = await fetch(`${ORIGIN}/`);
    const e = await r.text().catch((x) => x);
    expect(e).toBeInstanceOf(TypeError);
    expect((e as TypeError).cause).toBeInstanceOf(MorganaError);
  });
});
