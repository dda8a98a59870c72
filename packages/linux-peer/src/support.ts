/**
 * Can this machine run Linux-peer tests? Root, the tools, /dev/net/tun, and a
 * network namespace that can actually be created.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";

export interface LinuxPeerSupport {
  ok: boolean;
  /** Why not, when `ok` is false. */
  reason?: string;
}

export interface SupportOptions {
  /** Extra commands the caller needs besides ip, socat and ping (e.g. `["tcpdump"]`). */
  tools?: readonly string[];
}

/** The commands every Linux peer needs. */
export const REQUIRED_TOOLS = ["ip", "socat", "ping"] as const;

const toolCache = new Map<string, boolean>();
let baseResult: LinuxPeerSupport | undefined;

/** True when `cmd` can be run (found on PATH and starts). */
export function haveTool(cmd: string): boolean {
  let have = toolCache.get(cmd);
  if (have === undefined) {
    // Every tool we use accepts -V or --version; ENOENT is what matters, not the exit code.
    const r = spawnSync(cmd, [cmd === "socat" || cmd === "ping" ? "-V" : "--version"], { stdio: "ignore", timeout: 10_000 });
    have = r.error === undefined;
    toolCache.set(cmd, have);
  }
  return have;
}

function probeNamespace(): string | undefined {
  // Named like a peer, so that sweepStale() removes it should this process die in between.
  const name = `mg${process.pid.toString(36)}-p${randomBytes(3).toString("hex")}`;
  const add = spawnSync("ip", ["netns", "add", name], { encoding: "utf8", timeout: 10_000 });
  if (add.status !== 0) return `cannot create a network namespace: ${(add.stderr ?? "").trim() || add.error?.message || `ip exited ${add.status}`}`;
  const del = spawnSync("ip", ["netns", "del", name], { encoding: "utf8", timeout: 10_000 });
  if (del.status !== 0) return `cannot delete a network namespace: ${(del.stderr ?? "").trim()}`;
  return undefined;
}

function checkBase(): LinuxPeerSupport {
  if (process.platform !== "linux") return { ok: false, reason: `not Linux (${process.platform})` };
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return { ok: false, reason: "not running as root (network namespaces and TAP devices need CAP_NET_ADMIN)" };
  const missing = REQUIRED_TOOLS.filter((t) => !haveTool(t));
  if (missing.length > 0) return { ok: false, reason: `missing tools: ${missing.join(", ")} (Debian: iproute2, socat, iputils-ping)` };
  if (!existsSync("/dev/net/tun")) return { ok: false, reason: "/dev/net/tun does not exist (no TUN/TAP support)" };
  const ns = probeNamespace();
  if (ns !== undefined) return { ok: false, reason: ns };
  return { ok: true };
}

/**
 * Whether Linux peers can be created here: Linux, root, `ip`, `socat` and
 * `ping` on PATH (plus `opts.tools`), /dev/net/tun, and a network namespace
 * that can be created and deleted. The base check runs once per process.
 */
export function linuxPeerSupport(opts: SupportOptions = {}): LinuxPeerSupport {
  baseResult ??= checkBase();
  if (!baseResult.ok) return baseResult;
  const missing = (opts.tools ?? []).filter((t) => !haveTool(t));
  if (missing.length > 0) return { ok: false, reason: `missing tools: ${missing.join(", ")}` };
  return baseResult;
}

/** CI sets MORGANA_REQUIRE_TOOLS=1: tests that cannot run must then fail instead of skipping. */
export function toolsRequired(): boolean {
  return process.env.MORGANA_REQUIRE_TOOLS === "1";
}
