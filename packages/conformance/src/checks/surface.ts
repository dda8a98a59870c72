/** The Stack object itself: name, addresses, counters. */
import { expect } from "vitest";
import { isIpv4, type LayerStats } from "@morgana/interfaces";
import type { Check } from "./check.js";

function expectLayerStats(label: string, s: LayerStats): void {
  expect(typeof s, `${label} is an object`).toBe("object");
  for (const part of ["counters", "drops"] as const) {
    const rec = s[part];
    expect(typeof rec, `${label}.${part} is an object`).toBe("object");
    for (const [k, v] of Object.entries(rec)) {
      expect(Number.isFinite(v) && v >= 0, `${label}.${part}.${k} = ${String(v)} is a non-negative number`).toBe(true);
    }
  }
}

const surface: Check = {
  id: "stack-surface",
  title: "Stack: name, addresses() in dotted quads, stats() of every layer, tcp.stats() and udp.stats()",
  directional: false,
  async run(ctx) {
    for (const [n, stack] of [
      ["a", ctx.pair.a],
      ["b", ctx.pair.b],
    ] as const) {
      expect(typeof stack.name === "string" && stack.name.length > 0, `${n}.name is a non-empty string`).toBe(true);
      const addrs = stack.addresses();
      expect(Array.isArray(addrs) && addrs.length > 0, `${n}.addresses() lists at least one address`).toBe(true);
      for (const a of addrs) expect(isIpv4(a), `${n}.addresses(): ${a} is a dotted quad`).toBe(true);
      const all = stack.stats();
      expect(Object.keys(all).length, `${n}.stats() has layers`).toBeGreaterThan(0);
      for (const [layer, st] of Object.entries(all)) expectLayerStats(`${n}.stats().${layer}`, st);
      expectLayerStats(`${n}.tcp.stats()`, stack.tcp.stats());
      expectLayerStats(`${n}.udp.stats()`, stack.udp.stats());
    }
  },
};

export const SURFACE_CHECKS: readonly Check[] = [surface];
