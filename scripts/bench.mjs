#!/usr/bin/env node
// npm run bench [-- FILTER]
//
// Bundles every packages/*/bench/*.bench.ts (TypeScript source, through the
// "@morgana/source" export condition) with esbuild, runs each in a fresh Node
// process, prints the JSON line of every figure whose name (or whose file path)
// contains FILTER, and records the results in docs/benchmarks.json and
// docs/benchmarks.md (figures not measured in this run keep their last values).
import { bundle } from "./bundle.mjs";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const filter = process.argv[2] ?? "";
const outDir = path.join(root, ".bench-build");

function benchFiles() {
  const files = [];
  for (const top of ["packages", "examples"]) {
    const dir = path.join(root, top);
    if (!existsSync(dir)) continue;
    for (const pkg of readdirSync(dir).sort()) {
      const b = path.join(dir, pkg, "bench");
      if (!existsSync(b)) continue;
      for (const f of readdirSync(b).sort()) if (f.endsWith(".bench.ts")) files.push(path.join(b, f));
    }
  }
  return files;
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const lines = [];
let failed = 0;
for (const file of benchFiles()) {
  const rel = path.relative(root, file);
  const figureFilter = filter === "" || rel.includes(filter) ? "" : filter;
  const stub = path.join(outDir, rel.replace(/[\\/]/g, "_").replace(/\.ts$/, ".entry.mjs"));
  writeFileSync(
    stub,
    `import ${JSON.stringify(file)};\nimport { runRegistered } from "@morgana/benchkit";\n` +
      `const failures = await runRegistered(process.env.BENCH_FILTER ?? "");\nprocess.exit(failures > 0 ? 1 : 0);\n`,
  );
  const outfile = stub.replace(/\.entry\.mjs$/, ".mjs");
  await bundle(stub, outfile);
  const r = spawnSync(process.execPath, ["--expose-gc", outfile], {
    cwd: root,
    env: { ...process.env, BENCH_FILTER: figureFilter },
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  for (const l of r.stdout.split("\n")) {
    if (l.startsWith('{"bench"')) {
      console.log(l);
      lines.push(JSON.parse(l));
    } else if (l.trim() !== "") {
      console.error(l);
    }
  }
  if (r.status !== 0) {
    failed++;
    console.error(`bench: ${rel} exited with ${r.status ?? r.signal}`);
  }
}

// Record the results.
const cpus = os.cpus();
const machine = `${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
const date = new Date().toISOString().slice(0, 10);
const jsonPath = path.join(root, "docs", "benchmarks.json");
const prev = existsSync(jsonPath) ? JSON.parse(readFileSync(jsonPath, "utf8")) : { figures: {} };
for (const l of lines) prev.figures[l.bench] = { ...l, date, machine };
writeFileSync(jsonPath, JSON.stringify(prev, null, 2) + "\n");

const fmt = (x) => (typeof x !== "number" ? String(x) : Math.abs(x) >= 1000 ? Math.round(x).toLocaleString("en-US") : String(x));
const rows = Object.values(prev.figures).sort((a, b) => a.bench.localeCompare(b.bench));
const machines = [...new Set(rows.map((r) => `${r.date}: ${r.machine}`))];
const md = [
  "# Benchmarks",
  "",
  "Written by `npm run bench` (do not edit by hand). Each figure is measured side by side with its reference",
  "in the same process run; `ratio` is how many times better ours is (ours/reference for rates,",
  "reference/ours for latencies and sizes), so above 1 means Morgana wins.",
  "",
  "| figure | unit | ours | reference | reference value | ratio | note |",
  "|---|---|---:|---|---:|---:|---|",
  ...rows.map((r) => `| ${r.bench} | ${r.unit} | ${fmt(r.ours)} | ${r.reference} | ${fmt(r.referenceValue)} | ${r.ratio} | ${r.note ?? ""} |`),
  "",
  "Measured on:",
  "",
  ...machines.map((m) => `- ${m}`),
  "",
];
writeFileSync(path.join(root, "docs", "benchmarks.md"), md.join("\n"));
if (lines.length === 0) {
  console.error(`bench: no figure matched ${JSON.stringify(filter)}`);
  process.exit(1);
}
process.exit(failed > 0 ? 1 : 0);
