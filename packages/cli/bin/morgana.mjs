#!/usr/bin/env node
// The `morgana` command. Runs the built CLI (dist/) when present; inside the
// monorepo without a build, runs the TypeScript source through
// scripts/run-ts.mjs, so `npx morgana ...` works right after `npm ci`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dist = new URL("../dist/main.js", import.meta.url);
const source = new URL("../src/bin.ts", import.meta.url);
const runTs = new URL("../../../scripts/run-ts.mjs", import.meta.url);

if (existsSync(fileURLToPath(dist))) {
  const { main } = await import(dist.href);
  process.exitCode = await main(process.argv.slice(2));
} else if (existsSync(fileURLToPath(source)) && existsSync(fileURLToPath(runTs))) {
  const r = spawnSync(process.execPath, [fileURLToPath(runTs), fileURLToPath(source), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exitCode = r.status ?? 1;
} else {
  console.error("morgana: neither dist/ nor the monorepo sources were found; run `npm run build`");
  process.exitCode = 1;
}
