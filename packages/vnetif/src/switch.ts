/**
 * A learning Ethernet switch.
 */
import { DropCounters, localMac, readMac, type Clock, type LayerStats, type MacAddress, type Random } from "@morgana/interfaces";
import { DEFAULT_PORT_QUEUE_BYTES, Fabric, Port, type DeliverHook, type HandlerErrorHook, type VirtualPort } from "./fabric.js";
import { checkClock, checkFunction, checkInt, checkMac, checkMtu, checkNonNegative, checkOptions, checkPositive, checkRandom, einval } from "./validate.js";

/** Default number of MAC table entries. */
export const DEFAULT_MAC_TABLE_SIZE = 4096;
/** Default MAC ageing time: 300 s, the IEEE 802.1D default. */
export const DEFAULT_MAC_AGE_MS = 300_000;
/** Default port MTU. */
export const DEFAULT_MTU = 1500;
/** The first default port MAC is 02:00:00:00:00:01, the next :02, and so on. */
const DEFAULT_MAC_BASE = 0x0200_0000_0000;

export interface VirtualSwitchOptions {
  /** Drives latency timers and MAC ageing. */
  clock: Clock;
  /** One-way delay from a sender's `transmit` to delivery, in ms. Default 0 (delivered in a microtask). */
  latencyMs?: number;
  /** Maximum MAC table entries; the least recently seen source is evicted first. Default 4096. */
  macTableSize?: number;
  /** An entry not refreshed for this long is forgotten. Default 300 000 ms; `Infinity` never ages. */
  macAgeMs?: number;
  /**
   * Bound on the bytes waiting for delivery to one port (each frame charged at
   * least 64 bytes); a copy that does not fit is dropped and counted on that
   * port as `queue-full`. Default 16 MiB.
   */
  queueBytes?: number;
  /** When given, default port MACs are random locally administered addresses drawn from it. */
  random?: Random;
  /** Trace hook called for every delivered frame. */
  onDeliver?: DeliverHook;
  /** Receives exceptions thrown by receive handlers (see {@link HandlerErrorHook}). */
  onHandlerError?: HandlerErrorHook;
}

export interface PortOptions {
  /** Default: 02:00:00:00:00:NN in creation order (NN = 1, 2, ...), or random when the switch has a `random`. */
  mac?: MacAddress | number;
  /** Default 1500. Frames above `mtu + 14` (`mtu + 18` when 802.1Q-tagged) are dropped as `oversize`. */
  mtu?: number;
  /** Default `port<index>`. */
  name?: string;
}

/** One MAC table entry as reported by {@link VirtualSwitch.macTable}. */
export interface MacTableEntry {
  readonly mac: MacAddress;
  readonly port: VirtualPort;
  /** Clock time the address was last seen as a source. */
  readonly lastSeen: number;
}

interface Entry {
  port: Port;
  lastSeen: number;
}

/**
 * A learning switch. Each port is a {@link Netif}. Forwarding, decided when a
 * port transmits:
 *
 * - the source MAC is learned on the sending port (a group source is never learned);
 * - a group destination (broadcast, multicast) is flooded to every other open port;
 * - a known unicast destination goes to its port only, or is filtered (counted
 *   `filtered`) when that is the sending port;
 * - an unknown (or aged-out) unicast destination is flooded.
 *
 * A frame never goes back to its sender. With several destinations, the first
 * gets the sender's buffer and each other one its own copy.
 */
export class VirtualSwitch {
  private readonly fabric: SwitchFabric;
  private readonly random: Random | undefined;
  private nextIndex = 0;

  constructor(opts: VirtualSwitchOptions) {
    const where = "VirtualSwitch";
    checkOptions(where, opts);
    const clock = checkClock(where, opts.clock);
    const latencyMs = checkNonNegative(where, "latencyMs", opts.latencyMs ?? 0);
    const tableSize = checkInt(where, "macTableSize", opts.macTableSize ?? DEFAULT_MAC_TABLE_SIZE, 1, 2 ** 24);
    const ageMs = checkPositive(where, "macAgeMs", opts.macAgeMs ?? DEFAULT_MAC_AGE_MS, true);
    const queueBytes = checkInt(where, "queueBytes", opts.queueBytes ?? DEFAULT_PORT_QUEUE_BYTES, 1, Number.MAX_SAFE_INTEGER);
    this.random = opts.random === undefined ? undefined : checkRandom(where, opts.random);
    const onDeliver = opts.onDeliver === undefined ? undefined : checkFunction<DeliverHook>(where, "onDeliver", opts.onDeliver);
    const onHandlerError =
      opts.onHandlerError === undefined ? undefined : checkFunction<HandlerErrorHook>(where, "onHandlerError", opts.onHandlerError);
    this.fabric = new SwitchFabric({ clock, latencyMs, queueBytes, onDeliver, onHandlerError }, tableSize, ageMs);
  }

  /** Adds a port. Throws `EINVAL` for a bad MAC or MTU. */
  createPort(opts: PortOptions = {}): VirtualPort {
    const where = "VirtualSwitch.createPort";
    checkOptions(where, opts);
    const index = this.nextIndex;
    const mac =
      opts.mac !== undefined
        ? checkMac(where, "mac", opts.mac)
        : this.random !== undefined
          ? localMac(this.random)
          : ((DEFAULT_MAC_BASE + index + 1) as MacAddress);
    const mtu = checkMtu(where, opts.mtu ?? DEFAULT_MTU);
    if (opts.name !== undefined && typeof opts.name !== "string") einval(where, "name must be a string");
    this.nextIndex++;
    const port = new Port({ fabric: this.fabric, index, name: opts.name ?? `port${index}`, mac, mtu });
    this.fabric.open.push(port);
    return port;
  }

  /** The open ports, in creation order. */
  get ports(): readonly VirtualPort[] {
    return [...this.fabric.open];
  }

  /** The port a unicast MAC is currently learned on, if the entry is live. */
  lookup(mac: MacAddress): VirtualPort | undefined {
    return this.fabric.lookup(mac);
  }

  /** A snapshot of the live MAC table, least recently seen first. */
  macTable(): MacTableEntry[] {
    return this.fabric.liveEntries();
  }

  /** Forgets every learned address. */
  flushMacTable(): void {
    this.fabric.table.clear();
    this.fabric.lastLearned = -1;
  }

  /**
   * Switch-wide counters: `frames` (valid frames entering), `unicast`
   * (forwarded to one learned port), `flooded` (frames flooded: group or
   * unknown destination), `floodCopies`, `learned`, `moved` (an address seen on
   * a new port), `aged`, `evicted`, `groupSource` (frames with a group source
   * MAC, forwarded but not learned), `macEntries`, `ports`. Drops:
   * `filtered` (destination learned on the sending port).
   */
  stats(): LayerStats {
    const f = this.fabric;
    return {
      counters: { ...f.counters, macEntries: f.table.size, ports: f.open.length },
      drops: f.drops.snapshot(),
    };
  }

  /** Closes every port. */
  async close(): Promise<void> {
    await Promise.all([...this.fabric.open].map((p) => p.close()));
  }
}

class SwitchFabric extends Fabric {
  readonly open: Port[] = [];
  /** Insertion order = least recently seen first (an entry moves to the end when refreshed). */
  readonly table = new Map<number, Entry>();
  lastLearned = -1;
  readonly drops = new DropCounters();
  readonly counters = {
    frames: 0,
    unicast: 0,
    flooded: 0,
    floodCopies: 0,
    learned: 0,
    moved: 0,
    aged: 0,
    evicted: 0,
    groupSource: 0,
  };

  constructor(
    opts: ConstructorParameters<typeof Fabric>[0],
    private readonly tableSize: number,
    private readonly ageMs: number,
  ) {
    super(opts);
  }

  forward(from: Port, frame: Uint8Array): void {
    const c = this.counters;
    c.frames++;
    const now = this.clock.now();
    if ((frame[6]! & 1) === 0) this.learn(readMac(frame, 6), from, now);
    else c.groupSource++;
    if ((frame[0]! & 1) === 1) {
      this.flood(from, frame);
      return;
    }
    const dst = readMac(frame, 0);
    const e = this.table.get(dst);
    if (e !== undefined) {
      if (e.port.closed || now - e.lastSeen > this.ageMs) {
        this.forget(dst);
        c.aged++;
      } else if (e.port === from) {
        this.drops.drop("filtered");
        return;
      } else {
        c.unicast++;
        this.enqueue(e.port, frame);
        return;
      }
    }
    this.flood(from, frame);
  }

  private flood(from: Port, frame: Uint8Array): void {
    this.counters.flooded++;
    let first = true;
    for (const p of this.open) {
      if (p === from) continue;
      this.counters.floodCopies++;
      // The first destination owns the sender's buffer; every other one gets a copy.
      if (this.enqueue(p, first ? frame : frame.slice()) && first) first = false;
    }
  }

  private learn(mac: number, port: Port, now: number): void {
    const e = this.table.get(mac);
    if (e !== undefined) {
      if (e.port !== port) {
        e.port = port;
        this.counters.moved++;
      }
      e.lastSeen = now;
      if (mac !== this.lastLearned) {
        // Move to the end: most recently seen.
        this.table.delete(mac);
        this.table.set(mac, e);
        this.lastLearned = mac;
      }
      return;
    }
    this.table.set(mac, { port, lastSeen: now });
    this.lastLearned = mac;
    this.counters.learned++;
    if (this.table.size > this.tableSize) {
      const oldest = this.table.keys().next().value as number;
      this.forget(oldest);
      this.counters.evicted++;
    }
  }

  private forget(mac: number): void {
    this.table.delete(mac);
    if (mac === this.lastLearned) this.lastLearned = -1;
  }

  lookup(mac: MacAddress): Port | undefined {
    const e = this.table.get(mac);
    if (e === undefined || e.port.closed || this.clock.now() - e.lastSeen > this.ageMs) return undefined;
    return e.port;
  }

  liveEntries(): MacTableEntry[] {
    const now = this.clock.now();
    const out: MacTableEntry[] = [];
    for (const [mac, e] of this.table) {
      if (!e.port.closed && now - e.lastSeen <= this.ageMs) out.push({ mac: mac as MacAddress, port: e.port, lastSeen: e.lastSeen });
    }
    return out;
  }

  detach(port: Port): void {
    const i = this.open.indexOf(port);
    if (i >= 0) this.open.splice(i, 1);
    for (const [mac, e] of this.table) if (e.port === port) this.forget(mac);
  }
}
