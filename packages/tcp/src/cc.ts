/**
 * Congestion control, behind a small internal interface so the algorithm is
 * pluggable. Windows are in bytes; `smss` is the sender's maximum segment
 * size (payload bytes per full segment). Loss *detection* and recovery
 * (dupacks, SACK, RTO) live in the connection; a module only decides how the
 * window grows and how it is reduced.
 *
 * - {@link NewReno}: RFC 5681 slow start and congestion avoidance with
 *   appropriate byte counting (RFC 3465, L = 2 SMSS), halving on loss; fast
 *   recovery itself (RFC 6582 partial ACKs) is run by the connection.
 * - {@link Cubic}: RFC 9438 (C = 0.4, β = 0.7, fast convergence, the
 *   Reno-friendly region), standard slow start (no HyStart).
 */

export interface CongestionControl {
  readonly name: string;
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow-start threshold, bytes. */
  ssthresh: number;
  /**
   * `acked` new bytes were cumulatively acknowledged outside loss recovery
   * while the sender was using its window. `rttMs` is the smoothed RTT (0 when
   * unknown), `now` the clock in ms.
   */
  onAck(acked: number, smss: number, now: number, rttMs: number): void;
  /** Loss detected by duplicate ACKs or SACK: set ssthresh, and cwnd for recovery. */
  onLoss(flight: number, smss: number, now: number): void;
  /** Retransmission timeout: set ssthresh (when `first`), cwnd to the loss window (1 SMSS). */
  onTimeout(flight: number, smss: number, now: number, first: boolean): void;
  /** Fast recovery ended (the recovery point was acknowledged). */
  onRecoveryEnd(smss: number): void;
  /** Restart after idle (RFC 5681 §4.1): cwnd shrinks to the restart window. */
  onIdleRestart(restartWindow: number): void;
}

export type CongestionControlName = "newreno" | "cubic";

/** Slow start with byte counting, at most `limit` bytes per ACK (RFC 3465 L). */
function slowStart(cc: { cwnd: number; ssthresh: number }, acked: number, smss: number): number {
  const inc = Math.min(acked, 2 * smss);
  const room = cc.ssthresh - cc.cwnd;
  if (inc <= room) {
    cc.cwnd += inc;
    return 0;
  }
  cc.cwnd = cc.ssthresh;
  return inc - room; // what is left goes to congestion avoidance
}

export class NewReno implements CongestionControl {
  readonly name = "newreno";
  cwnd: number;
  ssthresh = Infinity;
  private bytesAcked = 0;

  constructor(initialWindow: number) {
    this.cwnd = initialWindow;
  }

  onAck(acked: number, smss: number): void {
    if (this.cwnd < this.ssthresh) {
      acked = slowStart(this, acked, smss);
      if (acked === 0) return;
    }
    // Congestion avoidance: one SMSS per window of acknowledged bytes.
    this.bytesAcked += acked;
    if (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += smss;
    }
  }

  onLoss(flight: number, smss: number): void {
    this.ssthresh = Math.max(flight / 2, 2 * smss);
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
  }

  onTimeout(flight: number, smss: number, _now: number, first: boolean): void {
    if (first) this.ssthresh = Math.max(flight / 2, 2 * smss);
    this.cwnd = smss;
    this.bytesAcked = 0;
  }

  onRecoveryEnd(): void {
    this.cwnd = this.ssthresh;
  }

  onIdleRestart(restartWindow: number): void {
    if (this.cwnd > restartWindow) this.cwnd = restartWindow;
  }
}

/** RFC 9438 constants. */
export const CUBIC_C = 0.4;
export const CUBIC_BETA = 0.7;

export class Cubic implements CongestionControl {
  readonly name = "cubic";
  cwnd: number;
  ssthresh = Infinity;
  /** W_max in segments: the window before the last reduction. */
  wMax = 0;
  /** K in seconds: when W_cubic returns to W_max. */
  k = 0;
  /** Start of the current congestion-avoidance epoch (ms), or -1. */
  epochStart = -1;
  /** The Reno-friendly estimate W_est, segments. */
  private wEst = 0;
  private cwndEpoch = 0;

  constructor(initialWindow: number) {
    this.cwnd = initialWindow;
  }

  /** W_cubic(t) in segments, t in seconds since the epoch start (RFC 9438 eq. 1). */
  wCubic(t: number): number {
    const d = t - this.k;
    return CUBIC_C * d * d * d + this.wMax;
  }

  onAck(acked: number, smss: number, now: number, rttMs: number): void {
    if (this.cwnd < this.ssthresh) {
      acked = slowStart(this, acked, smss);
      if (acked === 0) return;
    }
    const cwndSeg = this.cwnd / smss;
    if (this.epochStart < 0) {
      this.epochStart = now;
      this.cwndEpoch = cwndSeg;
      this.wEst = cwndSeg;
      if (cwndSeg < this.wMax) {
        this.k = Math.cbrt((this.wMax - cwndSeg) / CUBIC_C);
      } else {
        // No reduction remembered (first CA epoch, or we already passed W_max).
        this.k = 0;
        this.wMax = cwndSeg;
      }
    }
    const t = (now - this.epochStart) / 1000;
    const rtt = rttMs / 1000;
    // Reno-friendly region (RFC 9438 §4.3): W_est grows by α per window.
    const alpha = this.wEst >= this.wMax ? 1 : (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
    this.wEst += (alpha * (acked / smss)) / cwndSeg;
    const cubicNow = this.wCubic(t);
    if (cubicNow < this.wEst) {
      if (this.wEst > cwndSeg) this.cwnd = this.wEst * smss;
      return;
    }
    // Concave and convex regions (§4.4, §4.5): aim at W_cubic one RTT ahead.
    let target = this.wCubic(t + rtt);
    if (target < cwndSeg) target = cwndSeg;
    else if (target > 1.5 * cwndSeg) target = 1.5 * cwndSeg;
    this.cwnd += ((target - cwndSeg) / cwndSeg) * acked;
  }

  private reduce(smss: number): void {
    const cwndSeg = this.cwnd / smss;
    // Fast convergence (§4.7): release bandwidth when the window keeps shrinking.
    this.wMax = cwndSeg < this.wMax ? (cwndSeg * (1 + CUBIC_BETA)) / 2 : cwndSeg;
    this.epochStart = -1;
  }

  onLoss(_flight: number, smss: number): void {
    this.reduce(smss);
    this.ssthresh = Math.max(this.cwnd * CUBIC_BETA, 2 * smss);
    this.cwnd = this.ssthresh;
  }

  onTimeout(_flight: number, smss: number, _now: number, first: boolean): void {
    if (first) {
      this.reduce(smss);
      this.ssthresh = Math.max(this.cwnd * CUBIC_BETA, 2 * smss);
    }
    this.cwnd = smss;
    this.epochStart = -1;
  }

  onRecoveryEnd(): void {
    this.cwnd = this.ssthresh;
  }

  onIdleRestart(restartWindow: number): void {
    if (this.cwnd > restartWindow) this.cwnd = restartWindow;
    this.epochStart = -1;
  }

  /** For tests: the window at the start of the current epoch, segments. */
  get epochWindow(): number {
    return this.cwndEpoch;
  }
}

export function createCongestionControl(name: CongestionControlName, initialWindow: number): CongestionControl {
  return name === "newreno" ? new NewReno(initialWindow) : new Cubic(initialWindow);
}
