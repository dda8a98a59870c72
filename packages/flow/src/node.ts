/**
 * @morgana/flow/node — a Node `stream.Duplex` over any Flow, good enough for
 * `node:http`'s server and client to run over it. Node-only (it imports
 * node:stream); the main entry of @morgana/flow stays browser-safe.
 */
import { Duplex } from "node:stream";
import { MorganaError, type Clock, type Flow, type KeepAliveOptions, type SocketAddress, type TcpFlow, type Timer } from "@morgana/interfaces";
import { SystemClock } from "@morgana/sim";
import { isTcpFlow } from "./index.js";

export interface NodeDuplexOptions {
  /**
   * Default true: `end()` half-closes (`flow.shutdown()`) and reading goes on;
   * the end of the readable does not end the writable. With false, Node ends
   * the writable when the readable ends, as `net.Socket` does by default.
   */
  readonly allowHalfOpen?: boolean;
  /** Bytes the readable side buffers before it stops calling `flow.read()`; Node's default. */
  readonly readableHighWaterMark?: number;
  /** Bytes the writable side buffers before `write()` returns false; Node's default. */
  readonly writableHighWaterMark?: number;
  /**
   * The clock that times `setTimeout()` idle timeouts. Default: the system
   * clock with unreferenced timers (like Node's socket timeouts, they do not
   * keep the process alive). Pass a VirtualClock in tests.
   */
  readonly clock?: Clock;
}

let systemClockUnref: Clock | undefined;

/**
 * A `stream.Duplex` over a {@link Flow}, with the parts of `net.Socket` that
 * `node:http` and common libraries touch. Mapping:
 *
 * - `_read` → one `flow.read()` at a time, only when Node asks (so the flow
 *   is read ahead by at most `readableHighWaterMark` bytes plus one chunk);
 *   `null` ends the readable; a rejection destroys the stream with the flow's
 *   error, whose `code` (`ECONNRESET`, ...) is intact.
 * - `_write`/`_writev` → `flow.write`/`flow.writev`; the callback runs when the
 *   promise resolves (backpressure), or gets the flow's error.
 * - `_final` (after `end()`) → `flow.shutdown()`: a half-close.
 * - `_destroy(err?)` → `flow.close()`, with or without an error, as
 *   `net.Socket.destroy()` closes its descriptor: data already accepted is
 *   still sent (so the 400 response `node:http` writes before destroying a
 *   socket on a parse error arrives), unread input makes it a reset. Not
 *   awaited, so `'close'` is not delayed by a peer that does not read.
 *   `resetAndDestroy()` calls `flow.abort()` (a TCP RST) instead.
 *
 * Socket members: `remoteAddress`/`remotePort`/`remoteFamily`,
 * `localAddress`/`localPort`/`localFamily` and `address()` come from
 * `TcpFlow.remote`/`local` (undefined, and `{}`, for a plain Flow);
 * `setNoDelay`/`setKeepAlive` are forwarded to a TcpFlow and ignored
 * otherwise; `setTimeout` emits `'timeout'` after that long without reads or
 * writes (timed by the `clock` option); `ref`/`unref` do nothing;
 * `bytesRead`/`bytesWritten`, `connecting` (false), `pending` (false),
 * `readyState`, `timeout` and `destroySoon()` behave as in `net.Socket`.
 */
export class FlowDuplex extends Duplex {
  readonly flow: Flow;
  /** Always false: the flow is connected already. */
  readonly connecting = false;
  /** Always false: the flow is connected already. */
  readonly pending = false;
  /** The idle timeout set by `setTimeout`, in ms (undefined until set), as `net.Socket.timeout`. */
  timeout: number | undefined = undefined;
  /** Bytes received from the flow. */
  bytesRead = 0;

  private readonly tcp: TcpFlow | undefined;
  private readonly clockOpt: Clock | undefined;
  private reading = false;
  private flowReleased = false;
  private written = 0;
  private timer: Timer | undefined;
  private lastActivity = 0;

  constructor(flow: Flow, opts: NodeDuplexOptions = {}) {
    super({
      allowHalfOpen: opts.allowHalfOpen ?? true,
      ...(opts.readableHighWaterMark !== undefined ? { readableHighWaterMark: opts.readableHighWaterMark } : {}),
      ...(opts.writableHighWaterMark !== undefined ? { writableHighWaterMark: opts.writableHighWaterMark } : {}),
    });
    this.flow = flow;
    this.tcp = isTcpFlow(flow) ? flow : undefined;
    this.clockOpt = opts.clock;
  }

  /** Bytes the flow accepted from this stream's writes. */
  get bytesWritten(): number {
    return this.written;
  }

  get remoteAddress(): string | undefined {
    return this.tcp?.remote.address;
  }

  get remotePort(): number | undefined {
    return this.tcp?.remote.port;
  }

  get remoteFamily(): string | undefined {
    return this.tcp?.remote.family;
  }

  get localAddress(): string | undefined {
    return this.tcp?.local.address;
  }

  get localPort(): number | undefined {
    return this.tcp?.local.port;
  }

  get localFamily(): string | undefined {
    return this.tcp?.local.family;
  }

  /** The local endpoint, as `net.Socket.address()`; `{}` for a flow without addresses. */
  address(): SocketAddress | Record<string, never> {
    return this.tcp !== undefined ? { address: this.tcp.local.address, port: this.tcp.local.port, family: this.tcp.local.family } : {};
  }

  /** As `net.Socket.readyState`: "open", "readOnly", "writeOnly" or "closed". */
  get readyState(): "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  /** Forwarded to `TcpFlow.setNoDelay`; ignored for other flows. */
  setNoDelay(noDelay = true): this {
    this.tcp?.setNoDelay(noDelay);
    return this;
  }

  /** Forwarded to `TcpFlow.setKeepAlive` (`initialDelay` ms becomes `idleMs`); ignored for other flows. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    const opts: KeepAliveOptions | undefined = initialDelay > 0 ? { idleMs: initialDelay } : undefined;
    this.tcp?.setKeepAlive(enable, opts);
    return this;
  }

  /**
   * Emits `'timeout'` once the stream has been idle (no chunk read, no write)
   * for `ms`; it does not end the stream. 0 disables. Activity re-arms it.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) throw new MorganaError("EINVAL", `setTimeout: bad timeout ${String(ms)}`);
    this.timeout = ms;
    this.clearTimer();
    if (ms === 0) {
      if (callback !== undefined) this.removeListener("timeout", callback);
      return this;
    }
    if (callback !== undefined) this.once("timeout", callback);
    if (!this.destroyed) {
      this.lastActivity = this.clock().now();
      this.arm(ms);
    }
    return this;
  }

  /** No effect (there is no handle to keep the event loop alive). */
  ref(): this {
    return this;
  }

  /** No effect (there is no handle to keep the event loop alive). */
  unref(): this {
    return this;
  }

  /** As `net.Socket.destroySoon()`: end the writable, destroy once it finished. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  /** As `net.Socket.resetAndDestroy()`: `flow.abort()` (a TCP RST), then destroy without an error. */
  resetAndDestroy(): this {
    if (!this.flowReleased) {
      this.flowReleased = true;
      this.flow.abort();
    }
    return this.destroy();
  }

  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    this.flow.read().then(
      (chunk) => {
        this.reading = false;
        if (this.destroyed) return;
        if (chunk === null) {
          this.push(null);
          return;
        }
        this.bytesRead += chunk.length;
        this.touch();
        this.push(chunk);
      },
      (err: unknown) => {
        this.reading = false;
        if (!this.destroyed) this.destroy(err instanceof Error ? err : new MorganaError("EIO", String(err), { cause: err }));
      },
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.touch();
    this.flow.write(chunk).then(
      () => {
        this.written += chunk.length;
        this.touch();
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
    this.touch();
    const bufs = chunks.map((c) => c.chunk);
    this.flow.writev(bufs).then(
      () => {
        for (const b of bufs) this.written += b.length;
        this.touch();
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flow.shutdown().then(
      () => callback(),
      (err: Error) => callback(err),
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.clearTimer();
    if (!this.flowReleased) {
      this.flowReleased = true;
      this.flow.close().catch(() => undefined);
    }
    callback(err);
  }

  private clock(): Clock {
    return this.clockOpt ?? (systemClockUnref ??= new SystemClock({ unref: true }));
  }

  private touch(): void {
    const t = this.timeout;
    if (t === undefined || t === 0 || this.destroyed) return;
    this.lastActivity = this.clock().now();
    if (this.timer === undefined) this.arm(t);
  }

  private arm(delay: number): void {
    this.timer = this.clock().setTimer(delay, () => {
      this.timer = undefined;
      const t = this.timeout;
      if (t === undefined || t === 0 || this.destroyed) return;
      const idle = this.clock().now() - this.lastActivity;
      if (idle >= t) this.emit("timeout");
      else this.arm(t - idle);
    });
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.timer.cancel();
      this.timer = undefined;
    }
  }
}

/** Wraps `flow` in a {@link FlowDuplex}; see there for the mapping. */
export function toNodeDuplex(flow: Flow, opts: NodeDuplexOptions = {}): FlowDuplex {
  return new FlowDuplex(flow, opts);
}
