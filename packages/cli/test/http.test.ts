/**
 * `morgana http serve`: the static file server (content types, listings,
 * index.html, traversal policy, HEAD, Range, conditional GET), its exit
 * codes, a real process stopped with SIGTERM, and Debian's curl against it
 * (keep-alive reuse, Range) and against an upload handler (chunked upload).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, utimesSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer } from "@morgana/http";
import { systemClock } from "@morgana/sim";
import { createSocketStack } from "@morgana/unix-socket";
import { httpCommand, parseRange, pathSegments } from "../src/http.js";
import { toolIt } from "./tools.js";

const stack = createSocketStack({ addresses: ["127.0.0.1"] });
const tmp = mkdtempSync(path.join(tmpdir(), "morgana-serve-"));
const root = path.join(tmp, "root");
const outside = path.join(tmp, "outside");
const DATA = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) & 0xff));
const WEIRD = `we<i>rd & "quoted" 'name'.txt`;
const MTIME = new Date("2025-06-01T12:00:00Z");

beforeAll(() => {
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(path.join(outside, "secret.txt"), "secret outside the root\n");
  writeFileSync(path.join(root, "hello.txt"), "hello\n");
  writeFileSync(path.join(root, "data.bin"), DATA);
  for (const f of ["page.html", "style.css", "app.js", "img.png", "unknown.xyz", "doc.json", "pic.svg"]) writeFileSync(path.join(root, f), `content of ${f}`);
  writeFileSync(path.join(root, WEIRD), "weird\n");
  mkdirSync(path.join(root, "sub"));
  writeFileSync(path.join(root, "sub", "inner.txt"), "inner\n");
  mkdirSync(path.join(root, "withindex"));
  writeFileSync(path.join(root, "withindex", "index.html"), "<h1>index</h1>");
  symlinkSync(path.join(root, "hello.txt"), path.join(root, "link-in"));
  symlinkSync(path.join(outside, "secret.txt"), path.join(root, "link-out"));
  symlinkSync(outside, path.join(root, "dir-out"));
  utimesSync(path.join(root, "data.bin"), MTIME, MTIME);
});
afterAll(async () => {
  await stack.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface Served {
  port: number;
  out: string[];
  err: string[];
  stop(): Promise<number>;
}

async function serve(args: string[] = []): Promise<Served> {
  const ac = new AbortController();
  const out: string[] = [];
  const err: string[] = [];
  let listening!: (p: number) => void;
  const port = new Promise<number>((r) => (listening = r));
  const done = httpCommand(["serve", root, "--port", "0", "--address", "127.0.0.1", ...args], { out: (l) => out.push(l), err: (l) => err.push(l) }, {
    signal: ac.signal,
    stack,
    handleSignals: false,
    onListening: (_a, p) => listening(p),
  });
  const p = await Promise.race([port, done.then((code) => Promise.reject(new Error(`exited ${code}: ${err.join("\n")}`)))]);
  return {
    port: p,
    out,
    err,
    stop: () => {
      ac.abort();
      return done;
    },
  };
}

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** node:http as an independent client; `target` is sent as written. */
function get(port: number, target: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: target, method: opts.method ?? "GET", headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("morgana http serve", () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve();
  });
  afterAll(async () => {
    expect(await s.stop()).toBe(0);
  });

  it("prints where it listens, like python3 -m http.server", () => {
    expect(s.out).toEqual([`Serving HTTP on 127.0.0.1 port ${s.port} (http://127.0.0.1:${s.port}/) ...`]);
  });

  it("serves files with content types from the extension table, length, validators", async () => {
    const want: Record<string, string> = {
      "page.html": "text/html; charset=utf-8",
      "style.css": "text/css; charset=utf-8",
      "app.js": "text/javascript; charset=utf-8",
      "img.png": "image/png",
      "doc.json": "application/json",
      "pic.svg": "image/svg+xml",
      "hello.txt": "text/plain; charset=utf-8",
      "unknown.xyz": "application/octet-stream",
    };
    for (const [f, type] of Object.entries(want)) {
      const r = await get(s.port, `/${f}`);
      expect(r.status, f).toBe(200);
      expect(r.headers["content-type"], f).toBe(type);
      expect(r.headers["content-length"]).toBe(String(r.body.length));
    }
    const d = await get(s.port, "/data.bin");
    expect(d.body.equals(DATA)).toBe(true);
    expect(d.headers["last-modified"]).toBe(MTIME.toUTCString());
    expect(d.headers["accept-ranges"]).toBe("bytes");
    expect(d.headers.etag).toMatch(/^W\/"3e8-[0-9a-f]+"$/);
    expect(d.headers.server).toBe("morgana");
    expect(s.err.some((l) => /"GET \/data\.bin HTTP\/1\.1" 200 1000$/.test(l))).toBe(true);
  });

  it("lists directories with escaped names, redirects to the trailing slash, serves index.html", async () => {
    const r = await get(s.port, "/");
    expect(r.status).toBe(200);
    const html = r.body.toString();
    expect(html).toContain("<title>Directory listing for /</title>");
    expect(html).toContain('<li><a href="sub/">sub/</a></li>');
    expect(html).toContain(`<a href="we%3Ci%3Erd%20%26%20%22quoted%22%20&#39;name&#39;.txt">we&lt;i&gt;rd &amp; &quot;quoted&quot; &#39;name&#39;.txt</a>`);
    expect(html).not.toContain("<i>");
    // Directories first.
    expect(html.indexOf("sub/")).toBeLessThan(html.indexOf("hello.txt"));
    const redirect = await get(s.port, "/sub?x=1");
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe("/sub/?x=1");
    const sub = await get(s.port, "/sub/");
    expect(sub.body.toString()).toContain('href="inner.txt"');
    const idx = await get(s.port, "/withindex/");
    expect(idx.body.toString()).toBe("<h1>index</h1>");
    expect(idx.headers["content-type"]).toBe("text/html; charset=utf-8");
    const weird = await get(s.port, "/" + encodeURIComponent(WEIRD));
    expect(weird.body.toString()).toBe("weird\n");
  });

  it("blocks path traversal: dot-dot is resolved inside DIR, encoded slashes and NUL are 400, symlinks out are 403", async () => {
    const cases: Array<[string, number]> = [
      ["/../../../../../../etc/passwd", 404],
      ["/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 404],
      ["/..%2f..%2f..%2f..%2fetc%2fpasswd", 400],
      ["/sub/..%2f..%2foutside%2fsecret.txt", 400],
      ["/sub/..%5c..%5chello.txt", 400],
      ["/hello.txt%00.png", 400],
      ["/%E0%A4%A", 400],
      ["/link-out", 403],
      ["/dir-out/secret.txt", 403],
      ["/dir-out/", 403],
      ["/missing.txt", 404],
    ];
    for (const [target, status] of cases) {
      const r = await get(s.port, target);
      expect(r.status, target).toBe(status);
      expect(r.body.toString(), target).not.toContain("secret");
      expect(r.body.toString(), target).not.toContain("root:");
    }
    const inside = await get(s.port, "/link-in");
    expect([inside.status, inside.body.toString()]).toEqual([200, "hello\n"]);
    const dotted = await get(s.port, "/sub/../hello.txt");
    expect([dotted.status, dotted.body.toString()]).toEqual([200, "hello\n"]);
  });

  it("HEAD gives the headers without a body; other methods get 405", async () => {
    const h = await get(s.port, "/data.bin", { method: "HEAD" });
    expect(h.status).toBe(200);
    expect(h.headers["content-length"]).toBe("1000");
    expect(h.body.length).toBe(0);
    const p = await get(s.port, "/data.bin", { method: "POST" });
    expect(p.status).toBe(405);
    expect(p.headers.allow).toBe("GET, HEAD");
  });

  it("Range: one range is 206 with Content-Range; unsatisfiable is 416; several ranges or garbage give the whole file", async () => {
    const r = await get(s.port, "/data.bin", { headers: { range: "bytes=0-99" } });
    expect(r.status).toBe(206);
    expect(r.headers["content-range"]).toBe("bytes 0-99/1000");
    expect(r.body.equals(DATA.subarray(0, 100))).toBe(true);
    const suffix = await get(s.port, "/data.bin", { headers: { range: "bytes=-10" } });
    expect([suffix.status, suffix.headers["content-range"]]).toEqual([206, "bytes 990-999/1000"]);
    expect(suffix.body.equals(DATA.subarray(990))).toBe(true);
    const open = await get(s.port, "/data.bin", { headers: { range: "bytes=995-" } });
    expect(open.body.equals(DATA.subarray(995))).toBe(true);
    const clamp = await get(s.port, "/data.bin", { headers: { range: "bytes=900-5000" } });
    expect(clamp.headers["content-range"]).toBe("bytes 900-999/1000");
    const bad = await get(s.port, "/data.bin", { headers: { range: "bytes=1000-" } });
    expect([bad.status, bad.headers["content-range"]]).toEqual([416, "bytes */1000"]);
    const multi = await get(s.port, "/data.bin", { headers: { range: "bytes=0-1,5-6" } });
    expect([multi.status, multi.body.length]).toEqual([200, 1000]);
    const junk = await get(s.port, "/data.bin", { headers: { range: "lines=1-2" } });
    expect(junk.status).toBe(200);
    const ifRange = await get(s.port, "/data.bin", { headers: { range: "bytes=0-9", "if-range": '"other"' } });
    expect([ifRange.status, ifRange.body.length]).toEqual([200, 1000]);
    const headRange = await get(s.port, "/data.bin", { method: "HEAD", headers: { range: "bytes=10-19" } });
    expect([headRange.status, headRange.headers["content-length"]]).toEqual([206, "10"]);
  });

  it("answers conditional GETs with 304", async () => {
    const first = await get(s.port, "/data.bin");
    const etag = first.headers.etag!;
    const a = await get(s.port, "/data.bin", { headers: { "if-none-match": etag } });
    expect([a.status, a.body.length]).toEqual([304, 0]);
    const b = await get(s.port, "/data.bin", { headers: { "if-modified-since": new Date(MTIME.getTime() + 1000).toUTCString() } });
    expect(b.status).toBe(304);
    const c = await get(s.port, "/data.bin", { headers: { "if-modified-since": new Date(MTIME.getTime() - 1000).toUTCString() } });
    expect(c.status).toBe(200);
    const d = await get(s.port, "/data.bin", { headers: { "if-none-match": '"nope"', "if-modified-since": new Date(MTIME.getTime() + 1000).toUTCString() } });
    expect(d.status).toBe(200);
  });
});

describe("helpers", () => {
  it("parseRange", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual([0, 99]);
    expect(parseRange("bytes=-100", 1000)).toEqual([900, 999]);
    expect(parseRange("bytes=-2000", 1000)).toEqual([0, 999]);
    expect(parseRange("bytes=500-", 1000)).toEqual([500, 999]);
    expect(parseRange("bytes=1000-1001", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=5-1", 1000)).toBe(null);
    expect(parseRange("bytes=0-1,3-4", 1000)).toBe(null);
    expect(parseRange("bytes=x-y", 1000)).toBe(null);
    expect(parseRange("items=0-1", 1000)).toBe(null);
  });

  it("pathSegments", () => {
    expect(pathSegments("/a/b%20c/")).toEqual(["a", "b c"]);
    expect(pathSegments("/a%2fb")).toBe(null);
    expect(pathSegments("/%2e%2e")).toBe(null);
    expect(pathSegments("/%")).toBe(null);
  });
});

describe("exit codes", () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  };

  it("usage errors are 2, a missing directory or a port in use is 1", async () => {
    const a = io();
    expect(await httpCommand([], a.io)).toBe(2);
    expect(await httpCommand(["serve"], a.io)).toBe(2);
    expect(await httpCommand(["serve", root, "--port", "99999"], a.io)).toBe(2);
    expect(await httpCommand(["serve", root, "--frobnicate"], a.io)).toBe(2);
    expect(await httpCommand(["bogus"], a.io)).toBe(2);
    expect(await httpCommand(["serve", path.join(tmp, "nope")], a.io)).toBe(1);
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    const b = io();
    expect(await httpCommand(["serve", root, "--port", String(port), "--address", "127.0.0.1"], b.io, { stack, handleSignals: false })).toBe(1);
    expect(b.err.join("\n")).toMatch(/cannot listen on 127\.0\.0\.1:\d+/);
    busy.close();
  });

  it("a real process: serves, and exits 0 on SIGTERM after a graceful shutdown", async () => {
    const repo = fileURLToPath(new URL("../../../", import.meta.url));
    const child = spawn(process.execPath, [path.join(repo, "scripts/run-ts.mjs"), fileURLToPath(new URL("./fixtures/http-serve-main.ts", import.meta.url)), "serve", root, "--port", "0", "--address", "127.0.0.1"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no listening line: ${out} ${err}`)), 30_000);
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /port (\d+) /.exec(out);
        if (m !== null) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
    });
    const r = await get(port, "/hello.txt");
    expect(r.body.toString()).toBe("hello\n");
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(err).toContain("shutting down");
  }, 60_000);
});

/** Runs a command without blocking the event loop (the server under test runs in this process). */
function run(cmd: string, args: string[], input?: Uint8Array): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    const t = setTimeout(() => c.kill("SIGKILL"), 30_000);
    c.stdout.on("data", (d: Buffer) => out.push(d));
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.on("error", reject);
    c.on("exit", (code) => {
      clearTimeout(t);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
    c.stdin.end(input);
  });
}

describe("curl against morgana http serve (loopback)", () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve(["--quiet"]);
  });
  afterAll(async () => {
    await s.stop();
  });

  toolIt(["curl"], "keep-alive: two URLs on one command line re-use the connection", async () => {
    const r = await run("curl", ["-sv", `http://127.0.0.1:${s.port}/hello.txt`, `http://127.0.0.1:${s.port}/sub/inner.txt`]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe("hello\ninner\n");
    expect(r.stderr).toMatch(/Re-using existing connection/);
  });

  toolIt(["curl"], "Range: curl -r 0-99 gets the first 100 bytes with a 206", async () => {
    const r = await run("curl", ["-s", "-D", "-", "-r", "0-99", `http://127.0.0.1:${s.port}/data.bin`]);
    expect(r.code).toBe(0);
    const split = r.stdout.indexOf("\r\n\r\n") + 4;
    expect(Buffer.compare(r.stdout.subarray(split), DATA.subarray(0, 100))).toBe(0);
    const headers = r.stdout.subarray(0, split).toString("latin1");
    expect(headers).toMatch(/^HTTP\/1\.1 206 Partial Content\r\n/);
    expect(headers).toMatch(/content-range: bytes 0-99\/1000\r\n/i);
  });

  toolIt(["curl"], "HEAD (curl -I) and a 404", async () => {
    const h = await run("curl", ["-sI", `http://127.0.0.1:${s.port}/data.bin`]);
    expect(h.stdout.toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(h.stdout.toString()).toMatch(/content-length: 1000\r\n/i);
    const n = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${s.port}/nope`]);
    expect(n.stdout.toString()).toBe("404");
  });
});

describe("curl against an upload handler on @morgana/http (loopback)", () => {
  toolIt(["curl"], "chunked upload: curl -T - with Transfer-Encoding: chunked is streamed to the handler", async () => {
    const server = createHttpServer({
      clock: systemClock,
      handler: async (req) => {
        const h = createHash("sha256");
        let bytes = 0;
        let chunks = 0;
        for await (const c of req.body as unknown as AsyncIterable<Uint8Array>) {
          h.update(c);
          bytes += c.length;
          chunks++;
        }
        return new Response(`${req.method} ${req.headers.get("transfer-encoding")} ${bytes} ${chunks > 1 ? "streamed" : "one-chunk"} ${h.digest("hex")}\n`);
      },
    });
    const l = await server.listen(stack.tcp, { port: 0, address: "127.0.0.1" });
    const data = Buffer.alloc(2_000_000).map((_, i) => (i * 7) & 0xff);
    const r = await run("curl", ["-s", "-T", "-", "-H", "Transfer-Encoding: chunked", `http://127.0.0.1:${l.local.port}/upload`], data);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe(`PUT chunked 2000000 streamed ${createHash("sha256").update(data).digest("hex")}\n`);
    await server.close();
  });
});
