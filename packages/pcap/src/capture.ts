/**
 * A Netif middleware that records every frame sent and received to a pcap writer.
 */
import type { Clock, Fill, FrameHandler, LayerStats, MacAddress, Netif } from "@morgana/interfaces";
import type { PcapWriter } from "./write.js";

export interface PcapCaptureOptions {
  /** Where the frames go. The middleware never closes it. */
  readonly writer: PcapWriter;
  /** Timestamps come from `clock.wallTime()` when it exists, else `clock.now()` (milliseconds). */
  readonly clock: Clock;
  /** Record transmitted frames; default true. */
  readonly tx?: boolean;
  /** Record received frames; default true. */
  readonly rx?: boolean;
}

/** What a capture has recorded so far. */
export interface PcapCaptureStats {
  /** Transmitted frames recorded. */
  readonly txFrames: number;
  /** Received frames recorded. */
  readonly rxFrames: number;
  /** Frame bytes recorded (original lengths, before any snaplen truncation). */
  readonly bytes: number;
  /** Frames that could not be recorded because the writer or its sink threw (the frame itself went through). */
  readonly errors: number;
}

/** A {@link Netif} that records its traffic; see {@link withPcap}. */
export interface CapturingNetif extends Netif {
  /** The underlying device. */
  readonly inner: Netif;
  captureStats(): PcapCaptureStats;
}

class PcapNetif implements CapturingNetif {
  readonly inner: Netif;
  private readonly writer: PcapWriter;
  private readonly clock: Clock;
  private readonly tx: boolean;
  private readonly rx: boolean;
  private txFrames = 0;
  private rxFrames = 0;
  private bytes = 0;
  private errors = 0;
  // The fill of the transmit in progress and the record it produced. Kept in
  // fields (saved and restored around the inner call) so that transmit
  // allocates no closure: the frame buffer stays the device path's one allocation.
  private userFill: Fill | undefined;
  private pending: Uint8Array | undefined;
  private pendingLength = 0;
  private readonly wrappedFill: Fill;

  constructor(inner: Netif, opts: PcapCaptureOptions) {
    this.inner = inner;
    this.writer = opts.writer;
    this.clock = opts.clock;
    this.tx = opts.tx ?? true;
    this.rx = opts.rx ?? true;
    this.wrappedFill = (buffer) => this.fillAndCopy(buffer);
  }

  get mac(): MacAddress {
    return this.inner.mac;
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  transmit(size: number, fill: Fill): boolean {
    if (!this.tx) return this.inner.transmit(size, fill);
    const savedFill = this.userFill;
    const savedPending = this.pending;
    const savedLength = this.pendingLength;
    this.userFill = fill;
    this.pending = undefined;
    let ok = false;
    let record: Uint8Array | undefined;
    let length = 0;
    try {
      ok = this.inner.transmit(size, this.wrappedFill);
      record = this.pending;
      length = this.pendingLength;
    } finally {
      this.userFill = savedFill;
      this.pending = savedPending;
      this.pendingLength = savedLength;
    }
    // Only frames the device accepted were transmitted; a local drop is not recorded.
    if (ok && record !== undefined) {
      try {
        this.writer.writeEncoded(record);
        this.txFrames++;
        this.bytes += length;
      } catch {
        this.errors++;
      }
    }
    return ok;
  }

  private fillAndCopy(buffer: Uint8Array): number {
    const n = this.userFill!(buffer);
    // An out-of-range result cancels the transmission: nothing to record.
    if (Number.isInteger(n) && n >= 0 && n <= buffer.length) {
      try {
        this.pending = this.writer.encodeRecord(buffer.subarray(0, n), this.timestamp());
        this.pendingLength = n;
      } catch {
        this.errors++;
      }
    }
    return n;
  }

  listen(handler: FrameHandler): void {
    if (!this.rx) {
      this.inner.listen(handler);
      return;
    }
    this.inner.listen((frame) => {
      // Recorded before the handler owns (and may modify) the frame.
      try {
        this.writer.writeRecord(frame, this.timestamp());
        this.rxFrames++;
        this.bytes += frame.length;
      } catch {
        this.errors++;
      }
      handler(frame);
    });
  }

  /** The device's stats, with the capture's counters added as `pcapTxFrames`, `pcapRxFrames`, `pcapErrors`. */
  stats(): LayerStats {
    const s = this.inner.stats();
    return {
      counters: { ...s.counters, pcapTxFrames: this.txFrames, pcapRxFrames: this.rxFrames, pcapErrors: this.errors },
      drops: s.drops,
    };
  }

  captureStats(): PcapCaptureStats {
    return { txFrames: this.txFrames, rxFrames: this.rxFrames, bytes: this.bytes, errors: this.errors };
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private timestamp(): number {
    const c = this.clock;
    return c.wallTime !== undefined ? c.wallTime() : c.now();
  }
}

/**
 * Wraps a device so that every frame it transmits and receives is written to
 * `writer`, with the clock's time.
 *
 * - Transmit: the caller's fill runs on the device's buffer as before (still
 *   one allocation for the frame); right after it, the bytes it wrote are
 *   copied into a pcap record, which is written once the device has accepted
 *   the frame (a frame the device drops is not recorded, and one whose fill
 *   throws or returns an out-of-range length is not either).
 * - Receive: each frame is recorded, then handed to the listener.
 * - Frames are never modified. A writer that throws (a failing sink, a clock
 *   outside the pcap time range) only increments `captureStats().errors`: the
 *   device path is never disturbed.
 * - `close()` closes the device, not the writer.
 */
export function withPcap(netif: Netif, opts: PcapCaptureOptions): CapturingNetif {
  return new PcapNetif(netif, opts);
}
