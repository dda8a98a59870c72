// Runs `dnsCommand` as a program (what `morgana dns ...` does once wired into
// main.ts), so tests can start `dns serve` as a child process and signal it:
//   node scripts/run-ts.mjs packages/cli/test/dns-entry.ts serve ZONEFILE ...
import { dnsCommand } from "../src/dns.js";

process.exitCode = await dnsCommand(process.argv.slice(2), {
  out: (l) => process.stdout.write(l + "\n"),
  err: (l) => process.stderr.write(l + "\n"),
});
