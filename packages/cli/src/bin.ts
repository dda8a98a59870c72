// Entry point when running from TypeScript source (bin/morgana.mjs in the monorepo).
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
