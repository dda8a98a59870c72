/**
 * Test doubles: a fake Ethernet and a fake ARP implementing the interfaces,
 * an IPv4 packet builder independent of the code under test, and helpers.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  MorganaError,
  mac,
  parseIpv4,
  parseIpv4Prefix,
  type Arp,
  type ArpEntry,
  type Ethernet,
  type EthernetHandler,
  type Fill,
  type IcmpErrorSender,
  type IcmpErrorToSend,
  type Ipv4Address,
  type Ipv4ProtocolHandler,
  type LayerStats,
  type MacAddress,
} from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { Ipv4Layer, type Ipv4LayerOptions } from "../src/index.js";

export const ip = parseIpv4;
export const OUR_MAC = mac(0x020000000002);
export const PEER_MAC = mac(0x020000000001);

export interface WrittenFrame {
  readonly dst: MacAddress;
  readonly etherType: number;
  readonly bytes: Uint8Array;
}

/** An Ethernet that records what is written and delivers what the test injects. */
export class FakeEthernet implements Ethernet {
  readonly mac = OUR_MAC;
  mtu: number;
  /** When false, `write` fills the frame and then refuses it (a full device queue). */
  accept = true;
  readonly written: WrittenFrame[] = [];
  readonly handlers = new Map<number, EthernetHandler>();
  readonly multicast = new Set<number>();
  writeCalls = 0;

  constructor(mtu = 1500) {
    this.mtu = mtu;
  }

  write(dst: MacAddress, etherType: number, size: number, fill: Fill): boolean {
    this.writeCalls++;
    if (size > this.mtu) throw new MorganaError("EMSGSIZE", `frame payload ${size} > mtu ${this.mtu}`);
    const frame = new Uint8Array(14 + size);
    const payload = frame.subarray(14);
    let n: number;
    try {
      n = fill(payload);
    } catch {
      return false;
    }
    if (!Number.isInteger(n) || n < 0 || n > size) return false;
    if (!this.accept) return false;
    this.written.push({ dst, etherType, bytes: payload.subarray(0, n) });
    return true;
  }

  register(etherType: number, handler: EthernetHandler): void {
    if (this.handlers.has(etherType)) throw new MorganaError("EADDRINUSE", `ethertype ${etherType}`);
    this.handlers.set(etherType, handler);
  }

  unregister(etherType: number): void {
    this.handlers.delete(etherType);
  }

  joinMulticast(group: MacAddress): void {
    this.multicast.add(group);
  }

  leaveMulticast(group: MacAddress): void {
    this.multicast.delete(group);
  }

  /** Hands an IPv4 payload to the registered handler, as a frame from `src` to `dst` would be. */
  deliver(payload: Uint8Array, dst: MacAddress = OUR_MAC, src: MacAddress = PEER_MAC): void {
    this.handlers.get(0x0800)?.(payload, src, dst);
  }

  close(): void {}

  stats(): LayerStats {
    return { counters: { txFrames: this.written.length }, drops: {} };
  }
}

export interface ArpSent {
  readonly ip: Ipv4Address;
  readonly bytes: Uint8Array;
}

/** An ARP that "resolves" everything: `send` fills a buffer and records it. */
export class FakeArp implements Arp {
  /** "ok": sent; "refuse": dropped at once (returns false); "fail-later": accepted, then `failPending()` reports errors. */
  mode: "ok" | "refuse" | "fail-later" = "ok";
  readonly sent: ArpSent[] = [];
  readonly addresses: Ipv4Address[] = [];
  private readonly pendingErrors: ((err: Error) => void)[] = [];

  lookup(): MacAddress | undefined {
    return undefined;
  }

  query(): Promise<MacAddress> {
    return Promise.reject(new MorganaError("EHOSTUNREACH"));
  }

  send(ipAddr: Ipv4Address, size: number, fill: Fill, onError?: (err: Error) => void): boolean {
    const buf = new Uint8Array(size);
    let n: number;
    try {
      n = fill(buf);
    } catch {
      return false;
    }
    if (!Number.isInteger(n) || n < 0 || n > size) return false;
    if (this.mode === "refuse") return false;
    if (this.mode === "fail-later") {
      if (onError !== undefined) this.pendingErrors.push(onError);
      return true;
    }
    this.sent.push({ ip: ipAddr, bytes: buf.subarray(0, n) });
    return true;
  }

  /** Reports resolution failure to every packet queued in "fail-later" mode. */
  failPending(): void {
    for (const f of this.pendingErrors.splice(0)) f(new MorganaError("EHOSTUNREACH", "resolution failed"));
  }

  addAddress(a: Ipv4Address): void {
    if (!this.addresses.includes(a)) this.addresses.push(a);
  }

  removeAddress(a: Ipv4Address): void {
    const i = this.addresses.indexOf(a);
    if (i >= 0) this.addresses.splice(i, 1);
  }

  addStatic(): void {}
  removeStatic(): void {}
  entries(): ArpEntry[] {
    return [];
  }
  close(): void {}

  stats(): LayerStats {
    return { counters: {}, drops: {} };
  }
}

export interface Delivery {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly payload: Uint8Array;
  readonly header: Uint8Array;
}

/** A protocol handler that records what it gets. */
export class Recorder implements Ipv4ProtocolHandler {
  readonly got: Delivery[] = [];
  readonly errors: import("@morgana/interfaces").IcmpErrorReport[] = [];
  onDatagram(src: Ipv4Address, dst: Ipv4Address, payload: Uint8Array, header: Uint8Array): void {
    this.got.push({ src, dst, payload: payload.slice(), header: header.slice() });
  }
  onIcmpError(report: import("@morgana/interfaces").IcmpErrorReport): void {
    this.errors.push(report);
  }
}

/** An ICMP error sender that records what it is asked to send. */
export class FakeIcmp implements IcmpErrorSender {
  readonly sent: { kind: IcmpErrorToSend; header: Uint8Array; payload: Uint8Array }[] = [];
  sendError(kind: IcmpErrorToSend, header: Uint8Array, payload: Uint8Array): void {
    this.sent.push({ kind, header: header.slice(), payload: payload.slice() });
  }
}

export interface Rig {
  readonly clock: VirtualClock;
  readonly random: SeededRandom;
  readonly eth: FakeEthernet;
  readonly arp: FakeArp;
  readonly ipv4: Ipv4Layer;
}

/** An IPv4 layer on 10.0.0.2/24 (gateway 10.0.0.1 unless overridden) over fakes. */
export type RigOptions = Partial<Omit<Ipv4LayerOptions, "ethernet" | "arp" | "clock" | "random" | "gateway">> & {
  mtu?: number;
  seed?: number;
  /** Default 10.0.0.1; null for none. */
  gateway?: Ipv4Address | null;
};

export function rig(over: RigOptions = {}): Rig {
  const clock = new VirtualClock();
  const random = new SeededRandom(over.seed ?? 1);
  const eth = new FakeEthernet(over.mtu ?? 1500);
  const arp = new FakeArp();
  const { mtu: _m, seed: _s, gateway, ...rest } = over;
  const gw = gateway === undefined ? ip("10.0.0.1") : gateway;
  const ipv4 = new Ipv4Layer({
    ethernet: eth,
    arp,
    clock,
    random,
    addresses: [parseIpv4Prefix("10.0.0.2/24")],
    ...(gw !== null ? { gateway: gw } : {}),
    ...rest,
  });
  return { clock, random, eth, arp, ipv4 };
}

// ---- an IPv4 packet builder written independently of src/ ------------------------------------

export interface PacketSpec {
  src?: string | number;
  dst?: string | number;
  protocol?: number;
  ttl?: number;
  tos?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  reserved?: boolean;
  /** In bytes. */
  offset?: number;
  options?: Uint8Array;
  /** Overrides: raw total length, version, IHL (in 32-bit words), checksum. */
  totalLength?: number;
  version?: number;
  ihl?: number;
  checksum?: number;
  /** Bytes appended after the datagram (link padding). */
  padding?: number;
}

function addr(a: string | number | undefined, dflt: string): number {
  if (a === undefined) return parseIpv4(dflt);
  return typeof a === "number" ? a >>> 0 : parseIpv4(a);
}

/** The textbook header checksum: 16-bit big-endian words, end-around carry. */
export function textbookChecksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) {
    sum += (bytes[i]! << 8) | (i + 1 < end ? bytes[i + 1]! : 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

/** Builds an IPv4 packet from a 10.0.0.1 peer to us (10.0.0.2) with a DataView. */
export function packet(spec: PacketSpec, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const options = spec.options ?? new Uint8Array(0);
  const hl = 20 + options.length;
  const total = hl + payload.length;
  const buf = new Uint8Array(total + (spec.padding ?? 0));
  const v = new DataView(buf.buffer);
  v.setUint8(0, ((spec.version ?? 4) << 4) | (spec.ihl ?? hl / 4));
  v.setUint8(1, spec.tos ?? 0);
  v.setUint16(2, spec.totalLength ?? total);
  v.setUint16(4, spec.id ?? 0x1234);
  const flags = (spec.reserved === true ? 0x8000 : 0) | (spec.df === true ? 0x4000 : 0) | (spec.mf === true ? 0x2000 : 0);
  v.setUint16(6, flags | ((spec.offset ?? 0) / 8));
  v.setUint8(8, spec.ttl ?? 64);
  v.setUint8(9, spec.protocol ?? 17);
  v.setUint32(12, addr(spec.src, "10.0.0.1"));
  v.setUint32(16, addr(spec.dst, "10.0.0.2"));
  buf.set(options, 20);
  buf.set(payload, hl);
  const ck = spec.checksum ?? textbookChecksum(buf, 0, Math.min(hl, buf.length));
  v.setUint16(10, ck);
  return buf;
}

export function bytesOf(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  new SeededRandom(seed).fill(b);
  return b;
}

/** Reads the header fields of a packet with a DataView (independent of src/). */
export function fieldsOf(p: Uint8Array) {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const ff = v.getUint16(6);
  return {
    version: p[0]! >>> 4,
    hl: (p[0]! & 15) * 4,
    tos: p[1]!,
    total: v.getUint16(2),
    id: v.getUint16(4),
    df: (ff & 0x4000) !== 0,
    mf: (ff & 0x2000) !== 0,
    offset: (ff & 0x1fff) * 8,
    ttl: p[8]!,
    protocol: p[9]!,
    checksum: v.getUint16(10),
    src: v.getUint32(12),
    dst: v.getUint32(16),
    checksumOk: textbookChecksum(p, 0, (p[0]! & 15) * 4) === 0,
  };
}

// ---- reference traces ---------------------------------------------------------------------

export const TRACES_DIR = fileURLToPath(new URL("../../../../shared/traces/", import.meta.url));

export function traceBytes(name: string): Uint8Array {
  return readFileSync(`${TRACES_DIR}${name}.pcap`);
}

export function traceJson(name: string): { _source: { layers: Record<string, Record<string, unknown> | undefined> } }[] {
  return JSON.parse(readFileSync(`${TRACES_DIR}${name}.tshark.json`, "utf8")) as never;
}

// ---- minimal Ethernet and static ARP over a real Netif, for end-to-end tests ---------------

/** Ethernet II over a Netif: just enough for IPv4 tests (no VLAN, no counters beyond frames). */
export class MiniEthernet implements Ethernet {
  readonly handlers = new Map<number, EthernetHandler>();
  private readonly groups = new Set<number>();
  constructor(private readonly netif: import("@morgana/interfaces").Netif) {
    netif.listen((frame) => {
      if (frame.length < 14) return;
      const dst = readMacAt(frame, 0);
      if (dst !== netif.mac && dst !== 0xffff_ffff_ffff && !this.groups.has(dst)) return;
      this.handlers.get((frame[12]! << 8) | frame[13]!)?.(frame.subarray(14), readMacAt(frame, 6) as MacAddress, dst as MacAddress);
    });
  }
  get mac(): MacAddress {
    return this.netif.mac;
  }
  get mtu(): number {
    return this.netif.mtu;
  }
  write(dst: MacAddress, etherType: number, size: number, fill: Fill): boolean {
    if (size > this.mtu) throw new MorganaError("EMSGSIZE");
    return this.netif.transmit(14 + size, (buf) => {
      writeMacAt(buf, 0, dst);
      writeMacAt(buf, 6, this.netif.mac);
      buf[12] = etherType >>> 8;
      buf[13] = etherType & 255;
      const n = fill(buf.subarray(14, 14 + size));
      return n < 0 || n > size || !Number.isInteger(n) ? -1 : 14 + n;
    });
  }
  register(etherType: number, handler: EthernetHandler): void {
    this.handlers.set(etherType, handler);
  }
  unregister(etherType: number): void {
    this.handlers.delete(etherType);
  }
  joinMulticast(group: MacAddress): void {
    this.groups.add(group);
  }
  leaveMulticast(group: MacAddress): void {
    this.groups.delete(group);
  }
  close(): void {}

  stats(): LayerStats {
    return this.netif.stats();
  }
}

function readMacAt(b: Uint8Array, o: number): number {
  return ((b[o]! << 8) | b[o + 1]!) * 0x1_0000_0000 + (((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0);
}

function writeMacAt(b: Uint8Array, o: number, m: number): void {
  const hi = Math.floor(m / 0x1_0000_0000);
  const lo = m >>> 0;
  b[o] = hi >>> 8;
  b[o + 1] = hi & 255;
  b[o + 2] = lo >>> 24;
  b[o + 3] = (lo >>> 16) & 255;
  b[o + 4] = (lo >>> 8) & 255;
  b[o + 5] = lo & 255;
}

/** An ARP with a static table: `send` writes straight to the Ethernet. */
export class StaticArp extends FakeArp {
  constructor(
    private readonly ethernet: Ethernet,
    private readonly table: Map<number, MacAddress>,
  ) {
    super();
  }
  override send(ipAddr: Ipv4Address, size: number, fill: Fill, onError?: (err: Error) => void): boolean {
    const m = this.table.get(ipAddr);
    if (m === undefined) {
      onError?.(new MorganaError("EHOSTUNREACH"));
      return false;
    }
    return this.ethernet.write(m, 0x0800, size, fill);
  }
}
