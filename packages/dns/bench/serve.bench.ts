/**
 * dns.serve-qps: queries per second answered by `morgana dns serve` (the Unix
 * socket stack, one Node process) and by nsd 4 (server-count 1: one process)
 * serving the same zone on loopback, both loaded by the same client: this
 * process, one node:dgram socket, a window of queries in flight, each answer
 * releasing the next query, counted for 2 s after a 0.3 s warm-up. The query
 * mix: A, AAAA, a CNAME chain, NXDOMAIN, NODATA, MX with additional data,
 * TXT, all with EDNS(0).
 */
import { spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { figure } from "@morgana/benchkit";
import { buildQuery, decodeHeader, encodeMessage, type QType } from "../src/index.js";
import { findTool, ZONE_TEXT } from "../test/fixtures.js";
import { startNsd } from "../test/tools.js";

/** The monorepo root: the first directory up from here (or the working directory) with scripts/run-ts.mjs. */
const ROOT = ((): string => {
  for (const start of [path.dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let d = start; ; d = path.dirname(d)) {
      if (existsSync(path.join(d, "scripts/run-ts.mjs"))) return d;
      if (path.dirname(d) === d) break;
    }
  }
  return process.cwd();
})();
const WINDOW = 64;
const WARMUP_MS = 300;
const MEASURE_MS = 2000;

const MIX: [string, QType][] = [
  ["www.example.test", "A"],
  ["www.example.test", "AAAA"],
  ["alias2.example.test", "A"],
  ["nope.example.test", "A"],
  ["mx.example.test", "MX"],
  ["two.example.test", "A"],
  ["txt.example.test", "TXT"],
  ["v4only.example.test", "AAAA"],
];
const QUERIES = Array.from({ length: 4096 }, (_, i) => {
  const [name, type] = MIX[i % MIX.length]!;
  return Buffer.from(encodeMessage(buildQuery(name, type, { id: i })));
});

/** Loads 127.0.0.1:port with a window of UDP queries; answers per second. */
async function load(port: number): Promise<{ qps: number; lost: number }> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  sock.setRecvBufferSize(4 * 1024 * 1024);
  let next = 0;
  let outstanding = 0;
  let answered = 0;
  let lastAnswer = performance.now();
  let lost = 0;
  const send = (): void => {
    const q = QUERIES[next]!;
    next = (next + 1) & 4095;
    outstanding++;
    sock.send(q, port, "127.0.0.1");
  };
  sock.on("message", (m) => {
    if (m.length >= 12 && (decodeHeader(m).qr)) {
      answered++;
      outstanding--;
      lastAnswer = performance.now();
      send();
    }
  });
  // Lost datagrams shrink the window: refill it when nothing came for 50 ms.
  const refill = setInterval(() => {
    if (performance.now() - lastAnswer > 50) {
      lost += outstanding;
      outstanding = 0;
      while (outstanding < WINDOW) send();
    }
  }, 25);
  for (let i = 0; i < WINDOW; i++) send();
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const a0 = answered;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  const qps = (answered - a0) / ((performance.now() - t0) / 1000);
  clearInterval(refill);
  sock.close();
  return { qps, lost };
}

/** Starts `morgana dns serve` (through the CLI's dnsCommand) as a child process; resolves with its port. */
async function startMorgana(zoneFile: string): Promise<{ port: number; child: ChildProcess }> {
  const main = readFileSync(path.join(ROOT, "packages/cli/src/main.ts"), "utf8");
  const wired = main.includes("dnsCommand");
  const entry = wired ? path.join(ROOT, "packages/cli/src/bin.ts") : path.join(ROOT, "packages/cli/test/dns-entry.ts");
  const args = [path.join(ROOT, "scripts/run-ts.mjs"), entry, ...(wired ? ["dns"] : []), "serve", zoneFile, "--port", "0", "--address", "127.0.0.1"];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 400; i++) {
    const m = /on 127\.0\.0\.1:(\d+)/.exec(out);
    if (m !== null) return { port: Number(m[1]), child };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill("SIGKILL");
  throw new Error(`morgana dns serve did not start: ${out}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(t);
}

figure("dns", "serve-qps", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "morgana-dns-bench-"));
  const zoneFile = path.join(dir, "example.test.zone");
  writeFileSync(zoneFile, ZONE_TEXT);
  try {
    const m = await startMorgana(zoneFile);
    let ours: { qps: number; lost: number };
    try {
      ours = await load(m.port);
    } finally {
      await stop(m.child);
    }
    let referenceValue = NaN;
    let note = `UDP on loopback, window ${WINDOW}, ${MIX.length}-query mix, ${MEASURE_MS} ms per server; ours lost ${ours.lost}`;
    if (findTool("nsd") === undefined) {
      note += "; nsd not installed, no reference";
    } else {
      const nsd = await startNsd([{ name: "example.test", text: ZONE_TEXT }], { serverCount: 1 });
      try {
        const theirs = await load(nsd.port);
        referenceValue = theirs.qps;
        note += `, nsd lost ${theirs.lost}`;
      } finally {
        await nsd.stop();
      }
    }
    return { unit: "queries/s", ours: ours.qps, reference: "nsd 4.6.1, server-count 1", referenceValue, note };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
