/**
 * Bounded IPv4 reassembly (RFC 791 §3.2, RFC 815, RFC 1122 §3.3.2).
 *
 * Each datagram being reassembled keeps a list of its fragments sorted by
 * offset. Fragments may not overlap (RFC 5722's rule, applied to IPv4): an
 * exact duplicate (same range, same bytes) is ignored, anything else that
 * overlaps discards the whole datagram. Memory is bounded by the number of
 * datagrams, the bytes held over all of them and the fragments per datagram;
 * when a new fragment would exceed the datagram or byte bound, the oldest
 * reassemblies are evicted to make room.
 */
import type { Clock, DropCounters, Ipv4Address, Timer } from "@morgana/interfaces";
import { internetChecksum } from "@morgana/checksum";

export interface ReassemblyLimits {
  /** Datagrams reassembled at once. Default 64. */
  readonly maxDatagrams: number;
  /** Bytes held over all reassemblies (see README: payload or retained frame bytes, plus first headers). Default 1 MiB. */
  readonly maxBytes: number;
  /** Time from a datagram's first fragment to giving up. Default 30 000 ms (Linux's ipfrag_time). */
  readonly timeoutMs: number;
  /** Fragments held for one datagram. Default 64. */
  readonly maxFragmentsPerDatagram: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = {
  maxDatagrams: 64,
  maxBytes: 1 << 20,
  timeoutMs: 30_000,
  maxFragmentsPerDatagram: 64,
};

/** A fragment kept as a view when its buffer is at most this much larger; copied otherwise. */
const VIEW_SLACK = 128;

interface Fragment {
  readonly start: number;
  readonly end: number;
  readonly data: Uint8Array;
}

interface Pending {
  readonly key: string;
  readonly frags: Fragment[];
  /** Payload length, known once the last fragment (MF clear) arrived; -1 before. */
  total: number;
  /** Payload bytes received (no overlaps, so the datagram is complete when this equals total). */
  received: number;
  /** Bytes charged against the limit. */
  cost: number;
  /** A copy of the first fragment's header, once it arrived. */
  header: Uint8Array | undefined;
  /** Whether the destination was a broadcast or multicast address (no ICMP errors then). */
  readonly groupDst: boolean;
  timer: Timer | undefined;
}

/** A reassembled datagram. */
export interface Reassembled {
  /** The first fragment's header, with MF and offset cleared, total length and checksum updated. */
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
}

export interface ReassemblyEvents {
  /** A reassembly timed out; `header` and `firstPayload` when the first fragment had arrived. */
  onTimeout(header: Uint8Array | undefined, firstPayload: Uint8Array | undefined, groupDst: boolean): void;
}

export interface ReassemblyCounters {
  fragmentsReceived: number;
  fragmentDuplicates: number;
  reassembled: number;
}

/** Reassembly state for one IPv4 layer. Drops are counted in the `drops` it is given. */
export class Reassembler {
  private readonly pending = new Map<string, Pending>();
  private bytes = 0;
  private fragments = 0;
  private peak = 0;
  readonly counters: ReassemblyCounters = { fragmentsReceived: 0, fragmentDuplicates: 0, reassembled: 0 };

  constructor(
    private readonly limits: ReassemblyLimits,
    private readonly clock: Clock,
    private readonly drops: DropCounters,
    private readonly events: ReassemblyEvents,
  ) {}

  /** Datagrams being reassembled. */
  get datagrams(): number {
    return this.pending.size;
  }

  /** Bytes charged against `maxBytes` now. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Fragments held now. */
  get heldFragments(): number {
    return this.fragments;
  }

  /** The highest `heldBytes` seen. */
  get peakBytes(): number {
    return this.peak;
  }

  /**
   * Adds one fragment whose offset, length and flags already passed the
   * per-packet checks (non-last length a non-zero multiple of 8, end within
   * 65515). `header` and `payload` are views of the received packet. Returns
   * the datagram when this fragment completed it.
   */
  add(
    src: Ipv4Address,
    dst: Ipv4Address,
    protocol: number,
    id: number,
    start: number,
    more: boolean,
    header: Uint8Array,
    payload: Uint8Array,
    groupDst: boolean,
  ): Reassembled | undefined {
    const len = payload.length;
    const end = start + len;
    // Keep a view unless it would retain a much larger buffer.
    const data = payload.buffer.byteLength > len + VIEW_SLACK ? payload.slice() : payload;
    const cost = (data === payload ? payload.buffer.byteLength : len) + (start === 0 ? header.length : 0);
    if (cost > this.limits.maxBytes) {
      this.drops.drop("reassembly-limit");
      return undefined;
    }
    this.counters.fragmentsReceived++;

    const key = `${src},${dst},${protocol},${id}`;
    let p = this.pending.get(key);
    if (p === undefined) {
      while (this.pending.size >= this.limits.maxDatagrams) this.evictOldest();
      p = { key, frags: [], total: -1, received: 0, cost: 0, header: undefined, groupDst, timer: undefined };
      const created = p;
      p.timer = this.clock.setTimer(this.limits.timeoutMs, () => this.expire(created));
      this.pending.set(key, p);
    }

    const frags = p.frags;
    const last = frags[frags.length - 1];
    // The last fragment fixes the length; nothing may lie beyond it.
    if (!more) {
      if ((p.total >= 0 && p.total !== end) || (last !== undefined && last.end > end)) return this.discard(p, "fragment-inconsistent");
    } else if (p.total >= 0 && end > p.total) {
      return this.discard(p, "fragment-inconsistent");
    }

    let i = 0;
    while (i < frags.length && frags[i]!.start < start) i++;
    const next = frags[i];
    if (next !== undefined && next.start === start && next.end === end) {
      if (!sameBytes(next.data, data)) return this.discard(p, "fragment-overlap");
      this.counters.fragmentDuplicates++;
      if (!more) p.total = end;
      return this.complete(p);
    }
    const prev = frags[i - 1];
    if ((prev !== undefined && prev.end > start) || (next !== undefined && next.start < end)) return this.discard(p, "fragment-overlap");
    if (frags.length >= this.limits.maxFragmentsPerDatagram) return this.discard(p, "fragment-limit");

    // Make room: evict the oldest reassemblies (possibly this one).
    while (this.bytes + cost > this.limits.maxBytes) {
      const victim = this.oldest();
      if (victim === undefined) break;
      this.discard(victim, "reassembly-evicted");
      if (victim === p) return undefined;
    }

    frags.splice(i, 0, { start, end, data });
    p.received += len;
    p.cost += cost;
    this.bytes += cost;
    this.fragments++;
    if (this.bytes > this.peak) this.peak = this.bytes;
    if (!more) p.total = end;
    if (start === 0) p.header = header.slice();
    return this.complete(p);
  }

  /** Cancels every timer and frees every reassembly (not counted as drops). */
  clear(): void {
    for (const p of this.pending.values()) p.timer?.cancel();
    this.pending.clear();
    this.bytes = 0;
    this.fragments = 0;
  }

  private complete(p: Pending): Reassembled | undefined {
    if (p.total < 0 || p.received !== p.total || p.header === undefined) return undefined;
    this.remove(p);
    const out = new Uint8Array(p.total);
    for (const f of p.frags) out.set(f.data, f.start);
    const h = p.header;
    const hl = h.length;
    // Describe the whole datagram; the 16-bit field saturates if options made it exceed 65535.
    const total = Math.min(65535, hl + p.total);
    const ff = ((h[6]! << 8) | h[7]!) & 0xc000; // keep the reserved bit and DF; clear MF and offset
    h[2] = total >>> 8;
    h[3] = total;
    h[6] = ff >>> 8;
    h[7] = ff;
    h[10] = 0;
    h[11] = 0;
    const c = internetChecksum(h, 0, hl);
    h[10] = c >>> 8;
    h[11] = c;
    this.counters.reassembled++;
    return { header: h, payload: out };
  }

  private expire(p: Pending): void {
    if (this.pending.get(p.key) !== p) return;
    p.timer = undefined;
    this.discard(p, "reassembly-timeout");
    const first = p.frags[0];
    this.events.onTimeout(p.header, first !== undefined && first.start === 0 ? first.data : undefined, p.groupDst);
  }

  private oldest(): Pending | undefined {
    // Map iteration order is insertion order, and entries are never re-inserted.
    for (const p of this.pending.values()) return p;
    return undefined;
  }

  private evictOldest(): void {
    const p = this.oldest();
    if (p !== undefined) this.discard(p, "reassembly-evicted");
  }

  private discard(p: Pending, reason: string): undefined {
    this.remove(p);
    this.drops.drop(reason);
    return undefined;
  }

  private remove(p: Pending): void {
    if (this.pending.get(p.key) === p) this.pending.delete(p.key);
    p.timer?.cancel();
    p.timer = undefined;
    this.bytes -= p.cost;
    this.fragments -= p.frags.length;
    p.cost = 0;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
