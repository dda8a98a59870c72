import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without types
import { check, importsOf } from "../lint-deps.mjs";

const dirs: string[] = [];
function repo(pkgs: Record<string, { pj: object; src?: Record<string, string> }>): string {
  const root = mkdtempSync(path.join(tmpdir(), "lintdeps-"));
  dirs.push(root);
  for (const [dir, { pj, src }] of Object.entries(pkgs)) {
    mkdirSync(path.join(root, "packages", dir, "src"), { recursive: true });
    writeFileSync(path.join(root, "packages", dir, "package.json"), JSON.stringify(pj));
    for (const [f, text] of Object.entries(src ?? {})) writeFileSync(path.join(root, "packages", dir, "src", f), text);
  }
  return root;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("lint:deps", () => {
  it("accepts the real repository", () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
    expect(check(root)).toEqual([]);
  });

  it("rejects an implementation depending on a sibling implementation", () => {
    const root = repo({
      tcp: { pj: { name: "@morgana/tcp", dependencies: { "@morgana/interfaces": "*", "@morgana/ipv4": "*" } } },
      stack: { pj: { name: "@morgana/stack", dependencies: { "@morgana/tcp": "*", "@morgana/ipv4": "*" } } },
    });
    const problems = check(root);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/@morgana\/tcp: dependencies names the implementation package @morgana\/ipv4/);
  });

  it("rejects peer dependencies and source imports of a sibling implementation", () => {
    const root = repo({
      http: {
        pj: { name: "@morgana/http", peerDependencies: { "@morgana/tcp": "*" } },
        src: { "a.ts": 'import { x } from "@morgana/dns";\n// import "@morgana/udp" in a comment is fine\n' },
      },
    });
    const problems = check(root);
    expect(problems).toHaveLength(2);
    expect(problems.join("\n")).toMatch(/peerDependencies names the implementation package @morgana\/tcp/);
    expect(problems.join("\n")).toMatch(/a\.ts imports the implementation package @morgana\/dns/);
  });

  it("rejects Node built-ins in protocol sources unless declared", () => {
    const root = repo({
      udp: { pj: { name: "@morgana/udp" }, src: { "a.ts": 'import dgram from "node:dgram";\nconst fs = require("fs");\n' } },
      pcap: { pj: { name: "@morgana/pcap", morgana: { node: ["src/node.ts"] } }, src: { "node.ts": 'import { open } from "node:fs/promises";\n', "index.ts": 'export * from "./x.js";\n' } },
      "unix-socket": { pj: { name: "@morgana/unix-socket", morgana: { node: "all" } }, src: { "a.ts": 'import net from "node:net";\n' } },
    });
    const problems = check(root);
    expect(problems).toHaveLength(2);
    expect(problems.every((p: string) => p.startsWith("@morgana/udp: src/a.ts imports the Node built-in"))).toBe(true);
  });

  it("finds every import form", () => {
    expect(importsOf('import a from "x"; export * from \'y\'; await import("z"); require( "w" ); import "v";')).toEqual(["x", "y", "z", "w", "v"]);
  });
});
