/**
 * Counters. Every layer counts what it received, sent, and dropped, and why.
 * A frame or packet that a layer refuses is never an exception: it is a drop
 * with a reason (`"checksum"`, `"truncated"`, `"not-for-us"`, ...).
 */

/** Named non-negative integer counters. */
export type Counters = Readonly<Record<string, number>>;

/** What every layer reports from `stats()`: a snapshot, not a live view. */
export interface LayerStats {
  /** Traffic counters; names are layer-specific (`rxFrames`, `txBytes`, ...). */
  readonly counters: Counters;
  /** Drops by reason. A reason that never happened may be absent. */
  readonly drops: Counters;
}

/**
 * A small helper implementations may use to keep drop counters by reason.
 * `snapshot()` returns a copy.
 */
export class DropCounters {
  private readonly byReason = new Map<string, number>();
  private total = 0;

  /** Counts `n` drops for `reason` and returns false, so `return drops.drop("x")` reads well. */
  drop(reason: string, n = 1): false {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + n);
    this.total += n;
    return false;
  }

  get(reason: string): number {
    return this.byReason.get(reason) ?? 0;
  }

  get count(): number {
    return this.total;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.byReason);
  }

  reset(): void {
    this.byReason.clear();
    this.total = 0;
  }
}
