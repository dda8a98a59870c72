import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MorganaError,
  formatIpv4,
  randomInt,
  readIpv4,
  writeIpv4,
  type Datagram,
  type IcmpErrorKind,
  type IcmpErrorReport,
  type UdpSocket,
} from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { decodeUdp, encodeUdp, UdpLayer, type UdpLayerOptions } from "../src/index.js";
import { FakeIpv4, hex, ip, textbookChecksum, twoHosts, type Written } from "@morgana/testkit";

const A = "10.77.0.1";
const B = "10.77.0.2";
const C = "10.77.0.9";

function host(opts: Partial<UdpLayerOptions> = {}, addresses = [`${A}/24`]) {
  const clock = new VirtualClock();
  const ipv4 = new FakeIpv4({ clock, addresses, gateway: "10.77.0.254" });
  const udp = new UdpLayer({ ipv4, clock, random: new SeededRandom(11), ...opts });
  return { clock, ipv4, udp };
}

function pair(delayMs = 0) {
  const clock = new VirtualClock();
  const { a, b } = twoHosts(clock, delayMs);
  const ua = new UdpLayer({ ipv4: a, clock, random: new SeededRandom(1) });
  const ub = new UdpLayer({ ipv4: b, clock, random: new SeededRandom(2) });
  return { clock, a, b, ua, ub };
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

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function udpWrites(ipv4: FakeIpv4): Written[] {
  return ipv4.written.filter((w) => w.protocol === 17);
}

/** A UDP datagram from `src`:`sp` to `dst`:`dp` as the wire carries it. */
function wire(src: string, dst: string, sp: number, dp: number, payload: Uint8Array): Uint8Array {
  return encodeUdp({ srcPort: sp, dstPort: dp, payload }, ip(src), ip(dst));
}

/** The ICMP error report our ICMP layer would build about the `w` datagram we sent. */
function reportAbout(w: Written, kind: IcmpErrorKind, type = 3, code = 3): IcmpErrorReport {
  return { kind, type, code, reporter: w.dst, src: w.src, dst: w.dst, protocol: 17, quoted: w.payload.slice(0, 8), nextHopMtu: kind === "fragmentation-needed" ? 1400 : 0 };
}

describe("bind", () => {
  it("registers protocol 17 and binds an explicit port on the wildcard or one of our addresses", async () => {
    const { ipv4, udp } = host();
    expect(ipv4.handler(17)).toBe(udp);
    const s = await udp.bind({ port: 5353 });
    expect(s.local).toEqual({ address: "0.0.0.0", port: 5353, family: "IPv4" });
    const t = await udp.bind({ port: 5354, address: A });
    expect(t.local).toEqual({ address: A, port: 5354, family: "IPv4" });
    expect(udp.stats().counters.sockets).toBe(2);
  });

  it("rejects a port in use with EADDRINUSE (syscall bind), across wildcard and specific addresses", async () => {
    const { udp } = host({}, [`${A}/24`, "192.168.1.5/24"]);
    await udp.bind({ port: 53 });
    const e = await rejection(udp.bind({ port: 53 }));
    expect(e).toMatchObject({ code: "EADDRINUSE", syscall: "bind", port: 53, errno: -98 });
    expect((await rejection(udp.bind({ port: 53, address: A }))).code).toBe("EADDRINUSE");
    await udp.bind({ port: 54, address: A });
    expect((await rejection(udp.bind({ port: 54 }))).code).toBe("EADDRINUSE");
    expect((await rejection(udp.bind({ port: 54, address: A }))).code).toBe("EADDRINUSE");
    // Two different specific addresses may share a port.
    const other = await udp.bind({ port: 54, address: "192.168.1.5" });
    expect(other.local.address).toBe("192.168.1.5");
  });

  it("rejects an address that is not ours with EADDRNOTAVAIL, bad arguments with EINVAL (never a RangeError)", async () => {
    const { udp } = host();
    expect(await rejection(udp.bind({ address: "10.77.0.2" }))).toMatchObject({ code: "EADDRNOTAVAIL", syscall: "bind" });
    expect((await rejection(udp.bind({ address: "10.77.0.255" }))).code).toBe("EADDRNOTAVAIL");
    const bad: unknown[] = [{ port: -1 }, { port: 65536 }, { port: 1.5 }, { port: NaN }, { port: "80" }, { address: "10.77.0" }, { address: "localhost" }, { receiveQueue: 0 }, { receiveQueue: 2.5 }];
    for (const o of bad) {
      const e = await rejection(udp.bind(o as never));
      expect(e.code, JSON.stringify(o)).toBe("EINVAL");
      expect(e.syscall).toBe("bind");
    }
    expect(udp.stats().counters.sockets).toBe(0);
  });

  it("picks random, distinct ephemeral ports in 49152-65535 from the injected Random", async () => {
    const { udp } = host();
    const ports: number[] = [];
    for (let i = 0; i < 300; i++) ports.push((await udp.bind()).local.port);
    expect(ports.every((p) => p >= 49152 && p <= 65535)).toBe(true);
    expect(new Set(ports).size).toBe(300);
    // Random, not sequential: few neighbours are consecutive, and they spread over the range.
    const consecutive = ports.slice(1).filter((p, i) => p === ports[i]! + 1).length;
    expect(consecutive).toBeLessThan(10);
    expect(Math.max(...ports) - Math.min(...ports)).toBeGreaterThan(10000);
    // The first port is the first draw of the seeded generator.
    expect(ports[0]).toBe(randomInt(new SeededRandom(11), 49152, 65536));
    const other = host({ random: new SeededRandom(12) });
    expect((await other.udp.bind({ port: 0 })).local.port).toBe(randomInt(new SeededRandom(12), 49152, 65536));
  });

  it("finds the last free ephemeral port, fails with EADDRINUSE when the range is full, and reuses a freed port", async () => {
    const { udp } = host({ ephemeralRange: [50000, 50009] });
    const socks: UdpSocket[] = [];
    for (let i = 0; i < 10; i++) socks.push(await udp.bind());
    expect(socks.map((s) => s.local.port).sort()).toEqual([50000, 50001, 50002, 50003, 50004, 50005, 50006, 50007, 50008, 50009]);
    expect(await rejection(udp.bind())).toMatchObject({ code: "EADDRINUSE", syscall: "bind" });
    await socks[3]!.close();
    expect((await udp.bind()).local.port).toBe(socks[3]!.local.port);
    expect(() => new UdpLayer({ ipv4: new FakeIpv4({ clock: new VirtualClock(), addresses: [] }), random: new SeededRandom(1), ephemeralRange: [10, 5] })).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
  });
});

describe("send and receive", () => {
  it("exchanges datagrams between two hosts with the sender's address and port", async () => {
    const { clock, ua, ub } = pair(2);
    const sa = await ua.bind({ port: 5000 });
    const sb = await ub.bind({ port: 6000, address: B });
    await sa.send(text("hello"), { address: B, port: 6000 });
    await clock.runUntilIdle();
    const d = (await sb.recv())!;
    expect(str(d.data)).toBe("hello");
    expect([d.address, d.port]).toEqual([A, 5000]);
    await sb.send(text("world"), d); // a Datagram is a destination
    await clock.runUntilIdle();
    const r = (await sa.recv())!;
    expect([str(r.data), r.address, r.port]).toEqual(["world", B, 6000]);
    expect(ua.stats().counters).toMatchObject({ txDatagrams: 1, txBytes: 5, rxDatagrams: 1, rxBytes: 5 });
  });

  it("builds the datagram in place in the one buffer ipv4 allocates, with an RFC 768 checksum", async () => {
    const { ipv4, udp } = host();
    const s = await udp.bind({ port: 4242 });
    const data = new Uint8Array(333).map((_, i) => (i * 7) & 0xff);
    await s.send(data, { address: C, port: 53 });
    const [w] = udpWrites(ipv4);
    expect(w!.size).toBe(8 + 333);
    expect(w!.payload.length).toBe(w!.size);
    expect(formatIpv4(w!.src)).toBe(A);
    const d = w!.payload;
    expect(hex(d.subarray(0, 6))).toBe("1092" + "0035" + (341).toString(16).padStart(4, "0"));
    expect(hex(d.subarray(8))).toBe(hex(data));
    // Independent check: pseudo-header + datagram with a zero checksum field, textbook sum.
    const ph = new Uint8Array(12);
    writeIpv4(ph, 0, ip(A));
    writeIpv4(ph, 4, ip(C));
    ph[9] = 17;
    ph[10] = 341 >>> 8;
    ph[11] = 341 & 0xff;
    const z = d.slice();
    z[6] = z[7] = 0;
    expect((d[6]! << 8) | d[7]!).toBe(textbookChecksum([ph, z]));
    // The caller's buffer is copied, not kept.
    data[0] = 99;
    expect(d[8]).toBe(0);
  });

  it("binds 127.0.0.1 and talks to itself through loopback, and to its own address", async () => {
    const { clock, udp } = host();
    const lo = await udp.bind({ address: "127.0.0.1", port: 5000 });
    const any = await udp.bind();
    await any.send(text("via lo"), { address: "127.0.0.1", port: 5000 });
    await clock.runUntilIdle();
    const d = (await lo.recv())!;
    expect([str(d.data), d.address, d.port]).toEqual(["via lo", "127.0.0.1", any.local.port]);
    await lo.send(text("back"), d);
    await any.send(text("self"), { address: A, port: any.local.port });
    await clock.runUntilIdle();
    expect((await any.recv())).toMatchObject({ address: "127.0.0.1", port: 5000 });
    expect((await any.recv())).toMatchObject({ address: A, port: any.local.port });
  });

  it("uses the bound address as the source", async () => {
    const { ipv4, udp } = host({}, [`${A}/24`, "192.168.1.5/24"]);
    const s = await udp.bind({ address: "192.168.1.5" });
    await s.send(text("x"), { address: C, port: 9 });
    expect(formatIpv4(udpWrites(ipv4)[0]!.src)).toBe("192.168.1.5");
    expect(udpWrites(ipv4)[0]!.opts?.src).toBe(ip("192.168.1.5"));
  });

  it("sends a computed checksum of 0 as 0xffff", async () => {
    const { ipv4, udp } = host();
    const s = await udp.bind({ port: 1000 });
    // Find the payload word that makes the one's complement sum 0xffff.
    const probe = new Uint8Array(2);
    const c = decodeUdp(encodeUdp({ srcPort: 1000, dstPort: 2000, payload: probe }, ip(A), ip(C))).checksum;
    await s.send(Uint8Array.from([c >>> 8, c & 0xff]), { address: C, port: 2000 });
    const d = udpWrites(ipv4)[0]!.payload;
    expect(hex(d.subarray(6, 8))).toBe("ffff");
  });

  it("rejects above 65507 bytes with EMSGSIZE and sends 65507", async () => {
    const { clock, ua, ub } = pair();
    const sa = await ua.bind();
    const sb = await ub.bind({ port: 7 });
    expect(await rejection(sa.send(new Uint8Array(65508), { address: B, port: 7 }))).toMatchObject({ code: "EMSGSIZE", syscall: "send" });
    await sa.send(new Uint8Array(65507).fill(1), { address: B, port: 7 });
    await clock.runUntilIdle();
    expect((await sb.recv())!.data.length).toBe(65507);
  });

  it("validates the destination with EINVAL and passes ipv4's synchronous errors through", async () => {
    const { ipv4, udp } = host();
    const s = await udp.bind();
    for (const to of [{ address: "10.77.0", port: 1 }, { address: "::1", port: 1 }, { address: C, port: 0 }, { address: C, port: 65536 }, { address: C, port: 1.5 }]) {
      expect((await rejection(s.send(text("x"), to))).code, JSON.stringify(to)).toBe("EINVAL");
    }
    expect((await rejection(s.send("x" as never, { address: C, port: 1 }))).code).toBe("EINVAL");
    ipv4.unroutable.add(ip("198.51.100.1"));
    expect(await rejection(s.send(text("x"), { address: "198.51.100.1", port: 1 }))).toMatchObject({ code: "ENETUNREACH" });
    expect(udpWrites(ipv4)).toHaveLength(0);
    expect(udp.stats().counters.txDatagrams).toBe(0);
  });

  it("queues a deferred neighbour-resolution failure (onError) as EHOSTUNREACH for the next recv; the socket stays usable", async () => {
    const { clock, ipv4, udp } = host();
    ipv4.unresolvable.add(ip(C));
    const s = await udp.bind({ port: 3000 });
    await s.send(text("lost"), { address: C, port: 53 }); // resolves: handed to ipv4
    const r = rejection(s.recv());
    await clock.advance(ipv4.resolveFailMs);
    expect(await r).toMatchObject({ code: "EHOSTUNREACH", address: C, port: 53 });
    ipv4.inject({ src: B, dst: A, protocol: 17, payload: wire(B, A, 9, 3000, text("still here")) });
    expect(str((await s.recv())!.data)).toBe("still here");
    expect(udp.stats().counters.sendErrors).toBe(1);
  });

  it("rejects sends after close with ERR_SOCKET_CLOSED", async () => {
    const { udp } = host();
    const s = await udp.bind();
    await s.close();
    expect(await rejection(s.send(text("x"), { address: C, port: 1 }))).toMatchObject({ code: "ERR_SOCKET_CLOSED" });
  });
});

describe("receive path", () => {
  it("verifies checksums: a bad one is dropped, a zero one (none) is accepted", async () => {
    const { ipv4, udp } = host();
    const s = await udp.bind({ port: 53 });
    const bad = wire(C, A, 1, 53, text("bad"));
    bad[9]! ^= 4;
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: bad });
    // A datagram checksummed for another destination address fails the pseudo-header.
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, B, 1, 53, text("misdirected")) });
    const none = encodeUdp({ srcPort: 1, dstPort: 53, payload: text("none"), checksum: 0 }, ip(C), ip(A));
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: none });
    expect(udp.stats().drops.checksum).toBe(2);
    expect(udp.stats().counters.rxNoChecksum).toBe(1);
    expect(str((await s.recv())!.data)).toBe("none");
  });

  it("validates the length field and trims trailing bytes", async () => {
    const { ipv4, udp } = host();
    const s = await udp.bind({ port: 53 });
    const inject = (payload: Uint8Array) => ipv4.inject({ src: C, dst: A, protocol: 17, payload });
    inject(new Uint8Array(7));
    inject(encodeUdp({ srcPort: 1, dstPort: 53, payload: text("abcd"), length: 7, checksum: 0 }, ip(C), ip(A)));
    inject(encodeUdp({ srcPort: 1, dstPort: 53, payload: text("abcd"), length: 13, checksum: 0 }, ip(C), ip(A)));
    expect(udp.stats().drops).toMatchObject({ short: 1, "bad-length": 2 });
    const d = wire(C, A, 1, 53, text("abcd"));
    const padded = new Uint8Array(d.length + 6).fill(0xee);
    padded.set(d);
    inject(padded);
    expect(str((await s.recv())!.data)).toBe("abcd");
  });

  it("demultiplexes by port and bound address; the wildcard socket gets the rest", async () => {
    const { ipv4, udp } = host({}, [`${A}/24`, "192.168.1.5/24"]);
    const onA = await udp.bind({ port: 53, address: A });
    const onOther = await udp.bind({ port: 53, address: "192.168.1.5" });
    const any = await udp.bind({ port: 54 });
    ipv4.inject({ src: C, dst: "192.168.1.5", protocol: 17, payload: wire(C, "192.168.1.5", 1, 53, text("other")) });
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 1, 53, text("a")) });
    ipv4.inject({ src: C, dst: "10.77.0.255", protocol: 17, payload: wire(C, "10.77.0.255", 1, 54, text("bcast")) });
    expect(str((await onA.recv())!.data)).toBe("a");
    expect(str((await onOther.recv())!.data)).toBe("other");
    expect(str((await any.recv())!.data)).toBe("bcast");
  });

  it("asks ipv4 for a port unreachable when no socket is bound, quoting the datagram; not for broadcast or multicast", async () => {
    const { ipv4, udp } = host();
    const d = wire(C, A, 40000, 9999, text("hi\n"));
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: d, ttl: 63 });
    expect(ipv4.icmpErrorRequests).toHaveLength(1);
    const req = ipv4.icmpErrorRequests[0]!;
    expect(req.kind).toBe("port-unreachable");
    expect(hex(req.payload)).toBe(hex(d));
    expect([formatIpv4(readIpv4(req.header, 12)), req.header.length, req.header[8]]).toEqual([C, 20, 63]);
    for (const dst of ["255.255.255.255", "10.77.0.255", "224.0.0.251"]) {
      ipv4.inject({ src: C, dst, protocol: 17, payload: wire(C, dst, 5353, 5353, text("q")) });
    }
    expect(ipv4.icmpErrorRequests).toHaveLength(1);
    expect(udp.stats().drops["no-socket"]).toBe(4);
    expect(udp.stats().counters.portUnreachable).toBe(1);
  });

  it("bounds the receive queue and counts the overflow", async () => {
    const { ipv4, udp } = host({ receiveQueue: 5 });
    const small = await udp.bind({ port: 1, receiveQueue: 3 });
    const dflt = await udp.bind({ port: 2 });
    for (let i = 0; i < 10; i++) {
      ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 100, 1, Uint8Array.of(i)) });
      ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 100, 2, Uint8Array.of(i)) });
    }
    expect(udp.stats().drops["queue-full"]).toBe(7 + 5);
    const got: number[] = [];
    for (let i = 0; i < 3; i++) got.push((await small.recv())!.data[0]!);
    expect(got).toEqual([0, 1, 2]); // the oldest are kept, in order
    for (let i = 0; i < 5; i++) expect((await dflt.recv())!.data[0]).toBe(i);
    const def = host();
    const s = await def.udp.bind({ port: 7 });
    for (let i = 0; i < 300; i++) def.ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 100, 7, new Uint8Array(1)) });
    expect(def.udp.stats().drops["queue-full"]).toBe(300 - 256);
    void s;
  });

  it("serves concurrent recv() calls in arrival order", async () => {
    const { ipv4, udp } = host();
    const s = await udp.bind({ port: 9 });
    const rs = [s.recv(), s.recv(), s.recv()];
    for (const m of ["1", "2", "3"]) ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 100, 9, text(m)) });
    expect((await Promise.all(rs)).map((d) => str(d!.data))).toEqual(["1", "2", "3"]);
  });

  it("never throws on random datagrams and accounts for every one (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            bytes: fc.uint8Array({ maxLength: 40 }),
            dst: fc.constantFrom(A, "10.77.0.255", "255.255.255.255"),
            port: fc.constantFrom(53, 54, 99),
            fix: fc.constantFrom("none", "length", "checksum", "zero"),
          }),
          { maxLength: 40 },
        ),
        (msgs) => {
          const clock = new VirtualClock();
          const ipv4 = new FakeIpv4({ clock, addresses: [`${A}/24`] });
          const udp = new UdpLayer({ ipv4, random: new SeededRandom(3) });
          void udp.bind({ port: 53, receiveQueue: 4 });
          void udp.bind({ port: 54, address: A });
          for (const m of msgs) {
            let b: Uint8Array = m.bytes;
            if (m.fix !== "none" && b.length >= 8) {
              b = b.slice();
              b[2] = 0;
              b[3] = m.port;
              b[4] = b.length >>> 8;
              b[5] = b.length;
              if (m.fix === "checksum") b = encodeUdp({ srcPort: (b[0]! << 8) | b[1]!, dstPort: m.port, payload: b.subarray(8) }, ip(C), ip(m.dst));
              if (m.fix === "zero") b[6] = b[7] = 0;
            }
            expect(() => ipv4.inject({ src: C, dst: m.dst, protocol: 17, payload: b })).not.toThrow();
          }
          const s = udp.stats();
          const drops = Object.values(s.drops).reduce((x, y) => x + y, 0);
          expect(drops + s.counters.rxDatagrams!).toBe(msgs.length);
        },
      ),
    );
  });
});

describe("ICMP errors", () => {
  const cases: [IcmpErrorKind, string][] = [
    ["port-unreachable", "ECONNREFUSED"],
    ["host-unreachable", "EHOSTUNREACH"],
    ["net-unreachable", "ENETUNREACH"],
    ["fragmentation-needed", "EMSGSIZE"],
    ["protocol-unreachable", "EHOSTUNREACH"],
    ["admin-prohibited", "EHOSTUNREACH"],
    ["time-exceeded", "EHOSTUNREACH"],
    ["parameter-problem", "EHOSTUNREACH"],
    ["source-route-failed", "EHOSTUNREACH"],
    ["unreachable", "EHOSTUNREACH"],
  ];

  it.each(cases)("%s makes the sending socket's next recv() reject with %s, carrying the destination", async (kind, code) => {
    const { ipv4, udp } = host();
    const other = await udp.bind({ port: 3001 });
    const s = await udp.bind({ port: 3000 });
    await s.send(text("q"), { address: C, port: 53 });
    ipv4.deliverIcmpError(reportAbout(udpWrites(ipv4)[0]!, kind));
    const e = await rejection(s.recv());
    expect(e).toMatchObject({ code, address: C, port: 53, syscall: "recv" });
    expect((e.cause as IcmpErrorReport).kind).toBe(kind);
    // The socket stays usable; the other socket saw nothing.
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 53, 3000, text("answer")) });
    expect(str((await s.recv())!.data)).toBe("answer");
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 53, 3001, text("other")) });
    expect(str((await other.recv())!.data)).toBe("other");
    await s.send(text("again"), { address: C, port: 53 });
    expect(udpWrites(ipv4)).toHaveLength(2);
  });

  it("rejects a recv() that is already waiting, and reports the error before queued datagrams", async () => {
    const { ipv4, udp } = host();
    const s = await udp.bind({ port: 3000 });
    await s.send(text("q"), { address: C, port: 53 });
    const w = udpWrites(ipv4)[0]!;
    const waiting = rejection(s.recv());
    ipv4.deliverIcmpError(reportAbout(w, "port-unreachable"));
    expect((await waiting).code).toBe("ECONNREFUSED");
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 53, 3000, text("late")) });
    ipv4.deliverIcmpError(reportAbout(w, "host-unreachable"));
    ipv4.deliverIcmpError(reportAbout(w, "net-unreachable")); // one slot: the newer replaces the older
    expect((await rejection(s.recv())).code).toBe("ENETUNREACH");
    expect(str((await s.recv())!.data)).toBe("late");
    expect(udp.stats().counters).toMatchObject({ icmpErrors: 3, icmpErrorsReplaced: 1 });
  });

  it("finds the socket by the quoted source port and address, and counts errors nobody owns", async () => {
    const { ipv4, udp } = host({}, [`${A}/24`, "192.168.1.5/24"]);
    const onOther = await udp.bind({ port: 4000, address: "192.168.1.5" });
    await onOther.send(text("x"), { address: C, port: 53 });
    const w = udpWrites(ipv4)[0]!;
    ipv4.deliverIcmpError({ ...reportAbout(w, "port-unreachable"), src: ip(A) }); // same port, another address
    expect(udp.stats().drops["icmp-no-socket"]).toBe(1);
    const q = w.payload.slice(0, 8);
    q[1]! ^= 1;
    ipv4.deliverIcmpError({ ...reportAbout(w, "port-unreachable"), quoted: q });
    ipv4.deliverIcmpError({ ...reportAbout(w, "port-unreachable"), quoted: q.subarray(0, 3) });
    expect(udp.stats().drops).toMatchObject({ "icmp-no-socket": 2, "icmp-short": 1 });
    ipv4.deliverIcmpError(reportAbout(w, "port-unreachable"));
    expect((await rejection(onOther.recv())).port).toBe(53);
  });
});

describe("close and iteration", () => {
  it("close(): pending and later recv() give null, sends fail, the port is freed and then unreachable", async () => {
    const { ipv4, udp } = host();
    const s = await udp.bind({ port: 8080 });
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 1, 8080, text("queued")) });
    const t = await udp.bind({ port: 8081 });
    const pending = t.recv();
    await s.close();
    await t.close();
    expect(await pending).toBeNull();
    expect(await s.recv()).toBeNull();
    expect(await s.recv()).toBeNull();
    await s.close(); // idempotent
    expect(udp.stats().counters.sockets).toBe(0);
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 1, 8080, text("after")) });
    expect(udp.stats().drops["no-socket"]).toBe(1);
    expect(ipv4.icmpErrorRequests).toHaveLength(1);
    expect((await udp.bind({ port: 8080 })).local.port).toBe(8080);
  });

  it("closing the layer closes every socket, unregisters protocol 17 and refuses bind", async () => {
    const { ipv4, udp } = host();
    const s = await udp.bind({ port: 1 });
    const waiting = s.recv();
    await udp.close();
    expect(await waiting).toBeNull();
    expect(ipv4.handler(17)).toBeUndefined();
    expect(await rejection(udp.bind())).toMatchObject({ code: "ERR_SOCKET_CLOSED" });
    expect(await rejection(s.send(text("x"), { address: C, port: 1 }))).toMatchObject({ code: "ERR_SOCKET_CLOSED" });
    await udp.close();
  });

  it("iterates datagrams in order and ends on close; breaking out does not close", async () => {
    const { clock, ua, ub } = pair();
    const sa = await ua.bind();
    const sb = await ub.bind({ port: 7 });
    for (const m of ["a", "b", "c"]) await sa.send(text(m), { address: B, port: 7 });
    await clock.runUntilIdle();
    const seen: string[] = [];
    for await (const d of sb) {
      seen.push(str(d.data));
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(["a", "b"]);
    expect(str((await sb.recv())!.data)).toBe("c"); // still open
    await sa.send(text("d"), { address: B, port: 7 });
    await clock.runUntilIdle();
    const all: Datagram[] = [];
    const loop = (async () => {
      for await (const d of sb) all.push(d);
    })();
    await clock.runUntilIdle();
    await sb.close();
    await loop;
    expect(all.map((d) => str(d.data))).toEqual(["d"]);
  });

  it("iteration throws an ICMP error; recv() in a loop continues past it", async () => {
    const { ipv4, udp } = host();
    const s = await udp.bind({ port: 3000 });
    await s.send(text("q"), { address: C, port: 53 });
    ipv4.inject({ src: C, dst: A, protocol: 17, payload: wire(C, A, 53, 3000, text("x")) });
    ipv4.deliverIcmpError(reportAbout(udpWrites(ipv4)[0]!, "port-unreachable"));
    const iterate = async () => {
      for await (const _ of s) void _;
    };
    expect((await rejection(iterate())).code).toBe("ECONNREFUSED");
    expect(str((await s.recv())!.data)).toBe("x");
  });
});
