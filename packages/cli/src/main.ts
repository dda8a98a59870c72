/**
 * The `morgana` command line. `main(args)` returns the exit code; it never
 * throws for bad input: usage errors and unreadable files are one line on
 * stderr.
 */
import { readFile } from "node:fs/promises";
import { readCapture } from "@morgana/pcap";
import { Dissector } from "./dissect.js";
import { dnsCommand } from "./dns.js";
import { httpCommand } from "./http.js";
import { bundleCommand, runCommand } from "./run.js";

const USAGE = `usage: morgana <command> [options]

commands:
  run APP [--target socket|direct|tap] [target options]
                          build the application APP (a directory with a package.json, or a
                          module file, whose default export is an App) for a target and run it:
                          socket (host sockets; --port N, --dns-port N, --address A),
                          direct (Morgana's stack on an in-memory network, fetches every page;
                          --pcap FILE), tap (Morgana's stack on a Linux TAP; root, socat).
                          Default: direct; the last --target wins
  bundle APP [--target T] --out FILE [--minify] [--metafile JSON]
                          write APP built for T as one self-contained ES module, run with
                          \`node FILE [target options]\`; prints its size and contents
  dissect FILE [--json]   decode every frame of a pcap or pcapng file with Morgana's codecs;
                          --json prints one line per frame: {"frame":N,"fields":{...}}
  dns serve ZONEFILE [--port N] [--address A] [--origin NAME]
                          serve a zone over UDP and TCP on the host until SIGINT/SIGTERM
  dns query NAME [TYPE] [@SERVER[:PORT]] [--tcp] [--no-edns] [--timeout MS]
                          ask one server and print the answer like dig
  http serve DIR [--port N] [--address A] [--quiet]
                          serve a directory over HTTP (like python3 -m http.server) until SIGINT/SIGTERM
  help                    this text`;

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const stdio: Io = {
  out: (l) => process.stdout.write(l + "\n"),
  err: (l) => process.stderr.write(l + "\n"),
};

export async function main(args: string[], io: Io = stdio): Promise<number> {
  const [cmd, ...rest] = args;
  switch (cmd) {
    case "dissect":
      return dissectCommand(rest, io);
    case "dns":
      return dnsCommand(rest, io);
    case "http":
      return httpCommand(rest, io);
    case "run":
      return runCommand(rest, io);
    case "bundle":
      return bundleCommand(rest, io);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      io.out(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      io.err(`morgana: unknown command ${JSON.stringify(cmd)} (try: morgana help)`);
      return 2;
  }
}

async function dissectCommand(args: string[], io: Io): Promise<number> {
  let json = false;
  let file: string | undefined;
  for (const a of args) {
    if (a === "--json") json = true;
    else if (a.startsWith("-")) {
      io.err(`morgana dissect: unknown option ${a}`);
      return 2;
    } else if (file === undefined) file = a;
    else {
      io.err("morgana dissect: one file at a time");
      return 2;
    }
  }
  if (file === undefined) {
    io.err("usage: morgana dissect FILE [--json]");
    return 2;
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    io.err(`morgana dissect: cannot read ${file}: ${(e as Error).message}`);
    return 1;
  }
  let capture;
  try {
    // Lenient: a truncated or corrupt tail still yields the frames before it.
    capture = readCapture(bytes, { lenient: true });
  } catch (e) {
    io.err(`morgana dissect: ${file}: ${(e as Error).message}`);
    return 1;
  }
  const d = new Dissector();
  let n = 0;
  for (const r of capture.records) {
    n++;
    const frame = d.dissect(r.data, n, r.timestampMs, r.linktype);
    if (json) {
      const fields = frame.fields.toJSON();
      if (frame.error !== undefined) (fields as Record<string, unknown>).error = frame.error;
      io.out(JSON.stringify({ frame: n, fields }));
    } else {
      const t = new Date(r.sec * 1000).toISOString().replace(/\.\d{3}Z$/, `.${String(Math.floor(r.nsec / 1000)).padStart(6, "0")}Z`);
      io.out(`Frame ${n}: ${r.capturedLength} bytes captured${r.originalLength !== r.capturedLength ? ` (${r.originalLength} on the wire)` : ""}, ${t}`);
      for (const line of frame.summary) io.out(`  ${line}`);
      if (frame.error !== undefined) io.out(`  error: ${frame.error}`);
    }
  }
  if (capture.error !== undefined) {
    io.err(`morgana dissect: ${file}: ${capture.error.message} (after ${n} frames)`);
    return 1;
  }
  return 0;
}
