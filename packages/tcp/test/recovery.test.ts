import { describe, expect, it } from "vitest";
import { ACK } from "../src/index.js";
import { Harness, RISN, activeOpen, add, bytes, type Out } from "./harness.js";

const MSS = 1460;
const NO_SACK = { mss: MSS, wscale: 7 };
const SACK = { mss: MSS, wscale: 7, sackPermitted: true };

/** Opens a connection with NewReno, writes `n` segments' worth and returns what went out. */
async function setup(opts: Record<string, unknown>, n: number, extra: Record<string, unknown> = {}) {
  const h = new Harness({ congestionControl: "newreno", ...extra });
  const o = await activeOpen(h, opts, 65535);
  // Open the peer's window wide (scaled by 2^7) before sending.
  h.send({ seq: RISN + 1, ack: add(o.iss, 1), flags: ACK, window: 4096 });
  h.out();
  await o.flow.write(bytes(n * MSS));
  const first = h.out();
  const seg = (i: number) => add(o.iss, 1 + i * MSS); // start of segment i (0-based)
  return { h, ...o, first, seg };
}

const starts = (segs: Out[]) => segs.filter((s) => s.data.length > 0).map((s) => s.seq);

describe("fast retransmit and NewReno (RFC 5681, RFC 6582, RFC 3042)", () => {
  it("three duplicate ACKs retransmit the first segment at once; limited transmit sends new data on the first two", async () => {
    const { h, flow, first, seg } = await setup(NO_SACK, 20);
    expect(first).toHaveLength(10); // IW = 10
    const dup = () => h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4096 });
    dup();
    expect(starts(h.out())).toEqual([seg(10)]); // limited transmit
    dup();
    expect(starts(h.out())).toEqual([seg(11)]);
    dup();
    const fr = h.out();
    expect(starts(fr)[0]).toBe(seg(0)); // fast retransmit
    expect(h.counters().fastRetransmits).toBe(1);
    // NewReno: ssthresh = FlightSize / 2 (12 segments in flight).
    expect(flow.info().ssthresh).toBe(6 * MSS);
    expect(flow.info().retransmissions).toBe(1);
  });

  it("a partial ACK retransmits the next hole at once (RFC 6582 §3.2); the full ACK ends recovery with cwnd = ssthresh", async () => {
    const { h, flow, seg } = await setup(NO_SACK, 10);
    // Segments 0 and 4 are lost: the receiver got 1, 2, 3 (three dupacks) ...
    for (let i = 0; i < 3; i++) h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4096 });
    expect(starts(h.out())).toEqual([seg(0)]);
    // ... and 5..9 (five more dupacks: each lets a segment leave the network; no new data to send).
    for (let i = 0; i < 5; i++) h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4096 });
    h.out();
    // The retransmitted segment 0 fills the first hole: the ACK stops at segment 4, the second hole.
    h.send({ seq: RISN + 1, ack: seg(4), flags: ACK, window: 4096 });
    expect(starts(h.out())).toEqual([seg(4)]);
    expect(flow.info().retransmissions).toBe(2);
    // Everything acknowledged.
    h.send({ seq: RISN + 1, ack: seg(10), flags: ACK, window: 4096 });
    expect(flow.info().cwnd).toBe(5 * MSS);
    expect(flow.info().retransmissions).toBe(2);
    // No retransmission timeout was needed.
    await h.clock.advance(5000);
    expect(h.counters().timeouts).toBe(0);
  });

  it("does not count ACKs that update the window, or carry data, as duplicates", async () => {
    const { h, seg } = await setup(NO_SACK, 10);
    h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4000 });
    h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4001 });
    h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4002 });
    h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4002, data: bytes(1) });
    expect(starts(h.out())).toEqual([]);
    expect(h.counters().fastRetransmits).toBe(0);
  });
});

describe("SACK-based recovery (RFC 2018, RFC 6675)", () => {
  it("repairs one lost segment of a window with exactly one retransmission", async () => {
    const { h, flow, seg } = await setup(SACK, 10);
    // Segment 2 is lost; the receiver SACKs 3, 4, 5 ...
    for (let k = 3; k <= 9; k++) {
      h.send({ seq: RISN + 1, ack: seg(2), flags: ACK, window: 4096, options: { sack: [{ left: seg(3), right: seg(k + 1) }] } });
    }
    const out = h.out().filter((s) => s.data.length > 0);
    expect(out.map((s) => s.seq)).toEqual([seg(2)]);
    h.send({ seq: RISN + 1, ack: seg(10), flags: ACK, window: 4096 });
    await h.clock.advance(5000);
    expect(flow.info().retransmissions).toBe(1);
    expect(h.counters().sackRecoveries).toBe(1);
    expect(h.counters().timeouts).toBe(0);
  });

  it("with SACK, loss is detected once more than 2 segments are SACKed above the hole (no need for 3 duplicate ACKs)", async () => {
    const { h, seg } = await setup(SACK, 10);
    // One ACK SACKing segments 1..3 (three segments above the lost segment 0).
    h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4096, options: { sack: [{ left: seg(1), right: seg(4) }] } });
    expect(starts(h.out())[0]).toBe(seg(0));
  });

  it("repairs several holes in one window, each retransmitted once, before sending new data", async () => {
    const { h, flow, seg } = await setup(SACK, 10);
    // Lost: 1, 4, 6. Received: 0, 2, 3, 5, 7, 8, 9.
    h.send({ seq: RISN + 1, ack: seg(1), flags: ACK, window: 4096 });
    const blocks = (upto: number) => {
      const b = [];
      if (upto >= 2) b.push({ left: seg(2), right: seg(Math.min(upto, 3) + 1) });
      if (upto >= 5) b.push({ left: seg(5), right: seg(6) });
      if (upto >= 7) b.push({ left: seg(7), right: seg(upto + 1) });
      return b.reverse().slice(0, 3);
    };
    for (const upto of [2, 3, 5, 7, 8, 9]) h.send({ seq: RISN + 1, ack: seg(1), flags: ACK, window: 4096, options: { sack: blocks(upto) } });
    const re = starts(h.out());
    expect(re.slice(0, 3).sort((a, b) => a - b)).toEqual([seg(1), seg(4), seg(6)]);
    expect(new Set(re).size).toBe(re.length); // nothing sent twice
    h.send({ seq: RISN + 1, ack: seg(10), flags: ACK, window: 4096 });
    expect(flow.info().retransmissions).toBe(3);
  });

  it("ignores SACK blocks below SND.UNA (D-SACK) or beyond SND.NXT", async () => {
    const { h, seg } = await setup(SACK, 10);
    h.send({ seq: RISN + 1, ack: seg(1), flags: ACK, window: 4096, options: { sack: [{ left: seg(0), right: seg(1) }] } });
    h.send({ seq: RISN + 1, ack: seg(1), flags: ACK, window: 4096, options: { sack: [{ left: seg(20), right: seg(30) }] } });
    h.send({ seq: RISN + 1, ack: seg(1), flags: ACK, window: 4096, options: { sack: [{ left: seg(5), right: seg(4) }] } });
    expect(starts(h.out())).toEqual([]);
  });
});

describe("retransmission timeout recovery", () => {
  it("after an RTO: cwnd = 1 segment, slow start, and everything outstanding resent once, oldest first", async () => {
    const { h, flow, seg } = await setup(SACK, 6, { tailLossProbe: false });
    await h.clock.advance(1000);
    expect(starts(h.out())).toEqual([seg(0)]);
    expect(flow.info().cwnd).toBe(MSS);
    // NewReno: ssthresh = FlightSize / 2.
    expect(flow.info().ssthresh).toBe(3 * MSS);
    h.send({ seq: RISN + 1, ack: seg(1), flags: ACK, window: 4096 });
    expect(starts(h.out())).toEqual([seg(1), seg(2)]);
    h.send({ seq: RISN + 1, ack: seg(3), flags: ACK, window: 4096 });
    expect(starts(h.out())).toEqual([seg(3), seg(4), seg(5)]);
    h.send({ seq: RISN + 1, ack: seg(6), flags: ACK, window: 4096 });
    expect(flow.info().retransmissions).toBe(6);
    // Slow start from 1 segment, capped at ssthresh (3 segments); the rest goes to congestion avoidance.
    expect(flow.info().cwnd).toBe(3 * MSS);
    expect(h.counters().timeouts).toBe(1);
  });

  it("after an RTO, SACKed data is forgotten and resent (RFC 2018 §8)", async () => {
    const { h, seg } = await setup(SACK, 4, { tailLossProbe: false });
    h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4096, options: { sack: [{ left: seg(2), right: seg(3) }] } });
    h.out();
    await h.clock.advance(1000);
    expect(starts(h.out())).toEqual([seg(0)]);
    h.send({ seq: RISN + 1, ack: seg(1), flags: ACK, window: 4096 });
    expect(starts(h.out())).toEqual([seg(1), seg(2)]);
  });
});

describe("tail loss probes and time-based loss detection (RFC 8985, RFC 5827)", () => {
  it("a tail loss: the probe retransmits the last segment after max(2·SRTT, 10 ms); its SACK triggers early retransmit of the other", async () => {
    const { h, flow, seg } = await setup(SACK, 10);
    // Segments 8 and 9 are lost; everything before is acknowledged.
    h.send({ seq: RISN + 1, ack: seg(8), flags: ACK, window: 4096 });
    h.out();
    const t0 = h.clock.now();
    await h.clock.advance(10);
    const probe = h.out();
    expect(starts(probe)).toEqual([seg(9)]);
    expect(probe[0]!.at - t0).toBe(10);
    expect(h.counters().tailLossProbes).toBe(1);
    // The probe arrives: the receiver SACKs it. Two segments outstanding, nothing new to send:
    // early retransmit (threshold 1) repairs segment 8 at once.
    h.send({ seq: RISN + 1, ack: seg(8), flags: ACK, window: 4096, options: { sack: [{ left: seg(9), right: seg(10) }] } });
    expect(starts(h.out())).toEqual([seg(8)]);
    h.send({ seq: RISN + 1, ack: seg(10), flags: ACK, window: 4096 });
    expect(h.counters().timeouts).toBe(0);
    expect(flow.info().retransmissions).toBe(2);
  });

  it("a probe with new data when the window allows, and no probe without SACK", async () => {
    const { h, seg } = await setup(SACK, 12);
    expect(starts(h.out())).toEqual([]);
    await h.clock.advance(10);
    expect(starts(h.out())).toEqual([seg(10)]); // new data, beyond the congestion window
    const n = await setup(NO_SACK, 4);
    await n.h.clock.advance(500);
    expect(starts(n.h.out())).toEqual([]);
    expect(n.h.counters().tailLossProbes).toBe(0);
  });

  it("holes below SACKed data are declared lost when the probe timer expires (RACK-style), before any RTO", async () => {
    const { h, seg } = await setup(SACK, 6);
    // Segment 0 lost; 1 and 2 SACKed (two duplicate ACKs: below the threshold of 3).
    h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4096, options: { sack: [{ left: seg(1), right: seg(2) }] } });
    h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4096, options: { sack: [{ left: seg(1), right: seg(3) }] } });
    expect(starts(h.out())).toEqual([]);
    await h.clock.advance(10);
    expect(starts(h.out())[0]).toBe(seg(0));
    expect(h.counters().rackRecoveries).toBe(1);
    expect(h.counters().timeouts).toBe(0);
  });

  it("a lost retransmission is sent again after the probe timeout, not after the RTO", async () => {
    const { h, flow, seg } = await setup(SACK, 10);
    // Segment 2 lost; the rest SACKed: fast retransmit of 2.
    for (let k = 3; k <= 9; k++) h.send({ seq: RISN + 1, ack: seg(2), flags: ACK, window: 4096, options: { sack: [{ left: seg(3), right: seg(k + 1) }] } });
    expect(starts(h.out())).toEqual([seg(2)]);
    // That retransmission is lost too: nothing comes back. 10 ms later it goes again.
    await h.clock.advance(10);
    expect(starts(h.out())).toEqual([seg(2)]);
    expect(h.counters().lostRetransmissions).toBe(1);
    h.send({ seq: RISN + 1, ack: seg(10), flags: ACK, window: 4096 });
    expect(h.counters().timeouts).toBe(0);
    expect(flow.info().retransmissions).toBe(2);
  });

  it("early retransmit (RFC 5827): with 2 segments outstanding and nothing more to send, one duplicate ACK suffices", async () => {
    const { h, seg } = await setup(NO_SACK, 2);
    h.send({ seq: RISN + 1, ack: seg(0), flags: ACK, window: 4096 });
    expect(starts(h.out())).toEqual([seg(0)]);
    expect(h.counters().fastRetransmits).toBe(1);
  });
});
