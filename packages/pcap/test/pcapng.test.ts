import { describe, expect, it } from "vitest";
import { CaptureReader, detectFormat, readCapture } from "../src/index.js";
import { PcapngBuilder, classicPcap, opt } from "./helpers.js";

const frame = (n: number, fill = 0xab) => new Uint8Array(n).fill(fill);

describe("pcapng specifics", () => {
  it("uses microseconds when an IDB has no if_tsresol", () => {
    const b = new PcapngBuilder().shb().idb().epb({ ts: 1_795_730_702_045_536n, data: frame(42) });
    const [r] = readCapture(b.bytes()).records;
    expect(r).toMatchObject({ sec: 1_795_730_702, nsec: 45_536_000, capturedLength: 42, originalLength: 42, linktype: 1 });
    expect(r!.timestampMs).toBeCloseTo(1_795_730_702_045.536, 3);
  });

  it.each([
    ["10^-9", 9, 1_795_730_702_123_456_789n, 1_795_730_702, 123_456_789],
    ["10^-3", 3, 1_795_730_702_123n, 1_795_730_702, 123_000_000],
    ["10^0", 0, 1_795_730_702n, 1_795_730_702, 0],
    ["10^-12 (finer than ns: truncated)", 12, 12_345_678_901_234_567_891n, 12_345_678, 901_234_567],
    ["2^-10", 0x80 | 10, (5n << 10n) + 512n, 5, 500_000_000],
    ["2^-30", 0x80 | 30, (1_795_730_702n << 30n) + (1n << 28n), 1_795_730_702, 250_000_000],
    ["2^-32 (NTP-like)", 0x80 | 32, (7n << 32n) + 0x4000_0000n, 7, 250_000_000],
    ["10^-6 explicit, above 2^53", 6, 2n ** 60n, Number(2n ** 60n / 1_000_000n), Number((2n ** 60n % 1_000_000n) * 1000n)],
    ["10^-6, 2^53 + 1 (just past exact doubles)", 6, 2n ** 53n + 1n, 9_007_199_254, 740_993_000],
    ["10^-9, 2^54 + 3", 9, 2n ** 54n + 3n, 18_014_398, 509_481_987],
    ["10^-3, 2^55 - 1", 3, 2n ** 55n - 1n, 36_028_797_018_963, 967_000_000],
  ])("if_tsresol %s", (_label, resol, units, sec, nsec) => {
    for (const le of [true, false]) {
      const b = new PcapngBuilder(le).shb().idb({ options: [opt.tsresol(resol)] }).epb({ ts: units, data: frame(1) });
      const c = readCapture(b.bytes());
      expect(c.records[0]).toMatchObject({ sec, nsec });
      expect(c.interfaces[0]!.tsresol.base).toBe(resol & 0x80 ? 2 : 10);
    }
  });

  it("applies if_tsoffset (seconds)", () => {
    const b = new PcapngBuilder().shb().idb({ tsoffset: 1_000_000_000n }).epb({ ts: 5_000_001n, data: frame(1) });
    const c = readCapture(b.bytes());
    expect(c.interfaces[0]!.tsoffset).toBe(1_000_000_000);
    expect(c.records[0]).toMatchObject({ sec: 1_000_000_005, nsec: 1000 });
    const neg = new PcapngBuilder(false).shb().idb({ tsoffset: -5n }).epb({ ts: 7_000_000n, data: frame(1) });
    expect(readCapture(neg.bytes()).records[0]).toMatchObject({ sec: 2, nsec: 0 });
  });

  it("decodes interface names, descriptions and if_fcslen, and ignores unknown options", () => {
    const b = new PcapngBuilder()
      .shb({ options: [opt.raw(2, new TextEncoder().encode("x86_64")), opt.raw(4, new TextEncoder().encode("test"))] })
      .idb({ linktype: 105, snaplen: 2048, options: [opt.name("eth0\u0000"), opt.raw(4, new Uint8Array(8)), opt.description("uplink é"), opt.fcslen(4), opt.raw(0x8000, frame(5))] });
    const [f] = readCapture(b.bytes()).interfaces;
    expect(f).toEqual({ section: 0, id: 0, linktype: 105, snaplen: 2048, tsresol: { base: 10, exponent: 6 }, tsoffset: 0, name: "eth0", description: "uplink é", fcsLength: 4, offset: 52 });
  });

  it("stops reading options at opt_endofopt", () => {
    // After the end-of-options marker come bytes that would be a broken option.
    const body = new PcapngBuilder().body().u16(1).u16(0).u32(0).u16(9).u16(1).u8(9, 0, 0, 0).u16(0).u16(0).u16(3).u16(0xffff).build();
    const b = new PcapngBuilder().shb().block(1, body).epb({ ts: 1_500_000_000n, data: frame(3) });
    const c = readCapture(b.bytes());
    expect(c.interfaces[0]!.tsresol).toEqual({ base: 10, exponent: 9 });
    expect(c.records[0]).toMatchObject({ sec: 1, nsec: 500_000_000 });
  });

  it("Simple Packet Blocks: interface 0, original length from the block, captured length capped by snaplen", () => {
    const data = frame(100, 7);
    const b = new PcapngBuilder()
      .shb()
      .idb({ snaplen: 64, linktype: 1 })
      .idb({ snaplen: 0, linktype: 101 })
      .spb({ data: data.subarray(0, 64), origlen: 100 })
      .spb({ data: data.subarray(0, 10), origlen: 10 });
    const c = readCapture(b.bytes());
    expect(c.records.map((r) => [r.interfaceId, r.linktype, r.capturedLength, r.originalLength, r.sec, r.nsec, r.timestampMs])).toEqual([
      [0, 1, 64, 100, 0, 0, 0],
      [0, 1, 10, 10, 0, 0, 0],
    ]);
    // snaplen 0 means unlimited
    const unlimited = new PcapngBuilder().shb().idb({ snaplen: 0 }).spb({ data, origlen: 100 });
    expect(readCapture(unlimited.bytes()).records[0]!.capturedLength).toBe(100);
  });

  it("skips unknown blocks by their total length, counting them", () => {
    const b = new PcapngBuilder()
      .shb()
      .block(0x0bad, frame(13))
      .idb()
      .block(4, new Uint8Array(0)) // Name Resolution Block
      .block(5, frame(20)) // Interface Statistics Block
      .epb({ data: frame(5) })
      .block(0x40000bad, frame(3))
      .block(0xffffffff, frame(1000));
    const c = readCapture(b.bytes());
    expect(c.skippedBlocks).toBe(5);
    expect(c.records).toHaveLength(1);
  });

  it("accepts IDBs after packets and keeps interface IDs per section", () => {
    const b = new PcapngBuilder()
      .shb()
      .idb({ linktype: 1 })
      .epb({ ifid: 0, data: frame(1) })
      .idb({ linktype: 113, options: [opt.tsresol(9)] })
      .epb({ ifid: 1, ts: 2_000_000_001n, data: frame(2) })
      .shb({ le: false })
      .idb({ linktype: 228 })
      .epb({ ifid: 0, ts: 3_000_000n, data: frame(3) });
    const c = readCapture(b.bytes());
    expect(c.sections.map((s) => [s.index, s.byteOrder, s.interfaces.map((f) => f.linktype)])).toEqual([
      [0, "little", [1, 113]],
      [1, "big", [228]],
    ]);
    expect(c.records.map((r) => [r.iface.section, r.interfaceId, r.linktype, r.sec, r.nsec])).toEqual([
      [0, 0, 1, 0, 0],
      [0, 1, 113, 2, 1],
      [1, 0, 228, 3, 0],
    ]);
    expect(c.interfaces).toHaveLength(3);
  });

  it("reads the obsolete Packet Block", () => {
    const b = new PcapngBuilder(false).shb().idb().pb({ ifid: 0, drops: 3, ts: 1_000_002n, data: frame(9), origlen: 60 });
    expect(readCapture(b.bytes()).records[0]).toMatchObject({ sec: 1, nsec: 2000, capturedLength: 9, originalLength: 60 });
  });

  it("is iterable lazily and reports progress", () => {
    const b = new PcapngBuilder().shb().idb().epb({ data: frame(1) }).epb({ data: frame(2) });
    const bytes = b.bytes();
    const reader = new CaptureReader(bytes);
    expect(reader.format).toBe("pcapng");
    expect(reader.interfaces).toHaveLength(0); // not read yet
    const first = reader.nextRecord();
    expect(first?.capturedLength).toBe(1);
    expect(reader.interfaces).toHaveLength(1);
    expect([...reader].map((r) => r.capturedLength)).toEqual([2]);
    expect(reader.nextRecord()).toBeUndefined();
    expect(reader.offset).toBe(bytes.length);
  });

  it("reads from a view with a non-zero byteOffset", () => {
    const inner = new PcapngBuilder(false).shb().idb().epb({ ts: 5n, data: frame(4, 1) }).bytes();
    const outer = new Uint8Array(inner.length + 7);
    outer.set(inner, 3);
    const c = readCapture(outer.subarray(3, 3 + inner.length));
    expect(c.records[0]!.data).toEqual(frame(4, 1));
    expect(c.records[0]!.data.byteOffset).toBe(3 + c.records[0]!.offset + 28);
  });
});

describe("detectFormat and classic variants", () => {
  it("detects by magic", () => {
    expect(detectFormat(new PcapngBuilder().shb().bytes())).toBe("pcapng");
    expect(detectFormat(classicPcap({ le: true }))).toBe("pcap");
    expect(detectFormat(classicPcap({ le: false, nano: true }))).toBe("pcap");
    expect(detectFormat(Uint8Array.of(1, 2, 3, 4))).toBeUndefined();
    expect(detectFormat(Uint8Array.of(0xd4, 0xc3))).toBeUndefined();
  });

  it.each([
    [true, false],
    [false, false],
    [true, true],
    [false, true],
  ])("reads classic pcap (little-endian %s, nanosecond %s)", (le, nano) => {
    const bytes = classicPcap({
      le,
      nano,
      snaplen: 96,
      linktype: 0x0400_0000 | (4 << 28) | 1, // Ethernet with a 4-byte FCS
      records: [
        { sec: 1_795_730_702, sub: nano ? 45_536_123 : 45_536, data: frame(42), origlen: 60 },
        { sec: 0xffff_ffff, sub: nano ? 999_999_999 : 999_999, data: frame(0) },
      ],
    });
    const c = readCapture(bytes);
    expect(c.header).toEqual({
      byteOrder: le ? "little" : "big",
      nanosecond: nano,
      versionMajor: 2,
      versionMinor: 4,
      thiszone: 0,
      sigfigs: 0,
      snaplen: 96,
      linktype: 1,
      linktypeField: (0x0400_0000 | (4 << 28) | 1) >>> 0,
      fcsLength: 4,
    });
    expect(c.interfaces[0]).toMatchObject({ linktype: 1, snaplen: 96, fcsLength: 4, tsresol: { base: 10, exponent: nano ? 9 : 6 } });
    expect(c.records.map((r) => [r.sec, r.nsec, r.capturedLength, r.originalLength])).toEqual([
      [1_795_730_702, nano ? 45_536_123 : 45_536_000, 42, 60],
      [0xffff_ffff, 999_999_999 - (nano ? 0 : 999), 0, 0],
    ]);
  });

  it("carries an out-of-range fraction into the seconds", () => {
    const c = readCapture(classicPcap({ records: [{ sec: 10, sub: 2_500_000, data: frame(1) }] }));
    expect(c.records[0]).toMatchObject({ sec: 12, nsec: 500_000_000 });
    const n = readCapture(classicPcap({ nano: true, records: [{ sec: 10, sub: 0xffff_ffff, data: frame(1) }] }));
    expect(n.records[0]).toMatchObject({ sec: 14, nsec: 294_967_295 });
  });

  it("accepts captured lengths above snaplen and above the original length (within the cap)", () => {
    const c = readCapture(classicPcap({ snaplen: 10, records: [{ data: frame(20), origlen: 5 }] }));
    expect(c.records[0]).toMatchObject({ capturedLength: 20, originalLength: 5 });
  });
});
