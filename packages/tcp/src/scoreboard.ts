/**
 * The sender's SACK scoreboard (RFC 6675): which bytes above SND.UNA the
 * receiver reported holding, as sorted, disjoint, non-adjacent blocks. With it
 * the connection computes `IsLost` (as a loss boundary), `pipe` and the next
 * hole to retransmit (`NextSeg` rule 1). Every operation is linear in the
 * number of blocks, which is bounded (`maxBlocks`; blocks beyond are ignored,
 * which only makes recovery more conservative).
 *
 * Sequence numbers are int32 values compared by signed difference.
 */

export class Scoreboard {
  readonly left: number[] = [];
  readonly right: number[] = [];
  /** SACKed bytes above SND.UNA. */
  sacked = 0;

  constructor(private readonly maxBlocks: number) {}

  get blocks(): number {
    return this.left.length;
  }

  clear(): void {
    this.left.length = 0;
    this.right.length = 0;
    this.sacked = 0;
  }

  /**
   * Adds the SACK blocks of an ACK (`count` pairs in `b`). Blocks that are
   * empty, end at or below `una` or above `nxt` are ignored (D-SACK or bogus).
   * Returns the bytes newly SACKed.
   */
  update(b: Int32Array, count: number, una: number, nxt: number): number {
    const before = this.sacked;
    for (let k = 0; k < count; k++) {
      let l = b[2 * k]!;
      const r = b[2 * k + 1]!;
      if (((r - l) | 0) <= 0) continue;
      if (((r - una) | 0) <= 0 || ((r - nxt) | 0) > 0) continue;
      if (((l - una) | 0) < 0) l = una;
      this.add(l, r, una);
    }
    return this.sacked - before;
  }

  private add(l: number, r: number, una: number): void {
    const L = this.left;
    const R = this.right;
    const rl = (l - una) | 0;
    const rr = (r - una) | 0;
    // First block whose right edge reaches l (blocks ending before l stay).
    let i = 0;
    while (i < L.length && ((R[i]! - una) | 0) < rl) i++;
    // Merge every block that overlaps or touches [l, r).
    let j = i;
    let nl = rl;
    let nr = rr;
    let removed = 0;
    while (j < L.length && ((L[j]! - una) | 0) <= nr) {
      const bl = (L[j]! - una) | 0;
      const br = (R[j]! - una) | 0;
      if (bl < nl) nl = bl;
      if (br > nr) nr = br;
      removed += br - bl;
      j++;
    }
    if (j === i && L.length >= this.maxBlocks) return;
    L.splice(i, j - i, (una + nl) | 0);
    R.splice(i, j - i, (una + nr) | 0);
    this.sacked += nr - nl - removed;
  }

  /** SND.UNA moved to `una`: forgets what is now cumulatively acknowledged. */
  advance(una: number): void {
    const L = this.left;
    const R = this.right;
    let drop = 0;
    while (drop < L.length && ((R[drop]! - una) | 0) <= 0) {
      this.sacked -= (R[drop]! - L[drop]!) | 0;
      drop++;
    }
    if (drop > 0) {
      L.splice(0, drop);
      R.splice(0, drop);
    }
    if (L.length > 0 && ((L[0]! - una) | 0) < 0) {
      this.sacked -= (una - L[0]!) | 0;
      L[0] = una;
    }
  }

  /** The right edge of the highest SACKed byte, or `una` when nothing is SACKed. */
  highest(una: number): number {
    return this.left.length === 0 ? una : this.right[this.right.length - 1]!;
  }

  /**
   * The loss boundary (RFC 6675 IsLost): every unSACKed byte below it counts
   * as lost, because more than (dupThresh - 1) * smss bytes, or dupThresh
   * discontiguous blocks, are SACKed above it. Returns `una` when nothing is
   * lost yet.
   */
  lossBoundary(una: number, smss: number, dupThresh: number): number {
    const L = this.left;
    const R = this.right;
    const threshold = (dupThresh - 1) * smss;
    let acc = 0;
    let count = 0;
    for (let k = L.length - 1; k >= 0; k--) {
      acc += (R[k]! - L[k]!) | 0;
      count++;
      if (acc > threshold || count >= dupThresh) return L[k]!;
    }
    return una;
  }

  /** SACKed bytes in [una, x). */
  sackedBelow(una: number, x: number): number {
    const L = this.left;
    const R = this.right;
    const rx = (x - una) | 0;
    let n = 0;
    for (let k = 0; k < L.length; k++) {
      const bl = (L[k]! - una) | 0;
      if (bl >= rx) break;
      const br = (R[k]! - una) | 0;
      n += (br < rx ? br : rx) - bl;
    }
    return n;
  }

  /**
   * The first unSACKed sequence number at or above `from` and below `limit`,
   * written to `out[0]`, with the end of its hole (capped at `limit`) in
   * `out[1]`. Returns false when there is none.
   */
  nextHole(una: number, from: number, limit: number, out: Int32Array): boolean {
    const L = this.left;
    const R = this.right;
    let p = (from - una) | 0;
    if (p < 0) p = 0;
    const lim = (limit - una) | 0;
    for (let k = 0; k <= L.length; k++) {
      if (p >= lim) return false;
      if (k === L.length) {
        out[0] = (una + p) | 0;
        out[1] = limit;
        return true;
      }
      const bl = (L[k]! - una) | 0;
      const br = (R[k]! - una) | 0;
      if (p < bl) {
        out[0] = (una + p) | 0;
        out[1] = (una + (bl < lim ? bl : lim)) | 0;
        return true;
      }
      if (p < br) p = br;
    }
    return false;
  }

  /** True when the byte at `seq` is SACKed. */
  isSacked(una: number, seq: number): boolean {
    const s = (seq - una) | 0;
    for (let k = 0; k < this.left.length; k++) {
      const bl = (this.left[k]! - una) | 0;
      const br = (this.right[k]! - una) | 0;
      if (s >= bl && s < br) return true;
      if (bl > s) return false;
    }
    return false;
  }
}
