/**
 * ARP (RFC 826) over an Ethernet, with the useful parts of RFC 5227:
 * announcements, conflict detection and defence, and optional probing.
 *
 * Sans-IO: time from the injected Clock (every timer is tracked and cancelled
 * by close), randomness from the injected Random (RFC 5227 probe delays only).
 */
import { RingQueue } from "@morgana/collections";
import {
  DropCounters,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IPV4_BROADCAST,
  MAC_BROADCAST,
  MorganaError,
  abortError,
  formatIpv4,
  isGroupMac,
  isLoopbackIpv4,
  isMulticastIpv4,
  randomFloat,
  readIpv4,
  readMac,
  writeIpv4,
  writeMac,
  type Arp,
  type ArpEntry,
  type Clock,
  type Ethernet,
  type Fill,
  type Ipv4Address,
  type LayerStats,
  type MacAddress,
  type Random,
  type Timer,
} from "@morgana/interfaces";
import { ARP_FIXED_LENGTH, ARP_HTYPE_ETHERNET, ARP_OP_REPLY, ARP_OP_REQUEST, ARP_PACKET_LENGTH, ARP_PTYPE_IPV4 } from "./codec.js";

/** Defaults of {@link ArpOptions}, all in one place (milliseconds, entries, packets). */
export const ARP_DEFAULTS = {
  /** Dynamic cache entries (static ones are not counted). */
  cacheSize: 512,
  /** Lifetime of a dynamic entry after it was learned or last confirmed. */
  reachableMs: 60_000,
  /** Window before expiry in which using an entry re-requests it by unicast. */
  refreshMs: 5_000,
  /** Interval between two requests for one address. */
  retryIntervalMs: 1_000,
  /** Requests per resolution (and unicast refresh requests per window). */
  maxTries: 3,
  /** How long a failed resolution is remembered; 0 disables the negative cache. */
  negativeCacheMs: 0,
  /** Concurrent resolutions (addresses being resolved). */
  maxPending: 128,
  /**
   * Packets waiting for one address: enough for every fragment of a 64 KiB
   * datagram at MTU 1500 (45 frames), which IPv4 hands over before ARP answers.
   */
  queuePerDestination: 64,
  /** Packets waiting for all addresses together (1.5 MiB at MTU 1500). */
  queueTotal: 1024,
  /** Announcements sent when an address is added (RFC 5227 ANNOUNCE_NUM). */
  announcements: 2,
  /** Interval between announcements (RFC 5227 ANNOUNCE_INTERVAL). */
  announceIntervalMs: 2_000,
  /** Minimum interval between two defences of one address (RFC 5227 DEFEND_INTERVAL). */
  defendIntervalMs: 10_000,
  /** RFC 5227 PROBE_WAIT: random delay before the first probe, in [0, probeWaitMs). */
  probeWaitMs: 1_000,
  /** RFC 5227 PROBE_NUM. */
  probeNum: 3,
  /** RFC 5227 PROBE_MIN and PROBE_MAX: random delay between probes. */
  probeMinMs: 1_000,
  probeMaxMs: 2_000,
  /** RFC 5227 ANNOUNCE_WAIT: wait after the last probe before declaring the address free. */
  announceWaitMs: 2_000,
} as const;

export interface ArpOptions {
  readonly ethernet: Ethernet;
  readonly clock: Clock;
  /** Used for the random delays of {@link ArpLayer.probe} (RFC 5227). */
  readonly random: Random;
  /** Addresses we own from the start: answered, and announced like {@link ArpLayer.addAddress}. */
  readonly addresses?: readonly Ipv4Address[];
  /** Static entries from the start. */
  readonly staticEntries?: readonly { readonly ip: Ipv4Address; readonly mac: MacAddress }[];
  readonly cacheSize?: number;
  readonly reachableMs?: number;
  readonly refreshMs?: number;
  readonly retryIntervalMs?: number;
  readonly maxTries?: number;
  readonly negativeCacheMs?: number;
  readonly maxPending?: number;
  readonly queuePerDestination?: number;
  readonly queueTotal?: number;
  /** Create entries from replies nobody asked for (default false: they are dropped as `unsolicited`). */
  readonly acceptUnsolicited?: boolean;
  readonly announcements?: number;
  readonly announceIntervalMs?: number;
  readonly defendIntervalMs?: number;
  readonly probeWaitMs?: number;
  readonly probeNum?: number;
  readonly probeMinMs?: number;
  readonly probeMaxMs?: number;
  readonly announceWaitMs?: number;
  /** Told when another host claims one of our addresses (after it was counted as `address-conflict`). */
  readonly onConflict?: (ip: Ipv4Address, mac: MacAddress) => void;
}

interface Entry {
  readonly ip: Ipv4Address;
  mac: MacAddress;
  expiresAt: number;
  /** The expiry timer; it may be due before `expiresAt` (then it re-arms itself). */
  timer: Timer | undefined;
  timerAt: number;
  /** Unicast refresh requests sent since the entry was last confirmed. */
  refreshTries: number;
  lastRefreshAt: number;
}

interface Waiter {
  resolve(mac: MacAddress): void;
  reject(err: Error): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Queued {
  readonly data: Uint8Array;
  readonly onError: ((err: Error) => void) | undefined;
  readonly seq: number;
}

interface Resolution {
  readonly ip: Ipv4Address;
  tries: number;
  timer: Timer | undefined;
  readonly waiters: Set<Waiter>;
  readonly queue: RingQueue<Queued>;
}

interface Probe {
  readonly ip: Ipv4Address;
  readonly promise: Promise<boolean>;
  resolve(free: boolean): void;
  reject(err: Error): void;
  timer: Timer | undefined;
  sent: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

type Counter =
  | "rxPackets"
  | "rxRequests"
  | "rxReplies"
  | "rxInvalid"
  | "txRequests"
  | "txReplies"
  | "announcements"
  | "refreshRequests"
  | "probesSent"
  | "probesReceived"
  | "probeConflicts"
  | "addressConflicts"
  | "defenses"
  | "staticMismatches"
  | "learned"
  | "updated"
  | "macChanged"
  | "evicted"
  | "expired"
  | "resolutions"
  | "resolved"
  | "failed"
  | "cancelled"
  | "sentDirect"
  | "sentQueued";

const COUNTERS: readonly Counter[] = [
  "rxPackets",
  "rxRequests",
  "rxReplies",
  "rxInvalid",
  "txRequests",
  "txReplies",
  "announcements",
  "refreshRequests",
  "probesSent",
  "probesReceived",
  "probeConflicts",
  "addressConflicts",
  "defenses",
  "staticMismatches",
  "learned",
  "updated",
  "macChanged",
  "evicted",
  "expired",
  "resolutions",
  "resolved",
  "failed",
  "cancelled",
  "sentDirect",
  "sentQueued",
];

const IPV4_ZERO = 0 as Ipv4Address;
const MAC_ZERO = 0 as MacAddress;
const MULTICAST_MAC_BASE = 0x0100_5e00_0000;

function checkIp(where: string, ip: unknown): Ipv4Address {
  if (typeof ip !== "number" || !Number.isInteger(ip) || ip < 0 || ip > 0xffff_ffff) {
    throw new MorganaError("EINVAL", `${where}: not an IPv4 address: ${String(ip)}`);
  }
  return ip as Ipv4Address;
}

function checkUnicastIp(where: string, ip: unknown): Ipv4Address {
  const a = checkIp(where, ip);
  if (a === IPV4_ZERO || a === IPV4_BROADCAST || isMulticastIpv4(a)) {
    throw new MorganaError("EINVAL", `${where}: ${formatIpv4(a)} is not a unicast address`);
  }
  return a;
}

function checkMac(where: string, m: unknown): MacAddress {
  if (typeof m !== "number" || !Number.isInteger(m) || m < 0 || m > 0xffff_ffff_ffff) {
    throw new MorganaError("EINVAL", `${where}: not a MAC address: ${String(m)}`);
  }
  return m as MacAddress;
}

function option(name: string, v: number | undefined, dflt: number, min: number, kind: "integer" | "finite" | "number"): number {
  const x = v ?? dflt;
  const ok = typeof x === "number" && !Number.isNaN(x) && x >= min && (kind === "number" || Number.isFinite(x)) && (kind !== "integer" || Number.isInteger(x));
  if (!ok) throw new MorganaError("EINVAL", `ArpLayer: option ${name} must be ${kind === "integer" ? "an integer" : kind === "finite" ? "a finite number" : "a number"} >= ${min}, got ${String(x)}`);
  return x;
}

function unreachable(ip: Ipv4Address): MorganaError {
  return new MorganaError("EHOSTUNREACH", undefined, { syscall: "arp", address: formatIpv4(ip) });
}

function closedError(): MorganaError {
  return new MorganaError("ECANCELED", "ARP layer closed");
}

function notify(cb: ((err: Error) => void) | undefined, err: Error): void {
  if (cb === undefined) return;
  try {
    cb(err);
  } catch {
    // a failing callback must not break the ARP layer
  }
}

/**
 * ARP for one Ethernet interface; implements {@link Arp}. See the package
 * README for the learning rules, timers, bounds and counters.
 */
export class ArpLayer implements Arp {
  private readonly ethernet: Ethernet;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly cacheSize: number;
  private readonly reachableMs: number;
  private readonly refreshMs: number;
  private readonly retryIntervalMs: number;
  private readonly maxTries: number;
  private readonly negativeCacheMs: number;
  private readonly maxPending: number;
  private readonly queuePerDestination: number;
  private readonly queueTotal: number;
  private readonly acceptUnsolicited: boolean;
  private readonly announceCount: number;
  private readonly announceIntervalMs: number;
  private readonly defendIntervalMs: number;
  private readonly probeWaitMs: number;
  private readonly probeNum: number;
  private readonly probeMinMs: number;
  private readonly probeMaxMs: number;
  private readonly announceWaitMs: number;
  private readonly onConflict: ((ip: Ipv4Address, mac: MacAddress) => void) | undefined;

  private readonly owned = new Set<Ipv4Address>();
  private ownedList: readonly Ipv4Address[] = [];
  /** Dynamic entries in LRU order: the first key is the least recently used. */
  private readonly cache = new Map<Ipv4Address, Entry>();
  private readonly statics = new Map<Ipv4Address, MacAddress>();
  private readonly pending = new Map<Ipv4Address, Resolution>();
  /** Failed resolutions: address → time until which it is considered unreachable. */
  private readonly negative = new Map<Ipv4Address, number>();
  private readonly announceTimers = new Map<Ipv4Address, Timer>();
  private readonly lastDefence = new Map<Ipv4Address, number>();
  private readonly probes = new Map<Ipv4Address, Probe>();
  private readonly c: Record<Counter, number>;
  private readonly drops = new DropCounters();
  /** The entry last moved to the most recently used end (so a run of packets to one host moves nothing). */
  private mru: Entry | undefined;
  private queued = 0;
  private seq = 0;
  private closed = false;

  constructor(opts: ArpOptions) {
    if (opts === null || typeof opts !== "object") throw new MorganaError("EINVAL", "ArpLayer: options object required");
    const { ethernet, clock, random } = opts;
    if (ethernet === null || typeof ethernet !== "object" || typeof ethernet.write !== "function" || typeof ethernet.register !== "function") {
      throw new MorganaError("EINVAL", "ArpLayer: options.ethernet must be an Ethernet");
    }
    if (clock === null || typeof clock !== "object" || typeof clock.setTimer !== "function" || typeof clock.now !== "function") {
      throw new MorganaError("EINVAL", "ArpLayer: options.clock must be a Clock");
    }
    if (random === null || typeof random !== "object" || typeof random.uint32 !== "function") {
      throw new MorganaError("EINVAL", "ArpLayer: options.random must be a Random");
    }
    if (ethernet.mtu < ARP_PACKET_LENGTH) throw new MorganaError("EINVAL", `ArpLayer: the Ethernet MTU ${ethernet.mtu} cannot carry a 28-byte ARP packet`);
    const d = ARP_DEFAULTS;
    this.ethernet = ethernet;
    this.clock = clock;
    this.random = random;
    this.cacheSize = option("cacheSize", opts.cacheSize, d.cacheSize, 1, "integer");
    this.reachableMs = option("reachableMs", opts.reachableMs, d.reachableMs, 1, "number");
    this.refreshMs = option("refreshMs", opts.refreshMs, d.refreshMs, 0, "finite");
    this.retryIntervalMs = option("retryIntervalMs", opts.retryIntervalMs, d.retryIntervalMs, 1, "finite");
    this.maxTries = option("maxTries", opts.maxTries, d.maxTries, 1, "integer");
    this.negativeCacheMs = option("negativeCacheMs", opts.negativeCacheMs, d.negativeCacheMs, 0, "number");
    this.maxPending = option("maxPending", opts.maxPending, d.maxPending, 1, "integer");
    this.queuePerDestination = option("queuePerDestination", opts.queuePerDestination, d.queuePerDestination, 1, "integer");
    this.queueTotal = option("queueTotal", opts.queueTotal, d.queueTotal, 1, "integer");
    this.acceptUnsolicited = opts.acceptUnsolicited ?? false;
    this.announceCount = option("announcements", opts.announcements, d.announcements, 0, "integer");
    this.announceIntervalMs = option("announceIntervalMs", opts.announceIntervalMs, d.announceIntervalMs, 0, "finite");
    this.defendIntervalMs = option("defendIntervalMs", opts.defendIntervalMs, d.defendIntervalMs, 0, "finite");
    this.probeWaitMs = option("probeWaitMs", opts.probeWaitMs, d.probeWaitMs, 0, "finite");
    this.probeNum = option("probeNum", opts.probeNum, d.probeNum, 1, "integer");
    this.probeMinMs = option("probeMinMs", opts.probeMinMs, d.probeMinMs, 0, "finite");
    this.probeMaxMs = option("probeMaxMs", opts.probeMaxMs, d.probeMaxMs, this.probeMinMs, "finite");
    this.announceWaitMs = option("announceWaitMs", opts.announceWaitMs, d.announceWaitMs, 0, "finite");
    this.onConflict = opts.onConflict;
    this.c = Object.fromEntries(COUNTERS.map((k) => [k, 0])) as Record<Counter, number>;
    for (const s of opts.staticEntries ?? []) this.addStatic(s.ip, s.mac);
    ethernet.register(ETHERTYPE_ARP, this.receive);
    for (const ip of opts.addresses ?? []) this.addAddress(ip);
  }

  // ---- addresses -----------------------------------------------------------------------

  get addresses(): readonly Ipv4Address[] {
    return this.ownedList;
  }

  /**
   * Starts answering requests for `ip` and announces it (RFC 5227: ARP request
   * with sender = target = `ip`), `announcements` times `announceIntervalMs`
   * apart. `EINVAL` for 0.0.0.0, broadcast or multicast. No-op when owned.
   */
  addAddress(ip: Ipv4Address): void {
    checkUnicastIp("ArpLayer.addAddress", ip);
    if (this.owned.has(ip)) return;
    this.owned.add(ip);
    this.ownedList = Object.freeze([...this.owned]);
    this.negative.delete(ip);
    const e = this.cache.get(ip);
    if (e !== undefined) this.removeEntry(e);
    if (this.closed || this.announceCount === 0) return;
    let left = this.announceCount;
    const step = (): void => {
      this.announceTimers.delete(ip);
      if (this.closed || !this.owned.has(ip)) return;
      this.sendAnnouncement(ip);
      if (--left > 0) this.announceTimers.set(ip, this.clock.setTimer(this.announceIntervalMs, step));
    };
    step();
  }

  /** Stops answering for `ip` and cancels its pending announcements. */
  removeAddress(ip: Ipv4Address): void {
    if (!this.owned.delete(ip)) return;
    this.ownedList = Object.freeze([...this.owned]);
    this.announceTimers.get(ip)?.cancel();
    this.announceTimers.delete(ip);
    this.lastDefence.delete(ip);
  }

  // ---- static entries ------------------------------------------------------------------

  /**
   * A permanent mapping: never expires, never overwritten by the network, not
   * counted against `cacheSize`. Replaces a dynamic entry for `ip` and
   * completes a resolution in progress (its queued packets leave).
   */
  addStatic(ip: Ipv4Address, mac: MacAddress): void {
    checkUnicastIp("ArpLayer.addStatic", ip);
    checkMac("ArpLayer.addStatic", mac);
    this.statics.set(ip, mac);
    this.negative.delete(ip);
    const e = this.cache.get(ip);
    if (e !== undefined) this.removeEntry(e);
    const r = this.pending.get(ip);
    if (r !== undefined) this.complete(r, mac);
  }

  removeStatic(ip: Ipv4Address): void {
    this.statics.delete(ip);
  }

  // ---- lookups -------------------------------------------------------------------------

  /**
   * From the cache only; sends nothing. The limited broadcast maps to the
   * broadcast MAC, a multicast group to its RFC 1112 MAC (01:00:5e + low
   * 23 bits), one of our addresses to our MAC. A hit counts as a use for the
   * LRU order.
   */
  lookup(ip: Ipv4Address): MacAddress | undefined {
    const special = this.special(ip);
    if (special !== undefined) return special;
    const s = this.statics.get(ip);
    if (s !== undefined) return s;
    return this.usable(ip)?.mac;
  }

  /** Every static entry (expiresAt Infinity), then the live dynamic entries from least to most recently used. */
  entries(): ArpEntry[] {
    const out: ArpEntry[] = [];
    for (const [ip, mac] of this.statics) out.push({ ip, mac, static: true, expiresAt: Infinity });
    const now = this.clock.now();
    for (const e of this.cache.values()) if (e.expiresAt > now) out.push({ ip: e.ip, mac: e.mac, static: false, expiresAt: e.expiresAt });
    return out;
  }

  /**
   * Resolves `ip`'s MAC: from the cache, or by broadcast requests every
   * `retryIntervalMs`, at most `maxTries` of them. Concurrent queries for one
   * address share one exchange. Rejects with `EHOSTUNREACH` after the last
   * interval without an answer (or at once while the address is in the
   * negative cache), `ABORT_ERR` when `signal` aborts, `ENOBUFS` when
   * `maxPending` resolutions are already running, `ECANCELED` after close,
   * `EINVAL` for 0.0.0.0 or a non-address.
   */
  query(ip: Ipv4Address, signal?: AbortSignal): Promise<MacAddress> {
    try {
      checkIp("ArpLayer.query", ip);
      if (ip === IPV4_ZERO) throw new MorganaError("EINVAL", "ArpLayer.query: 0.0.0.0 has no MAC address");
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (this.closed) return Promise.reject(closedError());
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const known = this.lookupForUse(ip);
    if (known !== undefined) return Promise.resolve(known);
    if (this.isNegative(ip)) return Promise.reject(unreachable(ip));
    const r = this.pending.get(ip) ?? this.startResolution(ip);
    if (r === undefined) {
      this.drops.drop("resolution-limit");
      return Promise.reject(new MorganaError("ENOBUFS", `ARP: ${this.maxPending} resolutions already in progress`, { syscall: "arp", address: formatIpv4(ip) }));
    }
    return new Promise<MacAddress>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        w.onAbort = () => {
          if (!r.waiters.delete(w)) return;
          reject(abortError(signal));
          if (r.waiters.size === 0 && r.queue.length === 0 && this.pending.get(ip) === r) {
            // Nobody needs the answer any more.
            r.timer?.cancel();
            this.pending.delete(ip);
            this.c.cancelled++;
          }
        };
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      r.waiters.add(w);
    });
  }

  /**
   * Sends an IPv4 packet of `size` bytes (written by `fill`) to `ip`. When the
   * MAC is known: `ethernet.write` at once, its answer returned. Otherwise the
   * packet is materialised now (one `size`-byte buffer, `fill` called, the
   * first n bytes kept), queued and sent in order once resolved; `true` is
   * returned. Dropped later (queue overflow: `ENOBUFS`; resolution failed:
   * `EHOSTUNREACH`; device refused: `ENOBUFS`; close: `ECANCELED`), the packet
   * is counted and `onError` called. Dropped at once (fill failed, address in
   * the negative cache, too many resolutions, closed): counted, `false`
   * returned, `onError` not called. Throws `EINVAL` for a bad size, address
   * or fill, `EMSGSIZE` above the Ethernet MTU.
   */
  send(ip: Ipv4Address, size: number, fill: Fill, onError?: (err: Error) => void): boolean {
    checkIp("ArpLayer.send", ip);
    if (ip === IPV4_ZERO) throw new MorganaError("EINVAL", "ArpLayer.send: cannot send to 0.0.0.0");
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) {
      throw new MorganaError("EINVAL", `ArpLayer.send: size must be a non-negative integer, got ${String(size)}`);
    }
    if (size > this.ethernet.mtu) throw new MorganaError("EMSGSIZE", `ArpLayer.send: ${size} bytes exceed the MTU of ${this.ethernet.mtu}`);
    if (typeof fill !== "function") throw new MorganaError("EINVAL", "ArpLayer.send: fill must be a function");
    if (this.closed) return this.drops.drop("closed");
    const mac = this.lookupForUse(ip);
    if (mac !== undefined) {
      const ok = this.ethernet.write(mac, ETHERTYPE_IPV4, size, fill);
      if (ok) this.c.sentDirect++;
      else this.drops.drop("tx-refused");
      return ok;
    }
    if (this.isNegative(ip)) return this.drops.drop("unresolved");
    const data = new Uint8Array(size);
    let n: number;
    try {
      n = fill(data);
    } catch {
      return this.drops.drop("fill-error");
    }
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > size) return this.drops.drop("fill-length");
    const r = this.pending.get(ip) ?? this.startResolution(ip);
    if (r === undefined) return this.drops.drop("resolution-limit");
    this.enqueue(r, { data: n === size ? data : data.subarray(0, n), onError, seq: this.seq++ });
    return true;
  }

  // ---- RFC 5227 probing ----------------------------------------------------------------

  /**
   * RFC 5227 address conflict detection for `ip` before using it: waits a
   * random time in [0, probeWaitMs), sends `probeNum` ARP probes (sender IP
   * 0.0.0.0, target `ip`) a random [probeMinMs, probeMaxMs] apart, then waits
   * `announceWaitMs`. Resolves true when nobody claimed `ip` meanwhile (any
   * ARP packet with sender IP `ip`, or another host's probe for `ip`), false
   * as soon as someone does. Concurrent probes of one address share one run.
   * Rejects with `ABORT_ERR` on abort, `ECANCELED` on close.
   */
  probe(ip: Ipv4Address, signal?: AbortSignal): Promise<boolean> {
    try {
      checkUnicastIp("ArpLayer.probe", ip);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (this.closed) return Promise.reject(closedError());
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const running = this.probes.get(ip);
    if (running !== undefined) return running.promise;
    let resolve!: (free: boolean) => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<boolean>((res, rej) => ((resolve = res), (reject = rej)));
    const p: Probe = { ip, promise, resolve, reject, timer: undefined, sent: 0, signal, onAbort: undefined };
    if (signal !== undefined) {
      p.onAbort = () => this.endProbe(p, abortError(signal));
      signal.addEventListener("abort", p.onAbort, { once: true });
    }
    this.probes.set(ip, p);
    const step = (): void => {
      p.timer = undefined;
      if (p.sent === this.probeNum) return this.endProbe(p, true);
      this.sendArp(MAC_BROADCAST, ARP_OP_REQUEST, IPV4_ZERO, MAC_ZERO, ip);
      this.c.probesSent++;
      p.sent++;
      const delay = p.sent === this.probeNum ? this.announceWaitMs : this.probeMinMs + randomFloat(this.random) * (this.probeMaxMs - this.probeMinMs);
      p.timer = this.clock.setTimer(delay, step);
    };
    p.timer = this.clock.setTimer(randomFloat(this.random) * this.probeWaitMs, step);
    return promise;
  }

  // ---- stats and close -----------------------------------------------------------------

  /**
   * Counters (see the README): traffic (`rxPackets` = `rxRequests` +
   * `rxReplies` + `rxInvalid`, `txRequests`, `txReplies`, ...), cache events,
   * resolutions, and the gauges `cacheSize`, `staticEntries`,
   * `pendingResolutions`, `queuedPackets`, `negativeEntries`,
   * `addresses`. Drops by reason.
   */
  stats(): LayerStats {
    return {
      counters: {
        ...this.c,
        cacheSize: this.cache.size,
        staticEntries: this.statics.size,
        pendingResolutions: this.pending.size,
        queuedPackets: this.queued,
        negativeEntries: this.negative.size,
        addresses: this.owned.size,
      },
      drops: this.drops.snapshot(),
    };
  }

  /**
   * Unregisters from the Ethernet, cancels every timer, rejects pending
   * queries and probes with `ECANCELED`, drops queued packets (`closed`,
   * `onError` with `ECANCELED`) and empties the cache. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ethernet.unregister(ETHERTYPE_ARP);
    for (const e of this.cache.values()) e.timer?.cancel();
    this.cache.clear();
    this.mru = undefined;
    this.negative.clear();
    for (const t of this.announceTimers.values()) t.cancel();
    this.announceTimers.clear();
    const err = closedError();
    for (const r of [...this.pending.values()]) this.abandon(r, err, "closed");
    for (const p of [...this.probes.values()]) this.endProbe(p, err);
  }

  // ---- internals: cache ----------------------------------------------------------------

  /** Broadcast and multicast destinations need no resolution; our own addresses are ours. */
  private special(ip: Ipv4Address): MacAddress | undefined {
    if (ip === IPV4_BROADCAST) return MAC_BROADCAST;
    if (isMulticastIpv4(ip)) return (MULTICAST_MAC_BASE + (ip & 0x7f_ffff)) as MacAddress;
    if (this.owned.has(ip)) return this.ethernet.mac;
    return undefined;
  }

  /** A live dynamic entry, moved to the most recently used end; expired ones are removed. */
  private usable(ip: Ipv4Address): Entry | undefined {
    const e = this.cache.get(ip);
    if (e === undefined) return undefined;
    if (this.clock.now() >= e.expiresAt) {
      this.removeEntry(e);
      this.c.expired++;
      return undefined;
    }
    if (this.mru !== e) {
      // Re-insertion moves the key to the most recently used end of the Map's order.
      this.cache.delete(ip);
      this.cache.set(ip, e);
      this.mru = e;
    }
    return e;
  }

  /** lookup() for traffic: a dynamic entry inside its refresh window is re-requested by unicast. */
  private lookupForUse(ip: Ipv4Address): MacAddress | undefined {
    const special = this.special(ip);
    if (special !== undefined) return special;
    const s = this.statics.get(ip);
    if (s !== undefined) return s;
    const e = this.usable(ip);
    if (e === undefined) return undefined;
    const now = this.clock.now();
    if (now >= e.expiresAt - this.refreshMs && e.refreshTries < this.maxTries && now - e.lastRefreshAt >= this.retryIntervalMs) {
      e.refreshTries++;
      e.lastRefreshAt = now;
      this.c.refreshRequests++;
      this.sendRequest(e.mac, ip);
    }
    return e.mac;
  }

  private removeEntry(e: Entry): void {
    e.timer?.cancel();
    e.timer = undefined;
    if (this.mru === e) this.mru = undefined;
    this.cache.delete(e.ip);
  }

  private armExpiry(e: Entry): void {
    if (e.expiresAt === Infinity) return; // reachableMs: Infinity, entries never expire
    // The timer only ever needs to move later, so an earlier one is kept and re-arms itself when it fires.
    if (e.timer !== undefined && e.timerAt <= e.expiresAt) return;
    e.timer?.cancel();
    e.timerAt = e.expiresAt;
    e.timer = this.clock.setTimer(e.expiresAt - this.clock.now(), () => this.onExpiryTimer(e));
  }

  private onExpiryTimer(e: Entry): void {
    e.timer = undefined;
    if (this.cache.get(e.ip) !== e) return;
    if (this.clock.now() < e.expiresAt) return this.armExpiry(e);
    if (this.mru === e) this.mru = undefined;
    this.cache.delete(e.ip);
    this.c.expired++;
  }

  /** Creates (or confirms) the dynamic entry ip → mac, then completes a resolution waiting for it. */
  private learn(ip: Ipv4Address, mac: MacAddress): void {
    const now = this.clock.now();
    let e = this.cache.get(ip);
    if (e !== undefined) {
      if (e.mac !== mac) this.c.macChanged++;
      e.mac = mac;
      e.expiresAt = now + this.reachableMs;
      e.refreshTries = 0;
      e.lastRefreshAt = -Infinity;
      this.c.updated++;
    } else {
      if (this.cache.size >= this.cacheSize) {
        const oldest = this.cache.values().next().value as Entry;
        this.removeEntry(oldest);
        this.c.evicted++;
      }
      e = { ip, mac, expiresAt: now + this.reachableMs, timer: undefined, timerAt: 0, refreshTries: 0, lastRefreshAt: -Infinity };
      this.cache.set(ip, e);
      this.mru = e;
      this.c.learned++;
    }
    this.negative.delete(ip);
    this.armExpiry(e);
    const r = this.pending.get(ip);
    if (r !== undefined) this.complete(r, mac);
  }

  private isNegative(ip: Ipv4Address): boolean {
    if (this.negative.size === 0) return false;
    const until = this.negative.get(ip);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.negative.delete(ip);
    return false;
  }

  // ---- internals: resolution and queues ------------------------------------------------

  private startResolution(ip: Ipv4Address): Resolution | undefined {
    if (this.pending.size >= this.maxPending) return undefined;
    const r: Resolution = { ip, tries: 0, timer: undefined, waiters: new Set(), queue: new RingQueue() };
    this.pending.set(ip, r);
    this.c.resolutions++;
    this.resolutionTry(r);
    return r;
  }

  private resolutionTry(r: Resolution): void {
    r.tries++;
    this.sendRequest(MAC_BROADCAST, r.ip);
    r.timer = this.clock.setTimer(this.retryIntervalMs, () => {
      r.timer = undefined;
      if (this.pending.get(r.ip) !== r) return;
      if (r.tries < this.maxTries) return this.resolutionTry(r);
      this.c.failed++;
      if (this.negativeCacheMs > 0) {
        if (this.negative.size >= this.cacheSize) this.negative.delete(this.negative.keys().next().value as Ipv4Address);
        this.negative.set(r.ip, this.clock.now() + this.negativeCacheMs);
      }
      this.abandon(r, unreachable(r.ip), "unresolved");
    });
  }

  /** Ends a resolution without an answer: rejects its waiters and drops its packets. */
  private abandon(r: Resolution, err: Error, reason: string): void {
    r.timer?.cancel();
    this.pending.delete(r.ip);
    for (const w of r.waiters) {
      if (w.onAbort !== undefined) w.signal?.removeEventListener("abort", w.onAbort);
      w.reject(err);
    }
    r.waiters.clear();
    const packets = [...r.queue];
    r.queue.clear();
    this.queued -= packets.length;
    if (packets.length > 0) this.drops.drop(reason, packets.length);
    for (const q of packets) notify(q.onError, err);
  }

  /** The address resolved: waiters get the MAC, queued packets leave in order. */
  private complete(r: Resolution, mac: MacAddress): void {
    r.timer?.cancel();
    this.pending.delete(r.ip);
    this.c.resolved++;
    for (const w of r.waiters) {
      if (w.onAbort !== undefined) w.signal?.removeEventListener("abort", w.onAbort);
      w.resolve(mac);
    }
    r.waiters.clear();
    const packets = [...r.queue];
    r.queue.clear();
    this.queued -= packets.length;
    for (const q of packets) {
      let ok = false;
      try {
        ok = this.ethernet.write(mac, ETHERTYPE_IPV4, q.data.length, (buf) => {
          buf.set(q.data);
          return q.data.length;
        });
      } catch {
        ok = false;
      }
      if (ok) this.c.sentQueued++;
      else {
        this.drops.drop("tx-refused");
        notify(q.onError, new MorganaError("ENOBUFS", "ARP: the device refused a queued packet", { syscall: "arp", address: formatIpv4(r.ip) }));
      }
    }
  }

  private enqueue(r: Resolution, q: Queued): void {
    if (r.queue.length >= this.queuePerDestination) {
      this.dropOldest(r);
    } else if (this.queued >= this.queueTotal) {
      let victim: Resolution | undefined;
      for (const p of this.pending.values()) {
        const head = p.queue.peek();
        if (head !== undefined && (victim === undefined || head.seq < victim.queue.peek()!.seq)) victim = p;
      }
      if (victim !== undefined) this.dropOldest(victim);
    }
    r.queue.push(q);
    this.queued++;
  }

  private dropOldest(r: Resolution): void {
    const q = r.queue.shift()!;
    this.queued--;
    this.overflow(q);
  }

  private overflow(q: Queued): void {
    this.drops.drop("queue-overflow");
    notify(q.onError, new MorganaError("ENOBUFS", "ARP: queue of packets awaiting resolution is full", { syscall: "arp" }));
  }

  // ---- internals: wire -----------------------------------------------------------------

  /** Our address that shares the longest prefix with `target`, or 0.0.0.0 when we own none. */
  private sourceFor(target: Ipv4Address): Ipv4Address {
    let best = IPV4_ZERO;
    let bestLen = -1;
    for (const a of this.ownedList) {
      const len = Math.clz32(a ^ target);
      if (len > bestLen) (best = a), (bestLen = len);
    }
    return best;
  }

  private sendRequest(ethDst: MacAddress, target: Ipv4Address): void {
    this.sendArp(ethDst, ARP_OP_REQUEST, this.sourceFor(target), MAC_ZERO, target);
  }

  private sendAnnouncement(ip: Ipv4Address): void {
    this.c.announcements++;
    this.sendArp(MAC_BROADCAST, ARP_OP_REQUEST, ip, MAC_ZERO, ip);
  }

  private sendArp(ethDst: MacAddress, op: number, spa: Ipv4Address, tha: MacAddress, tpa: Ipv4Address): void {
    const sha = this.ethernet.mac;
    const ok = this.ethernet.write(ethDst, ETHERTYPE_ARP, ARP_PACKET_LENGTH, (b) => {
      b[0] = 0;
      b[1] = ARP_HTYPE_ETHERNET;
      b[2] = ARP_PTYPE_IPV4 >>> 8;
      b[3] = ARP_PTYPE_IPV4 & 0xff;
      b[4] = 6;
      b[5] = 4;
      b[6] = 0;
      b[7] = op;
      writeMac(b, 8, sha);
      writeIpv4(b, 14, spa);
      writeMac(b, 18, tha);
      writeIpv4(b, 24, tpa);
      return ARP_PACKET_LENGTH;
    });
    if (!ok) this.drops.drop("tx-refused");
    else if (op === ARP_OP_REQUEST) this.c.txRequests++;
    else this.c.txReplies++;
  }

  private invalid(reason: string): void {
    this.c.rxInvalid++;
    this.drops.drop(reason);
  }

  private readonly receive = (p: Uint8Array): void => {
    this.c.rxPackets++;
    if (p.length < ARP_FIXED_LENGTH) return this.invalid("short");
    if (((p[0]! << 8) | p[1]!) !== ARP_HTYPE_ETHERNET) return this.invalid("hardware-type");
    if (((p[2]! << 8) | p[3]!) !== ARP_PTYPE_IPV4) return this.invalid("protocol-type");
    if (p[4] !== 6 || p[5] !== 4) return this.invalid("address-size");
    if (p.length < ARP_PACKET_LENGTH) return this.invalid("short");
    const op = (p[6]! << 8) | p[7]!;
    if (op === ARP_OP_REQUEST) this.c.rxRequests++;
    else if (op === ARP_OP_REPLY) this.c.rxReplies++;
    else return this.invalid("opcode");
    if (this.closed) return void this.drops.drop("closed");
    this.process(op, readMac(p, 8), readIpv4(p, 14), readIpv4(p, 24));
  };

  private process(op: number, sha: MacAddress, spa: Ipv4Address, tpa: Ipv4Address): void {
    if (sha === MAC_ZERO || isGroupMac(sha)) return void this.drops.drop("bad-sender-mac");
    if (sha === this.ethernet.mac) return void this.drops.drop("own-mac");
    if (this.probes.size > 0) this.checkProbes(op, spa, tpa);
    if (spa === IPV4_ZERO) {
      if (op !== ARP_OP_REQUEST) return void this.drops.drop("bad-sender-ip");
      // An RFC 5227 probe: never learned; answered when it asks for one of our addresses.
      this.c.probesReceived++;
      if (this.owned.has(tpa)) this.sendArp(sha, ARP_OP_REPLY, tpa, sha, IPV4_ZERO);
      return;
    }
    if (this.owned.has(spa)) return this.conflict(spa, sha);
    if (spa === IPV4_BROADCAST || isMulticastIpv4(spa) || isLoopbackIpv4(spa)) return void this.drops.drop("bad-sender-ip");
    const forUs = this.owned.has(tpa);
    const fixed = this.statics.get(spa);
    if (fixed !== undefined) {
      if (fixed !== sha) this.c.staticMismatches++;
    } else if (this.cache.has(spa) || this.pending.has(spa)) {
      this.learn(spa, sha); // RFC 826 merge: the sender is already known (or awaited)
    } else if (forUs && op === ARP_OP_REQUEST) {
      this.learn(spa, sha); // it asks for us: it will talk to us
    } else if (op === ARP_OP_REPLY) {
      if (this.acceptUnsolicited) this.learn(spa, sha);
      else this.drops.drop("unsolicited");
    }
    if (forUs && op === ARP_OP_REQUEST) this.sendArp(sha, ARP_OP_REPLY, tpa, sha, spa);
  }

  /** Someone else uses one of our addresses (RFC 5227 §2.4): count it, tell, defend at most once per interval. */
  private conflict(ip: Ipv4Address, mac: MacAddress): void {
    this.c.addressConflicts++;
    this.drops.drop("address-conflict");
    const now = this.clock.now();
    const last = this.lastDefence.get(ip);
    if (last === undefined || now - last >= this.defendIntervalMs) {
      this.lastDefence.set(ip, now);
      this.c.defenses++;
      this.sendAnnouncement(ip);
    }
    if (this.onConflict !== undefined) {
      try {
        this.onConflict(ip, mac);
      } catch {
        // a failing callback must not break the receive path
      }
    }
  }

  /** RFC 5227 §2.1.1: a packet with sender IP = the probed address, or another host's probe for it, is a conflict. */
  private checkProbes(op: number, spa: Ipv4Address, tpa: Ipv4Address): void {
    const p = spa !== IPV4_ZERO ? this.probes.get(spa) : op === ARP_OP_REQUEST ? this.probes.get(tpa) : undefined;
    if (p === undefined) return;
    this.c.probeConflicts++;
    this.endProbe(p, false);
  }

  private endProbe(p: Probe, outcome: boolean | Error): void {
    if (this.probes.get(p.ip) !== p) return;
    this.probes.delete(p.ip);
    p.timer?.cancel();
    if (p.onAbort !== undefined) p.signal?.removeEventListener("abort", p.onAbort);
    if (typeof outcome === "boolean") p.resolve(outcome);
    else p.reject(outcome);
  }
}
