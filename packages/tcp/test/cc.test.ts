import { describe, expect, it } from "vitest";
import { CUBIC_BETA, CUBIC_C, Cubic, NewReno } from "../src/index.js";

const MSS = 1000;

describe("NewReno (RFC 5681)", () => {
  it("slow start grows by at most 2 SMSS per ACK (RFC 3465 L = 2), i.e. doubles per RTT", () => {
    const cc = new NewReno(10 * MSS);
    // One RTT: 10 segments acknowledged by 5 delayed ACKs of 2 segments.
    for (let i = 0; i < 5; i++) cc.onAck(2 * MSS, MSS);
    expect(cc.cwnd).toBe(20 * MSS);
    // A stretch ACK of 8 segments counts as 2.
    cc.onAck(8 * MSS, MSS);
    expect(cc.cwnd).toBe(22 * MSS);
  });

  it("congestion avoidance grows by 1 SMSS per window acknowledged", () => {
    const cc = new NewReno(10 * MSS);
    cc.ssthresh = 10 * MSS;
    for (let i = 0; i < 10; i++) cc.onAck(MSS, MSS);
    expect(cc.cwnd).toBe(11 * MSS);
    for (let i = 0; i < 11; i++) cc.onAck(MSS, MSS);
    expect(cc.cwnd).toBe(12 * MSS);
  });

  it("halves on loss (ssthresh = max(FlightSize/2, 2 SMSS)), drops to 1 SMSS on timeout", () => {
    const cc = new NewReno(40 * MSS);
    cc.onLoss(30 * MSS, MSS);
    expect(cc.ssthresh).toBe(15 * MSS);
    expect(cc.cwnd).toBe(15 * MSS);
    cc.onLoss(3 * MSS, MSS);
    expect(cc.ssthresh).toBe(2 * MSS);
    cc.onTimeout(20 * MSS, MSS, 0, true);
    expect(cc.ssthresh).toBe(10 * MSS);
    expect(cc.cwnd).toBe(MSS);
    // A repeated timeout keeps ssthresh.
    cc.onTimeout(MSS, MSS, 0, false);
    expect(cc.ssthresh).toBe(10 * MSS);
  });

  it("slow start stops at ssthresh and hands the rest to congestion avoidance", () => {
    const cc = new NewReno(MSS);
    cc.ssthresh = 2.5 * MSS;
    cc.onAck(2 * MSS, MSS);
    expect(cc.cwnd).toBe(2.5 * MSS);
  });

  it("restart after idle caps cwnd at the restart window", () => {
    const cc = new NewReno(50 * MSS);
    cc.onIdleRestart(10 * MSS);
    expect(cc.cwnd).toBe(10 * MSS);
  });
});

describe("CUBIC (RFC 9438)", () => {
  /** Runs congestion avoidance with one ACK per segment and a fixed RTT; returns cwnd (segments) per RTT. */
  function run(cc: Cubic, rttMs: number, rtts: number, t0 = 0): number[] {
    const out: number[] = [];
    let now = t0;
    for (let r = 0; r < rtts; r++) {
      const n = Math.floor(cc.cwnd / MSS);
      for (let i = 0; i < n; i++) cc.onAck(MSS, MSS, now + (i * rttMs) / n, rttMs);
      now += rttMs;
      out.push(cc.cwnd / MSS);
    }
    return out;
  }

  it("reduces by β = 0.7 on loss and remembers W_max", () => {
    const cc = new Cubic(100 * MSS);
    cc.onLoss(100 * MSS, MSS);
    expect(cc.cwnd).toBe(70 * MSS);
    expect(cc.ssthresh).toBe(70 * MSS);
    expect(cc.wMax).toBe(100);
    // Fast convergence: a second loss below W_max lowers W_max further.
    cc.onLoss(70 * MSS, MSS);
    expect(cc.wMax).toBeCloseTo((70 * (1 + CUBIC_BETA)) / 2, 10);
  });

  it("grows along W_cubic(t) = C(t − K)³ + W_max: concave up to W_max at t = K, then convex", () => {
    const W = 200;
    const cc = new Cubic(W * MSS);
    cc.onLoss(W * MSS, MSS);
    const rtt = 100;
    const K = Math.cbrt((W * (1 - CUBIC_BETA)) / CUBIC_C);
    expect(K).toBeCloseTo(5.313, 2);
    const trace = run(cc, rtt, 120);
    // At each RTT the window follows W_cubic one RTT ahead (within a segment or two), while above
    // the Reno-friendly estimate.
    for (let r = 5; r < 100; r++) {
      const t = (r + 1) * (rtt / 1000);
      const expected = Math.min(cc.wCubic(t + rtt / 1000), trace[r - 1]! * 1.5);
      expect(Math.abs(trace[r]! - expected)).toBeLessThan(3);
    }
    // Concave: increments shrink approaching K; plateau near W_max; convex: increments grow after.
    const inc = (a: number, b: number) => trace[b]! - trace[a]!;
    const kRtt = Math.round((K * 1000) / rtt);
    expect(inc(5, 15)).toBeGreaterThan(inc(kRtt - 10, kRtt));
    expect(Math.abs(trace[kRtt - 1]! - W)).toBeLessThan(2);
    expect(inc(kRtt + 20, kRtt + 30)).toBeGreaterThan(inc(kRtt, kRtt + 10));
    expect(trace.at(-1)!).toBeGreaterThan(W * 1.5);
  });

  it("is Reno-friendly at small windows and short RTTs (grows at least like AIMD with α = 3(1−β)/(1+β))", () => {
    const cc = new Cubic(10 * MSS);
    cc.onLoss(10 * MSS, MSS);
    const trace = run(cc, 1, 50); // a 1 ms RTT: W_cubic barely moves
    const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
    // W_est grows by α per RTT.
    expect(trace[49]!).toBeGreaterThanOrEqual(7 + 49 * alpha - 1);
  });

  it("timeout: cwnd = 1 segment, ssthresh = 0.7 cwnd, then slow start", () => {
    const cc = new Cubic(40 * MSS);
    cc.onTimeout(40 * MSS, MSS, 0, true);
    expect(cc.cwnd).toBe(MSS);
    expect(cc.ssthresh).toBe(28 * MSS);
    cc.onAck(2 * MSS, MSS, 10, 10);
    expect(cc.cwnd).toBe(3 * MSS);
  });

  it("the target never exceeds 1.5 × cwnd per RTT", () => {
    const cc = new Cubic(10 * MSS);
    cc.ssthresh = 10 * MSS;
    cc.wMax = 10;
    const trace = run(cc, 100, 200, 0);
    for (let i = 1; i < trace.length; i++) expect(trace[i]! / trace[i - 1]!).toBeLessThanOrEqual(1.5 + 1e-9);
  });
});
