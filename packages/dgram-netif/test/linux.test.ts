/**
 * A dgram-netif bridged to a real Linux kernel in a network namespace
 * (@morgana/linux-peer): socat in the root namespace holds the TAP, the TAP
 * lives in the peer's namespace. Traffic stays on loopback and in the namespace.
 */
import { afterEach, expect, it } from "vitest";
import { formatMac, parseIpv4, parseMac, readIpv4, readMac, writeIpv4, writeMac, MAC_BROADCAST, type Ipv4Address, type MacAddress } from "@morgana/interfaces";
import { internetChecksum } from "@morgana/checksum";
import { createLinuxPeer, type LinuxPeer } from "@morgana/linux-peer";
import { describeLinux } from "@morgana/linux-peer/vitest";
import { createDgramNetif, type DgramNetif } from "../src/index.js";
import { waitFor } from "./helpers.js";

interface Arp {
  dst: MacAddress;
  src: MacAddress;
  op: number;
  sha: MacAddress;
  spa: Ipv4Address;
  tha: MacAddress;
  tpa: Ipv4Address;
}

function etherType(f: Uint8Array): number {
  return (f[12]! << 8) | f[13]!;
}

/** Parses an Ethernet/IPv4 ARP frame (test-local codec, independent of @morgana/arp). */
function parseArp(f: Uint8Array): Arp | undefined {
  if (f.length < 42 || etherType(f) !== 0x0806) return undefined;
  if (f[14] !== 0 || f[15] !== 1 || f[16] !== 8 || f[17] !== 0 || f[18] !== 6 || f[19] !== 4) return undefined;
  return {
    dst: readMac(f, 0),
    src: readMac(f, 6),
    op: (f[20]! << 8) | f[21]!,
    sha: readMac(f, 22),
    spa: readIpv4(f, 28),
    tha: readMac(f, 32),
    tpa: readIpv4(f, 38),
  };
}

function writeArp(buf: Uint8Array, a: Arp): number {
  writeMac(buf, 0, a.dst);
  writeMac(buf, 6, a.src);
  buf.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, a.op], 12);
  writeMac(buf, 22, a.sha);
  writeIpv4(buf, 28, a.spa);
  writeMac(buf, 32, a.tha);
  writeIpv4(buf, 38, a.tpa);
  return 42;
}

/** A netif bridged to `peer`, recording every frame it receives. */
async function bridge(peer: LinuxPeer): Promise<{ netif: DgramNetif; frames: Uint8Array[] }> {
  const netif = await createDgramNetif({ localPort: peer.morganaPort, remotePort: peer.socatPort, mtu: peer.mtu });
  const frames: Uint8Array[] = [];
  netif.listen((f) => frames.push(f));
  return { netif, frames };
}

/**
 * A minimal hand-written host on the netif at `ip`: answers ARP requests for
 * `ip` and ICMP echo requests to `ip` (test-local, independent of the stack's packages).
 */
function respond(netif: DgramNetif, ip: Ipv4Address, seen: Uint8Array[]): void {
  netif.listen((f) => {
    seen.push(f);
    const arp = parseArp(f);
    if (arp !== undefined && arp.op === 1 && arp.tpa === ip) {
      netif.transmit(42, (b) => writeArp(b, { dst: arp.sha, src: netif.mac, op: 2, sha: netif.mac, spa: ip, tha: arp.sha, tpa: arp.spa }));
      return;
    }
    if (etherType(f) !== 0x0800 || f.length < 34) return;
    const ihl = (f[14]! & 0x0f) * 4;
    const total = (f[16]! << 8) | f[17]!;
    if (f[23] !== 1 || readIpv4(f, 30) !== ip || f[14 + ihl] !== 8) return; // ICMP echo request to us
    const len = 14 + total;
    netif.transmit(len, (b) => {
      b.set(f.subarray(0, len));
      b.set(f.subarray(6, 12), 0); // dst MAC = requester
      writeMac(b, 6, netif.mac);
      b.set(f.subarray(30, 34), 26); // swap addresses
      b.set(f.subarray(26, 30), 30);
      b[24] = 0;
      b[25] = 0;
      const ipSum = internetChecksum(b, 14, 14 + ihl);
      b[24] = ipSum >>> 8;
      b[25] = ipSum & 0xff;
      const icmp = 14 + ihl;
      b[icmp] = 0; // echo reply
      b[icmp + 2] = 0;
      b[icmp + 3] = 0;
      const sum = internetChecksum(b, icmp, len);
      b[icmp + 2] = sum >>> 8;
      b[icmp + 3] = sum & 0xff;
      return len;
    });
  });
}

describeLinux("dgram-netif with a Linux kernel peer", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup(): Promise<{ peer: LinuxPeer; netif: DgramNetif; frames: Uint8Array[] }> {
    const peer = await createLinuxPeer();
    cleanup.push(() => peer.close());
    const b = await bridge(peer);
    cleanup.push(() => b.netif.close());
    return { peer, ...b };
  }

  /** ping inside the namespace makes the kernel ask who has `target`; returns that ARP request. */
  async function expectWhoHas(peer: LinuxPeer, frames: Uint8Array[], target: string): Promise<Arp> {
    const ping = await peer.exec(["ping", "-c", "1", "-W", "1", target]);
    expect(ping.code).toBe(1); // nobody answers
    const who = frames.map(parseArp).find((a) => a !== undefined && a.op === 1 && a.tpa === parseIpv4(target));
    expect(who, `an ARP request for ${target} among ${frames.length} frames`).toBeDefined();
    return who!;
  }

  it("the kernel's ARP who-has for an address of its subnet arrives on the netif", async () => {
    const { peer, netif, frames } = await setup();
    const target = peer.hostAddress(2);
    const who = await expectWhoHas(peer, frames, target);
    expect(who).toEqual({
      dst: MAC_BROADCAST,
      src: parseMac(peer.linuxMac),
      op: 1,
      sha: parseMac(peer.linuxMac),
      spa: parseIpv4(peer.address),
      tha: who.tha, // checked below
      tpa: parseIpv4(target),
    });
    expect([0, MAC_BROADCAST]).toContain(who.tha); // RFC 826 leaves it unspecified; Linux sends zeros
    // IPv6 is off in the namespace: nothing but ARP (and IPv4) came through.
    expect(frames.filter((f) => etherType(f) === 0x86dd)).toEqual([]);
    expect(netif.stats().counters.rxFrames).toBe(frames.length);
    expect(netif.stats().drops).toEqual({});
  });

  it("an ARP request transmitted by the netif is answered by the kernel", async () => {
    const { peer, netif, frames } = await setup();
    const mine = parseIpv4(peer.hostAddress(7));
    const linux = parseIpv4(peer.address);
    expect(netif.transmit(42, (b) => writeArp(b, { dst: MAC_BROADCAST, src: netif.mac, op: 1, sha: netif.mac, spa: mine, tha: 0 as MacAddress, tpa: linux }))).toBe(true);
    await waitFor(() => frames.some((f) => parseArp(f)?.op === 2), "the kernel's ARP reply", 5000);
    const reply = frames.map(parseArp).find((a) => a?.op === 2)!;
    expect(reply).toEqual({ dst: netif.mac, src: parseMac(peer.linuxMac), op: 2, sha: parseMac(peer.linuxMac), spa: linux, tha: netif.mac, tpa: mine });
    // The kernel learned our address from the request.
    const neigh = (await peer.exec(["ip", "neigh", "show", peer.hostAddress(7)])).stdout;
    expect(neigh).toContain(`lladdr ${formatMac(netif.mac)}`);
    expect(netif.stats().counters.txFrames).toBe(1);
  });

  it("the kernel pings a hand-written host on the netif: ARP and ICMP echo both ways, small and MTU-sized", async () => {
    const { peer, netif } = await setup();
    const seen: Uint8Array[] = [];
    const me = peer.hostAddress(9);
    respond(netif, parseIpv4(me), seen);
    const small = await peer.exec(["ping", "-c", "3", "-i", "0.2", "-W", "2", me]);
    expect(small.stdout, small.stderr).toContain("3 packets transmitted, 3 received");
    expect(small.code).toBe(0);
    // 1472 bytes of ICMP payload: a 1500-byte IP packet, a 1514-byte frame, unfragmented (DF).
    const big = await peer.exec(["ping", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", "1472", me]);
    expect(big.stdout, big.stderr).toContain("2 packets transmitted, 2 received");
    expect(seen.some((f) => f.length === 1514)).toBe(true);
    // One byte more does not fit the TAP's MTU: the kernel refuses locally, nothing reaches us.
    const before = seen.length;
    const tooBig = await peer.exec(["ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1473", me]);
    expect(tooBig.code).not.toBe(0);
    expect(seen.slice(before).some((f) => f.length > 1514)).toBe(false);
    expect(netif.stats().drops).toEqual({});
  });

  it("two peers at once, in parallel, do not interfere", async () => {
    const [x, y] = await Promise.all([setup(), setup()]);
    expect(x.peer.ns).not.toBe(y.peer.ns);
    expect(x.peer.subnet === y.peer.subnet && x.peer.address === y.peer.address).toBe(false);
    await Promise.all(
      [x, y].map(async ({ peer, netif, frames }) => {
        const seen: Uint8Array[] = [];
        respond(netif, parseIpv4(peer.hostAddress(5)), seen);
        const r = await peer.exec(["ping", "-c", "5", "-i", "0.1", "-W", "2", peer.hostAddress(5)]);
        expect(r.stdout, r.stderr).toContain("5 packets transmitted, 5 received");
        // Every frame this netif saw came from its own kernel.
        expect(seen.length).toBeGreaterThanOrEqual(6);
        for (const f of seen) expect(formatMac(readMac(f, 6))).toBe(peer.linuxMac);
      }),
    );
  });
});
