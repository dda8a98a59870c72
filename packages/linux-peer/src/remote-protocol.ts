/**
 * The wire format between {@link createRemoteStack} and its helper process:
 * frames on the helper's standard input and output.
 *
 *   u32 BE  length of what follows (4 + J + P)
 *   u32 BE  J, the length of the JSON header
 *   J bytes the header, UTF-8 JSON
 *   P bytes the payload (flow data, a datagram), raw
 *
 * Binary data travels as it is (no base64); the header says what it is.
 * Shared by both ends; no Node built-ins here (the helper is bundled from it).
 */
import { MorganaError, type ErrorCode } from "@morgana/interfaces";

/** The largest frame either side accepts: 1 GiB (a single flow write of that size is still one frame). */
export const MAX_FRAME = 1 << 30;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Non-finite numbers survive JSON as their text ("NaN"), so the other side rejects them as the local stack would. */
function replacer(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
}

/** The 8-byte prefix and the header of a frame whose payload is `payloadLength` bytes (sent separately). */
export function encodeHead(header: unknown, payloadLength: number): Uint8Array {
  const json = encoder.encode(JSON.stringify(header, replacer));
  const out = new Uint8Array(8 + json.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 4 + json.length + payloadLength);
  view.setUint32(4, json.length);
  out.set(json, 8);
  return out;
}

export interface Frame {
  readonly header: Record<string, unknown>;
  /** A plain Uint8Array view (never a Buffer), owned by whoever takes it; empty when there is none. */
  readonly payload: Uint8Array;
}

/**
 * Reassembles frames from a byte stream in chunks. A frame inside one chunk
 * is returned as views of that chunk (no copy); one spanning chunks is copied
 * once into its own buffer.
 */
export class FrameReader {
  private readonly parts: Uint8Array[] = [];
  private buffered = 0;
  /** Bytes in and frames out, for the statistics. */
  bytes = 0;
  frames = 0;

  /** Feeds a chunk; returns the frames completed by it. Throws on a malformed stream. */
  push(chunk: Uint8Array): Frame[] {
    this.bytes += chunk.length;
    if (chunk.length > 0) {
      this.parts.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Frame[] = [];
    for (;;) {
      if (this.buffered < 4) return out;
      const total = readU32(this.peek(4), 0);
      if (total < 4 || total > MAX_FRAME) throw new Error(`remote-stack protocol: bad frame length ${total}`);
      if (this.buffered < 4 + total) return out;
      out.push(this.parse(this.take(4 + total), 4, total));
    }
  }

  private parse(buf: Uint8Array, start: number, total: number): Frame {
    const jsonLength = readU32(buf, start);
    if (jsonLength > total - 4) throw new Error(`remote-stack protocol: header length ${jsonLength} beyond frame ${total}`);
    const header = JSON.parse(decoder.decode(buf.subarray(start + 4, start + 4 + jsonLength))) as Record<string, unknown>;
    const p0 = start + 4 + jsonLength;
    const p1 = start + total;
    this.frames++;
    return { header, payload: new Uint8Array(buf.buffer, buf.byteOffset + p0, p1 - p0) };
  }

  /** The first `n` bytes buffered, without consuming them (n is small). */
  private peek(n: number): Uint8Array {
    const first = this.parts[0]!;
    if (first.length >= n) return first;
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      const k = Math.min(p.length, n - o);
      out.set(p.subarray(0, k), o);
      o += k;
      if (o === n) break;
    }
    return out;
  }

  /** Consumes `n` bytes into one fresh buffer. */
  private take(n: number): Uint8Array {
    const first = this.parts[0]!;
    if (first.length >= n) {
      this.parts[0] = first.subarray(n);
      if (this.parts[0].length === 0) this.parts.shift();
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const p = this.parts[0]!;
      const k = Math.min(p.length, n - o);
      out.set(p.subarray(0, k), o);
      o += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

// ---- errors across the pipe ---------------------------------------------------------------

/** An error as it crosses the pipe: the fields of a MorganaError (Node's system-error shape). */
export interface WireError {
  code?: string;
  message: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
  hostname?: string;
  name?: string;
  cause?: { code?: string; message: string; name?: string };
}

function pick(e: object, key: string): unknown {
  return (e as Record<string, unknown>)[key];
}

export function toWireError(err: unknown): WireError {
  if (typeof err !== "object" || err === null) return { message: String(err) };
  const w: WireError = { message: String(pick(err, "message") ?? "") };
  const code = pick(err, "code");
  if (typeof code === "string") w.code = code;
  const errno = pick(err, "errno");
  if (typeof errno === "number") w.errno = errno;
  for (const k of ["syscall", "address", "hostname", "name"] as const) {
    const v = pick(err, k);
    if (typeof v === "string") w[k] = v;
  }
  const port = pick(err, "port");
  if (typeof port === "number") w.port = port;
  const cause = pick(err, "cause");
  if (typeof cause === "object" && cause !== null) {
    const c: { code?: string; message: string; name?: string } = { message: String(pick(cause, "message") ?? "") };
    const cc = pick(cause, "code");
    if (typeof cc === "string") c.code = cc;
    const cn = pick(cause, "name");
    if (typeof cn === "string") c.name = cn;
    w.cause = c;
  }
  return w;
}

/**
 * Rebuilds the helper's error as a {@link MorganaError} with the same code,
 * message, errno, syscall, address and port. `cause` is `localCause` when
 * given (an abort signal's reason), else an Error standing for the remote cause.
 */
export function fromWireError(w: WireError, localCause?: unknown): MorganaError {
  const details: { syscall?: string; address?: string; port?: number; hostname?: string; cause?: unknown } = {};
  if (w.syscall !== undefined) details.syscall = w.syscall;
  if (w.address !== undefined) details.address = w.address;
  if (w.port !== undefined) details.port = w.port;
  if (w.hostname !== undefined) details.hostname = w.hostname;
  if (localCause !== undefined) details.cause = localCause;
  else if (w.cause !== undefined) {
    const c = new Error(w.cause.message) as Error & { code?: string };
    if (w.cause.name !== undefined) c.name = w.cause.name;
    if (w.cause.code !== undefined) c.code = w.cause.code;
    details.cause = c;
  }
  if (w.code === undefined) return new MorganaError("EIO", `remote stack: ${w.message}`, details);
  const e = new MorganaError(w.code as ErrorCode, w.message, details);
  if (w.errno !== e.errno) (e as { errno: number | undefined }).errno = w.errno;
  return e;
}
