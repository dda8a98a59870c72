import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sleep } from "@morgana/interfaces";
import { VirtualClock } from "../src/index.js";

// A random schedule: timers set at various times (possibly from inside other
// timers), some of them cancelled before or after they are due.
type Op = { delay: number; cancelAfter: number | null; nested: number | null };
const opArb: fc.Arbitrary<Op> = fc.record({
  delay: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(0, 10, 10, 500)),
  cancelAfter: fc.option(fc.integer({ min: 0, max: 1200 }), { nil: null }),
  nested: fc.option(fc.integer({ min: 0, max: 300 }), { nil: null }),
});

describe("VirtualClock", () => {
  it("fires timers in deadline order, equal deadlines in setting order, never a cancelled one", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.integer({ min: 1, max: 3000 }), (ops, horizon) => {
        const clock = new VirtualClock();
        const fired: { id: number; at: number; deadline: number }[] = [];
        const cancelled = new Map<number, number>(); // id -> time of cancel
        const deadlines = new Map<number, number>();
        let nextId = 0;
        const schedule = (op: Op) => {
          const id = nextId++;
          const deadline = clock.now() + op.delay;
          deadlines.set(id, deadline);
          const t = clock.setTimer(op.delay, () => {
            fired.push({ id, at: clock.now(), deadline });
            if (op.nested !== null) schedule({ delay: op.nested, cancelAfter: null, nested: null });
          });
          if (op.cancelAfter !== null) {
            clock.setTimer(op.cancelAfter, () => {
              t.cancel();
              if (!fired.some((f) => f.id === id)) cancelled.set(id, clock.now());
            });
          }
        };
        ops.forEach(schedule);
        clock.advanceSync(horizon);

        // Time: each callback ran exactly at its deadline, never past the horizon.
        for (const f of fired) {
          expect(f.at).toBe(f.deadline);
          expect(f.at).toBeLessThanOrEqual(horizon);
        }
        // Order: non-decreasing deadlines; ties by creation order (ids increase).
        for (let i = 1; i < fired.length; i++) {
          const a = fired[i - 1]!;
          const b = fired[i]!;
          expect(a.deadline < b.deadline || (a.deadline === b.deadline && a.id < b.id)).toBe(true);
        }
        // Cancelled timers never fire; every uncancelled timer due by the horizon fired exactly once.
        const firedIds = new Set(fired.map((f) => f.id));
        expect(firedIds.size).toBe(fired.length);
        for (const id of cancelled.keys()) expect(firedIds.has(id)).toBe(false);
        for (const [id, d] of deadlines) {
          if (!cancelled.has(id) && d <= horizon) {
            // It was cancelled at a time earlier than its deadline only if recorded above.
            expect(firedIds.has(id)).toBe(true);
          }
        }
        expect(clock.now()).toBe(horizon);
      }),
    );
  });

  it("equal deadlines fire in setting order", () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    for (let i = 0; i < 50; i++) clock.setTimer(i % 2 === 0 ? 5 : 5, () => seen.push(i));
    clock.runUntilIdleSync();
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("counts pending timers, cancel is idempotent, and a fired timer cannot be cancelled twice", () => {
    const clock = new VirtualClock({ start: 1000 });
    const a = clock.setTimer(10, () => {});
    const b = clock.setTimer(20, () => {});
    expect(clock.pendingTimers).toBe(2);
    a.cancel();
    a.cancel();
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextDeadline()).toBe(1020);
    clock.fireNextSync();
    expect(clock.now()).toBe(1020);
    b.cancel();
    expect(clock.pendingTimers).toBe(0);
    expect(clock.fireNextSync()).toBe(false);
  });

  it("treats negative and NaN delays as 0 and never fires inside setTimer", () => {
    const clock = new VirtualClock();
    let n = 0;
    clock.setTimer(-5, () => n++);
    clock.setTimer(NaN, () => n++);
    expect(n).toBe(0);
    clock.advanceSync(0);
    expect(n).toBe(2);
    expect(clock.now()).toBe(0);
  });

  it("keeps running other timers when one throws, then rethrows", () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    clock.setTimer(1, () => {
      throw new Error("boom");
    });
    clock.setTimer(1, () => seen.push("b"));
    clock.setTimer(2, () => seen.push("c"));
    expect(() => clock.advanceSync(5)).toThrow("boom");
    expect(seen).toEqual(["b", "c"]);
    expect(clock.now()).toBe(5);
  });

  it("compacts cancelled timers so memory stays bounded", () => {
    const clock = new VirtualClock();
    clock.setTimer(1e9, () => {});
    for (let i = 0; i < 100_000; i++) clock.setTimer(1e6 + i, () => {}).cancel();
    expect((clock as unknown as { heap: { size: number } }).heap.size).toBeLessThan(2000);
    expect(clock.pendingTimers).toBe(1);
  });

  it("lets promise chains run between timers (async advance)", async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const task = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(clock, 100);
        log.push(`tick ${clock.now()}`);
      }
    })();
    await clock.advance(250);
    expect(log).toEqual(["tick 100", "tick 200"]);
    await clock.runUntilIdle();
    await task;
    expect(log).toEqual(["tick 100", "tick 200", "tick 300"]);
    expect(clock.now()).toBe(300);
  });

  it("runUntil stops when the condition holds and fails when it cannot", async () => {
    const clock = new VirtualClock();
    let done = false;
    void sleep(clock, 5000).then(() => (done = true));
    clock.setTimer(9000, () => {});
    await clock.runUntil(() => done);
    expect(clock.now()).toBe(5000);
    await expect(clock.runUntil(() => false)).rejects.toThrow(/no timer pending/);
  });

  it("runUntilIdle refuses to spin forever on a periodic timer", async () => {
    const clock = new VirtualClock();
    const every = () => clock.setTimer(1000, every);
    every();
    await expect(clock.runUntilIdle({ maxTimeMs: 60_000 })).rejects.toThrow(/time limit/);
    expect(() => clock.runUntilIdleSync({ maxTimers: 10 })).toThrow(/timer callbacks/);
  });

  it("reports wall time from the epoch option", () => {
    const clock = new VirtualClock({ start: 5, epochMs: 1_700_000_000_000 });
    clock.advanceSync(1500);
    expect(clock.wallTime()).toBe(1_700_000_001_500);
  });
});
