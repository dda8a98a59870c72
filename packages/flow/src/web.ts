/**
 * A WHATWG Streams view of a Flow: a `ReadableStream<Uint8Array>` and a
 * `WritableStream<Uint8Array>`, using the global stream classes of Node 20
 * and browsers (nothing is imported).
 */
import { MorganaError, type Flow } from "@morgana/interfaces";

export interface WebStreamsOptions {
  /**
   * Chunks the readable reads ahead of its consumer: `flow.read()` is only
   * called while the stream's queue holds fewer chunks than this. Default 1;
   * 0 reads only when the consumer asks.
   */
  readonly readableHighWaterMark?: number;
  /**
   * Chunks the writable queues before `writer.ready` waits (the chunk being
   * written counts); at least 1, since 0 would stall `pipeTo`. Default 1: one `flow.write()` at a time, and the stream
   * waits for its promise, which is the flow's backpressure.
   */
  readonly writableHighWaterMark?: number;
}

export interface FlowWebStreams {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

function checkHwm(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new MorganaError("EINVAL", `toWebStreams: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new MorganaError("EINVAL", `toWebStreams: the writable takes Uint8Array chunks, got ${typeof chunk}`, { syscall: "write" });
}

/**
 * Wraps `flow` in a readable and a writable stream. Mapping:
 *
 * - readable `pull` → `flow.read()`: a chunk is enqueued as is (no copy), `null`
 *   closes the stream, a rejection errors it with the flow's error (its `code`
 *   intact). At most `readableHighWaterMark` chunks are read ahead.
 * - readable `cancel(reason)` → `flow.close()`: cancelling ends the whole flow
 *   (graceful: data already handed to the flow is still sent), because a Flow
 *   cannot stop reading alone and an unread flow would hold its peer back
 *   forever. Later writes on the writable fail with `EPIPE`.
 * - writable `write(chunk)` → `flow.write(chunk)`, and the stream waits for the
 *   promise (backpressure). Ownership of the chunk passes to the flow.
 *   ArrayBuffer views are accepted; anything else errors with `EINVAL`.
 * - writable `close()` → `flow.shutdown()`: a half-close, the readable goes on.
 * - writable `abort(reason)` → `flow.abort(reason)` (an `ECONNABORTED` error
 *   when the reason is not an Error): the readable errors too.
 * - When the readable has ended (or was cancelled) and the writable is closed,
 *   `flow.close()` is called to release the flow.
 */
export function toWebStreams(flow: Flow, opts: WebStreamsOptions = {}): FlowWebStreams {
  const rhwm = checkHwm("readableHighWaterMark", opts.readableHighWaterMark ?? 1, 0);
  const whwm = checkHwm("writableHighWaterMark", opts.writableHighWaterMark ?? 1, 1);
  let readDone = false;
  let writeDone = false;
  let closed = false;

  const closeFlow = () => {
    if (closed) return;
    closed = true;
    flow.close().catch(() => undefined);
  };
  const maybeClose = () => {
    if (readDone && writeDone) closeFlow();
  };

  const readable = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: Uint8Array | null;
        try {
          chunk = await flow.read();
        } catch (err) {
          if (!readDone) {
            readDone = true;
            controller.error(err);
          }
          return;
        }
        if (readDone) return; // cancelled while the read was pending
        if (chunk === null) {
          readDone = true;
          controller.close();
          maybeClose();
        } else {
          controller.enqueue(chunk);
        }
      },
      cancel() {
        readDone = true;
        closeFlow();
      },
    },
    new CountQueuingStrategy({ highWaterMark: rhwm }),
  );

  const writable = new WritableStream<Uint8Array>(
    {
      write(chunk) {
        return flow.write(toBytes(chunk));
      },
      async close() {
        await flow.shutdown();
        writeDone = true;
        maybeClose();
      },
      abort(reason) {
        writeDone = true;
        closed = true;
        flow.abort(reason instanceof Error ? reason : new MorganaError("ECONNABORTED", "the writable stream was aborted", { cause: reason }));
      },
    },
    new CountQueuingStrategy({ highWaterMark: whwm }),
  );

  return { readable, writable };
}
