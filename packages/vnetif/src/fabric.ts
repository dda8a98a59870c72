/**
 * The delivery engine behind switches and links, and their ports.
 *
 * A port's `transmit` validates the frame and hands it to its fabric, which
 * decides where it goes and queues one delivery per destination port. Queued
 * deliveries leave in FIFO order: with zero latency in batches flushed by
 * `queueMicrotask`, with latency from one clock timer armed for the earliest
 * deadline. Nothing is ever delivered inside `transmit`.
 */
import { DropCounters, type Clock, type Fill, type FrameHandler, type LayerStats, type MacAddress, type Netif } from "@morgana/interfaces";
import { ETHERNET_HEADER_LENGTH } from "@morgana/interfaces";
import { fitsMtu, maxFrameSize, validFillLength } from "./frame.js";
import { RingQueue } from "./queue.js";
import { SlabAllocator } from "@morgana/collections";

/** Frames are carved from shared 32 KiB slabs (see SlabAllocator): one ArrayBuffer per frame costs more than the frame. */
const frameAllocator = new SlabAllocator();
import { checkFunction } from "./validate.js";

/** A device of a {@link VirtualSwitch} or one end of a link. */
export interface VirtualPort extends Netif {
  /** Position in creation order: 0, 1, ... on a switch; 0 (a) and 1 (b) on a link. */
  readonly index: number;
  /** `port0`, `port1`, ... (or the name given), `a`/`b` on a link. */
  readonly name: string;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** Frames queued for delivery to this port and not delivered yet. */
  readonly pendingFrames: number;
}

/**
 * Called for every delivered frame, just before the port's handler, with the
 * clock time of delivery. `frame` is the very buffer the handler receives (and
 * may then modify): copy it if you keep it.
 */
export type DeliverHook = (port: VirtualPort, frame: Uint8Array, time: number) => void;

/**
 * Called when a receive handler (or the {@link DeliverHook}) throws. Without
 * it, the first such error of a delivery batch is rethrown once the batch is
 * done: from the clock timer's callback (a `VirtualClock` rethrows it from
 * `advance`/`runUntilIdle`), or from the microtask (an uncaught exception).
 */
export type HandlerErrorHook = (error: unknown, port: VirtualPort) => void;

/** Frames shorter than this are charged as this many bytes against a port's queue bound. */
export const MIN_CHARGE = 64;
/** Default bound on the bytes queued for delivery to one port: 16 MiB. */
export const DEFAULT_PORT_QUEUE_BYTES = 16 * 1024 * 1024;

export interface FabricOptions {
  clock: Clock;
  latencyMs: number;
  queueBytes: number;
  onDeliver: DeliverHook | undefined;
  onHandlerError: HandlerErrorHook | undefined;
}

interface Delivery {
  to: Port;
  frame: Uint8Array;
  at: number;
}

function charge(frame: Uint8Array): number {
  return frame.length > MIN_CHARGE ? frame.length : MIN_CHARGE;
}

/** What owns ports: decides where a frame goes, then queues it with {@link Fabric.enqueue}. */
export abstract class Fabric {
  protected readonly clock: Clock;
  private readonly latencyMs: number;
  private readonly queueBytes: number;
  private readonly onDeliver: DeliverHook | undefined;
  private readonly onHandlerError: HandlerErrorHook | undefined;
  private readonly queue = new RingQueue<Delivery>();
  private flushScheduled = false;
  private timerArmed = false;

  constructor(opts: FabricOptions) {
    this.clock = opts.clock;
    this.latencyMs = opts.latencyMs;
    this.queueBytes = opts.queueBytes;
    this.onDeliver = opts.onDeliver;
    this.onHandlerError = opts.onHandlerError;
  }

  /** Routes a valid frame `from` a port; called synchronously from `transmit`. */
  abstract forward(from: Port, frame: Uint8Array): void;

  /** A port was closed. */
  abstract detach(port: Port): void;

  /**
   * Queues `frame` for delivery to `to`; the receiver will own it. False (and
   * counted on `to`) when `to` is closed or its queue bound is reached.
   */
  enqueue(to: Port, frame: Uint8Array): boolean {
    if (to.closed) return to.drops.drop("closed");
    const cost = charge(frame);
    if (to.pendingBytes + cost > this.queueBytes) return to.drops.drop("queue-full");
    to.pendingBytes += cost;
    to.pendingCount++;
    if (this.latencyMs === 0) {
      this.queue.push({ to, frame, at: 0 });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(this.flush);
      }
    } else {
      this.queue.push({ to, frame, at: this.clock.now() + this.latencyMs });
      if (!this.timerArmed) this.armTimer();
    }
    return true;
  }

  /** Zero latency: deliver the frames queued before this microtask ran. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    let n = this.queue.length;
    const errors: unknown[] = [];
    while (n-- > 0) this.deliver(this.queue.shift()!, errors);
    if (this.queue.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
    if (errors.length > 0) throw errors[0];
  };

  private armTimer(): void {
    const head = this.queue.peek();
    if (head === undefined) return;
    this.timerArmed = true;
    this.clock.setTimer(head.at - this.clock.now(), this.onTimer);
  }

  /** With latency: deliver every frame whose deadline has come (among those queued before the timer fired). */
  private readonly onTimer = (): void => {
    // timerArmed stays true during the pass so that enqueue() does not arm a second timer.
    const now = this.clock.now();
    let n = this.queue.length;
    const errors: unknown[] = [];
    while (n-- > 0) {
      const head = this.queue.peek()!;
      if (head.at > now) break;
      this.queue.shift();
      this.deliver(head, errors);
    }
    this.timerArmed = false;
    this.armTimer();
    if (errors.length > 0) throw errors[0];
  };

  private deliver(d: Delivery, errors: unknown[]): void {
    const port = d.to;
    port.pendingBytes -= charge(d.frame);
    port.pendingCount--;
    const handler = port.handler;
    if (port.closed) {
      port.drops.drop("closed");
      return;
    }
    if (handler === undefined) {
      port.drops.drop("no-listener");
      return;
    }
    port.rxFrames++;
    port.rxBytes += d.frame.length;
    try {
      this.onDeliver?.(port, d.frame, this.clock.now());
      handler(d.frame);
    } catch (e) {
      port.handlerErrors++;
      if (this.onHandlerError !== undefined) {
        try {
          this.onHandlerError(e, port);
        } catch (e2) {
          errors.push(e2);
        }
      } else {
        errors.push(e);
      }
    }
  }
}

export interface PortInit {
  fabric: Fabric;
  index: number;
  name: string;
  mac: MacAddress;
  mtu: number;
}

/** A port: the {@link Netif} a switch or link hands out. */
export class Port implements VirtualPort {
  readonly mac: MacAddress;
  readonly mtu: number;
  readonly index: number;
  readonly name: string;
  /** @internal */ readonly fabric: Fabric;
  /** @internal */ handler: FrameHandler | undefined;
  /** @internal */ readonly drops = new DropCounters();
  /** @internal */ rxFrames = 0;
  /** @internal */ rxBytes = 0;
  /** @internal */ txFrames = 0;
  /** @internal */ txBytes = 0;
  /** @internal */ handlerErrors = 0;
  /** @internal */ pendingBytes = 0;
  /** @internal */ pendingCount = 0;
  private isClosed = false;

  constructor(init: PortInit) {
    this.fabric = init.fabric;
    this.index = init.index;
    this.name = init.name;
    this.mac = init.mac;
    this.mtu = init.mtu;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get pendingFrames(): number {
    return this.pendingCount;
  }

  transmit(size: number, fill: Fill): boolean {
    if (this.isClosed) return this.drops.drop("closed");
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) return this.drops.drop("bad-size");
    if (size > maxFrameSize(this.mtu)) return this.drops.drop("oversize");
    const buf = frameAllocator.alloc(size);
    let n: unknown;
    try {
      n = fill(buf);
    } catch {
      return this.drops.drop("fill-error");
    }
    if (!validFillLength(n, size)) return this.drops.drop("fill-length");
    if (this.isClosed) return this.drops.drop("closed"); // fill closed the port
    if (n < ETHERNET_HEADER_LENGTH) return this.drops.drop("short");
    if (!fitsMtu(buf, n, this.mtu)) return this.drops.drop("oversize");
    this.txFrames++;
    this.txBytes += n;
    this.fabric.forward(this, n === size ? buf : buf.subarray(0, n));
    return true;
  }

  listen(handler: FrameHandler): void {
    this.handler = checkFunction<FrameHandler>(`${this.name}.listen`, "handler", handler);
  }

  stats(): LayerStats {
    return {
      counters: {
        rxFrames: this.rxFrames,
        rxBytes: this.rxBytes,
        txFrames: this.txFrames,
        txBytes: this.txBytes,
        handlerErrors: this.handlerErrors,
        pendingFrames: this.pendingCount,
      },
      drops: this.drops.snapshot(),
    };
  }

  close(): Promise<void> {
    if (!this.isClosed) {
      this.isClosed = true;
      this.fabric.detach(this);
    }
    return Promise.resolve();
  }
}
