#!/usr/bin/env node
// The architecture rules that a machine can check (DEVELOPERS.md, rules 1 and 3):
//
// 1. An implementation package (ethif, arp, ipv4, icmp, udp, tcp, dns, http,
//    block, xen-netfront, xen-blkfront, unix-socket) never depends on another
//    implementation package, in package.json (dependencies, peer, optional) or
//    by importing one from its src/. It depends on @morgana/interfaces and on
//    utility packages. Composition code (stack, examples, tests) wires them.
// 2. Protocol packages run in browsers: src/ does not import Node built-ins
//    (node:net, fs, dgram, worker_threads, ...) unless the package declares the
//    files that may, in package.json: "morgana": { "node": ["src/node.ts"] } or
//    "morgana": { "node": "all" } for packages that exist to wrap Node.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const IMPLEMENTATIONS = new Set([
  "ethif", "arp", "ipv4", "icmp", "udp", "tcp", "dns", "http", "block", "xen-netfront", "xen-blkfront", "unix-socket",
]);

const BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith("_")));

function sourceFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(c|m)?[jt]sx?$/.test(e)) out.push(p);
  }
  return out;
}

// import ... from "x", export ... from "x", import("x"), require("x"), import "x"
const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)(["'])([^"']+)\1/g;

export function importsOf(text) {
  const stripped = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
  return [...stripped.matchAll(IMPORT_RE)].map((m) => m[2]);
}

/** Returns a list of human-readable problems for the monorepo at `root`. */
export function check(root) {
  const problems = [];
  const pkgsDir = path.join(root, "packages");
  if (!existsSync(pkgsDir)) return problems;
  for (const dir of readdirSync(pkgsDir).sort()) {
    const pjPath = path.join(pkgsDir, dir, "package.json");
    if (!existsSync(pjPath)) continue;
    const pj = JSON.parse(readFileSync(pjPath, "utf8"));
    const name = pj.name ?? dir;
    const short = name.replace(/^@morgana\//, "");
    const isImpl = IMPLEMENTATIONS.has(short);
    if (isImpl) {
      for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
        for (const dep of Object.keys(pj[field] ?? {})) {
          const m = /^@morgana\/(.+)$/.exec(dep);
          if (m && IMPLEMENTATIONS.has(m[1]) && m[1] !== short) {
            problems.push(`${name}: ${field} names the implementation package ${dep}; depend on @morgana/interfaces and have composition code inject it`);
          }
        }
      }
    }
    const nodeAllowed = pj.morgana?.node;
    for (const file of sourceFiles(path.join(pkgsDir, dir, "src"))) {
      const rel = path.relative(path.join(pkgsDir, dir), file).split(path.sep).join("/");
      const text = readFileSync(file, "utf8");
      for (const spec of importsOf(text)) {
        const m = /^@morgana\/([^/]+)/.exec(spec);
        if (isImpl && m && IMPLEMENTATIONS.has(m[1]) && m[1] !== short) {
          problems.push(`${name}: ${rel} imports the implementation package ${spec}`);
        }
        const builtin = spec.startsWith("node:") || BUILTINS.has(spec.split("/")[0]);
        if (builtin && !(nodeAllowed === "all" || (Array.isArray(nodeAllowed) && nodeAllowed.includes(rel)))) {
          problems.push(`${name}: ${rel} imports the Node built-in ${spec}; protocol code must run in browsers (declare Node-only files in package.json "morgana": { "node": [...] })`);
        }
      }
    }
  }
  return problems;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const problems = check(root);
  if (problems.length > 0) {
    console.error(`lint:deps: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.log("lint:deps: implementation packages depend only on interfaces and utilities; protocol sources are browser-safe");
}
