/**
 * `morgana run APP --target T [target args]` and
 * `morgana bundle APP --target T --out FILE [--minify]`.
 *
 * Both generate a tiny entry module that imports the application (APP's
 * default export, an `App` from @morgana/interfaces) and the target's
 * composition code (`@morgana/targets/<T>`, whose `main(app, argv, io)` builds
 * the stack, starts the app and returns an exit code), and bundle it with
 * esbuild: platform node, format esm, workspace packages resolved to their
 * TypeScript sources through the "@morgana/source" export condition (when the
 * sources are present, i.e. in the monorepo), every other import bundled too:
 * only Node's built-ins stay external. `run` writes the bundle to a temporary
 * directory, imports it and calls the target's `main` in this process;
 * `bundle` writes it to FILE (a self-contained, shebang-free ES module that
 * `node FILE [target args]` runs) and reports its size and contents.
 *
 * Every error (unknown target or option, APP missing or without a default
 * `App` export, a build failure) is one line on stderr and exit code 2; the
 * target reports its own errors the same way (one line, 2 for configuration
 * errors such as a port in use, 1 for runtime failures).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { App, AppTarget } from "@morgana/interfaces";
import type { Io } from "./main.js";

export const TARGETS: readonly AppTarget[] = ["socket", "direct", "tap"];
export const DEFAULT_TARGET: AppTarget = "direct";

export const RUN_USAGE = `usage: morgana run APP [--target socket|direct|tap] [target options]

  Builds APP (a directory with a package.json, or a module file, whose default
  export is an App) for the target and runs it. Default target: direct.
    socket   the host's sockets:            [--port N (8080)] [--dns-port N (5353)] [--address A (127.0.0.1)]
    direct   Morgana's stack on an in-memory network, with a client that fetches every page:
                                            [--pcap FILE (a file in the temporary directory)]
    tap      Morgana's stack on a Linux TAP in a network namespace (root, socat)
  --target may be given more than once: the last one wins.`;

export const BUNDLE_USAGE = `usage: morgana bundle APP [--target socket|direct|tap] --out FILE [--minify] [--metafile JSON]

  Writes APP built for the target as one self-contained ES module (only Node's
  built-ins are imported) that \`node FILE [target options]\` runs, and prints
  its size and the packages in it. --metafile writes esbuild's metafile.`;

/** A one-line error for the user (exit code 2). */
export class CliError extends Error {}

/** Where an application's source is. */
export interface ResolvedApp {
  /** The module file whose default export is the App (absolute). */
  readonly entry: string;
  /** The package directory, when APP was a directory. */
  readonly dir?: string;
}

/**
 * Resolves APP: a directory with a package.json (its "." export under the
 * "@morgana/source" condition, else "module", else "main", else index.ts or
 * index.js) or a module file.
 */
export function resolveApp(spec: string, cwd = process.cwd()): ResolvedApp {
  const abs = path.resolve(cwd, spec);
  if (!existsSync(abs)) throw new CliError(`no application at ${spec} (no such file or directory)`);
  if (!statSync(abs).isDirectory()) return { entry: abs };
  const pjPath = path.join(abs, "package.json");
  if (!existsSync(pjPath)) {
    for (const f of ["index.ts", "index.js", "index.mjs"]) {
      if (existsSync(path.join(abs, f))) return { entry: path.join(abs, f), dir: abs };
    }
    throw new CliError(`${spec} is a directory without a package.json or an index.ts`);
  }
  let pj: Record<string, unknown>;
  try {
    pj = JSON.parse(readFileSync(pjPath, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new CliError(`${path.join(spec, "package.json")}: ${(e as Error).message}`);
  }
  const candidates: string[] = [];
  const source = sourceExport(pj.exports);
  if (source !== undefined) candidates.push(source);
  for (const field of ["module", "main"]) {
    const v = pj[field];
    if (typeof v === "string") candidates.push(v);
  }
  candidates.push("index.ts", "index.js");
  for (const c of candidates) {
    const f = path.resolve(abs, c);
    if (existsSync(f) && statSync(f).isFile()) return { entry: f, dir: abs };
  }
  throw new CliError(`${spec}: package.json names no existing entry module (tried ${candidates.join(", ")})`);
}

/** The "@morgana/source" condition of the "." export, if any. */
function sourceExport(exports: unknown): string | undefined {
  if (exports === null || typeof exports !== "object") return undefined;
  const e = exports as Record<string, unknown>;
  const dot = "." in e ? e["."] : e;
  if (dot === null || typeof dot !== "object") return undefined;
  const s = (dot as Record<string, unknown>)["@morgana/source"];
  return typeof s === "string" ? s : undefined;
}

/** True when `x` has the shape of an App. */
export function isApp(x: unknown): x is App {
  if (x === null || typeof x !== "object") return false;
  const a = x as Record<string, unknown>;
  return typeof a.name === "string" && typeof a.domain === "string" && Array.isArray(a.pages) && typeof a.start === "function";
}

const APP_HINT = "export default defineApp({ name, domain, pages, start }) with defineApp from @morgana/interfaces";
const NOT_AN_APP = `its default export is not an App (${APP_HINT})`;

/**
 * The directory @morgana/targets is resolved from: this module's (src/ or
 * dist/ of @morgana/cli, or node_modules/.cache/morgana where bin/morgana.mjs
 * bundles the sources), so the targets are found wherever APP is.
 */
function resolveDir(): string {
  return path.dirname(fileURLToPath(import.meta.url));
}

/**
 * Where @morgana/targets is installed, as found from {@link resolveDir}: the
 * directory holding its node_modules (the workspace root in the monorepo),
 * which is also esbuild's working directory, so the bundle's path comments and
 * the metafile's keys do not depend on the caller's working directory; and
 * whether its sources are there: the "@morgana/source" condition (workspace
 * packages resolved to their TypeScript sources) is used in the monorepo, an
 * installed package ships dist/ only and is bundled from there.
 */
function targetsHome(): { root: string; sources: boolean } {
  for (let dir = resolveDir(); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "node_modules", "@morgana", "targets");
    if (existsSync(pkg)) return { root: dir, sources: existsSync(path.join(pkg, "src")) };
    if (path.dirname(dir) === dir) return { root: process.cwd(), sources: true };
  }
}

export interface BuildOptions {
  readonly app: ResolvedApp;
  readonly target: AppTarget;
  /** `run`: an entry exporting `app` and `main`; `bundle`: a program calling `main(app, process.argv.slice(2))`. */
  readonly mode: "run" | "bundle";
  readonly outfile: string;
  readonly minify?: boolean;
}

/** What esbuild produced, and what it contains. */
export interface BuildResult {
  readonly outfile: string;
  readonly bytes: number;
  /** esbuild's metafile; its paths are relative to {@link workingDir}. */
  readonly metafile: Metafile;
  /** esbuild's working directory (where @morgana/targets's node_modules is: the workspace root in the monorepo). */
  readonly workingDir: string;
  /** Packages whose code is in the output (bytesInOutput > 0), by name, sorted. */
  readonly packages: readonly string[];
  /** Source files in the output (absolute paths). */
  readonly files: readonly string[];
  /** Imports left external (Node built-ins). */
  readonly externals: readonly string[];
}

export interface Metafile {
  inputs: Record<string, { bytes: number; format?: "esm" | "cjs"; imports: { path: string; kind: string; external?: boolean }[] }>;
  outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }>; imports: { path: string; kind: string; external?: boolean }[] }>;
}

/** The generated entry module's name (in the metafile and in messages). */
const ENTRY_NAME = "morgana-entry.mjs";
const REQUIRE_SHIM = "import { createRequire as __morganaCreateRequire } from 'node:module'; const require = __morganaCreateRequire(import.meta.url);";

function entrySource(app: ResolvedApp, target: AppTarget, mode: "run" | "bundle"): string {
  const appSpec = JSON.stringify(app.entry.split(path.sep).join("/"));
  const targetSpec = JSON.stringify(`@morgana/targets/${target}`);
  if (mode === "run") return `export { default as app } from ${appSpec};\nexport { main } from ${targetSpec};\n`;
  return [
    `import app from ${appSpec};`,
    `import { main } from ${targetSpec};`,
    `const a = app;`,
    `if (a === null || typeof a !== "object" || typeof a.name !== "string" || typeof a.domain !== "string" || !Array.isArray(a.pages) || typeof a.start !== "function") {`,
    `  process.stderr.write(${JSON.stringify(`morgana: ${NOT_AN_APP}`)} + "\\n");`,
    `  process.exitCode = 2;`,
    `} else {`,
    `  process.exitCode = await main(a, process.argv.slice(2));`,
    `}`,
    ``,
  ].join("\n");
}

/** Bundles the entry for `target` with esbuild. Throws CliError (one line) when the build fails. */
export async function buildApp(opts: BuildOptions): Promise<BuildResult> {
  const { build } = await import("esbuild");
  const display = shortPath(opts.app.entry);
  const home = targetsHome();
  const options = {
    absWorkingDir: home.root,
    stdin: { contents: entrySource(opts.app, opts.target, opts.mode), resolveDir: resolveDir(), sourcefile: ENTRY_NAME, loader: "js" as const },
    bundle: true,
    platform: "node" as const,
    format: "esm" as const,
    target: "node20",
    outfile: opts.outfile,
    write: false,
    metafile: true,
    minify: opts.minify === true,
    conditions: home.sources ? ["@morgana/source"] : [],
    sourcemap: opts.mode === "run" ? ("inline" as const) : false,
    logLevel: "silent" as const,
  };
  let result;
  try {
    result = await build(options);
    // CommonJS code that calls require() needs a real require in an ES module: add one only then.
    const formats = Object.values((result.metafile as unknown as Metafile).inputs).map((i) => i.format);
    if (formats.includes("cjs")) result = await build({ ...options, banner: { js: REQUIRE_SHIM } });
  } catch (e) {
    throw new CliError(describeBuildFailure(e, display, opts.target, home.root));
  }
  const outputs = result.outputFiles ?? [];
  const file = outputs.find((f) => path.resolve(f.path) === path.resolve(opts.outfile)) ?? outputs[0];
  if (file === undefined) throw new CliError(`cannot build ${display}: esbuild produced no output`);
  writeFileSync(opts.outfile, file.contents);
  const metafile = result.metafile as unknown as Metafile;
  const cwd = home.root;
  const outKey = Object.keys(metafile.outputs).find((k) => path.resolve(cwd, k) === path.resolve(opts.outfile));
  const output = outKey === undefined ? undefined : metafile.outputs[outKey];
  const files: string[] = [];
  const packages = new Set<string>();
  for (const [input, info] of Object.entries(output?.inputs ?? {})) {
    if (info.bytesInOutput === 0 || path.basename(input) === ENTRY_NAME) continue;
    const abs = path.resolve(cwd, input);
    files.push(abs);
    const name = packageOf(abs);
    if (name !== undefined) packages.add(name);
  }
  const externals = new Set<string>();
  for (const i of output?.imports ?? []) if (i.external === true) externals.add(i.path);
  return {
    outfile: opts.outfile,
    bytes: file.contents.length,
    metafile,
    workingDir: home.root,
    packages: [...packages].sort(),
    files: files.sort(),
    externals: [...externals].sort(),
  };
}

const pkgCache = new Map<string, string | undefined>();

/** The name in the nearest package.json above `file`. */
export function packageOf(file: string): string | undefined {
  let dir = path.dirname(file);
  const seen: string[] = [];
  let name: string | undefined;
  for (;;) {
    if (pkgCache.has(dir)) {
      name = pkgCache.get(dir);
      break;
    }
    seen.push(dir);
    const pj = path.join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        const n = (JSON.parse(readFileSync(pj, "utf8")) as { name?: unknown }).name;
        if (typeof n === "string") {
          name = n;
          break;
        }
      } catch {
        // A malformed package.json: keep looking above.
      }
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  for (const d of seen) pkgCache.set(d, name);
  return name;
}

interface EsbuildMessage {
  text: string;
  location?: { file: string; line: number; column: number } | null;
}

function describeBuildFailure(e: unknown, display: string, target: AppTarget, root: string): string {
  const errors = (e as { errors?: EsbuildMessage[] }).errors;
  const first = errors?.[0];
  if (first === undefined) return `cannot build ${display}: ${(e as Error).message.split("\n")[0]}`;
  if (errors!.some((m) => /No matching export in .* for import "default"/.test(m.text))) return `${display} has no default export (${APP_HINT})`;
  if (first.text.includes(`"@morgana/targets/${target}"`)) return `cannot build ${display}: the ${target} target (@morgana/targets/${target}) was not found`;
  const loc = first.location ? `${shortPath(path.resolve(root, first.location.file))}:${first.location.line}:${first.location.column + 1}: ` : "";
  const more = errors !== undefined && errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? "s" : ""})` : "";
  return `cannot build ${display}: ${loc}${first.text}${more}`;
}

// ---- argument parsing ---------------------------------------------------------------------------

interface Parsed {
  app?: string;
  target: string;
  out?: string;
  metafile?: string;
  minify: boolean;
  help: boolean;
  rest: string[];
}

/**
 * Takes `--target T` / `--target=T` from anywhere (the last wins, so
 * `npm start -- --target socket` overrides the script's target), APP as the
 * first remaining argument, and, for `bundle`, `--out FILE` and `--minify`.
 * Everything else is left for the target (run) or refused (bundle).
 */
function parse(args: readonly string[], cmd: "run" | "bundle"): Parsed {
  const p: Parsed = { target: DEFAULT_TARGET, minify: false, help: false, rest: [] };
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (name: string): string => {
      const eq = `${name}=`;
      if (a.startsWith(eq)) return a.slice(eq.length);
      const v = args[i + 1];
      if (v === undefined || v === "") throw new CliError(`${name} needs a value`);
      i++;
      return v;
    };
    if (a === "--target" || a.startsWith("--target=")) p.target = value("--target");
    else if (cmd === "bundle" && (a === "--out" || a.startsWith("--out=") || a === "-o")) p.out = value(a === "-o" ? "-o" : "--out");
    else if (cmd === "bundle" && (a === "--metafile" || a.startsWith("--metafile="))) p.metafile = value("--metafile");
    else if (cmd === "bundle" && a === "--minify") p.minify = true;
    else if (a === "--help" || a === "-h") p.help = true;
    else rest.push(a);
  }
  const first = rest[0];
  if (first !== undefined && !first.startsWith("-")) {
    p.app = first;
    rest.shift();
  }
  p.rest = rest;
  return p;
}

function checkTarget(t: string): AppTarget {
  if ((TARGETS as readonly string[]).includes(t)) return t as AppTarget;
  throw new CliError(`unknown target ${JSON.stringify(t)} (targets: ${TARGETS.join(", ")})`);
}

// ---- the commands -------------------------------------------------------------------------------

/** Extras for embedding and tests, passed on to the target's `main`. */
export interface RunCommandOptions {
  /** Stops a serving target (socket, tap) as SIGINT does. */
  readonly signal?: AbortSignal;
  /** Let the target listen for SIGINT and SIGTERM (default true). */
  readonly handleSignals?: boolean;
}

type TargetMain = (app: App, argv: readonly string[], io?: Io, opts?: RunCommandOptions) => Promise<number>;

/** `morgana run`. Returns the target's exit code, or 2 with one line on io.err. */
export async function runCommand(args: readonly string[], io: Io, opts: RunCommandOptions = {}): Promise<number> {
  let dir: string | undefined;
  try {
    const p = parse(args, "run");
    if (p.help) {
      io.out(RUN_USAGE);
      return 0;
    }
    const target = checkTarget(p.target);
    if (p.app === undefined) throw new CliError(`missing APP (${RUN_USAGE.split("\n")[0]!.replace("usage: ", "")})`);
    const app = resolveApp(p.app);
    dir = mkdtempSync(path.join(tmpdir(), "morgana-run-"));
    const outfile = path.join(dir, `app-${target}.mjs`);
    await buildApp({ app, target, mode: "run", outfile });
    let mod: { app?: unknown; main?: unknown };
    try {
      mod = (await import(pathToFileURL(outfile).href)) as typeof mod;
    } catch (e) {
      throw new CliError(`${p.app}: loading the application failed: ${oneLine(e)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    }
    if (!isApp(mod.app)) throw new CliError(`${p.app}: ${NOT_AN_APP}`);
    if (typeof mod.main !== "function") throw new CliError(`@morgana/targets/${target} exports no main()`);
    const main = mod.main as TargetMain;
    try {
      return await main(mod.app, p.rest, io, opts);
    } catch (e) {
      // The contract says main never throws; should it, still one line.
      io.err(`morgana run: the ${target} target failed: ${oneLine(e)}`);
      return 1;
    }
  } catch (e) {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    if (e instanceof CliError) {
      io.err(`morgana run: ${e.message}`);
      return 2;
    }
    io.err(`morgana run: ${oneLine(e)}`);
    return 1;
  }
}

/** `morgana bundle`. */
export async function bundleCommand(args: readonly string[], io: Io): Promise<number> {
  try {
    const p = parse(args, "bundle");
    if (p.help) {
      io.out(BUNDLE_USAGE);
      return 0;
    }
    const target = checkTarget(p.target);
    if (p.app === undefined) throw new CliError(`missing APP (${BUNDLE_USAGE.split("\n")[0]!.replace("usage: ", "")})`);
    if (p.rest.length > 0) throw new CliError(`unexpected argument ${p.rest[0]!} (target options are given to \`node FILE\`, not to bundle)`);
    if (p.out === undefined) throw new CliError("--out FILE is required");
    const app = resolveApp(p.app);
    const outfile = path.resolve(p.out);
    if (existsSync(outfile) && statSync(outfile).isDirectory()) throw new CliError(`--out ${p.out} is a directory`);
    mkdirSync(path.dirname(outfile), { recursive: true });
    const r = await buildApp({ app, target, mode: "bundle", outfile, minify: p.minify });
    if (p.metafile !== undefined) writeFileSync(p.metafile, JSON.stringify(r.metafile));
    io.out(`${p.out}: ${r.bytes} bytes (${(r.bytes / 1024).toFixed(1)} KiB)`);
    io.out(`  ${shortPath(app.entry)} on the ${target} target${p.minify ? ", minified" : ""}, ${r.files.length} source files`);
    const morgana = r.packages.filter((n) => n.startsWith("@morgana/"));
    const others = r.packages.filter((n) => !n.startsWith("@morgana/"));
    io.out(`  @morgana packages (${morgana.length}): ${morgana.map((n) => n.slice("@morgana/".length)).join(", ")}`);
    if (others.length > 0) io.out(`  other packages (${others.length}): ${others.join(", ")}`);
    io.out(`  Node built-ins imported: ${r.externals.length > 0 ? r.externals.join(", ") : "none"}`);
    io.out(`  run it: node ${p.out}${target === "direct" ? " [--pcap FILE]" : target === "socket" ? " [--port N] [--dns-port N] [--address A]" : ""}`);
    return 0;
  } catch (e) {
    if (e instanceof CliError) {
      io.err(`morgana bundle: ${e.message}`);
      return 2;
    }
    io.err(`morgana bundle: ${oneLine(e)}`);
    return 1;
  }
}

/** `file` relative to the working directory when it is below it, else absolute. */
function shortPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === "" || rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
}

function oneLine(e: unknown): string {
  const m = e instanceof Error ? `${(e as { code?: unknown }).code !== undefined ? `${String((e as { code?: unknown }).code)}: ` : ""}${e.message}` : String(e);
  return m.split("\n")[0]!;
}

