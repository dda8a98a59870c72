/**
 * Two IPv4 layers over a vnetif link with impairments, through a minimal
 * Ethernet and a static ARP: fragmentation and reassembly end to end.
 */
import { describe, expect, it } from "vitest";
import { mac, parseIpv4Prefix, type Netif } from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { createLink, impair } from "@morgana/vnetif";
import { Ipv4Layer } from "../src/index.js";
import { MiniEthernet, Recorder, StaticArp, bytesOf, ip } from "./helpers.js";

function host(netif: Netif, address: string, clock: VirtualClock, random: SeededRandom) {
  const ethernet = new MiniEthernet(netif);
  const arp = new StaticArp(
    ethernet,
    new Map([
      [ip("10.0.0.1"), mac(0x020000000001)],
      [ip("10.0.0.2"), mac(0x020000000002)],
    ]),
  );
  const ipv4 = new Ipv4Layer({ ethernet, arp, clock, random, addresses: [parseIpv4Prefix(`${address}/24`)] });
  const udp = new Recorder();
  ipv4.register(17, udp);
  return { ipv4, udp };
}

function setup(seed: string, loss: number) {
  const clock = new VirtualClock();
  const random = new SeededRandom(seed);
  const [a, b] = createLink({ clock, latencyMs: 1, mtu: 1500 });
  const lossy = impair(a, { clock, random: random.fork("impair"), loss, delayMs: 5, jitterMs: 4, reorder: { rate: 0.3, maxExtraDelayMs: 20 } });
  return { clock, A: host(lossy, "10.0.0.1", clock, random.fork("a")), B: host(b, "10.0.0.2", clock, random.fork("b")) };
}

describe("end to end over vnetif", () => {
  it("reassembles reordered, jittered fragments of 40 datagrams byte for byte", async () => {
    const { clock, A, B } = setup("e2e", 0);
    const sizes = Array.from({ length: 40 }, (_, i) => (i * 7919) % 30_000);
    for (const [i, size] of sizes.entries()) {
      const data = bytesOf(size, i);
      A.ipv4.write(ip("10.0.0.2"), 17, size, (buf) => (buf.set(data), size));
    }
    await clock.runUntilIdle();
    expect(B.udp.got).toHaveLength(40);
    const bySize = new Map(B.udp.got.map((d) => [d.payload.length, d.payload]));
    for (const [i, size] of sizes.entries()) expect(Buffer.from(bySize.get(size)!).equals(Buffer.from(bytesOf(size, i)))).toBe(true);
    const s = B.ipv4.stats();
    expect(s.counters.reassemblyDatagrams).toBe(0);
    expect(s.drops).toEqual({});
    expect(A.ipv4.stats().counters.fragmentsSent).toBe(sizes.reduce((n, x) => n + (x > 1480 ? Math.ceil(x / 1480) : 0), 0));
  });

  it("with loss, delivers only complete datagrams and frees the rest at the timeout", async () => {
    const { clock, A, B } = setup("e2e-loss", 0.05);
    const sizes = Array.from({ length: 40 }, (_, i) => 3000 + i * 500);
    for (const [i, size] of sizes.entries()) {
      const data = bytesOf(size, i);
      A.ipv4.write(ip("10.0.0.2"), 17, size, (buf) => (buf.set(data), size));
    }
    await clock.runUntilIdle();
    const got = B.udp.got;
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(40);
    for (const d of got) {
      const i = sizes.indexOf(d.payload.length);
      expect(Buffer.from(d.payload).equals(Buffer.from(bytesOf(sizes[i]!, i)))).toBe(true);
    }
    const s = B.ipv4.stats();
    expect(s.drops["reassembly-timeout"]).toBe(40 - got.length);
    expect(s.counters.reassemblyDatagrams).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});
