/**
 * Bounded reading helpers for protocol code on top of a flow: read exactly n
 * bytes (a DNS-over-TCP length prefix), up to a delimiter (an HTTP header
 * block), or everything until the end (a small body), each with a limit so a
 * hostile peer can never make the reader hold unbounded memory.
 */
import { RingQueue } from "@morgana/collections";
import { MorganaError } from "@morgana/interfaces";

/** What a {@link FlowReader} reads from: any {@link Flow}, or anything with the same `read()`. */
export interface ReadSource {
  read(): Promise<Uint8Array | null>;
}

/**
 * The flow ended (end of stream) before the bytes a read asked for arrived.
 * Code `ERR_STREAM_PREMATURE_CLOSE` (Node's code for a stream that ended
 * before it should have), so it is not mistaken for a real reset. Nothing was consumed: the `received` bytes are still buffered and
 * `read()` returns them.
 */
export class UnexpectedEndError extends MorganaError {
  /** Bytes the read needed (for `readExactly`), or undefined (for `readUntil`). */
  readonly expected: number | undefined;
  /** Bytes that were available when the end arrived. */
  readonly received: number;

  constructor(what: string, received: number, expected?: number) {
    super(
      "ERR_STREAM_PREMATURE_CLOSE",
      expected !== undefined
        ? `${what}: the flow ended after ${received} of ${expected} bytes`
        : `${what}: the flow ended after ${received} bytes without the delimiter`,
      { syscall: "read" },
    );
    this.name = "UnexpectedEndError";
    this.expected = expected;
    this.received = received;
  }
}

/**
 * A read would need more than its `maxBytes` limit. Code `EMSGSIZE`. Nothing
 * was consumed; the reader holds at most `limit` bytes plus one chunk.
 */
export class LimitExceededError extends MorganaError {
  readonly limit: number;

  constructor(what: string, limit: number) {
    super("EMSGSIZE", `${what}: more than ${limit} bytes`, { syscall: "read" });
    this.name = "LimitExceededError";
    this.limit = limit;
  }
}

const encoder = new TextEncoder();

function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new MorganaError("EINVAL", `${what}: expected a non-negative integer, got ${n}`);
}

function toDelimiter(d: Uint8Array | string | number): Uint8Array {
  let bytes: Uint8Array;
  if (typeof d === "number") {
    if (!Number.isInteger(d) || d < 0 || d > 255) throw new MorganaError("EINVAL", `readUntil: a byte delimiter must be 0..255, got ${d}`);
    bytes = Uint8Array.of(d);
  } else if (typeof d === "string") {
    bytes = encoder.encode(d);
  } else if (d instanceof Uint8Array) {
    bytes = d;
  } else {
    throw new MorganaError("EINVAL", "readUntil: the delimiter must be a Uint8Array, a string or a byte");
  }
  if (bytes.length === 0) throw new MorganaError("EINVAL", "readUntil: empty delimiter");
  return bytes;
}

/**
 * Buffers the chunks of a {@link ReadSource} and cuts them as protocol code
 * needs. Results are views of the received chunks when the bytes lie in one
 * chunk (zero-copy) and a single new array when they span several.
 *
 * Calls are served one at a time in call order (a call made while another is
 * waiting for data runs after it). The reader only pulls from the source when
 * a call needs more bytes, and never more than one chunk beyond what the call
 * needs. Errors of the source are passed through unchanged; a limit or an
 * early end rejects the call and consumes nothing.
 */
export class FlowReader {
  private readonly chunks = new RingQueue<Uint8Array>();
  /** Bytes of the head chunk already consumed. */
  private headOffset = 0;
  private bufferedBytes = 0;
  private eof = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly source: ReadSource) {}

  /** Bytes received from the source and not yet consumed. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /** True once the source returned the end of stream (buffered bytes may remain). */
  get ended(): boolean {
    return this.eof;
  }

  /**
   * The next bytes: what is buffered from the current chunk, else the next
   * chunk of the source; `null` at the end of stream.
   */
  read(): Promise<Uint8Array | null> {
    return this.run(async () => {
      while (this.bufferedBytes === 0) {
        if (this.eof) return null;
        const c = await this.source.read();
        if (c === null) {
          this.eof = true;
          return null;
        }
        if (c.length > 0) return c; // straight through, no buffering
      }
      return this.takeHead(Infinity);
    });
  }

  /** Like {@link read}, but at most `n` bytes (n >= 1); the rest stays buffered. */
  readAtMost(n: number): Promise<Uint8Array | null> {
    checkCount("readAtMost", n);
    if (n === 0) return Promise.reject(new MorganaError("EINVAL", "readAtMost: n must be at least 1"));
    return this.run(async () => {
      while (this.bufferedBytes === 0) {
        if (this.eof || !(await this.fill())) return null;
      }
      return this.takeHead(n);
    });
  }

  /**
   * Exactly `n` bytes. Rejects with {@link UnexpectedEndError} when the flow
   * ends first. The caller bounds `n` (it is usually a length read from the
   * wire: check it before calling).
   */
  readExactly(n: number): Promise<Uint8Array> {
    checkCount("readExactly", n);
    return this.run(async () => {
      while (this.bufferedBytes < n) {
        if (this.eof || !(await this.fill())) throw new UnexpectedEndError("readExactly", this.bufferedBytes, n);
      }
      return this.take(n);
    });
  }

  /**
   * The bytes before the next `delimiter` (a byte sequence, a string encoded
   * as UTF-8, or a single byte value); the delimiter is consumed and not
   * returned. The delimiter must end within the first `maxBytes` bytes,
   * otherwise the call rejects with {@link LimitExceededError} (at most
   * `maxBytes` plus one chunk are held); {@link UnexpectedEndError} when the
   * flow ends first.
   */
  readUntil(delimiter: Uint8Array | string | number, maxBytes: number): Promise<Uint8Array> {
    const delim = toDelimiter(delimiter);
    checkCount("readUntil maxBytes", maxBytes);
    return this.run(async () => {
      let from = 0;
      for (;;) {
        const at = this.indexOf(delim, from);
        if (at >= 0) {
          if (at + delim.length > maxBytes) throw new LimitExceededError("readUntil", maxBytes);
          const out = this.take(at);
          this.skipBuffered(delim.length);
          return out;
        }
        if (this.bufferedBytes >= maxBytes) throw new LimitExceededError("readUntil", maxBytes);
        from = Math.max(0, this.bufferedBytes - delim.length + 1);
        if (this.eof || !(await this.fill())) throw new UnexpectedEndError("readUntil", this.bufferedBytes);
      }
    });
  }

  /**
   * Everything until the end of stream, at most `maxBytes`; more rejects with
   * {@link LimitExceededError} (the reader then holds at most `maxBytes` plus
   * one chunk and stops pulling).
   */
  readAll(maxBytes: number): Promise<Uint8Array> {
    checkCount("readAll maxBytes", maxBytes);
    return this.run(async () => {
      while (!this.eof) {
        if (this.bufferedBytes > maxBytes) throw new LimitExceededError("readAll", maxBytes);
        await this.fill();
      }
      if (this.bufferedBytes > maxBytes) throw new LimitExceededError("readAll", maxBytes);
      return this.take(this.bufferedBytes);
    });
  }

  /**
   * Discards exactly `n` bytes, holding at most one chunk at a time (to skip a
   * body of any size). {@link UnexpectedEndError} when the flow ends first;
   * unlike the other calls, the bytes skipped until then stay consumed.
   */
  skip(n: number): Promise<void> {
    checkCount("skip", n);
    return this.run(async () => {
      let left = n;
      while (this.bufferedBytes < left) {
        const have = this.bufferedBytes;
        this.skipBuffered(have);
        left -= have;
        if (this.eof || !(await this.fill())) throw new UnexpectedEndError("skip", n - left, n);
      }
      this.skipBuffered(left);
    });
  }

  /** Runs `op` after every earlier call settled. */
  private run<T>(op: () => Promise<T>): Promise<T> {
    const p = this.tail.then(op, op);
    this.tail = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Pulls one chunk; false at the end of stream. Source errors propagate. */
  private async fill(): Promise<boolean> {
    const c = await this.source.read();
    if (c === null) {
      this.eof = true;
      return false;
    }
    if (c.length > 0) {
      this.chunks.push(c);
      this.bufferedBytes += c.length;
    }
    return true;
  }

  /** Up to `n` bytes from the head chunk (a view). Requires buffered > 0. */
  private takeHead(n: number): Uint8Array {
    const head = this.chunks.peek()!;
    const avail = head.length - this.headOffset;
    const k = Math.min(n, avail);
    const out = this.headOffset === 0 && k === head.length ? head : head.subarray(this.headOffset, this.headOffset + k);
    this.advance(k);
    return out;
  }

  /** Exactly `n` buffered bytes: a view when they lie in the head chunk, else one copy. */
  private take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const head = this.chunks.peek()!;
    if (head.length - this.headOffset >= n) return this.takeHead(n);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const h = this.chunks.peek()!;
      const k = Math.min(n - filled, h.length - this.headOffset);
      out.set(h.subarray(this.headOffset, this.headOffset + k), filled);
      filled += k;
      this.advance(k);
    }
    return out;
  }

  private skipBuffered(n: number): void {
    while (n > 0) {
      const h = this.chunks.peek()!;
      const k = Math.min(n, h.length - this.headOffset);
      this.advance(k);
      n -= k;
    }
  }

  /** Consumes `k` bytes of the head chunk (k <= what it has left). */
  private advance(k: number): void {
    this.headOffset += k;
    this.bufferedBytes -= k;
    if (this.headOffset === this.chunks.peek()!.length) {
      this.chunks.shift();
      this.headOffset = 0;
    }
  }

  /** Position of `delim` in the buffered bytes, searching from logical offset `from`; -1 if absent. */
  private indexOf(delim: Uint8Array, from: number): number {
    const first = delim[0]!;
    let base = 0; // logical offset of the current chunk's first unconsumed byte
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const c = this.chunks.at(ci)!;
      const start = ci === 0 ? this.headOffset : 0;
      const len = c.length - start;
      if (from < base + len) {
        let i = Math.max(start, start + (from - base));
        for (;;) {
          i = c.indexOf(first, i);
          if (i < 0) break;
          const pos = base + (i - start);
          if (this.matchesAt(delim, ci, i)) return pos;
          i++;
        }
      }
      base += len;
    }
    return -1;
  }

  /** True when the bytes starting at chunk `ci`, index `i` equal `delim` (possibly across chunks). */
  private matchesAt(delim: Uint8Array, ci: number, i: number): boolean {
    let c = this.chunks.at(ci)!;
    for (let k = 0; k < delim.length; k++, i++) {
      while (i >= c.length) {
        ci++;
        const next = this.chunks.at(ci);
        if (next === undefined) return false;
        c = next;
        i = 0;
      }
      if (c[i] !== delim[k]) return false;
    }
    return true;
  }
}

const EMPTY = new Uint8Array(0);
