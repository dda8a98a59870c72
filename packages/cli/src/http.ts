/**
 * `morgana http serve DIR [--port N] [--address A]`: serves a directory over
 * HTTP on the host's sockets (the unix-socket stack) with @morgana/http's
 * server, like `python3 -m http.server`, until SIGINT or SIGTERM (graceful
 * shutdown, exit 0).
 *
 * Policy (what is served and what is refused):
 * - GET and HEAD; other methods get 405 with `Allow: GET, HEAD`.
 * - The URL path is split into segments, each percent-decoded on its own. A
 *   segment that decodes to `.`/`..` or contains `/`, `\` or NUL (an encoded
 *   slash or dot-dot), or an invalid percent-encoding, is answered 400. (Plain
 *   `..` segments never reach the handler: URL parsing resolves them, so
 *   `/../x` is `/x`, inside DIR.)
 * - The file is looked up under DIR; its real path (symlinks resolved) must
 *   be DIR's real path or inside it, otherwise 403: symlinks inside DIR are
 *   followed, symlinks that lead out of DIR are refused. Missing: 404.
 *   Neither regular file nor directory (a socket, a FIFO, a device): 403.
 * - A directory without a trailing slash is redirected (301) to the path with
 *   one; with it, its `index.html` is served if present, otherwise an HTML
 *   listing (names HTML-escaped, links percent-encoded), directories first.
 * - Files: `Content-Type` from a built-in table of extensions (else
 *   `application/octet-stream`), `Content-Length`, `Last-Modified`, a weak
 *   `ETag` (size and mtime), `Accept-Ranges: bytes`. Conditional GET:
 *   `If-None-Match` (then `If-Modified-Since`) answered 304.
 * - `Range: bytes=...` with one range: 206 with `Content-Range`; a range that
 *   cannot be satisfied: 416 with a `Content-Range` of `*` and the size. Several
 *   ranges are answered with the whole file (200), which RFC 9110 §14.2
 *   allows; a malformed Range is ignored (200). `If-Range` with a validator
 *   that does not match gives the whole file.
 * - One log line per request on stderr (like python3), unless `--quiet`.
 */
import { open, realpath, stat, readdir } from "node:fs/promises";
import path from "node:path";
import type { Stack } from "@morgana/interfaces";
import { createHttpServer, httpDate, type HttpRequestInfo } from "@morgana/http";
import { systemClock } from "@morgana/sim";
import { createSocketStack } from "@morgana/unix-socket";
import type { Io } from "./main.js";

export const HTTP_USAGE = `usage: morgana http serve DIR [--port N] [--address A] [--quiet]

  Serves DIR over HTTP/1.1 on the host (default port 8000, address 0.0.0.0)
  until interrupted (SIGINT/SIGTERM: graceful shutdown).`;

/** Extras for embedding and tests. */
export interface HttpCommandOptions {
  /** Stops the server like SIGINT does. */
  readonly signal?: AbortSignal;
  /** The stack to listen on; default a new unix-socket stack (closed on exit). */
  readonly stack?: Stack;
  /** Called once listening, with the bound address and port. */
  readonly onListening?: (address: string, port: number) => void;
  /** Install SIGINT/SIGTERM handlers (default true). */
  readonly handleSignals?: boolean;
}

/** Content types by extension (lower case, without the dot). */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  map: "application/json",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/vnd.microsoft.icon",
  bmp: "image/bmp",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  wasm: "application/wasm",
  mp3: "audio/mpeg",
  wav: "audio/wav",
  ogg: "audio/ogg",
  mp4: "video/mp4",
  webm: "video/webm",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  pcap: "application/vnd.tcpdump.pcap",
};

export function contentTypeFor(file: string): string {
  const ext = path.extname(file).slice(1).toLowerCase();
  return CONTENT_TYPES[ext] ?? "application/octet-stream";
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/**
 * Parses a Range field for a representation of `size` bytes: a single
 * satisfiable range as `[start, end]` (inclusive), `"unsatisfiable"`, or
 * `null` (absent, malformed, several ranges: serve the whole file).
 */
export function parseRange(value: string, size: number): [number, number] | "unsatisfiable" | null {
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(value);
  if (m === null) return null;
  const specs = m[1]!.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (specs.length !== 1) return null;
  const r = /^(\d*)-(\d*)$/.exec(specs[0]!);
  if (r === null || (r[1] === "" && r[2] === "")) return null;
  if (r[1] === "") {
    const n = Number(r[2]);
    if (n === 0 || size === 0) return "unsatisfiable";
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(r[1]);
  const end = r[2] === "" ? size - 1 : Math.min(Number(r[2]), size - 1);
  if (r[2] !== "" && Number(r[2]) < start) return null; // invalid: ignored
  if (start >= size) return "unsatisfiable";
  return [start, end];
}

/** Percent-decodes path segments; null when a segment is malformed or would change the path's structure. */
export function pathSegments(pathname: string): string[] | null {
  const out: string[] = [];
  for (const raw of pathname.split("/")) {
    if (raw === "") continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (seg === "." || seg === ".." || /[/\\\0]/.test(seg)) return null;
    out.push(seg);
  }
  return out;
}

function text(status: number, body: string, extra: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...extra } });
}

/** The request handler of `http serve`: serves `root` (a directory) read-only. */
export async function createStaticHandler(root: string): Promise<(req: Request, info: HttpRequestInfo) => Promise<Response>> {
  const rootReal = await realpath(root);
  const inside = (p: string): boolean => p === rootReal || p.startsWith(rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep);

  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") return text(405, "405 Method Not Allowed\n", { allow: "GET, HEAD" });
    const url = new URL(req.url);
    const segs = pathSegments(url.pathname);
    if (segs === null) return text(400, "400 Bad Request\n");
    const target = path.join(rootReal, ...segs);
    let real: string;
    try {
      real = await realpath(target);
    } catch {
      return text(404, "404 Not Found\n");
    }
    if (!inside(real)) return text(403, "403 Forbidden\n");
    let st = await stat(real).catch(() => null);
    if (st === null) return text(404, "404 Not Found\n");
    let file = real;
    if (st.isDirectory()) {
      if (!url.pathname.endsWith("/")) return new Response(null, { status: 301, headers: { location: url.pathname + "/" + url.search } });
      const index = path.join(real, "index.html");
      const ist = await stat(index).catch(() => null);
      if (ist !== null && ist.isFile()) {
        file = index;
        st = ist;
      } else {
        return listing(real, url.pathname);
      }
    }
    if (!st.isFile()) return text(403, "403 Forbidden\n");

    const size = st.size;
    const mtime = Math.floor(st.mtimeMs / 1000) * 1000;
    const etag = `W/"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const headers: Record<string, string> = {
      "content-type": contentTypeFor(file),
      "last-modified": httpDate(mtime),
      etag,
      "accept-ranges": "bytes",
    };
    const inm = req.headers.get("if-none-match");
    if (inm !== null) {
      const tags = inm.split(",").map((t) => t.trim().replace(/^W\//, ""));
      if (tags.includes("*") || tags.includes(etag.replace(/^W\//, ""))) return new Response(null, { status: 304, headers: { etag, "last-modified": headers["last-modified"]! } });
    } else {
      const ims = req.headers.get("if-modified-since");
      const t = ims === null ? NaN : Date.parse(ims);
      if (Number.isFinite(t) && mtime <= t) return new Response(null, { status: 304, headers: { etag, "last-modified": headers["last-modified"]! } });
    }

    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.get("range");
    if (range !== null) {
      const ifRange = req.headers.get("if-range");
      const fresh = ifRange === null || ifRange === etag || (Number.isFinite(Date.parse(ifRange)) && Date.parse(ifRange) >= mtime && !ifRange.startsWith('W/"'));
      const r = fresh ? parseRange(range, size) : null;
      if (r === "unsatisfiable") return text(416, "416 Range Not Satisfiable\n", { "content-range": `bytes */${size}` });
      if (r !== null) {
        [start, end] = r;
        status = 206;
        headers["content-range"] = `bytes ${start}-${end}/${size}`;
      }
    }
    const length = size === 0 ? 0 : end - start + 1;
    headers["content-length"] = String(length);
    if (req.method === "HEAD" || length === 0) return new Response(null, { status, headers });
    return new Response(fileStream(file, start, length), { status, headers });
  };
}

/** A file region as a pull-based stream (64 KiB reads; the handle closes at the end or on cancel). */
function fileStream(file: string, start: number, length: number): ReadableStream<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>> | null = null;
  let pos = start;
  const end = start + length;
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      try {
        fh ??= await open(file, "r");
        const n = Math.min(65536, end - pos);
        const buf = new Uint8Array(n);
        const { bytesRead } = await fh.read(buf, 0, n, pos);
        if (bytesRead === 0) throw new Error(`${file} shrank while it was being sent`);
        pos += bytesRead;
        ctl.enqueue(bytesRead === n ? buf : buf.subarray(0, bytesRead));
        if (pos >= end) {
          ctl.close();
          await fh.close();
          fh = null;
        }
      } catch (e) {
        await fh?.close().catch(() => undefined);
        fh = null;
        ctl.error(e);
      }
    },
    async cancel() {
      await fh?.close().catch(() => undefined);
      fh = null;
    },
  });
}

async function listing(dir: string, urlPath: string): Promise<Response> {
  const entries = await readdir(dir, { withFileTypes: true });
  const items = entries
    .map((e) => ({ name: e.name, dir: e.isDirectory() }))
    .sort((a, b) => (a.dir === b.dir ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.dir ? -1 : 1));
  let display = urlPath;
  try {
    display = decodeURIComponent(urlPath);
  } catch {
    /* keep it encoded */
  }
  const title = `Directory listing for ${escapeHtml(display)}`;
  const lis = items.map((i) => {
    const label = i.name + (i.dir ? "/" : "");
    return `<li><a href="${escapeHtml(encodeURIComponent(i.name) + (i.dir ? "/" : ""))}">${escapeHtml(label)}</a></li>`;
  });
  const html =
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${title}</title>\n</head>\n<body>\n<h1>${title}</h1>\n<hr>\n<ul>\n` +
    lis.join("\n") +
    (lis.length > 0 ? "\n" : "") +
    `</ul>\n<hr>\n</body>\n</html>\n`;
  return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
}

interface ServeArgs {
  dir: string;
  port: number;
  address: string;
  quiet: boolean;
}

function parseServeArgs(args: string[], io: Io): ServeArgs | null {
  let dir: string | undefined;
  let port = 8000;
  let address = "0.0.0.0";
  let quiet = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string | undefined => {
      const v = args[++i];
      if (v === undefined) io.err(`morgana http serve: ${a} needs a value`);
      return v;
    };
    if (a === "--port" || a === "-p") {
      const v = value();
      if (v === undefined) return null;
      if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) {
        io.err(`morgana http serve: bad port ${JSON.stringify(v)}`);
        return null;
      }
      port = Number(v);
    } else if (a === "--address" || a === "--bind" || a === "-b") {
      const v = value();
      if (v === undefined) return null;
      address = v;
    } else if (a === "--quiet" || a === "-q") {
      quiet = true;
    } else if (a.startsWith("-")) {
      io.err(`morgana http serve: unknown option ${a}`);
      return null;
    } else if (dir === undefined) {
      dir = a;
    } else {
      io.err("morgana http serve: one directory at a time");
      return null;
    }
  }
  if (dir === undefined) {
    io.err(HTTP_USAGE);
    return null;
  }
  return { dir, port, address, quiet };
}

/** `morgana http ...`: returns the exit code (0 after a clean shutdown, 1 on failure, 2 on usage errors). */
export async function httpCommand(args: string[], io: Io, opts: HttpCommandOptions = {}): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "help" || sub === "--help" || sub === "-h") {
    io.out(HTTP_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "serve") {
    io.err(`morgana http: unknown subcommand ${JSON.stringify(sub)} (try: morgana http help)`);
    return 2;
  }
  const a = parseServeArgs(rest, io);
  if (a === null) return 2;
  const st = await stat(a.dir).catch(() => null);
  if (st === null || !st.isDirectory()) {
    io.err(`morgana http serve: ${a.dir} is not a directory`);
    return 1;
  }
  const handler = await createStaticHandler(a.dir);
  const ownStack = opts.stack === undefined;
  let stack: Stack;
  try {
    stack = opts.stack ?? createSocketStack();
  } catch (e) {
    io.err(`morgana http serve: ${(e as Error).message}`);
    return 1;
  }
  const server = createHttpServer({
    clock: systemClock,
    serverName: "morgana",
    handler: async (req, info) => {
      let res: Response;
      try {
        res = await handler(req, info);
      } catch (e) {
        io.err(`morgana http serve: ${(e as Error).message}`);
        res = text(500, "500 Internal Server Error\n");
      }
      if (!a.quiet) {
        const who = info.remote?.address ?? "-";
        io.err(`${who} - - [${new Date(systemClock.wallTime!()).toISOString()}] "${info.head.method} ${info.head.target} HTTP/${info.head.version}" ${res.status} ${res.headers.get("content-length") ?? "-"}`);
      }
      return res;
    },
    onError: (e) => io.err(`morgana http serve: ${(e as Error).message}`),
  });
  let port: number;
  try {
    const listener = await server.listen(stack.tcp, { port: a.port, address: a.address });
    port = listener.local.port;
  } catch (e) {
    io.err(`morgana http serve: cannot listen on ${a.address}:${a.port}: ${(e as Error).message}`);
    if (ownStack) await stack.close();
    return 1;
  }
  io.out(`Serving HTTP on ${a.address} port ${port} (http://${a.address}:${port}/) ...`);
  opts.onListening?.(a.address, port);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      opts.signal?.removeEventListener("abort", stop);
      resolve();
    };
    if (opts.handleSignals !== false) {
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    }
    if (opts.signal?.aborted) stop();
    else opts.signal?.addEventListener("abort", stop, { once: true });
  });
  io.err("morgana http serve: shutting down");
  await server.close({ deadlineMs: 5000 });
  if (ownStack) await stack.close();
  return 0;
}
