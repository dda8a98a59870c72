/**
 * The receiver's out-of-order store: data that arrived above RCV.NXT, kept as
 * sorted, disjoint, non-adjacent ranges of chunks (views of the received
 * frames; small pieces are copied). Bounded by the number of ranges (a
 * segment that would need one more is dropped and counted) and, through the
 * advertised window, by bytes. It also remembers which ranges changed most
 * recently, for the SACK option (RFC 2018 §4: the first block reports the
 * latest segment, the others the most recently reported ranges).
 *
 * Sequence numbers are int32 values compared by signed difference.
 */
import { ChunkQueue } from "./buffers.js";

export class OooRange {
  readonly data = new ChunkQueue();
  constructor(
    public start: number,
    public end: number,
  ) {}
}

/** How many recently changed ranges are remembered for SACK. */
const RECENT = 4;

export class Reassembly {
  readonly ranges: OooRange[] = [];
  /** Bytes stored. */
  bytes = 0;
  /** Sequence numbers of recently stored data, newest first (for SACK). */
  private readonly recent: number[] = [];

  constructor(private readonly maxRanges: number) {}

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  /**
   * Stores the bytes of `data` (which starts at `seq`) not already held.
   * `base` is RCV.NXT; the caller has trimmed `data` to the window and to
   * start at or above `base`. Returns the number of new bytes stored.
   */
  insert(seq: number, data: Uint8Array, base: number): number {
    const r = this.ranges;
    const s = (seq - base) | 0;
    const e = s + data.length;
    // The first range that ends above s (scan from the end: most data arrives in order).
    let i = r.length;
    while (i > 0 && ((r[i - 1]!.end - base) | 0) > s) i--;
    let pos = s;
    let stored = 0;
    let firstStored = -1;
    while (pos < e) {
      if (i < r.length && ((r[i]!.start - base) | 0) <= pos) {
        const end = (r[i]!.end - base) | 0;
        if (end > pos) pos = end;
        i++;
        continue;
      }
      const gapEnd = i < r.length ? Math.min(e, (r[i]!.start - base) | 0) : e;
      const piece = pos === s && gapEnd === e ? data : data.subarray(pos - s, gapEnd - s);
      const pieceSeq = (base + pos) | 0;
      const prev = i > 0 ? r[i - 1]! : undefined;
      const next = i < r.length ? r[i]! : undefined;
      if (prev !== undefined && ((prev.end - base) | 0) === pos) {
        prev.data.push(piece);
        prev.end = (base + gapEnd) | 0;
        if (next !== undefined && ((next.start - base) | 0) === gapEnd) {
          this.absorb(prev, next);
          r.splice(i, 1);
        }
        pos = (prev.end - base) | 0;
      } else if (next !== undefined && ((next.start - base) | 0) === gapEnd) {
        const nr = new OooRange(pieceSeq, (base + gapEnd) | 0);
        nr.data.push(piece);
        this.absorb(nr, next);
        r[i] = nr;
        i++;
        pos = (nr.end - base) | 0;
      } else {
        if (r.length >= this.maxRanges) break;
        const nr = new OooRange(pieceSeq, (base + gapEnd) | 0);
        nr.data.push(piece);
        r.splice(i, 0, nr);
        i++;
        pos = gapEnd;
      }
      if (firstStored < 0) firstStored = pieceSeq;
      stored += gapEnd - ((pieceSeq - base) | 0);
    }
    if (stored > 0) {
      this.bytes += stored;
      this.noteRecent(firstStored);
    }
    return stored;
  }

  /** Appends `b`'s data to `a` and extends `a` to `b`'s end. */
  private absorb(a: OooRange, b: OooRange): void {
    for (let k = 0; k < b.data.count; k++) a.data.push(b.data.at(k));
    a.end = b.end;
  }

  private noteRecent(seq: number): void {
    const rec = this.recent;
    rec.unshift(seq);
    if (rec.length > RECENT) rec.length = RECENT;
  }

  /** Removes and returns the first range when it starts at or below `base` (RCV.NXT). */
  takeFirst(base: number): OooRange | undefined {
    const f = this.ranges[0];
    if (f === undefined || ((f.start - base) | 0) > 0) return undefined;
    this.ranges.shift();
    this.bytes -= (f.end - f.start) | 0;
    return f;
  }

  /** The sequence number where the first range starts, or undefined. */
  firstStart(): number | undefined {
    return this.ranges[0]?.start;
  }

  /**
   * Writes up to `max` SACK blocks (left, right pairs) into `out` and returns
   * how many: the range holding the most recent arrival first, then the
   * others in order of recency, then any remaining ranges from the highest.
   */
  sackBlocks(out: Int32Array, max: number): number {
    const r = this.ranges;
    let n = 0;
    const rec = this.recent;
    for (let k = 0; k < rec.length && n < max; k++) {
      const x = rec[k]!;
      const range = this.find(x);
      if (range === undefined) {
        rec.splice(k, 1);
        k--;
        continue;
      }
      let dup = false;
      for (let j = 0; j < n; j++) if (out[2 * j] === range.start) dup = true;
      if (dup) continue;
      out[2 * n] = range.start;
      out[2 * n + 1] = range.end;
      n++;
    }
    for (let k = r.length - 1; k >= 0 && n < max; k--) {
      const range = r[k]!;
      let dup = false;
      for (let j = 0; j < n; j++) if (out[2 * j] === range.start) dup = true;
      if (dup) continue;
      out[2 * n] = range.start;
      out[2 * n + 1] = range.end;
      n++;
    }
    return n;
  }

  private find(seq: number): OooRange | undefined {
    for (const range of this.ranges) {
      if (((seq - range.start) | 0) >= 0 && ((seq - range.end) | 0) < 0) return range;
    }
    return undefined;
  }

  clear(): void {
    this.ranges.length = 0;
    this.recent.length = 0;
    this.bytes = 0;
  }
}
