// An entry point for running the CLI from TypeScript source with
// `node scripts/run-ts.mjs packages/cli/src/bin.ts ARGS` (bin/morgana.mjs
// bundles src/main.ts itself and calls main() in its own process).
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
