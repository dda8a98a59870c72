/**
 * IPv4 for one interface, as a host (RFC 791, RFC 1122 §3): receive
 * validation, demultiplexing by protocol, output routing (on-link, gateway,
 * broadcast, multicast, loopback), fragmentation, and bounded reassembly.
 */
import { verifyChecksum } from "@morgana/checksum";
import {
  DropCounters,
  ETHERTYPE_IPV4,
  IPV4_BROADCAST,
  MAC_BROADCAST,
  MorganaError,
  formatIpv4,
  isGroupMac,
  isLoopbackIpv4,
  isMulticastIpv4,
  prefixBroadcast,
  prefixContains,
  prefixNetwork,
  readIpv4,
  type Arp,
  type Clock,
  type Ethernet,
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
  type MacAddress,
  type Random,
  type Timer,
} from "@morgana/interfaces";
import { IPV4_MAX_PAYLOAD, multicastMac, writeIpv4Header20 } from "./codec.js";
import { DEFAULT_REASSEMBLY_LIMITS, Reassembler, type ReassemblyLimits } from "./reassembly.js";

/** The all-hosts group 224.0.0.1, which every multicast-capable host belongs to (RFC 1112). */
export const ALL_HOSTS_GROUP = 0xe0000001 as Ipv4Address;
const LOOPBACK_SOURCE = 0x7f000001 as Ipv4Address;

const DF = 0x4000;
const MF = 0x2000;

export interface Ipv4LayerOptions {
  readonly ethernet: Ethernet;
  readonly arp: Arp;
  readonly clock: Clock;
  readonly random: Random;
  /** The interface's addresses with their prefix lengths; at least one. */
  readonly addresses: readonly Ipv4Prefix[];
  /** The default router; must lie inside one of `addresses`. */
  readonly gateway?: Ipv4Address;
  /** TTL of unicast and broadcast datagrams, default 64. Multicast defaults to 1 (RFC 1112). */
  readonly defaultTtl?: number;
  /** Reassembly limits; each absent field takes its default (see README). */
  readonly reassembly?: Partial<ReassemblyLimits>;
}

/**
 * Reasons counted once per received packet (each packet received is counted in
 * exactly one of these, in `fragmentsReceived`, or as a whole datagram).
 */
export const PACKET_DROP_REASONS = [
  "closed",
  "short",
  "version",
  "header-length",
  "header-truncated",
  "total-length",
  "truncated",
  "checksum",
  "bad-source",
  "not-for-us",
  "not-joined",
  "link-broadcast",
  "fragment-length",
  "fragment-too-big",
  "reassembly-limit",
] as const;

/** Reasons counted once per datagram, after validation (reassembly outcomes, demultiplexing). */
export const DATAGRAM_DROP_REASONS = [
  "fragment-overlap",
  "fragment-inconsistent",
  "fragment-limit",
  "reassembly-evicted",
  "reassembly-timeout",
  "no-protocol",
] as const;

/** How a destination address relates to us. */
const enum Dst {
  Ours,
  Broadcast,
  Multicast,
  NotJoined,
  NotOurs,
}

function checkInt(what: string, v: number, min: number, max: number, syscall?: string): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new MorganaError("EINVAL", `ipv4: ${what} ${String(v)} is not an integer in ${min}..${max}`, syscall !== undefined ? { syscall } : {});
  }
}

/** IPv4 for one Ethernet interface. See the package README for behaviour and limits. */
export class Ipv4Layer implements Ipv4 {
  readonly addresses: readonly Ipv4Prefix[];
  readonly gateway: Ipv4Address | undefined;

  private readonly ethernet: Ethernet;
  private readonly arp: Arp;
  private readonly clock: Clock;
  private readonly defaultTtl: number;
  private readonly ours = new Set<number>();
  /** Addresses that are broadcasts on this interface: 255.255.255.255 and the directed broadcasts. */
  private readonly broadcasts = new Set<number>();
  /** Obsolete all-zeros broadcast forms accepted as destinations (RFC 1122 §3.3.6): 0.0.0.0 and network addresses. */
  private readonly zeroBroadcasts = new Set<number>();
  /** Joined groups with a join count. */
  private readonly groups = new Map<number, number>();
  private readonly handlers = new Map<number, Ipv4ProtocolHandler>();
  private readonly reassembler: Reassembler;
  private readonly loopbackTimers = new Set<Timer>();
  private readonly drops = new DropCounters();
  private sender: IcmpErrorSender | undefined;
  private nextId: number;
  private closed = false;

  private readonly c = {
    rxPackets: 0,
    rxBytes: 0,
    rxDatagrams: 0,
    rxDatagramBytes: 0,
    delivered: 0,
    handlerErrors: 0,
    rxTtlZero: 0,
    txDatagrams: 0,
    txBytes: 0,
    txPackets: 0,
    fragmentedDatagrams: 0,
    fragmentsSent: 0,
    loopback: 0,
    icmpErrorsRequested: 0,
    icmpErrorsDelivered: 0,
  };

  constructor(opts: Ipv4LayerOptions) {
    const { ethernet, arp, clock, random } = opts;
    if (opts.addresses.length === 0) throw new MorganaError("EINVAL", "ipv4: at least one address is needed");
    for (const p of opts.addresses) {
      checkInt("address", p.address, 0, 0xffff_ffff);
      checkInt("prefix length", p.length, 0, 32);
      if (p.address === 0 || p.address === IPV4_BROADCAST || isMulticastIpv4(p.address) || isLoopbackIpv4(p.address)) {
        throw new MorganaError("EINVAL", `ipv4: ${formatIpv4(p.address)} cannot be an interface address`);
      }
    }
    if (opts.gateway !== undefined && !opts.addresses.some((p) => prefixContains(p, opts.gateway!))) {
      throw new MorganaError("EINVAL", `ipv4: gateway ${formatIpv4(opts.gateway)} is not inside any of the interface's prefixes`);
    }
    this.defaultTtl = opts.defaultTtl ?? 64;
    checkInt("default TTL", this.defaultTtl, 1, 255);
    const limits: ReassemblyLimits = { ...DEFAULT_REASSEMBLY_LIMITS, ...opts.reassembly };
    checkInt("reassembly.maxDatagrams", limits.maxDatagrams, 1, 1 << 20);
    checkInt("reassembly.maxBytes", limits.maxBytes, 1, Number.MAX_SAFE_INTEGER);
    checkInt("reassembly.maxFragmentsPerDatagram", limits.maxFragmentsPerDatagram, 1, 8192);
    if (!(limits.timeoutMs > 0) || !Number.isFinite(limits.timeoutMs)) throw new MorganaError("EINVAL", `ipv4: reassembly.timeoutMs ${limits.timeoutMs} must be positive and finite`);

    this.addresses = opts.addresses.map((p) => ({ address: p.address, length: p.length }));
    this.gateway = opts.gateway;
    this.ethernet = ethernet;
    this.arp = arp;
    this.clock = clock;
    this.nextId = random.uint32() & 0xffff;
    this.broadcasts.add(IPV4_BROADCAST);
    this.zeroBroadcasts.add(0);
    for (const p of this.addresses) {
      this.ours.add(p.address);
      // /31 and /32 have no broadcast address (RFC 3021).
      if (p.length <= 30) {
        this.broadcasts.add(prefixBroadcast(p));
        this.zeroBroadcasts.add(prefixNetwork(p));
      }
    }
    this.reassembler = new Reassembler(limits, clock, this.drops, {
      onTimeout: (header, firstPayload, groupDst) => {
        // RFC 1122 §3.3.2: time exceeded (code 1) when fragment zero has arrived.
        if (header !== undefined && firstPayload !== undefined && !groupDst && this.sender !== undefined) {
          this.sendIcmpError("time-exceeded", header, firstPayload);
        }
      },
    });
    this.groups.set(ALL_HOSTS_GROUP, 1);
    ethernet.register(ETHERTYPE_IPV4, (payload, _src, dst) => this.receive(payload, isGroupMac(dst), false));
    ethernet.joinMulticast(multicastMac(ALL_HOSTS_GROUP));
    for (const p of this.addresses) arp.addAddress(p.address);
  }

  // ---- addressing ------------------------------------------------------------------------

  source(dst: Ipv4Address): Ipv4Address {
    if (isLoopbackIpv4(dst)) return LOOPBACK_SOURCE;
    if (this.ours.has(dst)) return dst;
    const onLink = this.longestMatch(dst);
    if (onLink !== undefined) return onLink.address;
    if (this.gateway !== undefined) {
      const viaGw = this.longestMatch(this.gateway);
      if (viaGw !== undefined) return viaGw.address;
    }
    return this.addresses[0]!.address;
  }

  mtu(dst: Ipv4Address): number {
    // Loopback never fragments (Linux's lo has an MTU of 65536).
    if (this.isLocal(dst)) return IPV4_MAX_PAYLOAD;
    return this.ethernet.mtu - 20;
  }

  /** Accept datagrams sent to `group` (and its Ethernet MAC). Joins are counted; 224.0.0.1 is always joined. */
  joinGroup(group: Ipv4Address): void {
    const mac = multicastMac(group);
    const n = this.groups.get(group) ?? 0;
    this.groups.set(group, n + 1);
    if (n === 0) this.ethernet.joinMulticast(mac);
  }

  /** Undoes one {@link joinGroup}. Leaving a group not joined is `EINVAL`. */
  leaveGroup(group: Ipv4Address): void {
    const mac = multicastMac(group);
    const n = this.groups.get(group) ?? 0;
    if (n === 0 || (group === ALL_HOSTS_GROUP && n === 1)) throw new MorganaError("EINVAL", `ipv4: not a member of ${formatIpv4(group)}`);
    if (n === 1) {
      this.groups.delete(group);
      // Another joined group may map to the same MAC (32 groups share each one).
      let shared = false;
      for (const g of this.groups.keys()) if (multicastMac(g as Ipv4Address) === mac) shared = true;
      if (!shared) this.ethernet.leaveMulticast(mac);
    } else {
      this.groups.set(group, n - 1);
    }
  }

  /** The groups joined, 224.0.0.1 included. */
  joinedGroups(): Ipv4Address[] {
    return [...this.groups.keys()] as Ipv4Address[];
  }

  // ---- upper layers ----------------------------------------------------------------------

  register(protocol: number, handler: Ipv4ProtocolHandler): void {
    checkInt("protocol", protocol, 0, 255);
    if (this.handlers.has(protocol)) throw new MorganaError("EADDRINUSE", `ipv4: protocol ${protocol} already has a handler`);
    this.handlers.set(protocol, handler);
  }

  unregister(protocol: number): void {
    this.handlers.delete(protocol);
  }

  attachIcmp(sender: IcmpErrorSender): void {
    this.sender = sender;
  }

  sendIcmpError(kind: IcmpErrorToSend, header: Uint8Array, payload: Uint8Array, details?: IcmpErrorDetails): void {
    const s = this.sender;
    if (s === undefined) {
      this.drops.drop("icmp-no-sender");
      return;
    }
    this.c.icmpErrorsRequested++;
    try {
      s.sendError(kind, header, payload, details);
    } catch {
      this.drops.drop("icmp-sender-error");
    }
  }

  deliverIcmpError(report: IcmpErrorReport): void {
    const h = this.handlers.get(report.protocol);
    if (h?.onIcmpError === undefined) {
      this.drops.drop("icmp-no-handler");
      return;
    }
    this.c.icmpErrorsDelivered++;
    try {
      h.onIcmpError(report);
    } catch {
      this.c.handlerErrors++;
    }
  }

  // ---- receive ---------------------------------------------------------------------------

  private classify(dst: number, local: boolean): Dst {
    if (this.ours.has(dst)) return Dst.Ours;
    if (this.broadcasts.has(dst) || this.zeroBroadcasts.has(dst)) return Dst.Broadcast;
    if (dst >>> 28 === 0xe) return this.groups.has(dst) ? Dst.Multicast : Dst.NotJoined;
    if (local && dst >>> 24 === 127) return Dst.Ours;
    return Dst.NotOurs;
  }

  /**
   * One IPv4 packet from the link (`linkGroup`: sent to a broadcast or
   * multicast MAC) or from loopback. Never throws.
   */
  private receive(p: Uint8Array, linkGroup: boolean, local: boolean): void {
    const c = this.c;
    const drops = this.drops;
    c.rxPackets++;
    c.rxBytes += p.length;
    if (this.closed) return void drops.drop("closed");
    const len = p.length;
    if (len < 20) return void drops.drop("short");
    const vihl = p[0]!;
    if (vihl >>> 4 !== 4) return void drops.drop("version");
    const hl = (vihl & 0x0f) << 2;
    if (hl < 20) return void drops.drop("header-length");
    if (hl > len) return void drops.drop("header-truncated");
    const total = (p[2]! << 8) | p[3]!;
    if (total < hl) return void drops.drop("total-length");
    if (total > len) return void drops.drop("truncated");
    if (!verifyChecksum(p, 0, hl)) return void drops.drop("checksum");
    const src = readIpv4(p, 12);
    const dst = readIpv4(p, 16);
    // RFC 1122 §3.2.1.3: a broadcast or multicast source is invalid; 127/8 must not appear on a wire.
    if (src === IPV4_BROADCAST || src >>> 28 === 0xe || this.broadcasts.has(src) || (!local && src >>> 24 === 127)) {
      return void drops.drop("bad-source");
    }
    const kind = this.classify(dst, local);
    if (kind === Dst.NotOurs) return void drops.drop("not-for-us");
    if (kind === Dst.NotJoined) return void drops.drop("not-joined");
    // RFC 1122 §3.3.6: discard a link-layer broadcast that is not an IP broadcast or multicast.
    if (linkGroup && kind === Dst.Ours) return void drops.drop("link-broadcast");
    // RFC 1122 §3.2.1.7: a host must not discard a datagram for a TTL below 2; TTL 0 is delivered and counted.
    if (p[8] === 0) c.rxTtlZero++;
    const protocol = p[9]!;
    const ff = (p[6]! << 8) | p[7]!;
    const offset = (ff & 0x1fff) << 3;
    const more = (ff & MF) !== 0;
    const groupDst = kind !== Dst.Ours;
    // Options are not interpreted: the header (options included) is skipped whole.
    const header = p.subarray(0, hl);
    const payload = p.subarray(hl, total);
    if (!more && offset === 0) {
      this.dispatch(src, dst, protocol, payload, header, groupDst);
      return;
    }
    const plen = total - hl;
    if (more && (plen === 0 || (plen & 7) !== 0)) return void drops.drop("fragment-length");
    if (offset + plen > IPV4_MAX_PAYLOAD) return void drops.drop("fragment-too-big");
    const whole = this.reassembler.add(src, dst, protocol, (p[4]! << 8) | p[5]!, offset, more, header, payload, groupDst);
    if (whole !== undefined) this.dispatch(src, dst, protocol, whole.payload, whole.header, groupDst);
  }

  private dispatch(src: Ipv4Address, dst: Ipv4Address, protocol: number, payload: Uint8Array, header: Uint8Array, groupDst: boolean): void {
    const c = this.c;
    c.rxDatagrams++;
    c.rxDatagramBytes += payload.length;
    const h = this.handlers.get(protocol);
    if (h === undefined) {
      this.drops.drop("no-protocol");
      // RFC 1122 §3.2.2: no ICMP error about a datagram sent to a broadcast or multicast address.
      if (!groupDst && this.sender !== undefined) this.sendIcmpError("protocol-unreachable", header, payload);
      return;
    }
    c.delivered++;
    try {
      h.onDatagram(src, dst, payload, header);
    } catch {
      c.handlerErrors++;
    }
  }

  // ---- send ------------------------------------------------------------------------------

  private isLocal(dst: number): boolean {
    return this.ours.has(dst) || dst >>> 24 === 127;
  }

  private longestMatch(a: number): Ipv4Prefix | undefined {
    let best: Ipv4Prefix | undefined;
    for (const p of this.addresses) if (prefixContains(p, a as Ipv4Address) && (best === undefined || p.length > best.length)) best = p;
    return best;
  }

  write(dst: Ipv4Address, protocol: number, size: number, fill: Fill, opts: Ipv4WriteOptions = {}): void {
    if (this.closed) throw new MorganaError("ENETDOWN", "ipv4: the layer is closed", { syscall: "send", address: formatIpv4(dst) });
    checkInt("destination", dst, 0, 0xffff_ffff, "send");
    checkInt("protocol", protocol, 0, 255, "send");
    checkInt("size", size, 0, Number.MAX_SAFE_INTEGER, "send");
    if (size > IPV4_MAX_PAYLOAD) {
      throw new MorganaError("EMSGSIZE", `ipv4: ${size} bytes exceed the largest datagram payload, 65515`, { syscall: "send", address: formatIpv4(dst) });
    }
    if (dst === 0) throw new MorganaError("EINVAL", "ipv4: 0.0.0.0 is not a destination", { syscall: "send", address: "0.0.0.0" });
    const multicast = isMulticastIpv4(dst);
    const ttl = opts.ttl ?? (multicast ? 1 : this.defaultTtl);
    checkInt("ttl", ttl, 1, 255, "send"); // RFC 1122 §3.2.1.7: never send TTL 0
    const tos = opts.tos ?? 0;
    checkInt("tos", tos, 0, 255, "send");
    const src = opts.src ?? this.source(dst);
    if (opts.src !== undefined && src !== 0 && !this.ours.has(src) && !(isLoopbackIpv4(src) && isLoopbackIpv4(dst))) {
      throw new MorganaError("EADDRNOTAVAIL", `ipv4: ${formatIpv4(src)} is not an address of this interface`, { syscall: "send", address: formatIpv4(src) });
    }
    const df = opts.dontFragment === true;
    const id = this.nextId;
    this.nextId = (id + 1) & 0xffff;

    if (this.isLocal(dst)) {
      this.loopback(dst, protocol, size, fill, tos, df, ttl, src, id);
      return;
    }

    // Route: where the frames go.
    let mac: MacAddress | undefined;
    let nextHop: Ipv4Address | undefined;
    if (this.broadcasts.has(dst)) mac = MAC_BROADCAST;
    else if (multicast) mac = multicastMac(dst);
    else if (this.longestMatch(dst) !== undefined) nextHop = dst;
    else if (this.gateway !== undefined) nextHop = this.gateway;
    else throw new MorganaError("ENETUNREACH", `ipv4: no route to ${formatIpv4(dst)}`, { syscall: "send", address: formatIpv4(dst) });

    const mtu = this.ethernet.mtu;
    const onError = once(opts.onError);
    const send =
      mac !== undefined
        ? (n: number, f: Fill) => this.ethernet.write(mac, ETHERTYPE_IPV4, n, f)
        : (n: number, f: Fill) => this.arp.send(nextHop!, n, f, onError);

    if (size + 20 <= mtu) {
      let used = -1;
      let fillFailed = false;
      const frameFill: Fill = (buf) => {
        let n: number;
        try {
          n = fill(buf.subarray(20, 20 + size));
        } catch {
          fillFailed = true;
          this.drops.drop("fill-error");
          return -1;
        }
        if (!Number.isInteger(n) || n < 0 || n > size) {
          fillFailed = true;
          this.drops.drop("fill-error");
          return -1;
        }
        writeIpv4Header20(buf, 0, tos, 20 + n, id, df ? DF : 0, ttl, protocol, src, dst);
        used = 20 + n;
        return used;
      };
      if (send(20 + size, frameFill)) {
        this.countSent(used);
        this.c.txDatagrams++;
      } else if (!fillFailed) {
        this.refused(onError, dst);
      }
      return;
    }
    if (df) {
      throw new MorganaError("EMSGSIZE", `ipv4: ${size} bytes exceed the MTU payload ${mtu - 20} and DF is set`, { syscall: "send", address: formatIpv4(dst) });
    }
    const per = ((mtu - 20) >>> 3) << 3;
    if (per <= 0) throw new MorganaError("EMSGSIZE", `ipv4: the link MTU ${mtu} is too small to fragment`, { syscall: "send", address: formatIpv4(dst) });

    // Materialise the payload once, then cut it into fragments.
    const data = new Uint8Array(size);
    let n: number;
    try {
      n = fill(data);
    } catch {
      this.drops.drop("fill-error");
      return;
    }
    if (!Number.isInteger(n) || n < 0 || n > size) {
      this.drops.drop("fill-error");
      return;
    }
    const step = n + 20 <= mtu ? n : per;
    let count = 0;
    for (let off = 0; off === 0 || off < n; off += step) {
      const len = Math.min(step, n - off);
      const last = off + len >= n;
      const ff = (last ? 0 : MF) | (off >>> 3);
      const ok = send(20 + len, (buf) => {
        writeIpv4Header20(buf, 0, tos, 20 + len, id, ff, ttl, protocol, src, dst);
        buf.set(data.subarray(off, off + len), 20);
        return 20 + len;
      });
      if (!ok) {
        this.refused(onError, dst);
        break;
      }
      this.countSent(20 + len);
      count++;
      if (last) break;
    }
    if (count > 0) this.c.txDatagrams++;
    if (count > 1 || step !== n) {
      this.c.fragmentedDatagrams++;
      this.c.fragmentsSent += count;
    }
  }

  private countSent(bytes: number): void {
    this.c.txPackets++;
    this.c.txBytes += bytes;
  }

  /** The lower layer refused a frame we filled: counted, and reported after `write` returns. */
  private refused(onError: ((err: Error) => void) | undefined, dst: Ipv4Address): void {
    this.drops.drop("tx-refused");
    if (onError === undefined) return;
    const err = new MorganaError("ENOBUFS", "ipv4: the link refused the datagram", { syscall: "send", address: formatIpv4(dst) });
    this.later(() => onError(err));
  }

  private later(fn: () => void): void {
    const t = this.clock.setTimer(0, () => {
      this.loopbackTimers.delete(t);
      fn();
    });
    this.loopbackTimers.add(t);
  }

  private loopback(dst: Ipv4Address, protocol: number, size: number, fill: Fill, tos: number, df: boolean, ttl: number, src: Ipv4Address, id: number): void {
    const buf = new Uint8Array(20 + size);
    let n: number;
    try {
      n = fill(buf.subarray(20));
    } catch {
      this.drops.drop("fill-error");
      return;
    }
    if (!Number.isInteger(n) || n < 0 || n > size) {
      this.drops.drop("fill-error");
      return;
    }
    writeIpv4Header20(buf, 0, tos, 20 + n, id, df ? DF : 0, ttl, protocol, src, dst);
    this.c.txDatagrams++;
    this.c.loopback++;
    this.countSent(20 + n);
    const packet = buf.subarray(0, 20 + n);
    // Never synchronously inside write: the receiver may call write itself.
    this.later(() => this.receive(packet, false, true));
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /**
   * Unregisters from Ethernet, removes the addresses from ARP, leaves the
   * multicast groups, cancels every timer and frees reassembly state.
   * Idempotent. Afterwards `write` throws `ENETDOWN`.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reassembler.clear();
    for (const t of this.loopbackTimers) t.cancel();
    this.loopbackTimers.clear();
    this.ethernet.unregister(ETHERTYPE_IPV4);
    const macs = new Set<number>();
    for (const g of this.groups.keys()) macs.add(multicastMac(g as Ipv4Address));
    for (const m of macs) this.ethernet.leaveMulticast(m as MacAddress);
    this.groups.clear();
    for (const p of this.addresses) this.arp.removeAddress(p.address);
  }

  stats(): LayerStats {
    const r = this.reassembler;
    return {
      counters: {
        ...this.c,
        fragmentsReceived: r.counters.fragmentsReceived,
        fragmentDuplicates: r.counters.fragmentDuplicates,
        reassembled: r.counters.reassembled,
        reassemblyDatagrams: r.datagrams,
        reassemblyFragments: r.heldFragments,
        reassemblyBytes: r.heldBytes,
        reassemblyPeakBytes: r.peakBytes,
      },
      drops: this.drops.snapshot(),
    };
  }
}

function once(f: ((err: Error) => void) | undefined): ((err: Error) => void) | undefined {
  if (f === undefined) return undefined;
  let called = false;
  return (err) => {
    if (called) return;
    called = true;
    f(err);
  };
}
