/**
 * The default {@link Clock} of the socket stack: the host's monotonic time and
 * `setTimeout`. The stack uses timers only for the connect timeout and the
 * close (FIN-WAIT) timeout; both come from the injected clock, as in every
 * Morgana package, so a test may pass its own.
 */
import { performance } from "node:perf_hooks";
import type { Clock, Timer } from "@morgana/interfaces";

export const hostClock: Clock = {
  now: () => performance.now(),
  setTimer(delayMs: number, callback: () => void): Timer {
    const d = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    let done = false;
    const t = setTimeout(() => {
      if (done) return;
      done = true;
      callback();
    }, d);
    return {
      cancel() {
        if (done) return;
        done = true;
        clearTimeout(t);
      },
    };
  },
  wallTime: () => Date.now(),
};
