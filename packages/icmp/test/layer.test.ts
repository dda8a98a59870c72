import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MorganaError,
  formatIpv4,
  type IcmpErrorReport,
  type Ipv4Address,
  type Ipv4ProtocolHandler,
} from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { decodeIcmp, encodeIcmp, IcmpLayer, type IcmpLayerOptions } from "../src/index.js";
import { FakeIpv4, buildDatagram, hex, ip, textbookChecksum, twoHosts, type Written } from "@morgana/testkit";

const A = "10.77.0.1";
const B = "10.77.0.2";
const C = "10.77.0.9";

function host(opts: Partial<IcmpLayerOptions> = {}, address = `${A}/24`) {
  const clock = new VirtualClock();
  const ipv4 = new FakeIpv4({ clock, addresses: [address], gateway: "10.77.0.254" });
  const icmp = new IcmpLayer({ ipv4, clock, random: new SeededRandom(7), ...opts });
  return { clock, ipv4, icmp };
}

async function rejection(p: Promise<unknown>): Promise<MorganaError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MorganaError);
    return e as MorganaError;
  }
  throw new Error("expected a rejection");
}

/** Records onDatagram/onIcmpError calls, standing in for UDP or TCP. */
class Recorder implements Ipv4ProtocolHandler {
  readonly errors: IcmpErrorReport[] = [];
  readonly datagrams: Uint8Array[] = [];
  onDatagram(_s: Ipv4Address, _d: Ipv4Address, payload: Uint8Array, _header?: Uint8Array): void {
    this.datagrams.push(payload);
  }
  onIcmpError(r: IcmpErrorReport): void {
    this.errors.push(r);
  }
}

function icmpWrites(ipv4: FakeIpv4): Written[] {
  return ipv4.written.filter((w) => w.protocol === 1);
}

/** A UDP datagram as we would have sent it (src port 40000 → dst port 53). */
function sentUdp(dst = C, payloadLen = 12): Uint8Array {
  const udp = new Uint8Array(8 + payloadLen).map((_, i) => (i * 37) & 0xff);
  udp.set([0x9c, 0x40, 0x00, 0x35, (8 + payloadLen) >>> 8, (8 + payloadLen) & 0xff, 0x12, 0x34]);
  return buildDatagram({ src: A, dst, protocol: 17, payload: udp, id: 0x4242, flags: 2 });
}

describe("IcmpLayer setup", () => {
  it("registers protocol 1 and attaches itself as the error sender", () => {
    const { ipv4, icmp } = host();
    expect(ipv4.handler(1)).toBe(icmp);
    expect(ipv4.attachedIcmp).toBe(icmp);
    // A second layer on the same ipv4 is refused by the ipv4 (EADDRINUSE).
    expect(() => new IcmpLayer({ ipv4, clock: new VirtualClock(), random: new SeededRandom(1) })).toThrow(/taken/);
  });

  it("draws its identifier from the injected Random", () => {
    const clock = new VirtualClock();
    for (const seed of [1, 2, 3, 99]) {
      const ipv4 = new FakeIpv4({ clock, addresses: [`${A}/24`] });
      const icmp = new IcmpLayer({ ipv4, clock, random: new SeededRandom(seed) });
      expect(icmp.identifier).toBe(new SeededRandom(seed).uint32() & 0xffff);
    }
  });

  it("validates its options with EINVAL", () => {
    const clock = new VirtualClock();
    const bad: Partial<IcmpLayerOptions>[] = [
      { errorRate: { perSecond: -1, burst: 1 } },
      { errorRate: { perSecond: 1, burst: 1.5 } },
      { maxErrorLength: 50 },
      { identifier: 70000 },
      { maxPendingPings: 0 },
    ];
    for (const o of bad) {
      const ipv4 = new FakeIpv4({ clock, addresses: [`${A}/24`] });
      expect(() => new IcmpLayer({ ipv4, clock, random: new SeededRandom(1), ...o })).toThrow(expect.objectContaining({ code: "EINVAL" }));
    }
  });
});

describe("echo", () => {
  const request = (payload: Uint8Array, id = 0xbeef, seq = 3, code = 0) => encodeIcmp({ type: 8, code, identifier: id, sequence: seq, body: payload });

  it("answers an echo request with the same identifier, sequence and data, checksummed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 1400 }), (id, seq, data) => {
        const { ipv4, icmp } = host();
        ipv4.inject({ src: C, dst: A, protocol: 1, payload: request(data, id, seq) });
        const [w] = icmpWrites(ipv4);
        expect(w).toBeDefined();
        expect(formatIpv4(w!.dst)).toBe(C);
        expect(formatIpv4(w!.src)).toBe(A);
        expect(w!.size).toBe(8 + data.length);
        const r = w!.payload;
        expect([r[0], r[1]]).toEqual([0, 0]);
        expect((r[4]! << 8) | r[5]!).toBe(id);
        expect((r[6]! << 8) | r[7]!).toBe(seq);
        expect(hex(r.subarray(8))).toBe(hex(data));
        const zeroed = r.slice();
        zeroed[2] = zeroed[3] = 0;
        expect((r[2]! << 8) | r[3]!).toBe(textbookChecksum([zeroed]));
        expect(icmp.stats().counters).toMatchObject({ echoRequestsIn: 1, echoRepliesOut: 1 });
      }),
      { numRuns: 40 },
    );
  });

  it("does not answer broadcast or multicast echo requests by default, and does when configured", () => {
    for (const dst of ["255.255.255.255", "10.77.0.255", "224.0.0.1"]) {
      const { ipv4, icmp } = host();
      ipv4.inject({ src: C, dst, protocol: 1, payload: request(new Uint8Array(4)) });
      expect(icmpWrites(ipv4)).toHaveLength(0);
      expect(icmp.stats().drops["echo-broadcast"]).toBe(1);

      const open = host({ replyToBroadcastEcho: true });
      open.ipv4.inject({ src: C, dst, protocol: 1, payload: request(new Uint8Array(4)) });
      const w = icmpWrites(open.ipv4);
      expect(w).toHaveLength(1);
      expect(formatIpv4(w[0]!.src)).toBe(A); // sent from our unicast address
    }
  });

  it("does not answer when disabled, nor to a source that is not a host, nor a corrupt or short request", () => {
    const off = host({ replyToEcho: false });
    off.ipv4.inject({ src: C, dst: A, protocol: 1, payload: request(new Uint8Array(8)) });
    expect(icmpWrites(off.ipv4)).toHaveLength(0);
    expect(off.icmp.stats().drops["echo-disabled"]).toBe(1);

    const h = host();
    // Some of these never pass a real ipv4 (broadcast, multicast, loopback from the wire): hand them to the layer directly.
    for (const src of ["0.0.0.0", "10.77.0.255", "224.1.2.3", "240.0.0.1", "127.0.0.1", "255.255.255.255"]) {
      const d = buildDatagram({ src, dst: A, protocol: 1, payload: request(new Uint8Array(8)) });
      h.icmp.onDatagram(ip(src), ip(A), d.subarray(20), d.subarray(0, 20));
    }
    expect(h.icmp.stats().drops["bad-source"]).toBe(6);
    const corrupt = request(new Uint8Array(8));
    corrupt[9]! ^= 1;
    h.ipv4.inject({ src: C, dst: A, protocol: 1, payload: corrupt });
    h.ipv4.inject({ src: C, dst: A, protocol: 1, payload: request(new Uint8Array(0)).subarray(0, 7) });
    expect(icmpWrites(h.ipv4)).toHaveLength(0);
    expect(h.icmp.stats().drops).toMatchObject({ checksum: 1, short: 1 });
  });
});

describe("ping", () => {
  it("resolves with the reply between two hosts: rtt from the clock, TTL from the reply header, bytes", async () => {
    const clock = new VirtualClock();
    const { a, b } = twoHosts(clock, 7); // 7 ms each way
    const pinger = new IcmpLayer({ ipv4: a, clock, random: new SeededRandom(1) });
    new IcmpLayer({ ipv4: b, clock, random: new SeededRandom(2) });
    const p = pinger.ping(ip(B));
    await clock.runUntilIdle();
    const r = await p;
    expect(r).toEqual({ from: ip(B), sequence: 1, identifier: pinger.identifier, ttl: 64, bytes: 56, rttMs: 14 });
    const sent = icmpWrites(a)[0]!;
    expect(sent.size).toBe(64);
    const m = decodeIcmp(sent.payload);
    expect([m.type, m.code, m.identifier, m.sequence, m.checksumValid]).toEqual([8, 0, pinger.identifier, 1, true]);
    // Linux ping's layout: a timeval, then bytes counting from 16.
    for (let i = 16; i < 56; i++) expect(m.body[i]).toBe(i);
    expect(pinger.stats().counters).toMatchObject({ echoRequestsOut: 1, echoRepliesIn: 1, pendingPings: 0 });
  });

  it("answers pings to itself and to 127.0.0.1 through loopback", async () => {
    const { clock, icmp } = host();
    const ps = [icmp.ping(ip(A)), icmp.ping(ip("127.0.0.1"))];
    await clock.runUntilIdle();
    const [own, lo] = await Promise.all(ps);
    expect(own).toMatchObject({ from: ip(A), rttMs: 0, bytes: 56, sequence: 1 });
    expect(lo).toMatchObject({ from: ip("127.0.0.1"), rttMs: 0, bytes: 56, sequence: 2 });
    expect(icmp.stats().counters).toMatchObject({ echoRequestsIn: 2, echoRepliesOut: 2, echoRepliesIn: 2 });
  });

  it("increments the sequence, keeps the identifier, and honours size, ttl and dontFragment", async () => {
    const clock = new VirtualClock();
    const { a, b } = twoHosts(clock);
    const pinger = new IcmpLayer({ ipv4: a, clock, random: new SeededRandom(1) });
    new IcmpLayer({ ipv4: b, clock, random: new SeededRandom(2) });
    const ps = [pinger.ping(ip(B), { size: 0 }), pinger.ping(ip(B), { size: 1000, ttl: 5, dontFragment: true }), pinger.ping(ip(B), { size: 9 })];
    await clock.runUntilIdle();
    const rs = await Promise.all(ps);
    expect(rs.map((r) => [r.sequence, r.identifier, r.bytes])).toEqual([
      [1, pinger.identifier, 0],
      [2, pinger.identifier, 1000],
      [3, pinger.identifier, 9],
    ]);
    const w = icmpWrites(a);
    expect(w.map((x) => x.size)).toEqual([8, 1008, 17]);
    expect([w[1]!.ttl, w[1]!.dontFragment]).toEqual([5, true]);
    expect([w[0]!.ttl, w[0]!.dontFragment]).toEqual([64, false]);
  });

  it("reports the TTL the reply arrived with", async () => {
    const { clock, ipv4, icmp } = host();
    const p = icmp.ping(ip(C));
    const req = decodeIcmp(icmpWrites(ipv4)[0]!.payload);
    clock.advanceSync(3);
    ipv4.inject({ src: C, dst: A, protocol: 1, ttl: 42, payload: encodeIcmp({ type: 0, identifier: req.identifier!, sequence: req.sequence!, body: req.body }) });
    expect(await p).toMatchObject({ ttl: 42, rttMs: 3, from: ip(C) });
  });

  it("ignores replies with another identifier, another sequence or from another host", async () => {
    const { clock, ipv4, icmp } = host();
    const p = icmp.ping(ip(C));
    const req = decodeIcmp(icmpWrites(ipv4)[0]!.payload);
    const reply = (identifier: number, sequence: number) => encodeIcmp({ type: 0, identifier, sequence, body: req.body });
    ipv4.inject({ src: C, dst: A, protocol: 1, payload: reply((req.identifier! + 1) & 0xffff, req.sequence!) });
    ipv4.inject({ src: C, dst: A, protocol: 1, payload: reply(req.identifier!, req.sequence! + 1) });
    ipv4.inject({ src: B, dst: A, protocol: 1, payload: reply(req.identifier!, req.sequence!) });
    expect(icmp.stats().drops["unmatched-reply"]).toBe(3);
    expect(icmp.pendingPings).toBe(1);
    clock.advanceSync(1);
    ipv4.inject({ src: C, dst: A, protocol: 1, payload: reply(req.identifier!, req.sequence!) });
    expect((await p).rttMs).toBe(1);
  });

  it("rejects with ETIMEDOUT exactly at the timeout", async () => {
    const { clock, icmp } = host();
    let settled: unknown;
    const p = icmp.ping(ip(C)).catch((e: unknown) => (settled = e));
    await clock.advance(999);
    expect(settled).toBeUndefined();
    await clock.advance(1);
    await p;
    expect(settled).toMatchObject({ code: "ETIMEDOUT", syscall: "ping", address: C });
    expect(clock.now()).toBe(1000);
    expect(icmp.stats().counters.pingTimeouts).toBe(1);

    const q = rejection(icmp.ping(ip(C), { timeoutMs: 250 }));
    await clock.advance(250);
    expect((await q).code).toBe("ETIMEDOUT");
    expect(clock.pendingTimers).toBe(0);
  });

  it("rejects with EHOSTUNREACH / ENETUNREACH when an ICMP unreachable quotes the echo request", async () => {
    for (const [code, expected] of [
      [1, "EHOSTUNREACH"],
      [0, "ENETUNREACH"],
      [3, "EHOSTUNREACH"],
      [13, "EHOSTUNREACH"],
    ] as const) {
      const { clock, ipv4, icmp } = host();
      const p = rejection(icmp.ping(ip(C), { timeoutMs: 5000 }));
      const sent = icmpWrites(ipv4)[0]!.datagram;
      const err = encodeIcmp({ type: 3, code, body: sent.subarray(0, 28) });
      await clock.advance(10);
      ipv4.inject({ src: "10.77.0.254", dst: A, protocol: 1, payload: err });
      const e = await p;
      expect(e.code).toBe(expected);
      expect(e.address).toBe(C);
      expect(clock.now()).toBe(10);
      expect(clock.pendingTimers).toBe(0);
      // Not handed to ipv4: it was about our own echo.
      expect(ipv4.deliveredErrors).toHaveLength(0);
    }
  });

  it("rejects with EHOSTUNREACH on a time exceeded quoting the echo request", async () => {
    const { ipv4, icmp } = host();
    const p = icmp.ping(ip(C));
    ipv4.inject({ src: "10.77.0.254", dst: A, protocol: 1, payload: encodeIcmp({ type: 11, code: 0, body: icmpWrites(ipv4)[0]!.datagram.subarray(0, 28) }) });
    expect((await rejection(p)).code).toBe("EHOSTUNREACH");
  });

  it("ignores an unreachable about another echo request", async () => {
    const { clock, ipv4, icmp } = host();
    const p = icmp.ping(ip(C)).then(
      () => undefined,
      (e: MorganaError) => e,
    );
    const sent = icmpWrites(ipv4)[0]!.datagram.slice(0, 28);
    sent[27]! ^= 1; // another sequence number
    ipv4.inject({ src: "10.77.0.254", dst: A, protocol: 1, payload: encodeIcmp({ type: 3, code: 1, body: sent }) });
    expect(icmp.stats().drops["unmatched-error"]).toBe(1);
    await clock.advance(1000);
    expect((await p)?.code).toBe("ETIMEDOUT");
  });

  it("rejects with EHOSTUNREACH when ipv4 reports a failed neighbour resolution through onError", async () => {
    const { clock, ipv4, icmp } = host();
    ipv4.unresolvable.add(ip(C));
    ipv4.resolveFailMs = 700;
    const p = rejection(icmp.ping(ip(C), { timeoutMs: 5000 }));
    await clock.advance(700);
    const e = await p;
    expect(e.code).toBe("EHOSTUNREACH");
    expect(e.cause).toMatchObject({ code: "EHOSTUNREACH" });
    expect(clock.pendingTimers).toBe(0);
  });

  it("passes through ipv4.write's synchronous errors and validates its options", async () => {
    const { ipv4, icmp } = host();
    ipv4.unroutable.add(ip("192.0.2.1"));
    expect((await rejection(icmp.ping(ip("192.0.2.1")))).code).toBe("ENETUNREACH");
    // 1473 + 8 > the fake's 1480-byte MTU with DF.
    expect((await rejection(icmp.ping(ip(C), { size: 1473, dontFragment: true }))).code).toBe("EMSGSIZE");
    for (const o of [{ size: -1 }, { size: 65508 }, { size: 1.5 }, { timeoutMs: -1 }, { timeoutMs: NaN }, { ttl: 0 }, { ttl: 256 }]) {
      expect((await rejection(icmp.ping(ip(C), o))).code).toBe("EINVAL");
    }
    expect(icmp.pendingPings).toBe(0);
    expect(icmp.ping(ip(C), { size: 1472, dontFragment: true })).toBeInstanceOf(Promise);
    expect(icmp.pendingPings).toBe(1);
  });

  it("rejects with ABORT_ERR when the signal aborts, or was aborted", async () => {
    const { clock, icmp } = host();
    const ac = new AbortController();
    const p = rejection(icmp.ping(ip(C), { signal: ac.signal }));
    await clock.advance(100);
    ac.abort(new Error("stop"));
    const e = await p;
    expect(e.code).toBe("ABORT_ERR");
    expect(clock.pendingTimers).toBe(0);
    expect((await rejection(icmp.ping(ip(C), { signal: ac.signal }))).code).toBe("ABORT_ERR");
    expect(icmp.pendingPings).toBe(0);
  });

  it("bounds outstanding pings (ENOBUFS)", async () => {
    const { icmp } = host({ maxPendingPings: 3 });
    const ps = [0, 1, 2].map(() => icmp.ping(ip(C)).catch(() => undefined));
    expect((await rejection(icmp.ping(ip(C)))).code).toBe("ENOBUFS");
    await icmp.close();
    await Promise.all(ps);
  });

  it("close() rejects pending pings, cancels timers, unregisters, and refuses later pings", async () => {
    const { clock, ipv4, icmp } = host();
    const p = icmp.ping(ip(C));
    await icmp.close();
    expect((await rejection(p)).code).toBe("ERR_SOCKET_CLOSED");
    expect(clock.pendingTimers).toBe(0);
    expect(ipv4.handler(1)).toBeUndefined();
    expect((await rejection(icmp.ping(ip(C)))).code).toBe("ERR_SOCKET_CLOSED");
    await icmp.close(); // idempotent
  });
});

describe("received ICMP errors", () => {
  function withUdp() {
    const h = host();
    const udp = new Recorder();
    h.ipv4.register(17, udp);
    return { ...h, udp };
  }

  it("delivers a port unreachable to the protocol of the quoted datagram, with every report field", () => {
    const { ipv4, udp } = withUdp();
    const sent = sentUdp();
    ipv4.inject({ src: C, dst: A, protocol: 1, payload: encodeIcmp({ type: 3, code: 3, body: sent }) });
    expect(udp.errors).toHaveLength(1);
    const r = udp.errors[0]!;
    expect(r).toMatchObject({ kind: "port-unreachable", type: 3, code: 3, reporter: ip(C), src: ip(A), dst: ip(C), protocol: 17, nextHopMtu: 0 });
    expect(hex(r.quoted)).toBe(hex(sent.subarray(20)));
    expect(ipv4.deliveredErrors).toEqual([r]);
  });

  it("maps every destination unreachable code, time exceeded and parameter problem to a kind", () => {
    // RFC 792 / RFC 1122 / RFC 1812 code meanings.
    const expected: Record<string, string> = {
      "3/0": "net-unreachable",
      "3/1": "host-unreachable",
      "3/2": "protocol-unreachable",
      "3/3": "port-unreachable",
      "3/4": "fragmentation-needed",
      "3/5": "source-route-failed",
      "3/6": "net-unreachable",
      "3/7": "host-unreachable",
      "3/8": "host-unreachable",
      "3/9": "admin-prohibited",
      "3/10": "admin-prohibited",
      "3/11": "net-unreachable",
      "3/12": "host-unreachable",
      "3/13": "admin-prohibited",
      "3/14": "unreachable",
      "3/15": "unreachable",
      "3/200": "unreachable",
      "11/0": "time-exceeded",
      "11/1": "time-exceeded",
      "12/0": "parameter-problem",
      "12/2": "parameter-problem",
    };
    const { ipv4, udp } = withUdp();
    for (const key of Object.keys(expected)) {
      const [type, code] = key.split("/").map(Number) as [number, number];
      ipv4.inject({ src: C, dst: A, protocol: 1, payload: encodeIcmp({ type, code, rest: type === 12 ? 0x0c000000 : 0, body: sentUdp() }) });
    }
    expect(udp.errors.map((r) => `${r.type}/${r.code}`)).toEqual(Object.keys(expected));
    expect(udp.errors.map((r) => r.kind)).toEqual(Object.values(expected));
  });

  it("reports the next-hop MTU of a fragmentation needed", () => {
    const { ipv4, udp } = withUdp();
    ipv4.inject({ src: "10.77.0.254", dst: A, protocol: 1, payload: encodeIcmp({ type: 3, code: 4, rest: 1400, body: sentUdp(C, 1500) }) });
    expect(udp.errors[0]).toMatchObject({ kind: "fragmentation-needed", nextHopMtu: 1400, reporter: ip("10.77.0.254") });
    expect(udp.errors[0]!.quoted.length).toBe(1508);
  });

  it("routes by the quoted protocol: TCP errors go to the TCP handler", () => {
    const { ipv4, udp } = withUdp();
    const tcp = new Recorder();
    ipv4.register(6, tcp);
    const seg = buildDatagram({ src: A, dst: C, protocol: 6, payload: new Uint8Array(20).fill(3) });
    ipv4.inject({ src: C, dst: A, protocol: 1, payload: encodeIcmp({ type: 3, code: 1, body: seg.subarray(0, 28) }) });
    expect(tcp.errors).toHaveLength(1);
    expect(tcp.errors[0]).toMatchObject({ protocol: 6, kind: "host-unreachable" });
    expect(tcp.errors[0]!.quoted.length).toBe(8);
    expect(udp.errors).toHaveLength(0);
  });

  it("drops malformed, foreign and unsupported messages, counted", () => {
    const { ipv4, icmp, udp } = withUdp();
    const sent = sentUdp();
    const inject = (payload: Uint8Array) => ipv4.inject({ src: C, dst: A, protocol: 1, payload });
    inject(encodeIcmp({ type: 3, code: 3, body: sent.subarray(0, 27) })); // quote too short
    const v6 = sent.slice();
    v6[0] = 0x65;
    inject(encodeIcmp({ type: 3, code: 3, body: v6 }));
    const longIhl = sent.slice();
    longIhl[0] = 0x4f; // 60-byte header, but only 40 bytes quoted
    inject(encodeIcmp({ type: 3, code: 3, body: longIhl.subarray(0, 40) }));
    const fragment = buildDatagram({ src: A, dst: C, protocol: 17, payload: new Uint8Array(8), fragmentOffset: 10 });
    inject(encodeIcmp({ type: 3, code: 3, body: fragment }));
    expect(icmp.stats().drops["bad-quote"]).toBe(4);
    inject(encodeIcmp({ type: 3, code: 3, body: buildDatagram({ src: B, dst: C, protocol: 17, payload: new Uint8Array(8) }) }));
    expect(icmp.stats().drops["not-ours"]).toBe(1);
    const bad = encodeIcmp({ type: 3, code: 3, body: sent });
    bad[30]! ^= 0x40;
    inject(bad);
    expect(icmp.stats().drops.checksum).toBe(1);
    inject(encodeIcmp({ type: 4, body: sent }));
    inject(encodeIcmp({ type: 5, rest: ip("10.77.0.254"), body: sent }));
    inject(encodeIcmp({ type: 13, identifier: 1, sequence: 1, body: new Uint8Array(12) }));
    expect(icmp.stats().drops).toMatchObject({ "source-quench": 1, redirect: 1, "unsupported-type": 1 });
    expect(udp.errors).toHaveLength(0);
  });

  it("never throws on random messages, and accounts for every one (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            bytes: fc.uint8Array({ minLength: 0, maxLength: 80 }),
            fixChecksum: fc.boolean(),
            type: fc.constantFrom(0, 3, 4, 5, 8, 11, 12, 13, 42),
            quoteOurs: fc.boolean(),
            dst: fc.constantFrom(A, "10.77.0.255", "255.255.255.255"),
            src: fc.constantFrom(C, "0.0.0.0", B),
          }),
          { maxLength: 30 },
        ),
        (msgs) => {
          const { ipv4, icmp } = withUdp();
          void icmp.ping(ip(C)).catch(() => undefined);
          void icmp.ping(ip(B)).catch(() => undefined);
          for (const m of msgs) {
            const b = m.bytes.slice();
            if (b.length > 0) b[0] = m.type;
            if (m.quoteOurs && b.length >= 28) {
              b[8] = 0x45;
              b.set([10, 77, 0, 1], 20);
            }
            if (m.fixChecksum && b.length >= 8) {
              b[2] = b[3] = 0;
              const s = textbookChecksum([b]);
              b[2] = s >>> 8;
              b[3] = s;
            }
            expect(() => ipv4.inject({ src: m.src, dst: m.dst, protocol: 1, payload: b })).not.toThrow();
          }
          const s = icmp.stats();
          const drops = Object.values(s.drops).reduce((x, y) => x + y, 0);
          const pingsSettled = 2 - icmp.pendingPings;
          expect(s.counters.rxMessages).toBe(msgs.length);
          expect(drops + s.counters.echoRepliesOut! + s.counters.errorsDelivered! + pingsSettled).toBe(msgs.length);
        },
      ),
    );
  });
});

describe("sending ICMP errors", () => {
  const udpPayload = (n = 30) => new Uint8Array(n).map((_, i) => i + 1);
  function received(o: { src?: string; dst?: string; protocol?: number; flags?: number; fragmentOffset?: number; payload?: Uint8Array; options?: Uint8Array } = {}) {
    const d = buildDatagram({
      src: o.src ?? C,
      dst: o.dst ?? A,
      protocol: o.protocol ?? 17,
      payload: o.payload ?? udpPayload(),
      flags: o.flags ?? 0,
      fragmentOffset: o.fragmentOffset ?? 0,
      ttl: 61,
      id: 0x77,
      ...(o.options !== undefined ? { options: o.options } : {}),
    });
    const hl = (d[0]! & 15) * 4;
    return { header: d.subarray(0, hl), payload: d.subarray(hl), datagram: d };
  }

  it("sends a port unreachable quoting the header and the data, from the address the datagram was sent to", () => {
    const { ipv4 } = host();
    const r = received({ options: Uint8Array.from([1, 1, 1, 0]) });
    ipv4.sendIcmpError("port-unreachable", r.header, r.payload);
    const [w] = icmpWrites(ipv4);
    expect(formatIpv4(w!.dst)).toBe(C);
    expect(formatIpv4(w!.src)).toBe(A);
    const m = decodeIcmp(w!.payload);
    expect([m.type, m.code, m.rest, m.checksumValid]).toEqual([3, 3, 0, true]);
    expect(hex(m.body)).toBe(hex(r.datagram)); // 24-byte header + 30 bytes: all fits in 576
  });

  it("quotes at most what fits in 576 bytes, and at least 8 data bytes", () => {
    const { ipv4 } = host();
    const r = received({ payload: udpPayload(1400) });
    ipv4.sendIcmpError("port-unreachable", r.header, r.payload);
    const w = icmpWrites(ipv4)[0]!;
    expect(w.datagram.length).toBe(576);
    expect(hex(w.payload.subarray(8))).toBe(hex(r.datagram.subarray(0, 576 - 28)));

    const small = host({ maxErrorLength: 96 });
    const big = received({ payload: udpPayload(100), options: new Uint8Array(40).fill(1) }); // 60-byte header
    small.ipv4.sendIcmpError("port-unreachable", big.header, big.payload);
    const w2 = icmpWrites(small.ipv4)[0]!;
    expect(w2.payload.length).toBe(8 + 60 + 8);
    expect(w2.datagram.length).toBeLessThanOrEqual(96);
  });

  it("sends protocol unreachable for a protocol with no handler", () => {
    const { ipv4 } = host();
    const r = received({ protocol: 99 });
    ipv4.receive(r.datagram);
    const m = decodeIcmp(icmpWrites(ipv4)[0]!.payload);
    expect([m.type, m.code]).toEqual([3, 2]);
    expect(hex(m.body)).toBe(hex(r.datagram));
  });

  it("sends fragmentation needed with the next-hop MTU, and time exceeded with code 0 or 1 (reassembly)", () => {
    const { ipv4, icmp } = host();
    const r = received();
    ipv4.sendIcmpError("fragmentation-needed", r.header, r.payload);
    icmp.sendError("fragmentation-needed", r.header, r.payload, { nextHopMtu: 1280 });
    ipv4.sendIcmpError("time-exceeded", r.header, r.payload);
    const first = received({ flags: 1 }); // MF set: a first fragment that timed out in reassembly
    ipv4.sendIcmpError("time-exceeded", first.header, first.payload);
    const ms = icmpWrites(ipv4).map((w) => decodeIcmp(w.payload));
    expect(ms.map((m) => [m.type, m.code, m.nextHopMtu])).toEqual([
      [3, 4, 1500],
      [3, 4, 1280],
      [11, 0, undefined],
      [11, 1, undefined],
    ]);
  });

  it("follows RFC 1122 §3.2.2: no error about an ICMP error, a broadcast or multicast, a non-initial fragment, or a non-host source", () => {
    const { ipv4, icmp } = host();
    const cases: [string, ReturnType<typeof received>, string | undefined][] = [
      ["icmp error", received({ protocol: 1, payload: encodeIcmp({ type: 3, code: 1, body: sentUdp() }) }), "no-error-for-icmp-error"],
      ["icmp time exceeded", received({ protocol: 1, payload: encodeIcmp({ type: 11, body: sentUdp() }) }), "no-error-for-icmp-error"],
      ["icmp redirect", received({ protocol: 1, payload: encodeIcmp({ type: 5, body: sentUdp() }) }), "no-error-for-icmp-error"],
      ["icmp unknown type", received({ protocol: 1, payload: encodeIcmp({ type: 200 }) }), "no-error-for-icmp-error"],
      ["icmp empty", received({ protocol: 1, payload: new Uint8Array(0) }), "no-error-for-icmp-error"],
      ["icmp echo request (allowed)", received({ protocol: 1, payload: encodeIcmp({ type: 8, body: new Uint8Array(4) }) }), undefined],
      ["limited broadcast", received({ dst: "255.255.255.255" }), "no-error-for-broadcast"],
      ["directed broadcast", received({ dst: "10.77.0.255" }), "no-error-for-broadcast"],
      ["multicast", received({ dst: "239.1.2.3" }), "no-error-for-broadcast"],
      ["non-initial fragment", received({ fragmentOffset: 185 }), "no-error-for-fragment"],
      ["last fragment", received({ fragmentOffset: 370, flags: 0 }), "no-error-for-fragment"],
      ["first fragment (allowed)", received({ flags: 1 }), undefined],
      ["source 0.0.0.0", received({ src: "0.0.0.0" }), "no-error-for-bad-source"],
      ["source broadcast", received({ src: "255.255.255.255" }), "no-error-for-bad-source"],
      ["source directed broadcast", received({ src: "10.77.0.255" }), "no-error-for-bad-source"],
      ["source multicast", received({ src: "224.0.0.5" }), "no-error-for-bad-source"],
      ["source class E", received({ src: "240.0.0.1" }), "no-error-for-bad-source"],
      ["source loopback", received({ src: "127.0.0.1" }), "no-error-for-bad-source"],
      ["source other network (allowed)", received({ src: "192.0.2.7" }), undefined],
    ];
    let sent = 0;
    for (const [name, r, reason] of cases) {
      const before = icmp.stats().drops[reason ?? ""] ?? 0;
      ipv4.sendIcmpError("port-unreachable", r.header, r.payload);
      if (reason === undefined) {
        sent++;
        expect(icmpWrites(ipv4).length, name).toBe(sent);
      } else {
        expect(icmpWrites(ipv4).length, name).toBe(sent);
        expect(icmp.stats().drops[reason], name).toBe(before + 1);
      }
    }
    expect(icmp.stats().counters.errorsOut).toBe(3);
  });

  it("rate-limits with a token bucket: a burst of 100 sends exactly `burst`, then refills at the rate", async () => {
    const { clock, ipv4, icmp } = host();
    const r = received();
    const burst = (n: number) => {
      for (let i = 0; i < n; i++) ipv4.sendIcmpError("port-unreachable", r.header, r.payload);
      return icmpWrites(ipv4).length;
    };
    expect(burst(100)).toBe(20);
    expect(icmp.stats().drops["rate-limited"]).toBe(80);
    await clock.advance(99);
    expect(burst(5)).toBe(20); // 0.99 token
    await clock.advance(1);
    expect(burst(5)).toBe(21); // 1 token at 100 ms
    await clock.advance(1000);
    expect(burst(100)).toBe(31); // 10 per second
    await clock.advance(60_000);
    expect(burst(100)).toBe(51); // capped at the burst
  });

  it("rate-limits with a configured bucket, and burst 0 disables errors", async () => {
    const { clock, ipv4 } = host({ errorRate: { perSecond: 2, burst: 5 } });
    const r = received();
    const send = (n: number) => {
      for (let i = 0; i < n; i++) ipv4.sendIcmpError("port-unreachable", r.header, r.payload);
      return icmpWrites(ipv4).length;
    };
    expect(send(50)).toBe(5);
    await clock.advance(1500);
    expect(send(50)).toBe(8);
    const off = host({ errorRate: { perSecond: 10, burst: 0 } });
    for (let i = 0; i < 10; i++) off.ipv4.sendIcmpError("port-unreachable", r.header, r.payload);
    expect(icmpWrites(off.ipv4)).toHaveLength(0);
    const free = host({ errorRate: { perSecond: Infinity, burst: 1 } });
    for (let i = 0; i < 1000; i++) free.ipv4.sendIcmpError("port-unreachable", r.header, r.payload);
    expect(icmpWrites(free.ipv4)).toHaveLength(1000);
  });

  it("never throws from sendError, whatever the bytes (property), and counts what it does not send", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("port-unreachable", "protocol-unreachable", "fragmentation-needed", "time-exceeded" as const),
        fc.uint8Array({ maxLength: 70 }),
        fc.uint8Array({ maxLength: 70 }),
        (kind, header, payload) => {
          const { ipv4, icmp } = host({ errorRate: { perSecond: Infinity, burst: 1 } });
          expect(() => icmp.sendError(kind, header, payload)).not.toThrow();
          const s = icmp.stats();
          expect(Object.values(s.drops).reduce((a, b) => a + b, 0) + icmpWrites(ipv4).length).toBe(1);
        },
      ),
    );
  });

  it("counts a failed send instead of throwing, and sends nothing after close", async () => {
    const { ipv4, icmp } = host();
    const r = received({ src: "192.0.2.7" });
    ipv4.unroutable.add(ip("192.0.2.7"));
    ipv4.sendIcmpError("port-unreachable", r.header, r.payload);
    expect(icmp.stats().drops["send-failed"]).toBe(1);
    await icmp.close();
    ipv4.sendIcmpError("port-unreachable", received().header, received().payload);
    expect(icmp.stats().drops.closed).toBe(1);
    expect(icmpWrites(ipv4)).toHaveLength(0);
  });

  it("a port unreachable about a datagram to 127.0.0.1 comes back through loopback to the sending protocol", async () => {
    const { clock, ipv4 } = host();
    const udp = new Recorder();
    // A UDP stand-in with no socket anywhere: it asks for port unreachable, as @morgana/udp does.
    udp.onDatagram = (_s, _d, payload, header) => ipv4.sendIcmpError("port-unreachable", header!, payload);
    ipv4.register(17, udp);
    ipv4.write(ip("127.0.0.1"), 17, 12, (buf) => {
      buf.set([0x9c, 0x40, 0x00, 0x35, 0, 12, 0, 0, 1, 2, 3, 4]);
      return 12;
    });
    await clock.runUntilIdle();
    expect(udp.errors).toHaveLength(1);
    expect(udp.errors[0]).toMatchObject({ kind: "port-unreachable", src: ip("127.0.0.1"), dst: ip("127.0.0.1"), reporter: ip("127.0.0.1") });
  });

  it("an error we send is decoded by a peer's ICMP layer and reaches the peer's UDP handler", async () => {
    const clock = new VirtualClock();
    const { a, b } = twoHosts(clock, 1);
    new IcmpLayer({ ipv4: a, clock, random: new SeededRandom(1) });
    new IcmpLayer({ ipv4: b, clock, random: new SeededRandom(2) });
    const udpA = new Recorder();
    a.register(17, udpA);
    // A sends a UDP datagram to B, where nothing listens on protocol 17: protocol unreachable.
    a.write(ip(B), 17, 12, (buf) => {
      buf.set([0x9c, 0x40, 0x00, 0x35, 0, 12, 0, 0, 1, 2, 3, 4]);
      return 12;
    });
    await clock.runUntilIdle();
    expect(udpA.errors).toHaveLength(1);
    expect(udpA.errors[0]).toMatchObject({ kind: "protocol-unreachable", reporter: ip(B), src: ip(A), dst: ip(B), protocol: 17 });
  });
});
