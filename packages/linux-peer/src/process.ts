/**
 * Child processes: running a command to completion with a timeout, and
 * long-running processes with bounded output capture and a graceful kill.
 */
import { spawn, type ChildProcess } from "node:child_process";

/** Output kept per stream by {@link runCommand} and {@link PeerProcess}: the first 16 MiB. */
export const MAX_CAPTURE_BYTES = 16 * 1024 * 1024;
/** Default timeout of {@link LinuxPeer.exec}: 30 s. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
/** How long `kill()` waits after SIGTERM before sending SIGKILL: 2 s. */
export const DEFAULT_KILL_GRACE_MS = 2_000;

export interface ExecOptions {
  /** Kill the command (SIGKILL) after this long; default 30 000 ms. The result then has `timedOut: true`. */
  timeoutMs?: number;
  /** Written to the command's standard input, which is then closed. */
  input?: string | Uint8Array;
}

export interface ExecResult {
  /** The exit code, or null when the command was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the command was killed because it ran past `timeoutMs`. */
  timedOut: boolean;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A bounded text accumulator: keeps the first `limit` bytes of a stream. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  truncated = false;
  onData: (() => void) | undefined;

  constructor(private readonly limit = MAX_CAPTURE_BYTES) {}

  push = (chunk: Buffer): void => {
    if (this.bytes < this.limit) {
      const room = this.limit - this.bytes;
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.chunks.push(part);
      this.bytes += part.length;
      if (part.length < chunk.length) this.truncated = true;
    } else {
      this.truncated = true;
    }
    this.onData?.();
  };

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

function exitPromise(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode as NodeJS.Signals | null });
      return;
    }
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      resolve({ code, signal });
    };
    child.once("close", finish);
    // "close" waits for the output pipes; a grandchild that inherited them could hold them open.
    child.once("exit", (code, signal) => setTimeout(() => finish(code, signal), 1000).unref());
    // A command that could not be started (ENOENT) emits "error" and maybe no "close".
    child.once("error", () => setImmediate(() => finish(child.exitCode ?? 127, child.signalCode as NodeJS.Signals | null)));
  });
}

/**
 * Runs `cmd[0]` with arguments `cmd[1..]` to completion, capturing its output.
 * Never rejects for a failing command: the exit code is in the result. A
 * command that cannot be started resolves with code 127 and the error in `stderr`.
 */
export function runCommand(cmd: readonly string[], opts: ExecOptions = {}, track?: (p: ChildProcess) => () => void): Promise<ExecResult> {
  const [file, ...args] = cmd;
  if (file === undefined) return Promise.reject(new TypeError("runCommand: empty command"));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const child = spawn(file, args, { stdio: [opts.input !== undefined ? "pipe" : "ignore", "pipe", "pipe"] });
  const untrack = track?.(child);
  const out = new Capture();
  const err = new Capture();
  child.stdout!.on("data", out.push);
  child.stderr!.on("data", err.push);
  let spawnError: Error | undefined;
  child.on("error", (e) => {
    spawnError = e;
  });
  if (opts.input !== undefined) {
    child.stdin!.on("error", () => {}); // EPIPE when the command exits without reading
    child.stdin!.end(opts.input);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  return exitPromise(child).then((st) => {
    clearTimeout(timer);
    untrack?.();
    const stderr = err.text() + (spawnError !== undefined ? `${spawnError.message}\n` : "");
    return { code: spawnError !== undefined && st.code === null ? 127 : st.code, signal: st.signal, stdout: out.text(), stderr, timedOut };
  });
}

/** Options of {@link LinuxPeer.spawn}. */
export interface SpawnOptions {
  /**
   * `"capture"` (default): standard output is captured as text (the first 16
   * MiB, see `stdout()`) and can be waited for. `"pipe"`: it is left to the
   * caller, who reads `child.stdout` (for a binary protocol); `stdout()` is
   * then always empty and `waitForOutput` watches standard error only.
   */
  stdout?: "capture" | "pipe";
}

/** A long-running process started by {@link LinuxPeer.spawn}. */
export interface PeerProcess {
  readonly pid: number;
  /** The Node.js child process (its stdin is a pipe, stdout and stderr are pipes also read by the capture). */
  readonly child: ChildProcess;
  /** Resolves when the process has exited and its output is closed. */
  readonly exited: Promise<ExitStatus>;
  /** The captured standard output so far (the first 16 MiB, as UTF-8); empty with `stdout: "pipe"`. */
  stdout(): string;
  /** The captured standard error so far. */
  stderr(): string;
  /**
   * Resolves once `pattern` appears in stdout or stderr (for readiness lines
   * such as tcpdump's "listening on"); rejects if the process exits first or
   * after `timeoutMs` (default 10 000).
   */
  waitForOutput(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM (or `signal`), then SIGKILL after 2 s; resolves with the exit status. Idempotent. */
  kill(signal?: NodeJS.Signals): Promise<ExitStatus>;
}

export function startProcess(
  cmd: readonly string[],
  track?: (p: ChildProcess) => () => void,
  captureBytes = MAX_CAPTURE_BYTES,
  opts: SpawnOptions = {},
): PeerProcess {
  const [file, ...args] = cmd;
  if (file === undefined) throw new TypeError("spawn: empty command");
  const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
  const untrack = track?.(child);
  const out = new Capture(captureBytes);
  const err = new Capture(captureBytes);
  if (opts.stdout !== "pipe") child.stdout!.on("data", out.push);
  child.stderr!.on("data", err.push);
  child.stdin!.on("error", () => {});
  let spawnError: Error | undefined;
  child.on("error", (e) => {
    spawnError = e;
  });
  const exited = exitPromise(child).then((st) => {
    untrack?.();
    return st;
  });
  let killing: Promise<ExitStatus> | undefined;
  const proc: PeerProcess = {
    pid: child.pid ?? -1,
    child,
    exited,
    stdout: () => out.text(),
    stderr: () => err.text() + (spawnError !== undefined ? `${spawnError.message}\n` : ""),
    waitForOutput(pattern, timeoutMs = 10_000) {
      const matches = (): boolean => {
        const text = out.text() + "\n" + err.text();
        return typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
      };
      return new Promise<void>((resolve, reject) => {
        if (matches()) return resolve();
        const cleanup = (): void => {
          clearTimeout(timer);
          out.onData = undefined;
          err.onData = undefined;
        };
        const check = (): void => {
          if (matches()) {
            cleanup();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`waitForOutput: ${String(pattern)} did not appear within ${timeoutMs} ms; stderr: ${err.text().slice(-2000)}`));
        }, timeoutMs);
        out.onData = check;
        err.onData = check;
        void exited.then((st) => {
          if (matches()) return;
          cleanup();
          reject(new Error(`waitForOutput: process exited (${st.code ?? st.signal}) before ${String(pattern)} appeared; stderr: ${err.text().slice(-2000)}`));
        });
      });
    },
    kill(signal = "SIGTERM") {
      if (killing !== undefined) return killing;
      killing = terminate(child, exited, signal);
      return killing;
    },
  };
  return proc;
}

/** Sends `signal`, then SIGKILL after the grace period; resolves with the exit status. */
export async function terminate(child: ChildProcess, exited: Promise<ExitStatus>, signal: NodeJS.Signals = "SIGTERM", graceMs = DEFAULT_KILL_GRACE_MS): Promise<ExitStatus> {
  if (child.exitCode === null && child.signalCode === null) {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  }
  return exited;
}
