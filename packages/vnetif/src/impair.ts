/**
 * `impair`: several impairments on one device, composed in a fixed order.
 */
import type { Clock, Netif, Random } from "@morgana/interfaces";
import {
  withBandwidth,
  withCorruption,
  withDelay,
  withDuplication,
  withLoss,
  withMtu,
  withOutages,
  withReordering,
  type BurstLoss,
  type Outage,
} from "./impairments.js";
import { deriveRandom } from "./random.js";
import { checkClock, checkOptions, checkRandom, einval, type Direction } from "./validate.js";

export interface ImpairOptions {
  clock: Clock;
  random: Random;
  /** Applies to every layer, default "tx". */
  direction?: Direction;
  /** Loss probability, or a rate with a Gilbert-Elliott burst model. */
  loss?: number | { rate: number; burst?: BurstLoss };
  /** Duplication probability. */
  duplicate?: number;
  reorder?: { rate: number; maxExtraDelayMs: number; limit?: number };
  /** Corruption probability, or the full corruption options. */
  corrupt?: number | { rate: number; bits?: number; skipBytes?: number };
  delayMs?: number;
  jitterMs?: number;
  /** With jitter, keep frames in order (see {@link DelayOptions.keepOrder}). */
  keepOrder?: boolean;
  bandwidth?: { bitsPerSecond: number; queueBytes: number; overheadBytes?: number };
  mtu?: number;
  outages?: readonly Outage[];
}

/**
 * Wraps `netif` in the requested impairments. A transmitted frame meets them in
 * this order (a received one, with direction "rx", in the reverse order):
 *
 *   mtu → bandwidth → outages → loss → duplicate → corrupt → delay/jitter → reorder → netif
 *
 * i.e. the frame must fit the path, waits in the bottleneck queue and is
 * serialized, may then meet a dead link, be lost, duplicated or corrupted on
 * the wire, and propagates (delay, jitter, reordering). Layers not asked for
 * are left out; with no impairment at all, `netif` itself is returned.
 *
 * Each randomised layer draws from its own generator, seeded from `random` in
 * a fixed order whatever is enabled, so switching one impairment on or off
 * does not change the decisions of the others.
 */
export function impair(netif: Netif, opts: ImpairOptions): Netif {
  const where = "impair";
  checkOptions(where, opts);
  const clock = checkClock(where, opts.clock);
  const parent = checkRandom(where, opts.random);
  // Always derive all five streams, in this order.
  const rLoss = deriveRandom(parent);
  const rDup = deriveRandom(parent);
  const rCorrupt = deriveRandom(parent);
  const rDelay = deriveRandom(parent);
  const rReorder = deriveRandom(parent);
  const direction = opts.direction ?? "tx";
  let n = netif;
  if (opts.reorder !== undefined) {
    checkOptions(`${where} reorder`, opts.reorder);
    n = withReordering(n, { clock, random: rReorder, direction, ...opts.reorder });
  }
  if (opts.delayMs !== undefined || opts.jitterMs !== undefined) {
    n = withDelay(n, {
      clock,
      random: rDelay,
      direction,
      delayMs: opts.delayMs ?? 0,
      ...(opts.jitterMs !== undefined ? { jitterMs: opts.jitterMs } : {}),
      ...(opts.keepOrder !== undefined ? { keepOrder: opts.keepOrder } : {}),
    });
  } else if (opts.keepOrder !== undefined) {
    einval(where, "keepOrder needs delayMs or jitterMs");
  }
  if (opts.corrupt !== undefined) {
    const c = typeof opts.corrupt === "number" ? { rate: opts.corrupt } : opts.corrupt;
    checkOptions(`${where} corrupt`, c);
    n = withCorruption(n, { random: rCorrupt, direction, ...c });
  }
  if (opts.duplicate !== undefined) n = withDuplication(n, { random: rDup, direction, rate: opts.duplicate });
  if (opts.loss !== undefined) {
    const l = typeof opts.loss === "number" ? { rate: opts.loss } : opts.loss;
    checkOptions(`${where} loss`, l);
    n = withLoss(n, { random: rLoss, direction, ...l });
  }
  if (opts.outages !== undefined) n = withOutages(n, { clock, direction, outages: opts.outages });
  if (opts.bandwidth !== undefined) {
    checkOptions(`${where} bandwidth`, opts.bandwidth);
    n = withBandwidth(n, { clock, direction, ...opts.bandwidth });
  }
  if (opts.mtu !== undefined) n = withMtu(n, { direction, mtu: opts.mtu });
  return n;
}
