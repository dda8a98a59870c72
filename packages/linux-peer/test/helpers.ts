import { spawnSync } from "node:child_process";

/** Runs a command synchronously in the root namespace; returns its status and output. */
export function sh(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export function namespaces(): string[] {
  return sh("ip", ["netns", "list"])
    .stdout.split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((x) => x.length > 0);
}

export function rootLinkExists(name: string): boolean {
  return sh("ip", ["link", "show", "dev", name]).status === 0;
}

/** Every route of the root namespace, all tables, IPv4 and IPv6, as text lines. */
export function rootRoutes(): string[] {
  const v4 = sh("ip", ["-4", "route", "show", "table", "all"]).stdout;
  const v6 = sh("ip", ["-6", "route", "show", "table", "all"]).stdout;
  return `${v4}\n${v6}`.split("\n").filter((l) => l.length > 0);
}

export { processAlive } from "../src/index.js";

export async function waitUntil(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A pid that is certainly dead now: a child that has already exited. */
export function deadPid(): number {
  const r = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}
