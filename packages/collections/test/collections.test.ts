import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MinHeap, RingQueue, SlabAllocator } from "../src/index.js";

describe("RingQueue", () => {
  it("behaves as a FIFO array under random push/shift sequences", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer(), fc.constant(null)), { maxLength: 300 }), (ops) => {
        const q = new RingQueue<number>();
        const model: number[] = [];
        for (const op of ops) {
          if (op === null) expect(q.shift()).toBe(model.shift());
          else {
            q.push(op);
            model.push(op);
          }
          expect(q.length).toBe(model.length);
          expect(q.peek()).toBe(model[0]);
          expect(q.at(model.length - 1)).toBe(model[model.length - 1]);
        }
        expect([...q]).toEqual(model);
        expect(q.at(-1)).toBeUndefined();
        expect(q.at(model.length)).toBeUndefined();
        q.clear();
        expect(q.length).toBe(0);
        expect(q.shift()).toBeUndefined();
      }),
    );
  });
});

describe("MinHeap", () => {
  it("pops in (key, insertion) order", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (keys) => {
        type E = { k: number; seq: number };
        const heap = new MinHeap<E>((a, b) => a.k < b.k || (a.k === b.k && a.seq < b.seq));
        keys.forEach((k, seq) => heap.push({ k, seq }));
        expect(heap.size).toBe(keys.length);
        const out: E[] = [];
        for (let e = heap.pop(); e !== undefined; e = heap.pop()) out.push(e);
        const sorted = keys.map((k, seq) => ({ k, seq })).sort((a, b) => a.k - b.k || a.seq - b.seq);
        expect(out).toEqual(sorted);
      }),
    );
  });

  it("filters and drains", () => {
    const heap = new MinHeap<number>((a, b) => a < b);
    [5, 1, 4, 2, 3].forEach((x) => heap.push(x));
    heap.filter((x) => x % 2 === 1);
    expect(heap.peek()).toBe(1);
    expect([heap.pop(), heap.pop(), heap.pop(), heap.pop()]).toEqual([1, 3, 5, undefined]);
    heap.push(9);
    expect(heap.drain()).toEqual([9]);
    expect(heap.size).toBe(0);
  });
});

describe("SlabAllocator", () => {
  it("hands out zero-filled, non-overlapping, 8-byte-aligned arrays; large ones get their own buffer", () => {
    const a = new SlabAllocator(1024);
    const got: Uint8Array[] = [];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 50 }), (sizes) => {
        for (const n of sizes) {
          const b = a.alloc(n);
          expect(b.length).toBe(n);
          expect(b.every((x) => x === 0)).toBe(true);
          if (n <= 256) expect(b.byteOffset % 8).toBe(0);
          b.fill(0xff); // the owner may write its bytes
          got.push(b);
        }
      }),
    );
    for (let i = 0; i < got.length; i++) {
      for (let j = i + 1; j < got.length; j++) {
        const x = got[i]!;
        const y = got[j]!;
        const overlap = x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
        expect(overlap && x.length > 0 && y.length > 0).toBe(false);
      }
    }
    expect(a.alloc(300).buffer.byteLength).toBe(300); // above a quarter of the slab: a dedicated buffer
  });
});
