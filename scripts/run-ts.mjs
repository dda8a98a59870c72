#!/usr/bin/env node
// node scripts/run-ts.mjs FILE.ts [args...]
// Runs a TypeScript entry point of the monorepo from source, without a prior
// build: the file is bundled with esbuild (scripts/bundle.mjs) into
// node_modules/.cache/morgana/ and imported, with process.argv shifted so the
// program sees its own arguments at process.argv[2...].
import { createHash } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const entry = path.resolve(process.argv[2] ?? "");
if (!process.argv[2]) {
  console.error("usage: node scripts/run-ts.mjs FILE.ts [args...]");
  process.exit(2);
}
const dir = path.join(root, "node_modules", ".cache", "morgana");
mkdirSync(dir, { recursive: true });
const out = path.join(dir, `${path.basename(entry, path.extname(entry))}-${createHash("sha1").update(entry).digest("hex").slice(0, 8)}-${process.pid}.mjs`);
await bundle(entry, out);
process.argv.splice(1, 2, entry);
process.on("exit", () => rmSync(out, { force: true }));
await import(pathToFileURL(out).href);
