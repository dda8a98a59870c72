/**
 * Impairment middlewares. Each wraps a {@link Netif} and returns one; all
 * randomness comes from the injected `random` and all time from the injected
 * `clock`, so a seed reproduces a run exactly.
 */
import { randomInt, type Clock, type Fill, type Netif, type Random, type Timer } from "@morgana/interfaces";
import { fitsMtu, validFillLength } from "./frame.js";
import { Middleware, type ImpairedNetif } from "./middleware.js";
import { RingQueue, TimedQueue } from "./queue.js";
import { chance, unit } from "./random.js";
import {
  checkClock,
  checkInt,
  checkMtu,
  checkNonNegative,
  checkOptions,
  checkPositive,
  checkRandom,
  checkRate,
  einval,
  type Direction,
} from "./validate.js";

/** Default bound on the frames a delay or reordering layer holds at once. */
export const DEFAULT_HOLD_LIMIT = 10_000;

interface Held {
  frame: Uint8Array;
  tx: boolean;
}

// ---------------------------------------------------------------------------
// Loss

/**
 * Gilbert-Elliott bursty loss: a two-state Markov chain stepped once per
 * frame. In the good state a frame is lost with probability `rate`, in the bad
 * state with `lossInBad`. Long-run loss is
 * `(leaveBad * rate + enterBad * lossInBad) / (enterBad + leaveBad)` and bad
 * periods last `1 / leaveBad` frames on average.
 */
export interface BurstLoss {
  /** Probability of moving from good to bad, per frame. */
  enterBad: number;
  /** Probability of moving from bad to good, per frame. */
  leaveBad: number;
  /** Loss probability in the bad state, default 1. */
  lossInBad?: number;
}

export interface LossOptions {
  random: Random;
  /** Probability that a frame is lost (in the good state when `burst` is given). */
  rate: number;
  burst?: BurstLoss;
  direction?: Direction;
}

class LossLayer extends Middleware {
  private readonly random: Random;
  private readonly rate: number;
  private readonly burst: Required<BurstLoss> | undefined;
  private bad = false;

  constructor(inner: Netif, opts: LossOptions) {
    const where = "withLoss";
    checkOptions(where, opts);
    super("loss", inner, opts.direction, where);
    this.random = checkRandom(where, opts.random);
    this.rate = checkRate(where, "rate", opts.rate);
    if (opts.burst !== undefined) {
      checkOptions(`${where} burst`, opts.burst);
      this.burst = {
        enterBad: checkRate(where, "burst.enterBad", opts.burst.enterBad),
        leaveBad: checkRate(where, "burst.leaveBad", opts.burst.leaveBad),
        lossInBad: checkRate(where, "burst.lossInBad", opts.burst.lossInBad ?? 1),
      };
    }
    this.attach();
  }

  private lose(): boolean {
    const b = this.burst;
    if (b === undefined) return chance(this.random, this.rate);
    if (this.bad) {
      if (chance(this.random, b.leaveBad)) this.bad = false;
    } else if (chance(this.random, b.enterBad)) {
      this.bad = true;
    }
    return chance(this.random, this.bad ? b.lossInBad : this.rate);
  }

  protected send(size: number, fill: Fill): boolean {
    if (!this.lose()) return this.passDown(size, fill);
    const frame = this.capture(size, fill);
    if (frame === undefined) return false;
    this.countTx(frame.length);
    this.drops.drop("loss");
    return true; // lost on the wire: the sender cannot tell
  }

  protected receive(frame: Uint8Array): void {
    if (this.lose()) this.drops.drop("loss");
    else this.deliverUp(frame);
  }
}

/**
 * Drops each frame with probability `rate` (Bernoulli), or following the
 * Gilbert-Elliott `burst` model. A lost frame still counts as transmitted
 * (`transmit` returns true) and is counted in drops as `loss`.
 */
export function withLoss(netif: Netif, opts: LossOptions): ImpairedNetif {
  return new LossLayer(netif, opts);
}

// ---------------------------------------------------------------------------
// Duplication

export interface DuplicationOptions {
  random: Random;
  /** Probability that a frame is sent twice. */
  rate: number;
  direction?: Direction;
}

class DuplicationLayer extends Middleware {
  private readonly random: Random;
  private readonly rate: number;

  constructor(inner: Netif, opts: DuplicationOptions) {
    const where = "withDuplication";
    checkOptions(where, opts);
    super("duplicate", inner, opts.direction, where);
    this.random = checkRandom(where, opts.random);
    this.rate = checkRate(where, "rate", opts.rate);
    this.counters.duplicated = 0;
    this.attach();
  }

  protected send(size: number, fill: Fill): boolean {
    if (!chance(this.random, this.rate)) return this.passDown(size, fill);
    const held: { copy?: Uint8Array; n: number } = { n: 0 };
    const ok = this.inner.transmit(size, (buf) => {
      const n = fill(buf);
      if (validFillLength(n, buf.length)) held.copy = buf.slice(0, n);
      held.n = n;
      return n;
    });
    if (!ok) return false;
    this.countTx(held.n);
    if (held.copy !== undefined) {
      this.count("duplicated");
      this.sendDown(held.copy);
    }
    return true;
  }

  protected receive(frame: Uint8Array): void {
    const copy = chance(this.random, this.rate) ? frame.slice() : undefined;
    this.deliverUp(frame);
    if (copy !== undefined) {
      this.count("duplicated");
      this.deliverUp(copy);
    }
  }
}

/** Sends each frame a second time, right after the first, with probability `rate`. Counter `duplicated`. */
export function withDuplication(netif: Netif, opts: DuplicationOptions): ImpairedNetif {
  return new DuplicationLayer(netif, opts);
}

// ---------------------------------------------------------------------------
// Corruption

export interface CorruptionOptions {
  random: Random;
  /** Probability that a frame is corrupted. */
  rate: number;
  /** Distinct bits flipped in a corrupted frame, default 1 (fewer when the frame is shorter). */
  bits?: number;
  /** Leave the first `skipBytes` bytes intact (14 spares the Ethernet header), default 0. */
  skipBytes?: number;
  direction?: Direction;
}

/** Flips `bits` distinct bits of `buf[skip..n)`; returns how many were flipped. */
function flipBits(random: Random, buf: Uint8Array, n: number, skip: number, bits: number): number {
  const first = skip * 8;
  const avail = n * 8 - first;
  if (avail <= 0) return 0;
  const k = Math.min(bits, avail);
  const flip = (bit: number) => {
    buf[bit >>> 3]! ^= 0x80 >>> (bit & 7);
  };
  if (2 * k <= avail) {
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(first + randomInt(random, 0, avail));
    for (const bit of chosen) flip(bit);
  } else {
    // Choose the bits to keep instead, and flip all the others.
    const keep = new Set<number>();
    while (keep.size < avail - k) keep.add(first + randomInt(random, 0, avail));
    for (let bit = first; bit < first + avail; bit++) if (!keep.has(bit)) flip(bit);
  }
  return k;
}

class CorruptionLayer extends Middleware {
  private readonly random: Random;
  private readonly rate: number;
  private readonly bits: number;
  private readonly skip: number;

  constructor(inner: Netif, opts: CorruptionOptions) {
    const where = "withCorruption";
    checkOptions(where, opts);
    super("corrupt", inner, opts.direction, where);
    this.random = checkRandom(where, opts.random);
    this.rate = checkRate(where, "rate", opts.rate);
    this.bits = checkInt(where, "bits", opts.bits ?? 1, 1, 1 << 20);
    this.skip = checkInt(where, "skipBytes", opts.skipBytes ?? 0, 0, 1 << 20);
    this.counters.corrupted = 0;
    this.counters.bitsFlipped = 0;
    this.attach();
  }

  protected send(size: number, fill: Fill): boolean {
    if (!chance(this.random, this.rate)) return this.passDown(size, fill);
    let n = 0;
    let flipped = 0;
    // The device's fresh buffer is already a copy: the caller's own data is never touched.
    const ok = this.inner.transmit(size, (buf) => {
      n = fill(buf);
      if (validFillLength(n, buf.length)) flipped = flipBits(this.random, buf, n, this.skip, this.bits);
      return n;
    });
    if (!ok) return false;
    this.countTx(n);
    this.noteFlips(flipped);
    return true;
  }

  protected receive(frame: Uint8Array): void {
    if (chance(this.random, this.rate)) this.noteFlips(flipBits(this.random, frame, frame.length, this.skip, this.bits));
    this.deliverUp(frame);
  }

  private noteFlips(flipped: number): void {
    if (flipped === 0) return;
    this.count("corrupted");
    this.count("bitsFlipped", flipped);
  }
}

/**
 * Flips `bits` distinct random bits in a frame with probability `rate`.
 * Counters `corrupted`, `bitsFlipped`. The frame is still delivered (no FCS
 * check is simulated): upper layers' checksums must catch it.
 */
export function withCorruption(netif: Netif, opts: CorruptionOptions): ImpairedNetif {
  return new CorruptionLayer(netif, opts);
}

// ---------------------------------------------------------------------------
// Layers that hold frames for a while.

abstract class HoldingLayer extends Middleware {
  protected readonly clock: Clock;
  protected readonly held: TimedQueue<Held>;
  protected readonly limit: number;

  constructor(kind: string, inner: Netif, direction: unknown, where: string, clock: unknown, limit: unknown) {
    super(kind, inner, direction, where);
    this.clock = checkClock(where, clock);
    this.limit = checkInt(where, "limit", limit ?? DEFAULT_HOLD_LIMIT, 1, 1 << 30);
    this.held = new TimedQueue<Held>(this.clock, (h) => (h.tx ? this.sendDown(h.frame) : this.deliverUp(h.frame)));
    this.counters.held = 0;
  }

  /** Queues a frame for release at `at`, or counts `queue-full`. */
  protected hold(at: number, frame: Uint8Array, tx: boolean): boolean {
    if (this.held.size >= this.limit) return this.drops.drop("queue-full");
    this.held.push(at, { frame, tx });
    return true;
  }

  override layerStats() {
    this.counters.held = this.held.size;
    return super.layerStats();
  }

  protected override onClose(): void {
    const dropped = this.held.drain().length;
    if (dropped > 0) this.drops.drop("closed", dropped);
  }
}

// Reordering

export interface ReorderingOptions {
  clock: Clock;
  random: Random;
  /** Probability that a frame is held back. */
  rate: number;
  /** A held frame waits a uniform random time in (0, maxExtraDelayMs]. */
  maxExtraDelayMs: number;
  /** Most frames held at once (more are dropped as `queue-full`), default 10 000. */
  limit?: number;
  direction?: Direction;
}

class ReorderingLayer extends HoldingLayer {
  private readonly random: Random;
  private readonly rate: number;
  private readonly maxExtra: number;

  constructor(inner: Netif, opts: ReorderingOptions) {
    const where = "withReordering";
    checkOptions(where, opts);
    super("reorder", inner, opts.direction, where, opts.clock, opts.limit);
    this.random = checkRandom(where, opts.random);
    this.rate = checkRate(where, "rate", opts.rate);
    this.maxExtra = checkNonNegative(where, "maxExtraDelayMs", opts.maxExtraDelayMs);
    this.counters.reordered = 0;
    this.attach();
  }

  private deadline(): number {
    return this.clock.now() + this.maxExtra * (1 - unit(this.random));
  }

  protected send(size: number, fill: Fill): boolean {
    if (!chance(this.random, this.rate)) return this.passDown(size, fill);
    const frame = this.capture(size, fill);
    if (frame === undefined || !this.hold(this.deadline(), frame, true)) return false;
    this.countTx(frame.length);
    this.count("reordered");
    return true;
  }

  protected receive(frame: Uint8Array): void {
    if (!chance(this.random, this.rate)) this.deliverUp(frame);
    else if (this.hold(this.deadline(), frame, false)) this.count("reordered");
  }
}

/**
 * Holds back a fraction `rate` of the frames for a random extra time in
 * (0, maxExtraDelayMs], so frames sent after them overtake them; the others
 * pass at once. Nothing is lost (unless more than `limit` are held). Counter
 * `reordered` (frames held back), gauge `held`.
 */
export function withReordering(netif: Netif, opts: ReorderingOptions): ImpairedNetif {
  return new ReorderingLayer(netif, opts);
}

// Delay

export interface DelayOptions {
  clock: Clock;
  /** Added to every frame. */
  delayMs: number;
  /** Each frame's delay is uniform in [delayMs - jitterMs, delayMs + jitterMs] (floored at 0). Default 0; needs `random`. */
  jitterMs?: number;
  random?: Random;
  /** With jitter, never let a frame overtake an earlier one (default false: jitter reorders, as in netem). */
  keepOrder?: boolean;
  /** Most frames held at once (more are dropped as `queue-full`), default 10 000. */
  limit?: number;
  direction?: Direction;
}

class DelayLayer extends HoldingLayer {
  private readonly delayMs: number;
  private readonly jitterMs: number;
  private readonly random: Random | undefined;
  private readonly keepOrder: boolean;
  private lastTx = -Infinity;
  private lastRx = -Infinity;

  constructor(inner: Netif, opts: DelayOptions) {
    const where = "withDelay";
    checkOptions(where, opts);
    super("delay", inner, opts.direction, where, opts.clock, opts.limit);
    this.delayMs = checkNonNegative(where, "delayMs", opts.delayMs);
    this.jitterMs = checkNonNegative(where, "jitterMs", opts.jitterMs ?? 0);
    this.random = opts.random === undefined ? undefined : checkRandom(where, opts.random);
    if (this.jitterMs > 0 && this.random === undefined) einval(where, "jitterMs needs a random");
    if (opts.keepOrder !== undefined && typeof opts.keepOrder !== "boolean") einval(where, "keepOrder must be a boolean");
    this.keepOrder = opts.keepOrder ?? false;
    this.attach();
  }

  private deadline(tx: boolean): number {
    let d = this.delayMs;
    if (this.jitterMs > 0) d += this.jitterMs * (2 * unit(this.random!) - 1);
    let at = this.clock.now() + (d > 0 ? d : 0);
    if (this.keepOrder) {
      if (tx) at = this.lastTx = Math.max(at, this.lastTx);
      else at = this.lastRx = Math.max(at, this.lastRx);
    }
    return at;
  }

  protected send(size: number, fill: Fill): boolean {
    const frame = this.capture(size, fill);
    if (frame === undefined || !this.hold(this.deadline(true), frame, true)) return false;
    this.countTx(frame.length);
    return true;
  }

  protected receive(frame: Uint8Array): void {
    this.hold(this.deadline(false), frame, false);
  }
}

/**
 * Delays every frame by `delayMs` (± uniform `jitterMs`). The bytes are
 * copied at `transmit` time. Gauge `held`.
 */
export function withDelay(netif: Netif, opts: DelayOptions): ImpairedNetif {
  return new DelayLayer(netif, opts);
}

// ---------------------------------------------------------------------------
// Bandwidth

export interface BandwidthOptions {
  clock: Clock;
  /** Link rate; a frame of n bytes takes `(n + overheadBytes) * 8 / bitsPerSecond` seconds. */
  bitsPerSecond: number;
  /**
   * Bound on the bytes held (waiting, plus the frame being serialized). A frame
   * that does not fit is dropped (`queue-full`, `transmit` returns false); an
   * empty queue always takes one frame, whatever its size.
   */
  queueBytes: number;
  /** Extra bytes of line time per frame (24 = preamble, gap and FCS of real Ethernet), default 0. */
  overheadBytes?: number;
  direction?: Direction;
}

class Pipe {
  readonly frames = new RingQueue<Uint8Array>();
  bytes = 0;
  /** When the line is free again. */
  busyUntil = -Infinity;
  /** When the head frame's last bit leaves. */
  doneAt = 0;
  timer: Timer | undefined;
  constructor(readonly tx: boolean) {}
}

class BandwidthLayer extends Middleware {
  private readonly clock: Clock;
  private readonly msPerByte: number;
  private readonly queueBytes: number;
  private readonly overhead: number;
  private readonly txPipe = new Pipe(true);
  private readonly rxPipe = new Pipe(false);

  constructor(inner: Netif, opts: BandwidthOptions) {
    const where = "withBandwidth";
    checkOptions(where, opts);
    super("bandwidth", inner, opts.direction, where);
    this.clock = checkClock(where, opts.clock);
    this.msPerByte = 8000 / checkPositive(where, "bitsPerSecond", opts.bitsPerSecond);
    this.queueBytes = checkInt(where, "queueBytes", opts.queueBytes, 0, Number.MAX_SAFE_INTEGER);
    this.overhead = checkInt(where, "overheadBytes", opts.overheadBytes ?? 0, 0, 1 << 20);
    Object.assign(this.counters, { queuedFrames: 0, queuedBytes: 0, maxQueuedBytes: 0 });
    this.attach();
  }

  private admit(pipe: Pipe, frame: Uint8Array): boolean {
    if (pipe.frames.length > 0 && pipe.bytes + frame.length > this.queueBytes) return this.drops.drop("queue-full");
    pipe.frames.push(frame);
    pipe.bytes += frame.length;
    if (pipe.bytes > this.counters.maxQueuedBytes!) this.counters.maxQueuedBytes = pipe.bytes;
    if (pipe.frames.length === 1) this.start(pipe, Math.max(this.clock.now(), pipe.busyUntil));
    return true;
  }

  private start(pipe: Pipe, begin: number): void {
    const head = pipe.frames.peek()!;
    pipe.doneAt = begin + (head.length + this.overhead) * this.msPerByte;
    pipe.timer = this.clock.setTimer(pipe.doneAt - this.clock.now(), () => this.finish(pipe));
  }

  private finish(pipe: Pipe): void {
    pipe.timer = undefined;
    const frame = pipe.frames.shift()!;
    pipe.bytes -= frame.length;
    pipe.busyUntil = pipe.doneAt;
    if (pipe.frames.length > 0) this.start(pipe, pipe.doneAt); // back to back
    if (pipe.tx) this.sendDown(frame);
    else this.deliverUp(frame);
  }

  protected send(size: number, fill: Fill): boolean {
    const frame = this.capture(size, fill);
    if (frame === undefined || !this.admit(this.txPipe, frame)) return false;
    this.countTx(frame.length);
    return true;
  }

  protected receive(frame: Uint8Array): void {
    this.admit(this.rxPipe, frame);
  }

  override layerStats() {
    this.counters.queuedFrames = this.txPipe.frames.length + this.rxPipe.frames.length;
    this.counters.queuedBytes = this.txPipe.bytes + this.rxPipe.bytes;
    return super.layerStats();
  }

  protected override onClose(): void {
    for (const pipe of [this.txPipe, this.rxPipe]) {
      pipe.timer?.cancel();
      pipe.timer = undefined;
      if (pipe.frames.length > 0) this.drops.drop("closed", pipe.frames.length);
      pipe.frames.clear();
      pipe.bytes = 0;
    }
  }
}

/**
 * A bottleneck: frames leave one after the other at `bitsPerSecond`, from a
 * FIFO queue bounded by `queueBytes` (drop-tail, counted `queue-full`).
 * Gauges `queuedFrames`, `queuedBytes`; high-water mark `maxQueuedBytes`.
 */
export function withBandwidth(netif: Netif, opts: BandwidthOptions): ImpairedNetif {
  return new BandwidthLayer(netif, opts);
}

// ---------------------------------------------------------------------------
// MTU

export interface MtuOptions {
  /** Largest payload; frames above `mtu + 14` (`+ 18` when 802.1Q-tagged) are dropped as `oversize`. */
  mtu: number;
  direction?: Direction;
}

class MtuLayer extends Middleware {
  private readonly limit: number;

  constructor(inner: Netif, opts: MtuOptions) {
    const where = "withMtu";
    checkOptions(where, opts);
    const mtu = checkMtu(where, opts.mtu);
    super("mtu", inner, opts.direction, where, Math.min(mtu, inner.mtu));
    this.limit = mtu;
    this.attach();
  }

  protected send(size: number, fill: Fill): boolean {
    if (size <= this.limit + 14) return this.passDown(size, fill); // cannot be oversize
    const frame = this.capture(size, fill);
    if (frame === undefined) return false;
    if (!fitsMtu(frame, frame.length, this.limit)) return this.drops.drop("oversize");
    const ok = this.sendDown(frame);
    if (ok) this.countTx(frame.length);
    return ok;
  }

  protected receive(frame: Uint8Array): void {
    if (fitsMtu(frame, frame.length, this.limit)) this.deliverUp(frame);
    else this.drops.drop("oversize");
  }
}

/**
 * Drops frames larger than `mtu + 14` bytes (`mtu + 18` with an 802.1Q tag),
 * counted `oversize`; on transmit that is a local refusal (false). The wrapper
 * reports `min(mtu, inner.mtu)` as its own MTU.
 */
export function withMtu(netif: Netif, opts: MtuOptions): ImpairedNetif {
  return new MtuLayer(netif, opts);
}

// ---------------------------------------------------------------------------
// Outages

export interface Outage {
  /** Start, in ms after the origin. */
  startMs: number;
  /** Length in ms (`Infinity`: the link never comes back). */
  durationMs: number;
}

export interface OutagesOptions {
  clock: Clock;
  outages: readonly Outage[];
  /** The clock time the windows are measured from, default `clock.now()` when the layer is created. */
  origin?: number;
  direction?: Direction;
}

class OutageLayer extends Middleware {
  private readonly clock: Clock;
  private readonly windows: { start: number; end: number }[];

  constructor(inner: Netif, opts: OutagesOptions) {
    const where = "withOutages";
    checkOptions(where, opts);
    super("outage", inner, opts.direction, where);
    this.clock = checkClock(where, opts.clock);
    if (!Array.isArray(opts.outages)) einval(where, "outages must be an array");
    const origin = opts.origin ?? this.clock.now();
    if (typeof origin !== "number" || !Number.isFinite(origin)) einval(where, "origin must be a finite number");
    this.windows = opts.outages.map((w, i) => {
      checkOptions(`${where} outages[${i}]`, w);
      const start = checkNonNegative(where, `outages[${i}].startMs`, w.startMs);
      const d = w.durationMs;
      if (typeof d !== "number" || Number.isNaN(d) || d < 0) einval(where, `outages[${i}].durationMs must be a number >= 0`);
      return { start: origin + start, end: origin + start + d };
    });
    this.attach();
  }

  /** True while the clock is inside a window [start, start + duration). */
  get down(): boolean {
    const t = this.clock.now();
    for (const w of this.windows) if (t >= w.start && t < w.end) return true;
    return false;
  }

  protected send(size: number, fill: Fill): boolean {
    if (!this.down) return this.passDown(size, fill);
    const frame = this.capture(size, fill);
    if (frame === undefined) return false;
    this.countTx(frame.length);
    this.drops.drop("outage");
    return true; // lost on a dead link: the sender cannot tell
  }

  protected receive(frame: Uint8Array): void {
    if (this.down) this.drops.drop("outage");
    else this.deliverUp(frame);
  }
}

/**
 * Drops every frame during the given windows (counted `outage`; `transmit`
 * still returns true, as for a cable cut further along the path).
 */
export function withOutages(netif: Netif, opts: OutagesOptions): ImpairedNetif {
  return new OutageLayer(netif, opts);
}
