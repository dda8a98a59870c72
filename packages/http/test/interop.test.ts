/**
 * Interoperability on the host's loopback (the unix-socket stack): our fetch
 * client against `python3 -m http.server` and `node:http`, and raw
 * `node:net` peers for the cases a real server does not produce on demand
 * (close-delimited bodies, a stale keep-alive connection); our server against
 * the `node:http` client (keep-alive agent, chunked upload) and a raw socket
 * (pipelining). Real sockets, real time (systemClock).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock, VirtualClock } from "@morgana/sim";
import { createSocketStack } from "@morgana/unix-socket";
import { createFetch, createHttpServer, type FetchOptions, type HttpFetch } from "../src/index.js";

/**
 * A suite that needs a system tool: skipped with the reason in its name when
 * the tool is missing, failing instead under MORGANA_REQUIRE_TOOLS=1 (CI).
 */
function describeTool(tool: string, name: string, fn: () => void): void {
  const found = (process.env.PATH ?? "").split(path.delimiter).some((d) => d !== "" && existsSync(path.join(d, tool)));
  if (found) describe(name, fn);
  else if (process.env.MORGANA_REQUIRE_TOOLS === "1") {
    describe(name, () => {
      it(`needs ${tool}`, () => {
        throw new Error(`MORGANA_REQUIRE_TOOLS=1 but ${tool} is not on PATH`);
      });
    });
  } else {
    console.warn(`skipping "${name}": ${tool} not found (set MORGANA_REQUIRE_TOOLS=1 to make this a failure)`);
    describe.skip(`${name} [skipped: ${tool} not found]`, fn);
  }
}

const stack = createSocketStack({ addresses: ["127.0.0.1"] });
afterAll(() => stack.close());

function newFetch(opts: Partial<FetchOptions> = {}): HttpFetch {
  return createFetch({ stack, clock: systemClock, ...opts });
}

function listen(server: http.Server | net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
}

function closeServer(server: http.Server | net.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  return new Promise((r) => server.close(() => r()));
}

describeTool("python3", "fetch against python3 -m http.server", () => {
  let dir = "";
  let child: ChildProcess | null = null;
  let base = "";
  const big = Buffer.alloc(300_000, 0).map((_, i) => (i * 7) & 0xff);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "morgana-py-"));
    writeFileSync(path.join(dir, "hello.txt"), "hello from python\n");
    writeFileSync(path.join(dir, "big.bin"), big);
    mkdirSync(path.join(dir, "sub"));
    writeFileSync(path.join(dir, "sub", "inner.html"), "<p>inner</p>");
    child = spawn("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir], { stdio: ["ignore", "pipe", "pipe"] });
    base = await new Promise<string>((resolve, reject) => {
      let out = "";
      const t = setTimeout(() => reject(new Error(`python3 http.server did not start: ${out}`)), 15_000);
      child!.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /port (\d+)/.exec(out);
        if (m !== null) {
          clearTimeout(t);
          resolve(`http://127.0.0.1:${m[1]}`);
        }
      });
      child!.on("exit", (code) => reject(new Error(`python3 exited ${code}: ${out}`)));
    });
  }, 30_000);

  afterAll(() => {
    child?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("GETs a file (HTTP/1.0 response with Content-Length; no reuse), a large file, HEAD, 404", async () => {
    const fetch = newFetch();
    const r = await fetch(`${base}/hello.txt`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain");
    expect(await r.text()).toBe("hello from python\n");
    const b = await fetch(`${base}/big.bin`);
    expect(Buffer.from(await b.arrayBuffer()).equals(big)).toBe(true);
    const h = await fetch(`${base}/big.bin`, { method: "HEAD" });
    expect(h.headers.get("content-length")).toBe(String(big.length));
    expect(h.body).toBe(null);
    const nf = await fetch(`${base}/missing`);
    expect(nf.status).toBe(404);
    expect(await nf.text()).toContain("File not found");
    // python3's server speaks HTTP/1.0 and closes after every response: four connections.
    expect(fetch.stats().counters).toMatchObject({ connectionsOpened: 4, reusedRequests: 0 });
    await fetch.close();
  });

  it("follows its 301 from /sub to /sub/ and reads the directory listing", async () => {
    const fetch = newFetch();
    const r = await fetch(`${base}/sub`);
    expect(r.redirected).toBe(true);
    expect(r.url).toBe(`${base}/sub/`);
    const html = await r.text();
    expect(html).toContain("Directory listing for /sub/");
    expect(html).toContain('href="inner.html"');
    await fetch.close();
  });
});

describe("fetch against node:http", () => {
  it("reads chunked bodies and reuses one keep-alive connection", async () => {
    let connections = 0;
    const server = http.createServer((req, res) => {
      res.write("chunk one, ");
      setTimeout(() => res.end(`chunk two for ${req.url}`), 5);
    });
    server.on("connection", () => connections++);
    const port = await listen(server);
    const fetch = newFetch();
    for (const p of ["/a", "/b", "/c"]) {
      const r = await fetch(`http://127.0.0.1:${port}${p}`);
      expect(r.headers.get("transfer-encoding")).toBe("chunked");
      expect(await r.text()).toBe(`chunk one, chunk two for ${p}`);
    }
    expect(connections).toBe(1);
    expect(fetch.stats().counters.reusedRequests).toBe(2);
    await fetch.close();
    await closeServer(server);
  });

  it("uploads a streamed body chunked and a large buffer with Content-Length", async () => {
    const seen: Array<{ te: string | undefined; cl: string | undefined; sha: string }> = [];
    const server = http.createServer((req, res) => {
      const h = createHash("sha256");
      req.on("data", (d: Buffer) => h.update(d));
      req.on("end", () => {
        seen.push({ te: req.headers["transfer-encoding"], cl: req.headers["content-length"], sha: h.digest("hex") });
        res.end("ok");
      });
    });
    const port = await listen(server);
    const fetch = newFetch();
    const data = new Uint8Array(5_000_000).map((_, i) => (i * 13) & 0xff);
    const sha = createHash("sha256").update(data).digest("hex");
    let off = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (off >= data.length) return c.close();
        c.enqueue(data.slice(off, off + 100_000));
        off += 100_000;
      },
    });
    await (await fetch(`http://127.0.0.1:${port}/s`, { method: "POST", body: stream, duplex: "half" } as RequestInit)).text();
    await (await fetch(`http://127.0.0.1:${port}/b`, { method: "PUT", body: data })).text();
    expect(seen).toEqual([
      { te: "chunked", cl: undefined, sha },
      { te: undefined, cl: "5000000", sha },
    ]);
    await fetch.close();
    await closeServer(server);
  });

  it("streams a 20 MB response as it is produced", async () => {
    const CH = 64 * 1024;
    const N = 320;
    let produced = 0;
    const server = http.createServer((_req, res) => {
      const write = (): void => {
        while (produced < N) {
          const ok = res.write(Buffer.alloc(CH, produced & 0xff));
          produced++;
          if (!ok) return void res.once("drain", write);
        }
        res.end();
      };
      write();
    });
    const port = await listen(server);
    const fetch = newFetch();
    const r = await fetch(`http://127.0.0.1:${port}/`);
    const reader = r.body!.getReader();
    const first = await reader.read();
    // The first bytes arrive long before the server finished (it is held back by TCP).
    expect(produced).toBeLessThan(N);
    let total = first.value!.length;
    for (;;) {
      const x = await reader.read();
      if (x.done) break;
      total += x.value.length;
    }
    expect(total).toBe(CH * N);
    await fetch.close();
    await closeServer(server);
  });

  it("strips Authorization on a redirect to another origin (another port), keeps it on the same", async () => {
    const auth: Array<string | undefined> = [];
    const b = http.createServer((req, res) => {
      auth.push(req.headers.authorization);
      res.end("at b");
    });
    const portB = await listen(b);
    const a = http.createServer((req, res) => {
      if (req.url === "/same") return void res.writeHead(302, { location: "/there" }).end();
      if (req.url === "/there") {
        auth.push(req.headers.authorization);
        return void res.end("at a");
      }
      res.writeHead(307, { location: `http://127.0.0.1:${portB}/x` }).end();
    });
    const portA = await listen(a);
    const fetch = newFetch();
    expect(await (await fetch(`http://127.0.0.1:${portA}/same`, { headers: { authorization: "Basic xyz" } })).text()).toBe("at a");
    expect(await (await fetch(`http://127.0.0.1:${portA}/cross`, { headers: { authorization: "Basic xyz" } })).text()).toBe("at b");
    expect(auth).toEqual(["Basic xyz", undefined]);
    await fetch.close();
    await closeServer(a);
    await closeServer(b);
  });

  it("aborts and times out (real clock)", async () => {
    const server = http.createServer(() => {
      /* never answers */
    });
    const port = await listen(server);
    const fetch = newFetch({ headersTimeoutMs: 300 });
    const t0 = performance.now();
    const e = await fetch(`http://127.0.0.1:${port}/`).catch((x) => x);
    expect((e as TypeError).cause).toMatchObject({ code: "ETIMEDOUT" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const a = await newFetch()(`http://127.0.0.1:${port}/`, { signal: ac.signal }).catch((x) => x);
    expect((a as DOMException).name).toBe("AbortError");
    await fetch.close();
    await closeServer(server);
  });
});

describe("fetch against raw node:net peers", () => {
  it("reads a close-delimited body and does not reuse the connection", async () => {
    let conns = 0;
    const server = net.createServer((s) => {
      conns++;
      s.once("data", () => s.end("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close"));
    });
    const port = await listen(server);
    const fetch = newFetch();
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("body until close");
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("body until close");
    expect(conns).toBe(2);
    await fetch.close();
    await closeServer(server);
  });

  it("retries a GET once on a stale keep-alive connection (closed on the next request, before any byte)", async () => {
    let conns = 0;
    const server = net.createServer((s) => {
      conns++;
      let n = 0;
      s.on("data", () => {
        if (n++ === 0) s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        else s.destroy(); // the race a keep-alive client must survive
      });
    });
    const port = await listen(server);
    const fetch = newFetch();
    expect(await (await fetch(`http://127.0.0.1:${port}/1`)).text()).toBe("ok");
    expect(await (await fetch(`http://127.0.0.1:${port}/2`)).text()).toBe("ok");
    expect(fetch.stats().counters.retries).toBe(1);
    expect(conns).toBe(2);
    await fetch.close();
    await closeServer(server);
  });
});

describe("our server on the unix-socket stack", () => {
  it("serves node:http's keep-alive agent on one socket, and a chunked upload streamed to the handler", async () => {
    const server = createHttpServer({
      clock: systemClock,
      handler: async (req) => {
        if (req.method === "POST") {
          const h = createHash("sha256");
          let n = 0;
          for await (const c of req.body as unknown as AsyncIterable<Uint8Array>) {
            h.update(c);
            n++;
          }
          return new Response(`${h.digest("hex")} ${n > 1 ? "streamed" : "single"} ${req.headers.get("transfer-encoding")}`);
        }
        return new Response(`hi ${new URL(req.url).pathname}`);
      },
    });
    const l = await server.listen(stack.tcp, { port: 0, address: "127.0.0.1" });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (p: string) =>
      new Promise<{ body: string; reused: boolean }>((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port: l.local.port, path: p, agent }, (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve({ body, reused: req.reusedSocket }));
        });
        req.on("error", reject);
      });
    expect(await get("/1")).toEqual({ body: "hi /1", reused: false });
    expect(await get("/2")).toEqual({ body: "hi /2", reused: true });
    expect(await get("/3")).toEqual({ body: "hi /3", reused: true });
    const data = Buffer.alloc(3_000_000, 7);
    const up = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: l.local.port, path: "/up", method: "POST", agent }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve(body));
      });
      req.on("error", reject);
      for (let i = 0; i < 30; i++) req.write(data.subarray(i * 100_000, (i + 1) * 100_000));
      req.end();
    });
    expect(up).toBe(`${createHash("sha256").update(data).digest("hex")} streamed chunked`);
    expect(server.stats().counters.connectionsAccepted).toBe(1);
    agent.destroy();
    await server.close();
  });

  it("answers pipelined requests from a raw socket in order", async () => {
    const server = createHttpServer({
      clock: systemClock,
      handler: async (req) => {
        const p = new URL(req.url).pathname;
        if (p === "/slow") await new Promise((r) => setTimeout(r, 50));
        return new Response(p);
      },
    });
    const l = await server.listen(stack.tcp, { port: 0, address: "127.0.0.1" });
    const text = await new Promise<string>((resolve, reject) => {
      const s = net.connect(l.local.port, "127.0.0.1", () => {
        s.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      });
      let out = "";
      s.on("data", (d: Buffer) => (out += d.toString("latin1")));
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    const bodies = text.split(/HTTP\/1\.1 200 OK\r\n/).slice(1).map((r) => r.slice(r.indexOf("\r\n\r\n") + 4));
    expect(bodies).toEqual(["/slow", "/fast", "/last"]);
    await server.close();
  });

  it("our fetch against our server: keep-alive, echo of 8 MB streamed both ways", async () => {
    const server = createHttpServer({ clock: systemClock, handler: (req) => new Response(req.method === "POST" ? req.body : "pong") });
    const l = await server.listen(stack.tcp, { port: 0, address: "127.0.0.1" });
    const fetch = newFetch();
    const base = `http://127.0.0.1:${l.local.port}`;
    expect(await (await fetch(`${base}/`)).text()).toBe("pong");
    const data = new Uint8Array(8_000_000).map((_, i) => (i * 31) & 0xff);
    const r = await fetch(`${base}/echo`, { method: "POST", body: new Blob([data]).stream(), duplex: "half" } as RequestInit);
    const got = new Uint8Array(await r.arrayBuffer());
    expect(Buffer.compare(got, data)).toBe(0);
    expect(await (await fetch(`${base}/`)).text()).toBe("pong");
    expect(fetch.stats().counters.connectionsOpened).toBe(1);
    await fetch.close();
    await server.close();
  });

  it("slow loris, the connection cap and graceful shutdown on real sockets (server timers on a VirtualClock)", async () => {
    const clock = new VirtualClock({ epochMs: Date.UTC(2026, 0, 1) });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const server = createHttpServer({
      clock,
      maxConnections: 2,
      headersTimeoutMs: 10_000,
      handler: async (req) => {
        if (new URL(req.url).pathname === "/slow") await gate;
        return new Response("ok");
      },
    });
    const l = await server.listen(stack.tcp, { port: 0, address: "127.0.0.1" });
    const open = (): Promise<{ s: net.Socket; text: () => string; ended: Promise<void> }> =>
      new Promise((resolve) => {
        const s = net.connect(l.local.port, "127.0.0.1");
        let out = "";
        s.on("data", (d: Buffer) => (out += d.toString("latin1")));
        s.on("error", () => undefined);
        const ended = new Promise<void>((r) => s.on("close", () => r()));
        s.on("connect", () => resolve({ s, text: () => out, ended }));
      });
    const until = async (cond: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
      expect(cond(), what).toBe(true);
    };
    // Slow loris: half a header section, then silence; at the deadline: 408 and close.
    const loris = await open();
    loris.s.write("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    await until(() => server.connections === 1, "accepted");
    await new Promise((r) => setTimeout(r, 100)); // the bytes reach the server
    const t0 = clock.now();
    let at = -1;
    for (let i = 0; i < 30 && at < 0; i++) {
      await clock.advance(1000);
      for (let k = 0; k < 20 && loris.text() === ""; k++) await new Promise((r) => setTimeout(r, 5));
      if (loris.text() !== "") at = clock.now() - t0;
    }
    // Cut off 10 s (virtual) after the first byte, not at the 5 s idle timeout.
    expect(at).toBe(10_000);
    expect(loris.text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    loris.s.end();
    await loris.ended;
    await until(() => server.connections === 0, "step 3");
    // The cap: two connections served, a third gets 503.
    const a = await open();
    const b = await open();
    a.s.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => server.connections === 2, "step 4");
    const c = await open();
    await until(() => c.text().length > 0, "step 5");
    expect(c.text()).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    c.s.end();
    // Graceful shutdown: the idle one closes, the in-flight one finishes with Connection: close.
    const closing = server.close();
    await b.ended;
    expect(b.text()).toBe("");
    release();
    await a.ended;
    expect(a.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n\r\nok$/);
    await closing;
    expect(server.connections).toBe(0);
  });
});
