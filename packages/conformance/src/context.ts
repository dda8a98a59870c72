/**
 * What a check gets: the pair, the direction, scaled sizes, the watchdog,
 * and helpers for the steps most checks share.
 */
import { expect } from "vitest";
import type { Stack, TcpConnectOptions, TcpFlow, TcpListener, TcpListenOptions } from "@morgana/interfaces";
import { chunkSizes, concat, deriveSeed, PatternSource, PatternVerifier } from "./data.js";
import type { StackPair } from "./types.js";
import type { Watchdog } from "./watchdog.js";

export type DirectionName = "a→b" | "b→a";

/** The options with their defaults filled in. */
export interface ResolvedOptions {
  readonly timeoutMs: number;
  readonly scale: number;
  readonly ephemeralPortRange: readonly [number, number];
  readonly udpIcmpErrors: boolean;
  readonly maxBufferedBytes: number;
  readonly seed: number;
  readonly only: readonly string[] | undefined;
  readonly skip: Readonly<Record<string, string>>;
  readonly expectedFailures: Readonly<Record<string, string>>;
}

/** The fields of a Node-style error the checks look at. */
export interface ErrorLike {
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly address?: unknown;
  readonly port?: unknown;
  readonly syscall?: unknown;
  readonly message?: unknown;
}

export class CheckContext {
  private readonly tasks: { label: string; promise: Promise<unknown> }[] = [];
  private rejectTaskFailed!: (err: Error) => void;
  /** Rejects as soon as a task started with {@link task} fails, so the check fails at once. */
  readonly taskFailed: Promise<never> = new Promise<never>((_, reject) => (this.rejectTaskFailed = reject));

  constructor(
    readonly pair: StackPair,
    /** undefined for checks that do not depend on a direction. */
    readonly direction: DirectionName | undefined,
    readonly options: ResolvedOptions,
    readonly watchdog: Watchdog,
    readonly checkId: string,
  ) {
    this.taskFailed.catch(() => undefined);
  }

  /** The connecting (sending) side: `a` for a→b. */
  get client(): Stack {
    return this.direction === "b→a" ? this.pair.b : this.pair.a;
  }

  /** The listening (receiving) side: `b` for a→b. */
  get server(): Stack {
    return this.direction === "b→a" ? this.pair.a : this.pair.b;
  }

  /** The client's address as the server sees it. */
  get clientAddress(): string {
    return this.direction === "b→a" ? this.pair.addressOfB : this.pair.addressOfA;
  }

  /** The server's address as the client reaches it. */
  get serverAddress(): string {
    return this.direction === "b→a" ? this.pair.addressOfA : this.pair.addressOfB;
  }

  get clientName(): string {
    return this.direction === "b→a" ? "b" : "a";
  }

  get serverName(): string {
    return this.direction === "b→a" ? "a" : "b";
  }

  /** A seed for `label`, fixed for this check, direction and the suite's seed. */
  seed(label: string): number {
    return deriveSeed(this.options.seed, `${this.checkId}/${this.direction ?? "-"}/${label}`);
  }

  /** `bytes` scaled by the `scale` option (at least 1). */
  bytes(n: number): number {
    return Math.max(1, Math.round(n * this.options.scale));
  }

  /** A count scaled by the `scale` option (at least `min`). */
  count(n: number, min = 1): number {
    return Math.max(min, Math.round(n * this.options.scale));
  }

  step(label: string): void {
    this.watchdog.step(label);
  }

  /** Waits for `p` under the watchdog; `label` is what the watchdog reports while it is pending. */
  wait<T>(label: string, p: Promise<T>): Promise<T> {
    return this.watchdog.wait(label, p);
  }

  /**
   * Starts a background task. Its failure fails the check (the suite awaits
   * every task once the check's body returned); meanwhile it is listed by
   * the watchdog.
   */
  task<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const done = this.watchdog.hold(`task: ${label}`);
    const p = (async () => fn())().finally(done);
    p.catch((e: unknown) =>
      this.rejectTaskFailed(new Error(`task "${label}" failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })),
    );
    this.tasks.push({ label, promise: p });
    return p;
  }

  /** Awaits every task started with {@link task}. */
  async finishTasks(): Promise<void> {
    for (const t of this.tasks) {
      try {
        await this.wait(`task: ${t.label}`, t.promise);
      } catch (e) {
        throw new Error(`task "${t.label}" failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
  }

  /** Resolves after `ms` of real time (for polling and resends only, never asserted). */
  realSleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  // ---- TCP helpers -----------------------------------------------------------------------

  /**
   * The server listens (port 0 unless given), the client connects to it, the
   * server accepts: both ends and the listener.
   */
  async connect(
    opts: { listen?: Partial<TcpListenOptions>; connect?: Partial<TcpConnectOptions>; listener?: TcpListener } = {},
  ): Promise<{ client: TcpFlow; server: TcpFlow; listener: TcpListener; port: number }> {
    const listener =
      opts.listener ?? (await this.wait(`${this.serverName}.tcp.listen()`, this.server.tcp.listen({ port: 0, ...opts.listen })));
    const port = listener.local.port;
    const accepted = this.wait(`${this.serverName}: listener.accept()`, listener.accept());
    accepted.catch(() => undefined);
    const client = await this.wait(
      `${this.clientName}.tcp.connect(${this.serverAddress}:${port})`,
      this.client.tcp.connect({ address: this.serverAddress, port, ...opts.connect }),
    );
    const server = await accepted;
    expect(server, "accept() gave null on an open listener").not.toBeNull();
    return { client, server: server!, listener, port };
  }

  /** Writes `total` bytes of the stream `seed` in random chunks (some through `writev`). */
  async writePattern(flow: TcpFlow, seed: number, total: number, label: string): Promise<void> {
    const src = new PatternSource(seed);
    const sizes = chunkSizes(total, seed ^ 0x5a5a5a5a);
    let i = 0;
    let n = 0;
    while (i < sizes.length) {
      // Every fifth write is a writev of up to three chunks.
      if (n % 5 === 4 && i + 1 < sizes.length) {
        const k = Math.min(3, sizes.length - i);
        const chunks = sizes.slice(i, i + k).map((s) => src.take(s));
        await this.wait(`${label}: writev at byte ${src.offset}`, flow.writev(chunks));
        i += k;
      } else {
        const chunk = src.take(sizes[i]!);
        await this.wait(`${label}: write at byte ${src.offset}`, flow.write(chunk));
        i++;
      }
      n++;
    }
  }

  /**
   * Reads until the end of stream, checking every chunk (a non-empty plain
   * Uint8Array) against the stream `seed`; returns the byte count.
   */
  async readPattern(flow: TcpFlow, seed: number, label: string): Promise<number> {
    const v = new PatternVerifier(seed, label);
    for (;;) {
      const chunk = await this.wait(`${label}: read at byte ${v.received}`, flow.read());
      if (chunk === null) return v.received;
      checkChunk(chunk, label);
      v.check(chunk);
    }
  }

  /** Reads until the end of stream and returns everything. */
  async readToEnd(flow: TcpFlow, label: string): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let n = 0;
    for (;;) {
      const chunk = await this.wait(`${label}: read at byte ${n}`, flow.read());
      if (chunk === null) break;
      checkChunk(chunk, label);
      chunks.push(chunk);
      n += chunk.length;
    }
    return concat(chunks);
  }

  /** Awaits `p` and checks that it gives `null` (a read or accept at its end), with a clear message when it rejects. */
  async readsNull(label: string, p: Promise<unknown>): Promise<void> {
    let v: unknown;
    try {
      v = await this.wait(label, p);
    } catch (e) {
      const err = e as ErrorLike;
      throw new Error(`${label}: expected null, but it rejected with ${String(err.code)} (${String(err.message)})`, { cause: e });
    }
    expect(v === null, `${label}: expected null, got ${describeValue(v)}`).toBe(true);
  }

  /** Awaits the rejection of `p` and checks its code (and `details`); returns the error. */
  async rejects(label: string, p: Promise<unknown>, code: string, details: { address?: string; port?: number } = {}): Promise<ErrorLike> {
    let value: unknown;
    try {
      value = await this.wait(label, p);
    } catch (e) {
      const err = e as ErrorLike;
      expect(e, `${label}: rejects with an Error`).toBeInstanceOf(Error);
      expect(err.code, `${label}: error code (message: ${String(err.message)})`).toBe(code);
      if (details.address !== undefined) expect(err.address, `${label}: err.address`).toBe(details.address);
      if (details.port !== undefined) expect(err.port, `${label}: err.port`).toBe(details.port);
      return err;
    }
    throw new Error(`${label}: expected a rejection with ${code}, but it resolved with ${describeValue(value)}`);
  }

  /**
   * Keeps writing one byte every 20 ms (real time) on `flow` until `until`
   * settles or a write fails: on a lossy path a single RST can be lost, and
   * every segment to a connection that no longer exists draws a new one.
   * Returns the error a write got, if any.
   */
  async provoke(flow: TcpFlow, until: Promise<unknown>, label: string): Promise<ErrorLike | undefined> {
    let settled = false;
    const stop = until.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (let i = 0; !settled; i++) {
      const w = flow.write(new Uint8Array([i & 255]));
      const r = await this.wait(
        `${label}: probe write ${i}`,
        Promise.race([w.then(() => "ok" as const, (e: unknown) => e as ErrorLike), stop.then(() => "stop" as const)]),
      );
      if (r !== "ok" && r !== "stop") return r;
      if (settled) break;
      await Promise.race([this.realSleep(20), stop]);
    }
    return undefined;
  }
}

export function checkChunk(chunk: unknown, label: string): void {
  expect(chunk, `${label}: read() gives a Uint8Array`).toBeInstanceOf(Uint8Array);
  const c = chunk as Uint8Array;
  expect(Object.getPrototypeOf(c) === Uint8Array.prototype, `${label}: read() gives a plain Uint8Array, not a subclass (${c.constructor.name})`).toBe(true);
  expect(c.length, `${label}: read() never gives an empty chunk`).toBeGreaterThan(0);
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (typeof v === "object") return Object.prototype.toString.call(v);
  return String(v);
}
