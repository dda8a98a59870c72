import type { Clock, Timer } from "@morgana/interfaces";

export interface SystemClockOptions {
  /**
   * In Node, do not let pending timers keep the process alive (like
   * `timer.unref()`). Default false: a pending protocol timer (a TIME_WAIT,
   * a retransmission) keeps the process running, as Node's sockets do.
   */
  unref?: boolean;
}

/**
 * The real {@link Clock}: `performance.now()` (monotonic) and `setTimeout`.
 * Works in Node and browsers.
 */
export class SystemClock implements Clock {
  private readonly unref: boolean;

  constructor(opts: SystemClockOptions = {}) {
    this.unref = opts.unref ?? false;
  }

  now(): number {
    return performance.now();
  }

  wallTime(): number {
    return performance.timeOrigin + performance.now();
  }

  setTimer(delayMs: number, callback: () => void): Timer {
    const h = setTimeout(callback, delayMs > 0 ? delayMs : 0) as unknown as { unref?: () => void };
    if (this.unref) h.unref?.();
    return { cancel: () => clearTimeout(h as unknown as ReturnType<typeof setTimeout>) };
  }
}

/** The process-wide system clock (timers keep a Node process alive). */
export const systemClock: Clock = new SystemClock();
