import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { settle, VirtualClock } from "@morgana/sim";
import { createLink } from "../src/index.js";
import { collect, frame, send, seqFrame, seqOf, expectEinval } from "./helpers.js";

const A = 0x0200_0000_0001;
const B = 0x0200_0000_0002;

describe("createLink", () => {
  it("delivers every frame exactly once, in order, in both directions (property, zero latency)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ fromA: fc.boolean(), payload: fc.uint8Array({ minLength: 0, maxLength: 1500 }) }), { maxLength: 80 }),
        fc.integer({ min: 1, max: 7 }),
        async (frames, batch) => {
          const clock = new VirtualClock();
          const [a, b] = createLink({ clock });
          const gotA = collect(a, clock);
          const gotB = collect(b, clock);
          const sentA: Uint8Array[] = [];
          const sentB: Uint8Array[] = [];
          for (let i = 0; i < frames.length; i++) {
            const { fromA, payload } = frames[i]!;
            const f = frame(fromA ? B : A, fromA ? A : B, payload);
            const before = gotA.length + gotB.length;
            expect(send(fromA ? a : b, f)).toBe(true);
            // Never synchronous: transmit delivered nothing.
            expect(gotA.length + gotB.length).toBe(before);
            (fromA ? sentA : sentB).push(f);
            if (i % batch === 0) await settle();
          }
          await settle();
          expect(gotB.map((r) => r.frame)).toEqual(sentA);
          expect(gotA.map((r) => r.frame)).toEqual(sentB);
          expect(a.stats().counters.txFrames).toBe(sentA.length);
          expect(b.stats().counters.rxFrames).toBe(sentA.length);
        },
      ),
    );
  });

  it("never delivers inside transmit, and delivers a whole synchronous burst in one microtask batch", async () => {
    const clock = new VirtualClock();
    const [a, b] = createLink({ clock });
    const got: number[] = [];
    b.listen((f) => got.push(seqOf(f)));
    for (let i = 0; i < 10; i++) {
      send(a, seqFrame(B, A, i));
      expect(got).toEqual([]);
    }
    await Promise.resolve(); // one microtask turn is enough
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("frames sent from inside a handler go to the next batch, still in order", async () => {
    const clock = new VirtualClock();
    const [a, b] = createLink({ clock });
    const order: string[] = [];
    b.listen((f) => {
      const s = seqOf(f);
      order.push(`b<${s}`);
      if (s < 3) send(b, seqFrame(A, B, s + 100));
    });
    a.listen((f) => order.push(`a<${seqOf(f)}`));
    send(a, seqFrame(B, A, 0));
    send(a, seqFrame(B, A, 1));
    send(a, seqFrame(B, A, 5));
    await settle();
    expect(order).toEqual(["b<0", "b<1", "b<5", "a<100", "a<101"]);
  });

  it("with latency, each frame arrives exactly latencyMs after it was sent (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 500, noNaN: true }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { minLength: 1, maxLength: 60 }),
        (latencyMs, schedule) => {
          const clock = new VirtualClock();
          const [a, b] = createLink({ clock, latencyMs });
          const gotA = collect(a, clock);
          const gotB = collect(b, clock);
          const sent: { at: number; fromA: boolean; seq: number }[] = [];
          schedule.forEach(([gap, fromA], seq) => {
            clock.advanceSync(gap);
            sent.push({ at: clock.now(), fromA, seq });
            send(fromA ? a : b, seqFrame(0, 0, seq));
            expect(gotA.length + gotB.length).toBe(sent.filter((s) => s.at + latencyMs <= clock.now() && s.seq < seq).length);
          });
          clock.runUntilIdleSync();
          for (const [got, fromA] of [
            [gotB, true],
            [gotA, false],
          ] as const) {
            const expected = sent.filter((s) => s.fromA === fromA);
            expect(got.map((r) => seqOf(r.frame))).toEqual(expected.map((s) => s.seq));
            got.forEach((r, i) => expect(r.at).toBe(expected[i]!.at + latencyMs));
          }
        },
      ),
    );
  });

  it("transmit allocates one buffer of `size`, and sends only the first n bytes", async () => {
    const clock = new VirtualClock();
    const [a, b] = createLink({ clock });
    const got = collect(b, clock);
    let seen: Uint8Array | undefined;
    const ok = a.transmit(100, (buf) => {
      seen = buf;
      expect(buf.length).toBe(100);
      expect(buf.every((x) => x === 0)).toBe(true);
      buf.set(frame(B, A, 10));
      return 24;
    });
    expect(ok).toBe(true);
    await settle();
    expect(got).toHaveLength(1);
    expect(got[0]!.frame.length).toBe(24);
    expect(got[0]!.frame.buffer).toBe(seen!.buffer); // a single copy-free allocation
    expect(b.stats().counters.rxBytes).toBe(24);
  });

  it("counts bad fills, bad sizes, runts and oversize frames as drops, and returns false", async () => {
    const clock = new VirtualClock();
    const [a, b] = createLink({ clock, mtu: 100 });
    const got = collect(b, clock);
    const bad: [string, () => boolean][] = [
      ["fill-error", () => a.transmit(60, () => {
        throw new Error("boom");
      })],
      ["fill-length", () => a.transmit(60, () => 61)],
      ["fill-length", () => a.transmit(60, () => -1)],
      ["fill-length", () => a.transmit(60, () => 1.5)],
      ["fill-length", () => a.transmit(60, () => NaN)],
      ["fill-length", () => a.transmit(60, (() => "60") as unknown as () => number)],
      ["bad-size", () => a.transmit(-1, () => 0)],
      ["bad-size", () => a.transmit(2.5, () => 0)],
      ["bad-size", () => a.transmit(NaN, () => 0)],
      ["short", () => a.transmit(13, () => 13)],
      ["oversize", () => send(a, frame(B, A, 101))],
      ["oversize", () => a.transmit(1e12, () => 0)],
    ];
    for (const [, f] of bad) expect(f()).toBe(false);
    // An 802.1Q-tagged frame may be 4 bytes longer; an untagged one may not.
    const tagged = frame(B, A, 104, 0x8100);
    expect(send(a, tagged)).toBe(true);
    expect(send(a, frame(B, A, 104))).toBe(false);
    expect(send(a, frame(B, A, 105, 0x8100))).toBe(false);
    expect(send(a, frame(B, A, 100))).toBe(true);
    await settle();
    expect(got.map((r) => r.frame.length)).toEqual([118, 114]);
    const drops = a.stats().drops;
    expect(drops).toEqual({ "fill-error": 1, "fill-length": 5, "bad-size": 3, short: 1, oversize: 4 });
    expect(a.stats().counters.txFrames).toBe(2);
  });

  it("close: transmit returns false and counts, in-flight frames are not delivered, close is idempotent", async () => {
    const clock = new VirtualClock();
    const [a, b] = createLink({ clock, latencyMs: 5 });
    const got = collect(b, clock);
    send(a, seqFrame(B, A, 1));
    await b.close();
    await b.close();
    expect(b.closed).toBe(true);
    expect(send(b, seqFrame(A, B, 2))).toBe(false);
    expect(send(a, seqFrame(B, A, 3))).toBe(true); // the wire took it; the closed end drops it
    await clock.runUntilIdle();
    expect(got).toEqual([]);
    expect(b.stats().drops).toEqual({ closed: 3 });
    expect(b.stats().counters.pendingFrames).toBe(0);
  });

  it("listen replaces the handler; frames arriving without one are counted as no-listener", async () => {
    const clock = new VirtualClock();
    const [a, b] = createLink({ clock });
    send(a, seqFrame(B, A, 0));
    await settle();
    expect(b.stats().drops).toEqual({ "no-listener": 1 });
    const first: number[] = [];
    const second: number[] = [];
    b.listen((f) => first.push(seqOf(f)));
    send(a, seqFrame(B, A, 1));
    await settle();
    b.listen((f) => second.push(seqOf(f)));
    send(a, seqFrame(B, A, 2));
    await settle();
    expect(first).toEqual([1]);
    expect(second).toEqual([2]);
    expectEinval(() => b.listen(42 as unknown as (f: Uint8Array) => void));
  });

  it("a throwing handler is counted and does not stop the rest of the batch", async () => {
    const clock = new VirtualClock();
    const errors: unknown[] = [];
    const [a, b] = createLink({ clock, onHandlerError: (e) => errors.push(e) });
    const got: number[] = [];
    b.listen((f) => {
      got.push(seqOf(f));
      if (seqOf(f) === 1) throw new Error("handler bug");
    });
    for (let i = 0; i < 3; i++) send(a, seqFrame(B, A, i));
    await settle();
    expect(got).toEqual([0, 1, 2]);
    expect(errors).toHaveLength(1);
    expect(b.stats().counters.handlerErrors).toBe(1);
  });

  it("without onHandlerError, a handler's exception surfaces from the clock after the batch", async () => {
    const clock = new VirtualClock();
    const [a, b] = createLink({ clock, latencyMs: 1 });
    const got: number[] = [];
    b.listen((f) => {
      got.push(seqOf(f));
      if (seqOf(f) === 0) throw new Error("handler bug");
    });
    send(a, seqFrame(B, A, 0));
    send(a, seqFrame(B, A, 1));
    expect(() => clock.advanceSync(1)).toThrow("handler bug");
    expect(got).toEqual([0, 1]);
  });

  it("reports its MACs and MTU, defaulting deterministically", () => {
    const clock = new VirtualClock();
    const [a, b] = createLink({ clock });
    expect([a.mac, b.mac, a.mtu, b.mtu, a.name, b.name]).toEqual([A, B, 1500, 1500, "a", "b"]);
    const [c, d] = createLink({ clock, macA: 0x0a, macB: 0x0b, mtu: 9000 });
    expect([c.mac, d.mac, c.mtu]).toEqual([0x0a, 0x0b, 9000]);
  });

  it("bounds the bytes waiting for one end (queue-full)", async () => {
    const clock = new VirtualClock();
    const [a, b] = createLink({ clock, queueBytes: 1000 });
    const got = collect(b, clock);
    for (let i = 0; i < 20; i++) expect(send(a, seqFrame(B, A, i, 86))).toBe(true); // 100-byte frames
    expect(b.pendingFrames).toBe(10);
    await settle();
    expect(got.map((r) => seqOf(r.frame))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(b.stats().drops).toEqual({ "queue-full": 10 });
    // Small frames are charged 64 bytes each.
    for (let i = 0; i < 20; i++) send(a, seqFrame(B, A, i, 46));
    expect(b.pendingFrames).toBe(15);
  });

  it("rejects bad options with EINVAL", () => {
    const clock = new VirtualClock();
    const bad: unknown[] = [
      undefined,
      null,
      {},
      { clock: {} },
      { clock, latencyMs: -1 },
      { clock, latencyMs: NaN },
      { clock, latencyMs: Infinity },
      { clock, mtu: 0 },
      { clock, mtu: 1500.5 },
      { clock, mtu: 1e9 },
      { clock, macA: -1 },
      { clock, macB: 2 ** 48 },
      { clock, macA: "02:00:00:00:00:01" },
      { clock, queueBytes: 0 },
      { clock, random: {} },
      { clock, onDeliver: "x" },
    ];
    for (const o of bad) expectEinval(() => createLink(o as Parameters<typeof createLink>[0]));
  });
});
