/**
 * Injected time and randomness.
 *
 * No Morgana protocol package reads the system clock, calls `setTimeout` or
 * `Math.random`: each takes a {@link Clock} and a {@link Random}. Production
 * code passes the system ones (`@morgana/sim`'s `systemClock`, `systemRandom`);
 * tests pass a virtual clock and a seeded generator and then run hours of
 * protocol time in milliseconds, identically for the same seed.
 */
import { MorganaError } from "./errors.js";

/** A scheduled callback. */
export interface Timer {
  /**
   * Prevents the callback from running. Idempotent; calling it after the timer
   * fired, or from inside the callback, does nothing.
   */
  cancel(): void;
}

/**
 * Monotonic time and one-shot timers.
 *
 * Contract:
 * - `now()` never decreases. Its unit is milliseconds (fractions allowed); its
 *   origin is arbitrary (use differences).
 * - A timer set with delay `d` at time `t` fires at the earliest when
 *   `now() >= t + d`, exactly once unless cancelled. Negative or NaN delays
 *   count as 0.
 * - Timers with earlier deadlines fire first; timers with equal deadlines fire
 *   in the order they were set.
 * - Callbacks run outside the caller's stack (never synchronously inside
 *   `setTimer`). An exception thrown by a callback does not stop other timers.
 */
export interface Clock {
  now(): number;
  setTimer(delayMs: number, callback: () => void): Timer;
  /**
   * Milliseconds since the Unix epoch, for timestamps that leave the process
   * (pcap records, HTTP `Date`). Optional: where absent, use `now()`.
   */
  wallTime?(): number;
}

/**
 * A source of random bytes. Contract: `fill` overwrites every byte of its
 * argument; `uint32()` returns an integer in 0..2^32-1. A seeded implementation
 * returns the same sequence for the same seed and the same calls. Security-
 * relevant values (TCP initial sequence secrets, DNS query IDs, ephemeral
 * ports) come from here, so production code must pass a cryptographic source.
 */
export interface Random {
  fill(bytes: Uint8Array): void;
  uint32(): number;
}

/** An unbiased integer in `[min, maxExclusive)`; the range must be at most 2^32 wide. */
export function randomInt(random: Random, min: number, maxExclusive: number): number {
  const range = maxExclusive - min;
  if (!(range > 0) || range > 0x1_0000_0000 || !Number.isInteger(min) || !Number.isInteger(maxExclusive)) {
    throw new MorganaError("EINVAL", `randomInt: bad range [${min}, ${maxExclusive})`);
  }
  // Rejection sampling: discard the top partial bucket.
  const limit = 0x1_0000_0000 - (0x1_0000_0000 % range);
  for (;;) {
    const x = random.uint32();
    if (x < limit) return min + (x % range);
  }
}

/** A float in [0, 1) with 53 random bits. */
export function randomFloat(random: Random): number {
  const hi = random.uint32() >>> 5; // 27 bits
  const lo = random.uint32() >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

/**
 * Resolves after `ms` of the given clock. With a signal, rejects with
 * `ABORT_ERR` when it aborts (and cancels the timer).
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      timer.cancel();
      reject(abortError(signal!));
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The error Node uses for an aborted operation: code `ABORT_ERR`, the signal's reason as cause. */
export function abortError(signal?: AbortSignal): MorganaError {
  return new MorganaError("ABORT_ERR", "The operation was aborted", signal !== undefined ? { cause: signal.reason } : {});
}
