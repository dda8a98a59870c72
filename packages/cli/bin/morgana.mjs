#!/usr/bin/env node
// The `morgana` command. Runs the built CLI (dist/) when present; inside the
// monorepo without a build, bundles the TypeScript source with
// scripts/bundle.mjs (esbuild, workspace packages through the
// "@morgana/source" condition) and runs it in this same process, so
// `npx morgana ...` and `npm start` work right after `npm ci`, and signals
// (Ctrl-C stopping `morgana run --target socket`) reach the command itself.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const dist = new URL("../dist/main.js", import.meta.url);
const source = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const root = fileURLToPath(new URL("../../../", import.meta.url));
const bundler = path.join(root, "scripts", "bundle.mjs");

// `morgana dissect big.pcap | head`: a closed pipe ends the command quietly, as for other tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

let main;
if (existsSync(fileURLToPath(dist))) {
  ({ main } = await import(dist.href));
} else if (existsSync(source) && existsSync(bundler)) {
  const { bundle } = await import(pathToFileURL(bundler).href);
  const dir = path.join(root, "node_modules", ".cache", "morgana");
  mkdirSync(dir, { recursive: true });
  const out = path.join(dir, `morgana-cli-${createHash("sha1").update(source).digest("hex").slice(0, 8)}-${process.pid}.mjs`);
  try {
    await bundle(source, out);
    ({ main } = await import(pathToFileURL(out).href));
  } finally {
    rmSync(out, { force: true });
  }
} else {
  console.error("morgana: neither dist/ nor the monorepo sources were found; run `npm run build`");
  process.exitCode = 1;
}
if (main !== undefined) process.exitCode = await main(process.argv.slice(2));
