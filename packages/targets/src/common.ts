/**
 * What the three targets share: the output sink, the argument parser, waiting
 * for SIGINT/SIGTERM, and the error lines. It imports no stack, so a bundle
 * of one target holds only that target's stack.
 */
import { MorganaError, parseIpv4 } from "@morgana/interfaces";

/** Where `main` writes: one line per call, without the newline. */
export interface TargetIo {
  out(line: string): void;
  err(line: string): void;
}

/** Extras of every `main`, for embedding and tests (the contract's `main(app, argv, io)` needs none of them). */
export interface MainOptions {
  /** Stops a serving target as SIGINT does. */
  readonly signal?: AbortSignal;
  /** Listen for SIGINT and SIGTERM (default true). */
  readonly handleSignals?: boolean;
}

export const stdio: TargetIo = {
  out: (line) => void process.stdout.write(line + "\n"),
  err: (line) => void process.stderr.write(line + "\n"),
};

/** A configuration error: `main` prints its message as one line and returns 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export type OptionKind = "port" | "address" | "path";

export interface OptionSpec {
  readonly kind: OptionKind;
  readonly help: string;
}

/**
 * Parses `--name VALUE` and `--name=VALUE` options; `--help`/`-h` gives
 * `{ help: true }`. Unknown options, positional arguments, missing values, a
 * port outside 1..65535 or an address that is not a dotted quad throw a
 * {@link UsageError} naming the target's options.
 */
export function parseArgs(target: string, argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): { help: boolean; values: Record<string, string | number> } {
  const values: Record<string, string | number> = {};
  const known = Object.keys(spec)
    .map((k) => `--${k} ${spec[k]!.kind === "port" ? "N" : spec[k]!.kind === "address" ? "A" : "FILE"}`)
    .join(", ");
  const takes = known === "" ? `the ${target} target takes no options` : `the ${target} target takes ${known}`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return { help: true, values };
    const m = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (m === null) throw new UsageError(arg.startsWith("-") ? `unknown option ${arg} (${takes})` : `unexpected argument ${JSON.stringify(arg)} (${takes})`);
    const name = m[1]!;
    const opt = spec[name];
    if (opt === undefined) throw new UsageError(`unknown option --${name} (${takes})`);
    let raw = m[2];
    if (raw === undefined) {
      raw = argv[++i];
      if (raw === undefined) throw new UsageError(`--${name} needs a value`);
    }
    values[name] = checkValue(name, opt.kind, raw);
  }
  return { help: false, values };
}

function checkValue(name: string, kind: OptionKind, raw: string): string | number {
  switch (kind) {
    case "port": {
      const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
      if (!(n >= 1 && n <= 65535)) throw new UsageError(`bad port ${JSON.stringify(raw)} for --${name} (1 to 65535)`);
      return n;
    }
    case "address":
      try {
        parseIpv4(raw);
      } catch {
        throw new UsageError(`bad address ${JSON.stringify(raw)} for --${name} (an IPv4 address such as 127.0.0.1)`);
      }
      return raw;
    case "path":
      if (raw === "") throw new UsageError(`--${name} needs a file name`);
      return raw;
  }
}

/** The usage text of a target: its options, one per line. */
export function usage(target: string, summary: string, spec: Readonly<Record<string, OptionSpec>>): string {
  const lines = [`usage: morgana run APP --target ${target} [options]`, "", `  ${summary}`, ""];
  for (const [name, opt] of Object.entries(spec)) {
    const arg = `--${name} ${opt.kind === "port" ? "N" : opt.kind === "address" ? "A" : "FILE"}`;
    lines.push(`  ${arg.padEnd(18)} ${opt.help}`);
  }
  return lines.join("\n");
}

/** Resolves on SIGINT or SIGTERM (or the signal's abort); removes its listeners. */
export function untilStopped(opts: MainOptions): Promise<string> {
  return new Promise<string>((resolve) => {
    const stop = (why: string) => () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      opts.signal?.removeEventListener("abort", onAbort);
      resolve(why);
    };
    const onInt = stop("SIGINT");
    const onTerm = stop("SIGTERM");
    const onAbort = stop("abort");
    if (opts.handleSignals !== false) {
      process.on("SIGINT", onInt);
      process.on("SIGTERM", onTerm);
    }
    if (opts.signal?.aborted === true) onAbort();
    else opts.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The message of anything thrown, for one line. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** True for a MorganaError (or Node error) with this code. */
export function hasCode(err: unknown, code: string): err is MorganaError {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/** An application's log lines, prefixed with its name. */
export function appLog(io: TargetIo, name: string): (line: string) => void {
  return (line) => io.out(`${name}: ${line}`);
}

/** Runs a `main` body: a UsageError is one line and 2, anything else one line and 1. Never throws. */
export async function guard(io: TargetIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`morgana: ${err.message}`);
      return 2;
    }
    io.err(`morgana: ${messageOf(err)}`);
    return 1;
  }
}

