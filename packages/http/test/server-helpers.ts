/**
 * Test helpers for the server: a VirtualClock harness that serves in-memory
 * flow pairs, and a raw client that writes bytes and parses the responses.
 */
import { tcpFlowPair, type MemoryTcpFlow, type TcpFlowPairOptions } from "@morgana/flow";
import type { Flow } from "@morgana/interfaces";
import { settle, VirtualClock } from "@morgana/sim";
import { createHttpServer, HttpParser, type HttpMessageHead, type HttpServer, type HttpServerOptions } from "../src/index.js";
import { enc, str } from "./helpers.js";

export interface RawResponse {
  head: HttpMessageHead;
  status: number;
  body: string;
  /** Chunk sizes of a chunked body (empty otherwise). */
  chunks: number[];
}

/** Reads responses from a flow with a response parser; `methods` tells it which requests were HEAD. */
export class ResponseReader {
  private readonly parser: HttpParser;
  private readonly done: RawResponse[] = [];
  private cur: RawResponse | null = null;
  private ended = false;
  private error: unknown = null;
  /** Every byte received, as latin1 text. */
  raw = "";
  /** Interim (1xx) responses seen. */
  readonly interim: number[] = [];

  constructor(readonly flow: Flow) {
    this.parser = new HttpParser("response", {
      onHeaders: (head) => {
        if (head.status < 200) {
          this.interim.push(head.status);
          return undefined;
        }
        this.cur = { head, status: head.status, body: "", chunks: [] };
        return undefined;
      },
      onBody: (d) => {
        this.cur!.body += str(d);
      },
      onChunkHeader: (size) => {
        if (size > 0) this.cur!.chunks.push(size);
      },
      onMessageComplete: (head) => {
        if (head.status >= 200) {
          this.done.push(this.cur!);
          this.cur = null;
        }
      },
    });
  }

  /** Declares the method of the next request written (HEAD responses have no body). */
  expect(method: string): void {
    this.parser.pushRequestMethod(method);
  }

  /** The next complete response; throws if the flow ends first. */
  async next(): Promise<RawResponse> {
    for (;;) {
      const r = this.done.shift();
      if (r !== undefined) return r;
      if (this.error !== null) throw this.error;
      if (this.ended) throw new Error(`the connection ended before a response (received: ${JSON.stringify(this.raw)})`);
      await this.progress();
    }
  }

  /** Waits for the end of stream (after any responses); returns the responses that came first. */
  async end(): Promise<RawResponse[]> {
    while (!this.ended && this.error === null) await this.progress();
    if (this.error !== null) throw this.error;
    return this.done.splice(0);
  }

  /** True once the flow gave end of stream or an error. */
  get finished(): boolean {
    return this.ended || this.error !== null;
  }

  get failure(): unknown {
    return this.error;
  }

  private waiters: Array<() => void> = [];
  private started = false;

  /** Resolves at the next chunk, end or error (starting the read loop on first use). */
  private progress(): Promise<void> {
    this.startReading();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Reads eagerly from now on (the raw text and `finished` update without a pending next()). */
  startReading(): void {
    if (this.started) return;
    this.started = true;
    void this.loop();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async loop(): Promise<void> {
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await this.flow.read();
      } catch (e) {
        this.error = e;
        this.notify();
        return;
      }
      if (chunk === null) {
        this.ended = true;
        try {
          this.parser.finish();
        } catch (e) {
          this.error = e;
        }
        this.notify();
        return;
      }
      this.raw += str(chunk);
      try {
        this.parser.execute(chunk);
      } catch (e) {
        this.error = e;
        this.notify();
        return;
      }
      this.notify();
    }
  }
}

export interface Harness {
  clock: VirtualClock;
  server: HttpServer;
  /** Connects a client: the server side is handled; returns the client flow and its reader. */
  /** `lazy`: the client reads only when a test waits for a response (default: it reads eagerly). */
  connect(opts?: TcpFlowPairOptions & { lazy?: boolean }): Conn;
}

export interface Conn {
  flow: MemoryTcpFlow;
  server: MemoryTcpFlow;
  reader: ResponseReader;
  /** The server's handleConnection promise. */
  done: Promise<void>;
  /** Writes latin1 text (or bytes). */
  send(data: string | Uint8Array): Promise<void>;
  /** Writes a request and declares its method to the reader. */
  request(method: string, text: string): Promise<void>;
}

/** A date the VirtualClock starts at, so `Date` is known: Fri, 02 Jan 2026 03:04:05 GMT. */
export const EPOCH = Date.UTC(2026, 0, 2, 3, 4, 5);

export function harness(opts: Omit<HttpServerOptions, "clock"> & { clock?: VirtualClock }): Harness {
  const clock = opts.clock ?? new VirtualClock({ epochMs: EPOCH });
  const server = createHttpServer({ ...opts, clock });
  return {
    clock,
    server,
    connect(pairOpts = {}) {
      const { lazy: _lazy, ...pairOnly } = pairOpts;
      const [c, s] = tcpFlowPair(pairOnly);
      const done = server.handleConnection(s);
      const reader = new ResponseReader(c);
      if (pairOpts.lazy !== true) reader.startReading();
      return {
        flow: c,
        server: s,
        reader,
        done,
        send: (data) => c.write(typeof data === "string" ? enc(data) : data),
        async request(method, text) {
          reader.expect(method);
          await c.write(enc(text));
        },
      };
    },
  };
}

/** Lets promise chains run (no timers). */
export async function flush(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await settle();
}

/** A promise with its resolve function. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

/** Reads a whole ReadableStream as latin1 text. */
export async function readText(stream: ReadableStream<Uint8Array> | null): Promise<string> {
  if (stream === null) return "";
  let s = "";
  for await (const c of stream as unknown as AsyncIterable<Uint8Array>) s += str(c);
  return s;
}
