/**
 * DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766): each message is preceded
 * by its length as 2 bytes, big-endian.
 */
import type { Flow } from "@morgana/interfaces";
import { DnsDecodeError, invalid } from "./errors.js";

/** Prefixes `message` with its 2-byte length (copies). */
export function frameTcp(message: Uint8Array): Uint8Array {
  if (message.length > 0xffff) throw invalid("message longer than 65535 bytes cannot be framed");
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >>> 8;
  out[1] = message.length;
  out.set(message, 2);
  return out;
}

/** Default bound on bytes held by a {@link TcpFrameReader}: four maximal frames. */
export const DEFAULT_TCP_READER_LIMIT = 4 * 65537;

/**
 * Splits a byte stream into DNS messages, whatever the segmentation.
 * Memory is bounded: `push` refuses (returns false) once more than `limit`
 * bytes are buffered without being taken by `next()`.
 */
export class TcpFrameReader {
  private buf = new Uint8Array(1024);
  private start = 0;
  private end = 0;
  readonly limit: number;

  constructor(opts: { readonly limit?: number } = {}) {
    this.limit = opts.limit ?? DEFAULT_TCP_READER_LIMIT;
  }

  /** Bytes held (partial and complete frames not yet taken). */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Appends received bytes. Returns false (and keeps nothing of `chunk`) when that would exceed the limit. */
  push(chunk: Uint8Array): boolean {
    if (this.end - this.start + chunk.length > this.limit) return false;
    if (this.end + chunk.length > this.buf.length) {
      const live = this.end - this.start;
      if (live + chunk.length <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let size = this.buf.length * 2;
        while (size < live + chunk.length) size *= 2;
        const next = new Uint8Array(size);
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
    return true;
  }

  /** The next complete message (a fresh copy, without its prefix), or undefined. */
  next(): Uint8Array | undefined {
    if (this.end - this.start < 2) return undefined;
    const n = (this.buf[this.start]! << 8) | this.buf[this.start + 1]!;
    if (this.end - this.start < 2 + n) return undefined;
    const msg = this.buf.slice(this.start + 2, this.start + 2 + n);
    this.start += 2 + n;
    if (this.start === this.end) this.start = this.end = 0;
    return msg;
  }
}

/**
 * Reads length-prefixed messages from a flow until end of stream. Throws
 * DnsDecodeError when the stream ends inside a message; the flow's own errors
 * pass through. Does not close the flow.
 */
export async function* readTcpMessages(flow: Flow): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = new TcpFrameReader();
  let total = 0;
  for (;;) {
    let m = reader.next();
    while (m !== undefined) {
      yield m;
      m = reader.next();
    }
    const chunk = await flow.read();
    if (chunk === null) {
      if (reader.buffered > 0) throw new DnsDecodeError(total, "stream ended inside a length-prefixed message");
      return;
    }
    total += chunk.length;
    // Consume in pieces so a large chunk never exceeds the reader's bound.
    for (let o = 0; o < chunk.length; ) {
      const piece = chunk.subarray(o, Math.min(chunk.length, o + 65537));
      reader.push(piece);
      o += piece.length;
      let x = reader.next();
      while (x !== undefined) {
        yield x;
        x = reader.next();
      }
    }
  }
}
