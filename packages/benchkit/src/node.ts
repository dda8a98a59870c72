/**
 * Node-only helpers for benchmarks that load a server from another process.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";

export interface CannonResult {
  /** Requests completed per second over the run. */
  readonly rps: number;
  readonly errors: number;
  readonly non2xx: number;
}

export interface CannonOptions {
  /** Concurrent keep-alive connections, default 10. */
  readonly connections?: number;
  /** Run length in seconds, default 3. */
  readonly seconds?: number;
  /** A command to run autocannon under, e.g. `["ip", "netns", "exec", NS]` to load from inside a network namespace. */
  readonly prefix?: readonly string[];
}

const require = createRequire(import.meta.url);

/** Runs autocannon (npm, 8.0.0) in a child process against `url` and returns its requests per second. */
export function autocannon(url: string, opts: CannonOptions = {}): Promise<CannonResult> {
  const bin = require.resolve("autocannon/autocannon.js");
  const args = [process.execPath, bin, "-c", String(opts.connections ?? 10), "-d", String(opts.seconds ?? 3), "-j", url];
  const [cmd, ...rest] = [...(opts.prefix ?? []), ...args];
  return new Promise((resolve, reject) => {
    const c = spawn(cmd!, rest, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    c.on("error", reject);
    c.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      const j = JSON.parse(out) as { requests: { total: number }; duration: number; errors: number; non2xx: number };
      resolve({ rps: j.requests.total / j.duration, errors: j.errors, non2xx: j.non2xx });
    });
  });
}
