import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DecodeError,
  DropCounters,
  errnoOf,
  isMorganaError,
  MorganaError,
  randomFloat,
  randomInt,
  sleep,
  type Clock,
  type Random,
  type Timer,
} from "../src/index.js";

describe("errors", () => {
  it("carry Node's code, errno and a Node-style message", () => {
    const e = new MorganaError("ECONNREFUSED", undefined, { syscall: "connect", address: "10.0.0.2", port: 80 });
    expect(e.code).toBe("ECONNREFUSED");
    expect(e.errno).toBe(-111);
    expect(e.message).toBe("connect ECONNREFUSED 10.0.0.2:80");
    expect(e).toBeInstanceOf(Error);
    expect(isMorganaError(e, "ECONNREFUSED")).toBe(true);
    expect(isMorganaError(e, "ETIMEDOUT")).toBe(false);
    expect(isMorganaError(new Error("x"))).toBe(false);
    expect(errnoOf("ENOTFOUND")).toBeUndefined();
    expect(errnoOf("EADDRINUSE")).toBe(-98);
  });

  it("decode errors name the layer and the offset", () => {
    const e = new DecodeError("pcap", 24, "truncated record header");
    expect(e.code).toBe("EBADMSG");
    expect(e.offset).toBe(24);
    expect(e.message).toContain("byte offset 24");
    expect(e).toBeInstanceOf(MorganaError);
  });
});

describe("random helpers", () => {
  // A counter-based generator: deterministic and covers every residue.
  function counter(start = 0): Random {
    let x = start;
    return {
      uint32: () => (x = (x * 1664525 + 1013904223) >>> 0),
      fill: (b) => b.fill(0),
    };
  }

  it("randomInt stays in range", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 1, max: 2 ** 32 }), fc.nat(), (min, width, seed) => {
        const r = counter(seed);
        for (let i = 0; i < 20; i++) {
          const v = randomInt(r, min, min + width);
          expect(v >= min && v < min + width && Number.isInteger(v)).toBe(true);
        }
      }),
    );
    expect(() => randomInt(counter(), 5, 5)).toThrow(MorganaError);
  });

  it("randomInt rejects the biased top bucket", () => {
    // range 3: limit = 2^32 - (2^32 % 3) = 4294967295; the value 4294967295 must be skipped.
    const seq = [4294967295, 7];
    const r: Random = { uint32: () => seq.shift()!, fill: () => {} };
    expect(randomInt(r, 0, 3)).toBe(1);
  });

  it("randomFloat is in [0,1)", () => {
    const r = counter(7);
    for (let i = 0; i < 1000; i++) {
      const f = randomFloat(r);
      expect(f >= 0 && f < 1).toBe(true);
    }
    expect(randomFloat({ uint32: () => 0xffffffff, fill: () => {} })).toBeLessThan(1);
  });
});

describe("sleep", () => {
  // A minimal manual clock, to test the helper without @morgana/sim.
  function manual(): Clock & { fire(): void } {
    let t = 0;
    const timers: { at: number; cb: () => void; dead: boolean }[] = [];
    return {
      now: () => t,
      setTimer(d, cb): Timer {
        const e = { at: t + d, cb, dead: false };
        timers.push(e);
        return { cancel: () => void (e.dead = true) };
      },
      fire() {
        for (const e of timers.splice(0)) {
          t = Math.max(t, e.at);
          if (!e.dead) e.cb();
        }
      },
    };
  }

  it("resolves when the clock fires and rejects with ABORT_ERR when aborted", async () => {
    const c = manual();
    let done = false;
    const p = sleep(c, 100).then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    c.fire();
    await p;
    expect(done).toBe(true);
    expect(c.now()).toBe(100);

    const ac = new AbortController();
    const q = sleep(c, 100, ac.signal);
    ac.abort(new Error("stop"));
    await expect(q).rejects.toMatchObject({ code: "ABORT_ERR" });
    await expect(sleep(c, 1, ac.signal)).rejects.toMatchObject({ code: "ABORT_ERR" });
  });
});

describe("DropCounters", () => {
  it("counts by reason and snapshots a copy", () => {
    const d = new DropCounters();
    expect(d.drop("checksum")).toBe(false);
    d.drop("checksum");
    d.drop("short", 3);
    const snap = d.snapshot();
    expect(snap).toEqual({ checksum: 2, short: 3 });
    expect(d.count).toBe(5);
    d.drop("short");
    expect(snap.short).toBe(3);
    d.reset();
    expect(d.count).toBe(0);
    expect(d.snapshot()).toEqual({});
  });
});
