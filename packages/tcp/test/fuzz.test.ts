/**
 * Hostile input against live connections: random segments (every flag
 * combination, sequence and acknowledgment numbers near and far from the
 * windows, valid and malformed options, data) interleaved with random
 * application calls and time steps. Nothing may throw, no internal error may
 * be counted, the bytes the application reads must be exactly the peer's
 * stream (byte i of the stream is a function of its sequence number), and
 * closing must free every connection and timer.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { writeTcpChecksum } from "../src/index.js";
import { Harness, LOCAL_IP, REMOTE_IP, RISN, activeOpen, passiveOpen } from "./harness.js";

/** The byte at sequence number `s` of the scripted peer's stream. */
const streamByte = (s: number) => (Math.imul(s >>> 0, 2654435761) >>> 24) & 255;

interface RawSeg {
  seqDelta: number;
  ackDelta: number;
  flags: number;
  window: number;
  options: Uint8Array;
  len: number;
}

function rawSegment(h: Harness, rcvBase: number, sndBase: number, r: RawSeg): Uint8Array {
  const optLen = r.options.length & ~3;
  const hl = 20 + optLen;
  const seg = new Uint8Array(hl + r.len);
  const seq = (rcvBase + r.seqDelta) >>> 0;
  const ack = (sndBase + r.ackDelta) >>> 0;
  const dv = new DataView(seg.buffer);
  dv.setUint16(0, h.rport);
  dv.setUint16(2, h.lport);
  dv.setUint32(4, seq);
  dv.setUint32(8, ack);
  seg[12] = (hl / 4) << 4;
  seg[13] = r.flags;
  dv.setUint16(14, r.window);
  seg.set(r.options.subarray(0, optLen), 20);
  for (let i = 0; i < r.len; i++) seg[hl + i] = streamByte(seq + i);
  writeTcpChecksum(seg, 0, seg.length, REMOTE_IP, LOCAL_IP);
  return seg;
}

const near = fc.oneof(
  fc.integer({ min: -3000, max: 70_000 }),
  fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }),
  fc.constantFrom(0, 1, -1),
);
const options = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ minLength: 4, maxLength: 40 }),
  // A plausible timestamp option with random values.
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => Uint8Array.of(1, 1, 8, 10, a >>> 24, a >>> 16, a >>> 8, a, b >>> 24, b >>> 16, b >>> 8, b)),
  // SACK blocks with random edges.
  fc.array(fc.nat(), { minLength: 2, maxLength: 6 }).map((xs) => {
    const n = xs.length >> 1;
    const b = new Uint8Array(4 + 8 * n);
    b.set([1, 1, 5, 2 + 8 * n]);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < 2 * n; i++) dv.setUint32(4 + 4 * i, xs[i]!);
    return b;
  }),
);
const segArb: fc.Arbitrary<RawSeg> = fc.record({
  seqDelta: near,
  ackDelta: near,
  flags: fc.oneof(fc.constant(0x10), fc.constant(0x18), fc.nat(255)),
  window: fc.oneof(fc.constant(65535), fc.nat(65535), fc.constant(0)),
  options,
  len: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1400 })),
});
const action = fc.oneof(
  { weight: 6, arbitrary: segArb.map((s) => ({ kind: "seg" as const, s })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 5000 }).map((ms) => ({ kind: "time" as const, ms })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 100_000 }).map((n) => ({ kind: "write" as const, n })) },
  { weight: 1, arbitrary: fc.constant({ kind: "read" as const }) },
  { weight: 1, arbitrary: fc.constantFrom("shutdown", "close", "noDelay", "keepalive").map((op) => ({ kind: "op" as const, op })) },
);

describe("hostile segments against live connections", () => {
  it("never throw, never corrupt the stream, and always clean up (property)", async () => {
    let totalDelivered = 0;
    let totalSegments = 0;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.boolean(), fc.array(action, { minLength: 20, maxLength: 80 }), async (passive, ts, actions) => {
        const h = new Harness({ synCookies: true });
        const opts = ts ? { mss: 1460, wscale: 4, sackPermitted: true, tsVal: 100, tsEcr: 0 } : { mss: 1460, wscale: 4, sackPermitted: true };
        const { flow, iss } = passive ? await passiveOpen(h, opts) : await activeOpen(h, opts);
        const delivered: number[] = [];
        const failures: unknown[] = [];
        let reading = false;
        for (const a of actions) {
          if (a.kind === "seg") {
            h.ip.inject({ src: REMOTE_IP, dst: LOCAL_IP, protocol: 6, payload: rawSegment(h, RISN + 1, (iss + 1) >>> 0, a.s) });
          } else if (a.kind === "time") {
            await h.clock.advance(a.ms);
          } else if (a.kind === "write") {
            flow.write(new Uint8Array(a.n)).catch((e: unknown) => failures.push(e));
          } else if (a.kind === "read" && !reading) {
            reading = true;
            void flow.read().then(
              (c) => {
                reading = false;
                if (c !== null) delivered.push(...c);
              },
              () => (reading = false),
            );
          } else if (a.kind === "op") {
            if (a.op === "shutdown") void flow.shutdown().catch(() => undefined);
            else if (a.op === "close") void flow.close();
            else if (a.op === "noDelay") flow.setNoDelay(true);
            else flow.setKeepAlive(true, { idleMs: 1000, intervalMs: 100, count: 2 });
          }
          await h.settle();
        }
        expect(h.drops()["internal-error"] ?? 0).toBe(0);
        totalDelivered += delivered.length;
        totalSegments += h.counters().segmentsIn ?? 0;
        // Whatever was read is the peer's stream from its first byte, in order.
        for (let i = 0; i < delivered.length; i++) {
          if (delivered[i] !== streamByte(RISN + 1 + i)) throw new Error(`byte ${i} of the stream is wrong`);
        }
        for (const e of failures) expect((e as { code?: string }).code).toMatch(/^(EPIPE|ECONNRESET|ECONNABORTED|ETIMEDOUT|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|EPROTO)$/);
        flow.abort();
        await h.tcp.close();
        await h.clock.advance(200_000);
        expect(h.tcp.connectionCount).toBe(0);
        expect(h.clock.pendingTimers).toBe(0);
      }),
      { numRuns: 200 },
    );
    // The stream check was exercised: data got through between the hostile segments.
    expect(totalDelivered).toBeGreaterThan(10_000);
    expect(totalSegments).toBeGreaterThan(3000);
  });

  it("random bytes to a listener never create state beyond the SYN queue, and never throw", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(segArb, fc.nat(65535)), { maxLength: 50 }), (segs) => {
        const h = new Harness({ synQueue: 8 });
        void h.tcp.listen({ port: 80 });
        for (const [s, port] of segs) {
          h.rport = 1024 + (port % 100);
          h.ip.inject({ src: REMOTE_IP, dst: LOCAL_IP, protocol: 6, payload: rawSegment(h, port * 1000, port * 7, s) });
        }
        expect(h.drops()["internal-error"] ?? 0).toBe(0);
        expect(h.tcp.stats().counters.halfOpen).toBeLessThanOrEqual(8);
        // Cookie connections may have been completed by lucky ACKs, never more than the segments sent.
        expect(h.tcp.connectionCount).toBeLessThanOrEqual(8 + segs.length);
      }),
    );
  });
});
