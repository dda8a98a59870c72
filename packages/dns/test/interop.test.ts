/**
 * Interop with real DNS software on loopback:
 * - Debian's `dig` queries our server (serveDns on the Unix socket stack, the
 *   composition `morgana dns serve` uses): UDP, TCP, EDNS, +noedns truncation
 *   then TCP retry, NXDOMAIN, NODATA, CNAME, referral;
 * - our stub resolver queries Debian's `nsd` serving the same zones.
 * Without dig or nsd these tests are skipped with the reason, except under
 * MORGANA_REQUIRE_TOOLS=1 (CI), where they fail.
 */
import { systemClock, SeededRandom } from "@morgana/sim";
import { createSocketStack, type SocketStack } from "@morgana/unix-socket";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { serveDns, StubResolver, type DnsServerHandle } from "../src/index.js";
import { engine, OTHER_TEXT, toolIt, ZONE_TEXT } from "./fixtures.js";
import { dig, startNsd, type Nsd } from "./tools.js";

describe("dig queries our server (unix-socket stack, loopback)", () => {
  let stack: SocketStack;
  let handle: DnsServerHandle;
  beforeAll(async () => {
    stack = createSocketStack({ addresses: ["127.0.0.1"] });
    handle = await serveDns({ stack, server: engine(), clock: systemClock, port: 0, address: "127.0.0.1" });
  });
  afterAll(async () => {
    await handle.close();
    await stack.close();
  });
  const q = (name: string, type: string, extra: string[] = []) => dig("127.0.0.1", handle.port, name, type, extra);

  toolIt(["dig"], "answers over UDP with EDNS, and over TCP", async () => {
    const u = await q("www.example.test", "A");
    expect(u.status).toBe("NOERROR");
    expect(u.flags).toEqual(expect.arrayContaining(["qr", "aa", "rd"]));
    expect(u.flags).not.toContain("tc");
    expect(u.flags).not.toContain("ra");
    expect(u.edns).toEqual({ version: 0, udp: 1232 });
    expect(u.answer).toEqual([{ name: "www.example.test.", ttl: 300, class: "IN", type: "A", data: "10.77.0.2" }]);
    expect(u.transport).toBe("UDP");
    expect(u.server).toBe(`127.0.0.1#${handle.port}`);
    const t = await q("www.example.test", "AAAA", ["+tcp"]);
    expect(t.transport).toBe("TCP");
    expect(t.answer).toEqual([{ name: "www.example.test.", ttl: 300, class: "IN", type: "AAAA", data: "2001:db8::2" }]);
    // Without EDNS: no OPT in the answer.
    const n = await q("www.example.test", "A", ["+noedns"]);
    expect(n.edns).toBeUndefined();
    expect(n.counts.additional).toBe(0);
  });

  toolIt(["dig"], "+noedns: a 620-byte TXT RRset is truncated at 512 bytes, dig retries over TCP", async () => {
    const r = await q("big.example.test", "TXT", ["+noedns"]);
    expect(r.truncatedRetry).toBe(true);
    expect(r.transport).toBe("TCP");
    expect(r.status).toBe("NOERROR");
    expect(r.answer).toHaveLength(2);
    expect(r.answer.map((a) => a.data).sort()).toEqual([`"${"x".repeat(200)}" "${"y".repeat(200)}"`, `"${"z".repeat(200)}"`]);
    // With the default EDNS size it fits in UDP.
    const e = await q("big.example.test", "TXT");
    expect(e.truncatedRetry).toBe(false);
    expect(e.transport).toBe("UDP");
    // 100 A records (about 1,600 bytes) exceed 1,232: truncated, then TCP.
    const m = await q("many.example.test", "A");
    expect(m.truncatedRetry).toBe(true);
    expect(m.answer).toHaveLength(100);
    // +ignore shows the truncated UDP answer itself: TC set, no records.
    const ig = await q("many.example.test", "A", ["+ignore"]);
    expect(ig.flags).toContain("tc");
    expect(ig.answer).toHaveLength(0);
  });

  toolIt(["dig"], "NXDOMAIN and NODATA carry the SOA with the negative TTL", async () => {
    const nx = await q("nope.example.test", "A");
    expect(nx.status).toBe("NXDOMAIN");
    expect(nx.flags).toContain("aa");
    expect(nx.answer).toHaveLength(0);
    expect(nx.authority).toEqual([{ name: "example.test.", ttl: 120, class: "IN", type: "SOA", data: "ns1.example.test. hostmaster.example.test. 2026112601 3600 900 604800 120" }]);
    const nd = await q("v4only.example.test", "AAAA");
    expect(nd.status).toBe("NOERROR");
    expect(nd.counts.answer).toBe(0);
    expect(nd.authority[0]!.type).toBe("SOA");
  });

  toolIt(["dig"], "follows CNAMEs inside the zone; refuses names outside; answers MX with additional data", async () => {
    const c = await q("alias2.example.test", "A");
    expect(c.answer.map((a) => [a.name, a.type, a.data])).toEqual([
      ["alias2.example.test.", "CNAME", "alias.example.test."],
      ["alias.example.test.", "CNAME", "www.example.test."],
      ["www.example.test.", "A", "10.77.0.2"],
    ]);
    const out = await q("www.example.org", "A");
    expect(out.status).toBe("REFUSED");
    const mx = await q("mx.example.test", "MX");
    expect(mx.answer[0]!.data).toBe("10 mail.example.test.");
    expect(mx.additional.map((a) => [a.name, a.data])).toEqual([["mail.example.test.", "10.77.0.4"]]);
    expect(handle.stats().counters.udpQueries).toBeGreaterThan(5);
  });
});

describe("our resolver queries nsd (loopback)", () => {
  let nsd: Nsd | undefined;
  let stack: SocketStack;
  afterAll(async () => {
    await nsd?.stop();
    await stack?.close();
  });
  const resolver = async (opts: { edns?: boolean } = {}): Promise<StubResolver> => {
    if (nsd === undefined) {
      nsd = await startNsd([
        { name: "example.test", text: ZONE_TEXT },
        { name: "other.test", text: OTHER_TEXT },
      ]);
      stack = createSocketStack({ addresses: ["127.0.0.1"] });
    }
    return new StubResolver({ stack, servers: [{ address: "127.0.0.1", port: nsd.port }], clock: systemClock, random: new SeededRandom(11), ...opts });
  };

  toolIt(
    ["nsd"],
    "lookups, CNAME chains (inside nsd's answer and across zones), NXDOMAIN, NODATA",
    async () => {
      const r = await resolver();
      expect(await r.lookup("www.example.test", { all: true })).toEqual([
        { address: "10.77.0.2", family: 4 },
        { address: "2001:db8::2", family: 6 },
      ]);
      expect(await r.lookup("two.example.test", { all: true, family: 4 })).toEqual([
        { address: "10.77.0.5", family: 4 },
        { address: "10.77.0.6", family: 4 },
      ]);
      const a = await r.query("alias2.example.test", "A");
      expect(a.cnames.map((c) => c.data)).toEqual(["alias.example.test", "www.example.test"]);
      expect(a.records.map((x) => x.data)).toEqual(["10.77.0.2"]);
      const ext = await r.query("ext.example.test", "A");
      expect(ext.canonicalName).toBe("www.other.test");
      expect(ext.records.map((x) => x.data)).toEqual(["192.0.2.7"]);
      await expect(r.lookup("nope.example.test")).rejects.toMatchObject({ code: "ENOTFOUND", hostname: "nope.example.test" });
      await expect(r.lookup("v4only.example.test", { family: 6 })).rejects.toMatchObject({ code: "ENODATA" });
      const nx = await r.query("nope.other.test", "A");
      expect(nx).toMatchObject({ status: "nxdomain", ttl: 30 });
      await expect(r.lookup("www.example.org")).rejects.toMatchObject({ code: "EREFUSED" });
      const mx = await r.resolve("mx.example.test", "MX");
      expect(mx.map((x) => x.data)).toEqual([{ preference: 10, exchange: "mail.example.test" }]);
    },
    30_000,
  );

  toolIt(
    ["nsd"],
    "falls back to TCP when nsd truncates (100 A records; a 620-byte TXT without EDNS)",
    async () => {
      const r = await resolver();
      const many = await r.lookup("many.example.test", { all: true, family: 4 });
      expect(many).toHaveLength(100);
      expect(new Set(many.map((x) => x.address)).size).toBe(100);
      expect(r.stats().counters.truncated).toBe(1);
      const plain = await resolver({ edns: false });
      const txt = await plain.resolve("big.example.test", "TXT");
      expect(txt.map((t) => t.data.map((b) => b.length))).toEqual(expect.arrayContaining([[200, 200], [200]]));
      expect(plain.stats().counters).toMatchObject({ truncated: 1, tcpQueries: 1 });
    },
    30_000,
  );
});
