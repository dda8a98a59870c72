import { deadlineOrder, MinHeap } from "@morgana/collections";
import type { Clock, Timer } from "@morgana/interfaces";
import { scheduleMacrotask, settle, type Macrotask } from "./settle.js";

interface Entry {
  at: number;
  seq: number;
  callback: (() => void) | undefined; // undefined once fired or cancelled
}

export interface VirtualClockOptions {
  /** The initial value of `now()`, default 0. */
  start?: number;
  /** What `wallTime()` returns at `now() === start`; default 0 (the Unix epoch). */
  epochMs?: number;
}

export interface RunLimits {
  /** Stop (with an error) when virtual time would pass `now() + maxTimeMs`. Default 7 days. */
  maxTimeMs?: number;
  /** Stop (with an error) after this many timer callbacks. Default 10 million. */
  maxTimers?: number;
}

export interface AutoAdvanceOptions {
  /**
   * Receives the exception a timer callback threw (the first of each group of
   * equal deadlines; the other timers of the group still run). Default: it is
   * rethrown from the macrotask, which makes it an uncaught exception (a test
   * runner reports it), after the driver has scheduled its next turn.
   */
  onError?: (err: unknown) => void;
}

/** The handle {@link VirtualClock.autoAdvance} returns. */
export interface AutoAdvance {
  /** Stops the driver: time no longer moves by itself. Idempotent. */
  stop(): void;
}

interface AutoDriver {
  readonly onError: ((err: unknown) => void) | undefined;
  task: Macrotask | undefined;
}

/**
 * A {@link Clock} whose time moves only when the test says so.
 *
 * - `now()` starts at `start` and changes only inside `advance*`/`run*`.
 * - Timers fire in deadline order; equal deadlines fire in the order they were
 *   set (a sequence number breaks ties), so a run is reproducible.
 * - A timer set while timers are firing, with a deadline inside the window
 *   being advanced, fires in the same call.
 * - The synchronous methods (`advanceSync`, `runUntilIdleSync`, `fireNextSync`)
 *   run callbacks only. The asynchronous ones (`advance`, `runUntilIdle`,
 *   `runUntil`) also let promise chains and queued microtasks settle before
 *   and after each group of equal deadlines, which is what async protocol code
 *   needs to make progress between timers.
 * - An exception from a callback does not stop the others; the first one is
 *   rethrown when the current `advance*`/`run*` call returns.
 * - {@link VirtualClock.autoAdvance} makes time move by itself, for code that
 *   cannot drive the clock (a test suite written against real time).
 */
export class VirtualClock implements Clock {
  private t: number;
  private readonly epoch: number;
  private readonly start: number;
  private readonly heap = new MinHeap<Entry>(deadlineOrder);
  private seq = 0;
  private live = 0;
  private fired = 0;
  private auto: AutoDriver | undefined;

  constructor(opts: VirtualClockOptions = {}) {
    this.t = opts.start ?? 0;
    this.start = this.t;
    this.epoch = opts.epochMs ?? 0;
  }

  now(): number {
    return this.t;
  }

  wallTime(): number {
    return this.epoch + (this.t - this.start);
  }

  setTimer(delayMs: number, callback: () => void): Timer {
    const d = delayMs > 0 ? delayMs : 0; // NaN and negatives count as 0
    const e: Entry = { at: this.t + d, seq: this.seq++, callback };
    this.heap.push(e);
    this.live++;
    if (this.auto !== undefined) this.wakeAuto();
    return {
      cancel: () => {
        if (e.callback !== undefined) {
          e.callback = undefined;
          this.live--;
          // Cancelled entries leave the heap lazily; compact when they dominate it.
          if (this.heap.size > 1024 && this.heap.size > 4 * this.live) this.heap.filter((x) => x.callback !== undefined);
        }
      },
    };
  }

  /** Timers set and neither fired nor cancelled. */
  get pendingTimers(): number {
    return this.live;
  }

  /** Timer callbacks run so far. */
  get firedTimers(): number {
    return this.fired;
  }

  /** The deadline of the earliest live timer, or undefined when none is pending. */
  nextDeadline(): number | undefined {
    this.dropDead();
    return this.heap.peek()?.at;
  }

  /** Sets time to the earliest deadline and fires every timer due then. False when no timer is pending. */
  fireNextSync(): boolean {
    const at = this.nextDeadline();
    if (at === undefined) return false;
    this.fireDue(at);
    return true;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, without settling promises. */
  advanceSync(ms: number): void {
    this.advanceToSync(this.t + Math.max(0, ms));
  }

  advanceToSync(target: number): void {
    let first: unknown;
    let failed = false;
    for (;;) {
      const at = this.nextDeadline();
      if (at === undefined || at > target) break;
      try {
        this.fireDue(at);
      } catch (e) {
        if (!failed) (first = e), (failed = true);
      }
    }
    if (target > this.t) this.t = target;
    if (failed) throw first;
  }

  /** Fires timers until none is pending, synchronously. */
  runUntilIdleSync(limits: RunLimits = {}): void {
    const { maxTime, maxTimers } = this.limits(limits);
    let first: unknown;
    let failed = false;
    for (;;) {
      const at = this.nextDeadline();
      if (at === undefined) break;
      this.checkLimits(at, maxTime, maxTimers);
      try {
        this.fireDue(at);
      } catch (e) {
        if (!failed) (first = e), (failed = true);
      }
    }
    if (failed) throw first;
  }

  /** Moves time forward by `ms`, firing due timers and letting promises settle around each. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.t + Math.max(0, ms));
  }

  async advanceTo(target: number): Promise<void> {
    await this.runLoop(() => false, target, {});
    if (target > this.t) this.t = target;
    await settle();
  }

  /**
   * Settles promises and fires timers until nothing is pending. Throws when the
   * limits are exceeded (a periodic timer never lets the clock go idle).
   */
  async runUntilIdle(limits: RunLimits = {}): Promise<void> {
    await this.runLoop(() => false, Infinity, limits);
  }

  /**
   * Settles promises and fires timers until `done()` returns true (checked
   * after every settle). Throws when no timer is left and `done()` is still
   * false, or when the limits are exceeded.
   */
  async runUntil(done: () => boolean, limits: RunLimits = {}): Promise<void> {
    const ok = await this.runLoop(done, Infinity, limits);
    if (!ok) throw new Error(`VirtualClock.runUntil: condition not met and no timer pending (now=${this.t})`);
  }

  /**
   * Makes virtual time move by itself until `stop()` is called: on every
   * macrotask turn of the host's event loop (`setImmediate` in Node, a
   * `MessageChannel` message in browsers, as {@link settle}), the driver sets
   * `now()` to the earliest pending deadline and fires every timer due then
   * (one group of equal deadlines per turn). Since a macrotask runs only once
   * the microtask queue is empty, promise chains settle between two groups:
   * virtual time jumps ahead whenever the process has nothing else to do,
   * and ordinary async code (a test suite that awaits events, a protocol
   * waiting for a retransmission timer) runs on the virtual clock unchanged.
   *
   * - Time never moves past the earliest pending deadline, and never while no
   *   timer is pending: the driver then keeps no macrotask scheduled (it does
   *   not spin, and does not keep a Node process alive) and wakes up when the
   *   next timer is set.
   * - Explicit `advance*`/`run*` calls may be mixed with it.
   * - Timers set with equal deadlines still fire in the order they were set.
   * - Real I/O (sockets, files) is not waited for: virtual time may run ahead
   *   of a reply that travels through the host, so use it with in-memory
   *   networks (vnetif) only.
   *
   * Throws when a driver is already running on this clock.
   */
  autoAdvance(opts: AutoAdvanceOptions = {}): AutoAdvance {
    if (this.auto !== undefined) throw new Error("VirtualClock.autoAdvance: already advancing automatically (stop() the running driver first)");
    const driver: AutoDriver = { onError: opts.onError, task: undefined };
    this.auto = driver;
    this.wakeAuto();
    return {
      stop: () => {
        if (this.auto !== driver) return;
        driver.task?.cancel();
        driver.task = undefined;
        this.auto = undefined;
      },
    };
  }

  /** True while an {@link autoAdvance} driver is running. */
  get autoAdvancing(): boolean {
    return this.auto !== undefined;
  }

  /** Schedules the driver's next turn when a timer is pending and none is scheduled. */
  private wakeAuto(): void {
    const d = this.auto;
    if (d === undefined || d.task !== undefined || this.live === 0) return;
    d.task = scheduleMacrotask(() => this.autoTurn(d));
  }

  private autoTurn(d: AutoDriver): void {
    d.task = undefined;
    if (this.auto !== d) return;
    let failed = false;
    let error: unknown;
    const at = this.nextDeadline();
    if (at !== undefined) {
      try {
        this.fireDue(at);
      } catch (e) {
        failed = true;
        error = e;
      }
    }
    this.wakeAuto();
    if (failed) {
      if (d.onError !== undefined) d.onError(error);
      else throw error;
    }
  }

  private async runLoop(done: () => boolean, target: number, limits: RunLimits): Promise<boolean> {
    const { maxTime, maxTimers } = this.limits(limits);
    let first: unknown;
    let failed = false;
    try {
      for (;;) {
        await settle();
        if (done()) return true;
        const at = this.nextDeadline();
        if (at === undefined || at > target) return false;
        this.checkLimits(at, maxTime, maxTimers);
        try {
          this.fireDue(at);
        } catch (e) {
          if (!failed) (first = e), (failed = true);
        }
      }
    } finally {
      if (failed) throw first; // eslint-disable-line no-unsafe-finally
    }
  }

  private limits(l: RunLimits): { maxTime: number; maxTimers: number } {
    return { maxTime: this.t + (l.maxTimeMs ?? 7 * 24 * 3600_000), maxTimers: this.fired + (l.maxTimers ?? 10_000_000) };
  }

  private checkLimits(at: number, maxTime: number, maxTimers: number): void {
    if (at > maxTime) throw new Error(`VirtualClock: still busy at the time limit (next deadline ${at} > ${maxTime}; ${this.live} timers pending)`);
    if (this.fired >= maxTimers) throw new Error(`VirtualClock: still busy after ${this.fired} timer callbacks`);
  }

  /** Fires every live timer with deadline <= at (including ones set meanwhile). */
  private fireDue(at: number): void {
    if (at > this.t) this.t = at;
    let first: unknown;
    let failed = false;
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined || top.at > at) break;
      this.heap.pop();
      const cb = top.callback;
      if (cb === undefined) continue;
      top.callback = undefined;
      this.live--;
      this.fired++;
      try {
        cb();
      } catch (e) {
        if (!failed) (first = e), (failed = true);
      }
    }
    if (failed) throw first;
  }

  private dropDead(): void {
    while (this.heap.size > 0 && this.heap.peek()!.callback === undefined) this.heap.pop();
  }
}
