/**
 * @morgana/benchkit — the harness behind `npm run bench`.
 *
 * A benchmark file (`packages/NAME/bench/*.bench.ts`) registers figures with
 * {@link figure}; `scripts/bench.mjs` bundles each file, runs it in a fresh
 * Node process, and collects one JSON line per figure:
 *
 *   {"bench":"<package>.<name>","unit":"...","ours":N,"reference":"...","referenceValue":N,"ratio":N}
 *
 * `ratio` says how many times better ours is: ours/reference for rates
 * (higher is better), reference/ours for latencies and sizes (lower is better).
 * Both sides are measured in the same process run.
 */

export interface Measurement {
  unit: string;
  ours: number;
  /** What we compare with, e.g. "node:net loopback". */
  reference: string;
  referenceValue: number;
  /** True for latencies, sizes, costs: the ratio is then reference/ours. */
  lowerIsBetter?: boolean;
  /** Free-form detail printed with the figure (parameters, sample counts). */
  note?: string;
}

export interface FigureLine {
  bench: string;
  unit: string;
  ours: number;
  reference: string;
  referenceValue: number;
  ratio: number;
  note?: string;
}

type Registered = { name: string; run: () => Promise<Measurement> };
const registry: Registered[] = [];

/** Registers a figure `<pkg>.<name>`; it runs when the harness selects it. */
export function figure(pkg: string, name: string, run: () => Promise<Measurement> | Measurement): void {
  registry.push({ name: `${pkg}.${name}`, run: async () => run() });
}

/** Builds the JSON line for a measurement, computing the ratio. */
export function toLine(bench: string, m: Measurement): FigureLine {
  const ratio = m.lowerIsBetter ? m.referenceValue / m.ours : m.ours / m.referenceValue;
  const line: FigureLine = {
    bench,
    unit: m.unit,
    ours: round(m.ours),
    reference: m.reference,
    referenceValue: round(m.referenceValue),
    ratio: round(ratio),
  };
  if (m.note !== undefined) line.note = m.note;
  return line;
}

function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  const mag = Math.abs(x);
  const digits = mag >= 1000 ? 0 : mag >= 1 ? 3 : 6;
  return Number(x.toFixed(digits));
}

/**
 * Runs every registered figure whose name contains `filter` (all when empty)
 * and prints one JSON line each. A figure that throws prints an error line on
 * stderr and makes the process exit non-zero after the others ran.
 */
export async function runRegistered(filter = "", print: (s: string) => void = (s) => console.log(s)): Promise<number> {
  let failures = 0;
  for (const r of registry) {
    if (filter !== "" && !r.name.includes(filter)) continue;
    try {
      print(JSON.stringify(toLine(r.name, await r.run())));
    } catch (e) {
      failures++;
      console.error(`bench ${r.name} failed: ${(e as Error).stack ?? e}`);
    }
  }
  return failures;
}

/** Names of the registered figures (for the harness's listing). */
export function registeredNames(): string[] {
  return registry.map((r) => r.name);
}

export interface RateOptions {
  /** Keep measuring for at least this long, default 1000 ms. */
  minTimeMs?: number;
  /** Warm-up time before measuring, default 200 ms. */
  warmupMs?: number;
  /** Repetitions; the median rate is returned. Default 3. */
  rounds?: number;
}

/**
 * Operations per second of `op`, which performs `opsPerCall` operations per
 * call (default 1). Median of several rounds after a warm-up.
 */
export async function rate(op: () => unknown | Promise<unknown>, opsPerCall = 1, opts: RateOptions = {}): Promise<number> {
  const minTime = opts.minTimeMs ?? 1000;
  const rounds = opts.rounds ?? 3;
  await runFor(op, opts.warmupMs ?? 200);
  const rates: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const { calls, ms } = await runFor(op, minTime / rounds);
    rates.push((calls * opsPerCall * 1000) / ms);
  }
  return median(rates);
}

async function runFor(op: () => unknown | Promise<unknown>, ms: number): Promise<{ calls: number; ms: number }> {
  const start = performance.now();
  let calls = 0;
  let now = start;
  while (now - start < ms) {
    const r = op();
    if (r instanceof Promise) await r;
    calls++;
    now = performance.now();
  }
  return { calls, ms: now - start };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs `loops` concurrent loops calling `once` for `ms` milliseconds and
 * returns the calls completed per second (a closed-loop load generator inside
 * the process, for servers and clients that share it).
 */
export async function loadLoop(loops: number, ms: number, once: () => Promise<void>): Promise<number> {
  let count = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() < end) {
        await once();
        count++;
      }
    }),
  );
  return (count * 1000) / (performance.now() - t0);
}
