/**
 * Real DNS software for interop tests and the benchmark: running Debian's
 * `dig` and parsing what it prints, and starting `nsd` on loopback with a
 * generated configuration in a temporary directory.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildQuery, decodeMessage, encodeMessage } from "../src/index.js";

export interface DigRecord {
  name: string;
  ttl: number;
  class: string;
  type: string;
  /** The RDATA as dig prints it. */
  data: string;
}

export interface DigResult {
  raw: string;
  opcode: string;
  status: string;
  id: number;
  flags: string[];
  counts: { query: number; answer: number; authority: number; additional: number };
  edns: { version: number; udp: number } | undefined;
  question: string[];
  answer: DigRecord[];
  authority: DigRecord[];
  additional: DigRecord[];
  /** "127.0.0.1#5353(127.0.0.1) (UDP)" → address#port and transport. */
  server: string;
  transport: string;
  truncatedRetry: boolean;
}

function records(lines: string[]): DigRecord[] {
  return lines.map((l) => {
    const m = /^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(l);
    if (m === null) throw new Error(`dig record line not understood: ${l}`);
    return { name: m[1]!, ttl: Number(m[2]), class: m[3]!, type: m[4]!, data: m[5]! };
  });
}

/** Parses dig's default output (one query). */
export function parseDig(raw: string): DigResult {
  const header = /->>HEADER<<- opcode: (\S+), status: (\S+), id: (\d+)/.exec(raw);
  const flags = /;; flags:([^;]*); QUERY: (\d+), ANSWER: (\d+), AUTHORITY: (\d+), ADDITIONAL: (\d+)/.exec(raw);
  if (header === null || flags === null) throw new Error(`dig output not understood:\n${raw}`);
  const section = (name: string): string[] => {
    const lines = raw.split("\n");
    const i = lines.findIndex((l) => l.startsWith(`;; ${name} SECTION:`));
    if (i < 0) return [];
    const out: string[] = [];
    for (let j = i + 1; j < lines.length && lines[j]!.trim() !== ""; j++) out.push(lines[j]!);
    return out;
  };
  const edns = /; EDNS: version: (\d+), flags:[^;]*; udp: (\d+)/.exec(raw);
  const server = /;; SERVER: (\S+)\(\S+\) \((\w+)\)/.exec(raw);
  return {
    raw,
    opcode: header[1]!,
    status: header[2]!,
    id: Number(header[3]),
    flags: flags[1]!.trim().split(/\s+/).filter((f) => f !== ""),
    counts: { query: Number(flags[2]), answer: Number(flags[3]), authority: Number(flags[4]), additional: Number(flags[5]) },
    edns: edns === null ? undefined : { version: Number(edns[1]), udp: Number(edns[2]) },
    question: section("QUESTION"),
    answer: records(section("ANSWER")),
    authority: records(section("AUTHORITY")),
    additional: records(section("ADDITIONAL")),
    server: server?.[1] ?? "",
    transport: server?.[2] ?? "",
    truncatedRetry: raw.includes(";; Truncated, retrying in TCP mode."),
  };
}

/** Runs a command asynchronously (the event loop keeps running: an in-process server can answer). */
export function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `dig @address -p port name type ...extra` with one try and a 3 s timeout, parsed. */
export async function dig(address: string, port: number, name: string, type: string, extra: string[] = []): Promise<DigResult> {
  const r = await run("dig", [`@${address}`, "-p", String(port), "+tries=1", "+time=3", ...extra, name, type]);
  if (r.code !== 0) throw new Error(`dig exited with ${r.code}: ${r.stdout}${r.stderr}`);
  return parseDig(r.stdout);
}

/** A port free for both UDP and TCP on 127.0.0.1 (checked now; another process could take it later). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = dgram.createSocket("udp4");
      s.once("error", reject);
      s.bind(0, "127.0.0.1", () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    const tcpFree = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (tcpFree) return port;
  }
  throw new Error("no free port");
}

/** Asks `name` A over UDP with node:dgram; true when a response came within `ms`. */
export function answers(port: number, name: string, ms = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    const done = (ok: boolean) => {
      clearTimeout(t);
      s.close();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), ms);
    s.on("message", (m) => {
      try {
        done(decodeMessage(m).id === 4242);
      } catch {
        done(false);
      }
    });
    s.on("error", () => done(false));
    s.send(encodeMessage(buildQuery(name, "A", { id: 4242 })), port, "127.0.0.1");
  });
}

/**
 * Writes the zone files into `dir` and returns an nsd.conf serving them on
 * `address`:`port` from `dir` (no chroot, no privilege drop, no database, no
 * remote control). Without `logfile`, nsd -d logs to stderr.
 */
export function nsdConfig(dir: string, o: { address: string; port: number; zones: readonly { name: string; text: string }[]; serverCount?: number; logfile?: boolean }): string {
  for (const z of o.zones) writeFileSync(path.join(dir, `${z.name}.zone`), z.text);
  return [
    "server:",
    `  ip-address: ${o.address}`,
    `  port: ${o.port}`,
    '  username: ""',
    '  chroot: ""',
    `  zonesdir: "${dir}"`,
    `  pidfile: "${dir}/nsd.pid"`,
    '  database: ""',
    `  zonelistfile: "${dir}/zone.list"`,
    `  xfrdfile: "${dir}/xfrd.state"`,
    `  xfrdir: "${dir}"`,
    ...(o.logfile === true ? [`  logfile: "${dir}/nsd.log"`] : []),
    "  verbosity: 1",
    `  server-count: ${o.serverCount ?? 1}`,
    "  do-ip6: no",
    "  hide-version: yes",
    // Response rate limiting is on by default in Debian's nsd (200 answers/s per /24): off, for load tests.
    "  rrl-ratelimit: 0",
    "remote-control:",
    "  control-enable: no",
    ...o.zones.flatMap((z) => ["zone:", `  name: ${z.name}`, `  zonefile: ${z.name}.zone`]),
    "",
  ].join("\n");
}

export interface Nsd {
  readonly port: number;
  readonly dir: string;
  readonly process: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts `nsd -d` serving `zones` on 127.0.0.1 (UDP and TCP) with a generated
 * configuration in a temporary directory (no chroot, no privilege drop, no
 * database, no remote control), and waits until it answers.
 */
export async function startNsd(zones: readonly { name: string; text: string }[], opts: { serverCount?: number } = {}): Promise<Nsd> {
  const dir = mkdtempSync(path.join(tmpdir(), "morgana-nsd-"));
  const port = await freePort();
  const conf = nsdConfig(dir, { address: "127.0.0.1", port, zones, serverCount: opts.serverCount ?? 1, logfile: true });
  const confPath = path.join(dir, "nsd.conf");
  writeFileSync(confPath, conf);
  const child = spawn("nsd", ["-d", "-c", confPath], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  const log = (): string => {
    let file = "";
    try {
      file = readFileSync(path.join(dir, "nsd.log"), "utf8");
    } catch {
      // not written yet
    }
    return output + file;
  };
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exit;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const first = zones[0]?.name ?? ".";
  for (let i = 0; i < 100; i++) {
    if (exited) break;
    if (await answers(port, first)) return { port, dir, process: child, log, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  const text = log();
  await stop();
  throw new Error(`nsd did not start:\n${text}`);
}
