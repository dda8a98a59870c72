import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, MorganaError } from "@morgana/interfaces";
import { CaptureReader, PcapError, readCapture, type Capture, type PcapErrorKind } from "../src/index.js";
import { PcapngBuilder, classicPcap, opt, traceBytes } from "./helpers.js";

const frame = (n: number, fill = 0x5a) => new Uint8Array(n).fill(fill);

/** Runs `f`, which must throw a PcapError; returns it. */
function pcapError(f: () => unknown): PcapError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(PcapError);
  return caught as PcapError;
}

function expectError(bytes: Uint8Array, kind: PcapErrorKind, offset: number, recordOffset: number = offset, opts = {}): PcapError {
  const e = pcapError(() => readCapture(bytes, opts));
  expect({ kind: e.kind, offset: e.offset, recordOffset: e.recordOffset }).toEqual({ kind, offset, recordOffset });
  return e;
}

/** Reads strictly and leniently; anything but a PcapError fails the test. */
function readBoth(bytes: Uint8Array): { strict: Capture | PcapError; lenient: Capture | PcapError } {
  const attempt = (lenient: boolean): Capture | PcapError => {
    try {
      return readCapture(bytes, { lenient });
    } catch (e) {
      if (e instanceof PcapError) return e;
      throw e;
    }
  };
  return { strict: attempt(false), lenient: attempt(true) };
}

function checkSane(bytes: Uint8Array, r: Capture | PcapError): void {
  if (r instanceof PcapError) {
    expect(r.offset).toBeGreaterThanOrEqual(0);
    expect(r.offset).toBeLessThanOrEqual(bytes.length);
    expect(r.recordOffset).toBeLessThanOrEqual(r.offset);
    expect(r.code).toBe("EBADMSG");
    return;
  }
  expect(r.validLength).toBeLessThanOrEqual(bytes.length);
  if (r.error !== undefined) expect(r.error.recordOffset).toBe(r.validLength);
  for (const rec of r.records) {
    expect(rec.data.buffer).toBe(bytes.buffer);
    expect(rec.data.byteOffset + rec.data.length).toBeLessThanOrEqual(bytes.byteOffset + r.validLength);
    expect(rec.capturedLength).toBe(rec.data.length);
    expect(rec.nsec).toBeGreaterThanOrEqual(0);
    expect(rec.nsec).toBeLessThan(1e9);
  }
}

// ---- truncation at every byte ---------------------------------------------------------------

function checkEveryTruncation(full: Uint8Array, boundaries: number[], headerEnd: number, layer: "pcap" | "pcapng"): void {
  const complete = readCapture(full);
  for (let cut = 0; cut <= full.length; cut++) {
    const bytes = full.slice(0, cut);
    if (cut < headerEnd) {
      // The file header itself is cut: an error in strict and lenient mode alike.
      for (const lenient of [false, true]) {
        const e = pcapError(() => readCapture(bytes, { lenient }));
        expect(e.layer).toBe(cut < 4 ? "pcap" : layer);
        expect(e.recordOffset).toBe(0);
        expect(["truncated-header", "truncated-block"]).toContain(e.kind);
      }
      continue;
    }
    const prev = Math.max(...boundaries.filter((b) => b <= cut));
    // Records whose record or block lies wholly before the last boundary.
    const expectedRecords = complete.records.filter((r) => r.offset < prev).length;
    if (prev === cut) {
      // A clean cut between records: just fewer records.
      const c = readCapture(bytes);
      expect(c.error).toBeUndefined();
      expect(c.records.length).toBe(expectedRecords);
      expect(c.validLength).toBe(cut);
      continue;
    }
    const e = pcapError(() => readCapture(bytes));
    expect(e.layer).toBe(layer);
    expect(e.recordOffset).toBe(prev);
    expect(e.offset).toBe(prev);
    const headerLength = layer === "pcap" ? 16 : 8;
    const headerKind = layer === "pcap" ? "truncated-record-header" : "truncated-block-header";
    const bodyKind = layer === "pcap" ? "truncated-record" : "truncated-block";
    // A Section Header Block needs 12 bytes (with its byte-order magic) before its length can be read.
    const shb = layer === "pcapng" && full[prev] === 0x0a && full[prev + 1] === 0x0d;
    expect(e.kind).toBe(cut - prev < (shb ? 12 : headerLength) ? headerKind : bodyKind);
    expect(e.message).toContain(`at byte offset ${prev}`);
    const lenient = readCapture(bytes, { lenient: true });
    expect(lenient.error).toBeInstanceOf(PcapError);
    expect(lenient.error!.kind).toBe(e.kind);
    expect(lenient.records.length).toBe(expectedRecords);
    expect(lenient.validLength).toBe(prev);
    lenient.records.forEach((r, i) => expect(r.data).toEqual(complete.records[i]!.data));
  }
}

describe("truncated files", () => {
  it("classic pcap (a reference trace) cut at every byte", () => {
    const full = traceBytes("arp-icmp-echo");
    const c = readCapture(full);
    const boundaries = [24, ...c.records.map((r) => r.offset + 16 + r.capturedLength)];
    checkEveryTruncation(full, boundaries, 24, "pcap");
  });

  it("classic big-endian nanosecond pcap cut at every byte", () => {
    const full = classicPcap({ le: false, nano: true, records: [{ data: frame(30) }, { data: frame(0) }, { data: frame(7) }] });
    checkEveryTruncation(full, [24, 70, 86, 109], 24, "pcap");
  });

  it.each([true, false])("pcapng (little-endian %s) cut at every byte", (le) => {
    const b = new PcapngBuilder(le)
      .shb({ options: [opt.raw(4, new TextEncoder().encode("test writer"))] })
      .idb({ options: [opt.tsresol(9), opt.name("eth0")] })
      .epb({ ts: 123n, data: frame(33) })
      .block(0x0bad, frame(9))
      .spb({ data: frame(20) })
      .shb({ le: !le })
      .idb()
      .epb({ data: frame(3), options: [opt.raw(1, frame(5))] })
      .pb({ data: frame(1) });
    const boundaries = b.boundaries();
    checkEveryTruncation(b.bytes(), boundaries, boundaries[1]!, "pcapng");
  });
});

// ---- random corruption ----------------------------------------------------------------------

const pcapngSample = new PcapngBuilder()
  .shb()
  .idb({ snaplen: 100, options: [opt.tsresol(0x80 | 20), opt.name("x")] })
  .idb({ tsoffset: 5n })
  .epb({ ifid: 1, ts: 99n, data: frame(40) })
  .spb({ data: frame(50), origlen: 1000 })
  .block(5, frame(16))
  .shb({ le: false })
  .idb()
  .epb({ data: frame(3) })
  .pb({ data: frame(2) })
  .bytes();

const samples: [string, Uint8Array][] = [
  ["pcap trace", traceBytes("udp-port-unreachable")],
  ["nanosecond big-endian pcap", classicPcap({ le: false, nano: true, records: [{ data: frame(30) }, { data: frame(5) }] })],
  ["pcapng", pcapngSample],
];

describe("random corruption never throws anything but PcapError", () => {
  it.each(samples)("byte mutations of %s", (_name, sample) => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (muts) => {
        const bytes = sample.slice();
        for (const [i, v] of muts) bytes[i] = v;
        const { strict, lenient } = readBoth(bytes);
        checkSane(bytes, strict);
        checkSane(bytes, lenient);
      }),
      { numRuns: 500 },
    );
  });

  it.each(samples)("32-bit field overwrites of %s (lengths, IDs, magic)", (_name, sample) => {
    const values = fc.oneof(
      fc.constantFrom(0, 1, 3, 4, 8, 11, 12, 13, 16, 28, 32, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff, 0x0a0d0d0a, 0x1a2b3c4d),
      fc.nat({ max: 0xffffffff }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(Math.floor(sample.length / 4) - 1), values, fc.boolean()), { minLength: 1, maxLength: 4 }), (muts) => {
        const bytes = sample.slice();
        const dv = new DataView(bytes.buffer);
        for (const [slot, v, le] of muts) dv.setUint32(slot * 4, v, le);
        const { strict, lenient } = readBoth(bytes);
        checkSane(bytes, strict);
        checkSane(bytes, lenient);
      }),
      { numRuns: 500 },
    );
  });

  it("random bytes after a valid magic", () => {
    const magics = [Uint8Array.of(0xd4, 0xc3, 0xb2, 0xa1), Uint8Array.of(0xa1, 0xb2, 0x3c, 0x4d), Uint8Array.of(0x0a, 0x0d, 0x0d, 0x0a)];
    fc.assert(
      fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 400 }), (magic, rest) => {
        const bytes = new Uint8Array(4 + rest.length);
        bytes.set(magic);
        bytes.set(rest, 4);
        const { strict, lenient } = readBoth(bytes);
        checkSane(bytes, strict);
        checkSane(bytes, lenient);
      }),
      { numRuns: 1000 },
    );
  });
});

// ---- each error, on purpose -----------------------------------------------------------------

describe("specific errors", () => {
  it("PcapError is a DecodeError and a MorganaError (EBADMSG) naming the layer and the offset", () => {
    const e = expectError(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), "bad-magic", 0);
    expect(e).toBeInstanceOf(DecodeError);
    expect(e).toBeInstanceOf(MorganaError);
    expect(e.name).toBe("PcapError");
    expect(e.code).toBe("EBADMSG");
    expect(e.layer).toBe("pcap");
    expect(e.reason).toContain("bad magic number 0x01020304");
    expect(e.message).toBe(`pcap: ${e.reason} at byte offset 0`);
  });

  it("bad magic: unknown, Kuznetsov's modified pcap, bad pcapng byte-order magic", () => {
    expectError(new Uint8Array(100), "bad-magic", 0);
    expect(expectError(Uint8Array.of(0x34, 0xcd, 0xb2, 0xa1, ...new Uint8Array(20)), "bad-magic", 0).reason).toContain("modified pcap");
    const ng = new PcapngBuilder().shb().bytes();
    ng[8] = 0x00;
    const e = expectError(ng, "bad-magic", 8, 0);
    expect(e.layer).toBe("pcapng");
    // In a later section too
    const two = new PcapngBuilder().shb().idb().shb().bytes();
    two[28 + 20 + 8] = 0x77;
    expectError(two, "bad-magic", 28 + 20 + 8, 28 + 20);
  });

  it("unsupported versions", () => {
    expectError(classicPcap({ major: 1 }), "unsupported-version", 4, 0);
    expectError(new PcapngBuilder().shb({ major: 2 }).bytes(), "unsupported-version", 12, 0);
    expectError(new PcapngBuilder(false).shb().idb().shb({ major: 0 }).bytes(), "unsupported-version", 48 + 12, 48);
    // Minor versions are not checked.
    expect(readCapture(classicPcap({ minor: 99 })).records).toHaveLength(0);
    expect(readCapture(new PcapngBuilder().shb({ minor: 2 }).bytes()).sections[0]!.versionMinor).toBe(2);
  });

  it("truncated headers", () => {
    expect(expectError(new Uint8Array(0), "truncated-header", 0).reason).toBe("empty file");
    expectError(Uint8Array.of(0xd4, 0xc3, 0xb2), "truncated-header", 0);
    expectError(classicPcap({}).subarray(0, 23), "truncated-header", 0);
    expectError(new PcapngBuilder().shb().bytes().subarray(0, 11), "truncated-header", 0);
    expectError(new PcapngBuilder().shb().bytes().subarray(0, 27), "truncated-block", 0);
  });

  it("classic records: truncated header, data beyond the file, too large", () => {
    const ok = classicPcap({ records: [{ data: frame(10) }] });
    expect(readCapture(ok).records).toHaveLength(1);
    const extra = new Uint8Array(ok.length + 15);
    extra.set(ok);
    expectError(extra, "truncated-record-header", ok.length);
    expectError(classicPcap({ records: [{ data: frame(10) }, { data: frame(10), caplen: 11 }] }), "truncated-record", 50);
    expectError(classicPcap({ records: [{ data: frame(0), caplen: 0xffffffff }] }), "record-too-large", 32, 24);
    expectError(classicPcap({ records: [{ data: frame(0), caplen: 262_145 }] }), "record-too-large", 32, 24);
    // The cap is an option; a larger cap then finds the data missing.
    expectError(classicPcap({ records: [{ data: frame(0), caplen: 262_145 }] }), "truncated-record", 24, 24, { maxRecordLength: 1 << 20 });
    expectError(classicPcap({ records: [{ data: frame(100) }] }), "record-too-large", 32, 24, { maxRecordLength: 99 });
    expect(readCapture(classicPcap({ records: [{ data: frame(262_144) }] })).records[0]!.capturedLength).toBe(262_144);
  });

  it("pcapng block lengths: not a multiple of 4, below 12, below the type's minimum, beyond the file", () => {
    const head = new PcapngBuilder().shb().idb();
    const at = head.bytes().length;
    for (const total of [0, 4, 8, 13, 30]) {
      const e = expectError(new PcapngBuilder().shb().idb().epb({ data: frame(1) }, { total }).bytes(), total > 12 && total % 4 === 0 ? "truncated-block" : "bad-block-length", total > 12 && total % 4 === 0 ? at : at + 4, at);
      expect(e.layer).toBe("pcapng");
    }
    // A 12-byte EPB: well formed as a block, too short for an EPB.
    const shortEpb = new PcapngBuilder().shb().idb().block(6, new Uint8Array(0)).bytes();
    expect(expectError(shortEpb, "bad-block-length", at + 4, at).reason).toContain("minimum of 32");
    expectError(new PcapngBuilder().shb().block(1, new Uint8Array(4)).bytes(), "bad-block-length", 28 + 4, 28);
    expectError(new PcapngBuilder().shb().block(3, new Uint8Array(0)).bytes(), "bad-block-length", 28 + 4, 28);
    expectError(new PcapngBuilder().shb({}, { total: 24, trailer: 24 }).bytes(), "length-mismatch", 20, 0);
    expectError(new PcapngBuilder().shb().idb().epb({ data: frame(8) }, { total: 0x7ffffffc }).bytes(), "truncated-block", at, at);
    expectError(new PcapngBuilder().shb().raw(Uint8Array.of(6, 0, 0, 0, 32)).bytes(), "truncated-block-header", 28);
  });

  it("pcapng: trailing length different from the leading one", () => {
    const e = expectError(new PcapngBuilder().shb().idb().epb({ data: frame(4) }, { trailer: 40 }).bytes(), "length-mismatch", 48 + 32, 48);
    expect(e.reason).toContain("trailing total length 40 differs from the leading 36");
    expectError(new PcapngBuilder().shb().idb({}, { trailer: 0 }).bytes(), "length-mismatch", 28 + 16, 28);
  });

  it("pcapng: packet data not fitting in its block, or too large", () => {
    expectError(new PcapngBuilder().shb().idb().epb({ data: frame(8), caplen: 9 }).bytes(), "record-beyond-block", 48 + 20, 48);
    expectError(new PcapngBuilder().shb().idb().epb({ data: frame(8), caplen: 0xfffffff0 }).bytes(), "record-too-large", 48 + 20, 48);
    expectError(new PcapngBuilder().shb().idb().pb({ data: frame(8) }, { total: 32 }).bytes(), "length-mismatch", 48 + 28, 48);
    // SPB: original length 100 with no snaplen needs 100 bytes in the block.
    expectError(new PcapngBuilder().shb().idb().spb({ data: frame(8), origlen: 100 }).bytes(), "record-beyond-block", 48 + 8, 48);
    expectError(new PcapngBuilder().shb().idb({ snaplen: 300_000 }).spb({ data: frame(8), origlen: 300_000 }).bytes(), "record-too-large", 48 + 8, 48);
  });

  it("pcapng: packets naming an unknown interface", () => {
    expectError(new PcapngBuilder().shb().epb({ data: frame(1) }).bytes(), "unknown-interface", 28 + 8, 28);
    expectError(new PcapngBuilder().shb().idb().epb({ ifid: 1, data: frame(1) }).bytes(), "unknown-interface", 48 + 8, 48);
    expectError(new PcapngBuilder().shb().spb({ data: frame(1) }).bytes(), "unknown-interface", 28, 28);
    expectError(new PcapngBuilder().shb().pb({ ifid: 7, data: frame(1) }).bytes(), "unknown-interface", 28 + 8, 28);
    // Interfaces belong to their section: a new SHB forgets them.
    expectError(new PcapngBuilder().shb().idb().shb({ le: false }).epb({ data: frame(1) }).bytes(), "unknown-interface", 76 + 8, 76);
  });

  it("pcapng: broken options", () => {
    // An option longer than what is left of the block.
    const body = new PcapngBuilder().body().u16(1).u16(0).u32(0).u16(2).u16(200).build();
    expectError(new PcapngBuilder().shb().block(1, body).bytes(), "bad-option", 28 + 16, 28);
    expectError(new PcapngBuilder().shb().idb({ options: [opt.raw(9, Uint8Array.of(6, 6))] }).bytes(), "bad-option", 28 + 16, 28);
    expectError(new PcapngBuilder().shb().idb({ options: [opt.raw(14, new Uint8Array(4))] }).bytes(), "bad-option", 28 + 16, 28);
    expectError(new PcapngBuilder().shb().idb({ options: [opt.name("a"), opt.raw(13, new Uint8Array(2))] }).bytes(), "bad-option", 28 + 16 + 8, 28);
  });

  it("errors are sticky: a reader that failed keeps failing the same way", () => {
    const bytes = classicPcap({ records: [{ data: frame(4) }, { data: frame(4), caplen: 99 }] });
    const reader = new CaptureReader(bytes);
    expect(reader.nextRecord()?.capturedLength).toBe(4);
    const e1 = pcapError(() => reader.nextRecord());
    const e2 = pcapError(() => reader.nextRecord());
    expect(e2).toBe(e1);
    expect(reader.error).toBe(e1);
    expect(reader.offset).toBe(44);
    expect(() => [...reader]).toThrow(e1);
  });

  it("lenient mode returns what was read, with the error", () => {
    const bytes = new PcapngBuilder().shb().idb().epb({ data: frame(4) }).epb({ data: frame(4) }, { trailer: 4 }).bytes();
    const c = readCapture(bytes, { lenient: true });
    expect(c.records).toHaveLength(1);
    expect(c.error?.kind).toBe("length-mismatch");
    expect(c.validLength).toBe(48 + 36);
    // A bad file header throws even in lenient mode: there is nothing to return.
    expect(() => readCapture(new Uint8Array(3), { lenient: true })).toThrow(PcapError);
  });

  it("rejects a bad maxRecordLength option with EINVAL", () => {
    let caught: unknown;
    try {
      readCapture(classicPcap({}), { maxRecordLength: -1 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(MorganaError);
    expect(caught).not.toBeInstanceOf(PcapError);
    expect((caught as MorganaError).code).toBe("EINVAL");
  });
});
