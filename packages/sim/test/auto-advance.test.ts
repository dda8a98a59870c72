import { describe, expect, it } from "vitest";
import { sleep } from "@morgana/interfaces";
import { VirtualClock, settle } from "../src/index.js";

/** Real-time guard: a test that would hang fails instead. */
function within<T>(p: Promise<T>, ms = 5000): Promise<T> {
  let h: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    h = setTimeout(() => reject(new Error(`still pending after ${ms} ms of real time`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(h));
}

describe("VirtualClock.autoAdvance", () => {
  it("moves time by itself: awaiting a minute of sleep needs no advance call", async () => {
    const clock = new VirtualClock();
    const driver = clock.autoAdvance();
    try {
      await within(sleep(clock, 60_000));
      expect(clock.now()).toBe(60_000);
    } finally {
      driver.stop();
    }
  });

  it("runs ordinary async code that chains timers and promises, in deadline order", async () => {
    const clock = new VirtualClock();
    const driver = clock.autoAdvance();
    const seen: string[] = [];
    const worker = async (name: string, step: number, n: number) => {
      for (let i = 1; i <= n; i++) {
        await sleep(clock, step);
        await Promise.resolve(); // more microtasks between timers
        seen.push(`${name}@${clock.now()}`);
      }
    };
    try {
      await within(Promise.all([worker("a", 300, 4), worker("b", 500, 3)]));
    } finally {
      driver.stop();
    }
    expect(seen).toEqual(["a@300", "b@500", "a@600", "a@900", "b@1000", "a@1200", "b@1500"]);
    expect(clock.now()).toBe(1500);
  });

  it("does not move time while microtasks are still queued", async () => {
    const clock = new VirtualClock();
    let fired = false;
    clock.setTimer(5, () => (fired = true));
    const driver = clock.autoAdvance();
    try {
      // A long microtask chain: the timer must not fire in the middle of it.
      for (let i = 0; i < 1000; i++) await Promise.resolve();
      expect(fired).toBe(false);
      expect(clock.now()).toBe(0);
      await settle();
      expect(fired).toBe(true);
      expect(clock.now()).toBe(5);
    } finally {
      driver.stop();
    }
  });

  it("fires one group of equal deadlines per macrotask turn", async () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    clock.setTimer(10, () => seen.push(1));
    clock.setTimer(10, () => seen.push(2));
    clock.setTimer(20, () => seen.push(3));
    const driver = clock.autoAdvance();
    try {
      await settle();
      expect(seen).toEqual([1, 2]);
      expect(clock.now()).toBe(10);
      await settle();
      expect(seen).toEqual([1, 2, 3]);
      expect(clock.now()).toBe(20);
    } finally {
      driver.stop();
    }
  });

  it("stop() freezes time; a new driver can be started afterwards", async () => {
    const clock = new VirtualClock();
    let fired = 0;
    const driver = clock.autoAdvance();
    driver.stop();
    driver.stop(); // idempotent
    expect(clock.autoAdvancing).toBe(false);
    clock.setTimer(100, () => fired++);
    for (let i = 0; i < 5; i++) await settle();
    expect(fired).toBe(0);
    expect(clock.now()).toBe(0);
    expect(clock.pendingTimers).toBe(1);
    const again = clock.autoAdvance();
    try {
      await within(
        (async () => {
          while (fired === 0) await settle();
        })(),
      );
      expect(clock.now()).toBe(100);
    } finally {
      again.stop();
    }
  });

  it("refuses a second driver on the same clock", () => {
    const clock = new VirtualClock();
    const driver = clock.autoAdvance();
    try {
      expect(() => clock.autoAdvance()).toThrow(/already/);
    } finally {
      driver.stop();
    }
  });

  it("sleeps while no timer is pending and wakes up when one is set", async () => {
    const clock = new VirtualClock();
    const driver = clock.autoAdvance();
    try {
      for (let i = 0; i < 5; i++) await settle();
      expect(clock.now()).toBe(0); // nothing to fire: time stays
      // A timer set later, from real-time code, is still driven.
      await new Promise((r) => setTimeout(r, 5));
      await within(sleep(clock, 2500));
      expect(clock.now()).toBe(2500);
      // Cancelled timers do not move time.
      const t = clock.setTimer(1000, () => {});
      t.cancel();
      for (let i = 0; i < 5; i++) await settle();
      expect(clock.now()).toBe(2500);
    } finally {
      driver.stop();
    }
  });

  it("reports a throwing callback to onError and keeps going", async () => {
    const clock = new VirtualClock();
    const errors: unknown[] = [];
    const driver = clock.autoAdvance({ onError: (e) => errors.push(e) });
    let later = false;
    try {
      clock.setTimer(1, () => {
        throw new Error("boom");
      });
      await within(sleep(clock, 10).then(() => (later = true)));
    } finally {
      driver.stop();
    }
    expect(later).toBe(true);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe("boom");
  });

  it("can be mixed with explicit advance calls", async () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    clock.setTimer(50, () => seen.push(clock.now()));
    await clock.advance(20); // explicit: nothing due yet
    expect(seen).toEqual([]);
    const driver = clock.autoAdvance();
    try {
      await within(sleep(clock, 100));
    } finally {
      driver.stop();
    }
    expect(seen).toEqual([50]);
    expect(clock.now()).toBe(120);
  });
});
