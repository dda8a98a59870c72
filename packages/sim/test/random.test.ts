import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { randomInt } from "@morgana/interfaces";
import { SeededRandom, SystemClock, systemRandom } from "../src/index.js";

describe("SeededRandom", () => {
  it("gives the same bytes for the same seed, and different bytes for different seeds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 300 }), (seed, n) => {
        const a = new Uint8Array(n);
        const b = new Uint8Array(n);
        new SeededRandom(seed).fill(a);
        new SeededRandom(seed).fill(b);
        expect(a).toEqual(b);
        const c = new Uint8Array(Math.max(n, 16));
        const d = new Uint8Array(Math.max(n, 16));
        new SeededRandom(seed).fill(c);
        new SeededRandom((seed + 1) >>> 0).fill(d);
        expect(c).not.toEqual(d);
      }),
    );
  });

  it("is stable across versions (golden values)", () => {
    // Recorded once from this implementation: a change here would change every
    // recorded simulation seed, so it must be deliberate.
    const r = new SeededRandom(42);
    expect([r.uint32(), r.uint32(), r.uint32()]).toEqual([2837322924, 544945897, 479756282]);
    expect(new SeededRandom("tcp").seed).toBe(2666707600);
    const b = new Uint8Array(7);
    new SeededRandom(1).fill(b);
    expect(Array.from(b)).toEqual([158, 41, 144, 145, 39, 123, 1]);
  });

  it("forks independent, reproducible streams", () => {
    const root = new SeededRandom(7);
    const x = root.fork("loss").uint32();
    root.uint32(); // draws on the root do not shift forks
    expect(root.fork("loss").uint32()).toBe(x);
    expect(root.fork("delay").uint32()).not.toBe(x);
  });

  it("is roughly uniform (chi-square over 16 buckets)", () => {
    const r = new SeededRandom(1234);
    const buckets = new Array(16).fill(0);
    const n = 160_000;
    for (let i = 0; i < n; i++) buckets[randomInt(r, 0, 16)]++;
    const expected = n / 16;
    const chi = buckets.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
    // 15 degrees of freedom: p = 0.001 at 37.7.
    expect(chi).toBeLessThan(37.7);
  });
});

describe("system clock and random", () => {
  it("systemRandom fills large buffers and returns 32-bit values", () => {
    const big = new Uint8Array(200_000);
    systemRandom.fill(big);
    expect(big.some((b) => b !== 0)).toBe(true);
    // Every 64 KiB slice was written.
    expect(big.subarray(150_000).some((b) => b !== 0)).toBe(true);
    const vals = new Set(Array.from({ length: 200 }, () => systemRandom.uint32()));
    expect(vals.size).toBeGreaterThan(190);
  });

  it("SystemClock is monotonic, fires and cancels timers", async () => {
    const clock = new SystemClock({ unref: true });
    const t0 = clock.now();
    let fired = 0;
    clock.setTimer(1, () => fired++);
    clock.setTimer(1, () => fired++).cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(1);
    expect(clock.now()).toBeGreaterThanOrEqual(t0);
    expect(Math.abs(clock.wallTime() - Date.now())).toBeLessThan(1000);
  });
});
