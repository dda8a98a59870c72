/**
 * `morgana dns serve ZONEFILE [--port N] [--address A] [--origin NAME]`: serves
 * a zone file on the host's sockets (the Unix socket stack), UDP and TCP,
 * until SIGINT or SIGTERM.
 *
 * `morgana dns query NAME [TYPE] [@SERVER[:PORT]] [--tcp] [--no-edns]
 * [--timeout MS]`: asks one server one question and prints the answer in the
 * style of `dig`. The default server is the first IPv4 `nameserver` of
 * /etc/resolv.conf, else 127.0.0.1.
 *
 * Exit codes: 0 success; 1 a zone, file or socket error; 2 a usage error; 9
 * no answer (timeout, refused), as dig's 9.
 */
import { readFile } from "node:fs/promises";
import {
  AuthoritativeServer,
  buildQuery,
  fullRcode,
  getOpt,
  opcodeName,
  parseServerAddress,
  parseZone,
  qtypeOf,
  questionToText,
  rcodeName,
  recordToText,
  serveDns,
  tcpExchange,
  typeCode,
  typeName,
  udpExchange,
  Zone,
  ZoneParseError,
  type ExchangeResult,
  type Message,
  type QType,
} from "@morgana/dns";
import { isIpv4, isMorganaError, MorganaError, randomInt } from "@morgana/interfaces";
import { systemClock, systemRandom } from "@morgana/sim";
import { createSocketStack } from "@morgana/unix-socket";
import type { Io } from "./main.js";

export const DNS_USAGE = `usage: morgana dns serve ZONEFILE [--port N] [--address A] [--origin NAME]
       morgana dns query NAME [TYPE] [@SERVER[:PORT]] [--tcp] [--no-edns] [--timeout MS]`;

/** Test hooks: stop `serve` without a signal; read another resolv.conf. */
export interface DnsCommandOptions {
  /** `serve` stops when this aborts (as on SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
  /** Where `query` finds its default server (default /etc/resolv.conf). */
  readonly resolvConf?: string;
}

/** `morgana dns ...`: returns the exit code; never throws for bad input. */
export async function dnsCommand(args: string[], io: Io, opts: DnsCommandOptions = {}): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "serve":
      return serveCommand(rest, io, opts);
    case "query":
      return queryCommand(rest, io, opts);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      io.out(DNS_USAGE);
      return sub === undefined ? 2 : 0;
    default:
      io.err(`morgana dns: unknown subcommand ${JSON.stringify(sub)}\n${DNS_USAGE}`);
      return 2;
  }
}

// --- serve ------------------------------------------------------------------

async function serveCommand(args: string[], io: Io, opts: DnsCommandOptions): Promise<number> {
  const usage = (msg: string): number => {
    io.err(`morgana dns serve: ${msg}`);
    return 2;
  };
  let file: string | undefined;
  let port = 53;
  let address: string | undefined;
  let origin: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string | undefined => args[++i];
    if (a === "--port") {
      const v = value();
      if (v === undefined || !/^\d{1,5}$/.test(v) || Number(v) > 65535) return usage(`--port needs a number 0-65535, not ${JSON.stringify(v ?? "")}`);
      port = Number(v);
    } else if (a === "--address") {
      const v = value();
      if (v === undefined || !isIpv4(v)) return usage(`--address needs an IPv4 address, not ${JSON.stringify(v ?? "")}`);
      address = v;
    } else if (a === "--origin") {
      const v = value();
      if (v === undefined) return usage("--origin needs a name");
      origin = v;
    } else if (a.startsWith("-")) return usage(`unknown option ${a}`);
    else if (file === undefined) file = a;
    else return usage("one zone file at a time");
  }
  if (file === undefined) return usage(`a zone file is required\n${DNS_USAGE}`);

  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    io.err(`morgana dns serve: cannot read ${file}: ${(e as Error).message}`);
    return 1;
  }
  let zone: Zone;
  try {
    const parsed = parseZone(text, { fileName: file, ...(origin !== undefined ? { origin } : {}) });
    zone = new Zone(parsed.records);
  } catch (e) {
    if (e instanceof ZoneParseError) io.err(`morgana dns serve: ${e.file ?? file}:${e.line}:${e.column}: ${e.reason}`);
    else io.err(`morgana dns serve: ${file}: ${(e as Error).message}`);
    return 1;
  }
  const stack = createSocketStack();
  let handle;
  try {
    handle = await serveDns({ stack, server: new AuthoritativeServer({ zones: [zone] }), clock: systemClock, port, ...(address !== undefined ? { address } : {}) });
  } catch (e) {
    await stack.close();
    const code = isMorganaError(e) ? ` (${e.code})` : "";
    io.err(`morgana dns serve: cannot listen on ${address ?? "0.0.0.0"}:${port}: ${(e as Error).message}${code}`);
    return 1;
  }
  io.out(`morgana dns: serving ${zone.origin} (${zone.records.length} records) on ${address ?? "0.0.0.0"}:${handle.port} (UDP and TCP)`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      opts.signal?.removeEventListener("abort", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    opts.signal?.addEventListener("abort", stop, { once: true });
    if (opts.signal?.aborted) stop();
  });
  await handle.close();
  await stack.close();
  const c = handle.stats().counters;
  io.out(`morgana dns: stopped after ${(c.udpQueries ?? 0) + (c.tcpQueries ?? 0)} queries`);
  return 0;
}

// --- query ------------------------------------------------------------------

/** The first IPv4 `nameserver` line of a resolv.conf text, if any. */
export function firstNameserver(resolvConf: string): string | undefined {
  for (const line of resolvConf.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m !== null && isIpv4(m[1]!)) return m[1]!;
  }
  return undefined;
}

async function queryCommand(args: string[], io: Io, opts: DnsCommandOptions): Promise<number> {
  const usage = (msg: string): number => {
    io.err(`morgana dns query: ${msg}`);
    return 2;
  };
  let name: string | undefined;
  let type: QType | undefined;
  let serverText: string | undefined;
  let tcp = false;
  let edns = true;
  let timeoutMs = 5000;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--tcp" || a === "+tcp") tcp = true;
    else if (a === "--no-edns" || a === "+noedns") edns = false;
    else if (a === "--timeout") {
      const v = args[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) return usage(`--timeout needs a number of milliseconds, not ${JSON.stringify(v ?? "")}`);
      timeoutMs = Number(v);
    } else if (a.startsWith("@")) serverText = a.slice(1);
    else if (a.startsWith("-")) return usage(`unknown option ${a}`);
    else if (name === undefined) name = a;
    else if (type === undefined) {
      const code = typeCode(a);
      if (code < 0) return usage(`unknown type ${JSON.stringify(a)}`);
      type = qtypeOf(code);
    } else return usage(`unexpected argument ${JSON.stringify(a)}`);
  }
  if (name === undefined) return usage(`a name is required\n${DNS_USAGE}`);
  type ??= "A";
  let server: { address: string; port: number };
  try {
    if (serverText !== undefined) server = parseServerAddress(serverText);
    else {
      let conf = "";
      try {
        conf = await readFile(opts.resolvConf ?? "/etc/resolv.conf", "utf8");
      } catch {
        // no resolv.conf: loopback
      }
      server = { address: firstNameserver(conf) ?? "127.0.0.1", port: 53 };
    }
  } catch (e) {
    return usage((e as Error).message.replace(/^dns: /, ""));
  }
  let query: Message;
  try {
    query = buildQuery(name, type, { id: randomInt(systemRandom, 0, 0x10000), edns: edns ? {} : false });
  } catch (e) {
    return usage(`bad name ${JSON.stringify(name)}: ${(e as Error).message.replace(/^dns: /, "")}`);
  }
  const stack = createSocketStack();
  const ex = { stack, server, clock: systemClock, timeoutMs };
  const commandLine = [name, typeName(type), `@${server.address}${server.port !== 53 ? `:${server.port}` : ""}`, ...(tcp ? ["--tcp"] : []), ...(edns ? [] : ["--no-edns"])].join(" ");
  try {
    let result: ExchangeResult;
    const lines: string[] = [];
    if (tcp) result = await tcpExchange(query, ex);
    else {
      result = await udpExchange(query, ex);
      if (result.response.tc) {
        lines.push(";; Truncated, retrying in TCP mode.");
        result = await tcpExchange(query, ex);
      }
    }
    lines.push(...formatDig(result, commandLine, new Date()));
    for (const l of lines) io.out(l);
    return 0;
  } catch (e) {
    const where = `${server.address}#${server.port}`;
    if (isMorganaError(e, "ETIMEOUT")) io.err(`morgana dns query: no response from ${where} within ${timeoutMs} ms (ETIMEOUT)`);
    else if (isMorganaError(e, "ECONNREFUSED")) io.err(`morgana dns query: connection refused by ${where} (ECONNREFUSED)`);
    else if (e instanceof MorganaError) io.err(`morgana dns query: ${where}: ${e.message} (${e.code})`);
    else io.err(`morgana dns query: ${where}: ${String(e)}`);
    return 9;
  } finally {
    await stack.close();
  }
}

/** dig's flag order. */
function flagList(m: Message): string {
  const f: string[] = [];
  if (m.qr) f.push("qr");
  if (m.aa) f.push("aa");
  if (m.tc) f.push("tc");
  if (m.rd) f.push("rd");
  if (m.ra) f.push("ra");
  if (m.ad) f.push("ad");
  if (m.cd) f.push("cd");
  return f.join(" ");
}

/**
 * Joins fields the way BIND's text output does: each field starts at its
 * column (tab stops of 8, padded with tabs, then spaces), at least one
 * character after the previous field.
 */
function columns(fields: readonly string[], at: readonly number[]): string {
  let line = fields[0]!;
  let col = line.length;
  for (let i = 1; i < fields.length; i++) {
    let to = at[i - 1]!;
    if (to < col + 1) to = col + 1;
    const tabs = Math.max(0, Math.floor(to / 8) - Math.floor(col / 8));
    line += tabs > 0 ? "\t".repeat(tabs) + " ".repeat(to % 8) : " ".repeat(to - col);
    line += fields[i]!;
    col = to + fields[i]!.length;
  }
  return line;
}

/** dig's columns: TTL at 24, class at 32, type at 40, RDATA at 48. */
const TTL_COLUMN = 24;
const CLASS_COLUMN = 32;
const TYPE_COLUMN = 40;
const RDATA_COLUMN = 48;

function digRecord(rr: Message["answers"][number]): string {
  const t = recordToText(rr).split("\t");
  return columns([t[0]!, t[1]!, t[2]!, t[3]!, t.slice(4).join("\t")], [TTL_COLUMN, CLASS_COLUMN, TYPE_COLUMN, RDATA_COLUMN]);
}

function digQuestion(q: Message["questions"][number]): string {
  const t = questionToText(q).split("\t").filter((x) => x !== "");
  return columns(t, [CLASS_COLUMN, TYPE_COLUMN]);
}

/** A response as `dig` prints it (without dig's version banner). */
export function formatDig(result: ExchangeResult, commandLine: string, when: Date): string[] {
  const m = result.response;
  const out: string[] = [];
  out.push("", `; <<>> morgana dns query <<>> ${commandLine}`, ";; Got answer:");
  out.push(`;; ->>HEADER<<- opcode: ${opcodeName(m.opcode)}, status: ${rcodeName(fullRcode(m))}, id: ${m.id}`);
  out.push(`;; flags: ${flagList(m)}; QUERY: ${m.questions.length}, ANSWER: ${m.answers.length}, AUTHORITY: ${m.authorities.length}, ADDITIONAL: ${m.additionals.length}`);
  if (m.rd && !m.ra) out.push(";; WARNING: recursion requested but not available");
  out.push("");
  const opt = getOpt(m);
  if (opt !== undefined) {
    out.push(";; OPT PSEUDOSECTION:");
    out.push(`; EDNS: version: ${opt.version}, flags:${opt.dnssecOk ? " do" : ""}; udp: ${opt.udpPayloadSize}`);
  }
  out.push(";; QUESTION SECTION:");
  for (const q of m.questions) out.push(digQuestion(q));
  const section = (title: string, rrs: Message["answers"]): void => {
    const shown = rrs.filter((r) => r.type !== "OPT");
    if (shown.length === 0) return;
    out.push("", `;; ${title} SECTION:`);
    for (const rr of shown) out.push(digRecord(rr));
  };
  section("ANSWER", m.answers);
  section("AUTHORITY", m.authorities);
  section("ADDITIONAL", m.additionals);
  out.push("");
  out.push(`;; Query time: ${Math.round(result.rttMs)} msec`);
  out.push(`;; SERVER: ${result.address}#${result.port}(${result.address}) (${result.transport.toUpperCase()})`);
  out.push(`;; WHEN: ${when.toUTCString()}`);
  out.push(`;; MSG SIZE  rcvd: ${result.bytes.length}`);
  out.push("");
  return out;
}
