/**
 * The stub resolver against the authoritative engine, both on pure-TS stacks
 * on a virtual switch (1 ms one way) with a virtual clock: exact timeouts and
 * retries, TTL expiry, negative caching, coalescing, TC → TCP, spoofed
 * responses, CNAME chasing, lookup shapes and error codes.
 */
import { isMorganaError, type Stack } from "@morgana/interfaces";
import { afterEach, describe, expect, it } from "vitest";
import {
  buildQuery,
  decodeMessage,
  encodeMessage,
  getOpt,
  RCODE,
  serveDns,
  StubResolver,
  type DnsServerHandle,
  type Message,
  type StubResolverOptions,
} from "../src/index.js";
import { engine, queriesTo, rejection, run, udpOnWire, vnet, type VNet } from "./fixtures.js";

const SERVER = "10.0.0.1";
const SERVER2 = "10.0.0.3";
const CLIENT = "10.0.0.2";

let net: VNet | undefined;
afterEach(async () => {
  await net?.closeAll();
  net = undefined;
});

interface World {
  net: VNet;
  server: Stack;
  client: Stack;
  handle: DnsServerHandle;
  resolver: StubResolver;
}

async function world(opts: Partial<StubResolverOptions> = {}, seed = 1): Promise<World> {
  net = vnet(seed);
  const server = net.host(SERVER);
  const client = net.host(CLIENT);
  const handle = await run(net.clock, serveDns({ stack: server, server: engine(), clock: net.clock }));
  const resolver = new StubResolver({ stack: client, servers: [{ address: SERVER }], clock: net.clock, random: net.random.fork("resolver"), ...opts });
  return { net, server, client, handle, resolver };
}

/** A UDP "server" that reads queries and never answers. */
async function blackHole(n: VNet, stack: Stack, port = 53): Promise<{ received: () => number }> {
  const sock = await run(n.clock, stack.udp.bind({ port }));
  let received = 0;
  void (async () => {
    for (;;) {
      const d = await sock.recv().catch(() => undefined);
      if (d === null) return;
      if (d !== undefined) received++;
    }
  })();
  return { received: () => received };
}

function answerTo(q: Message, records: Message["answers"], extra: Partial<Message> = {}): Message {
  return { ...q, qr: true, aa: true, ra: false, answers: records, additionals: [], ...extra };
}

describe("lookup", () => {
  it("resolves A, AAAA and both, in the shape of node:dns", async () => {
    const w = await world();
    const c = w.net.clock;
    expect(await run(c, w.resolver.lookup("www.example.test"))).toEqual({ address: "10.77.0.2", family: 4 });
    expect(await run(c, w.resolver.lookup("www.example.test", { family: 6 }))).toEqual({ address: "2001:db8::2", family: 6 });
    expect(await run(c, w.resolver.lookup("www.example.test", { family: 4, all: true }))).toEqual([{ address: "10.77.0.2", family: 4 }]);
    expect(await run(c, w.resolver.lookup("www.example.test", { all: true }))).toEqual([
      { address: "10.77.0.2", family: 4 },
      { address: "2001:db8::2", family: 6 },
    ]);
    expect(await run(c, w.resolver.lookup("two.example.test", { all: true }))).toEqual([
      { address: "10.77.0.5", family: 4 },
      { address: "10.77.0.6", family: 4 },
    ]);
    // family 0 without all: the IPv4 address; an IPv6-only name gives its IPv6 address.
    expect(await run(c, w.resolver.lookup("v6only.example.test"))).toEqual({ address: "2001:db8::3", family: 6 });
    expect(await run(c, w.resolver.lookup("v4only.example.test", { all: true }))).toEqual([{ address: "10.77.0.3", family: 4 }]);
    // Names are case-insensitive and may end with a dot.
    expect(await run(c, w.resolver.lookup("WWW.Example.TEST."))).toEqual({ address: "10.77.0.2", family: 4 });
  });

  it("resolves literal addresses and localhost without a query", async () => {
    const w = await world();
    const c = w.net.clock;
    expect(await run(c, w.resolver.lookup("192.0.2.1"))).toEqual({ address: "192.0.2.1", family: 4 });
    expect(await run(c, w.resolver.lookup("192.0.2.1", { family: 6, all: true }))).toEqual([{ address: "192.0.2.1", family: 4 }]);
    expect(await run(c, w.resolver.lookup("2001:db8::1"))).toEqual({ address: "2001:db8::1", family: 6 });
    expect(await run(c, w.resolver.lookup("localhost", { all: true }))).toEqual([
      { address: "127.0.0.1", family: 4 },
      { address: "::1", family: 6 },
    ]);
    expect(await run(c, w.resolver.lookup("db.localhost", { family: 4 }))).toEqual({ address: "127.0.0.1", family: 4 });
    expect(queriesTo(w.net.wire, SERVER)).toHaveLength(0);
  });

  it("gives node:dns error codes with hostname set", async () => {
    const w = await world();
    const c = w.net.clock;
    const nx = await rejection(c, w.resolver.lookup("nope.example.test"));
    expect(nx.err).toMatchObject({ code: "ENOTFOUND", hostname: "nope.example.test", syscall: "getaddrinfo" });
    expect(nx.err.message).toBe("getaddrinfo ENOTFOUND nope.example.test");
    expect((await rejection(c, w.resolver.lookup("v4only.example.test", { family: 6 }))).err).toMatchObject({ code: "ENODATA", hostname: "v4only.example.test" });
    expect((await rejection(c, w.resolver.lookup("mx.example.test", { all: true }))).err).toMatchObject({ code: "ENODATA" });
    // Outside the server's zones: REFUSED.
    expect((await rejection(c, w.resolver.lookup("www.elsewhere.example"))).err).toMatchObject({ code: "EREFUSED", hostname: "www.elsewhere.example" });
    for (const bad of ["", "a..b", "x".repeat(64) + ".test", `${"a.".repeat(130)}test`, "."]) {
      expect((await rejection(c, w.resolver.lookup(bad))).err).toMatchObject({ code: "EBADNAME" });
    }
    await expect(w.resolver.lookup("www.example.test", { family: 5 as 4 })).rejects.toMatchObject({ code: "EINVAL" });
  });

  it("follows CNAMEs within the answer and by further queries", async () => {
    const w = await world();
    const c = w.net.clock;
    expect(await run(c, w.resolver.lookup("alias2.example.test"))).toEqual({ address: "10.77.0.2", family: 4 });
    const a = await run(c, w.resolver.query("alias2.example.test", "A"));
    expect(a.canonicalName).toBe("www.example.test");
    expect(a.cnames.map((r) => r.data)).toEqual(["alias.example.test", "www.example.test"]);
    // ext -> www.other.test: the engine stops at its zone's edge, the resolver asks again.
    const before = queriesTo(w.net.wire, SERVER).length;
    const e = await run(c, w.resolver.query("ext.example.test", "A"));
    expect(e.records.map((r) => r.data)).toEqual(["192.0.2.7"]);
    expect(e.cnames.map((r) => r.data)).toEqual(["www.other.test"]);
    expect(queriesTo(w.net.wire, SERVER).length - before).toBe(2);
    // TTL of the answer: the smallest of the chain (CNAME 300, A 60).
    expect(e.ttl).toBe(60);
    // A dangling CNAME: NXDOMAIN for the target.
    expect((await rejection(c, w.resolver.lookup("dangling.example.test"))).err).toMatchObject({ code: "ENOTFOUND" });
    // A loop, and a chain longer than 8.
    expect((await rejection(c, w.resolver.lookup("loop1.example.test"))).err).toMatchObject({ code: "ESERVFAIL" });
    expect((await rejection(c, w.resolver.lookup("c0.example.test"))).err).toMatchObject({ code: "ESERVFAIL" });
    // With a longer allowance the 10-CNAME chain resolves.
    const patient = new StubResolver({ stack: w.client, servers: [SERVER], clock: c, random: w.net.random.fork("p"), maxCnameChain: 12 });
    expect(await run(c, patient.lookup("c0.example.test"))).toEqual({ address: "10.77.0.2", family: 4 });
  });

  it("resolve() returns typed records", async () => {
    const w = await world();
    const c = w.net.clock;
    const mx = await run(c, w.resolver.resolve("mx.example.test", "MX"));
    expect(mx[0]!.data).toEqual({ preference: 10, exchange: "mail.example.test" });
    const txt = await run(c, w.resolver.resolve("txt.example.test", "TXT"));
    expect(txt[0]!.data.map((b) => new TextDecoder().decode(b))).toEqual(["hello", "world"]);
    await expect(run(c, w.resolver.resolve("nope.example.test", "TXT"))).rejects.toMatchObject({ code: "ENOTFOUND", syscall: "queryTxt", hostname: "nope.example.test" });
    await expect(run(c, w.resolver.resolve("www.example.test", "MX"))).rejects.toMatchObject({ code: "ENODATA", syscall: "queryMx" });
  });
});

describe("timeouts and retries (virtual time, exact)", () => {
  it("tries the server `attempts` times, each waiting timeoutMs, then ETIMEOUT", async () => {
    net = vnet();
    const server = net.host(SERVER);
    const client = net.host(CLIENT);
    const hole = await blackHole(net, server);
    const resolver = new StubResolver({ stack: client, servers: [SERVER], clock: net.clock, random: net.random.fork("r") });
    const t0 = net.clock.now();
    const r = await rejection(net.clock, resolver.lookup("www.example.test", { family: 4 }));
    expect(r.err).toMatchObject({ code: "ETIMEOUT", hostname: "www.example.test", syscall: "getaddrinfo" });
    expect(r.at - t0).toBe(4000); // 2 attempts x 2000 ms
    expect(hole.received()).toBe(2);
    const sent = queriesTo(net.wire, SERVER);
    // The first waits for ARP (2 ms round trip); each is delivered 1 ms after it is sent.
    expect(sent.map((d) => d.at - t0)).toEqual([3, 2001]);
    // A new random source port and ID for each try.
    expect(new Set(sent.map((d) => d.srcPort)).size).toBe(2);
    expect(new Set(sent.map((d) => decodeMessage(d.payload).id)).size).toBe(2);
    expect(resolver.stats().counters).toMatchObject({ timeouts: 2, retries: 1, udpQueries: 2 });
  });

  it("goes round the servers in order, attempts times; the first to answer wins", async () => {
    net = vnet();
    const s1 = net.host(SERVER);
    const client = net.host(CLIENT);
    const s2 = net.host(SERVER2);
    await blackHole(net, s1);
    await blackHole(net, s2);
    const resolver = new StubResolver({ stack: client, servers: [SERVER, { address: SERVER2, port: 53 }], clock: net.clock, random: net.random.fork("r"), timeoutMs: 1000, attempts: 3 });
    const t0 = net.clock.now();
    const r = await rejection(net.clock, resolver.lookup("www.example.test", { family: 4 }));
    expect(r.err.code).toBe("ETIMEOUT");
    expect(r.at - t0).toBe(6000);
    const sent = udpOnWire(net.wire).filter((d) => d.dstPort === 53);
    expect(sent.map((d) => d.dst)).toEqual([SERVER, SERVER2, SERVER, SERVER2, SERVER, SERVER2]);

    // Now the second server answers: one timeout on the first, then the answer.
    await serveDnsOn(net, s2, 5353);
    const ok = new StubResolver({ stack: client, servers: [SERVER, `${SERVER2}:5353`], clock: net.clock, random: net.random.fork("r2"), timeoutMs: 1000 });
    const t1 = net.clock.now();
    let at = 0;
    const got = await run(
      net.clock,
      ok.lookup("www.example.test").then((x) => ((at = net!.clock.now()), x)),
    );
    expect(got).toEqual({ address: "10.77.0.2", family: 4 });
    expect(at - t1).toBe(1000 + 2); // one timeout, then one round trip
  });

  it("reports ECONNREFUSED at once when the stack sees the port closed (ICMP)", async () => {
    net = vnet();
    net.host(SERVER); // nothing on port 53
    const client = net.host(CLIENT);
    const resolver = new StubResolver({ stack: client, servers: [SERVER], clock: net.clock, random: net.random.fork("r") });
    const t0 = net.clock.now();
    const r = await rejection(net.clock, resolver.lookup("www.example.test", { family: 4 }));
    expect(r.err).toMatchObject({ code: "ECONNREFUSED", hostname: "www.example.test" });
    expect(r.at - t0).toBeLessThan(20); // two tries, each refused within a round trip
    expect(queriesTo(net.wire, SERVER)).toHaveLength(2);
  });

  it("AbortSignal stops a lookup; a coalesced waiter without it still gets the answer", async () => {
    const w = await world();
    const c = w.net.clock;
    const ac = new AbortController();
    const p1 = w.resolver.lookup("www.example.test", { family: 4, signal: ac.signal });
    const p2 = w.resolver.lookup("www.example.test", { family: 4 });
    ac.abort();
    await expect(p1).rejects.toMatchObject({ code: "ABORT_ERR" });
    expect(await run(c, p2)).toEqual({ address: "10.77.0.2", family: 4 });
    // Aborting the only waiter stops the query: no answer is cached.
    const ac2 = new AbortController();
    const p3 = w.resolver.lookup("two.example.test", { family: 4, signal: ac2.signal });
    ac2.abort();
    await expect(p3).rejects.toMatchObject({ code: "ABORT_ERR" });
    await c.advance(100);
    expect(w.resolver.stats().counters.inflight).toBe(0);
    const pre = queriesTo(w.net.wire, SERVER).length;
    await run(c, w.resolver.lookup("two.example.test", { family: 4 }));
    expect(queriesTo(w.net.wire, SERVER).length - pre).toBe(1);
    // Already aborted.
    await expect(w.resolver.lookup("www.example.test", { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "ABORT_ERR" });
  });
});

async function serveDnsOn(n: VNet, stack: Stack, port: number): Promise<DnsServerHandle> {
  return run(n.clock, serveDns({ stack, server: engine(), clock: n.clock, port }));
}

describe("cache", () => {
  it("answers from the cache until the TTL expires, to the millisecond", async () => {
    const w = await world();
    const c = w.net.clock;
    const count = () => queriesTo(w.net.wire, SERVER).length;
    const t0 = c.now();
    await run(c, w.resolver.lookup("short.example.test", { family: 4 })); // TTL 60
    const t1 = c.now(); // the answer arrived (cached at this time)
    expect(count()).toBe(1);
    await c.advanceTo(t1 + 59_999);
    const a = await run(c, w.resolver.query("short.example.test", "A"));
    expect(count()).toBe(1);
    expect(a.records[0]!.ttl).toBe(1); // 60 s minus the 59 whole seconds elapsed
    await c.advanceTo(t1 + 60_000);
    await run(c, w.resolver.lookup("short.example.test", { family: 4 }));
    expect(count()).toBe(2);
    expect(t1 - t0).toBe(4); // ARP, then the query's round trip
    expect(w.resolver.stats().counters).toMatchObject({ cacheHits: 1, cacheMisses: 2 });
  });

  it("caches NXDOMAIN and NODATA for the SOA's negative TTL (RFC 2308)", async () => {
    const w = await world();
    const c = w.net.clock;
    const count = () => queriesTo(w.net.wire, SERVER).length;
    // example.test: SOA TTL 3600, MINIMUM 120 -> 120 s.
    await rejection(c, w.resolver.lookup("nope.example.test", { family: 4 }));
    const t1 = c.now();
    await rejection(c, w.resolver.lookup("v4only.example.test", { family: 6 }));
    const t2 = c.now();
    expect(count()).toBe(2);
    await c.advanceTo(t1 + 119_999);
    expect((await rejection(c, w.resolver.lookup("nope.example.test", { family: 4 }))).err.code).toBe("ENOTFOUND");
    expect((await rejection(c, w.resolver.lookup("v4only.example.test", { family: 6 }))).err.code).toBe("ENODATA");
    expect(count()).toBe(2);
    await c.advanceTo(t1 + 120_000);
    await rejection(c, w.resolver.lookup("nope.example.test", { family: 4 }));
    expect(count()).toBe(3);
    await c.advanceTo(t2 + 120_000);
    await rejection(c, w.resolver.lookup("v4only.example.test", { family: 6 }));
    expect(count()).toBe(4);
    // other.test: SOA TTL 600, MINIMUM 30 -> 30 s.
    const n = await run(c, w.resolver.query("nope.other.test", "A"));
    expect(n.status).toBe("nxdomain");
    expect(n.ttl).toBe(30);
  });

  it("is bounded (least recently used out) and can be disabled", async () => {
    const w = await world({ cache: { maxEntries: 2 } });
    const c = w.net.clock;
    const count = () => queriesTo(w.net.wire, SERVER).length;
    for (const n of ["www", "two", "v4only"]) await run(c, w.resolver.lookup(`${n}.example.test`, { family: 4 }));
    expect(w.resolver.stats().counters.cacheEntries).toBe(2);
    await run(c, w.resolver.lookup("v4only.example.test", { family: 4 }));
    expect(count()).toBe(3);
    await run(c, w.resolver.lookup("www.example.test", { family: 4 })); // evicted
    expect(count()).toBe(4);
    const none = new StubResolver({ stack: w.client, servers: [SERVER], clock: c, random: w.net.random.fork("n"), cache: false });
    await run(c, none.lookup("www.example.test", { family: 4 }));
    await run(c, none.lookup("www.example.test", { family: 4 }));
    expect(count()).toBe(6);
  });

  it("coalesces identical concurrent queries into one on the wire", async () => {
    const w = await world();
    const c = w.net.clock;
    const ps = Array.from({ length: 10 }, () => w.resolver.lookup("www.example.test", { family: 4 }));
    const all = await run(c, Promise.all(ps));
    expect(all.every((a) => a.address === "10.77.0.2")).toBe(true);
    expect(queriesTo(w.net.wire, SERVER)).toHaveLength(1);
    expect(w.handle.stats().counters.udpQueries).toBe(1);
    expect(w.resolver.stats().counters.coalesced).toBe(9);
    // Different types are different queries: family 0 is one A and one AAAA.
    await run(c, Promise.all([w.resolver.lookup("two.example.test", { all: true }), w.resolver.lookup("two.example.test", { all: true })]));
    expect(queriesTo(w.net.wire, SERVER)).toHaveLength(3);
  });
});

describe("transport", () => {
  it("asks again over TCP when the UDP answer is truncated", async () => {
    const w = await world();
    const c = w.net.clock;
    const all = await run(c, w.resolver.lookup("many.example.test", { family: 4, all: true }));
    expect(all).toHaveLength(100);
    expect(all[99]).toEqual({ address: "10.1.0.100", family: 4 });
    expect(w.resolver.stats().counters).toMatchObject({ truncated: 1, tcpQueries: 1, udpQueries: 1 });
    expect(w.handle.stats().counters).toMatchObject({ tcpConnections: 1, tcpQueries: 1, tcpResponses: 1 });
    // The UDP answer carried TC and no records.
    const udpAnswer = udpOnWire(w.net.wire).find((d) => d.srcPort === 53)!;
    const m = decodeMessage(udpAnswer.payload);
    expect(m.tc).toBe(true);
    expect(m.answers).toHaveLength(0);
  });

  it("without EDNS, 512 bytes: a 620-byte TXT RRset comes over TCP", async () => {
    const w = await world({ edns: false });
    const c = w.net.clock;
    const txt = await run(c, w.resolver.resolve("big.example.test", "TXT"));
    expect(txt).toHaveLength(2);
    expect(w.resolver.stats().counters.truncated).toBe(1);
    const q = decodeMessage(queriesTo(w.net.wire, SERVER)[0]!.payload);
    expect(getOpt(q)).toBeUndefined();
  });

  it("useTcp sends every query over TCP", async () => {
    const w = await world({ useTcp: true });
    const c = w.net.clock;
    expect(await run(c, w.resolver.lookup("www.example.test", { family: 4 }))).toEqual({ address: "10.77.0.2", family: 4 });
    expect(queriesTo(w.net.wire, SERVER)).toHaveLength(0);
    expect(w.handle.stats().counters.tcpQueries).toBe(1);
  });

  it("queries carry EDNS(0) with 1232 bytes and RD, a random ID and port", async () => {
    const w = await world();
    const c = w.net.clock;
    await run(c, w.resolver.lookup("www.example.test", { family: 4 }));
    await run(c, w.resolver.lookup("two.example.test", { family: 4 }));
    const qs = queriesTo(w.net.wire, SERVER);
    const m = decodeMessage(qs[0]!.payload);
    expect(getOpt(m)).toMatchObject({ udpPayloadSize: 1232, version: 0, dnssecOk: false });
    expect(m.rd).toBe(true);
    expect(qs[0]!.srcPort).not.toBe(qs[1]!.srcPort);
    expect(qs[0]!.srcPort).toBeGreaterThanOrEqual(49152);
  });
});

describe("spoofing resistance", () => {
  it("ignores responses with the wrong ID, question, port or address, and counts them", async () => {
    net = vnet();
    const n = net;
    const server = n.host(SERVER);
    const client = n.host(CLIENT);
    const attacker = n.host("10.0.0.66");
    const real = await run(n.clock, server.udp.bind({ port: 53 }));
    const side = await run(n.clock, server.udp.bind({ port: 5353 }));
    const evil = await run(n.clock, attacker.udp.bind({ port: 53 }));
    const send = (s: typeof real, m: Message | Uint8Array, to: { address: string; port: number }) => s.send(m instanceof Uint8Array ? m : encodeMessage(m), to);
    void (async () => {
      const d = await real.recv();
      if (d === null) return;
      const q = decodeMessage(d.data);
      const name = q.questions[0]!.name;
      const a = (addr: string) => [{ name, type: "A" as const, class: 1, ttl: 60, data: addr }];
      await send(real, answerTo(q, a("6.6.6.1"), { id: (q.id + 1) & 0xffff }), d); // wrong ID
      await send(real, answerTo({ ...q, questions: [{ name: "evil.example.test", type: "A", class: 1 }] }, a("6.6.6.2")), d); // wrong question
      await send(real, answerTo({ ...q, questions: [{ ...q.questions[0]!, type: "AAAA" }] }, a("6.6.6.3")), d); // wrong type
      await send(side, answerTo(q, a("6.6.6.4")), d); // wrong port
      await send(evil, answerTo(q, a("6.6.6.5")), d); // wrong address
      await send(real, { ...answerTo(q, a("6.6.6.6")), qr: false }, d); // not a response
      await send(real, Uint8Array.of(1, 2, 3), d); // garbage
      await send(real, encodeMessage(answerTo(q, a("6.6.6.7"))).subarray(0, 40), d); // truncated
      // The real answer, a little later; the name in another case is still the question.
      await new Promise<void>((r) => n.clock.setTimer(10, r));
      await send(real, answerTo({ ...q, questions: [{ ...q.questions[0]!, name: name.toUpperCase() }] }, a("10.77.0.2")), d);
    })();
    const resolver = new StubResolver({ stack: client, servers: [SERVER], clock: n.clock, random: n.random.fork("r") });
    expect(await run(n.clock, resolver.lookup("www.example.test", { family: 4, all: true }))).toEqual([{ address: "10.77.0.2", family: 4 }]);
    expect(resolver.stats().drops).toEqual({ "wrong-id": 1, "wrong-question": 2, "wrong-source": 2, "not-response": 1, malformed: 2 });
  });

  it("times out when only spoofed responses arrive", async () => {
    net = vnet();
    const n = net;
    const server = n.host(SERVER);
    const client = n.host(CLIENT);
    const real = await run(n.clock, server.udp.bind({ port: 53 }));
    void (async () => {
      for (;;) {
        const d = await real.recv();
        if (d === null) return;
        const q = decodeMessage(d.data);
        await real.send(encodeMessage(answerTo({ ...q, id: q.id ^ 0x5555 }, [{ name: q.questions[0]!.name, type: "A", class: 1, ttl: 60, data: "6.6.6.6" }])), d);
      }
    })();
    const resolver = new StubResolver({ stack: client, servers: [SERVER], clock: n.clock, random: n.random.fork("r") });
    const r = await rejection(n.clock, resolver.lookup("www.example.test", { family: 4 }));
    expect(r.err.code).toBe("ETIMEOUT");
    expect(resolver.stats().drops["wrong-id"]).toBe(2);
  });
});

describe("server errors", () => {
  it("fails over on SERVFAIL/REFUSED, retries without EDNS after FORMERR, maps rcodes to codes", async () => {
    net = vnet();
    const n = net;
    const bad = n.host(SERVER);
    const client = n.host(CLIENT);
    const good = n.host(SERVER2);
    await serveDnsOn(n, good, 53);
    // A server that answers SERVFAIL to everything.
    const s = await run(n.clock, bad.udp.bind({ port: 53 }));
    const seen: Message[] = [];
    void (async () => {
      for (;;) {
        const d = await s.recv();
        if (d === null) return;
        const q = decodeMessage(d.data);
        seen.push(q);
        await s.send(encodeMessage({ ...answerTo(q, []), rcode: RCODE.SERVFAIL }), d);
      }
    })();
    const r = new StubResolver({ stack: client, servers: [SERVER, SERVER2], clock: n.clock, random: n.random.fork("r") });
    expect(await run(n.clock, r.lookup("www.example.test", { family: 4 }))).toEqual({ address: "10.77.0.2", family: 4 });
    // The failing server is asked once per query, not again in the second round.
    const only = new StubResolver({ stack: client, servers: [SERVER], clock: n.clock, random: n.random.fork("r2") });
    expect((await rejection(n.clock, only.lookup("two.example.test", { family: 4 }))).err).toMatchObject({ code: "ESERVFAIL", hostname: "two.example.test" });
    expect(seen.filter((q) => q.questions[0]!.name === "two.example.test")).toHaveLength(1);
  });

  it("an old server refusing EDNS with FORMERR gets the query again without OPT", async () => {
    net = vnet();
    const n = net;
    const server = n.host(SERVER);
    const client = n.host(CLIENT);
    const s = await run(n.clock, server.udp.bind({ port: 53 }));
    const got: Message[] = [];
    void (async () => {
      for (;;) {
        const d = await s.recv();
        if (d === null) return;
        const q = decodeMessage(d.data);
        got.push(q);
        const reply = getOpt(q) !== undefined ? { ...answerTo(q, []), questions: [], rcode: RCODE.FORMERR } : answerTo(q, [{ name: q.questions[0]!.name, type: "A" as const, class: 1, ttl: 60, data: "10.9.9.9" }]);
        await s.send(encodeMessage(reply), d);
      }
    })();
    const r = new StubResolver({ stack: client, servers: [SERVER], clock: n.clock, random: n.random.fork("r") });
    expect(await run(n.clock, r.lookup("old.example", { family: 4 }))).toEqual({ address: "10.9.9.9", family: 4 });
    expect(got.map((q) => getOpt(q) !== undefined)).toEqual([true, false]);
  });
});

describe("close", () => {
  it("cancels queries in flight with ECANCELLED and refuses new ones", async () => {
    net = vnet();
    const server = net.host(SERVER);
    const client = net.host(CLIENT);
    await blackHole(net, server);
    const r = new StubResolver({ stack: client, servers: [SERVER], clock: net.clock, random: net.random.fork("r") });
    const p = r.lookup("www.example.test");
    await net.clock.advance(10);
    r.close();
    const e = await rejection(net.clock, p);
    expect(e.err).toMatchObject({ code: "ECANCELLED", hostname: "www.example.test" });
    await expect(r.lookup("www.example.test")).rejects.toMatchObject({ code: "ECANCELLED" });
    expect(isMorganaError(e.err)).toBe(true);
  });
});

describe("options", () => {
  it("rejects bad options with EINVAL", () => {
    net = vnet();
    const client = net.host(CLIENT);
    const base = { stack: client, clock: net.clock, random: net.random };
    expect(() => new StubResolver({ ...base, servers: [] })).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => new StubResolver({ ...base, servers: ["example.com"] })).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => new StubResolver({ ...base, servers: ["10.0.0.1:0"] })).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => new StubResolver({ ...base, servers: [SERVER], attempts: 0 })).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => new StubResolver({ ...base, servers: [SERVER], edns: 100 })).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(new StubResolver({ ...base, servers: ["10.0.0.1#5353"] }).servers).toEqual([{ address: SERVER, port: 5353 }]);
  });

  it("buildQuery and the server agree on what a question is (sanity)", () => {
    const q = buildQuery("www.example.test", "A", { id: 7 });
    const r = engine().answer(q);
    expect(r.answers).toHaveLength(1);
  });
});
