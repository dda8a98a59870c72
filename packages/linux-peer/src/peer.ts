/**
 * A Linux kernel peer in a network namespace of its own, reachable from a
 * Morgana stack over UDP on loopback:
 *
 *   Morgana (dgram-netif, 127.0.0.1:morganaPort)
 *      ⇅ one Ethernet frame per UDP datagram, loopback only
 *   socat (root namespace, 127.0.0.1:socatPort) ⇄ TAP fd
 *      ⇅ the TAP device, moved into the namespace
 *   the kernel's network stack inside namespace `ns` (linuxAddress on the TAP)
 *
 * socat opens the TAP in the root namespace with no address (so no route is
 * ever added there); the device is then moved into the namespace, where it
 * gets its address. socat keeps its file descriptor across the move.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { MorganaError, formatIpv4, parseIpv4Prefix, prefixMask, type Ipv4Address } from "@morgana/interfaces";
import { runCommand, startProcess, terminate, type ExecOptions, type ExecResult, type ExitStatus, type PeerProcess, type SpawnOptions } from "./process.js";
import { linuxPeerSupport } from "./support.js";

/** Default MTU of the TAP device inside the namespace. */
export const DEFAULT_PEER_MTU = 1500;
/** Largest MTU: a tagged frame of `mtu + 18` bytes must fit one UDP datagram (65507 bytes). */
export const MAX_PEER_MTU = 65489;
/** Ports are picked at random in [20000, 32000): below Linux's ephemeral range (32768-60999). */
export const PORT_RANGE = [20000, 32000] as const;
/** Default bound on the time `createLinuxPeer` waits for socat and ip: 10 s. */
export const DEFAULT_SETUP_TIMEOUT_MS = 10_000;
/** socat's buffer, so that any frame up to MAX_PEER_MTU + 18 bytes passes whole. */
const SOCAT_BUFFER = 65536;
/** What socat's stderr capture keeps (with -d -d it logs every datagram). */
const SOCAT_CAPTURE_BYTES = 64 * 1024;

/** The namespace (and TAP) name: `mg`, our pid in base 36, `-`, 5 random base-36 characters. */
const NAME_RE = /^mg([0-9a-z]+)-([0-9a-z]+)$/;

export interface LinuxPeerOptions {
  /**
   * The kernel's address and prefix on the TAP, e.g. `10.201.7.1/24`. Default:
   * a fresh `10.<200..254>.<random>.1/24` per peer.
   */
  linuxAddress?: string;
  /** The TAP device's MTU inside the namespace (what the kernel uses), default 1500, 68..65489. */
  mtu?: number;
  /**
   * The UDP port the Morgana side binds (socat sends there). Default: a free
   * port picked at random in [20000, 32000). Pass the `localPort` of a netif
   * you already bound (port 0) to avoid any race for the port.
   */
  morganaPort?: number;
  /** Extra sysctls set inside the namespace before the TAP comes up, e.g. `{ "net.ipv4.icmp_ratelimit": 0 }`. */
  sysctls?: Readonly<Record<string, string | number>>;
  /** Bound on the whole setup, default 10 000 ms. */
  setupTimeoutMs?: number;
}

/** A Linux kernel peer; see the module comment. */
export interface LinuxPeer {
  /** The network namespace's name (`ip netns exec <ns> ...`). */
  readonly ns: string;
  /** The TAP device's name inside the namespace (the same string as `ns`). */
  readonly tap: string;
  /** As configured: `10.201.7.1/24`. */
  readonly linuxAddress: string;
  /** The kernel's address alone: `10.201.7.1`. */
  readonly address: string;
  readonly prefixLength: number;
  /** The subnet: `10.201.7.0/24`. */
  readonly subnet: string;
  /** The TAP device's MAC as the kernel reports it (`aa:bb:cc:dd:ee:ff`). */
  readonly linuxMac: string;
  /** The TAP device's MTU. */
  readonly mtu: number;
  /** Where socat sends the frames the kernel transmits: bind your dgram-netif to 127.0.0.1:morganaPort. */
  readonly morganaPort: number;
  /** socat's UDP port: send frames for the kernel to 127.0.0.1:socatPort. */
  readonly socatPort: number;
  readonly socatPid: number;
  /** Resolves when socat exits (after `close()`, or earlier if it failed). */
  readonly socatExited: Promise<ExitStatus>;
  readonly closed: boolean;
  /** The address with host part `n` in the peer's subnet: `hostAddress(2)` is `10.201.7.2` for a /24. */
  hostAddress(n: number): string;
  /** Runs `ip netns exec <ns> cmd...` to completion. Never rejects for a non-zero exit (see `code`). */
  exec(cmd: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Starts `ip netns exec <ns> cmd...` and returns at once; `close()` kills it
   * if still running. With `{ stdout: "pipe" }` its standard output is left
   * to the caller (not captured).
   */
  spawn(cmd: readonly string[], opts?: SpawnOptions): PeerProcess;
  /** Kills every process of the peer (spawned ones, socat, anything else in the namespace) and deletes the namespace. Idempotent. */
  close(): Promise<void>;
}

// ---- registry and emergency cleanup ------------------------------------------------------

const live = new Set<Peer>();
let handlersInstalled = false;
let swept = false;
let sequence = 0;

function killQuietly(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function nsPidsSync(ns: string): number[] {
  const r = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8", timeout: 5000 });
  return (r.stdout ?? "").split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number);
}

/** Synchronous teardown for process exit and signals: SIGKILL everything, delete the namespace. */
function cleanupSync(peer: Peer): void {
  for (const c of peer.children) if (c.pid !== undefined) killQuietly(c.pid);
  killQuietly(peer.socatPid);
  for (const pid of nsPidsSync(peer.ns)) killQuietly(pid);
  spawnSync("ip", ["netns", "del", peer.ns], { stdio: "ignore", timeout: 5000 });
  live.delete(peer);
}

function cleanupAllSync(): void {
  for (const p of [...live]) cleanupSync(p);
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAllSync();
  process.removeListener("SIGINT", onSignal);
  process.removeListener("SIGTERM", onSignal);
  // Nobody else handles it: keep the default behaviour (terminate by that signal).
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", cleanupAllSync);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

/** True when `pid` is a running process; a zombie (exited, not reaped yet) counts as dead. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    // /proc/PID/stat: "pid (comm) S ..."; comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/**
 * Deletes what dead processes left behind: namespaces named by this package
 * whose creating pid no longer exists (after killing the processes inside
 * them), and socat processes serving such a TAP. Our own pid is skipped (its
 * peers belong to live code, possibly in another worker thread). Returns the
 * namespaces deleted. Runs automatically once per process, before the first peer.
 */
export function sweepStale(): string[] {
  const removed: string[] = [];
  const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 5000 });
  const deadPrefixes = new Set<string>();
  for (const line of (list.stdout ?? "").split("\n")) {
    const name = line.trim().split(/\s+/)[0] ?? "";
    const m = NAME_RE.exec(name);
    if (m === null) continue;
    const pid = parseInt(m[1]!, 36);
    if (pid === process.pid || processAlive(pid)) continue;
    deadPrefixes.add(`mg${m[1]}-`);
    for (const p of nsPidsSync(name)) killQuietly(p);
    const del = spawnSync("ip", ["netns", "del", name], { stdio: "ignore", timeout: 5000 });
    if (del.status === 0) removed.push(name);
  }
  // socat processes of dead creators (their TAP may still sit in the root namespace).
  for (const entry of safeReaddir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const m = /\0TUN,tun-type=tap,iff-no-pi,tun-name=mg([0-9a-z]+)-[0-9a-z]+\0/.exec(cmdline);
    if (m === null || !cmdline.startsWith("socat\0")) continue;
    const pid = parseInt(m[1]!, 36);
    if (pid !== process.pid && !processAlive(pid)) killQuietly(Number(entry));
  }
  return removed;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

// ---- helpers -------------------------------------------------------------------------------

function einval(message: string): never {
  throw new MorganaError("EINVAL", `createLinuxPeer: ${message}`);
}

function randomInRange(min: number, maxExclusive: number): number {
  return min + (randomBytes(4).readUInt32BE(0) % (maxExclusive - min));
}

/** True when 127.0.0.1:port can be bound for UDP right now. */
function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.once("error", () => {
      s.close();
      resolve(false);
    });
    s.bind({ port, address: "127.0.0.1", exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A UDP port in {@link PORT_RANGE} that binds on 127.0.0.1 now (and is not in `avoid`). */
export async function pickFreeUdpPort(avoid: readonly number[] = []): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = randomInRange(PORT_RANGE[0], PORT_RANGE[1]);
    if (!avoid.includes(port) && (await udpPortFree(port))) return port;
  }
  throw new MorganaError("EADDRINUSE", "pickFreeUdpPort: no free UDP port found in 100 tries");
}

function checkSysctl(key: string, value: string | number): { path: string; value: string } {
  if (!/^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)+$/.test(key)) einval(`bad sysctl name ${JSON.stringify(key)}`);
  const v = String(value);
  if (!/^[\w .:/-]*$/.test(v)) einval(`bad sysctl value ${JSON.stringify(v)} for ${key}`);
  return { path: `/proc/sys/${key.replace(/\./g, "/")}`, value: v };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function failed(step: string, r: ExecResult): MorganaError {
  return new MorganaError("EIO", `createLinuxPeer: ${step} failed (${r.timedOut ? "timed out" : `exit ${r.code ?? r.signal}`}): ${r.stderr.trim() || r.stdout.trim()}`);
}

// ---- the peer ------------------------------------------------------------------------------

interface PeerInit {
  ns: string;
  prefix: { address: Ipv4Address; length: number };
  linuxAddress: string;
  mtu: number;
  morganaPort: number;
}

class Peer implements LinuxPeer {
  readonly ns: string;
  readonly tap: string;
  readonly linuxAddress: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly subnet: string;
  readonly mtu: number;
  readonly morganaPort: number;
  linuxMac = "";
  socatPort = 0;
  socatPid = -1;
  socat: PeerProcess | undefined;
  socatExited: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null });
  /** @internal Every child process started for this peer and still running. */
  readonly children = new Set<ChildProcess>();
  private readonly network: number;
  private closing: Promise<void> | undefined;

  constructor(init: PeerInit) {
    this.ns = init.ns;
    this.tap = init.ns;
    this.linuxAddress = init.linuxAddress;
    this.address = formatIpv4(init.prefix.address);
    this.prefixLength = init.prefix.length;
    this.network = (init.prefix.address & prefixMask(init.prefix.length)) >>> 0;
    this.subnet = `${formatIpv4(this.network as Ipv4Address)}/${init.prefix.length}`;
    this.mtu = init.mtu;
    this.morganaPort = init.morganaPort;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  hostAddress(n: number): string {
    const size = 2 ** (32 - this.prefixLength);
    if (!Number.isInteger(n) || n < 0 || n >= size) throw new MorganaError("EINVAL", `hostAddress: ${n} is not a host number in a /${this.prefixLength}`);
    return formatIpv4(((this.network + n) >>> 0) as Ipv4Address);
  }

  readonly track = (child: ChildProcess): (() => void) => {
    this.children.add(child);
    return () => this.children.delete(child);
  };

  exec(cmd: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) return Promise.reject(new MorganaError("EBADF", `LinuxPeer ${this.ns} is closed`));
    if (cmd.length === 0) return Promise.reject(new MorganaError("EINVAL", "exec: empty command"));
    return runCommand(["ip", "netns", "exec", this.ns, ...cmd], opts, this.track);
  }

  spawn(cmd: readonly string[], opts: SpawnOptions = {}): PeerProcess {
    if (this.closed) throw new MorganaError("EBADF", `LinuxPeer ${this.ns} is closed`);
    if (cmd.length === 0) throw new MorganaError("EINVAL", "spawn: empty command");
    return startProcess(["ip", "netns", "exec", this.ns, ...cmd], this.track, undefined, opts);
  }

  close(): Promise<void> {
    this.closing ??= this.teardown();
    return this.closing;
  }

  private async teardown(): Promise<void> {
    try {
      // Our own children first (graceful, then SIGKILL), then socat.
      await Promise.all([...this.children].filter((c) => c !== this.socat?.child).map((c) => terminate(c, exitOf(c))));
      if (this.socat !== undefined) await this.socat.kill();
      // Anything else still inside the namespace (a daemon an exec'd shell left behind).
      for (let i = 0; i < 20; i++) {
        const r = await runCommand(["ip", "netns", "pids", this.ns], { timeoutMs: 5000 });
        const pids = r.stdout.split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number);
        if (pids.length === 0) break;
        for (const pid of pids) killQuietly(pid);
        await new Promise((r2) => setTimeout(r2, 50));
      }
      const del = await runCommand(["ip", "netns", "del", this.ns], { timeoutMs: 10_000 });
      if (del.code !== 0 && existsSync(`/run/netns/${this.ns}`)) throw failed(`ip netns del ${this.ns}`, del);
    } finally {
      live.delete(this);
    }
  }

  /** Emergency path used when setup fails half-way. */
  async abort(): Promise<void> {
    await this.close().catch(() => cleanupSync(this));
  }
}

function exitOf(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode as NodeJS.Signals | null });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

async function createNamespace(timeoutMs: number): Promise<string> {
  const base = `mg${process.pid.toString(36)}-`;
  for (let i = 0; i < 10; i++) {
    const name = base + BigInt(`0x${randomBytes(4).toString("hex")}`).toString(36).padStart(5, "0").slice(-5);
    if (name.length > 15) throw new MorganaError("EINVAL", `createLinuxPeer: interface name ${name} is too long`);
    const r = await runCommand(["ip", "netns", "add", name], { timeoutMs });
    if (r.code === 0) return name;
    if (!/exists/i.test(r.stderr)) throw failed(`ip netns add ${name}`, r);
  }
  throw new MorganaError("EEXIST", "createLinuxPeer: could not find a free namespace name");
}

/** Starts socat; resolves once both its ends are open, or "in-use" when its port was taken meanwhile. */
async function startSocat(peer: Peer, socatPort: number, timeoutMs: number): Promise<PeerProcess | "in-use"> {
  const proc = startProcess(
    [
      "socat",
      "-d",
      "-d",
      "-b",
      String(SOCAT_BUFFER),
      `TUN,tun-type=tap,iff-no-pi,tun-name=${peer.tap}`,
      `UDP-DATAGRAM:127.0.0.1:${peer.morganaPort},bind=127.0.0.1:${socatPort}`,
    ],
    peer.track,
    SOCAT_CAPTURE_BYTES,
  );
  try {
    await proc.waitForOutput("starting data transfer loop", timeoutMs);
    return proc;
  } catch (e) {
    await proc.kill("SIGKILL");
    if (/Address already in use/.test(proc.stderr())) return "in-use";
    throw new MorganaError("EIO", `createLinuxPeer: socat did not start: ${proc.stderr().trim() || String(e)}`);
  }
}

/**
 * Creates a namespace, a TAP device bridged by socat to UDP on loopback, moves
 * the TAP into the namespace and configures it (address, MTU, up; `lo` up;
 * IPv6 disabled). Rejects with `ENOTSUP` when {@link linuxPeerSupport} says
 * no, `EINVAL` for bad options, `EIO` when a setup step fails (everything
 * created so far is removed first).
 */
export async function createLinuxPeer(opts: LinuxPeerOptions = {}): Promise<LinuxPeer> {
  const support = linuxPeerSupport();
  if (!support.ok) throw new MorganaError("ENOTSUP", `createLinuxPeer: Linux peers are not available here: ${support.reason ?? "unknown"}`);
  const k = sequence++;
  const linuxAddress = opts.linuxAddress ?? `10.${200 + (k % 55)}.${randomBytes(1)[0]!}.1/24`;
  let prefix: { address: Ipv4Address; length: number };
  try {
    prefix = parseIpv4Prefix(linuxAddress);
  } catch (e) {
    einval((e as Error).message);
  }
  if (prefix.length < 8 || prefix.length > 30) einval(`prefix length must be 8..30, got ${prefix.length}`);
  const mtu = opts.mtu ?? DEFAULT_PEER_MTU;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > MAX_PEER_MTU) einval(`mtu must be an integer in [68, ${MAX_PEER_MTU}], got ${String(mtu)}`);
  const timeoutMs = opts.setupTimeoutMs ?? DEFAULT_SETUP_TIMEOUT_MS;
  const sysctls = Object.entries(opts.sysctls ?? {}).map(([key, v]) => checkSysctl(key, v));
  if (opts.morganaPort !== undefined && (!Number.isInteger(opts.morganaPort) || opts.morganaPort < 1 || opts.morganaPort > 65535)) {
    einval(`morganaPort must be an integer in [1, 65535], got ${String(opts.morganaPort)}`);
  }

  installHandlers();
  if (!swept) {
    swept = true;
    sweepStale();
  }
  const morganaPort = opts.morganaPort ?? (await pickFreeUdpPort());
  const ns = await createNamespace(timeoutMs);
  const peer = new Peer({ ns, prefix, linuxAddress, mtu, morganaPort });
  live.add(peer);
  try {
    // Inside the namespace before the TAP arrives: devices moved in inherit "default" (IPv6 off).
    const lines = [
      "for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do [ -e $f ] && echo 1 > $f; done",
      ...sysctls.map((s) => `echo ${shellQuote(s.value)} > ${shellQuote(s.path)}`),
      "true",
    ];
    let r = await runCommand(["ip", "netns", "exec", ns, "sh", "-ec", lines.join("\n")], { timeoutMs }, peer.track);
    if (r.code !== 0) throw failed("setting sysctls in the namespace", r);

    // socat opens the TAP in the root namespace (no address, down) and binds its UDP port.
    let socat: PeerProcess | "in-use" = "in-use";
    for (let i = 0; i < 5 && socat === "in-use"; i++) {
      peer.socatPort = await pickFreeUdpPort([morganaPort]);
      socat = await startSocat(peer, peer.socatPort, timeoutMs);
    }
    if (socat === "in-use") throw new MorganaError("EADDRINUSE", "createLinuxPeer: socat could not bind a UDP port in 5 tries");
    peer.socat = socat;
    peer.socatPid = socat.pid;
    peer.socatExited = socat.exited;

    r = await runCommand(["ip", "link", "set", "dev", peer.tap, "netns", ns], { timeoutMs });
    if (r.code !== 0) throw failed(`moving ${peer.tap} into ${ns}`, r);
    r = await runCommand(
      ["ip", "-n", ns, "-batch", "-"],
      {
        timeoutMs,
        input: [
          `link set dev ${peer.tap} mtu ${mtu}`,
          `addr add ${linuxAddress} dev ${peer.tap}`,
          `link set dev ${peer.tap} up`,
          "link set dev lo up",
          "",
        ].join("\n"),
      },
    );
    if (r.code !== 0) throw failed(`configuring ${peer.tap}`, r);
    r = await runCommand(["ip", "-n", ns, "-j", "link", "show", "dev", peer.tap], { timeoutMs });
    if (r.code !== 0) throw failed(`reading ${peer.tap}`, r);
    const info = JSON.parse(r.stdout) as { address?: string }[];
    peer.linuxMac = info[0]?.address ?? "";
    return peer;
  } catch (e) {
    await peer.abort();
    throw e;
  }
}

/** Creates a peer, runs `fn` with it, and closes the peer whatever happens. */
export async function withLinuxPeer<T>(opts: LinuxPeerOptions, fn: (peer: LinuxPeer) => Promise<T> | T): Promise<T> {
  const peer = await createLinuxPeer(opts);
  try {
    return await fn(peer);
  } finally {
    await peer.close();
  }
}

/** Names of the namespaces this process created and has not deleted yet. */
export function livePeers(): string[] {
  return [...live].map((p) => p.ns);
}
