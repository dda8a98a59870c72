/**
 * Byte queues made of the caller's chunks.
 *
 * - {@link SendQueue}: the send buffer. Chunks are the application's own
 *   buffers (ownership passed with `write`), kept until acknowledged; a segment
 *   copies its bytes straight from them into the frame. A cursor caches where
 *   the last copy ended, so sending the next segment is O(1).
 * - {@link ChunkQueue}: a FIFO of views (received in-order data).
 *
 * Small chunks are merged on the way in (copied into one buffer), so a stream
 * of tiny writes or tiny segments costs memory in proportion to its bytes,
 * not to its number of pieces.
 */

/** Chunks below this many bytes are copied into a shared tail buffer. */
export const SMALL_CHUNK = 512;
/** The size of that tail buffer. */
export const MERGE_LIMIT = 4096;

/** A FIFO ring of byte chunks. */
export class ChunkQueue {
  private ring: (Uint8Array | undefined)[] | undefined;
  private head = 0;
  count = 0;
  /** Total bytes queued. */
  bytes = 0;
  /** The buffer small chunks are copied into, and how much of it is used. */
  private tail: Uint8Array | undefined;
  private tailUsed = 0;

  /** The i-th chunk from the head. The caller checks 0 <= i < count. */
  at(i: number): Uint8Array {
    const r = this.ring!;
    return r[(this.head + i) & (r.length - 1)]!;
  }

  push(c: Uint8Array): void {
    const n = c.length;
    if (n === 0) return;
    this.bytes += n;
    let r = this.ring;
    if (r === undefined) r = this.ring = new Array<Uint8Array | undefined>(8);
    if (n < SMALL_CHUNK) {
      const t = this.tail;
      if (t !== undefined && this.count > 0 && this.tailUsed + n <= t.length) {
        const li = (this.head + this.count - 1) & (r.length - 1);
        const last = r[li]!;
        // Append to the tail buffer when the last chunk is its used part.
        if (last.buffer === t.buffer && last.byteOffset + last.length === t.byteOffset + this.tailUsed) {
          t.set(c, this.tailUsed);
          this.tailUsed += n;
          r[li] = new Uint8Array(t.buffer, last.byteOffset, last.length + n);
          return;
        }
      }
      const nt = new Uint8Array(MERGE_LIMIT);
      nt.set(c, 0);
      this.tail = nt;
      this.tailUsed = n;
      c = nt.subarray(0, n);
    }
    if (this.count === r.length) r = this.grow();
    r[(this.head + this.count) & (r.length - 1)] = c;
    this.count++;
  }

  shift(): Uint8Array | undefined {
    if (this.count === 0) return undefined;
    const r = this.ring!;
    const c = r[this.head]!;
    r[this.head] = undefined;
    this.head = (this.head + 1) & (r.length - 1);
    this.count--;
    this.bytes -= c.length;
    return c;
  }

  /** Replaces the head chunk (after a partial consumption). */
  replaceHead(c: Uint8Array): void {
    const r = this.ring!;
    this.bytes += c.length - r[this.head]!.length;
    r[this.head] = c;
  }

  /**
   * Removes and returns up to `max` bytes from the front: the head chunk
   * itself when it is all that is asked for (zero copy), otherwise one new
   * buffer holding several chunks.
   */
  take(max: number): Uint8Array | undefined {
    if (this.count === 0) return undefined;
    const first = this.at(0);
    if (this.count === 1 || first.length >= max) {
      if (first.length <= max) return this.shift();
      this.replaceHead(first.subarray(max));
      return first.subarray(0, max);
    }
    const n = Math.min(max, this.bytes);
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const c = this.at(0);
      const k = Math.min(c.length, n - o);
      if (k === c.length) {
        out.set(c, o);
        this.shift();
      } else {
        out.set(c.subarray(0, k), o);
        this.replaceHead(c.subarray(k));
      }
      o += k;
    }
    return out;
  }

  clear(): void {
    this.ring = undefined;
    this.tail = undefined;
    this.tailUsed = 0;
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
  }

  private grow(): (Uint8Array | undefined)[] {
    const old = this.ring!;
    const next = new Array<Uint8Array | undefined>(old.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    for (let i = this.count; i < next.length; i++) next[i] = undefined;
    this.ring = next;
    this.head = 0;
    return next;
  }
}

/**
 * The send buffer: bytes from SND.UNA onward, as a queue of chunks (a
 * ChunkQueue itself, so a connection holds one object). Offsets are relative
 * to SND.UNA (offset 0 is the oldest unacknowledged byte).
 */
export class SendQueue extends ChunkQueue {
  /** Bytes of the head chunk already acknowledged. */
  private headOff = 0;
  /** Cursor: chunk index (from the head) and the offset (relative to SND.UNA) where it starts. */
  private cIdx = 0;
  private cStart = 0;

  /** Bytes queued (unacknowledged and unsent). */
  get size(): number {
    return this.bytes - this.headOff;
  }

  /** Chunks held (for tests of the merging). */
  get chunks(): number {
    return this.count;
  }

  /** Drops `n` acknowledged bytes from the front. */
  ack(n: number): void {
    if (n <= 0) return;
    let off = this.headOff + n;
    let popped = 0;
    while (this.count > 0 && off >= this.at(0).length) {
      off -= this.at(0).length;
      this.shift();
      popped++;
    }
    this.headOff = this.count === 0 ? 0 : off;
    this.cIdx -= popped;
    this.cStart -= n;
    if (this.cIdx < 0) {
      this.cIdx = 0;
      this.cStart = -this.headOff;
    }
  }

  /** Copies `len` bytes starting `off` bytes after SND.UNA into `dst` at `at`. The caller checks the range. */
  copy(off: number, len: number, dst: Uint8Array, at: number): void {
    let idx: number;
    let start: number;
    if (this.cIdx < this.count && off >= this.cStart) {
      idx = this.cIdx;
      start = this.cStart;
    } else {
      idx = 0;
      start = -this.headOff;
    }
    let c = this.at(idx);
    while (start + c.length <= off) {
      start += c.length;
      idx++;
      c = this.at(idx);
    }
    let p = off - start;
    for (;;) {
      const n = Math.min(c.length - p, len);
      if (p === 0 && n === c.length) dst.set(c, at);
      else dst.set(c.subarray(p, p + n), at);
      at += n;
      len -= n;
      if (len === 0) {
        // Leave the cursor on this chunk, or on the next when this one is used up.
        if (p + n === c.length && idx + 1 < this.count) {
          this.cIdx = idx + 1;
          this.cStart = start + c.length;
        } else {
          this.cIdx = idx;
          this.cStart = start;
        }
        return;
      }
      start += c.length;
      idx++;
      c = this.at(idx);
      p = 0;
    }
  }

  override clear(): void {
    super.clear();
    this.headOff = 0;
    this.cIdx = 0;
    this.cStart = 0;
  }
}
