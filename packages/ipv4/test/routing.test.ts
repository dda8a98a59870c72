/**
 * Output: routing, header fields, sizes, loopback, errors; construction and close.
 */
import { describe, expect, it } from "vitest";
import { MAC_BROADCAST, MorganaError, formatMac, parseIpv4Prefix } from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { Ipv4Layer } from "../src/index.js";
import { FakeArp, FakeEthernet, Recorder, bytesOf, fieldsOf, ip, rig } from "./helpers.js";

const payloadFill = (data: Uint8Array) => (buf: Uint8Array) => {
  buf.set(data);
  return data.length;
};

describe("routing", () => {
  it("sends on-link destinations through ARP, with a complete header", () => {
    const { ipv4, arp, eth } = rig();
    const data = bytesOf(100);
    ipv4.write(ip("10.0.0.7"), 17, 100, payloadFill(data));
    expect(eth.written).toHaveLength(0);
    expect(arp.sent).toHaveLength(1);
    const { ip: nextHop, bytes } = arp.sent[0]!;
    expect(nextHop).toBe(ip("10.0.0.7"));
    expect(fieldsOf(bytes)).toMatchObject({
      version: 4,
      hl: 20,
      tos: 0,
      total: 120,
      df: false,
      mf: false,
      offset: 0,
      ttl: 64,
      protocol: 17,
      src: ip("10.0.0.2"),
      dst: ip("10.0.0.7"),
      checksumOk: true,
    });
    expect([...bytes.subarray(20)]).toEqual([...data]);
    expect(ipv4.stats().counters).toMatchObject({ txDatagrams: 1, txPackets: 1, txBytes: 120 });
  });

  it("sends off-link destinations to the gateway's MAC, keeping the final destination in the header", () => {
    const { ipv4, arp } = rig();
    ipv4.write(ip("8.8.8.8"), 6, 0, () => 0);
    expect(arp.sent[0]!.ip).toBe(ip("10.0.0.1"));
    expect(fieldsOf(arp.sent[0]!.bytes)).toMatchObject({ dst: ip("8.8.8.8"), src: ip("10.0.0.2"), protocol: 6, total: 20 });
  });

  it("throws ENETUNREACH (syscall send) off-link without a gateway", () => {
    const { ipv4, arp } = rig({ gateway: null });
    let err: unknown;
    try {
      ipv4.write(ip("8.8.8.8"), 17, 10, () => 10);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MorganaError);
    expect(err).toMatchObject({ code: "ENETUNREACH", syscall: "send", address: "8.8.8.8" });
    expect(arp.sent).toHaveLength(0);
  });

  it.each(["255.255.255.255", "10.0.0.255"])("sends broadcast %s to ff:ff:ff:ff:ff:ff on EtherType 0x0800", (dst) => {
    const { ipv4, eth, arp } = rig();
    ipv4.write(ip(dst), 17, 8, () => 8);
    expect(arp.sent).toHaveLength(0);
    expect(eth.written).toHaveLength(1);
    expect(eth.written[0]!.dst).toBe(MAC_BROADCAST);
    expect(eth.written[0]!.etherType).toBe(0x0800);
    expect(fieldsOf(eth.written[0]!.bytes)).toMatchObject({ dst: ip(dst), ttl: 64, total: 28, checksumOk: true });
  });

  it("sends multicast to 01:00:5e + the low 23 bits, TTL 1 by default (RFC 1112)", () => {
    const { ipv4, eth } = rig();
    ipv4.write(ip("239.129.2.3"), 17, 8, () => 8);
    ipv4.write(ip("224.0.0.251"), 17, 8, () => 8, { ttl: 255 });
    expect(eth.written.map((w) => formatMac(w.dst))).toEqual(["01:00:5e:01:02:03", "01:00:5e:00:00:fb"]);
    expect(eth.written.map((w) => fieldsOf(w.bytes).ttl)).toEqual([1, 255]);
  });

  it("applies TTL, TOS and DF options", () => {
    const { ipv4, arp } = rig();
    ipv4.write(ip("10.0.0.7"), 17, 4, () => 4, { ttl: 3, tos: 0xb8, dontFragment: true });
    expect(fieldsOf(arp.sent[0]!.bytes)).toMatchObject({ ttl: 3, tos: 0xb8, df: true, checksumOk: true });
  });

  it("numbers datagrams with a 16-bit counter starting at a value from Random", () => {
    const ids = (seed: number) => {
      const { ipv4, arp } = rig({ seed });
      for (let i = 0; i < 3; i++) ipv4.write(ip("10.0.0.7"), 17, 0, () => 0);
      return arp.sent.map((s) => fieldsOf(s.bytes).id);
    };
    const a = ids(1);
    expect(a[1]).toBe((a[0]! + 1) & 0xffff);
    expect(a[2]).toBe((a[0]! + 2) & 0xffff);
    expect(a[0]).toBe(new SeededRandom(1).uint32() & 0xffff);
    expect(ids(2)[0]).toBe(new SeededRandom(2).uint32() & 0xffff);
  });

  it("selects the source by the longest prefix containing the destination, else the gateway's prefix", () => {
    const { ipv4, arp } = rig({
      addresses: [parseIpv4Prefix("10.0.0.2/8"), parseIpv4Prefix("192.168.5.9/16"), parseIpv4Prefix("10.1.0.2/16")],
      gateway: ip("192.168.0.1"),
    });
    expect(ipv4.source(ip("192.168.7.7"))).toBe(ip("192.168.5.9"));
    expect(ipv4.source(ip("10.9.9.9"))).toBe(ip("10.0.0.2"));
    expect(ipv4.source(ip("10.1.2.3"))).toBe(ip("10.1.0.2"));
    expect(ipv4.source(ip("8.8.8.8"))).toBe(ip("192.168.5.9"));
    expect(ipv4.source(ip("10.1.0.2"))).toBe(ip("10.1.0.2"));
    expect(ipv4.source(ip("127.0.0.5"))).toBe(ip("127.0.0.1"));
    ipv4.write(ip("192.168.7.7"), 17, 0, () => 0);
    ipv4.write(ip("10.1.2.3"), 17, 0, () => 0);
    ipv4.write(ip("8.8.4.4"), 17, 0, () => 0);
    expect(arp.sent.map((s) => [s.ip, fieldsOf(s.bytes).src])).toEqual([
      [ip("192.168.7.7"), ip("192.168.5.9")],
      [ip("10.1.2.3"), ip("10.1.0.2")],
      [ip("192.168.0.1"), ip("192.168.5.9")],
    ]);
  });

  it("falls back to the first address without a matching prefix or gateway", () => {
    const { ipv4 } = rig({ addresses: [parseIpv4Prefix("10.0.0.2/24"), parseIpv4Prefix("10.0.1.2/24")], gateway: null });
    expect(ipv4.source(ip("8.8.8.8"))).toBe(ip("10.0.0.2"));
    expect(ipv4.source(ip("255.255.255.255"))).toBe(ip("10.0.0.2"));
  });

  it("uses opts.src when it is ours (or 0.0.0.0), EADDRNOTAVAIL otherwise", () => {
    const { ipv4, arp } = rig({ addresses: [parseIpv4Prefix("10.0.0.2/24"), parseIpv4Prefix("10.0.0.3/24")] });
    ipv4.write(ip("10.0.0.7"), 17, 0, () => 0, { src: ip("10.0.0.3") });
    ipv4.write(ip("255.255.255.255"), 17, 0, () => 0, { src: ip("0.0.0.0") });
    expect(fieldsOf(arp.sent[0]!.bytes).src).toBe(ip("10.0.0.3"));
    expect(() => ipv4.write(ip("10.0.0.7"), 17, 0, () => 0, { src: ip("10.0.0.9") })).toThrow(expect.objectContaining({ code: "EADDRNOTAVAIL" }));
  });

  it("reports mtu(dst) as the Ethernet MTU minus 20, and 65515 for local destinations", () => {
    const { ipv4 } = rig({ mtu: 9000 });
    expect(ipv4.mtu(ip("10.0.0.7"))).toBe(8980);
    expect(ipv4.mtu(ip("8.8.8.8"))).toBe(8980);
    expect(ipv4.mtu(ip("10.0.0.2"))).toBe(65515);
    expect(ipv4.mtu(ip("127.0.0.1"))).toBe(65515);
  });
});

describe("sizes and argument errors", () => {
  it("throws EMSGSIZE above 65515 bytes, and above the MTU with DF", () => {
    const { ipv4, arp } = rig();
    expect(() => ipv4.write(ip("10.0.0.7"), 17, 65516, () => 0)).toThrow(expect.objectContaining({ code: "EMSGSIZE", syscall: "send" }));
    expect(() => ipv4.write(ip("10.0.0.7"), 17, 1481, () => 0, { dontFragment: true })).toThrow(expect.objectContaining({ code: "EMSGSIZE" }));
    ipv4.write(ip("10.0.0.7"), 17, 1480, () => 1480, { dontFragment: true });
    ipv4.write(ip("10.0.0.7"), 17, 65515, () => 65515);
    expect(arp.sent).toHaveLength(1 + Math.ceil(65515 / 1480));
  });

  it.each([
    ["protocol 256", 256, 0, {}],
    ["protocol 1.5", 1.5, 0, {}],
    ["size -1", 17, -1, {}],
    ["ttl 0 (RFC 1122: never send TTL 0)", 17, 0, { ttl: 0 }],
    ["ttl 256", 17, 0, { ttl: 256 }],
    ["tos 256", 17, 0, { tos: 256 }],
  ])("throws EINVAL for %s", (_n, protocol, size, opts) => {
    const { ipv4, arp } = rig();
    expect(() => ipv4.write(ip("10.0.0.7"), protocol, size, () => 0, opts)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(arp.sent).toHaveLength(0);
  });

  it("throws EINVAL for destination 0.0.0.0", () => {
    const { ipv4 } = rig();
    expect(() => ipv4.write(ip("0.0.0.0"), 17, 0, () => 0)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  it("sends only the bytes fill used", () => {
    const { ipv4, arp } = rig();
    ipv4.write(ip("10.0.0.7"), 17, 1000, () => 10);
    expect(arp.sent[0]!.bytes.length).toBe(30);
    expect(fieldsOf(arp.sent[0]!.bytes)).toMatchObject({ total: 30, checksumOk: true });
  });

  it("counts a fill that throws or returns a bad length, without throwing", () => {
    const { ipv4, arp } = rig();
    ipv4.write(ip("10.0.0.7"), 17, 10, () => {
      throw new Error("fill");
    });
    ipv4.write(ip("10.0.0.7"), 17, 10, () => 11);
    ipv4.write(ip("10.0.0.7"), 17, 10, () => -1);
    ipv4.write(ip("10.0.0.7"), 17, 10, () => 2.5);
    expect(arp.sent).toHaveLength(0);
    expect(ipv4.stats().drops).toEqual({ "fill-error": 4 });
    expect(ipv4.stats().counters.txDatagrams).toBe(0);
  });
});

describe("late and local failures", () => {
  it("passes onError to ARP: a failed resolution is reported once per datagram, also when fragmented", async () => {
    const { ipv4, arp } = rig();
    arp.mode = "fail-later";
    const errors: Error[] = [];
    ipv4.write(ip("10.0.0.7"), 17, 10, () => 10, { onError: (e) => errors.push(e) });
    ipv4.write(ip("10.0.0.8"), 17, 4000, () => 4000, { onError: (e) => errors.push(e) });
    expect(errors).toHaveLength(0);
    arp.failPending();
    expect(errors.map((e) => (e as MorganaError).code)).toEqual(["EHOSTUNREACH", "EHOSTUNREACH"]);
  });

  it("counts a frame the link refuses and reports ENOBUFS after write returns", () => {
    const { ipv4, arp, eth, clock } = rig();
    arp.mode = "refuse";
    const errors: Error[] = [];
    ipv4.write(ip("10.0.0.7"), 17, 10, () => 10, { onError: (e) => errors.push(e) });
    ipv4.write(ip("10.0.0.7"), 17, 4000, () => 4000, { onError: (e) => errors.push(e) });
    eth.accept = false;
    ipv4.write(ip("255.255.255.255"), 17, 10, () => 10, { onError: (e) => errors.push(e) });
    expect(errors).toHaveLength(0); // never inside write
    clock.advanceSync(0);
    expect(errors.map((e) => (e as MorganaError).code)).toEqual(["ENOBUFS", "ENOBUFS", "ENOBUFS"]);
    expect(ipv4.stats().drops["tx-refused"]).toBe(3);
    expect(ipv4.stats().counters.txDatagrams).toBe(0);
  });
});

describe("loopback", () => {
  it("delivers datagrams to our own address asynchronously through the clock, unfragmented", () => {
    const { ipv4, arp, eth, clock } = rig({ mtu: 576 });
    const udp = new Recorder();
    ipv4.register(17, udp);
    const data = bytesOf(60_000);
    ipv4.write(ip("10.0.0.2"), 17, data.length, payloadFill(data));
    expect(udp.got).toHaveLength(0);
    expect(arp.sent.length + eth.written.length).toBe(0);
    expect(clock.pendingTimers).toBe(1);
    clock.advanceSync(0);
    expect(udp.got).toHaveLength(1);
    expect(udp.got[0]!.src).toBe(ip("10.0.0.2"));
    expect(udp.got[0]!.dst).toBe(ip("10.0.0.2"));
    expect(Buffer.from(udp.got[0]!.payload).equals(Buffer.from(data))).toBe(true);
    expect(fieldsOf(udp.got[0]!.header)).toMatchObject({ total: 60_020, checksumOk: true, mf: false });
    expect(ipv4.stats().counters).toMatchObject({ loopback: 1, txDatagrams: 1, fragmentsSent: 0, rxDatagrams: 1 });
  });

  it("delivers 127/8 locally from 127.0.0.1", () => {
    const { ipv4, clock } = rig();
    const udp = new Recorder();
    ipv4.register(17, udp);
    ipv4.write(ip("127.0.0.53"), 17, 3, () => 3);
    clock.advanceSync(0);
    expect(udp.got.map((d) => [d.src, d.dst])).toEqual([[ip("127.0.0.1"), ip("127.0.0.53")]]);
  });

  it("lets a handler answer from inside its callback without re-entrancy", () => {
    const { ipv4, clock } = rig();
    const log: string[] = [];
    let depth = 0;
    ipv4.register(17, {
      onDatagram: (src, _dst, payload) => {
        depth++;
        log.push(`got ${payload[0]} at depth ${depth}`);
        if (payload[0]! < 3) ipv4.write(src, 17, 1, (b) => ((b[0] = payload[0]! + 1), 1));
        depth--;
      },
    });
    ipv4.write(ip("10.0.0.2"), 17, 1, (b) => ((b[0] = 0), 1));
    clock.runUntilIdleSync();
    expect(log).toEqual(["got 0 at depth 1", "got 1 at depth 1", "got 2 at depth 1", "got 3 at depth 1"]);
  });

  it("close() cancels pending loopback deliveries", () => {
    const { ipv4, clock } = rig();
    const udp = new Recorder();
    ipv4.register(17, udp);
    ipv4.write(ip("10.0.0.2"), 17, 1, () => 1);
    ipv4.close();
    expect(clock.pendingTimers).toBe(0);
    clock.advanceSync(10);
    expect(udp.got).toHaveLength(0);
  });
});

describe("construction and close", () => {
  it("registers for IPv4, joins all-hosts, adds its addresses to ARP; close() undoes it and write then throws ENETDOWN", () => {
    const { ipv4, eth, arp } = rig({ addresses: [parseIpv4Prefix("10.0.0.2/24"), parseIpv4Prefix("10.0.5.2/24")] });
    expect(eth.handlers.has(0x0800)).toBe(true);
    expect(arp.addresses).toEqual([ip("10.0.0.2"), ip("10.0.5.2")]);
    expect([...eth.multicast].map((m) => formatMac(m as never))).toEqual(["01:00:5e:00:00:01"]);
    expect(ipv4.addresses.map((p) => p.address)).toEqual([ip("10.0.0.2"), ip("10.0.5.2")]);
    expect(ipv4.gateway).toBe(ip("10.0.0.1"));
    ipv4.close();
    ipv4.close();
    expect(eth.handlers.has(0x0800)).toBe(false);
    expect(arp.addresses).toEqual([]);
    expect(eth.multicast.size).toBe(0);
    expect(() => ipv4.write(ip("10.0.0.7"), 17, 0, () => 0)).toThrow(expect.objectContaining({ code: "ENETDOWN" }));
  });

  const make = (over: Partial<ConstructorParameters<typeof Ipv4Layer>[0]>) => () =>
    new Ipv4Layer({
      ethernet: new FakeEthernet(),
      arp: new FakeArp(),
      clock: new VirtualClock(),
      random: new SeededRandom(1),
      addresses: [parseIpv4Prefix("10.0.0.2/24")],
      ...over,
    });

  it.each([
    ["no address", { addresses: [] }],
    ["a gateway outside every prefix", { gateway: ip("10.0.1.1") }],
    ["default TTL 0", { defaultTtl: 0 }],
    ["a broadcast interface address", { addresses: [parseIpv4Prefix("255.255.255.255/32")] }],
    ["a multicast interface address", { addresses: [parseIpv4Prefix("224.0.0.1/4")] }],
    ["reassembly.maxDatagrams 0", { reassembly: { maxDatagrams: 0 } }],
    ["reassembly.timeoutMs Infinity", { reassembly: { timeoutMs: Infinity } }],
  ])("throws EINVAL for %s", (_n, over) => {
    expect(make(over as never)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  it("throws EADDRINUSE when IPv4 is already registered on the Ethernet", () => {
    const ethernet = new FakeEthernet();
    ethernet.register(0x0800, () => {});
    expect(make({ ethernet })).toThrow(expect.objectContaining({ code: "EADDRINUSE" }));
  });

  it("register throws EADDRINUSE for a taken protocol and EINVAL for a bad one; unregister frees it", () => {
    const { ipv4 } = rig();
    ipv4.register(17, new Recorder());
    expect(() => ipv4.register(17, new Recorder())).toThrow(expect.objectContaining({ code: "EADDRINUSE" }));
    expect(() => ipv4.register(300, new Recorder())).toThrow(expect.objectContaining({ code: "EINVAL" }));
    ipv4.unregister(17);
    expect(() => ipv4.register(17, new Recorder())).not.toThrow();
  });
});
