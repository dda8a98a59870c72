/**
 * A small in-memory {@link Ipv4} for testing upper layers without
 * @morgana/ipv4: it records every write, lets a test inject datagrams, and
 * connects to other fakes so two hosts can talk. It honours the Ipv4
 * contract where the upper layers can see it:
 *
 * - `write(dst, protocol, size, fill, opts)` validates (EINVAL for a bad
 *   protocol or size, EMSGSIZE above 65515 bytes or the MTU with DF,
 *   ENETUNREACH without a route), allocates ONE buffer for header + payload,
 *   calls `fill` synchronously with a view of exactly `size` bytes, keeps the
 *   first `n` bytes `fill` returned (a throw or a bad `n` cancels the datagram
 *   and counts a drop), then writes a checksummed 20-byte IPv4 header.
 *   `opts.src` must be one of our addresses (EADDRNOTAVAIL), 0.0.0.0 as a
 *   destination is EINVAL, and the default TTL is 64 (1 for multicast).
 * - Delivery is never synchronous: datagrams to one of our addresses or to
 *   127.0.0.0/8 loop back through a clock timer (0 ms), as the real layer does;
 *   to a connected fake through a clock timer (`delayMs`, default 0). A
 *   destination listed in `unresolvable` reports `EHOSTUNREACH` through
 *   `opts.onError` after `resolveFailMs`, as ARP does when resolution fails.
 * - Receive: a broadcast or multicast source (or 127/8 from the wire) is
 *   dropped before any handler, as the real layer does; only datagrams
 *   addressed to one of our addresses or a broadcast or multicast address
 *   reach the handler registered for their protocol (`onDatagram(src, dst,
 *   payload, header)`, TTL at header byte 8). No handler: a counted drop and,
 *   unless sent to a broadcast/multicast address, protocol unreachable through
 *   the attached ICMP layer.
 * - `register` throws EADDRINUSE for a taken protocol; `deliverIcmpError`
 *   routes by `report.protocol`; `attachIcmp`/`sendIcmpError` forward to the
 *   attached ICMP layer.
 */
import { internetChecksum } from "@morgana/checksum";
import {
  DropCounters,
  MorganaError,
  isLoopbackIpv4,
  isMulticastIpv4,
  parseIpv4,
  parseIpv4Prefix,
  prefixBroadcast,
  prefixNetwork,
  prefixContains,
  readIpv4,
  writeIpv4,
  type Clock,
  type Fill,
  type IcmpErrorReport,
  type IcmpErrorSender,
  type IcmpErrorDetails,
  type IcmpErrorToSend,
  type Ipv4,
  type Ipv4Address,
  type Ipv4Prefix,
  type Ipv4ProtocolHandler,
  type Ipv4WriteOptions,
  type LayerStats,
} from "@morgana/interfaces";

export const ip = (text: string): Ipv4Address => parseIpv4(text);

export interface FakeIpv4Options {
  readonly clock: Clock;
  /** Interface addresses with prefix length, e.g. "10.77.0.1/24". */
  readonly addresses: readonly string[];
  readonly gateway?: string;
  /** The link MTU (IP header included); `mtu(dst)` is this minus 20. Default 1500. */
  readonly linkMtu?: number;
  /** Largest `size` accepted by write; default 65515 (the contract). */
  readonly maxPayload?: number;
}

/** One datagram passed to `write`, as built. */
export interface Written {
  readonly dst: Ipv4Address;
  readonly src: Ipv4Address;
  readonly protocol: number;
  readonly ttl: number;
  readonly tos: number;
  readonly dontFragment: boolean;
  /** The `size` asked for (= the length of the buffer `fill` got). */
  readonly size: number;
  /** The whole datagram: header + the bytes fill used. */
  readonly datagram: Uint8Array;
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
  readonly opts: Ipv4WriteOptions | undefined;
}

export interface InjectOptions {
  readonly src: Ipv4Address | string;
  readonly dst: Ipv4Address | string;
  readonly protocol: number;
  readonly payload: Uint8Array;
  readonly ttl?: number;
  readonly tos?: number;
  /** Flags (3 bits: reserved, DF, MF) and fragment offset (8-byte units). */
  readonly flags?: number;
  readonly fragmentOffset?: number;
  /** IP options (a multiple of 4 bytes). */
  readonly options?: Uint8Array;
  readonly id?: number;
}

interface Link {
  readonly peer: FakeIpv4;
  readonly delayMs: number;
}

const toAddr = (a: Ipv4Address | string): Ipv4Address => (typeof a === "string" ? parseIpv4(a) : a);

/** Builds an IPv4 datagram (checksummed header + payload). */
export function buildDatagram(o: InjectOptions): Uint8Array {
  const opt = o.options ?? new Uint8Array(0);
  const hl = 20 + opt.length;
  const d = new Uint8Array(hl + o.payload.length);
  writeHeader(d, {
    hl,
    tos: o.tos ?? 0,
    total: d.length,
    id: o.id ?? 0,
    flags: o.flags ?? 0,
    fragmentOffset: o.fragmentOffset ?? 0,
    ttl: o.ttl ?? 64,
    protocol: o.protocol,
    src: toAddr(o.src),
    dst: toAddr(o.dst),
  });
  d.set(opt, 20);
  d.set(o.payload, hl);
  const sum = internetChecksum(d, 0, hl);
  d[10] = sum >>> 8;
  d[11] = sum;
  return d;
}

function writeHeader(
  d: Uint8Array,
  h: { hl: number; tos: number; total: number; id: number; flags: number; fragmentOffset: number; ttl: number; protocol: number; src: Ipv4Address; dst: Ipv4Address },
): void {
  d[0] = 0x40 | (h.hl >>> 2);
  d[1] = h.tos;
  d[2] = h.total >>> 8;
  d[3] = h.total;
  d[4] = h.id >>> 8;
  d[5] = h.id;
  d[6] = (h.flags << 5) | (h.fragmentOffset >>> 8);
  d[7] = h.fragmentOffset;
  d[8] = h.ttl;
  d[9] = h.protocol;
  d[10] = 0;
  d[11] = 0;
  writeIpv4(d, 12, h.src);
  writeIpv4(d, 16, h.dst);
}

export class FakeIpv4 implements Ipv4 {
  readonly addresses: readonly Ipv4Prefix[];
  readonly gateway: Ipv4Address | undefined;
  readonly linkMtu: number;
  readonly maxPayload: number;
  /** Every datagram written, in order. */
  readonly written: Written[] = [];
  /** Reports passed to deliverIcmpError. */
  readonly deliveredErrors: IcmpErrorReport[] = [];
  /** Calls of sendIcmpError. */
  readonly icmpErrorRequests: { kind: IcmpErrorToSend; header: Uint8Array; payload: Uint8Array }[] = [];
  /** Destinations without a route: write throws ENETUNREACH. */
  readonly unroutable = new Set<number>();
  /** Destinations whose neighbour resolution fails: onError(EHOSTUNREACH) after resolveFailMs. */
  readonly unresolvable = new Set<number>();
  resolveFailMs = 3000;
  /** Datagrams that reached a handler. */
  delivered = 0;

  private readonly clock: Clock;
  private readonly handlers = new Map<number, Ipv4ProtocolHandler>();
  private icmp: IcmpErrorSender | undefined;
  private readonly links: Link[] = [];
  private readonly drops = new DropCounters();
  private nextId = 1;
  private closed = false;

  constructor(opts: FakeIpv4Options) {
    this.clock = opts.clock;
    this.addresses = opts.addresses.map((a) => parseIpv4Prefix(a));
    this.gateway = opts.gateway !== undefined ? parseIpv4(opts.gateway) : undefined;
    this.linkMtu = opts.linkMtu ?? 1500;
    this.maxPayload = opts.maxPayload ?? 65515;
  }

  /** The attached ICMP layer, if any. */
  get attachedIcmp(): IcmpErrorSender | undefined {
    return this.icmp;
  }

  handler(protocol: number): Ipv4ProtocolHandler | undefined {
    return this.handlers.get(protocol);
  }

  source(dst: Ipv4Address): Ipv4Address {
    if (isLoopbackIpv4(dst)) return ip("127.0.0.1");
    if (this.isOurs(dst)) return dst;
    const p = this.addresses.find((x) => prefixContains(x, dst)) ?? this.addresses[0];
    if (p === undefined) throw new MorganaError("EADDRNOTAVAIL", "fake ipv4: no address");
    return p.address;
  }

  mtu(dst: Ipv4Address): number {
    return this.isLocal(dst) ? 65515 : this.linkMtu - 20;
  }

  private isOurs(a: Ipv4Address): boolean {
    return this.addresses.some((p) => p.address === a);
  }

  private isLocal(a: Ipv4Address): boolean {
    return isLoopbackIpv4(a) || this.isOurs(a);
  }

  private routable(dst: Ipv4Address): boolean {
    if (this.unroutable.has(dst)) return false;
    if (dst === 0xffff_ffff || isMulticastIpv4(dst)) return true;
    return this.gateway !== undefined || this.addresses.some((p) => prefixContains(p, dst));
  }

  write(dst: Ipv4Address, protocol: number, size: number, fill: Fill, opts?: Ipv4WriteOptions): void {
    if (this.closed) throw new MorganaError("ENETDOWN", "ipv4: layer closed", { syscall: "send" });
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) throw new MorganaError("EINVAL", `fake ipv4: bad protocol ${protocol}`);
    if (!Number.isInteger(size) || size < 0) throw new MorganaError("EINVAL", `fake ipv4: bad size ${size}`);
    if (size > this.maxPayload) throw new MorganaError("EMSGSIZE", `fake ipv4: ${size} bytes`, { syscall: "write" });
    if (dst === 0) throw new MorganaError("EINVAL", "fake ipv4: 0.0.0.0 is not a destination", { syscall: "send" });
    const src = opts?.src ?? this.source(dst);
    if (opts?.src !== undefined && src !== 0 && !this.isOurs(src) && !(isLoopbackIpv4(src) && isLoopbackIpv4(dst))) {
      throw new MorganaError("EADDRNOTAVAIL", "fake ipv4: not our address", { syscall: "send" });
    }
    const local = this.isLocal(dst);
    if (!local && !this.routable(dst)) throw new MorganaError("ENETUNREACH", undefined, { syscall: "write" });
    const df = opts?.dontFragment ?? false;
    if (df && size > this.mtu(dst)) throw new MorganaError("EMSGSIZE", `fake ipv4: ${size} bytes above the MTU with DF`, { syscall: "write" });
    const frame = new Uint8Array(20 + size);
    let n: number;
    try {
      n = fill(frame.subarray(20, 20 + size));
    } catch {
      this.drops.drop("fill-error");
      return;
    }
    if (!Number.isInteger(n) || n < 0 || n > size) {
      this.drops.drop("fill-length");
      return;
    }
    const ttl = opts?.ttl ?? (isMulticastIpv4(dst) ? 1 : 64);
    const tos = opts?.tos ?? 0;
    writeHeader(frame, { hl: 20, tos, total: 20 + n, id: this.nextId++ & 0xffff, flags: df ? 2 : 0, fragmentOffset: 0, ttl, protocol, src, dst });
    const sum = internetChecksum(frame, 0, 20);
    frame[10] = sum >>> 8;
    frame[11] = sum;
    const datagram = frame.subarray(0, 20 + n);
    this.written.push({
      dst,
      src,
      protocol,
      ttl,
      tos,
      dontFragment: df,
      size,
      datagram,
      header: datagram.subarray(0, 20),
      payload: datagram.subarray(20),
      opts,
    });
    if (local) {
      this.clock.setTimer(0, () => this.receive(datagram, true));
      return;
    }
    if (this.unresolvable.has(dst)) {
      const onError = opts?.onError;
      this.clock.setTimer(this.resolveFailMs, () => onError?.(new MorganaError("EHOSTUNREACH", undefined, { syscall: "arp" })));
      return;
    }
    for (const l of this.links) this.clock.setTimer(l.delayMs, () => l.peer.receive(datagram));
  }

  private isDirectedBroadcast(a: Ipv4Address, orNetwork = false): boolean {
    return this.addresses.some((p) => p.length < 31 && (prefixBroadcast(p) === a || (orNetwork && prefixNetwork(p) === a)));
  }

  /** Is `dst` ours: one of our addresses, a broadcast (limited, directed, all-zeros) or multicast. */
  acceptsDestination(dst: Ipv4Address): boolean {
    if (dst === 0xffff_ffff || dst === 0 || isMulticastIpv4(dst)) return true;
    return this.isOurs(dst) || this.isDirectedBroadcast(dst, true);
  }

  /** Receives a whole IPv4 datagram, from the link or (`local`) from loopback. */
  receive(datagram: Uint8Array, local = false): void {
    if (datagram.length < 20) return void this.drops.drop("short");
    const hl = (datagram[0]! & 0x0f) * 4;
    const total = (datagram[2]! << 8) | datagram[3]!;
    if (datagram[0]! >>> 4 !== 4 || hl < 20 || total < hl || total > datagram.length) return void this.drops.drop("bad-header");
    const dst = readIpv4(datagram, 16);
    const src = readIpv4(datagram, 12);
    if (src === 0xffff_ffff || isMulticastIpv4(src) || this.isDirectedBroadcast(src) || (!local && isLoopbackIpv4(src))) return void this.drops.drop("bad-source");
    if (!this.acceptsDestination(dst) && !(local && isLoopbackIpv4(dst))) return void this.drops.drop("not-for-us");
    const protocol = datagram[9]!;
    const header = datagram.subarray(0, hl);
    const payload = datagram.subarray(hl, total);
    const h = this.handlers.get(protocol);
    if (h === undefined) {
      this.drops.drop("no-handler");
      if (this.isOurs(dst) || isLoopbackIpv4(dst)) this.icmp?.sendError("protocol-unreachable", header, payload);
      return;
    }
    this.delivered++;
    h.onDatagram(src, dst, payload, header);
  }

  /** Builds a datagram and receives it at once (a test's injection point). */
  inject(o: InjectOptions): void {
    this.receive(buildDatagram(o));
  }

  register(protocol: number, handler: Ipv4ProtocolHandler): void {
    if (this.handlers.has(protocol)) throw new MorganaError("EADDRINUSE", `fake ipv4: protocol ${protocol} is taken`);
    this.handlers.set(protocol, handler);
  }

  unregister(protocol: number): void {
    this.handlers.delete(protocol);
  }

  deliverIcmpError(report: IcmpErrorReport): void {
    this.deliveredErrors.push(report);
    const h = this.handlers.get(report.protocol);
    if (h?.onIcmpError === undefined) return void this.drops.drop("icmp-error-no-handler");
    h.onIcmpError(report);
  }

  attachIcmp(sender: IcmpErrorSender): void {
    this.icmp = sender;
  }

  sendIcmpError(kind: IcmpErrorToSend, header: Uint8Array, payload: Uint8Array, details?: IcmpErrorDetails): void {
    this.icmpErrorRequests.push({ kind, header, payload });
    this.icmp?.sendError(kind, header, payload, details);
  }

  /** Later writes throw ENETDOWN, as the real layer's do. */
  close(): void {
    this.closed = true;
  }

  stats(): LayerStats {
    return { counters: { written: this.written.length, delivered: this.delivered }, drops: this.drops.snapshot() };
  }

  /** Connects this fake to `peer` in both directions. */
  connect(peer: FakeIpv4, delayMs = 0): void {
    this.links.push({ peer, delayMs });
    peer.links.push({ peer: this, delayMs });
  }
}

/** Two connected fakes: 10.77.0.1/24 and 10.77.0.2/24. */
export function twoHosts(clock: Clock, delayMs = 0): { a: FakeIpv4; b: FakeIpv4 } {
  const a = new FakeIpv4({ clock, addresses: ["10.77.0.1/24"] });
  const b = new FakeIpv4({ clock, addresses: ["10.77.0.2/24"] });
  a.connect(b, delayMs);
  return { a, b };
}

/** Hex of bytes, for readable comparisons. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** An independent, textbook one's complement checksum (RFC 1071 byte pairs). */
export function textbookChecksum(parts: readonly Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) {
      sum += (p[i]! << 8) + (i + 1 < p.length ? p[i + 1]! : 0);
      sum = (sum & 0xffff) + (sum >>> 16);
    }
  }
  return ~sum & 0xffff;
}
