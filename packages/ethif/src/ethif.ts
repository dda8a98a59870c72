/**
 * Ethernet II over a Netif: EtherType demultiplexing, destination filtering
 * (our MAC, broadcast, joined multicast groups, or everything when
 * promiscuous), and optional membership of one 802.1Q VLAN.
 */
import {
  DropCounters,
  ETHERNET_HEADER_LENGTH,
  ETHERTYPE_VLAN,
  MAC_BROADCAST,
  MorganaError,
  formatMac,
  isGroupMac,
  readMac,
  writeMac,
  type Ethernet,
  type EthernetHandler,
  type Fill,
  type LayerStats,
  type MacAddress,
  type Netif,
} from "@morgana/interfaces";
import { MAX_VLAN_ID, MIN_ETHERTYPE, TAGGED_HEADER_LENGTH } from "./codec.js";

/** Highest VLAN id value a tag can carry (4095 is reserved, still counted when seen). */
const VID_MASK = 0x0fff;

export interface EthifOptions {
  /** The device. The Ethif installs itself as its receive handler (`netif.listen`). */
  readonly netif: Netif;
  /**
   * Make this interface a member of one 802.1Q VLAN (1..4094): outgoing frames
   * are tagged with it, incoming frames must carry it (the tag is stripped),
   * other VLANs are dropped (`vlan`) and untagged frames are dropped
   * (`untagged`) unless {@link acceptUntagged}. Default: none (untagged).
   */
  readonly vlan?: number;
  /** The priority code point (0..7) written in outgoing tags. Default 0. Only with `vlan`. */
  readonly vlanPriority?: number;
  /** With `vlan`: also accept untagged (and priority-tagged, VID 0) frames. Default false. */
  readonly acceptUntagged?: boolean;
  /** Deliver frames whatever their destination MAC. Default false. */
  readonly promiscuous?: boolean;
  /**
   * Told about every exception a registered handler throws (after it was
   * counted as `handler-error`), for logging. Default: none (swallowed).
   */
  readonly onHandlerError?: (error: unknown, etherType: number) => void;
}

function checkEtherType(where: string, etherType: unknown): number {
  if (typeof etherType !== "number" || !Number.isInteger(etherType) || etherType < MIN_ETHERTYPE || etherType > 0xffff || etherType === ETHERTYPE_VLAN) {
    throw new MorganaError("EINVAL", `${where}: EtherType must be an integer in 0x0600..0xffff other than 0x8100, got ${String(etherType)}`);
  }
  return etherType;
}

function checkMac(where: string, m: unknown): MacAddress {
  if (typeof m !== "number" || !Number.isInteger(m) || m < 0 || m > 0xffff_ffff_ffff) {
    throw new MorganaError("EINVAL", `${where}: not a MAC address: ${String(m)}`);
  }
  return m as MacAddress;
}

/**
 * Ethernet II over a {@link Netif}; implements {@link Ethernet}.
 *
 * Receive, in this order (each refusal is a drop with the given reason):
 * 1. `closed` after {@link close};
 * 2. `short`: shorter than 14 bytes (18 when the TPID says 802.1Q);
 * 3. the VLAN id of a tagged frame is recorded ({@link vlanIdsSeen});
 * 4. `not-for-us`: destination is not our MAC, broadcast, or a joined group (unless promiscuous);
 * 5. `vlan`: tagged with a VLAN id other than ours (or a second tag); `untagged`:
 *    untagged while a VLAN is configured;
 * 6. `llc`: an IEEE 802.3 length field (< 0x0600) instead of an EtherType;
 * 7. `no-handler`: nobody registered the EtherType;
 * 8. `handler-error`: the handler threw (the exception is swallowed).
 *
 * Every received frame is either delivered (`rxDelivered`) or dropped
 * (`rxDropped`): `rxFrames = rxDelivered + rxDropped`.
 */
export class Ethif implements Ethernet {
  readonly mac: MacAddress;
  readonly mtu: number;
  /** The configured VLAN id, or undefined. */
  readonly vlan: number | undefined;
  readonly promiscuous: boolean;
  private readonly netif: Netif;
  private readonly acceptUntagged: boolean;
  private readonly onHandlerError: ((error: unknown, etherType: number) => void) | undefined;
  private readonly tci: number;
  private readonly handlers = new Map<number, EthernetHandler>();
  /** Multicast group → number of joins. */
  private readonly groups = new Map<number, number>();
  /** VLAN id → tagged frames seen (at most 4096 keys). */
  private readonly vlanFrames = new Map<number, number>();
  private readonly drops = new DropCounters();
  private closed = false;
  private rxFrames = 0;
  private rxBytes = 0;
  private rxDelivered = 0;
  private rxDropped = 0;
  private txFrames = 0;
  private txBytes = 0;
  private txDropped = 0;

  constructor(opts: EthifOptions) {
    if (opts === null || typeof opts !== "object") throw new MorganaError("EINVAL", "Ethif: options object required");
    const netif = opts.netif;
    if (netif === null || typeof netif !== "object" || typeof netif.transmit !== "function" || typeof netif.listen !== "function") {
      throw new MorganaError("EINVAL", "Ethif: options.netif must be a Netif");
    }
    if (opts.vlan !== undefined && (!Number.isInteger(opts.vlan) || opts.vlan < 1 || opts.vlan > MAX_VLAN_ID)) {
      throw new MorganaError("EINVAL", `Ethif: vlan must be an integer in 1..${MAX_VLAN_ID}, got ${String(opts.vlan)}`);
    }
    const pcp = opts.vlanPriority ?? 0;
    if (!Number.isInteger(pcp) || pcp < 0 || pcp > 7) throw new MorganaError("EINVAL", `Ethif: vlanPriority must be an integer in 0..7, got ${String(pcp)}`);
    this.netif = netif;
    this.mac = netif.mac;
    this.mtu = netif.mtu;
    this.vlan = opts.vlan;
    this.tci = opts.vlan === undefined ? 0 : (pcp << 13) | opts.vlan;
    this.acceptUntagged = opts.acceptUntagged ?? false;
    this.promiscuous = opts.promiscuous ?? false;
    this.onHandlerError = opts.onHandlerError;
    netif.listen(this.receive);
  }

  /**
   * Sends one frame of `14 + n` bytes (`18 + n` with a VLAN), where `n` is
   * what `fill` returns: one buffer from `netif.transmit`, the header written
   * in place, `fill` given the `size`-byte payload area. Returns the device's
   * answer. Throws `EMSGSIZE` when `size > mtu`, `EINVAL` for a bad size,
   * EtherType (0x0600..0xffff, not 0x8100) or MAC.
   */
  write(dst: MacAddress, etherType: number, size: number, fill: Fill): boolean {
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) {
      throw new MorganaError("EINVAL", `Ethif.write: size must be a non-negative integer, got ${String(size)}`);
    }
    if (size > this.mtu) throw new MorganaError("EMSGSIZE", `Ethif.write: ${size} bytes exceed the MTU of ${this.mtu}`);
    checkMac("Ethif.write", dst);
    checkEtherType("Ethif.write", etherType);
    if (typeof fill !== "function") throw new MorganaError("EINVAL", "Ethif.write: fill must be a function");
    if (this.closed) return this.txDrop("closed");
    const tagged = this.vlan !== undefined;
    const hlen = tagged ? TAGGED_HEADER_LENGTH : ETHERNET_HEADER_LENGTH;
    let sent = -1;
    const ok = this.netif.transmit(hlen + size, (buf) => {
      writeMac(buf, 0, dst);
      writeMac(buf, 6, this.mac);
      if (tagged) {
        buf[12] = ETHERTYPE_VLAN >>> 8;
        buf[13] = ETHERTYPE_VLAN & 0xff;
        buf[14] = this.tci >>> 8;
        buf[15] = this.tci & 0xff;
      }
      buf[hlen - 2] = etherType >>> 8;
      buf[hlen - 1] = etherType & 0xff;
      const n = fill(buf.subarray(hlen, hlen + size));
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > size) {
        this.drops.drop("fill-length");
        this.txDropped++;
        sent = -2;
        return -1; // out of range: the device cancels the frame
      }
      sent = hlen + n;
      return sent;
    });
    if (ok && sent >= 0) {
      this.txFrames++;
      this.txBytes += sent;
      return true;
    }
    if (sent === -2) return false; // counted above
    return this.txDrop("tx-refused");
  }

  /** Registers the handler for an EtherType; `EADDRINUSE` if it has one, `EINVAL` for a bad type. */
  register(etherType: number, handler: EthernetHandler): void {
    checkEtherType("Ethif.register", etherType);
    if (typeof handler !== "function") throw new MorganaError("EINVAL", "Ethif.register: handler must be a function");
    if (this.handlers.has(etherType)) {
      throw new MorganaError("EADDRINUSE", `Ethif.register: EtherType 0x${etherType.toString(16).padStart(4, "0")} already has a handler`);
    }
    this.handlers.set(etherType, handler);
  }

  /** Removes the handler of an EtherType (no-op when there is none). */
  unregister(etherType: number): void {
    this.handlers.delete(etherType);
  }

  /**
   * Accepts frames sent to `group`, a multicast MAC (group bit set, not
   * broadcast, which is always accepted); `EINVAL` otherwise. Joins are
   * counted: a group joined twice needs two leaves.
   */
  joinMulticast(group: MacAddress): void {
    checkMac("Ethif.joinMulticast", group);
    if (!isGroupMac(group) || group === MAC_BROADCAST) {
      throw new MorganaError("EINVAL", `Ethif.joinMulticast: ${formatMac(group)} is not a multicast MAC`);
    }
    this.groups.set(group, (this.groups.get(group) ?? 0) + 1);
  }

  leaveMulticast(group: MacAddress): void {
    const n = this.groups.get(group);
    if (n === undefined) return;
    if (n <= 1) this.groups.delete(group);
    else this.groups.set(group, n - 1);
  }

  /** The multicast groups currently joined. */
  multicastGroups(): MacAddress[] {
    return [...this.groups.keys()] as MacAddress[];
  }

  /** The VLAN ids seen in tagged frames since creation, ascending (whether accepted or dropped). */
  vlanIdsSeen(): number[] {
    return [...this.vlanFrames.keys()].sort((a, b) => a - b);
  }

  /** Tagged frames received with `id`. */
  vlanFrameCount(id: number): number {
    return this.vlanFrames.get(id) ?? 0;
  }

  /**
   * Counters: `rxFrames`, `rxBytes`, `rxDelivered`, `rxDropped`, `txFrames`,
   * `txBytes`, `txDropped`, `handlers`, `multicastGroups`, and `vlan.<id>`
   * (tagged frames seen per VLAN id). Drops by reason.
   */
  stats(): LayerStats {
    const counters: Record<string, number> = {
      rxFrames: this.rxFrames,
      rxBytes: this.rxBytes,
      rxDelivered: this.rxDelivered,
      rxDropped: this.rxDropped,
      txFrames: this.txFrames,
      txBytes: this.txBytes,
      txDropped: this.txDropped,
      handlers: this.handlers.size,
      multicastGroups: this.groups.size,
    };
    for (const id of this.vlanIdsSeen()) counters[`vlan.${id}`] = this.vlanFrames.get(id)!;
    return { counters, drops: this.drops.snapshot() };
  }

  /**
   * Stops the interface: handlers are forgotten, later frames are dropped
   * (`closed`) and `write` returns false. The netif is not closed (its owner
   * closes it). Idempotent.
   */
  close(): void {
    this.closed = true;
    this.handlers.clear();
    this.groups.clear();
  }

  private txDrop(reason: string): false {
    this.txDropped++;
    return this.drops.drop(reason);
  }

  private rxDrop(reason: string): void {
    this.rxDropped++;
    this.drops.drop(reason);
  }

  private readonly receive = (frame: Uint8Array): void => {
    this.rxFrames++;
    this.rxBytes += frame.length;
    if (this.closed) return this.rxDrop("closed");
    const len = frame.length;
    if (len < ETHERNET_HEADER_LENGTH) return this.rxDrop("short");
    let type = (frame[12]! << 8) | frame[13]!;
    let hlen = ETHERNET_HEADER_LENGTH;
    let vid = -1;
    if (type === ETHERTYPE_VLAN) {
      if (len < TAGGED_HEADER_LENGTH) return this.rxDrop("short");
      vid = ((frame[14]! << 8) | frame[15]!) & VID_MASK;
      this.vlanFrames.set(vid, (this.vlanFrames.get(vid) ?? 0) + 1);
      type = (frame[16]! << 8) | frame[17]!;
      hlen = TAGGED_HEADER_LENGTH;
    }
    const dst = readMac(frame, 0);
    if (dst !== this.mac && !this.promiscuous && dst !== MAC_BROADCAST && !(isGroupMac(dst) && this.groups.has(dst))) {
      return this.rxDrop("not-for-us");
    }
    // VID 0 is a priority tag: the frame belongs to the untagged (native) network.
    const untagged = vid <= 0;
    if (this.vlan === undefined) {
      if (!untagged) return this.rxDrop("vlan");
    } else if (untagged) {
      if (!this.acceptUntagged) return this.rxDrop("untagged");
    } else if (vid !== this.vlan) {
      return this.rxDrop("vlan");
    }
    if (type === ETHERTYPE_VLAN) return this.rxDrop("vlan"); // stacked tags (Q-in-Q) are not supported
    if (type < MIN_ETHERTYPE) return this.rxDrop("llc");
    const handler = this.handlers.get(type);
    if (handler === undefined) return this.rxDrop("no-handler");
    try {
      handler(frame.subarray(hlen), readMac(frame, 6), dst);
    } catch (e) {
      this.rxDrop("handler-error");
      if (this.onHandlerError !== undefined) {
        try {
          this.onHandlerError(e, type);
        } catch {
          // a failing logger must not break the receive path either
        }
      }
      return;
    }
    this.rxDelivered++;
  };
}
