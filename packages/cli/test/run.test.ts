/**
 * `morgana run` and `morgana bundle`: every error is one line and exit code 2;
 * `run examples/homepage --target direct` end to end (a real process, as
 * `npm start` runs it); the socket and direct bundles are produced, run with
 * `node FILE`, and hold only their own target's code (the socket bundle no
 * TCP/IP of Morgana's, the direct bundle no node:net), checked in esbuild's
 * metafile and by scanning the text.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readCapture } from "@morgana/pcap";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/main.js";
import { packageOf, type Metafile } from "../src/run.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BIN = path.join(ROOT, "packages/cli/bin/morgana.mjs");
const HOMEPAGE = path.join(ROOT, "examples/homepage");
const DOMAIN = "homepage.morgana.test";
const PAGES = ["/", "/about.html", "/stack.json"];
/** The packages of Morgana's own TCP/IP stack, none of which may be in the socket bundle. */
const TCPIP = ["tcp", "ipv4", "arp", "ethif", "icmp", "udp", "stack", "vnetif"].map((p) => `@morgana/${p}`);

const tmp = mkdtempSync(path.join(tmpdir(), "morgana-run-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** Runs `fn` with `dir` as the working directory. */
async function inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return await fn();
  } finally {
    process.chdir(before);
  }
}

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** Runs `node ARGS` to completion (bounded). */
function node(args: string[], timeoutMs = 60_000): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => {
      c.kill("SIGKILL");
      reject(new Error(`node ${args.join(" ")}: still running after ${timeoutMs} ms\n${out}\n${err}`));
    }, timeoutMs);
    c.on("error", reject);
    c.on("exit", (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, out, err });
    });
  });
}

/** A port nobody listens on right now (bound and released). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * Checks the direct target's report as printed: the name resolved to the
 * server's address, each page with 200 and its size, the packet count, the
 * capture's path and the dissect command. Returns the page sizes.
 */
function checkDirectReport(out: string, pcap: string): Map<string, number> {
  const lines = out.split("\n");
  expect(lines).toContain(`resolved ${DOMAIN} -> 10.0.0.1 (asking the application's own DNS server)`);
  const sizes = new Map<string, number>();
  for (const page of PAGES) {
    const m = new RegExp(`GET http://${escape(DOMAIN + page)}\\s+(\\d{3})\\s+(\\d+) bytes`).exec(out);
    expect(m, `no line for ${page} in:\n${out}`).not.toBeNull();
    expect(Number(m![1])).toBe(200);
    sizes.set(page, Number(m![2]));
  }
  expect(lines).toContain(`capture: ${pcap}`);
  expect(out).toContain(`morgana dissect ${pcap}`);
  // The packet count printed is the capture's: every frame the server sent or received.
  const packets = Number(/^(\d+) packets, \d+ bytes exchanged/m.exec(out)?.[1]);
  const capture = readCapture(readFileSync(pcap));
  expect(capture.records.length).toBe(packets);
  expect(packets).toBeGreaterThan(10);
  return sizes;
}

// Throwaway applications for the error cases.
const apps = {
  noDefault: path.join(tmp, "no-default.ts"),
  notAnApp: path.join(tmp, "not-an-app.ts"),
  syntax: path.join(tmp, "syntax.ts"),
  unresolved: path.join(tmp, "unresolved.ts"),
  throws: path.join(tmp, "throws.ts"),
};
beforeAll(() => {
  writeFileSync(apps.noDefault, "export const name = 'x';\n");
  writeFileSync(apps.notAnApp, "export default { name: 'x', domain: 'x.test', pages: ['/'] };\n");
  writeFileSync(apps.syntax, "export default {;\n");
  writeFileSync(apps.unresolved, "import x from 'no-such-package-anywhere';\nexport default x;\n");
  writeFileSync(apps.throws, "throw new Error('boom at load\\nsecond line');\nexport default {};\n");
});

describe("morgana run: errors are one line and exit code 2", () => {
  const cases: [string, () => string[], RegExp][] = [
    ["an unknown target", () => ["run", HOMEPAGE, "--target", "vm"], /^morgana run: unknown target "vm" \(targets: socket, direct, tap\)$/],
    ["no APP", () => ["run"], /^morgana run: missing APP/],
    ["no APP, only options", () => ["run", "--target", "direct"], /^morgana run: missing APP/],
    ["an APP that does not exist", () => ["run", path.join(tmp, "nowhere")], /^morgana run: no application at .*nowhere \(no such file or directory\)$/],
    ["a directory that is not an application", () => ["run", tmp], /^morgana run: .* is a directory without a package\.json or an index\.ts$/],
    ["an APP without a default export", () => ["run", apps.noDefault], /^morgana run: .*no-default\.ts has no default export \(export default defineApp/],
    ["a default export that is not an App", () => ["run", apps.notAnApp], /^morgana run: .*not-an-app\.ts: its default export is not an App/],
    ["a syntax error (the bundle fails)", () => ["run", apps.syntax], /^morgana run: cannot build .*syntax\.ts: .*syntax\.ts:1:\d+: Expected/],
    ["an import that does not resolve (the bundle fails)", () => ["run", apps.unresolved], /^morgana run: cannot build .*unresolved\.ts: .*Could not resolve "no-such-package-anywhere"$/],
    ["--target=T, then an option that target refuses", () => ["run", HOMEPAGE, "--target=socket", "--port", "0"], /^morgana: bad port "0" for --port \(1 to 65535\)$/],
    ["--target without a value", () => ["run", HOMEPAGE, "--target"], /^morgana run: --target needs a value$/],
    ["an option the target does not take", () => ["run", HOMEPAGE, "--target", "direct", "--port", "80"], /^morgana: unknown option --port \(the direct target takes --pcap FILE\)$/],
    ["bundle without --out", () => ["bundle", HOMEPAGE], /^morgana bundle: --out FILE is required$/],
    ["bundle with a target option", () => ["bundle", HOMEPAGE, "--out", path.join(tmp, "x.mjs"), "--pcap", "x"], /^morgana bundle: unexpected argument --pcap/],
    ["bundle for an unknown target", () => ["bundle", HOMEPAGE, "--target", "xen", "--out", path.join(tmp, "x.mjs")], /^morgana bundle: unknown target "xen"/],
    ["bundle of an APP without a default export", () => ["bundle", apps.noDefault, "--out", path.join(tmp, "x.mjs")], /^morgana bundle: .*no-default\.ts has no default export/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await cli(args());
      expect(r.err, r.err.join("\n")).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
      expect(r.code).toBe(2);
      expect(r.out).toEqual([]);
      expect(existsSync(path.join(tmp, "x.mjs"))).toBe(false);
    });
  }

  it("an application that throws while loading: one line (exit 2), no stack trace", async () => {
    const r = await cli(["run", apps.throws]);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^morgana run: .*throws\.ts: loading the application failed: boom at load$/);
    expect(r.code).toBe(2);
  });

  it("a port in use, as the socket target reports it", async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    const dnsPort = await freePort();
    try {
      const r = await cli(["run", HOMEPAGE, "--target", "socket", "--port", String(port), "--dns-port", String(dnsPort)]);
      expect(r.err).toEqual([`morgana: port ${port} is in use (try --port N)`]);
      expect(r.code).toBe(2);
    } finally {
      await new Promise<void>((r) => busy.close(() => r()));
    }
  });

  it("a run that cannot write its capture: one line, exit 1 (a runtime failure, not a usage error)", async () => {
    const r = await cli(["run", HOMEPAGE, "--pcap", path.join(tmp, "no-such-dir", "x.pcap")]);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^morgana: /);
    expect(r.err[0]).not.toMatch(/\n|^\s+at /);
    expect(r.code).toBe(1);
  });
});

describe("morgana run examples/homepage --target direct", () => {
  it(
    "runs end to end as a process: prints the resolved name, each page with 200 and its size, the capture; exits 0",
    async () => {
      const pcap = path.join(tmp, "e2e.pcap");
      // As `npm start -- ...` passes it: the script's --target first, the user's last (the last wins).
      const r = await node([BIN, "run", "examples/homepage", "--target", "socket", "--target", "direct", "--pcap", pcap]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toContain("homepage on the direct target");
      const sizes = checkDirectReport(r.out, pcap);
      for (const s of sizes.values()) expect(s).toBeGreaterThan(0);
    },
    90_000,
  );

  it("--help prints the usage, exit 0", async () => {
    const r = await cli(["run", "--help"]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out.join("\n")).toMatch(/^usage: morgana run APP/);
  });
});

describe("morgana bundle", () => {
  const socket = path.join(tmp, "homepage-socket.mjs");
  const direct = path.join(tmp, "homepage-direct.mjs");
  const socketMeta = path.join(tmp, "homepage-socket.json");
  const directMeta = path.join(tmp, "homepage-direct.json");
  const reports: Record<string, string[]> = {};

  beforeAll(async () => {
    for (const [target, out, meta] of [
      ["socket", socket, socketMeta],
      ["direct", direct, directMeta],
    ] as const) {
      // From another working directory: paths in the metafile and the bundle are the workspace root's.
      const r = await inDir(tmp, () => cli(["bundle", HOMEPAGE, "--target", target, "--out", out, "--metafile", meta]));
      expect(r.err).toEqual([]);
      expect(r.code).toBe(0);
      reports[target] = r.out;
    }
  }, 60_000);

  it("writes the files and prints their size in bytes and KiB and the packages in them", () => {
    for (const [target, file] of [
      ["socket", socket],
      ["direct", direct],
    ] as const) {
      const out = reports[target]!;
      const size = statSync(file).size;
      expect(out[0]).toBe(`${file}: ${size} bytes (${(size / 1024).toFixed(1)} KiB)`);
      const meta = JSON.parse(readFileSync(target === "socket" ? socketMeta : directMeta, "utf8")) as Metafile;
      const inOutput = Object.entries(Object.values(meta.outputs)[0]!.inputs)
        .filter(([f, i]) => i.bytesInOutput > 0 && path.basename(f) !== "morgana-entry.mjs")
        .map(([f]) => packageOf(path.resolve(ROOT, f)))
        .filter((n): n is string => n?.startsWith("@morgana/") === true);
      const listed = out.find((l) => l.startsWith("  @morgana packages"))!;
      expect(listed).toBeDefined();
      const names = listed.replace(/^.*: /, "").split(", ").map((n) => `@morgana/${n}`);
      expect(new Set(names)).toEqual(new Set(inOutput));
      expect(names).toContain(`@morgana/targets`);
      expect(names).toContain(`@morgana/http`);
    }
  });

  it("the socket bundle holds no TCP/IP code of Morgana's (metafile and text)", () => {
    const meta = JSON.parse(readFileSync(socketMeta, "utf8")) as Metafile;
    // Every file esbuild even looked at, not only those that made it into the output.
    const pkgs = new Set(Object.keys(meta.inputs).map((f) => packageOf(path.resolve(ROOT, f))));
    for (const p of TCPIP) expect(pkgs.has(p), p).toBe(false);
    expect(pkgs.has("@morgana/unix-socket")).toBe(true);
    const text = readFileSync(socket, "utf8");
    for (const p of TCPIP) expect(text).not.toContain(`// packages/${p.slice("@morgana/".length)}/src/`);
    expect(text).toContain("// packages/unix-socket/src/");
    // And the direct bundle, as the control, does hold them.
    const directPkgs = new Set(Object.keys((JSON.parse(readFileSync(directMeta, "utf8")) as Metafile).inputs).map((f) => packageOf(path.resolve(ROOT, f))));
    for (const p of TCPIP) expect(directPkgs.has(p), p).toBe(true);
  });

  it("the direct bundle does not import node:net (metafile and text)", () => {
    const importsNet = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)["'](?:node:)?net["']/;
    const meta = JSON.parse(readFileSync(directMeta, "utf8")) as Metafile;
    const externals = Object.values(meta.outputs).flatMap((o) => o.imports.map((i) => i.path));
    expect(externals).not.toContain("node:net");
    expect(externals).not.toContain("net");
    expect(Object.keys(meta.inputs).some((f) => packageOf(path.resolve(ROOT, f)) === "@morgana/unix-socket")).toBe(false);
    expect(importsNet.test(readFileSync(direct, "utf8"))).toBe(false);
    // The control: the socket bundle does import it, and the scan sees it.
    expect(importsNet.test(readFileSync(socket, "utf8"))).toBe(true);
  });

  it("bundles are self-contained ES modules without a shebang, importing only Node built-ins", () => {
    for (const file of [socket, direct]) {
      const text = readFileSync(file, "utf8");
      expect(text.startsWith("#!")).toBe(false);
      const specs = [...text.matchAll(/^\s*import\s+(?:[^"';]*?\s+from\s+)?["']([^"']+)["']/gm)].map((m) => m[1]!);
      expect(specs.length).toBeGreaterThan(0);
      for (const s of specs) expect(s).toMatch(/^node:/);
      expect(text).not.toMatch(/\brequire\(["'](?!node:)/);
    }
  });

  it(
    "node DIRECT-BUNDLE runs the app from a directory without node_modules: exit 0, the same report",
    async () => {
      const pcap = path.join(tmp, "bundle.pcap");
      const elsewhere = mkdtempSync(path.join(tmpdir(), "morgana-bundle-run-"));
      const copy = path.join(elsewhere, "homepage.mjs");
      writeFileSync(copy, readFileSync(direct));
      try {
        const r = await node([copy, "--pcap", pcap]);
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
        checkDirectReport(r.out, pcap);
        const bad = await node([copy, "--port", "1"]);
        expect(bad.code).toBe(2);
        expect(bad.err.trim().split("\n")).toEqual(["morgana: unknown option --port (the direct target takes --pcap FILE)"]);
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it(
    "node SOCKET-BUNDLE serves the same pages on the host until SIGTERM, then exits 0",
    async () => {
      const port = await freePort();
      const dnsPort = await freePort();
      const c = spawn(process.execPath, [socket, "--port", String(port), "--dns-port", String(dnsPort)], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      c.stdout.on("data", (d: Buffer) => (out += d.toString()));
      c.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((r) => c.on("exit", (code) => r(code)));
      try {
        const deadline = Date.now() + 20_000;
        while (!out.includes("Ctrl-C to stop")) {
          if (Date.now() > deadline || c.exitCode !== null) throw new Error(`the socket bundle did not start:\n${out}\n${err}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(out).toContain(`curl http://127.0.0.1:${port}/`);
        // The same pages as on the direct target (the index and about pages do not depend on the stack).
        const direct = await node([BIN, "run", "examples/homepage", "--pcap", path.join(tmp, "cmp.pcap")]);
        const sizes = checkDirectReport(direct.out, path.join(tmp, "cmp.pcap"));
        for (const page of ["/", "/about.html"]) {
          const res = await fetch(`http://127.0.0.1:${port}${page}`);
          expect(res.status).toBe(200);
          expect((await res.arrayBuffer()).byteLength).toBe(sizes.get(page));
        }
        c.kill("SIGTERM");
        expect(await exited).toBe(0);
        expect(out).toContain("SIGTERM: stopping");
        expect(err).toBe("");
      } finally {
        c.kill("SIGKILL");
      }
    },
    60_000,
  );
});

describe("npm start", () => {
  it("is `morgana run examples/homepage --target direct`", () => {
    const pj = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pj.scripts.start).toBe("node packages/cli/bin/morgana.mjs run examples/homepage --target direct");
  });

  it(
    "`npm start -- --target socket --port N` serves until interrupted (SIGINT to the process group, as Ctrl-C)",
    async () => {
      const port = await freePort();
      const dnsPort = await freePort();
      const c = spawn("npm", ["start", "--", "--target", "socket", "--port", String(port), "--dns-port", String(dnsPort)], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let out = "";
      c.stdout.on("data", (d: Buffer) => (out += d.toString()));
      c.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((r) => c.on("exit", () => r()));
      try {
        const deadline = Date.now() + 30_000;
        while (!out.includes("Ctrl-C to stop")) {
          if (Date.now() > deadline || c.exitCode !== null) throw new Error(`npm start did not start serving:\n${out}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(out).toContain("homepage on the socket target");
        const res = await fetch(`http://127.0.0.1:${port}/about.html`);
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        process.kill(-c.pid!, "SIGINT");
        await exited;
        // The command stopped itself (npm's own exit status after Ctrl-C is npm's business: 130 with sh).
        expect(out).toContain("SIGINT: stopping");
        await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
      } finally {
        try {
          process.kill(-c.pid!, "SIGKILL");
        } catch {
          // the group is gone
        }
      }
    },
    60_000,
  );
});
