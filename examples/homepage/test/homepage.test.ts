/**
 * The homepage on its three targets, visited by three different clients:
 * - socket: Node's own fetch (undici on the host's TCP/IP) and @morgana/dns's
 *   StubResolver on a unix-socket stack (plus dig over TCP when installed);
 * - direct: the report of runDirect (Morgana's fetch and resolver on a second
 *   direct stack), and its pcap;
 * - tap: Linux's curl and dig inside the namespace (skipped visibly without
 *   root, socat, curl and dig; failing instead under MORGANA_REQUIRE_TOOLS=1).
 * Then the same application must have given the same pages and the same DNS
 * answers everywhere, except /stack.json, which says which stack answered.
 */
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { rdataToText, StubResolver } from "@morgana/dns";
import { haveTool } from "@morgana/linux-peer";
import { describeLinux } from "@morgana/linux-peer/vitest";
import { readCaptureFileSync } from "@morgana/pcap/node";
import { systemClock, systemRandom } from "@morgana/sim";
import { runDirect } from "@morgana/targets/direct";
import { startSocket } from "@morgana/targets/socket";
import { startTap } from "@morgana/targets/tap";
import { createSocketStack } from "@morgana/unix-socket";
import app from "../src/app.js";

const DOMAIN = "homepage.morgana.test";
const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), "morgana-homepage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What one target served, as its client saw it. */
interface Visit {
  /** The address the target gave the application (its DNS A record). */
  address: string;
  /** By path: app.pages plus a missing page. */
  pages: Record<string, { status: number; contentType: string; body: string }>;
  /** dig +short style answers. */
  dns: { A: string[]; TXT: string[]; CNAME: string[] };
}
const visits: Partial<Record<"socket" | "direct" | "tap", Visit>> = {};
const MISSING = "/no/such/page.html";

/** Two ports on 127.0.0.1 that are free now: one for TCP (HTTP), one for UDP and TCP (DNS). */
async function freePorts(): Promise<{ http: number; dns: number }> {
  const tcp = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
  for (;;) {
    const http = await tcp(0);
    const u = createSocket("udp4");
    const dns = await new Promise<number>((resolve, reject) => {
      u.once("error", reject);
      u.bind(0, "127.0.0.1", () => resolve(u.address().port));
    });
    const ok = dns !== http && (await tcp(dns).then(() => true, () => false));
    await new Promise<void>((r) => u.close(() => r()));
    if (ok) return { http, dns };
  }
}

function stackJson(v: Visit): { stack: string; target: string; address: string; layers: Record<string, { counters: Record<string, number> }> } {
  const page = v.pages["/stack.json"]!;
  expect(page.contentType).toBe("application/json");
  return JSON.parse(page.body);
}

describe("the homepage on the socket target (the host's TCP/IP)", () => {
  it("serves every page to Node's fetch and answers DNS over UDP (and TCP with dig)", async () => {
    const ports = await freePorts();
    const logs: string[] = [];
    const h = await startSocket(app, { port: ports.http, dnsPort: ports.dns, log: (l) => logs.push(l) });
    try {
      expect(logs).toEqual([`http://127.0.0.1:${ports.http}/ and DNS for ${DOMAIN} on 127.0.0.1:${ports.dns} (stack: unix-socket)`]);
      const pages: Visit["pages"] = {};
      for (const p of [...app.pages, MISSING]) {
        const res = await fetch(`http://127.0.0.1:${ports.http}${p}`);
        pages[p] = { status: res.status, contentType: res.headers.get("content-type") ?? "", body: await res.text() };
      }
      // HEAD and other methods.
      const head = await fetch(`http://127.0.0.1:${ports.http}/about.html`, { method: "HEAD" });
      expect([head.status, head.headers.get("content-length"), await head.text()]).toEqual([200, String(Buffer.byteLength(pages["/about.html"]!.body)), ""]);
      const post = await fetch(`http://127.0.0.1:${ports.http}/`, { method: "POST", body: "x" });
      expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
      await post.text();

      // Our resolver on the host's sockets, against the application's server.
      const client = createSocketStack({ addresses: ["127.0.0.1"] });
      const resolver = new StubResolver({ stack: client, servers: [`127.0.0.1:${ports.dns}`], clock: systemClock, random: systemRandom });
      try {
        const found = await resolver.lookup(DOMAIN, { family: 4 });
        expect(found).toEqual({ address: "127.0.0.1", family: 4 });
        const www = await resolver.query(`www.${DOMAIN}`, "CNAME");
        const dns = {
          A: (await resolver.resolve(DOMAIN, "A")).map(rdataToText),
          TXT: (await resolver.resolve(DOMAIN, "TXT")).map(rdataToText),
          CNAME: www.records.map(rdataToText),
        };
        const ns = await resolver.query(DOMAIN, "NS");
        expect(ns.records.map(rdataToText)).toEqual([`${DOMAIN}.`]);
        const soa = await resolver.query(DOMAIN, "SOA");
        expect(soa.records.map(rdataToText)).toEqual([`${DOMAIN}. hostmaster.${DOMAIN}. 1 3600 600 86400 300`]);
        const none = await resolver.query(`nope.${DOMAIN}`, "A");
        expect(none.status).toBe("nxdomain");
        visits.socket = { address: "127.0.0.1", pages, dns };
      } finally {
        await resolver.close();
        await client.close();
      }

      if (haveTool("dig")) {
        // Debian's dig over TCP, through the host's loopback.
        const dig = async (...q: string[]) => (await run("dig", ["+short", "+tcp", "+time=5", "+tries=1", "-p", String(ports.dns), "@127.0.0.1", ...q])).stdout.trim().split("\n").filter(Boolean);
        expect(await dig(DOMAIN, "A")).toEqual(["127.0.0.1"]);
        expect(await dig(DOMAIN, "TXT")).toEqual(visits.socket.dns.TXT);
        expect(await dig(`www.${DOMAIN}`, "CNAME")).toEqual(visits.socket.dns.CNAME);
      }
    } finally {
      await h.close();
    }
  });
});

describe("the homepage on the direct target (Morgana's TCP/IP in memory)", () => {
  it("runDirect: the client resolves the name with the site's own DNS and fetches every page; the pcap holds it all", async () => {
    const pcapPath = path.join(dir, "direct.pcap");
    const t0 = performance.now();
    const r = await runDirect(app, { pcapPath });
    const ms = performance.now() - t0;
    console.log(`runDirect(homepage): ${ms.toFixed(1)} ms end to end (report: ${r.elapsedMs.toFixed(1)} ms), ${r.packets} packets, ${r.bytes} bytes`);

    expect(r.resolved).toEqual({ name: DOMAIN, address: "10.0.0.1" });
    expect(r.pages.map((p) => p.path)).toEqual(app.pages);
    const dec = new TextDecoder();
    const pages: Visit["pages"] = {};
    for (const p of r.pages) {
      expect(p.bytes).toBe(p.body.length);
      pages[p.path] = { status: p.status, contentType: p.contentType, body: dec.decode(p.body) };
    }
    const by = (type: string, transport = "udp") => r.dns.find((d) => d.type === type && d.transport === transport)!;
    expect(by("A", "tcp").answers).toEqual(by("A").answers);
    expect(r.dns.every((d) => d.rcode === "NOERROR")).toBe(true);
    visits.direct = { address: "10.0.0.1", pages, dns: { A: by("A").answers, TXT: by("TXT").answers, CNAME: by("CNAME").answers } };

    // The capture: every frame counted is in it, with DNS (port 53, UDP and TCP) and HTTP (port 80) among them.
    expect(r.pcapPath).toBe(pcapPath);
    const capture = readCaptureFileSync(pcapPath);
    expect(capture.records.length).toBe(r.packets);
    const seen = { dnsUdp: 0, dnsTcp: 0, http: 0, arp: 0 };
    const requests: string[] = [];
    for (const rec of capture.records) {
      const f = rec.data;
      const etherType = (f[12]! << 8) | f[13]!;
      if (etherType === 0x0806) seen.arp++;
      if (etherType !== 0x0800) continue;
      const ihl = (f[14]! & 0x0f) * 4;
      const proto = f[23]!;
      const l4 = 14 + ihl;
      const sport = (f[l4]! << 8) | f[l4 + 1]!;
      const dport = (f[l4 + 2]! << 8) | f[l4 + 3]!;
      if (proto === 17 && (sport === 53 || dport === 53)) seen.dnsUdp++;
      if (proto === 6 && (sport === 53 || dport === 53)) seen.dnsTcp++;
      if (proto === 6 && (sport === 80 || dport === 80)) {
        seen.http++;
        const payload = dec.decode(f.subarray(l4 + ((f[l4 + 12]! >> 4) * 4)));
        if (payload.startsWith("GET ")) requests.push(payload.split("\r\n")[0]!);
      }
    }
    expect(seen.arp).toBeGreaterThanOrEqual(2);
    expect(seen.dnsUdp).toBeGreaterThanOrEqual(8); // the lookup (A) and three questions, each a query and a response
    expect(seen.dnsTcp).toBeGreaterThanOrEqual(6); // handshake, query, response, close
    expect(seen.http).toBeGreaterThanOrEqual(9);
    expect(requests).toEqual(app.pages.map((p) => `GET ${p} HTTP/1.1`));
  });

  it("the 404 page, fetched through the direct stack as well", async () => {
    const r = await runDirect({ ...app, pages: [MISSING] });
    const p = r.pages[0]!;
    visits.direct!.pages[MISSING] = { status: p.status, contentType: p.contentType, body: new TextDecoder().decode(p.body) };
    expect(p.status).toBe(404);
  });
});

describeLinux(
  "the homepage on the tap target (Morgana's TCP/IP on a Linux TAP)",
  () => {
    it("Linux's curl and dig in the namespace get every page and the zone", async () => {
      const h = await startTap(app);
      try {
        const { peer, address } = h;
        expect(address).toBe(peer.hostAddress(2));
        const pages: Visit["pages"] = {};
        for (const p of [...app.pages, MISSING]) {
          // -D -: the header section on stdout, before the body.
          const r = await peer.exec(["curl", "-s", "--max-time", "20", "-D", "-", `http://${address}${p}`]);
          expect(r.code, JSON.stringify(r)).toBe(0);
          const split = r.stdout.indexOf("\r\n\r\n") + 4;
          const head = r.stdout.slice(0, split);
          const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]);
          const contentType = /\r\ncontent-type: ([^\r]*)\r\n/i.exec(head)?.[1] ?? "";
          pages[p] = { status, contentType, body: r.stdout.slice(split) };
        }
        const dig = async (...q: string[]) => {
          const r = await peer.exec(["dig", "+short", "+time=5", "+tries=2", `@${address}`, ...q]);
          expect(r.code, r.stderr).toBe(0);
          return r.stdout.trim().split("\n").filter(Boolean);
        };
        const dns = { A: await dig(DOMAIN, "A"), TXT: await dig(DOMAIN, "TXT"), CNAME: await dig(`www.${DOMAIN}`, "CNAME") };
        expect(await dig("+tcp", DOMAIN, "A")).toEqual(dns.A);
        const ping = await peer.exec(["ping", "-c", "1", "-W", "5", address]);
        expect(ping.code, ping.stdout).toBe(0);
        visits.tap = { address, pages, dns };
      } finally {
        await h.close();
      }
      expect(h.peer.closed).toBe(true);
    }, 60_000);
  },
  { tools: ["curl", "dig"] },
);

describe("one application, every target", () => {
  it("the same pages, byte for byte, except /stack.json which names the stack; counters on the direct stacks", () => {
    const all = Object.entries(visits) as [string, Visit][];
    expect(all.map(([t]) => t)).toEqual(expect.arrayContaining(["socket", "direct"]));
    const [first] = all;
    for (const [target, v] of all) {
      expect(Object.keys(v.pages).sort(), target).toEqual([...app.pages, MISSING].sort());
      for (const p of ["/", "/about.html", MISSING]) {
        expect(v.pages[p], `${target} ${p}`).toEqual(first![1].pages[p]);
      }
      expect(v.pages["/"]!.status).toBe(200);
      expect(v.pages["/"]!.contentType).toBe("text/html; charset=utf-8");
      expect(v.pages["/"]!.body).toContain('<a href="/about.html">');
      expect(v.pages["/about.html"]!.body).toContain("MirageOS");
      expect(v.pages[MISSING]!.status).toBe(404);
      expect(v.pages[MISSING]!.contentType).toBe("text/html; charset=utf-8");
      expect(v.pages["/stack.json"]!.status).toBe(200);

      const s = stackJson(v);
      expect(s.target).toBe(target);
      expect(s.address).toBe(v.address);
      expect(s.stack).toBe(target === "socket" ? "unix-socket" : "direct");
      if (target === "socket") {
        expect(Object.keys(s.layers).sort()).toEqual(["tcp", "udp"]);
      } else {
        expect(Object.keys(s.layers).sort()).toEqual(["arp", "ethernet", "icmp", "ipv4", "netif", "tcp", "udp"]);
        for (const layer of ["netif", "ethernet", "ipv4", "tcp", "udp"]) {
          const values = Object.values(s.layers[layer]!.counters);
          expect(values.some((n) => n > 0), `${target} ${layer}`).toBe(true);
        }
        expect(s.layers.netif!.counters.rxFrames).toBeGreaterThan(0);
      }

      // The zone: each target's own address, the same TXT and CNAME.
      expect(v.dns).toEqual({ A: [v.address], TXT: ['"v=morgana homepage"'], CNAME: [`${DOMAIN}.`] });
    }
  });
});
