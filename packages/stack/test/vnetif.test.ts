import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { parseIpv4 } from "@morgana/interfaces";
import { expectReject } from "@morgana/testkit";
import { arpFrames, bytes, network, te, type Net } from "./helpers.js";

let net: Net | undefined;
afterEach(async () => {
  if (net !== undefined) {
    await net.closeAll();
    // Closing every stack cancels every timer.
    expect(net.clock.pendingTimers).toBe(0);
    expect(net.handlerErrors).toEqual([]);
    net = undefined;
  }
});

describe("two direct stacks on a virtual switch", () => {
  it("resolves with ARP, then delivers UDP; one request on the wire, exact times", async () => {
    net = network(1, 1);
    const a = net.host("10.0.0.1/24");
    const b = net.host("10.0.0.2/24");
    const sb = await b.udp.bind({ port: 7000 });
    const sa = await a.udp.bind();
    await net.clock.advance(5000); // let the start-up announcements pass
    const t0 = net.clock.now();
    await sa.send(te.encode("hello"), { address: "10.0.0.2", port: 7000 });
    const got = sb.recv();
    await net.clock.runUntil(() => net!.wire.some((w) => w.to === "h1" && w.frame[23] === 17));
    const d = await got;
    expect(new TextDecoder().decode(d!.data)).toBe("hello");
    expect(d!.address).toBe("10.0.0.1");
    expect(d!.port).toBe(sa.local.port);
    const arp = arpFrames(net.wire).filter((f) => f.at >= t0);
    // One request from a (broadcast, seen by b at +1 ms), one reply (seen by a at +2 ms).
    expect(arp.map((f) => [f.op, f.sender, f.target, f.at - t0])).toEqual([
      [1, "10.0.0.1", "10.0.0.2", 1],
      [2, "10.0.0.2", "10.0.0.1", 2],
    ]);
    const udpAt = net.wire.find((w) => w.at >= t0 && w.frame[23] === 17)!.at;
    expect(udpAt - t0).toBe(3);
  });

  it("expires an idle ARP entry after 60 s and refreshes one in use without a stall", async () => {
    net = network(2, 1);
    const a = net.host("10.0.0.1/24");
    const b = net.host("10.0.0.2/24");
    net.host("10.0.0.3/24"); // a bystander: sees broadcast requests, not unicast ones
    const sb = await b.udp.bind({ port: 9 });
    const sa = await a.udp.bind();
    await net.clock.advance(5000);
    await sa.send(te.encode("x"), { address: "10.0.0.2", port: 9 });
    await net.clock.advance(10);
    expect(a.arp.lookup(parseIpv4("10.0.0.2"))).toBeDefined();
    const learnedAt = net.clock.now();
    await net.clock.advance(59_000);
    expect(a.arp.lookup(parseIpv4("10.0.0.2"))).toBeDefined();
    await net.clock.advance(1_100);
    expect(a.arp.lookup(parseIpv4("10.0.0.2"))).toBeUndefined();
    expect(net.clock.now() - learnedAt).toBeGreaterThanOrEqual(60_000);

    // In use: one datagram per second for three minutes; the entry is refreshed
    // by unicast before it expires, so no datagram waits for a broadcast request.
    let received = 0;
    const reader = (async () => {
      while ((await sb.recv()) !== null) received++;
    })();
    const before = arpFrames(net.wire).length;
    for (let i = 0; i < 180; i++) {
      await sa.send(te.encode(`t${i}`), { address: "10.0.0.2", port: 9 });
      await net.clock.advance(1000);
    }
    const requests = arpFrames(net.wire).slice(before).filter((f) => f.op === 1 && f.sender === "10.0.0.1" && f.target === "10.0.0.2");
    // One broadcast request (the entry had expired, so the bystander h2 sees it),
    // then refreshes before each expiry, unicast to b only.
    const broadcast = requests.filter((f) => f.to === "h2");
    const unicast = requests.filter((f) => f.to === "h1" && !broadcast.some((x) => x.at === f.at));
    expect(broadcast).toHaveLength(1);
    expect(unicast.length).toBeGreaterThanOrEqual(2);
    expect(received).toBe(1 + 180);
    await sb.close();
    await reader;
  });

  it("retries ARP at 1 s intervals and fails UDP and ping with EHOSTUNREACH after 3 s", async () => {
    net = network(3, 0);
    const a = net.host("10.0.0.1/24");
    net.host("10.0.0.2/24");
    const sa = await a.udp.bind();
    await net.clock.advance(5000);
    const t0 = net.clock.now();
    await sa.send(te.encode("?"), { address: "10.0.0.99", port: 1 });
    const failed = sa.recv();
    failed.catch(() => undefined); // settled during advance(); asserted below
    const ping = a.icmp.ping(parseIpv4("10.0.0.98"), { timeoutMs: 10_000 });
    let pingErrAt = -1;
    ping.catch(() => (pingErrAt = net!.clock.now()));
    await net.clock.advance(3500);
    await expectReject(failed, "EHOSTUNREACH");
    await expectReject(ping, "EHOSTUNREACH");
    expect(pingErrAt - t0).toBe(3000);
    const reqs = arpFrames(net.wire).filter((f) => f.op === 1 && f.target === "10.0.0.99" && f.to === "h1");
    expect(reqs.map((f) => f.at - t0)).toEqual([0, 1000, 2000]);
  });

  it("reports a closed UDP port to the sending socket as ECONNREFUSED", async () => {
    net = network(4, 1);
    const a = net.host("10.0.0.1/24");
    net.host("10.0.0.2/24");
    const sa = await a.udp.bind();
    await sa.send(te.encode("anyone?"), { address: "10.0.0.2", port: 9999 });
    const r = sa.recv().then(
      () => undefined,
      (e: unknown) => e,
    );
    await net.clock.advance(100);
    const err = await r;
    expect(err).toMatchObject({ code: "ECONNREFUSED", address: "10.0.0.2", port: 9999 });
    // The socket stays usable.
    const sb = await net.stacks[1]!.udp.bind({ port: 9999 });
    await sa.send(te.encode("now?"), { address: "10.0.0.2", port: 9999 });
    await net.clock.advance(100);
    expect(new TextDecoder().decode((await sb.recv())!.data)).toBe("now?");
  });

  it("pings, with fragmented echoes both ways", async () => {
    net = network(5, 2);
    const a = net.host("10.0.0.1/24");
    net.host("10.0.0.2/24");
    const p0 = a.icmp.ping(parseIpv4("10.0.0.2")); // resolves ARP on the way
    await net.clock.advance(50);
    await p0;
    const p1 = a.icmp.ping(parseIpv4("10.0.0.2"));
    await net.clock.advance(50);
    const r1 = await p1;
    expect(r1).toMatchObject({ bytes: 56, ttl: 64 });
    // Two switch hops of 2 ms each: one for the request, one for the reply.
    expect(r1.rttMs).toBe(4);
    const p2 = a.icmp.ping(parseIpv4("10.0.0.2"), { size: 3000 });
    await net.clock.advance(50);
    const r2 = await p2;
    expect(r2.bytes).toBe(3000);
    const fragments = net.wire.filter((w) => w.frame[23] === 1 && ((w.frame[20]! & 0x3f) !== 0 || w.frame[21] !== 0 || (w.frame[20]! & 0x20) !== 0));
    // 3008 bytes of ICMP in 1480-byte pieces: 3 fragments each way.
    expect(fragments.length).toBe(6);
  });

  it("delivers UDP datagrams of random sizes through fragmentation, reordering and duplication, intact and exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 65507 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 1 << 30 }), async (sizes, seed) => {
        net = network(seed, 1);
        const imp = { reorder: { rate: 0.3, maxExtraDelayMs: 5 }, direction: "both" as const };
        const a = net.host("10.0.0.1/24", { impair: imp });
        const b = net.host("10.0.0.2/24", { impair: imp });
        const sa = await a.udp.bind();
        const sb = await b.udp.bind({ port: 5000, receiveQueue: 64 });
        // Resolve ARP first: a burst of fragments sent before the answer would
        // overflow ARP's bounded queue (64 frames per address), by design.
        const warm = a.icmp.ping(parseIpv4("10.0.0.2"), { timeoutMs: 60_000 });
        await net.clock.advance(100);
        await warm;
        for (const [i, n] of sizes.entries()) await sa.send(bytes(n, seed + i), { address: "10.0.0.2", port: 5000 });
        await net.clock.advance(2000);
        const got: Uint8Array[] = [];
        for (let i = 0; i < sizes.length; i++) got.push((await sb.recv())!.data);
        const expected = sizes.map((n, i) => bytes(n, seed + i));
        // Reordering may change the order of datagrams, never their bytes.
        const key = (u: Uint8Array) => `${u.length}:${Array.from(u.subarray(0, 16)).join(",")}`;
        expect(got.map(key).sort()).toEqual(expected.map(key).sort());
        for (const g of got) expect(expected.some((e) => e.length === g.length && e.every((x, j) => x === g[j]))).toBe(true);
        expect(b.ipv4.stats().counters.reassemblyBytes).toBe(0);
        await net.closeAll();
        expect(net.clock.pendingTimers).toBe(0);
        net = undefined;
      }),
      { numRuns: 15 },
    );
  });

  it("under 10 % loss delivers only intact datagrams and frees every partial reassembly after 30 s", async () => {
    net = network(77, 1);
    const imp = { loss: 0.1, reorder: { rate: 0.2, maxExtraDelayMs: 3 } };
    const a = net.host("10.0.0.1/24", { impair: imp });
    const b = net.host("10.0.0.2/24");
    const sa = await a.udp.bind();
    const sb = await b.udp.bind({ port: 5000, receiveQueue: 256 });
    // A static entry, so that a lost ARP frame does not decide the run.
    a.arp.addStatic(parseIpv4("10.0.0.2"), b.netif.mac);
    const sizes = Array.from({ length: 60 }, (_, i) => 1000 + i * 200);
    for (const [i, n] of sizes.entries()) await sa.send(bytes(n, i), { address: "10.0.0.2", port: 5000 });
    await net.clock.advance(1000);
    const delivered = b.udp.stats().counters.rxDatagrams!;
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThan(sizes.length);
    for (let k = 0; k < delivered; k++) {
      const d = (await sb.recv())!;
      const i = sizes.indexOf(d.data.length);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(d.data).toEqual(bytes(sizes[i]!, i));
    }
    // Datagrams that lost a fragment wait in reassembly until the 30 s timeout.
    expect(b.ipv4.stats().counters.reassemblyDatagrams).toBeGreaterThan(0);
    await net.clock.advance(31_000);
    expect(b.ipv4.stats().counters.reassemblyDatagrams).toBe(0);
    expect(b.ipv4.stats().counters.reassemblyBytes).toBe(0);
  });
});
