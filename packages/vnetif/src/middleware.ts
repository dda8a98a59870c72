/**
 * The base of the impairment middlewares: a {@link Netif} wrapping another.
 */
import { DropCounters, type Fill, type FrameHandler, type LayerStats, type MacAddress, type Netif } from "@morgana/interfaces";
import { maxFrameSize, validFillLength } from "./frame.js";
import { checkDirection, checkFunction, einval, type Direction } from "./validate.js";

/** A {@link Netif} produced by a middleware (`withLoss`, `withDelay`, ...). */
export interface ImpairedNetif extends Netif {
  /** `loss`, `duplicate`, `reorder`, `corrupt`, `delay`, `bandwidth`, `mtu` or `outage`. */
  readonly kind: string;
  /** The wrapped device. */
  readonly inner: Netif;
  /** Which frames the middleware acts on. */
  readonly direction: Direction;
  /** This layer's own counters and drops only (see {@link Middleware.stats} for the merged view). */
  layerStats(): LayerStats;
}

/**
 * Shared plumbing. A middleware installs its own handler on the inner device
 * when created (replacing any handler there) and forwards frames to the
 * handler given to its `listen`.
 *
 * Own counters (caller's view): `txFrames`/`txBytes` count frames `transmit`
 * accepted (returned true for), including frames the layer then loses on
 * purpose; `rxFrames`/`rxBytes` count frames handed to the listener. Layers
 * add their own (`duplicated`, `corrupted`, ...).
 */
export abstract class Middleware implements ImpairedNetif {
  readonly mac: MacAddress;
  readonly mtu: number;
  readonly direction: Direction;
  protected readonly onTx: boolean;
  protected readonly onRx: boolean;
  protected closed = false;
  protected readonly drops = new DropCounters();
  protected readonly counters: Record<string, number> = { txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0 };
  private handler: FrameHandler | undefined;

  constructor(
    readonly kind: string,
    readonly inner: Netif,
    direction: unknown,
    where: string,
    mtu?: number,
  ) {
    if (typeof inner !== "object" || inner === null || typeof inner.transmit !== "function" || typeof inner.listen !== "function") {
      einval(where, "the first argument must be a Netif");
    }
    this.mac = inner.mac;
    this.mtu = mtu ?? inner.mtu;
    this.direction = checkDirection(where, direction);
    this.onTx = this.direction !== "rx";
    this.onRx = this.direction !== "tx";
  }

  /** Subclass constructors call this last, once their own state exists. */
  protected attach(): void {
    this.inner.listen((frame) => {
      if (this.closed) {
        this.drops.drop("closed");
        return;
      }
      if (this.onRx) this.receive(frame);
      else this.deliverUp(frame);
    });
  }

  transmit(size: number, fill: Fill): boolean {
    if (this.closed) return this.drops.drop("closed");
    return this.onTx ? this.send(size, fill) : this.passDown(size, fill);
  }

  listen(handler: FrameHandler): void {
    this.handler = checkFunction<FrameHandler>(`${this.kind}.listen`, "handler", handler);
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.onClose();
    }
    await this.inner.close();
  }

  layerStats(): LayerStats {
    return { counters: { ...this.counters }, drops: this.drops.snapshot() };
  }

  /**
   * This layer's counters unprefixed, then those of every layer below it
   * prefixed with its kind (`delay.txFrames`, a repeated kind as `loss#2.`),
   * down to the device itself (`device.rxFrames`, ...). Drops are summed by
   * reason over all layers and the device: each dropped frame is counted once,
   * by the layer that dropped it.
   */
  stats(): LayerStats {
    const own = this.layerStats();
    const counters: Record<string, number> = { ...own.counters };
    const drops: Record<string, number> = { ...own.drops };
    const seen = new Map<string, number>([[this.kind, 1]]);
    let cur: Netif = this.inner;
    for (;;) {
      const layer = cur instanceof Middleware ? cur : undefined;
      const s = layer !== undefined ? layer.layerStats() : cur.stats();
      const base = layer !== undefined ? layer.kind : "device";
      const k = (seen.get(base) ?? 0) + 1;
      seen.set(base, k);
      const label = k === 1 ? base : `${base}#${k}`;
      for (const [name, v] of Object.entries(s.counters)) counters[`${label}.${name}`] = v;
      for (const [reason, v] of Object.entries(s.drops)) drops[reason] = (drops[reason] ?? 0) + v;
      if (layer === undefined) break;
      cur = layer.inner;
    }
    return { counters, drops };
  }

  /** A frame leaving through this layer (direction includes tx). Returns transmit's answer. */
  protected abstract send(size: number, fill: Fill): boolean;
  /** A frame arriving from the inner device (direction includes rx). The layer owns it. */
  protected abstract receive(frame: Uint8Array): void;
  /** Drop (and count as `closed`) whatever the layer holds. */
  protected onClose(): void {}

  protected count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }

  protected countTx(n: number): void {
    this.counters.txFrames! += 1;
    this.counters.txBytes! += n;
  }

  /** Hands the transmission to the inner device as is (no copy), counting it when accepted. */
  protected passDown(size: number, fill: Fill): boolean {
    let n = 0;
    const ok = this.inner.transmit(size, (buf) => (n = fill(buf)));
    if (ok) this.countTx(n);
    return ok;
  }

  /**
   * Runs `fill` now into a buffer of this layer's own (the caller may reuse
   * its data once `transmit` returns) and returns the frame, or undefined
   * after counting a drop (`bad-size`, `oversize`, `fill-error`, `fill-length`).
   */
  protected capture(size: number, fill: Fill): Uint8Array | undefined {
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) return void this.drops.drop("bad-size");
    if (size > maxFrameSize(this.inner.mtu)) return void this.drops.drop("oversize");
    const buf = new Uint8Array(size);
    let n: unknown;
    try {
      n = fill(buf);
    } catch {
      return void this.drops.drop("fill-error");
    }
    if (!validFillLength(n, size)) return void this.drops.drop("fill-length");
    return n === size ? buf : buf.subarray(0, n);
  }

  /** Sends a captured frame to the inner device (copying it into the device's buffer). */
  protected sendDown(frame: Uint8Array): boolean {
    return this.inner.transmit(frame.length, (buf) => {
      buf.set(frame);
      return frame.length;
    });
  }

  /** Hands a frame to the listener (counted), or counts `closed` / `no-listener`. */
  protected deliverUp(frame: Uint8Array): void {
    if (this.closed) {
      this.drops.drop("closed");
      return;
    }
    const h = this.handler;
    if (h === undefined) {
      this.drops.drop("no-listener");
      return;
    }
    this.counters.rxFrames! += 1;
    this.counters.rxBytes! += frame.length;
    h(frame);
  }
}
