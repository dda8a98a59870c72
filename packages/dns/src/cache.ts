/**
 * The stub resolver's cache: answers by (name, type), bounded, least recently
 * used first out, each entry living for its TTL as measured by the injected
 * clock. Negative answers (NXDOMAIN, NODATA) live for their RFC 2308 TTL.
 */
import type { Clock } from "@morgana/interfaces";

export interface DnsCacheOptions {
  /** Entries kept (each one answer: a question's RRset, CNAME chain or negative answer). Default 1000. */
  readonly maxEntries?: number;
  /** Positive TTLs are capped at this many seconds (default 86,400: one day). */
  readonly maxTtl?: number;
  /** Negative TTLs are capped at this many seconds (default 10,800: three hours, RFC 2308 §5). */
  readonly maxNegativeTtl?: number;
}

export const DEFAULT_CACHE_ENTRIES = 1000;
export const DEFAULT_MAX_TTL = 86_400;
export const DEFAULT_MAX_NEGATIVE_TTL = 10_800;

interface Entry<V> {
  readonly value: V;
  readonly storedAt: number;
  readonly expiresAt: number;
}

/** A TTL-honouring LRU map. `get` refreshes recency; expired entries are removed when met. */
export class TtlCache<V> {
  readonly maxEntries: number;
  private readonly map = new Map<string, Entry<V>>();

  constructor(
    private readonly clock: Clock,
    maxEntries: number,
  ) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.map.size;
  }

  /** The value and the milliseconds since it was stored, or undefined when absent or expired. */
  get(key: string): { value: V; ageMs: number } | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    const now = this.clock.now();
    if (now >= e.expiresAt) {
      this.map.delete(key);
      return undefined;
    }
    this.map.delete(key);
    this.map.set(key, e);
    return { value: e.value, ageMs: now - e.storedAt };
  }

  /** Stores `value` for `ttlSeconds` (nothing is stored for a TTL of 0 or less). */
  set(key: string, value: V, ttlSeconds: number): void {
    if (!(ttlSeconds > 0) || this.maxEntries === 0) return;
    const now = this.clock.now();
    this.map.delete(key);
    while (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value);
    }
    this.map.set(key, { value, storedAt: now, expiresAt: now + ttlSeconds * 1000 });
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}
