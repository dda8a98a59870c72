import { describe, expect, it } from "vitest";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { expectReject, twoHosts } from "@morgana/testkit";
import { ACK, TcpLayer } from "../src/index.js";
import { Harness, RISN, activeOpen, add, bytes, passiveOpen } from "./harness.js";

const NO_TS = { mss: 1460, wscale: 7, sackPermitted: true };

describe("Nagle's algorithm (RFC 896) and noDelay", () => {
  it("holds a small segment while data is unacknowledged, and sends it on the ACK", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    await flow.write(bytes(10));
    expect(h.one().data.length).toBe(10);
    await flow.write(bytes(10, 2));
    await flow.write(bytes(10, 3));
    h.none();
    h.send({ seq: RISN + 1, ack: add(iss, 11), flags: ACK });
    const s = h.one();
    expect(s.data).toEqual(new Uint8Array([...bytes(10, 2), ...bytes(10, 3)]));
  });

  it("noDelay sends every write at once; setNoDelay(true) flushes what Nagle held", async () => {
    const h = new Harness();
    const { flow } = await activeOpen(h, NO_TS, 65535, { noDelay: true });
    await flow.write(bytes(10));
    await flow.write(bytes(10, 2));
    expect(h.out().map((s) => s.data.length)).toEqual([10, 10]);
    flow.setNoDelay(false);
    await flow.write(bytes(10, 3));
    h.none();
    flow.setNoDelay(true);
    expect(h.one().data.length).toBe(10);
  });

  it("full-sized segments are never held", async () => {
    const h = new Harness();
    const { flow } = await activeOpen(h, NO_TS);
    await flow.write(bytes(10));
    h.one();
    await flow.write(bytes(1460 * 2 + 5));
    expect(h.out().map((s) => s.data.length)).toEqual([1460, 1460]);
  });
});

describe("silly window syndrome avoidance (RFC 9293 §3.8.6.2)", () => {
  it("sender: does not fill a small window with a small segment, until the persist timer overrides", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, { mss: 1460 }, 10_000);
    await flow.write(bytes(20_000));
    // Six full segments; the remaining 1240 bytes of window are less than half the largest window: held.
    expect(h.out().map((s) => s.data.length)).toEqual([1460, 1460, 1460, 1460, 1460, 1460]);
    // The peer acknowledges everything but opens only 100 bytes.
    h.send({ seq: RISN + 1, ack: add(iss, 8761), flags: ACK, window: 100 });
    h.none();
    // The persist timer's override sends what fits.
    await h.clock.advance(1000);
    expect(h.one().data.length).toBe(100);
    // A window of at least half the largest one is used at once.
    h.send({ seq: RISN + 1, ack: add(iss, 8861), flags: ACK, window: 5000 });
    // Full segments go; the 620-byte tail of the window is again below Fs·max(SND.WND) (RFC 9293 §3.8.6.2.1).
    expect(h.out().map((s) => s.data.length)).toEqual([1460, 1460, 1460]);
  });

  it("receiver: the advertised right edge moves only in steps of at least min(buffer/2, MSS)", async () => {
    const h = new Harness({ receiveBufferSize: 8192, windowScaling: false });
    const { flow, iss } = await passiveOpen(h, { mss: 1460 });
    // 8000 bytes arrive; nothing read: window 192.
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, data: bytes(8000) });
    await h.settle(40);
    expect(h.out().at(-1)!.window).toBe(192);
    // The application reads 100 bytes... but a read takes the whole chunk; simulate a small gain:
    // 100 more bytes arrive and fill the window further.
    h.send({ seq: RISN + 8001, ack: add(iss, 1), flags: ACK, data: bytes(100) });
    await h.settle(40);
    expect(h.out().at(-1)!.window).toBe(92);
    // Reading everything frees 8100 bytes: the right edge moves (a window update is sent).
    const got = await flow.read();
    expect(got!.length).toBe(8100);
    const upd = h.one();
    expect(upd.window).toBe(8192);
  });

  it("receiver: does not advertise a gain smaller than one MSS", async () => {
    const h = new Harness({ receiveBufferSize: 65535, windowScaling: false });
    const { iss } = await passiveOpen(h, { mss: 1460 });
    // 1000-byte segments, no reads: the window shrinks by 1000 each time; never grows back.
    let last = 65535;
    for (let i = 0; i < 6; i++) {
      h.send({ seq: RISN + 1 + i * 1000, ack: add(iss, 1), flags: ACK, data: bytes(1000, i) });
      await h.settle(40);
      const w = h.out().at(-1)!.window;
      expect(w).toBeLessThan(last);
      last = w;
    }
    expect(last).toBe(65535 - 6000);
  });
});

describe("window scaling with large buffers (RFC 7323)", () => {
  it("a 4 MiB receive buffer advertises a scaled window of 4 MiB and is filled by the sender", async () => {
    const clock = new VirtualClock();
    const { a, b } = twoHosts(clock, 50); // 100 ms RTT
    const ta = new TcpLayer({ ipv4: a, clock, random: new SeededRandom(1), sendBufferSize: 8 << 20 });
    const tb = new TcpLayer({ ipv4: b, clock, random: new SeededRandom(2), receiveBufferSize: 4 << 20 });
    const l = await tb.listen({ port: 80 });
    const cp = ta.connect({ address: "10.77.0.2", port: 80 });
    await clock.advance(200);
    const c = await cp;
    const s = (await l.accept())!;
    expect(c.info().windowScaling).toBe(true);
    // 4 MiB needs shift 7 (65535 << 6 is just below 4 MiB).
    const { decodeTcp } = await import("../src/index.js");
    const synAck = b.written.map((w) => decodeTcp(w.payload)).find((x) => (x.flags & 0x12) === 0x12)!;
    expect(synAck.options.wscale).toBe(7);
    // Without reading, the sender fills exactly the 4 MiB window (the window is the backpressure).
    void c.write(new Uint8Array(6 << 20));
    await clock.advance(5000);
    const st = s.info();
    expect(st.receiveWindow).toBeLessThan(128); // below one scale unit
    expect(c.info().sendWindow).toBeLessThan(128);
    expect(c.info().bytesSent).toBeGreaterThanOrEqual((4 << 20) - 127);
    expect(c.info().bytesSent).toBeLessThanOrEqual(4 << 20);
    await ta.close();
    await tb.close();
  });
});

describe("backpressure", () => {
  it("write resolves when the data is accepted into the send buffer and stays pending while it is full; nothing is lost", async () => {
    const clock = new VirtualClock();
    const { a, b } = twoHosts(clock, 1);
    const ta = new TcpLayer({ ipv4: a, clock, random: new SeededRandom(1), sendBufferSize: 16_384 });
    const tb = new TcpLayer({ ipv4: b, clock, random: new SeededRandom(2), receiveBufferSize: 16_384 });
    const l = await tb.listen({ port: 80 });
    const cp = ta.connect({ address: "10.77.0.2", port: 80 });
    await clock.advance(10);
    const c = await cp;
    const s = (await l.accept())!;
    const chunks = Array.from({ length: 40 }, (_, i) => bytes(4000, i));
    let accepted = 0;
    const writer = (async () => {
      for (const ch of chunks) {
        await c.write(ch);
        accepted++;
      }
      await c.shutdown();
    })();
    await clock.advance(1000);
    // The reader reads nothing: the receive window (16 KiB) and the send buffer (16 KiB) fill, then the writer waits.
    expect(accepted).toBeGreaterThan(3);
    expect(accepted).toBeLessThan(12);
    const stalledAt = accepted;
    await clock.advance(10_000);
    expect(accepted).toBe(stalledAt);
    expect(s.info().receiveWindow).toBe(0);
    // The reader drains: everything arrives, in order, exactly once.
    const got: Uint8Array[] = [];
    const reader = (async () => {
      for await (const x of s) got.push(x);
    })();
    await clock.runUntil(() => accepted === chunks.length && got.reduce((n, x) => n + x.length, 0) === 160_000, { maxTimeMs: 600_000 });
    await writer;
    await clock.advance(2000);
    await reader;
    const all = new Uint8Array(160_000);
    let o = 0;
    for (const g of got) (all.set(g, o), (o += g.length));
    expect(all).toEqual(new Uint8Array(chunks.flatMap((x) => [...x])));
    await ta.close();
    await tb.close();
  });

  it("writev accepts several chunks together; rejects non-Uint8Array input with EINVAL", async () => {
    const h = new Harness();
    const { flow } = await activeOpen(h, NO_TS);
    await flow.writev([bytes(3), bytes(4, 2)]);
    expect(h.one().data).toEqual(new Uint8Array([...bytes(3), ...bytes(4, 2)]));
    await expectReject(flow.writev(["x" as unknown as Uint8Array]), "EINVAL");
    await expectReject(flow.write("x" as unknown as Uint8Array), "EINVAL");
    await flow.write(new Uint8Array(0)); // nothing to send
    h.none();
  });

  it("concurrent reads are served in order; async iteration ends at the end of stream", async () => {
    const h = new Harness();
    const { flow, iss } = await passiveOpen(h, NO_TS);
    const r1 = flow.read();
    const r2 = flow.read();
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, data: bytes(5) });
    h.send({ seq: RISN + 6, ack: add(iss, 1), flags: ACK, data: bytes(6, 2) });
    expect((await r1)!.length).toBe(5);
    expect((await r2)!.length).toBe(6);
    h.send({ seq: RISN + 12, ack: add(iss, 1), flags: ACK | 0x01, data: bytes(7, 3) });
    const seen: number[] = [];
    for await (const c of flow) seen.push(c.length);
    expect(seen).toEqual([7]);
  });
});

describe("out-of-order reassembly", () => {
  it("delivers data that arrived in any order exactly once, in order (property)", async () => {
    const fc = (await import("fast-check")).default;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(3999), fc.integer({ min: 1, max: 1500 })), { minLength: 1, maxLength: 40 }),
        async (pieces) => {
          const h = new Harness({ delayedAckMs: 0 });
          const { flow, iss } = await passiveOpen(h, NO_TS);
          const data = bytes(4000, 7);
          // Arbitrary (overlapping, duplicated, out-of-order) pieces, then everything once to finish.
          for (const [off, len] of pieces) {
            const end = Math.min(4000, off + len);
            h.send({ seq: RISN + 1 + off, ack: add(iss, 1), flags: ACK, data: data.subarray(off, end) });
          }
          h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK | 0x01, data });
          const got: number[] = [];
          for await (const c of flow) got.push(...c);
          expect(new Uint8Array(got)).toEqual(data);
          // Every ACK is cumulative and never goes back.
          const acks = h.out().map((s) => s.ack);
          for (let i = 1; i < acks.length; i++) expect(((acks[i]! - acks[i - 1]!) | 0) >= 0).toBe(true);
          await h.tcp.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  it("keeps at most maxOooRanges ranges; more holes are dropped and counted", async () => {
    const h = new Harness({ maxOooRanges: 4 });
    const { iss } = await passiveOpen(h, NO_TS);
    for (let i = 0; i < 8; i++) h.send({ seq: RISN + 1 + 100 + i * 200, ack: add(iss, 1), flags: ACK, data: bytes(100, i) });
    expect(h.drops()["ooo-full-or-duplicate"]).toBe(4);
  });
});

describe("PAWS (RFC 7323 §5)", () => {
  it("drops a segment whose timestamp is older than TS.Recent and answers with an ACK", async () => {
    const h = new Harness();
    const { flow, iss } = await passiveOpen(h, { mss: 1460, tsVal: 5000, tsEcr: 0 });
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, data: bytes(10), options: { tsVal: 6000, tsEcr: 0 } });
    expect((await flow.read())!.length).toBe(10);
    await h.settle(40);
    h.out();
    // A wrapped-around old duplicate: in window, but an old timestamp.
    h.send({ seq: RISN + 11, ack: add(iss, 1), flags: ACK, data: bytes(10, 2), options: { tsVal: 5500, tsEcr: 0 } });
    const a = h.one();
    expect(a.ack).toBe(RISN + 11);
    expect(a.options.tsEcr).toBe(6000);
    expect(h.drops().paws).toBe(1);
    expect(flow.info().bytesReceived).toBe(10);
    // A RST is never dropped by PAWS.
    h.send({ seq: RISN + 11, flags: 0x04, options: { tsVal: 1, tsEcr: 0 } });
    await expectReject(flow.read(), "ECONNRESET");
  });

  it("accepts an old timestamp after 24 days of idleness (RFC 7323 §5.5)", async () => {
    const h = new Harness();
    const { flow, iss } = await passiveOpen(h, { mss: 1460, tsVal: 5000, tsEcr: 0 });
    await h.clock.advance(25 * 24 * 3600_000);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, data: bytes(10), options: { tsVal: 100, tsEcr: 0 } });
    expect((await flow.read())!.length).toBe(10);
  });

  it("echoes TS.Recent from segments at or before Last.ACK.sent (RFC 7323 §4.3)", async () => {
    const h = new Harness();
    const { iss } = await passiveOpen(h, { mss: 1460, tsVal: 5000, tsEcr: 0 });
    // Two segments, delayed ACK: the ACK echoes the first one's TSval.
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, data: bytes(1460), options: { tsVal: 7000, tsEcr: 0 } });
    h.send({ seq: RISN + 1461, ack: add(iss, 1), flags: ACK, data: bytes(1460), options: { tsVal: 7001, tsEcr: 0 } });
    expect(h.one().options.tsEcr).toBe(7000);
  });
});
