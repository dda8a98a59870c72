/**
 * The homepage's figures (examples/homepage, built by `morgana bundle`/`run`).
 *
 * 1. `homepage-direct-first-page`: from spawning `node homepage-direct.mjs`
 *    (the direct target's bundle) to the line reporting the first page
 *    fetched: Node starting, loading the bundle, two TCP/IP stacks created,
 *    the app started, its name resolved through its own DNS server, the TCP
 *    handshake and the GET. Reference: a process with a plain node:http
 *    server serving the same page, fetched by Node's fetch on loopback, from
 *    spawn to its line. Median of 9 runs each, interleaved.
 * 2. `homepage-bundle-{socket,direct,tap}`: the minified bundle's size.
 *    There is no competitor to compare with, so the reference is the size of
 *    the TypeScript sources the bundle is made of (the files esbuild put in
 *    it): the ratio is what type stripping, tree shaking and minification
 *    remove, not a win over anything.
 * 3. `homepage-socket-rps`: GET / on the socket target (the homepage on the
 *    unix-socket stack), loaded by autocannon 8.0.0 in another process, 10
 *    keep-alive connections, 3 s per run, interleaved, best of two; reference:
 *    node:http serving the same body with the same Content-Type.
 * 4. `homepage-direct-rps`: GET / on the homepage on one direct stack,
 *    fetched by @morgana/http's fetch on a second direct stack over an
 *    in-memory switch (one process, 10 concurrent request loops over a pool
 *    of 10 keep-alive connections, 2 s); reference: node:http and Node's
 *    fetch (undici) on 127.0.0.1 in one process, the same loops.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { figure, loadLoop, median } from "@morgana/benchkit";
import { autocannon as cannon, type CannonResult } from "@morgana/benchkit/node";
import { linuxPeerSupport } from "@morgana/linux-peer";
import { createFetch } from "@morgana/http";
import type { AppTarget } from "@morgana/interfaces";
import { SeededRandom, systemClock } from "@morgana/sim";
import { createStack } from "@morgana/stack";
import { runDirect, type PageReport } from "@morgana/targets/direct";
import { startSocket } from "@morgana/targets/socket";
import { startTap } from "@morgana/targets/tap";
import { VirtualSwitch } from "@morgana/vnetif";
import app from "../../../examples/homepage/src/app.js";
import { buildApp, resolveApp, type BuildResult } from "../src/run.js";

// The runner bundles this file elsewhere and runs it from the repository's root.
const HOMEPAGE = path.resolve("examples/homepage");
const tmp = mkdtempSync(path.join(tmpdir(), "morgana-homepage-bench-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

const STARTS = 9;
const CONNECTIONS = 10;
const SECONDS = 3;

let index: Promise<PageReport> | undefined;
/** The index page as the direct target's client receives it (body and content type); fetched once, when a figure first needs it. */
function indexPage(): Promise<PageReport> {
  return (index ??= (async () => {
    const report = await runDirect(app);
    const p = report.pages.find((x) => x.path === "/");
    if (p === undefined || p.status !== 200) throw new Error("the homepage's / is not 200 on the direct target");
    return p;
  })());
}

const bundles = new Map<string, Promise<BuildResult>>();
function bundle(target: AppTarget, minify: boolean): Promise<BuildResult> {
  const key = `${target}-${minify ? "min" : "plain"}`;
  let b = bundles.get(key);
  if (b === undefined) {
    b = buildApp({ app: resolveApp(HOMEPAGE), target, mode: "bundle", outfile: path.join(tmp, `homepage-${key}.mjs`), minify });
    bundles.set(key, b);
  }
  return b;
}

/** Milliseconds from spawning `node args` to the first stdout line matching `ready`; then waits for the exit (code 0). */
function timeToLine(args: string[], ready: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let at: number | undefined;
    c.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (at === undefined && ready.test(out)) at = performance.now() - t0;
    });
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    c.on("error", reject);
    c.on("exit", (code) => {
      if (code !== 0 || at === undefined) reject(new Error(`node ${args.join(" ")} exited ${code} before ${ready}:\n${out}\n${err}`));
      else resolve(at);
    });
  });
}

figure("cli", "homepage-direct-first-page", async () => {
  const page = await indexPage();
  const direct = await bundle("direct", false);
  const pcap = path.join(tmp, "first-page.pcap");
  const reference = path.join(tmp, "node-http-first-page.mjs");
  writeFileSync(
    reference,
    [
      `import http from "node:http";`,
      `const body = Buffer.from(${JSON.stringify(Buffer.from(page.body).toString("base64"))}, "base64");`,
      `const server = http.createServer((req, res) => { res.writeHead(200, { "content-type": ${JSON.stringify(page.contentType)}, "content-length": body.length }); res.end(body); });`,
      `server.listen(0, "127.0.0.1", async () => {`,
      `  const res = await fetch("http://127.0.0.1:" + server.address().port + "/");`,
      `  const got = new Uint8Array(await res.arrayBuffer());`,
      `  console.log("  GET / " + res.status + " " + got.length + " bytes");`,
      `  server.close();`,
      `  server.closeAllConnections();`,
      `});`,
    ].join("\n"),
  );
  const oursReady = new RegExp(`GET http://${app.domain.replace(/\./g, "\\.")}/\\s+200\\s+${page.bytes} bytes`);
  const refReady = new RegExp(`GET / 200 ${page.bytes} bytes`);
  // Warm the file cache, then interleave.
  await timeToLine([direct.outfile, "--pcap", pcap], oursReady);
  await timeToLine([reference], refReady);
  const ours: number[] = [];
  const ref: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    ours.push(await timeToLine([direct.outfile, "--pcap", pcap], oursReady));
    ref.push(await timeToLine([reference], refReady));
  }
  return {
    unit: "ms",
    ours: median(ours),
    reference: "node:http + Node's fetch on 127.0.0.1, one process",
    referenceValue: median(ref),
    lowerIsBetter: true,
    note: `process spawn to the first page's report line, median of ${STARTS} interleaved runs (ours ${Math.round(Math.min(...ours))}-${Math.round(Math.max(...ours))} ms, reference ${Math.round(Math.min(...ref))}-${Math.round(Math.max(...ref))} ms); ours loads a ${Math.round(direct.bytes / 1024)} KiB bundle, starts two TCP/IP stacks and the app's HTTP and DNS servers, resolves the name through its own DNS and writes a pcap; same ${page.bytes}-byte page`,
  };
});

for (const target of ["socket", "direct", "tap"] as const) {
  figure("cli", `homepage-bundle-${target}`, async () => {
    const min = await bundle(target, true);
    const plain = await bundle(target, false);
    const inputs = Object.values(min.metafile.outputs)[0]!.inputs;
    let sources = 0;
    let files = 0;
    for (const [file, info] of Object.entries(inputs)) {
      if (info.bytesInOutput === 0 || path.basename(file) === "morgana-entry.mjs") continue;
      sources += min.metafile.inputs[file]?.bytes ?? 0;
      files++;
    }
    const pkgs = min.packages.filter((p) => p.startsWith("@morgana/")).length;
    return {
      unit: "bytes",
      ours: min.bytes,
      reference: "size of the TypeScript sources it is built from (not a competitor)",
      referenceValue: sources,
      lowerIsBetter: true,
      note: `morgana bundle examples/homepage --target ${target} --minify: one ES module, ${pkgs} @morgana packages, ${files} source files; ${plain.bytes} bytes unminified; the ratio is what type stripping, tree shaking and minification remove`,
    };
  });
}

/** autocannon with this file's settings. */
function autocannon(url: string, prefix?: readonly string[]): Promise<CannonResult> {
  return cannon(url, { connections: CONNECTIONS, seconds: SECONDS, ...(prefix === undefined ? {} : { prefix }) });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** node:http serving `body` with `contentType` on 127.0.0.1; resolves with the server and its port. */
async function nodeServer(body: Uint8Array, contentType: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": contentType, "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, port: (server.address() as net.AddressInfo).port };
}

figure("cli", "homepage-socket-rps", async () => {
  const page = await indexPage();
  const port = await freePort();
  const handle = await startSocket(app, { port, dnsPort: await freePort() });
  const check = await fetch(`http://127.0.0.1:${port}/`);
  if (check.status !== 200 || (await check.arrayBuffer()).byteLength !== page.bytes) throw new Error("the socket target does not serve the same /");
  const node = await nodeServer(page.body, page.contentType);
  const oursUrl = `http://127.0.0.1:${port}/`;
  const nodeUrl = `http://127.0.0.1:${node.port}/`;
  await autocannon(oursUrl);
  await autocannon(nodeUrl);
  const o: CannonResult[] = [];
  const n: CannonResult[] = [];
  for (let i = 0; i < 2; i++) {
    o.push(await autocannon(oursUrl));
    n.push(await autocannon(nodeUrl));
  }
  await handle.close();
  node.server.closeAllConnections();
  await new Promise<void>((r) => node.server.close(() => r()));
  for (const r of [...o, ...n]) if (r.errors > 0 || r.non2xx > 0) throw new Error(`autocannon saw errors: ${JSON.stringify(r)}`);
  const best = (xs: CannonResult[]) => Math.max(...xs.map((x) => x.rps));
  return {
    unit: "req/s",
    ours: best(o),
    reference: `node:http (Node ${process.version}), same body and Content-Type`,
    referenceValue: best(n),
    note: `GET / (${page.bytes} bytes) on the socket target; autocannon 8.0.0 in another process, ${CONNECTIONS} keep-alive connections, ${SECONDS} s per run, interleaved, best of two (ours ${o.map((x) => Math.round(x.rps)).join("/")}, node ${n.map((x) => Math.round(x.rps)).join("/")})`,
  };
});

figure("cli", "homepage-direct-rps", async () => {
  const page = await indexPage();
  const random = new SeededRandom("homepage-bench");
  const sw = new VirtualSwitch({ clock: systemClock });
  const server = createStack({ netif: sw.createPort({ name: "server" }), address: "10.0.0.1/24", clock: systemClock, random: random.fork("server") });
  const client = createStack({ netif: sw.createPort({ name: "client" }), address: "10.0.0.2/24", clock: systemClock, random: random.fork("client") });
  const running = await app.start({
    target: "direct",
    stack: server,
    clock: systemClock,
    random: random.fork("app"),
    address: "10.0.0.1",
    ports: { http: 80, dns: 53 },
    log: () => {},
  });
  const ourFetch = createFetch({ stack: client, clock: systemClock, pool: { maxSocketsPerOrigin: CONNECTIONS } });
  const ours = async (): Promise<void> => {
    const r = await ourFetch("http://10.0.0.1/");
    if (r.status !== 200 || (await r.arrayBuffer()).byteLength !== page.bytes) throw new Error("bad page");
  };
  await loadLoop(CONNECTIONS, 500, ours);
  const oursRate = await loadLoop(CONNECTIONS, 2000, ours);
  const opened = ourFetch.stats().counters.connectionsOpened;
  await ourFetch.close();
  await running.close();
  await client.close();
  await server.close();

  const node = await nodeServer(page.body, page.contentType);
  const url = `http://127.0.0.1:${node.port}/`;
  const ref = async (): Promise<void> => {
    const r = await fetch(url);
    if (r.status !== 200 || (await r.arrayBuffer()).byteLength !== page.bytes) throw new Error("bad page");
  };
  await loadLoop(CONNECTIONS, 500, ref);
  const refRate = await loadLoop(CONNECTIONS, 2000, ref);
  node.server.closeAllConnections();
  await new Promise<void>((r) => node.server.close(() => r()));
  return {
    unit: "req/s",
    ours: oursRate,
    reference: "node:http + Node's fetch (undici) on 127.0.0.1, one process",
    referenceValue: refRate,
    note: `GET / (${page.bytes} bytes): the homepage on a direct stack, our fetch on a second direct stack, in-memory switch, one process, ${CONNECTIONS} request loops (${opened} connections opened), 2 s after 0.5 s warm-up; reference: the kernel's loopback, where most of the cost is Node's fetch (undici) itself: http.server-direct-stack compares against node:http's own keep-alive agent instead`,
  };
});

/**
 * 5. `homepage-tap-rps`: GET / on the tap target (the homepage on the direct
 *    stack over dgram-netif ⇄ socat ⇄ a TAP in a network namespace), loaded
 *    by the same autocannon run inside the namespace; reference: node:http
 *    serving the same body from inside the namespace, on Linux's own stack,
 *    loaded the same way. Needs root, ip and socat (skipped with a message
 *    otherwise).
 */
figure("cli", "homepage-tap-rps", async () => {
  const support = linuxPeerSupport();
  if (!support.ok) throw new Error(`the tap figure needs root, ip and socat: ${support.reason}`);
  const page = await indexPage();
  const tap = await startTap(app);
  try {
    const ns = ["ip", "netns", "exec", tap.peer.ns];
    const body = Buffer.from(page.body).toString("base64");
    const script = `const b=Buffer.from(${JSON.stringify(body)},"base64");require("node:http").createServer((q,s)=>{s.writeHead(200,{"content-type":${JSON.stringify(page.contentType)},"content-length":b.length});s.end(b)}).listen(8080,"${tap.peer.address}",()=>console.log("ready"))`;
    const ref = tap.peer.spawn([process.execPath, "-e", script]);
    await ref.waitForOutput("ready");
    const oursUrl = `http://${tap.address}/`;
    const refUrl = `http://${tap.peer.address}:8080/`;
    await autocannon(oursUrl, ns);
    await autocannon(refUrl, ns);
    const o: CannonResult[] = [];
    const n: CannonResult[] = [];
    for (let i = 0; i < 2; i++) {
      o.push(await autocannon(oursUrl, ns));
      n.push(await autocannon(refUrl, ns));
    }
    for (const r of [...o, ...n]) if (r.errors > 0 || r.non2xx > 0) throw new Error(`autocannon saw errors: ${JSON.stringify(r)}`);
    const best = (xs: CannonResult[]) => Math.max(...xs.map((x) => x.rps));
    return {
      unit: "req/s",
      ours: best(o),
      reference: "node:http on Linux's own stack inside the same namespace, same body and Content-Type",
      referenceValue: best(n),
      note: `GET / (${page.bytes} bytes) on the tap target: autocannon 8.0.0 inside the namespace, ${CONNECTIONS} keep-alive connections, ${SECONDS} s per run, interleaved, best of two (ours ${o.map((x) => Math.round(x.rps)).join("/")}, reference ${n.map((x) => Math.round(x.rps)).join("/")}); every frame of ours crosses the TAP, socat and a UDP socket on loopback`,
    };
  } finally {
    await tap.close();
  }
});
