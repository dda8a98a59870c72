import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MorganaError } from "@morgana/interfaces";
import { SeededRandom } from "@morgana/sim";
import { PcapWriter, readCapture } from "../src/index.js";
import { requireTool, skipWithout, toHex, traceBytes, tsharkFrames, withTempDir } from "./helpers.js";

function u32le(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

function expectEinval(f: () => unknown): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(MorganaError);
  expect((caught as MorganaError).code).toBe("EINVAL");
}

describe("PcapWriter", () => {
  it("writes the classic little-endian global header", () => {
    const micro = new PcapWriter().toBytes();
    expect(toHex(micro)).toBe("d4c3b2a1" + "02000400" + "00000000" + "00000000" + "00000400" + "01000000");
    const nano = new PcapWriter({ nanosecond: true, linktype: 101, snaplen: 65535 }).toBytes();
    expect(toHex(nano)).toBe("4d3cb2a1" + "02000400" + "00000000" + "00000000" + "ffff0000" + "65000000");
    const h = readCapture(nano).header!;
    expect(h).toMatchObject({ byteOrder: "little", nanosecond: true, snaplen: 65535, linktype: 101, versionMajor: 2, versionMinor: 4 });
  });

  it("writes a record header and a copy of the data", () => {
    const w = new PcapWriter();
    const data = Uint8Array.of(1, 2, 3, 4, 5);
    w.writeRecord(data, { sec: 1_700_000_000, nsec: 123_456_789 });
    data[0] = 99; // the writer copied
    const b = w.toBytes();
    expect(b.length).toBe(24 + 16 + 5);
    expect(u32le(b, 24)).toBe(1_700_000_000);
    expect(u32le(b, 28)).toBe(123_457); // rounded to microseconds
    expect(u32le(b, 32)).toBe(5);
    expect(u32le(b, 36)).toBe(5);
    expect(Array.from(b.subarray(40))).toEqual([1, 2, 3, 4, 5]);
    expect(w.recordsWritten).toBe(1);
    expect(w.bytesWritten).toBe(45);
  });

  it("converts float milliseconds, rounding to the file's resolution with carry", () => {
    const w = new PcapWriter();
    w.writeRecord(new Uint8Array(0), 1500.25); // 1 s 500.25 ms
    w.writeRecord(new Uint8Array(0), 1999.9999); // rounds up to 2 s exactly
    w.writeRecord(new Uint8Array(0), 1_795_730_702_045.536);
    const r = readCapture(w.toBytes()).records;
    expect(r.map((x) => [x.sec, x.nsec])).toEqual([
      [1, 500_250_000],
      [2, 0],
      [1_795_730_702, 45_536_000],
    ]);
    const n = new PcapWriter({ nanosecond: true });
    n.writeRecord(new Uint8Array(0), 1500.000_001);
    n.writeRecord(new Uint8Array(0), { sec: 7, nsec: 999_999_999 });
    const rn = readCapture(n.toBytes()).records;
    expect(rn.map((x) => [x.sec, x.nsec])).toEqual([
      [1, 500_000_001],
      [7, 999_999_999],
    ]);
  });

  it("truncates records longer than snaplen and keeps the original length", () => {
    const w = new PcapWriter({ snaplen: 4 });
    w.writeRecord(Uint8Array.of(1, 2, 3, 4, 5, 6), 0);
    w.writeRecord(Uint8Array.of(7, 8), 0, 1500);
    const r = readCapture(w.toBytes()).records;
    expect(r.map((x) => [Array.from(x.data), x.capturedLength, x.originalLength])).toEqual([
      [[1, 2, 3, 4], 4, 6],
      [[7, 8], 2, 1500],
    ]);
  });

  it("sends the header and one chunk per record to the sink, in order, unshared", () => {
    const chunks: Uint8Array[] = [];
    const w = new PcapWriter({ sink: (c) => chunks.push(c) });
    expect(chunks).toHaveLength(1);
    const memory = new PcapWriter();
    const rnd = new SeededRandom(3);
    for (let i = 0; i < 20; i++) {
      const data = new Uint8Array(rnd.uint32() % 200);
      rnd.fill(data);
      w.writeRecord(data, i * 10.5);
      memory.writeRecord(data, i * 10.5);
    }
    expect(chunks).toHaveLength(21);
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(21);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from(memory.toBytes()));
    expectEinval(() => w.toBytes());
  });

  it("toBytes can be called repeatedly while writing continues", () => {
    const w = new PcapWriter();
    w.writeRecord(Uint8Array.of(1), 0);
    const a = w.toBytes();
    w.writeRecord(Uint8Array.of(2), 0);
    const b = w.toBytes();
    expect(a.length).toBe(24 + 17);
    expect(b.length).toBe(24 + 34);
    expect(b.subarray(0, a.length)).toEqual(a);
    a[24] = 0xff; // the caller's copy
    expect(w.toBytes()).toEqual(b);
  });

  it("rejects bad arguments with EINVAL and writes nothing for them", () => {
    expectEinval(() => new PcapWriter({ snaplen: 0 }));
    expectEinval(() => new PcapWriter({ snaplen: 1.5 }));
    expectEinval(() => new PcapWriter({ linktype: -1 }));
    const w = new PcapWriter();
    const d = new Uint8Array(10);
    expectEinval(() => w.writeRecord(d, -1));
    expectEinval(() => w.writeRecord(d, Number.NaN));
    expectEinval(() => w.writeRecord(d, Number.POSITIVE_INFINITY));
    expectEinval(() => w.writeRecord(d, 2 ** 32 * 1000)); // 2106
    expectEinval(() => w.writeRecord(d, { sec: 2 ** 32, nsec: 0 }));
    expectEinval(() => w.writeRecord(d, { sec: 2 ** 32 - 1, nsec: 999_999_999 })); // rounds into 2^32
    expectEinval(() => w.writeRecord(d, { sec: 1, nsec: 1_000_000_000 }));
    expectEinval(() => w.writeRecord(d, { sec: 1, nsec: -1 }));
    expectEinval(() => w.writeRecord(d, { sec: 1.5, nsec: 0 }));
    expectEinval(() => w.writeRecord(d, 0, 9));
    expectEinval(() => w.writeRecord(d, 0, 2 ** 32));
    expectEinval(() => w.writeEncoded(new Uint8Array(20)));
    expect(w.recordsWritten).toBe(0);
    expect(w.toBytes().length).toBe(24);
    // The largest representable timestamp still works.
    w.writeRecord(d, { sec: 2 ** 32 - 1, nsec: 999_999_000 });
    expect(readCapture(w.toBytes()).records[0]).toMatchObject({ sec: 2 ** 32 - 1, nsec: 999_999_000 });
  });

  it("encodeRecord + writeEncoded equals writeRecord", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 4e12 }), fc.boolean(), (data, ms, nano) => {
        const a = new PcapWriter({ nanosecond: nano });
        const b = new PcapWriter({ nanosecond: nano });
        a.writeRecord(data, ms);
        b.writeEncoded(b.encodeRecord(data, ms));
        expect(a.toBytes()).toEqual(b.toBytes());
      }),
    );
  });
});

describe.skipIf(skipWithout("tshark"))("tshark reads what PcapWriter writes", () => {
  function checkWithTshark(bytes: Uint8Array, expected: { data: Uint8Array; len: number; sec: number; nsec: number }[]): void {
    requireTool("tshark");
    withTempDir((dir) => {
      const file = join(dir, "out.pcap");
      writeFileSync(file, bytes);
      const frames = tsharkFrames(file);
      expect(frames.length).toBe(expected.length);
      frames.forEach((f, i) => {
        const e = expected[i]!;
        expect(f.raw).toBe(toHex(e.data));
        expect(f.capLen).toBe(e.data.length);
        expect(f.len).toBe(e.len);
        expect([f.sec, f.nsec]).toEqual([e.sec, e.nsec]);
      });
    });
  }

  it.each([false, true])("random frames (nanosecond: %s)", (nano) => {
    const rnd = new SeededRandom(nano ? 11 : 10);
    const w = new PcapWriter({ nanosecond: nano, snaplen: 1000 });
    const expected: { data: Uint8Array; len: number; sec: number; nsec: number }[] = [];
    let sec = 1_700_000_000;
    for (let i = 0; i < 200; i++) {
      const len = i === 0 ? 0 : i === 1 ? 1 : 14 + (rnd.uint32() % 1501);
      const frame = new Uint8Array(len);
      rnd.fill(frame);
      sec += rnd.uint32() % 3;
      const nsec = nano ? rnd.uint32() % 1_000_000_000 : (rnd.uint32() % 1_000_000) * 1000;
      w.writeRecord(frame, { sec, nsec });
      expected.push({ data: frame.subarray(0, 1000), len, sec, nsec });
    }
    checkWithTshark(w.toBytes(), expected);
  });

  it("a trace re-written record by record", () => {
    const original = readCapture(traceBytes("tcp-http-get"));
    const w = new PcapWriter({ nanosecond: true });
    for (const r of original.records) w.writeRecord(r.data, r, r.originalLength);
    checkWithTshark(
      w.toBytes(),
      original.records.map((r) => ({ data: r.data, len: r.originalLength, sec: r.sec, nsec: r.nsec })),
    );
  });
});
