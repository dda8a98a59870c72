import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChunkQueue, Reassembly, Scoreboard, SendQueue, SynCookies, cookieMssIndex, COOKIE_MSS_TABLE, siphash24, siphash3u32, siphash4u32 } from "../src/index.js";

/** An independent SipHash-2-4 on BigInt, straight from the paper. */
function refSiphash(key: Uint8Array, msg: Uint8Array): bigint {
  const M = (1n << 64n) - 1n;
  const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M;
  const le = (b: Uint8Array, o: number) => {
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[o + i] ?? 0);
    return v;
  };
  const k0 = le(key, 0);
  const k1 = le(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & M; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & M; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & M; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const n = msg.length;
  for (let i = 0; i + 8 <= n; i += 8) {
    const m = le(msg, i);
    v3 ^= m; round(); round(); v0 ^= m;
  }
  const tail = new Uint8Array(8);
  tail.set(msg.subarray(n - (n % 8)));
  tail[7] = n & 0xff;
  const b = le(tail, 0);
  v3 ^= b; round(); round(); v0 ^= b;
  v2 ^= 0xffn;
  round(); round(); round(); round();
  return (v0 ^ v1 ^ v2 ^ v3) & M;
}

const keyWords = (k: Uint8Array) => new Uint32Array(k.buffer.slice(k.byteOffset, k.byteOffset + 16));

describe("SipHash-2-4", () => {
  it("matches the reference vectors of the paper (key 00..0f, message 00..n−1)", () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i);
    const expected: Record<number, string> = { 0: "310e0edd47db6f72", 1: "fd67dc93c539f874", 8: "6224939a79f5f593", 15: "e545be4961ca29a1" };
    for (const [len, hex] of Object.entries(expected)) {
      const out = new Uint32Array(2);
      siphash24(keyWords(key), Uint8Array.from({ length: Number(len) }, (_, i) => i), out);
      const bytesLe = new Uint8Array(out.buffer);
      expect(Array.from(bytesLe, (b) => b.toString(16).padStart(2, "0")).join("")).toBe(hex);
    }
  });

  it("agrees with a BigInt implementation on random keys and messages, and the word helpers agree with the byte form", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 40 }), fc.nat(), fc.nat(), fc.nat(), fc.nat(), (key, msg, a, b, c, d) => {
        const out = new Uint32Array(2);
        siphash24(keyWords(key), msg, out);
        const ref = refSiphash(key, msg);
        expect(out[0]).toBe(Number(ref & 0xffffffffn));
        expect(out[1]).toBe(Number(ref >> 32n));
        const w = new Uint8Array(16);
        const dv = new DataView(w.buffer);
        [a, b, c, d].forEach((x, i) => dv.setUint32(i * 4, x >>> 0, true));
        expect(siphash3u32(keyWords(key), a, b, c)).toBe(siphash24(keyWords(key), w.subarray(0, 12)));
        expect(siphash4u32(keyWords(key), a, b, c, d)).toBe(siphash24(keyWords(key), w));
      }),
    );
  });
});

describe("SYN cookies", () => {
  const k1 = new Uint32Array([1, 2, 3, 4]);
  const k2 = new Uint32Array([5, 6, 7, 8]);
  it("validate for the minute they were made in and the next two, not later, and carry the MSS index", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(), fc.integer({ min: -2147483648, max: 2147483647 }), fc.nat(7), fc.integer({ min: 0, max: 1e9 }), (la, ra, ports, isn, idx, now) => {
        const c = new SynCookies(k1, k2);
        const cookie = c.make(la, ra, ports, isn, now, idx);
        expect(c.check(la, ra, ports, isn, cookie, now)).toBe(idx);
        expect(c.check(la, ra, ports, isn, cookie, now + 119_000 - (now % 60_000))).toBe(idx);
        expect(c.check(la, ra, ports, isn, cookie, now + 180_000)).toBe(-1);
        // Another 4-tuple or client ISN: (almost surely) invalid.
        expect(c.check(la, ra, (ports + 1) >>> 0, isn, cookie, now)).toBe(-1);
        // The low 24 bits are additive (as in Linux): a shifted cookie decodes to another index, never the same.
        expect(c.check(la, ra, ports, isn, (cookie + 8) | 0, now)).toBe(-1);
        expect(c.check(la, ra, ports, (isn - 1) | 0, cookie, now)).not.toBe(idx);
        // Another secret: invalid.
        expect(new SynCookies(new Uint32Array([9, 10, 11, 12]), new Uint32Array([13, 14, 15, 16])).check(la, ra, ports, isn, cookie, now)).toBe(-1);
      }),
    );
  });

  it("round the peer's MSS down to the table", () => {
    expect(COOKIE_MSS_TABLE[cookieMssIndex(1460)]).toBe(1460);
    expect(COOKIE_MSS_TABLE[cookieMssIndex(1459)]).toBe(1440);
    expect(COOKIE_MSS_TABLE[cookieMssIndex(100)]).toBe(536);
    expect(COOKIE_MSS_TABLE[cookieMssIndex(65495)]).toBe(8960);
  });
});

describe("send queue", () => {
  it("copies any range after acknowledgments, like a flat array (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 3000 }), { maxLength: 30 }),
        fc.array(fc.tuple(fc.constantFrom("ack", "copy"), fc.nat(), fc.nat()), { maxLength: 40 }),
        (chunks, ops) => {
          const q = new SendQueue();
          const flat: number[] = [];
          for (const c of chunks) {
            q.push(c);
            flat.push(...c);
          }
          let base = 0;
          for (const [op, x, y] of ops) {
            const avail = flat.length - base;
            expect(q.size).toBe(avail);
            if (avail === 0) break;
            if (op === "ack") {
              const n = x % (avail + 1);
              q.ack(n);
              base += n;
            } else {
              const off = x % avail;
              const len = 1 + (y % (avail - off));
              const dst = new Uint8Array(len + 4);
              q.copy(off, len, dst, 2);
              expect(Array.from(dst.subarray(2, 2 + len))).toEqual(flat.slice(base + off, base + off + len));
            }
          }
        },
      ),
    );
  });

  it("merges small writes into shared buffers (memory in proportion to bytes)", () => {
    const q = new SendQueue();
    for (let i = 0; i < 10_000; i++) q.push(new Uint8Array([i & 255]));
    expect(q.size).toBe(10_000);
    expect(q.chunks).toBeLessThanOrEqual(3);
    const dst = new Uint8Array(10_000);
    q.copy(0, 10_000, dst, 0);
    expect(dst[4097]).toBe(4097 & 255);
  });

  it("ChunkQueue.take returns the head chunk without copying when it suffices, or merges", () => {
    const q = new ChunkQueue();
    const a = new Uint8Array(1000).fill(1);
    q.push(a);
    expect(q.take(5000)).toBe(a);
    q.push(new Uint8Array(1000).fill(2));
    q.push(new Uint8Array(1000).fill(3));
    const m = q.take(1500)!;
    expect(m.length).toBe(1500);
    expect(m[999]).toBe(2);
    expect(m[1000]).toBe(3);
    expect(q.bytes).toBe(500);
  });
});

describe("out-of-order store", () => {
  it("reassembles arbitrary overlapping pieces into the right bytes (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1999), fc.integer({ min: 1, max: 400 })), { minLength: 1, maxLength: 60 }), fc.integer({ min: -2147483648, max: 2147483647 }), (pieces, base) => {
        const r = new Reassembly(1000);
        const data = Uint8Array.from({ length: 2000 }, (_, i) => (i * 13) & 255);
        const have = new Uint8Array(2000);
        for (const [off, len] of pieces) {
          if (off === 0) continue; // data at RCV.NXT is delivered directly by the connection
          const end = Math.min(2000, off + len);
          const stored = r.insert((base + off) | 0, data.subarray(off, end), base);
          let fresh = 0;
          for (let i = off; i < end; i++) if (!have[i]) (fresh++, (have[i] = 1));
          expect(stored).toBe(fresh);
        }
        // Ranges are sorted, disjoint, non-adjacent, and hold exactly the received bytes.
        let last = -1;
        for (const range of r.ranges) {
          const s = (range.start - base) | 0;
          const e = (range.end - base) | 0;
          expect(s).toBeGreaterThan(last);
          last = e;
          const got: number[] = [];
          for (let k = 0; k < range.data.count; k++) got.push(...range.data.at(k));
          expect(got).toEqual(Array.from(data.subarray(s, e)));
          for (let i = s; i < e; i++) expect(have[i]).toBe(1);
        }
        expect(r.bytes).toBe(have.reduce((a, b) => a + b, 0));
        // SACK blocks are ranges we hold, distinct, the first one the most recent arrival.
        const blocks = new Int32Array(8);
        const n = r.sackBlocks(blocks, 4);
        expect(n).toBe(Math.min(4, r.ranges.length));
        const starts = new Set<number>();
        for (let k = 0; k < n; k++) {
          expect(r.ranges.some((x) => x.start === blocks[2 * k] && x.end === blocks[2 * k + 1])).toBe(true);
          starts.add(blocks[2 * k]!);
        }
        expect(starts.size).toBe(n);
      }),
    );
  });
});

describe("SACK scoreboard", () => {
  it("matches a byte-map model: sacked bytes, holes, loss boundary (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -2147483648, max: 2147483647 }),
        fc.array(fc.tuple(fc.nat(4999), fc.integer({ min: 1, max: 800 })), { maxLength: 30 }),
        fc.nat(4999),
        (una0, blocks, advanceBy) => {
          const N = 5000;
          const smss = 100;
          const sb = new Scoreboard(1000);
          const map = new Uint8Array(N);
          const b = new Int32Array(8);
          for (const [l, len] of blocks) {
            const r = Math.min(N, l + len);
            b[0] = (una0 + l) | 0;
            b[1] = (una0 + r) | 0;
            sb.update(b, 1, una0, (una0 + N) | 0);
            map.fill(1, l, r);
          }
          const sum = (from: number) => map.subarray(from).reduce((a, x) => a + x, 0);
          expect(sb.sacked).toBe(sum(0));
          // Holes: nextHole walks the unSACKed bytes.
          const out = new Int32Array(2);
          let p = 0;
          while (sb.nextHole(una0, (una0 + p) | 0, (una0 + N) | 0, out)) {
            const s = (out[0]! - una0) | 0;
            const e = (out[1]! - una0) | 0;
            expect(map[s]).toBe(0);
            for (let i = p; i < s; i++) expect(map[i]).toBe(1);
            for (let i = s; i < e; i++) expect(map[i]).toBe(0);
            if (e < N) expect(map[e]).toBe(1);
            p = e;
          }
          for (let i = p; i < N; i++) expect(map[i]).toBe(1);
          // Loss boundary: every unSACKed byte below it has > 2·smss SACKed bytes or ≥ 3 blocks above.
          const lb = (sb.lossBoundary(una0, smss, 3) - una0) | 0;
          const blocksAbove = (from: number) => {
            let n = 0;
            for (let i = from; i < N; i++) if (map[i] && (i === 0 || !map[i - 1] || i === from)) n++;
            return n;
          };
          for (let i = 0; i < lb; i++) if (!map[i]) expect(sum(i) > 2 * smss || blocksAbove(i) >= 3).toBe(true);
          if (lb < N && lb > 0) {
            // Just at the boundary, not lost yet (the boundary is the left edge of a block).
            expect(map[lb]).toBe(1);
          }
          // Advancing SND.UNA drops what is below it.
          const adv = advanceBy % N;
          sb.advance((una0 + adv) | 0);
          expect(sb.sacked).toBe(sum(adv));
        },
      ),
    );
  });

  it("caps the number of blocks; blocks beyond are ignored", () => {
    const sb = new Scoreboard(2);
    const b = new Int32Array(8);
    for (let i = 0; i < 5; i++) {
      b[0] = 100 + i * 10;
      b[1] = 105 + i * 10;
      sb.update(b, 1, 0, 1000);
    }
    expect(sb.blocks).toBe(2);
    expect(sb.sacked).toBe(10);
  });
});
