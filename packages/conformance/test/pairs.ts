/**
 * Pair factories shared by the test files.
 */
import type { Netif } from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { createStack } from "@morgana/stack";
import { createLink, impair } from "@morgana/vnetif";
import type { StackPairFactory } from "../src/index.js";

export interface Impairments {
  loss: number;
  reorder: number;
}

export function directVnetifPair(seed: number, imp?: Impairments): StackPairFactory {
  return async () => {
    const clock = new VirtualClock();
    const random = new SeededRandom(seed);
    const errors: unknown[] = [];
    const driver = clock.autoAdvance({ onError: (e) => errors.push(e) });
    const [pa, pb] = createLink({ clock, latencyMs: 1, onHandlerError: (e) => errors.push(e) });
    const wrap = (p: Netif, label: string): Netif =>
      imp === undefined
        ? p
        : impair(p, { clock, random: random.fork(label), loss: imp.loss, reorder: { rate: imp.reorder, maxExtraDelayMs: 5 } });
    const a = createStack({ netif: wrap(pa, "link a"), address: "10.0.0.1/24", clock, random: random.fork("a") });
    const b = createStack({ netif: wrap(pb, "link b"), address: "10.0.0.2/24", clock, random: random.fork("b") });
    let closing: Promise<void> | undefined;
    return {
      a,
      b,
      addressOfA: "10.0.0.1",
      addressOfB: "10.0.0.2",
      close: () =>
        (closing ??= (async () => {
          await Promise.all([a.close(), b.close()]);
          driver.stop();
          if (errors.length > 0) throw new Error(`a timer or frame handler threw: ${String(errors[0])}`, { cause: errors[0] });
        })()),
    };
  };
}
