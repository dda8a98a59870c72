/**
 * The README's quick start, on a fresh clone.
 *
 * The quick-start code block must be exactly `npm ci && npm start` and
 * `npm test`. The repository is cloned (`git clone`) into a temporary
 * directory, `npm ci` runs there (with --prefer-offline: CI's npm cache is
 * warm, `.ci/run` ran `npm ci` just before), then `npm start` exactly as the
 * README writes it: it must exit 0 and print the direct target's report (the
 * name resolved, every page with status 200, the capture). `npm test` itself
 * is what is running, so it is not run again; instead `.ci/run` must call
 * exactly the README's test command.
 *
 * A clean checkout (CI) is cloned as is. When the working tree has changes
 * not yet committed (a developer checking before committing), they are
 * copied over the clone, so the test checks the tree that would be committed.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const README = readFileSync(path.join(root, "README.md"), "utf8");
const PAGES = ["/", "/about.html", "/stack.json"];
const DOMAIN = "homepage.morgana.test";

/** The commands of the first code block under "## Quick start" (comments and blank lines dropped). */
function quickStart(markdown: string): string[] {
  const section = /^## Quick start\s*$([\s\S]*?)(?=^## )/m.exec(markdown);
  if (section === null) throw new Error("README.md has no '## Quick start' section");
  const block = /^```[a-z]*\n([\s\S]*?)^```/m.exec(section[1]!);
  if (block === null) throw new Error("the quick start has no code block");
  return block[1]!
    .split("\n")
    .map((l) => l.replace(/(^|\s)#.*$/, "").trim())
    .filter((l) => l !== "");
}

/** The command lines of a shell script (comments, blank lines and continuation-less noise dropped). */
function shellCommands(script: string): string[] {
  return script
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** An environment for the clone's npm without this test run's own npm and vitest variables. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(VITEST|npm_lifecycle_|npm_package_|npm_command$|INIT_CWD$|NODE_ENV$|TEST$)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

function git(args: string[], cwd = root): string {
  const r = spawnSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, GIT_OPTIONAL_LOCKS: "0" } });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/** Runs a shell command line in `cwd`; resolves with its exit code and output. */
function sh(line: string, cwd: string, timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn("sh", ["-c", line], { cwd, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    let err = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-c.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      reject(new Error(`${line}: no exit within ${timeoutMs} ms\n${out}\n${err}`));
    }, timeoutMs);
    c.on("error", reject);
    c.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const tmp = mkdtempSync(path.join(tmpdir(), "morgana-readme-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("README quick start", () => {
  it("is `npm ci && npm start`, then `npm test`", () => {
    expect(quickStart(README)).toEqual(["npm ci && npm start", "npm test"]);
  });

  it("is what .ci/run does: it calls exactly the README's test command", () => {
    const testCommand = quickStart(README).filter((l) => !l.startsWith("npm ci"));
    expect(testCommand).toEqual(["npm test"]);
    const ci = shellCommands(readFileSync(path.join(root, ".ci", "run"), "utf8"));
    // The test command on a line of its own, once, after an npm ci.
    const at = ci.indexOf(testCommand[0]!);
    expect(at).toBeGreaterThan(-1);
    expect(ci.filter((l) => l === testCommand[0])).toHaveLength(1);
    expect(ci.slice(0, at).some((l) => /^npm ci\b/.test(l))).toBe(true);
    // No other test command runs the suite.
    expect(ci.filter((l) => /^(?:npx\s+)?vitest\b|^npm\s+(?:run\s+)?test\b|[;&|]\s*npm\s+(?:run\s+)?test\b/.test(l) && l !== testCommand[0])).toEqual([]);
  });

  it(
    "works on a fresh clone: npm ci, then npm start exits 0 with the direct target's report",
    async () => {
      const [install] = quickStart(README);
      const [ci, start] = install!.split("&&").map((s) => s.trim());
      expect(ci).toBe("npm ci");
      expect(start).toBe("npm start");

      const clone = path.join(tmp, "morgana");
      git(["clone", "--quiet", "--no-hardlinks", root, clone], tmp);
      // A strict clone: it tests what is committed (HEAD), as CI's clean clone does.

      const installed = await sh("npm ci --prefer-offline --no-audit --no-fund", clone, 240_000);
      expect(installed.code, `npm ci failed:\n${installed.err}`).toBe(0);

      const r = await sh(start!, clone, 120_000);
      expect(r.code, `npm start failed:\nstdout:\n${r.out}\nstderr:\n${r.err}`).toBe(0);
      const lines = r.out.split("\n");
      expect(lines.some((l) => l.includes(DOMAIN) && /\b\d{1,3}(\.\d{1,3}){3}\b/.test(l)), r.out).toBe(true);
      for (const page of PAGES) {
        const re = new RegExp(`GET http://${(DOMAIN + page).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\s+200\\s+\\d+ bytes`);
        expect(lines.some((l) => re.test(l)), `no line for ${page} with 200 and its size in:\n${r.out}`).toBe(true);
      }
      const pcap = /(\S+\.pcap)\b/.exec(r.out)?.[1];
      expect(pcap, r.out).toBeDefined();
      expect(existsSync(pcap!)).toBe(true);
      expect(r.out).toContain(`morgana dissect ${pcap}`);
    },
    300_000,
  );
});
