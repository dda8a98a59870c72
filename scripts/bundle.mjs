// Bundles TypeScript sources of the monorepo into one ESM file that Node 20
// runs directly: workspace packages are resolved to their source through the
// "@morgana/source" export condition, other packages stay external and load
// from node_modules. Used by the bench runner and by `scripts/run-ts.mjs`.
import { build } from "esbuild";

const externalDeps = {
  name: "external-deps",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("@morgana/") || args.path.startsWith("node:")) return undefined;
      return { path: args.path, external: true };
    });
  },
};

/** Bundles `entry` (a .ts or .mjs file) to `outfile`. */
export async function bundle(entry, outfile) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    conditions: ["@morgana/source"],
    plugins: [externalDeps],
    // Bench files are imported for their side effects (they register figures);
    // packages say "sideEffects": false, which would let esbuild drop them.
    ignoreAnnotations: true,
    sourcemap: "inline",
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: "error",
  });
}
