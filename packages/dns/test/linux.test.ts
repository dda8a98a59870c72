/**
 * Our server on the pure-TypeScript stack answers Debian's `dig` running in a
 * Linux network namespace, through a TAP device bridged by socat (see
 * @morgana/linux-peer): UDP, TCP, and a truncated UDP answer retried over TCP.
 * And the other way round: our resolver on the direct stack queries nsd
 * running in the namespace (UDP, and TCP with Linux's TCP after TC).
 * Needs root, ip, socat, ping, dig and nsd; skipped (or, under
 * MORGANA_REQUIRE_TOOLS=1, failed) otherwise.
 */
import { createDgramNetif } from "@morgana/dgram-netif";
import { createLinuxPeer, type LinuxPeer } from "@morgana/linux-peer";
import { describeLinux } from "@morgana/linux-peer/vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { systemClock, systemRandom } from "@morgana/sim";
import { createStack, type DirectStack } from "@morgana/stack";
import { afterEach, expect, it } from "vitest";
import { serveDns, StubResolver, type DnsServerHandle } from "../src/index.js";
import { engine, OTHER_TEXT, ZONE_TEXT } from "./fixtures.js";
import { nsdConfig, parseDig } from "./tools.js";

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(): Promise<{ peer: LinuxPeer; stack: DirectStack; me: string; handle: DnsServerHandle }> {
  const peer = await createLinuxPeer();
  cleanup.push(() => peer.close());
  const netif = await createDgramNetif({ localPort: peer.morganaPort, remotePort: peer.socatPort, mtu: peer.mtu });
  const me = peer.hostAddress(2);
  const stack = createStack({ netif, address: `${me}/${peer.prefixLength}` });
  cleanup.push(() => stack.close());
  const handle = await serveDns({ stack, server: engine(), clock: systemClock });
  cleanup.push(() => handle.close());
  return { peer, stack, me, handle };
}

async function digIn(peer: LinuxPeer, me: string, args: string[]) {
  const r = await peer.exec(["dig", `@${me}`, "+tries=2", "+time=3", ...args]);
  expect(r.stdout).toContain("->>HEADER<<-");
  return parseDig(r.stdout);
}

describeLinux(
  "our server on the direct stack answers dig in a network namespace",
  () => {
    it("over UDP and TCP, with NXDOMAIN and CNAMEs", async () => {
      const { peer, me, handle } = await setup();
      const u = await digIn(peer, me, ["www.example.test", "A"]);
      expect(u.status).toBe("NOERROR");
      expect(u.flags).toContain("aa");
      expect(u.transport).toBe("UDP");
      expect(u.server).toBe(`${me}#53`);
      expect(u.answer).toEqual([{ name: "www.example.test.", ttl: 300, class: "IN", type: "A", data: "10.77.0.2" }]);
      const t = await digIn(peer, me, ["+tcp", "alias.example.test", "AAAA"]);
      expect(t.transport).toBe("TCP");
      expect(t.answer.map((a) => a.type)).toEqual(["CNAME", "AAAA"]);
      const nx = await digIn(peer, me, ["nope.example.test", "A"]);
      expect(nx.status).toBe("NXDOMAIN");
      expect(nx.authority[0]!.type).toBe("SOA");
      expect(handle.stats().counters).toMatchObject({ udpQueries: 2, tcpQueries: 1, tcpConnections: 1 });
    }, 60_000);

    it("truncates at 512 bytes without EDNS; dig retries over TCP", async () => {
      const { peer, me, handle } = await setup();
      const r = await digIn(peer, me, ["+noedns", "big.example.test", "TXT"]);
      expect(r.truncatedRetry).toBe(true);
      expect(r.transport).toBe("TCP");
      expect(r.answer).toHaveLength(2);
      const m = await digIn(peer, me, ["many.example.test", "A"]);
      expect(m.truncatedRetry).toBe(true);
      expect(m.answer).toHaveLength(100);
      expect(handle.stats().counters.tcpQueries).toBe(2);
    }, 60_000);
  },
  { tools: ["dig"] },
);

describeLinux(
  "our resolver on the direct stack queries nsd in a network namespace",
  () => {
    it("over UDP, and over TCP after truncation", async () => {
      const peer = await createLinuxPeer();
      cleanup.push(() => peer.close());
      const dir = mkdtempSync(path.join(tmpdir(), "morgana-nsd-ns-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const conf = path.join(dir, "nsd.conf");
      writeFileSync(conf, nsdConfig(dir, { address: peer.address, port: 53, zones: [{ name: "example.test", text: ZONE_TEXT }, { name: "other.test", text: OTHER_TEXT }] }));
      const nsd = peer.spawn(["nsd", "-d", "-c", conf]);
      cleanup.push(() => nsd.kill());
      await nsd.waitForOutput(/nsd started/, 10_000);
      const netif = await createDgramNetif({ localPort: peer.morganaPort, remotePort: peer.socatPort, mtu: peer.mtu });
      const stack = createStack({ netif, address: `${peer.hostAddress(2)}/${peer.prefixLength}` });
      cleanup.push(() => stack.close());
      const r = new StubResolver({ stack, servers: [peer.address], clock: systemClock, random: systemRandom });
      expect(await r.lookup("alias.example.test", { all: true })).toEqual([
        { address: "10.77.0.2", family: 4 },
        { address: "2001:db8::2", family: 6 },
      ]);
      expect(await r.lookup("ext.example.test")).toEqual({ address: "192.0.2.7", family: 4 });
      await expect(r.lookup("nope.example.test")).rejects.toMatchObject({ code: "ENOTFOUND" });
      const many = await r.lookup("many.example.test", { all: true, family: 4 });
      expect(many).toHaveLength(100);
      expect(r.stats().counters).toMatchObject({ truncated: 1, tcpQueries: 1 });
      // A closed port on Linux: ICMP port unreachable reaches the direct stack.
      const closed = new StubResolver({ stack, servers: [`${peer.address}:5399`], clock: systemClock, random: systemRandom });
      await expect(closed.lookup("www.example.test")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    }, 60_000);
  },
  { tools: ["dig", "nsd"] },
);
