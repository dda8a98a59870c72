import { defineConfig, type Options } from "tsup";

/** The per-package build: ESM + CJS + .d.ts/.d.cts with source maps. */
export function morganaBuild(entry: string[] = ["src/index.ts"], extra: Options = {}) {
  return defineConfig({
    entry,
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "es2022",
    ...extra,
  });
}
