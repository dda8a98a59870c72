/**
 * @morgana/collections — small data structures several Morgana packages need
 * on hot paths. A utility package: implementation packages may depend on it.
 */

/** A FIFO ring buffer: amortised O(1) push and shift, no array copying per shift. */
export class RingQueue<T> {
  private buf: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  private len = 0;

  get length(): number {
    return this.len;
  }

  push(x: T): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) & (this.buf.length - 1)] = x;
    this.len++;
  }

  peek(): T | undefined {
    return this.len === 0 ? undefined : this.buf[this.head];
  }

  shift(): T | undefined {
    if (this.len === 0) return undefined;
    const x = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.len--;
    return x;
  }

  /** The i-th element from the head (0 = oldest), or undefined when out of range. */
  at(i: number): T | undefined {
    return i >= 0 && i < this.len ? this.buf[(this.head + i) & (this.buf.length - 1)] : undefined;
  }

  clear(): void {
    this.buf = new Array<T | undefined>(16);
    this.head = 0;
    this.len = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.len; i++) yield this.buf[(this.head + i) & (this.buf.length - 1)] as T;
  }

  private grow(): void {
    const old = this.buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.len; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.buf = next;
    this.head = 0;
  }
}

/** Something due at a time, with a sequence number that orders equal deadlines. */
export interface Deadline {
  readonly at: number;
  readonly seq: number;
}

/** Earlier deadline first; equal deadlines in sequence order. A `less` for {@link MinHeap}. */
export function deadlineOrder(a: Deadline, b: Deadline): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * A binary min-heap ordered by `less`. For a stable order among equal keys,
 * include an insertion sequence number in the comparison.
 */
export class MinHeap<T> {
  private h: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.h.length;
  }

  peek(): T | undefined {
    return this.h[0];
  }

  push(e: T): void {
    const h = this.h;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): T | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }

  /** Keeps only the elements for which `keep` is true (O(n)), restoring the heap order. */
  filter(keep: (e: T) => boolean): void {
    const kept = this.h.filter(keep);
    this.h = [];
    for (const e of kept) this.push(e);
  }

  /** Removes and returns every element, in no particular order. */
  drain(): T[] {
    const all = this.h;
    this.h = [];
    return all;
  }
}

/**
 * Hands out zero-filled byte arrays carved from larger slabs, as Node's Buffer
 * pool does: allocating one small ArrayBuffer per packet costs more than the
 * packet's processing. Each byte of a slab is handed out once, so the arrays
 * never overlap and each owner may keep, write and pass on its own. Requests
 * above a quarter of the slab get a dedicated buffer. The cost: one retained
 * array keeps its whole slab alive (at most `slabSize` bytes per array).
 */
export class SlabAllocator {
  private slab: Uint8Array;
  private used: number;

  constructor(readonly slabSize = 32 * 1024) {
    this.slab = new Uint8Array(0);
    this.used = 0;
  }

  alloc(n: number): Uint8Array {
    if (n > this.slabSize >>> 2) return new Uint8Array(n);
    if (this.used + n > this.slab.length) {
      this.slab = new Uint8Array(this.slabSize);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + n);
    // Keep the next array 8-byte aligned, so word-wise code (checksums) stays on its fast path.
    this.used = (this.used + n + 7) & ~7;
    return out;
  }
}
