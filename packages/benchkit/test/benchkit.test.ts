import { describe, expect, it } from "vitest";
import { figure, median, rate, runRegistered, toLine } from "../src/index.js";

describe("benchkit", () => {
  it("computes ratios in the right direction", () => {
    expect(toLine("x.rate", { unit: "ops/s", ours: 300, reference: "r", referenceValue: 100 }).ratio).toBe(3);
    expect(toLine("x.lat", { unit: "us", ours: 50, reference: "r", referenceValue: 100, lowerIsBetter: true }).ratio).toBe(2);
  });

  it("measures a rate close to the true one", async () => {
    // Each call busy-waits 1 ms, so the rate is at most 1000/s and well above 300/s.
    const r = await rate(
      () => {
        const t = performance.now();
        while (performance.now() - t < 1);
      },
      1,
      { minTimeMs: 150, warmupMs: 10, rounds: 3 },
    );
    expect(r).toBeLessThanOrEqual(1001);
    expect(r).toBeGreaterThan(300);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it("runs registered figures matching the filter and prints one JSON line each", async () => {
    figure("demo", "alpha", () => ({ unit: "ops/s", ours: 10, reference: "ref", referenceValue: 5 }));
    figure("demo", "beta", () => ({ unit: "ops/s", ours: 1, reference: "ref", referenceValue: 1 }));
    const lines: string[] = [];
    const failures = await runRegistered("demo.alpha", (s) => lines.push(s));
    expect(failures).toBe(0);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { bench: "demo.alpha", unit: "ops/s", ours: 10, reference: "ref", referenceValue: 5, ratio: 2 },
    ]);
  });
});
