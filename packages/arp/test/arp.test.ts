import { describe, expect, it } from "vitest";
import { isMorganaError, randomInt, type Ipv4Address, type MacAddress } from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { ArpLayer, ARP_DEFAULTS } from "../src/index.js";
import {
  BCAST,
  expectCode,
  expectReject,
  fakeSetup,
  FakeEthernet,
  fillWith,
  ip,
  IP_PEER,
  IP_US,
  MAC_PEER,
  MAC_US,
  track,
  twoHosts,
  ZERO_IP,
  ZERO_MAC,
} from "./helpers.js";

const REQ = 1;
const REP = 2;

describe("resolution between two hosts (ArpLayer over Ethif over a vnetif link)", () => {
  it("resolves with one broadcast request and one unicast reply; both sides learn", async () => {
    const h = twoHosts({}, 1);
    const q = track(h.clock, h.arpA.query(IP_PEER));
    await h.clock.advance(100);
    expect(q).toMatchObject({ state: "resolved", value: h.eb.mac, at: 2 }); // 1 ms there, 1 ms back
    const wire = h.arpOnWire();
    expect(wire).toHaveLength(2);
    expect(wire[0]).toMatchObject({ opcode: REQ, to: "b", at: 1, ethDst: BCAST, senderMac: h.ea.mac, senderIp: IP_US, targetMac: ZERO_MAC, targetIp: IP_PEER });
    expect(wire[1]).toMatchObject({ opcode: REP, to: "a", at: 2, ethDst: h.ea.mac, senderMac: h.eb.mac, senderIp: IP_PEER, targetMac: h.ea.mac, targetIp: IP_US });
    expect(h.arpA.lookup(IP_PEER)).toBe(h.eb.mac);
    expect(h.arpB.lookup(IP_US)).toBe(h.ea.mac); // the request was for B: B learned A
    expect(h.arpA.stats().counters).toMatchObject({ txRequests: 1, rxReplies: 1, learned: 1, resolved: 1, cacheSize: 1 });
    expect(h.arpB.stats().counters).toMatchObject({ rxRequests: 1, txReplies: 1, learned: 1 });
  });

  it("a packet sent before resolution arrives once resolved, then later ones go directly", async () => {
    const h = twoHosts();
    expect(h.arpA.send(IP_PEER, 10, fillWith(Uint8Array.of(1, 2, 3)))).toBe(true);
    expect(h.arpA.stats().counters.queuedPackets).toBe(1);
    await h.clock.advance(100);
    expect(h.ipAtB.map((p) => [...p])).toEqual([[1, 2, 3]]);
    expect(h.arpA.send(IP_PEER, 2, fillWith(Uint8Array.of(4, 5)))).toBe(true);
    await h.clock.advance(100);
    expect(h.ipAtB.map((p) => [...p])).toEqual([[1, 2, 3], [4, 5]]);
    expect(h.arpA.stats().counters).toMatchObject({ sentQueued: 1, sentDirect: 1, queuedPackets: 0, txRequests: 1 });
  });

  it("coalesces concurrent queries and sends into one request on the wire", async () => {
    const h = twoHosts({}, 5);
    const qs = Array.from({ length: 5 }, () => track(h.clock, h.arpA.query(IP_PEER)));
    for (let i = 0; i < 3; i++) h.arpA.send(IP_PEER, 1, fillWith(Uint8Array.of(i)));
    qs.push(track(h.clock, h.arpA.query(IP_PEER)));
    await h.clock.runUntilIdle();
    const requests = h.arpOnWire().filter((p) => p.opcode === REQ);
    expect(requests).toHaveLength(1);
    for (const q of qs) expect(q).toMatchObject({ state: "resolved", value: h.eb.mac, at: 10 });
    expect(h.ipAtB.map((p) => p[0])).toEqual([0, 1, 2]);
    expect(h.arpA.stats().counters.resolutions).toBe(1);
  });

  it("keeps traffic flowing across expiry: an entry in use is refreshed by unicast and never goes back to broadcast", async () => {
    const h = twoHosts({}, 1);
    let sent = 0;
    // One packet every 700 ms for 5 minutes.
    const tick = (): void => {
      h.arpA.send(IP_PEER, 1, fillWith(Uint8Array.of(sent++ & 0xff)));
      if (sent < 430) h.clock.setTimer(700, tick);
    };
    tick();
    await h.clock.runUntilIdle();
    expect(h.ipAtB).toHaveLength(430);
    const c = h.arpA.stats().counters;
    expect(c.sentQueued).toBe(1); // only the very first packet waited
    expect(c.sentDirect).toBe(429);
    expect(c.refreshRequests).toBeGreaterThanOrEqual(4); // 300 s / 60 s
    const requests = h.arpOnWire().filter((p) => p.opcode === REQ && p.to === "b");
    expect(requests.filter((p) => p.ethDst === BCAST)).toHaveLength(1);
    expect(requests.filter((p) => p.ethDst === h.eb.mac).length).toBe(c.refreshRequests);
    expect(h.arpA.stats().drops).toEqual({});
  });
});

describe("retries and failure", () => {
  it("sends requests at t = 0, 1 s, 2 s and rejects with EHOSTUNREACH at exactly 3 s (defaults)", async () => {
    const { clock, eth, arp } = fakeSetup();
    expect([ARP_DEFAULTS.retryIntervalMs, ARP_DEFAULTS.maxTries]).toEqual([1000, 3]);
    const target = ip("10.0.0.99");
    const q = track(clock, arp.query(target));
    const errors: unknown[] = [];
    arp.send(target, 4, fillWith(Uint8Array.of(1, 2, 3, 4)), (e) => errors.push([e, clock.now()]));
    await clock.advance(2999);
    expect(q.state).toBe("pending");
    await clock.advance(1);
    expect(q.state).toBe("rejected");
    expect(q.at).toBe(3000);
    expect(isMorganaError(q.error, "EHOSTUNREACH")).toBe(true);
    expect((q.error as { address: string }).address).toBe("10.0.0.99");
    const reqs = eth.arp();
    expect(reqs.map((r) => r.at)).toEqual([0, 1000, 2000]);
    for (const r of reqs) expect(r).toMatchObject({ opcode: REQ, dst: BCAST, senderMac: MAC_US, senderIp: IP_US, targetMac: ZERO_MAC, targetIp: target });
    expect(errors).toHaveLength(1);
    expect(isMorganaError((errors[0] as unknown[])[0], "EHOSTUNREACH")).toBe(true);
    expect((errors[0] as unknown[])[1]).toBe(3000);
    expect(arp.stats().drops).toEqual({ unresolved: 1 });
    expect(arp.stats().counters).toMatchObject({ failed: 1, pendingResolutions: 0, queuedPackets: 0 });
    expect(clock.pendingTimers).toBe(0);
    expect(eth.ipv4()).toHaveLength(0);
  });

  it("honours retryIntervalMs and maxTries", async () => {
    const { clock, eth, arp } = fakeSetup({ retryIntervalMs: 250, maxTries: 5 });
    const q = track(clock, arp.query(ip("10.0.0.99")));
    await clock.advance(10_000);
    expect(eth.arp().map((r) => r.at)).toEqual([0, 250, 500, 750, 1000]);
    expect(q.at).toBe(1250);
  });

  it("remembers failures for negativeCacheMs when enabled", async () => {
    const { clock, eth, arp } = fakeSetup({ negativeCacheMs: 5000 });
    const target = ip("10.0.0.99");
    const first = track(clock, arp.query(target));
    await clock.advance(3000);
    expect(isMorganaError(first.error, "EHOSTUNREACH")).toBe(true);
    expect(eth.arp()).toHaveLength(3);
    await expectReject(arp.query(target), "EHOSTUNREACH");
    expect(arp.send(target, 1, () => 1)).toBe(false);
    expect(eth.arp()).toHaveLength(3);
    expect(arp.stats().drops).toEqual({ unresolved: 1 });
    expect(arp.stats().counters.negativeEntries).toBe(1);
    await clock.advance(5000);
    void arp.query(target).catch(() => undefined);
    expect(eth.arp()).toHaveLength(4);
  });

  it("is answered at the second try when the first request was lost", async () => {
    const { clock, eth, arp } = fakeSetup();
    const q = track(clock, arp.query(IP_PEER));
    await clock.advance(1500);
    eth.injectArp(REP, MAC_PEER, IP_PEER, MAC_US, IP_US);
    await clock.advance(0);
    expect(q).toMatchObject({ state: "resolved", value: MAC_PEER, at: 1500 });
    await clock.advance(5000);
    expect(eth.arp()).toHaveLength(2);
  });

  it("supports AbortSignal: ABORT_ERR for that query only; the last waiter leaving cancels the exchange", async () => {
    const { clock, eth, arp } = fakeSetup();
    const ac1 = new AbortController();
    const q1 = track(clock, arp.query(IP_PEER, ac1.signal));
    const q2 = track(clock, arp.query(IP_PEER));
    ac1.abort();
    await clock.advance(500);
    expect(q1.state).toBe("rejected");
    expect(isMorganaError(q1.error, "ABORT_ERR")).toBe(true);
    eth.injectArp(REP, MAC_PEER, IP_PEER, MAC_US, IP_US);
    await clock.advance(0);
    expect(q2).toMatchObject({ state: "resolved", value: MAC_PEER });

    const other = ip("10.0.0.77");
    const ac2 = new AbortController();
    const q3 = track(clock, arp.query(other, ac2.signal));
    const before = eth.arp().length;
    const timersBefore = clock.pendingTimers;
    ac2.abort();
    await clock.advance(5000);
    expect(isMorganaError(q3.error, "ABORT_ERR")).toBe(true);
    expect(eth.arp().length).toBe(before); // no retries after the abort
    expect(clock.pendingTimers).toBeLessThan(timersBefore);
    expect(arp.stats().counters).toMatchObject({ cancelled: 1, pendingResolutions: 0 });
    await expectReject(arp.query(other, AbortSignal.abort()), "ABORT_ERR");
  });

  it("bounds concurrent resolutions (maxPending): ENOBUFS beyond", async () => {
    const { arp } = fakeSetup({ maxPending: 2 });
    void arp.query(ip("10.0.0.5")).catch(() => undefined);
    void arp.query(ip("10.0.0.6")).catch(() => undefined);
    await expectReject(arp.query(ip("10.0.0.7")), "ENOBUFS");
    expect(arp.send(ip("10.0.0.8"), 1, () => 1)).toBe(false);
    expect(arp.stats().drops).toEqual({ "resolution-limit": 2 });
    arp.close();
  });
});

describe("cache expiry and refresh", () => {
  it("a learned entry expires after exactly reachableMs (60 s)", async () => {
    const { clock, eth, arp } = fakeSetup();
    await clock.advance(1000);
    eth.injectArp(REQ, MAC_PEER, IP_PEER, ZERO_MAC, IP_US); // a request for us: learned at t = 1000
    expect(arp.entries()).toEqual([{ ip: IP_PEER, mac: MAC_PEER, static: false, expiresAt: 61_000 }]);
    await clock.advance(59_999);
    expect(arp.lookup(IP_PEER)).toBe(MAC_PEER);
    await clock.advance(1);
    expect(arp.lookup(IP_PEER)).toBeUndefined();
    expect(arp.entries()).toEqual([]);
    expect(arp.stats().counters).toMatchObject({ expired: 1, cacheSize: 0 });
    expect(clock.pendingTimers).toBe(0);
    expect(eth.arp().filter((p) => p.opcode === REQ)).toHaveLength(0); // not in use: expired silently
  });

  it("a confirmation restarts the lifetime", async () => {
    const { clock, eth, arp } = fakeSetup({ reachableMs: 30_000 });
    eth.injectArp(REQ, MAC_PEER, IP_PEER, ZERO_MAC, IP_US);
    await clock.advance(20_000);
    eth.injectArp(REQ, MAC_PEER, IP_PEER, ZERO_MAC, IP_US);
    await clock.advance(29_999);
    expect(arp.lookup(IP_PEER)).toBe(MAC_PEER);
    await clock.advance(1);
    expect(arp.lookup(IP_PEER)).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it("using an entry inside the refresh window (last 5 s) re-requests it by unicast, at most every 1 s and 3 times", async () => {
    const { clock, eth, arp } = fakeSetup();
    eth.injectArp(REQ, MAC_PEER, IP_PEER, ZERO_MAC, IP_US); // learned at 0, expires at 60 000
    const use = () => expect(arp.send(IP_PEER, 1, () => 1)).toBe(true);
    await clock.advance(54_999);
    use();
    expect(eth.arp().filter((p) => p.opcode === REQ)).toHaveLength(0);
    await clock.advance(1); // 55 000
    use();
    use();
    await clock.advance(999);
    use(); // 55 999: too soon
    await clock.advance(1);
    use(); // 56 000
    await clock.advance(1000);
    use(); // 57 000
    await clock.advance(1000);
    use(); // 58 000: three tries already
    const reqs = eth.arp().filter((p) => p.opcode === REQ);
    expect(reqs.map((r) => r.at)).toEqual([55_000, 56_000, 57_000]);
    for (const r of reqs) expect(r).toMatchObject({ dst: MAC_PEER, targetIp: IP_PEER, senderIp: IP_US, targetMac: ZERO_MAC });
    expect(eth.ipv4()).toHaveLength(7); // every packet went out at once
    // The reply confirms the entry: 60 s from now.
    eth.injectArp(REP, MAC_PEER, IP_PEER, MAC_US, IP_US);
    expect(arp.entries()[0]!.expiresAt).toBe(118_000);
    await clock.advance(54_999);
    use();
    expect(eth.arp().filter((p) => p.opcode === REQ)).toHaveLength(3);
    await clock.advance(1);
    use();
    expect(eth.arp().filter((p) => p.opcode === REQ).map((r) => r.at)).toEqual([55_000, 56_000, 57_000, 113_000]);
    expect(arp.stats().counters).toMatchObject({ refreshRequests: 4, updated: 1, learned: 1 });
  });

  it("an unanswered refresh lets the entry expire; the next packet resolves again by broadcast", async () => {
    const { clock, eth, arp } = fakeSetup();
    eth.injectArp(REQ, MAC_PEER, IP_PEER, ZERO_MAC, IP_US);
    await clock.advance(58_000);
    arp.send(IP_PEER, 1, () => 1);
    await clock.advance(2_000);
    expect(arp.lookup(IP_PEER)).toBeUndefined();
    arp.send(IP_PEER, 1, () => 1);
    const reqs = eth.arp().filter((p) => p.opcode === REQ);
    expect(reqs.map((r) => [r.at, r.dst])).toEqual([
      [58_000, MAC_PEER],
      [60_000, BCAST],
    ]);
    expect(arp.stats().counters.queuedPackets).toBe(1);
    arp.close();
  });
});

describe("bounded LRU cache", () => {
  it("stays at cacheSize under a flood of requests from random senders, keeping the entries in use", async () => {
    const { clock, eth, arp } = fakeSetup();
    const gateway = ip("10.0.0.254");
    const gwMac = 0x0200_0000_00fe as MacAddress;
    eth.injectArp(REQ, gwMac, gateway, ZERO_MAC, IP_US);
    const rnd = new SeededRandom("flood");
    const seen = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const spa = (0x0a000000 + randomInt(rnd, 1, 0xffffff)) as Ipv4Address;
      const sha = (0x0200_0000_0000 + rnd.uint32()) as MacAddress;
      if (spa === IP_US || spa === gateway) continue;
      seen.add(spa);
      eth.injectArp(REQ, sha, spa, ZERO_MAC, IP_US);
      if (i % 100 === 0) expect(arp.send(gateway, 1, () => 1)).toBe(true);
      expect(arp.stats().counters.cacheSize).toBeLessThanOrEqual(512);
      await (i % 500 === 0 ? clock.advance(10) : undefined);
    }
    const c = arp.stats().counters;
    expect(c.cacheSize).toBe(512);
    expect(arp.entries()).toHaveLength(512);
    expect(c.learned).toBe(seen.size + 1);
    expect(c.evicted).toBe(c.learned! - 512);
    expect(arp.lookup(gateway)).toBe(gwMac);
    expect(eth.ipv4()).toHaveLength(50);
    expect(clock.pendingTimers).toBe(512); // one expiry timer per entry, evicted ones cancelled
    arp.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it("evicts the least recently used entry first", () => {
    const { eth, arp } = fakeSetup({ cacheSize: 3 });
    const peers = [2, 3, 4, 5].map((n) => ({ ip: ip(`10.0.0.${n}`), mac: (0x0200_0000_0000 + n) as MacAddress }));
    for (const p of peers.slice(0, 3)) eth.injectArp(REQ, p.mac, p.ip, ZERO_MAC, IP_US);
    expect(arp.lookup(peers[0]!.ip)).toBe(peers[0]!.mac); // 10.0.0.2 is now the most recent
    eth.injectArp(REQ, peers[3]!.mac, peers[3]!.ip, ZERO_MAC, IP_US);
    expect(arp.entries().map((e) => e.ip)).toEqual([peers[2]!.ip, peers[0]!.ip, peers[3]!.ip]);
    expect(arp.stats().counters.evicted).toBe(1);
  });
});

describe("static entries", () => {
  it("are used directly, never expire, never get overwritten, and are not counted in the cache", async () => {
    const { clock, eth, arp } = fakeSetup({ cacheSize: 1 });
    const mac = 0x0200_0000_00aa as MacAddress;
    arp.addStatic(IP_PEER, mac);
    expect(arp.send(IP_PEER, 3, () => 3)).toBe(true);
    expect(eth.ipv4()[0]!.dst).toBe(mac);
    eth.injectArp(REP, MAC_PEER, IP_PEER, MAC_US, IP_US);
    eth.injectArp(REQ, MAC_PEER, IP_PEER, ZERO_MAC, IP_US);
    expect(arp.lookup(IP_PEER)).toBe(mac);
    expect(arp.stats().counters.staticMismatches).toBe(2);
    eth.injectArp(REQ, 0x0200_0000_0077 as MacAddress, ip("10.0.0.7"), ZERO_MAC, IP_US);
    await clock.advance(3_600_000);
    expect(arp.lookup(IP_PEER)).toBe(mac);
    expect(arp.entries()).toEqual([{ ip: IP_PEER, mac, static: true, expiresAt: Infinity }]);
    expect(eth.arp().filter((p) => p.opcode === REQ)).toHaveLength(0);
    // The request was still answered.
    expect(eth.arp().filter((p) => p.opcode === REP && p.targetIp === IP_PEER)).toHaveLength(1);
    arp.removeStatic(IP_PEER);
    expect(arp.lookup(IP_PEER)).toBeUndefined();
  });

  it("replace a dynamic entry and complete a resolution in progress", async () => {
    const { clock, eth, arp } = fakeSetup();
    eth.injectArp(REQ, MAC_PEER, IP_PEER, ZERO_MAC, IP_US);
    arp.addStatic(IP_PEER, 0x0200_0000_00bb as MacAddress);
    expect(arp.entries()).toHaveLength(1);
    expect(arp.entries()[0]!.static).toBe(true);
    const other = ip("10.0.0.3");
    const q = track(clock, arp.query(other));
    arp.send(other, 2, fillWith(Uint8Array.of(7, 7)));
    arp.addStatic(other, 0x0200_0000_00cc as MacAddress);
    await clock.advance(10_000);
    expect(q).toMatchObject({ state: "resolved", value: 0x0200_0000_00cc, at: 0 });
    expect(eth.ipv4().map((f) => f.dst)).toEqual([0x0200_0000_00cc]);
    expect(clock.pendingTimers).toBe(0);
    expectCode(() => arp.addStatic(ZERO_IP, MAC_PEER), "EINVAL");
    expectCode(() => arp.addStatic(IP_PEER, -1 as MacAddress), "EINVAL");
  });

  it("can be given to the constructor", () => {
    const clock = new VirtualClock();
    const arp = new ArpLayer({ ethernet: new FakeEthernet(clock), clock, random: new SeededRandom(1), staticEntries: [{ ip: IP_PEER, mac: MAC_PEER }] });
    expect(arp.lookup(IP_PEER)).toBe(MAC_PEER);
  });
});

describe("our addresses", () => {
  it("answers requests for each address we own, and only those", () => {
    const { eth, arp } = fakeSetup();
    const second = ip("192.168.7.1");
    arp.addAddress(second);
    expect(arp.addresses).toEqual([IP_US, second]);
    eth.injectArp(REQ, MAC_PEER, IP_PEER, ZERO_MAC, IP_US);
    eth.injectArp(REQ, MAC_PEER, ip("192.168.7.2"), ZERO_MAC, second);
    eth.injectArp(REQ, MAC_PEER, IP_PEER, ZERO_MAC, ip("10.0.0.3"));
    arp.removeAddress(second);
    eth.injectArp(REQ, MAC_PEER, ip("192.168.7.2"), ZERO_MAC, second);
    const replies = eth.arp().filter((p) => p.opcode === REP);
    expect(replies).toHaveLength(2);
    expect(replies[0]).toMatchObject({ dst: MAC_PEER, senderMac: MAC_US, senderIp: IP_US, targetMac: MAC_PEER, targetIp: IP_PEER });
    expect(replies[1]).toMatchObject({ dst: MAC_PEER, senderMac: MAC_US, senderIp: second, targetMac: MAC_PEER, targetIp: ip("192.168.7.2") });
    expect(arp.stats().counters).toMatchObject({ rxRequests: 4, txReplies: 2, addresses: 1 });
  });

  it("announces an added address twice, 2 s apart (RFC 5227), and cancels on removal", async () => {
    const { clock, eth, arp } = fakeSetup({ announcements: undefined as never, addresses: [] });
    expect([ARP_DEFAULTS.announcements, ARP_DEFAULTS.announceIntervalMs]).toEqual([2, 2000]);
    await clock.advance(100);
    const a1 = ip("10.0.0.50");
    arp.addAddress(a1);
    arp.addAddress(a1); // already ours: nothing more
    await clock.advance(10_000);
    const anns = eth.arp();
    expect(anns.map((p) => p.at)).toEqual([100, 2100]);
    for (const p of anns) expect(p).toMatchObject({ opcode: REQ, dst: BCAST, senderMac: MAC_US, senderIp: a1, targetMac: ZERO_MAC, targetIp: a1 });
    const a2 = ip("10.0.0.51");
    arp.addAddress(a2);
    arp.removeAddress(a2);
    await clock.advance(10_000);
    expect(eth.arp().filter((p) => p.senderIp === a2)).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
    expect(arp.stats().counters.announcements).toBe(3);
    expectCode(() => arp.addAddress(ip("224.0.0.1")), "EINVAL");
    expectCode(() => arp.addAddress(ip("255.255.255.255")), "EINVAL");
  });

  it("announces the constructor's addresses", async () => {
    const clock = new VirtualClock();
    const eth = new FakeEthernet(clock);
    new ArpLayer({ ethernet: eth, clock, random: new SeededRandom(1), addresses: [IP_US, ip("10.1.0.1")], announcements: 3, announceIntervalMs: 500 });
    await clock.runUntilIdle();
    expect(eth.arp().map((p) => [p.at, p.targetIp])).toEqual([
      [0, IP_US],
      [0, ip("10.1.0.1")],
      [500, IP_US],
      [500, ip("10.1.0.1")],
      [1000, IP_US],
      [1000, ip("10.1.0.1")],
    ]);
  });

  it("detects a conflict (someone else claims our address): counted, reported, defended at most every 10 s", async () => {
    const conflicts: [Ipv4Address, MacAddress][] = [];
    const { clock, eth, arp } = fakeSetup({ onConflict: (a, m) => conflicts.push([a, m]) });
    eth.injectArp(REQ, MAC_PEER, IP_US, ZERO_MAC, IP_US); // a gratuitous ARP for our address
    await clock.advance(5_000);
    eth.injectArp(REP, MAC_PEER, IP_US, MAC_US, IP_PEER);
    await clock.advance(5_000);
    eth.injectArp(REQ, MAC_PEER, IP_US, ZERO_MAC, ip("10.0.0.9"));
    expect(conflicts).toEqual([
      [IP_US, MAC_PEER],
      [IP_US, MAC_PEER],
      [IP_US, MAC_PEER],
    ]);
    expect(arp.stats().counters).toMatchObject({ addressConflicts: 3, defenses: 2, cacheSize: 0 });
    expect(arp.stats().drops).toEqual({ "address-conflict": 3 });
    const defences = eth.arp();
    expect(defences.map((p) => p.at)).toEqual([0, 10_000]);
    for (const p of defences) expect(p).toMatchObject({ opcode: REQ, dst: BCAST, senderIp: IP_US, targetIp: IP_US, senderMac: MAC_US });
  });

  it("answers an RFC 5227 probe for our address without learning from it", () => {
    const { eth, arp } = fakeSetup();
    eth.injectArp(REQ, MAC_PEER, ZERO_IP, ZERO_MAC, IP_US);
    eth.injectArp(REQ, MAC_PEER, ZERO_IP, ZERO_MAC, ip("10.0.0.8"));
    const replies = eth.arp();
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ opcode: REP, dst: MAC_PEER, senderMac: MAC_US, senderIp: IP_US, targetMac: MAC_PEER, targetIp: ZERO_IP });
    expect(arp.stats().counters).toMatchObject({ probesReceived: 2, cacheSize: 0 });
  });
});

describe("learning rules (RFC 826 merge, poisoning resistance)", () => {
  const X = ip("10.0.0.66");
  const MX = 0x0200_0000_0066 as MacAddress;

  it("ignores an unsolicited reply, even one addressed to us", () => {
    const { eth, arp } = fakeSetup();
    eth.injectArp(REP, MX, X, MAC_US, IP_US);
    eth.injectArp(REP, MX, X, MAC_PEER, IP_PEER);
    expect(arp.lookup(X)).toBeUndefined();
    expect(arp.stats().drops).toEqual({ unsolicited: 2 });
  });

  it("learns from unsolicited replies with acceptUnsolicited", () => {
    const { eth, arp } = fakeSetup({ acceptUnsolicited: true });
    eth.injectArp(REP, MX, X, MAC_PEER, IP_PEER);
    expect(arp.lookup(X)).toBe(MX);
  });

  it("does not create entries from requests for someone else, but updates known senders from any packet", () => {
    const { eth, arp } = fakeSetup();
    eth.injectArp(REQ, MX, X, ZERO_MAC, IP_PEER);
    expect(arp.lookup(X)).toBeUndefined();
    eth.injectArp(REQ, MX, X, ZERO_MAC, IP_US);
    expect(arp.lookup(X)).toBe(MX);
    const moved = 0x0200_0000_0067 as MacAddress;
    eth.injectArp(REQ, moved, X, ZERO_MAC, X); // X's gratuitous ARP after a NIC change
    expect(arp.lookup(X)).toBe(moved);
    eth.injectArp(REP, MX, X, MAC_PEER, IP_PEER); // a reply to someone else, X known: merged
    expect(arp.lookup(X)).toBe(MX);
    expect(arp.stats().counters).toMatchObject({ learned: 1, updated: 2, macChanged: 2 });
    expect(eth.arp().filter((p) => p.opcode === REP)).toHaveLength(1); // only the request for us was answered
  });

  it("learns a reply to a pending request, whatever its target", async () => {
    const { clock, eth, arp } = fakeSetup();
    const q = track(clock, arp.query(X));
    eth.injectArp(REP, MX, X, MAC_PEER, IP_PEER);
    await clock.advance(0);
    expect(q).toMatchObject({ state: "resolved", value: MX });
  });

  it("never learns group or zero sender MACs, our own MAC, or broadcast/multicast/loopback sender IPs", () => {
    const { eth, arp } = fakeSetup({ acceptUnsolicited: true });
    eth.injectArp(REQ, BCAST, X, ZERO_MAC, IP_US);
    eth.injectArp(REQ, 0x0100_5e00_0001 as MacAddress, X, ZERO_MAC, IP_US);
    eth.injectArp(REQ, ZERO_MAC, X, ZERO_MAC, IP_US);
    eth.injectArp(REQ, MAC_US, X, ZERO_MAC, IP_US);
    eth.injectArp(REQ, MX, ip("255.255.255.255"), ZERO_MAC, IP_US);
    eth.injectArp(REP, MX, ip("239.1.2.3"), MAC_US, IP_US);
    eth.injectArp(REP, MX, ip("127.0.0.1"), MAC_US, IP_US);
    eth.injectArp(REP, MX, ZERO_IP, MAC_US, IP_US);
    expect(arp.entries()).toEqual([]);
    expect(eth.arp()).toHaveLength(0); // none answered
    expect(arp.stats().drops).toEqual({ "bad-sender-mac": 3, "own-mac": 1, "bad-sender-ip": 4 });
  });

  it("counts malformed packets by reason", () => {
    const { eth, arp } = fakeSetup();
    const good = () => {
      const b = new Uint8Array(28);
      b.set([0, 1, 8, 0, 6, 4, 0, 1]);
      return b;
    };
    eth.inject(new Uint8Array(7));
    const hw = good();
    hw[1] = 6;
    eth.inject(hw);
    const pt = good();
    pt[2] = 0x86;
    eth.inject(pt);
    const sz = good();
    sz[4] = 8;
    eth.inject(sz);
    eth.inject(good().subarray(0, 27));
    const op = good();
    op[7] = 3;
    eth.inject(op);
    expect(arp.stats().drops).toEqual({ short: 2, "hardware-type": 1, "protocol-type": 1, "address-size": 1, opcode: 1 });
    expect(arp.stats().counters).toMatchObject({ rxPackets: 6, rxInvalid: 6, rxRequests: 0, rxReplies: 0 });
  });
});

describe("the queue of packets awaiting resolution", () => {
  it("keeps at most queuePerDestination (64) packets per address: the oldest are dropped with ENOBUFS", async () => {
    const { clock, eth, arp } = fakeSetup();
    const N = ARP_DEFAULTS.queuePerDestination;
    expect(N).toBe(64);
    const errors: [number, string][] = [];
    for (let i = 0; i < N + 4; i++) {
      expect(arp.send(IP_PEER, 100, fillWith(Uint8Array.of(i, i, i)), (e) => errors.push([i, (e as Error & { code: string }).code]))).toBe(true);
    }
    expect(errors).toEqual([0, 1, 2, 3].map((i) => [i, "ENOBUFS"]));
    expect(arp.stats().drops).toEqual({ "queue-overflow": 4 });
    expect(arp.stats().counters.queuedPackets).toBe(N);
    eth.injectArp(REP, MAC_PEER, IP_PEER, MAC_US, IP_US);
    await clock.advance(0);
    const out = eth.ipv4();
    expect(out.map((f) => [...f.bytes])).toEqual(Array.from({ length: N }, (_, k) => [k + 4, k + 4, k + 4]));
    for (const f of out) expect(f.dst).toBe(MAC_PEER);
    expect(arp.stats().counters).toMatchObject({ queuedPackets: 0, sentQueued: N });
    expect(errors).toHaveLength(4);
  });

  it("keeps at most queueTotal packets overall, dropping the oldest of all", () => {
    const { arp } = fakeSetup({ queueTotal: 5 });
    const dropped: string[] = [];
    const a = ip("10.0.0.20");
    const b = ip("10.0.0.21");
    const send = (to: Ipv4Address, tag: string) => arp.send(to, 1, () => 1, () => dropped.push(tag));
    send(a, "a0");
    send(b, "b0");
    send(a, "a1");
    send(b, "b1");
    send(a, "a2");
    send(b, "b2");
    send(b, "b3");
    expect(dropped).toEqual(["a0", "b0"]);
    expect(arp.stats().counters.queuedPackets).toBe(5);
    arp.close(); // the rest, destination by destination
    expect(dropped).toEqual(["a0", "b0", "a1", "a2", "b1", "b2", "b3"]);
  });

  it("materialises the packet at send time: fill runs once, only its n bytes are kept", async () => {
    const { clock, eth, arp } = fakeSetup();
    let calls = 0;
    const data = Uint8Array.of(9, 8, 7);
    arp.send(IP_PEER, 1000, (buf) => {
      calls++;
      expect(buf.length).toBe(1000);
      buf.set(data);
      data[0] = 0; // the caller may reuse its bytes once fill returned
      return 3;
    });
    expect(calls).toBe(1);
    eth.injectArp(REP, MAC_PEER, IP_PEER, MAC_US, IP_US);
    await clock.advance(0);
    expect([...eth.ipv4()[0]!.bytes]).toEqual([9, 8, 7]);
    expect(calls).toBe(1);
  });

  it("drops at once, returning false, when fill fails", () => {
    const { arp } = fakeSetup();
    const onError = () => {
      throw new Error("must not be called");
    };
    expect(
      arp.send(
        IP_PEER,
        10,
        () => {
          throw new Error("x");
        },
        onError,
      ),
    ).toBe(false);
    expect(arp.send(IP_PEER, 10, () => 11, onError)).toBe(false);
    expect(arp.send(IP_PEER, 10, () => -1, onError)).toBe(false);
    expect(arp.stats().drops).toEqual({ "fill-error": 1, "fill-length": 2 });
    expect(arp.stats().counters.resolutions).toBe(0);
  });

  it("reports a device refusal of a queued packet to onError", async () => {
    const { clock, eth, arp } = fakeSetup();
    const errors: string[] = [];
    arp.send(IP_PEER, 1, () => 1, (e) => errors.push((e as Error & { code: string }).code));
    eth.accept = false;
    eth.injectArp(REP, MAC_PEER, IP_PEER, MAC_US, IP_US);
    await clock.advance(0);
    expect(errors).toEqual(["ENOBUFS"]);
    expect(arp.stats().drops).toEqual({ "tx-refused": 1 });
    expect(arp.send(IP_PEER, 1, () => 1)).toBe(false);
  });
});

describe("API", () => {
  it("maps the limited broadcast and multicast groups without ARP", async () => {
    const { eth, arp } = fakeSetup();
    expect(arp.lookup(ip("255.255.255.255"))).toBe(BCAST);
    expect(arp.lookup(ip("224.0.0.251"))).toBe(0x0100_5e00_00fb);
    expect(arp.lookup(ip("239.255.1.2"))).toBe(0x0100_5e7f_0102); // the 24th bit is dropped (RFC 1112)
    expect(await arp.query(ip("224.0.0.1"))).toBe(0x0100_5e00_0001);
    expect(arp.send(ip("255.255.255.255"), 1, () => 1)).toBe(true);
    expect(eth.ipv4()[0]!.dst).toBe(BCAST);
    expect(arp.lookup(IP_US)).toBe(MAC_US);
    expect(eth.arp()).toHaveLength(0);
  });

  it("validates arguments", async () => {
    const { arp } = fakeSetup();
    expectCode(() => arp.send(IP_PEER, -1, () => 0), "EINVAL");
    expectCode(() => arp.send(IP_PEER, 1.5, () => 0), "EINVAL");
    expectCode(() => arp.send(IP_PEER, 1501, () => 0), "EMSGSIZE");
    expectCode(() => arp.send(ZERO_IP, 1, () => 0), "EINVAL");
    expectCode(() => arp.send(2 ** 32 as Ipv4Address, 1, () => 0), "EINVAL");
    await expectReject(arp.query(ZERO_IP), "EINVAL");
    await expectReject(arp.query(-1 as Ipv4Address), "EINVAL");
    const clock = new VirtualClock();
    const ethernet = new FakeEthernet(clock);
    const random = new SeededRandom(1);
    for (const bad of [{ cacheSize: 0 }, { maxTries: 0 }, { retryIntervalMs: 0 }, { queueTotal: 1.5 }, { reachableMs: NaN }, { probeMaxMs: 10 }]) {
      expectCode(() => new ArpLayer({ ethernet, clock, random, ...bad }), "EINVAL");
    }
    expectCode(() => new ArpLayer({ ethernet: new FakeEthernet(clock, MAC_US, 20), clock, random }), "EINVAL");
  });

  it("registers for EtherType 0x0806 and unregisters on close", () => {
    const { eth, arp } = fakeSetup();
    expect(eth.handlers.has(0x0806)).toBe(true);
    arp.close();
    expect(eth.handlers.has(0x0806)).toBe(false);
  });
});

describe("close", () => {
  it("cancels every timer, rejects queries and probes with ECANCELED, drops the queue", async () => {
    const { clock, eth, arp } = fakeSetup({ addresses: [IP_US], announcements: 2 });
    eth.injectArp(REQ, MAC_PEER, IP_PEER, ZERO_MAC, IP_US); // an entry with its expiry timer
    const q = track(clock, arp.query(ip("10.0.0.9")));
    const p = track(clock, arp.probe(ip("10.0.0.10")));
    const errors: string[] = [];
    arp.send(ip("10.0.0.11"), 5, () => 5, (e) => errors.push((e as Error & { code: string }).code));
    expect(clock.pendingTimers).toBeGreaterThanOrEqual(5); // announcement, entry, 2 resolutions, probe
    arp.close();
    arp.close();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(0);
    expect(q.state).toBe("rejected");
    expect(isMorganaError(q.error, "ECANCELED")).toBe(true);
    expect(isMorganaError(p.error, "ECANCELED")).toBe(true);
    expect(errors).toEqual(["ECANCELED"]);
    expect(arp.stats().drops).toMatchObject({ closed: 1 });
    expect(arp.entries()).toEqual([]);
    const sent = eth.sent.length;
    expect(arp.send(IP_PEER, 1, () => 1)).toBe(false);
    await expectReject(arp.query(IP_PEER), "ECANCELED");
    await expectReject(arp.probe(IP_PEER), "ECANCELED");
    arp.addAddress(ip("10.0.0.100"));
    await clock.runUntilIdle();
    expect(eth.sent.length).toBe(sent);
    expect(clock.pendingTimers).toBe(0);
  });

  it("leaves no timer behind in a two-host exchange", async () => {
    const h = twoHosts({ announcements: 2 }, 1);
    const first = track(h.clock, h.arpA.query(IP_PEER));
    await h.clock.advance(10);
    expect(first.state).toBe("resolved");
    const q = h.arpA.query(ip("10.0.0.77")).catch((e: unknown) => e);
    await h.clock.advance(100);
    expect(h.clock.pendingTimers).toBeGreaterThan(0);
    h.arpA.close();
    h.arpB.close();
    await h.clock.advance(0);
    expect(isMorganaError(await q, "ECANCELED")).toBe(true);
    expect(h.clock.pendingTimers).toBe(0);
  });
});

describe("RFC 5227 probing", () => {
  it("sends 3 probes (random 0-1 s, then 1-2 s apart) and declares the address free 2 s after the last", async () => {
    const { clock, eth, arp } = fakeSetup({ addresses: [] });
    const candidate = ip("10.0.0.42");
    const p = track(clock, arp.probe(candidate));
    const again = track(clock, arp.probe(candidate));
    await clock.runUntilIdle();
    const probes = eth.arp();
    expect(probes).toHaveLength(3);
    for (const pr of probes) expect(pr).toMatchObject({ opcode: REQ, dst: BCAST, senderMac: MAC_US, senderIp: ZERO_IP, targetMac: ZERO_MAC, targetIp: candidate });
    const t = probes.map((x) => x.at);
    expect(t[0]).toBeGreaterThanOrEqual(0);
    expect(t[0]).toBeLessThan(1000);
    expect(t[1]! - t[0]!).toBeGreaterThanOrEqual(1000);
    expect(t[1]! - t[0]!).toBeLessThanOrEqual(2000);
    expect(t[2]! - t[1]!).toBeGreaterThanOrEqual(1000);
    expect(t[2]! - t[1]!).toBeLessThanOrEqual(2000);
    expect(p).toMatchObject({ state: "resolved", value: true, at: t[2]! + 2000 });
    expect(again).toMatchObject({ state: "resolved", value: true });
    expect(new Set(t).size).toBe(3);
    expect(arp.stats().counters.probesSent).toBe(3);
  });

  it("is deterministic for a seed and varies with it", async () => {
    const times = async (seed: number) => {
      const clock = new VirtualClock();
      const eth = new FakeEthernet(clock);
      const arp = new ArpLayer({ ethernet: eth, clock, random: new SeededRandom(seed) });
      void arp.probe(ip("10.0.0.42"));
      await clock.runUntilIdle();
      return eth.arp().map((x) => x.at);
    };
    expect(await times(7)).toEqual(await times(7));
    expect(await times(7)).not.toEqual(await times(8));
  });

  it("reports a conflict when the address answers (over a vnetif link, the owner replies to the probe)", async () => {
    const h = twoHosts({ announcements: 0 });
    const p = track(h.clock, h.arpA.probe(IP_PEER));
    await h.clock.runUntilIdle();
    expect(p).toMatchObject({ state: "resolved", value: false });
    expect(p.at).toBeLessThan(1000);
    expect(h.arpA.stats().counters).toMatchObject({ probesSent: 1, probeConflicts: 1 });
    expect(h.arpB.stats().counters.probesReceived).toBe(1);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it("reports a conflict when another host probes the same address", async () => {
    const { clock, eth, arp } = fakeSetup();
    const p = track(clock, arp.probe(ip("10.0.0.42")));
    await clock.advance(1500);
    eth.injectArp(REQ, MAC_PEER, ZERO_IP, ZERO_MAC, ip("10.0.0.42"));
    await clock.advance(0);
    expect(p).toMatchObject({ state: "resolved", value: false, at: 1500 });
  });

  it("supports AbortSignal", async () => {
    const { clock, arp } = fakeSetup();
    const ac = new AbortController();
    const p = track(clock, arp.probe(ip("10.0.0.42"), ac.signal));
    await clock.advance(1200);
    ac.abort();
    await clock.advance(0);
    expect(isMorganaError(p.error, "ABORT_ERR")).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });
});
