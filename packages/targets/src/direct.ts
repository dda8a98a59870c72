/**
 * @morgana/targets/direct — the application on Morgana's own TCP/IP, with no
 * root and no network: two pure-TypeScript stacks on an in-memory Ethernet
 * switch. The application serves on one; a client on the other resolves the
 * application's name through the application's own DNS server, fetches every
 * page, asks a few DNS questions, and reports what it saw. Every frame the
 * server sends and receives can be written to a pcap file.
 *
 *   server stack 10.0.0.1/24                           client stack 10.0.0.2/24
 *   application (HTTP :80, DNS :53)                    createFetch + StubResolver
 *   tcp / udp / icmp ─ ipv4 ─ arp ─ ethernet           tcp / udp / icmp ─ ipv4 ─ arp ─ ethernet
 *   netif (+ pcap) ──────── @morgana/vnetif VirtualSwitch ──────── netif
 *
 * This is MirageOS's direct stack run in a simulator rather than on a NIC:
 * the same layers the tap target puts on a Linux TAP device.
 */
import { tmpdir } from "node:os";
import path from "node:path";
import { randomInt, type App, type Clock, type Random, type RunningApp } from "@morgana/interfaces";
import { buildQuery, rdataToText, StubResolver, tcpExchange, udpExchange, type QType } from "@morgana/dns";
import { createFetch } from "@morgana/http";
import { createPcapFileWriter, type PcapFileWriter } from "@morgana/pcap/node";
import { SeededRandom, systemClock } from "@morgana/sim";
import { createStack, type DirectStack } from "@morgana/stack";
import { VirtualSwitch } from "@morgana/vnetif";
import { appLog, guard, messageOf, parseArgs, stdio, usage, type MainOptions, type OptionSpec, type TargetIo } from "./common.js";

export type { MainOptions, TargetIo } from "./common.js";

/** The server stack's address (the application's `ctx.address`) and the client's, on 10.0.0.0/24. */
export const DIRECT_SERVER_ADDRESS = "10.0.0.1";
export const DIRECT_CLIENT_ADDRESS = "10.0.0.2";
export const DIRECT_PREFIX_LENGTH = 24;
/** Bound on each fetch and DNS exchange of the client. */
export const DIRECT_REQUEST_TIMEOUT_MS = 10_000;

export interface DirectOptions {
  /** Write every frame the server stack sends and receives to this pcap file. Default: no file. */
  readonly pcapPath?: string;
  /** The application's progress lines. Default: discarded. */
  readonly log?: (line: string) => void;
  /** Reserved: the in-memory network has no other host, so the run always ends with the report. */
  readonly keepServing?: false;
  /** Seed of the stacks' random numbers (TCP initial sequence numbers, ports, DNS IDs): the same seed, the same numbers. Default "morgana-direct". */
  readonly seed?: string | number;
  /** Default: the system clock. */
  readonly clock?: Clock;
}

/** One page as the client fetched it. */
export interface PageReport {
  readonly path: string;
  readonly status: number;
  /** Body size in bytes. */
  readonly bytes: number;
  /** The Content-Type field, "" when absent. */
  readonly contentType: string;
  readonly body: Uint8Array;
}

/** One DNS question asked of the application's server, and the answer section in presentation format (dig +short). */
export interface DnsReport {
  readonly name: string;
  readonly type: string;
  readonly answers: string[];
  readonly transport: "udp" | "tcp";
  /** The response code: "NOERROR", "NXDOMAIN", ... */
  readonly rcode: string;
}

export interface DirectReport {
  /** The application's name as the client resolved it through the application's own DNS server. */
  readonly resolved: { readonly name: string; readonly address: string };
  readonly pages: PageReport[];
  readonly dns: DnsReport[];
  /** Frames on the wire (every frame crosses the server's device, in or out). */
  readonly packets: number;
  /** Their bytes (Ethernet headers included). */
  readonly bytes: number;
  /** Where the capture was written, when asked for. */
  readonly pcapPath?: string;
  /** From creating the stacks to closing them, by the clock. */
  readonly elapsedMs: number;
}

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/**
 * Runs `app` on a direct stack and drives it from a second one (see the
 * module comment). Everything is closed before it resolves, also when it
 * rejects (the application failed to start, a page or a DNS question failed).
 */
export async function runDirect(app: App, opts: DirectOptions = {}): Promise<DirectReport> {
  const clock = opts.clock ?? systemClock;
  const random = new SeededRandom(opts.seed ?? "morgana-direct");
  const started = clock.now();
  const pcap: PcapFileWriter | undefined = opts.pcapPath === undefined ? undefined : createPcapFileWriter(opts.pcapPath);
  const sw = new VirtualSwitch({ clock });
  const server = createStack({
    netif: sw.createPort({ name: "server" }),
    address: `${DIRECT_SERVER_ADDRESS}/${DIRECT_PREFIX_LENGTH}`,
    clock,
    random: random.fork("server"),
    ...(pcap === undefined ? {} : { pcap }),
  });
  const client = createStack({ netif: sw.createPort({ name: "client" }), address: `${DIRECT_CLIENT_ADDRESS}/${DIRECT_PREFIX_LENGTH}`, clock, random: random.fork("client") });
  const clientRandom = random.fork("resolver");

  let running: RunningApp | undefined;
  let resolver: StubResolver | undefined;
  let fetch: ReturnType<typeof createFetch> | undefined;
  try {
    running = await app.start({
      target: "direct",
      stack: server,
      clock,
      random: random.fork("app"),
      address: DIRECT_SERVER_ADDRESS,
      ports: { http: 80, dns: 53 },
      log: opts.log ?? (() => {}),
    });

    // The client knows only the application's DNS server, and finds the web server by name.
    resolver = new StubResolver({ stack: client, servers: [DIRECT_SERVER_ADDRESS], clock, random: clientRandom });
    const found = await resolver.lookup(app.domain, { family: 4 });
    fetch = createFetch({ stack: client, resolver, clock, timeoutMs: DIRECT_REQUEST_TIMEOUT_MS, userAgent: "morgana-direct" });
    const pages: PageReport[] = [];
    for (const p of app.pages) {
      const res = await fetch(`http://${app.domain}${p}`);
      const body = new Uint8Array(await res.arrayBuffer());
      pages.push({ path: p, status: res.status, bytes: body.length, contentType: res.headers.get("content-type") ?? "", body });
    }

    const dns = [
      await ask(client, clock, clientRandom, app.domain, "A", "udp"),
      await ask(client, clock, clientRandom, app.domain, "TXT", "udp"),
      await ask(client, clock, clientRandom, `www.${app.domain}`, "CNAME", "udp"),
      await ask(client, clock, clientRandom, app.domain, "A", "tcp"),
    ];

    // Orderly ends: the client's keep-alive connection (FIN both ways), then the services.
    await fetch.close();
    await resolver.close();
    await running.close();
    await closeStacks(client, server, pcap); // every layer cancels its timers (a test checks none is left)
    const netif = server.netif.stats().counters;
    return {
      resolved: { name: app.domain, address: found.address },
      pages,
      dns,
      packets: (netif.rxFrames ?? 0) + (netif.txFrames ?? 0),
      bytes: (netif.rxBytes ?? 0) + (netif.txBytes ?? 0),
      ...(opts.pcapPath === undefined ? {} : { pcapPath: opts.pcapPath }),
      elapsedMs: clock.now() - started,
    };
  } catch (err) {
    await fetch?.close().catch(() => {});
    await resolver?.close();
    await running?.close().catch(() => {});
    await closeStacks(client, server, pcap).catch(() => {});
    throw err;
  }
}

async function closeStacks(client: DirectStack, server: DirectStack, pcap: PcapFileWriter | undefined): Promise<void> {
  await client.close();
  await server.close();
  await pcap?.close();
}

/** One question to the application's server (10.0.0.1:53) over UDP or TCP, the answer section as text. */
async function ask(stack: DirectStack, clock: Clock, random: Random, name: string, type: QType & string, transport: "udp" | "tcp"): Promise<DnsReport> {
  const query = buildQuery(name, type, { id: randomInt(random, 0, 0x10000) });
  const exchange = transport === "udp" ? udpExchange : tcpExchange;
  const { response } = await exchange(query, { stack, server: { address: DIRECT_SERVER_ADDRESS, port: 53 }, clock, timeoutMs: DIRECT_REQUEST_TIMEOUT_MS });
  return { name, type, transport, rcode: RCODES[response.rcode] ?? `RCODE${response.rcode}`, answers: response.answers.map(rdataToText) };
}

const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  pcap: { kind: "path", help: "write the capture here (default: morgana-APP-direct.pcap in the temporary directory)" },
};

/** Where `main` writes the capture without `--pcap`. */
export function defaultPcapPath(app: App): string {
  return path.join(tmpdir(), `morgana-${app.name}-direct.pcap`);
}

/**
 * `morgana run APP --target direct [--pcap FILE]`: runs the exchange of
 * {@link runDirect}, prints the report and returns 0 (1 if the run failed, 2
 * for bad arguments).
 */
export function main(app: App, argv: readonly string[], io: TargetIo = stdio, _opts: MainOptions = {}): Promise<number> {
  return guard(io, async () => {
    const args = parseArgs("direct", argv, OPTIONS);
    if (args.help) {
      io.out(usage("direct", "Runs the application on Morgana's TCP/IP on an in-memory network, visits it from a second stack, prints what it saw.", OPTIONS));
      return 0;
    }
    const pcapPath = (args.values.pcap as string | undefined) ?? defaultPcapPath(app);
    io.out(`${app.name} on the direct target: Morgana's TCP/IP (ethernet, arp, ipv4, icmp, udp, tcp) on an in-memory switch`);
    io.out(`  server ${DIRECT_SERVER_ADDRESS}/${DIRECT_PREFIX_LENGTH} runs the application; client ${DIRECT_CLIENT_ADDRESS}/${DIRECT_PREFIX_LENGTH} visits it`);
    let report: DirectReport;
    try {
      report = await runDirect(app, { pcapPath, log: appLog(io, app.name) });
    } catch (err) {
      throw new Error(`the direct run failed: ${messageOf(err)}`);
    }
    printReport(app, report, io);
    return 0;
  });
}

/** The report as `main` prints it. */
export function printReport(app: App, r: DirectReport, io: TargetIo): void {
  io.out(`resolved ${r.resolved.name} -> ${r.resolved.address} (asking the application's own DNS server)`);
  const urls = r.pages.map((p) => `http://${app.domain}${p.path}`);
  const width = Math.max(...urls.map((u) => u.length));
  r.pages.forEach((p, i) => io.out(`  GET ${urls[i]!.padEnd(width)}  ${p.status}  ${String(p.bytes).padStart(6)} bytes  ${p.contentType}`));
  const qwidth = Math.max(...r.dns.map((d) => d.name.length + d.type.length + 1));
  for (const d of r.dns) io.out(`  DNS ${`${d.name} ${d.type}`.padEnd(qwidth)}  ${d.transport}  ${d.rcode}  ${d.answers.join(", ") || "(no answer)"}`);
  io.out(`${r.packets} packets, ${r.bytes} bytes exchanged in ${r.elapsedMs.toFixed(0)} ms`);
  if (r.pcapPath !== undefined) {
    io.out(`capture: ${r.pcapPath}`);
    io.out(`  npx morgana dissect ${r.pcapPath}`);
  }
}
