/**
 * A ReadableStream fed by a parser (push) with backpressure: the request
 * body a server handler reads, the response body a fetch caller reads.
 *
 * The stream has a high-water mark of 0, so `pull()` runs only when the
 * consumer waits for data; chunks pushed ahead of the consumer are counted,
 * and once `bufferBytes` are buffered since the last pull the producer is
 * told to pause (it stops reading its flow: TCP backpressure). Chunks are
 * enqueued as they are (views into the flow's chunks, no copy). Not a byte
 * stream: `enqueue` on a byte stream would detach the whole ArrayBuffer of a
 * view, which a flow's chunk may share.
 */
export class BodyPipe {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private sincePull = 0;
  private readonly bufferBytes: number;
  /** "open" until close(), error() or the consumer's cancel(). */
  state: "open" | "closed" | "errored" | "cancelled" = "open";
  /** True once the consumer asked for data at least once. */
  pulled = false;
  /** Bytes pushed in total. */
  bytes = 0;
  /** Called on every pull (the consumer wants more): wake the producer. */
  onPull: (() => void) | null = null;
  /** Called when the consumer cancels the stream. */
  onCancel: ((reason: unknown) => void) | null = null;

  constructor(bufferBytes: number) {
    this.bufferBytes = bufferBytes;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c;
        },
        pull: () => {
          this.sincePull = 0;
          this.pulled = true;
          this.onPull?.();
        },
        cancel: (reason) => {
          if (this.state !== "open") return;
          this.state = "cancelled";
          this.onCancel?.(reason);
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** Enqueues a chunk (when open); returns true when the producer should pause until the next pull. */
  push(chunk: Uint8Array): boolean {
    if (this.state !== "open") return false;
    this.controller.enqueue(chunk);
    this.bytes += chunk.length;
    this.sincePull += chunk.length;
    return this.sincePull >= this.bufferBytes;
  }

  /** True while the consumer has enough buffered: the producer should wait for a pull. */
  get full(): boolean {
    return this.state === "open" && this.sincePull >= this.bufferBytes;
  }

  close(): void {
    if (this.state !== "open") return;
    this.state = "closed";
    this.controller.close();
  }

  error(err: unknown): void {
    if (this.state !== "open") return;
    this.state = "errored";
    this.controller.error(err);
  }
}
