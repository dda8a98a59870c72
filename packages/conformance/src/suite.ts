/**
 * describeConformance: registers every check with vitest, once per
 * direction for the connection checks, each with a fresh pair.
 */
import { afterEach, describe, it } from "vitest";
import { MorganaError } from "@morgana/interfaces";
import { ADAPTER_CHECKS } from "./checks/adapters.js";
import type { Check } from "./checks/check.js";
import { SURFACE_CHECKS } from "./checks/surface.js";
import { TCP_DATA_CHECKS } from "./checks/tcp-data.js";
import { TCP_ERROR_CHECKS } from "./checks/tcp-errors.js";
import { UDP_CHECKS } from "./checks/udp.js";
import { CheckContext, type DirectionName, type ResolvedOptions } from "./context.js";
import type { ConformanceOptions, StackPair, StackPairFactory } from "./types.js";
import { Watchdog } from "./watchdog.js";

/** Every check, in the order they run. */
export const CHECKS: readonly Check[] = [...SURFACE_CHECKS, ...TCP_DATA_CHECKS, ...TCP_ERROR_CHECKS, ...UDP_CHECKS, ...ADAPTER_CHECKS];

/** The ids of every check, for the `skip` and `expectedFailures` options. */
export const CHECK_IDS: readonly string[] = CHECKS.map((c) => c.id);

/** The default seed of the generated data. */
export const DEFAULT_SEED = 0x6d6f7267;

const DIRECTIONS: readonly DirectionName[] = ["a→b", "b→a"];

function resolveOptions(o: ConformanceOptions): ResolvedOptions {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const scale = o.scale ?? 1;
  const range = o.ephemeralPortRange ?? [1024, 65535];
  const maxBufferedBytes = o.maxBufferedBytes ?? 16 * 1024 * 1024;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new MorganaError("EINVAL", `describeConformance: timeoutMs must be a positive number, not ${timeoutMs}`);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new MorganaError("EINVAL", `describeConformance: scale must be a positive number, not ${scale}`);
  if (!Number.isInteger(range[0]) || !Number.isInteger(range[1]) || range[0] < 1 || range[1] > 65535 || range[0] > range[1]) {
    throw new MorganaError("EINVAL", `describeConformance: ephemeralPortRange must be [lo, hi] with 1 <= lo <= hi <= 65535, not [${range.join(", ")}]`);
  }
  if (!(maxBufferedBytes > 0)) throw new MorganaError("EINVAL", `describeConformance: maxBufferedBytes must be positive, not ${maxBufferedBytes}`);
  const known = new Set<string>(CHECK_IDS);
  for (const id of o.only ?? []) {
    if (!known.has(id)) throw new MorganaError("EINVAL", `describeConformance: only names an unknown check ${JSON.stringify(id)} (known: ${CHECK_IDS.join(", ")})`);
  }
  for (const [name, rec] of [
    ["skip", o.skip],
    ["expectedFailures", o.expectedFailures],
  ] as const) {
    for (const key of Object.keys(rec ?? {})) {
      const id = key.replace(/ (a→b|b→a)$/, "");
      if (!known.has(id)) throw new MorganaError("EINVAL", `describeConformance: ${name} names an unknown check ${JSON.stringify(key)} (known: ${CHECK_IDS.join(", ")})`);
    }
  }
  return {
    timeoutMs,
    scale,
    ephemeralPortRange: [range[0], range[1]],
    udpIcmpErrors: o.udpIcmpErrors ?? true,
    maxBufferedBytes,
    seed: o.seed ?? DEFAULT_SEED,
    only: o.only,
    skip: o.skip ?? {},
    expectedFailures: o.expectedFailures ?? {},
  };
}

function lookup(rec: Readonly<Record<string, string>>, id: string, dir: DirectionName | undefined): string | undefined {
  return (dir !== undefined ? rec[`${id} ${dir}`] : undefined) ?? rec[id];
}

/**
 * Registers the conformance suite with vitest (`describe`/`it`) under `name`.
 * Every check gets a fresh pair from `factory`, closed after the check;
 * every connection check runs in both directions, a→b (a connects, sends
 * first) and b→a. Throws `EINVAL` for bad options.
 */
export function describeConformance(name: string, factory: StackPairFactory, options: ConformanceOptions = {}): void {
  const o = resolveOptions(options);
  describe(name, () => {
    let current: StackPair | undefined;
    afterEach(async () => {
      const pair = current;
      current = undefined;
      if (pair === undefined) return;
      const wd = new Watchdog(`${name}: pair.close()`, o.timeoutMs);
      try {
        await wd.wait("pair.close()", pair.close());
      } finally {
        wd.dispose();
      }
    }, o.timeoutMs + 10_000);

    for (const check of CHECKS) {
      if (o.only !== undefined && !o.only.includes(check.id)) continue;
      const dirs: readonly (DirectionName | undefined)[] = check.directional ? DIRECTIONS : [undefined];
      for (const dir of dirs) {
        const title = `${check.id}: ${check.title}${dir !== undefined ? ` (${dir})` : ""}`;
        const body = async () => {
          const wd = new Watchdog(title, o.timeoutMs);
          try {
            wd.step("factory()");
            current = await wd.wait("factory()", factory());
            const ctx = new CheckContext(current, dir, o, wd, check.id);
            await Promise.race([check.run(ctx).then(() => ctx.finishTasks()), wd.failed, ctx.taskFailed]);
          } finally {
            wd.dispose();
          }
        };
        const skip = lookup(o.skip, check.id, dir);
        const xfail = lookup(o.expectedFailures, check.id, dir);
        if (skip !== undefined) it.skip(`${title} [skipped: ${skip}]`, body);
        else if (xfail !== undefined) it.fails(`${title} [expected to fail: ${xfail}]`, body, o.timeoutMs + 10_000);
        else it(title, body, o.timeoutMs + 10_000);
      }
    }
  });
}
