import { describe, expect, it } from "vitest";
import { mac, type Clock, type Fill, type FrameHandler, type LayerStats, type Netif } from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { PcapWriter, readCapture, withPcap } from "../src/index.js";

/** A minimal device: records what it sends, delivers what the test injects. */
class FakeNetif implements Netif {
  readonly mac = mac(0x020000000001);
  readonly mtu = 1500;
  accept = true;
  closed = false;
  /** Every buffer the device allocated, and the bytes it sent. */
  readonly allocated: Uint8Array[] = [];
  readonly sent: Uint8Array[] = [];
  private handler: FrameHandler | undefined;
  private drops = 0;

  transmit(size: number, fill: Fill): boolean {
    if (this.closed || size > this.mtu + 14) return this.drop();
    const buf = new Uint8Array(size);
    this.allocated.push(buf);
    let n: number;
    try {
      n = fill(buf);
    } catch {
      return this.drop();
    }
    if (!Number.isInteger(n) || n < 0 || n > size) return this.drop();
    // A device that finds its queue full only after the fill.
    if (!this.accept) return this.drop();
    this.sent.push(buf.subarray(0, n));
    return true;
  }

  private drop(): false {
    this.drops++;
    return false;
  }

  listen(handler: FrameHandler): void {
    this.handler = handler;
  }

  deliver(frame: Uint8Array): void {
    if (!this.closed) this.handler?.(frame);
  }

  stats(): LayerStats {
    return { counters: { txFrames: this.sent.length, rxFrames: 0, txBytes: 0, rxBytes: 0 }, drops: { local: this.drops } };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function randomFrame(rnd: SeededRandom, n: number): Uint8Array {
  const f = new Uint8Array(n);
  rnd.fill(f);
  return f;
}

const EPOCH = 1_795_730_702_000;

describe("withPcap", () => {
  it("records transmitted and received frames with the clock's wall time, leaving them untouched", async () => {
    const clock = new VirtualClock({ epochMs: EPOCH });
    const dev = new FakeNetif();
    const writer = new PcapWriter();
    const netif = withPcap(dev, { writer, clock });
    expect(netif.mac).toBe(dev.mac);
    expect(netif.mtu).toBe(1500);
    expect(netif.inner).toBe(dev);

    const rnd = new SeededRandom(1);
    const received: Uint8Array[] = [];
    netif.listen((f) => received.push(f));
    const expected: { dir: "tx" | "rx"; bytes: Uint8Array; sec: number; nsec: number }[] = [];

    for (let i = 0; i < 50; i++) {
      await clock.advance(1 + (rnd.uint32() % 5000) / 1000); // fractions of a millisecond too
      const wall = clock.wallTime();
      const sec = Math.floor(wall / 1000);
      const usec = Math.round((wall - sec * 1000) * 1000);
      const bytes = randomFrame(rnd, 14 + (rnd.uint32() % 1500));
      if (rnd.uint32() % 2 === 0) {
        const size = bytes.length + (rnd.uint32() % 4); // the fill may use less than the buffer
        let filled: Uint8Array | undefined;
        const ok = netif.transmit(size, (buf) => {
          filled = buf;
          buf.set(bytes);
          return bytes.length;
        });
        expect(ok).toBe(true);
        // The caller's fill got the device's own buffer: still one allocation per frame.
        expect(filled).toBe(dev.allocated[dev.allocated.length - 1]);
        expected.push({ dir: "tx", bytes, sec, nsec: usec * 1000 });
      } else {
        const frame = bytes.slice();
        dev.deliver(frame);
        expect(received[received.length - 1]).toBe(frame); // the very same object
        expected.push({ dir: "rx", bytes, sec, nsec: usec * 1000 });
      }
    }

    const tx = expected.filter((e) => e.dir === "tx");
    const rx = expected.filter((e) => e.dir === "rx");
    // The device sent, and the listener got, exactly the original bytes.
    expect(dev.sent).toEqual(tx.map((e) => e.bytes));
    expect(received).toEqual(rx.map((e) => e.bytes));

    const c = readCapture(writer.toBytes());
    expect(c.records.length).toBe(50);
    c.records.forEach((r, i) => {
      const e = expected[i]!;
      expect(r.data).toEqual(e.bytes);
      expect(r.originalLength).toBe(e.bytes.length);
      expect([r.sec, r.nsec]).toEqual([e.sec, e.nsec]);
    });
    const stats = netif.captureStats();
    expect(stats).toEqual({ txFrames: tx.length, rxFrames: rx.length, bytes: expected.reduce((a, e) => a + e.bytes.length, 0), errors: 0 });
    expect(netif.stats().counters).toMatchObject({ txFrames: tx.length, pcapTxFrames: tx.length, pcapRxFrames: rx.length, pcapErrors: 0 });
    expect(tx.length).toBeGreaterThan(10);
    expect(rx.length).toBeGreaterThan(10);
  });

  it("uses now() when the clock has no wallTime", () => {
    let t = 12_345.678;
    const clock: Clock = { now: () => t, setTimer: () => ({ cancel() {} }) };
    const dev = new FakeNetif();
    const writer = new PcapWriter({ nanosecond: true });
    const netif = withPcap(dev, { writer, clock });
    netif.listen(() => {});
    netif.transmit(20, (b) => b.length);
    t = 99_000.5;
    dev.deliver(new Uint8Array(30));
    const r = readCapture(writer.toBytes()).records;
    expect(r.map((x) => [x.sec, x.nsec, x.capturedLength])).toEqual([
      [12, 345_678_000, 20],
      [99, 500_000, 30],
    ]);
  });

  it("does not record frames the device dropped, cancelled fills, or out-of-range lengths", () => {
    const clock = new VirtualClock({ epochMs: EPOCH });
    const dev = new FakeNetif();
    const writer = new PcapWriter();
    const netif = withPcap(dev, { writer, clock });
    dev.accept = false; // dropped after the fill ran
    expect(netif.transmit(60, (b) => b.length)).toBe(false);
    dev.accept = true;
    expect(netif.transmit(2000, (b) => b.length)).toBe(false); // above the MTU: before the fill
    expect(
      netif.transmit(60, () => {
        throw new Error("cancelled");
      }),
    ).toBe(false);
    expect(netif.transmit(60, () => 61)).toBe(false);
    expect(netif.transmit(60, () => -1)).toBe(false);
    expect(netif.transmit(60, () => Number.NaN)).toBe(false);
    expect(netif.transmit(60, (b) => (b.fill(7), 0))).toBe(true); // an empty frame is a frame
    expect(netif.transmit(60, (b) => (b.fill(9), 60))).toBe(true);
    const c = readCapture(writer.toBytes());
    expect(c.records.map((r) => r.capturedLength)).toEqual([0, 60]);
    expect(c.records[1]!.data).toEqual(new Uint8Array(60).fill(9));
    expect(netif.captureStats()).toMatchObject({ txFrames: 2, errors: 0 });
    expect(dev.stats().drops.local).toBe(6);
  });

  it("a failing writer never disturbs the device path", () => {
    const clock = new VirtualClock({ epochMs: EPOCH });
    const dev = new FakeNetif();
    let fail = false;
    const chunks: Uint8Array[] = [];
    const writer = new PcapWriter({
      sink: (c) => {
        if (fail) throw new Error("disk full");
        chunks.push(c);
      },
    });
    const netif = withPcap(dev, { writer, clock });
    const got: Uint8Array[] = [];
    netif.listen((f) => got.push(f));
    fail = true;
    expect(netif.transmit(20, (b) => b.length)).toBe(true);
    dev.deliver(new Uint8Array(5));
    expect(dev.sent).toHaveLength(1);
    expect(got).toHaveLength(1);
    expect(netif.captureStats()).toEqual({ txFrames: 0, rxFrames: 0, bytes: 0, errors: 2 });
    // A clock outside the pcap time range: the frame still goes out.
    const before = new VirtualClock({ epochMs: -5000 });
    const n2 = withPcap(dev, { writer: new PcapWriter(), clock: before });
    expect(n2.transmit(20, (b) => b.length)).toBe(true);
    expect(n2.captureStats().errors).toBe(1);
    fail = false;
    expect(netif.transmit(20, (b) => b.length)).toBe(true);
    expect(netif.captureStats().txFrames).toBe(1);
    expect(chunks).toHaveLength(2); // header, then the one good record
  });

  it("honours tx/rx switches, listener replacement, and nested transmits", async () => {
    const clock = new VirtualClock({ epochMs: EPOCH });
    const dev = new FakeNetif();
    const writer = new PcapWriter();
    const rxOnly = withPcap(dev, { writer, clock, tx: false });
    rxOnly.transmit(20, (b) => b.length);
    const first: Uint8Array[] = [];
    const second: Uint8Array[] = [];
    rxOnly.listen((f) => first.push(f));
    rxOnly.listen((f) => second.push(f));
    dev.deliver(new Uint8Array(7));
    expect([first.length, second.length]).toEqual([0, 1]);
    expect(rxOnly.captureStats()).toMatchObject({ txFrames: 0, rxFrames: 1 });

    const w2 = new PcapWriter();
    const both = withPcap(dev, { writer: w2, clock });
    // A fill that itself transmits (not something a stack does, but it must not mix the records up).
    both.transmit(30, (outer) => {
      outer.fill(1);
      both.transmit(10, (inner) => (inner.fill(2), 10));
      return 30;
    });
    const recs = readCapture(w2.toBytes()).records;
    expect(recs.map((r) => [r.capturedLength, r.data[0]])).toEqual([
      [10, 2],
      [30, 1],
    ]);
    await both.close();
    expect(dev.closed).toBe(true);
    expect(both.transmit(10, (b) => b.length)).toBe(false);
    expect(both.captureStats().txFrames).toBe(2);
  });
});
