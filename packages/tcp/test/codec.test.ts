import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Ipv4Address } from "@morgana/interfaces";
import { expectDecodeError, ipPackets, num, textbookChecksum, traceNames } from "@morgana/testkit";
import { ACK, decodeTcp, encodeTcp, encodeTcpHeader, FIN, optionsLength, PSH, RST, SYN, verifyTcpChecksum, type TcpOptions } from "../src/index.js";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const optionsArb: fc.Arbitrary<TcpOptions> = fc
  .record(
    {
      mss: fc.integer({ min: 0, max: 0xffff }),
      wscale: fc.integer({ min: 0, max: 14 }),
      sackPermitted: fc.constant(true),
      ts: fc.tuple(u32, u32),
      sack: fc.array(fc.record({ left: u32, right: u32 }), { minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: [] },
  )
  .map(({ ts, ...rest }) => {
    const o: TcpOptions = { ...rest };
    if (ts !== undefined) {
      o.tsVal = ts[0];
      o.tsEcr = ts[1];
    }
    return o;
  })
  .filter((o) => optionsLength(o) <= 40);

const src = 0x0a000001 as Ipv4Address;
const dst = 0x0a000002 as Ipv4Address;

describe("TCP codec", () => {
  it("decode(encode(x)) equals x, with any options and payload; checksums verify", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        u32,
        u32,
        fc.integer({ min: 0, max: 0x1ff }),
        fc.integer({ min: 0, max: 0xffff }),
        optionsArb,
        fc.uint8Array({ maxLength: 200 }),
        (srcPort, dstPort, seq, ack, flags, window, options, payload) => {
          const seg = encodeTcp({ srcPort, dstPort, seq, ack, flags, window, options }, payload, src, dst);
          expect(verifyTcpChecksum(seg, src, dst)).toBe(true);
          expect(textbookChecksum([Uint8Array.of(10, 0, 0, 1, 10, 0, 0, 2, 0, 6, seg.length >> 8, seg.length & 255), seg])).toBe(0);
          const h = decodeTcp(seg);
          expect(h).toMatchObject({ srcPort, dstPort, seq, ack, flags, window });
          expect(h.optionsError).toBeUndefined();
          expect(h.options).toEqual(options);
          expect(h.payload).toEqual(payload);
          // encode(decode(b)) equals b
          expect(encodeTcp({ ...h, options: h.options }, h.payload, src, dst)).toEqual(seg);
          // A flipped bit breaks the checksum.
          seg[seg.length - 1]! ^= 1;
          expect(verifyTcpChecksum(seg, src, dst)).toBe(false);
        },
      ),
    );
  });

  it("rejects structurally bad headers with DecodeError and reports bad options without throwing", () => {
    expect(expectDecodeError(() => decodeTcp(new Uint8Array(19))).offset).toBe(19);
    const h = encodeTcp({ srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: SYN, window: 0 }, new Uint8Array(0), src, dst);
    h[12] = 0x40; // data offset 4
    expect(expectDecodeError(() => decodeTcp(h)).reason).toMatch(/below 5/);
    h[12] = 0xf0; // 60 bytes, only 20 present
    expect(expectDecodeError(() => decodeTcp(h)).reason).toMatch(/beyond/);
    const bad = new Uint8Array(24);
    bad[12] = 0x60;
    bad.set([2, 5, 0, 0], 20); // MSS with length 5 overruns the options
    const d = decodeTcp(bad);
    expect(d.optionsError).toMatch(/bad length/);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (b) => {
        try {
          decodeTcp(b);
        } catch (e) {
          expectDecodeError(() => {
            throw e;
          });
        }
      }),
    );
  });

  it("writes Linux's option layout", () => {
    const b = new Uint8Array(60);
    const n = encodeTcpHeader(b, 0, { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: SYN, window: 64240, options: { mss: 1460, sackPermitted: true, tsVal: 1, tsEcr: 0, wscale: 7 } });
    // The SYN of tcp-http-get.pcap: 02 04 05 b4 04 02 08 0a <ts> <ts> 01 03 03 07
    expect(n).toBe(40);
    expect(Array.from(b.subarray(20, 40))).toEqual([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);
  });

  it("decodes every TCP segment of the reference traces as tshark does", () => {
    let segments = 0;
    for (const name of traceNames()) {
      for (const p of ipPackets(name)) {
        if (p.protocol !== 6 || p.complete === undefined) continue;
        const tcp = p.layers.tcp as Record<string, unknown> | undefined;
        if (tcp === undefined) continue;
        const h = decodeTcp(p.complete);
        segments++;
        expect(h.srcPort).toBe(num(tcp["tcp.srcport"]));
        expect(h.dstPort).toBe(num(tcp["tcp.dstport"]));
        expect(h.seq).toBe(num(tcp["tcp.seq_raw"]));
        expect(h.ack).toBe(num(tcp["tcp.ack_raw"]));
        expect(h.headerLength).toBe(num(tcp["tcp.hdr_len"]));
        expect(h.flags & 0x1ff).toBe(num(tcp["tcp.flags"]) & 0x1ff);
        expect(h.window).toBe(num(tcp["tcp.window_size_value"]));
        expect(h.checksum).toBe(num(tcp["tcp.checksum"]));
        expect(h.payload.length).toBe(num(tcp["tcp.len"]));
        expect(verifyTcpChecksum(p.complete, p.src, p.dst)).toBe(true);
        const opts = tcp["tcp.options_tree"] as Record<string, Record<string, unknown>> | undefined;
        if (opts?.["tcp.options.mss_tree"]) expect(h.options.mss).toBe(num(opts["tcp.options.mss_tree"]["tcp.options.mss_val"]));
        if (opts?.["tcp.options.wscale_tree"]) expect(h.options.wscale).toBe(num(opts["tcp.options.wscale_tree"]["tcp.options.wscale.shift"]));
        if (opts?.["tcp.options.timestamp_tree"]) {
          expect(h.options.tsVal).toBe(num(opts["tcp.options.timestamp_tree"]["tcp.options.timestamp.tsval"]));
          expect(h.options.tsEcr).toBe(num(opts["tcp.options.timestamp_tree"]["tcp.options.timestamp.tsecr"]));
        }
        expect(h.options.sackPermitted === true).toBe(opts?.["tcp.options.sack_perm"] !== undefined);
      }
    }
    expect(segments).toBeGreaterThan(100);
    void [ACK, FIN, PSH, RST];
  });
});
