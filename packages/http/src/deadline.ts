import type { Clock, Timer } from "@morgana/interfaces";

/**
 * One deadline at a time on an injected clock, with a lazily re-armed timer:
 * moving the deadline later (the common case: each request pushes it) costs
 * an assignment, not a timer; the armed timer fires, sees the later deadline
 * and re-arms for the rest. Moving it earlier re-arms at once. `clear()`
 * leaves the timer to fire harmlessly; `dispose()` cancels it.
 */
export class Deadline<K extends string> {
  private at = Infinity;
  private kindNow: K | null = null;
  private timer: Timer | null = null;
  private timerAt = Infinity;
  private disposed = false;

  constructor(
    private readonly clock: Clock,
    private readonly onExpire: (kind: K) => void,
  ) {}

  /** The kind of the pending deadline, or null. */
  get kind(): K | null {
    return this.kindNow;
  }

  /** Expire `ms` from now with `kind` (replacing any pending deadline). A non-finite `ms` clears it. */
  set(kind: K, ms: number): void {
    if (this.disposed) return;
    if (!(ms < Infinity)) {
      this.clear();
      return;
    }
    this.at = this.clock.now() + ms;
    this.kindNow = kind;
    if (this.at < this.timerAt) this.arm();
  }

  clear(): void {
    this.at = Infinity;
    this.kindNow = null;
  }

  dispose(): void {
    this.disposed = true;
    this.clear();
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = Infinity;
  }

  private arm(): void {
    this.timer?.cancel();
    this.timerAt = this.at;
    this.timer = this.clock.setTimer(this.at - this.clock.now(), this.fire);
  }

  private readonly fire = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.disposed || this.at === Infinity) return;
    if (this.clock.now() >= this.at) {
      const k = this.kindNow!;
      this.clear();
      this.onExpire(k);
    } else {
      this.arm();
    }
  };
}
