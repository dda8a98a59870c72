import {
  parseIpv4,
  type Clock,
  type Ethernet,
  type EthernetHandler,
  type Fill,
  type Ipv4Address,
  type LayerStats,
  type MacAddress,
} from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { createLink } from "@morgana/vnetif";
import { Ethif } from "@morgana/ethif";
import { ArpLayer, arpPacket, decodeArp, encodeArpPacket, type ArpOptions, type ArpPacket } from "../src/index.js";

export const ip = (s: string): Ipv4Address => parseIpv4(s);
export const MAC_US = 0x0200_0000_0001 as MacAddress;
export const MAC_PEER = 0x0200_0000_0002 as MacAddress;
export const IP_US = ip("10.0.0.1");
export const IP_PEER = ip("10.0.0.2");
export const BCAST = 0xffff_ffff_ffff as MacAddress;
export const ZERO_MAC = 0 as MacAddress;
export const ZERO_IP = 0 as Ipv4Address;

export interface SentFrame {
  dst: MacAddress;
  etherType: number;
  bytes: Uint8Array;
  at: number;
}

/** An Ethernet stand-in: records what is written (with the clock time), delivers injected payloads synchronously. */
export class FakeEthernet implements Ethernet {
  readonly sent: SentFrame[] = [];
  readonly handlers = new Map<number, EthernetHandler>();
  accept = true;

  constructor(
    readonly clock: Clock,
    readonly mac: MacAddress = MAC_US,
    readonly mtu = 1500,
  ) {}

  write(dst: MacAddress, etherType: number, size: number, fill: Fill): boolean {
    const buf = new Uint8Array(size);
    const n = fill(buf);
    if (!this.accept) return false;
    this.sent.push({ dst, etherType, bytes: buf.subarray(0, n), at: this.clock.now() });
    return true;
  }

  register(etherType: number, handler: EthernetHandler): void {
    if (this.handlers.has(etherType)) throw new Error("taken");
    this.handlers.set(etherType, handler);
  }

  unregister(etherType: number): void {
    this.handlers.delete(etherType);
  }

  joinMulticast(): void {}
  leaveMulticast(): void {}

  close(): void {}

  stats(): LayerStats {
    return { counters: {}, drops: {} };
  }

  /** Delivers an ARP payload as if received from `src`. */
  inject(payload: Uint8Array, src: MacAddress = MAC_PEER, dst: MacAddress = BCAST): void {
    this.handlers.get(0x0806)!(payload, src, dst);
  }

  /** Sends an ARP packet to us. */
  injectArp(op: number, sha: MacAddress, spa: Ipv4Address, tha: MacAddress, tpa: Ipv4Address): void {
    this.inject(encodeArpPacket(arpPacket(op, sha, spa, tha, tpa)), sha);
  }

  /** The ARP packets written, decoded, with their Ethernet destination and time. */
  arp(): (ArpPacket & { dst: MacAddress; at: number })[] {
    return this.sent.filter((f) => f.etherType === 0x0806).map((f) => ({ ...decodeArp(f.bytes), dst: f.dst, at: f.at }));
  }

  ipv4(): SentFrame[] {
    return this.sent.filter((f) => f.etherType === 0x0800);
  }
}

export function fakeSetup(opts: Partial<ArpOptions> = {}) {
  const clock = new VirtualClock();
  const random = new SeededRandom("arp-test");
  const eth = new FakeEthernet(clock);
  const arp = new ArpLayer({ ethernet: eth, clock, random, addresses: [IP_US], announcements: 0, ...opts });
  return { clock, random, eth, arp };
}

export interface WireFrame {
  to: string;
  at: number;
  bytes: Uint8Array;
}

/** Two hosts, each ArpLayer over Ethif over one end of a vnetif link; every delivered frame is recorded. */
export function twoHosts(opts: Partial<ArpOptions> = {}, latencyMs = 0) {
  const clock = new VirtualClock();
  const random = new SeededRandom("two-hosts");
  const wire: WireFrame[] = [];
  const [a, b] = createLink({ clock, latencyMs, onDeliver: (port, frame, at) => wire.push({ to: port.name, at, bytes: frame.slice() }) });
  const ea = new Ethif({ netif: a });
  const eb = new Ethif({ netif: b });
  const arpA = new ArpLayer({ ethernet: ea, clock, random: random.fork("a"), addresses: [IP_US], announcements: 0, ...opts });
  const arpB = new ArpLayer({ ethernet: eb, clock, random: random.fork("b"), addresses: [IP_PEER], announcements: 0, ...opts });
  const ipAtB: Uint8Array[] = [];
  const ipAtA: Uint8Array[] = [];
  eb.register(0x0800, (p) => ipAtB.push(p));
  ea.register(0x0800, (p) => ipAtA.push(p));
  /** Decoded ARP frames on the wire (to: "a" or "b" = the receiving end). */
  const arpOnWire = () =>
    wire
      .filter((w) => w.bytes[12] === 0x08 && w.bytes[13] === 0x06)
      .map((w) => ({ ...decodeArp(w.bytes.subarray(14)), to: w.to, at: w.at, ethDst: w.bytes.subarray(0, 6).reduce((x, y) => x * 256 + y, 0) }));
  return { clock, random, wire, a, b, ea, eb, arpA, arpB, ipAtA, ipAtB, arpOnWire };
}

/** A fill writing `bytes` (length n) into a buffer of any size >= n. */
export function fillWith(bytes: Uint8Array): Fill {
  return (buf) => {
    buf.set(bytes);
    return bytes.length;
  };
}



/** Tracks a promise's outcome and the clock time it settled at. */
export function track<T>(clock: Clock, p: Promise<T>) {
  const t: { state: "pending" | "resolved" | "rejected"; value?: T; error?: unknown; at?: number } = { state: "pending" };
  p.then(
    (v) => Object.assign(t, { state: "resolved", value: v, at: clock.now() }),
    (e) => Object.assign(t, { state: "rejected", error: e, at: clock.now() }),
  );
  return t;
}

export { expectCode, expectReject } from "@morgana/testkit";
