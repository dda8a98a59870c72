import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PcapWriter, readCapture, records } from "../src/index.js";
import { PcapngBuilder, expectBytes, expectedTimestamp, opt } from "./helpers.js";

function pattern(n: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 31 + n) & 255;
  return a;
}

const dataArb = fc.oneof(
  { weight: 10, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  // Large records, around and above the default snaplen (262144).
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 262_144 + 1000 }).map(pattern) },
);

const recordArb = fc.record({
  data: dataArb,
  sec: fc.integer({ min: 0, max: 2 ** 32 - 2 }),
  nsec: fc.integer({ min: 0, max: 999_999_999 }),
  extra: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff - 300_000 })),
});

describe("classic pcap round trip", () => {
  it("write then read gives the same records (micro and nano, any snaplen)", () => {
    fc.assert(
      fc.property(
        fc.array(recordArb, { maxLength: 12 }),
        fc.boolean(),
        fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 300_000 })),
        fc.integer({ min: 0, max: 0xffff }),
        (recs, nano, snaplen, linktype) => {
          const w = new PcapWriter({ nanosecond: nano, linktype, ...(snaplen !== undefined ? { snaplen } : {}) });
          for (const r of recs) w.writeRecord(r.data, { sec: r.sec, nsec: r.nsec }, r.data.length + r.extra);
          const snap = snaplen ?? 262_144;
          const c = readCapture(w.toBytes(), { maxRecordLength: Math.max(snap, 262_144) });
          expect(c.header).toMatchObject({ nanosecond: nano, snaplen: snap, linktype });
          expect(c.records.length).toBe(recs.length);
          c.records.forEach((got, i) => {
            const r = recs[i]!;
            let sec = r.sec;
            let nsec = r.nsec;
            if (!nano) {
              let usec = Math.round(nsec / 1000);
              if (usec === 1_000_000) (sec += 1), (usec = 0);
              nsec = usec * 1000;
            }
            expect(got.sec).toBe(sec);
            expect(got.nsec).toBe(nsec);
            expect(got.timestampMs).toBeCloseTo(sec * 1000 + nsec / 1e6, 2);
            expect(got.capturedLength).toBe(Math.min(r.data.length, snap));
            expect(got.originalLength).toBe(r.data.length + r.extra);
            expect(got.linktype).toBe(linktype);
            expectBytes(got.data, r.data.subarray(0, snap));
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it("float millisecond timestamps come back within half a unit", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 4.29e12, noNaN: true }), { maxLength: 20 }), fc.boolean(), (times, nano) => {
        const w = new PcapWriter({ nanosecond: nano });
        for (const t of times) w.writeRecord(Uint8Array.of(1), t);
        const got = [...records(w.toBytes())];
        expect(got.length).toBe(times.length);
        got.forEach((r, i) => {
          expect(r.nsec).toBeGreaterThanOrEqual(0);
          expect(r.nsec).toBeLessThan(1e9);
          if (!nano) expect(r.nsec % 1000).toBe(0);
          // Half a unit of rounding plus the float's own spacing (about 0.001 ms near 2106).
          expect(Math.abs(r.timestampMs - times[i]!)).toBeLessThanOrEqual(nano ? 0.0011 : 0.0016);
        });
      }),
    );
  });
});

// ---- pcapng: random files from a model ----------------------------------------------------

const RESOLUTIONS = [undefined, 0, 3, 6, 9, 12, 0x80 | 10, 0x80 | 20, 0x80 | 30, 0x80 | 64] as const;

const ifaceArb = fc.record({
  resol: fc.constantFrom(...RESOLUTIONS),
  snaplen: fc.constantFrom(0, 16, 64, 65535),
  linktype: fc.integer({ min: 0, max: 300 }),
  name: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
});

const packetArb = fc.record({
  kind: fc.constantFrom("epb", "epb", "epb", "spb", "pb", "unknown", "isb"),
  ifSeed: fc.nat(),
  // Anywhere in 64 bits, and often around 2^53, where doubles stop being exact.
  ts: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 2n ** 52n, max: 2n ** 56n })),
  data: fc.uint8Array({ maxLength: 100 }),
  extra: fc.integer({ min: 0, max: 40 }),
  withOptions: fc.boolean(),
});

const sectionArb = fc.record({
  le: fc.boolean(),
  shbOptions: fc.boolean(),
  ifaces: fc.array(ifaceArb, { minLength: 0, maxLength: 3 }),
  packets: fc.array(packetArb, { maxLength: 8 }),
});

interface Expected {
  section: number;
  ifid: number;
  linktype: number;
  sec: number;
  nsec: number;
  data: Uint8Array;
  origlen: number;
}

describe("pcapng reading", () => {
  it("reads random files: sections in both byte orders, interfaces, EPB/SPB/PB and skipped blocks", () => {
    fc.assert(
      fc.property(fc.array(sectionArb, { minLength: 1, maxLength: 3 }), (secs) => {
        const b = new PcapngBuilder();
        const expected: Expected[] = [];
        let skipped = 0;
        secs.forEach((s, si) => {
          b.shb({ le: s.le, options: s.shbOptions ? [opt.raw(4, new TextEncoder().encode("morgana test"))] : [] });
          s.ifaces.forEach((f) => {
            const options = [...(f.resol !== undefined ? [opt.tsresol(f.resol)] : []), ...(f.name !== undefined ? [opt.name(f.name)] : [])];
            b.idb({ linktype: f.linktype, snaplen: f.snaplen, options });
          });
          for (const p of s.packets) {
            const n = s.ifaces.length;
            if (p.kind === "unknown" || p.kind === "isb" || n === 0) {
              // Blocks that carry no packet: a custom type, or an Interface Statistics Block.
              b.block(p.kind === "isb" ? 5 : 0x40000bad, p.data);
              skipped++;
              continue;
            }
            const ifid = p.kind === "spb" ? 0 : p.ifSeed % n;
            const f = s.ifaces[ifid]!;
            const origlen = p.data.length + p.extra;
            if (p.kind === "spb") {
              const caplen = f.snaplen !== 0 && f.snaplen < origlen ? f.snaplen : origlen;
              const full = pattern(origlen);
              full.set(p.data);
              const data = full.subarray(0, caplen);
              b.spb({ data, origlen });
              expected.push({ section: si, ifid: 0, linktype: f.linktype, sec: 0, nsec: 0, data, origlen });
              continue;
            }
            const ts = expectedTimestamp(p.ts, f.resol ?? 6);
            if (p.kind === "pb") b.pb({ ifid, ts: p.ts, data: p.data, origlen });
            else b.epb({ ifid, ts: p.ts, data: p.data, origlen, options: p.withOptions ? [opt.raw(2, Uint8Array.of(1, 0, 0, 0)), opt.raw(1, new TextEncoder().encode("comment"))] : [] });
            expected.push({ section: si, ifid, linktype: f.linktype, ...ts, data: p.data, origlen });
          }
        });
        const c = readCapture(b.bytes());
        expect(c.format).toBe("pcapng");
        expect(c.error).toBeUndefined();
        expect(c.skippedBlocks).toBe(skipped);
        expect(c.sections.map((s) => [s.byteOrder, s.interfaces.length])).toEqual(secs.map((s) => [s.le ? "little" : "big", s.ifaces.length]));
        expect(c.interfaces.length).toBe(secs.reduce((a, s) => a + s.ifaces.length, 0));
        c.sections.forEach((s, si) => {
          s.interfaces.forEach((f, id) => {
            const m = secs[si]!.ifaces[id]!;
            expect(f).toMatchObject({ section: si, id, linktype: m.linktype, snaplen: m.snaplen });
            const r = m.resol ?? 6;
            expect(f.tsresol).toEqual((r & 0x80) !== 0 ? { base: 2, exponent: r & 0x7f } : { base: 10, exponent: r });
            expect(f.name).toBe(m.name);
          });
        });
        expect(c.records.length).toBe(expected.length);
        c.records.forEach((r, i) => {
          const e = expected[i]!;
          expect(r.iface).toBe(c.sections[e.section]!.interfaces[e.ifid]);
          expect(r.interfaceId).toBe(e.ifid);
          expect(r.linktype).toBe(e.linktype);
          expect([r.sec, r.nsec]).toEqual([e.sec, e.nsec]);
          expect(r.data).toEqual(e.data);
          expect(r.capturedLength).toBe(e.data.length);
          expect(r.originalLength).toBe(e.origlen);
        });
      }),
    );
  });
});
