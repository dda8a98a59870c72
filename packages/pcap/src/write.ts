/**
 * Writing classic pcap (little-endian, the format every tool reads).
 */
import { MorganaError } from "@morgana/interfaces";
import { PCAP_MAGIC_MICROSECONDS, PCAP_MAGIC_NANOSECONDS, type Timestamp } from "./read.js";

/** LINKTYPE_ETHERNET. */
export const LINKTYPE_ETHERNET = 1;
/** The default snapshot length: 262144, as tcpdump and Wireshark use. */
export const DEFAULT_SNAPLEN = 262_144;

export interface PcapWriterOptions {
  /**
   * Receives the output, chunk by chunk: first the 24-byte global header
   * (from the constructor), then one chunk per record (16-byte header and the
   * captured bytes). Each chunk is freshly allocated and owned by the sink.
   * Without a sink the writer keeps the chunks for {@link PcapWriter.toBytes}.
   */
  readonly sink?: (chunk: Uint8Array) => void;
  /** Nanosecond timestamps (magic 0xa1b23c4d); default false: microseconds (0xa1b2c3d4). */
  readonly nanosecond?: boolean;
  /** The LINKTYPE_ value of every record, default 1 (Ethernet). */
  readonly linktype?: number;
  /** Records longer than this are truncated (their original length is kept); default 262144. */
  readonly snaplen?: number;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff;
}

function putU32(b: Uint8Array, off: number, n: number): void {
  b[off] = n;
  b[off + 1] = n >>> 8;
  b[off + 2] = n >>> 16;
  b[off + 3] = n >>> 24;
}

/**
 * Writes classic pcap, little-endian, to a sink or to memory.
 *
 * Timestamps are milliseconds since the Unix epoch (a float, as
 * `Clock.wallTime()` gives) or an exact `{ sec, nsec }`; both are rounded to
 * the file's resolution (microseconds or nanoseconds). Classic pcap stores
 * unsigned 32-bit seconds: timestamps before 1970 or after 2106-02-07 are
 * rejected with `EINVAL`, like other bad arguments.
 */
export class PcapWriter {
  readonly nanosecond: boolean;
  readonly linktype: number;
  readonly snaplen: number;
  private readonly sink: ((chunk: Uint8Array) => void) | undefined;
  private chunks: Uint8Array[] = [];
  private count = 0;
  private total = 0;
  private sec = 0;
  private sub = 0;

  constructor(opts: PcapWriterOptions = {}) {
    this.nanosecond = opts.nanosecond ?? false;
    this.linktype = opts.linktype ?? LINKTYPE_ETHERNET;
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    if (!isU32(this.linktype)) throw new MorganaError("EINVAL", `PcapWriter: linktype must be an unsigned 32-bit integer, not ${this.linktype}`);
    if (!isU32(this.snaplen) || this.snaplen === 0) {
      throw new MorganaError("EINVAL", `PcapWriter: snaplen must be an integer in 1..2^32-1, not ${this.snaplen}`);
    }
    this.sink = opts.sink;
    const h = new Uint8Array(24);
    putU32(h, 0, this.nanosecond ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS);
    h[4] = 2; // version 2.4
    h[6] = 4;
    // thiszone and sigfigs stay 0
    putU32(h, 16, this.snaplen);
    putU32(h, 20, this.linktype);
    this.emit(h);
  }

  /** Records written so far. */
  get recordsWritten(): number {
    return this.count;
  }

  /** Bytes of output produced so far, the global header included. */
  get bytesWritten(): number {
    return this.total;
  }

  /**
   * Appends one record: `data` is copied (up to `snaplen` bytes) into the
   * output. `originalLength` (default `data.length`) is the length on the
   * wire; it cannot be below `data.length`.
   */
  writeRecord(data: Uint8Array, timestamp: number | Timestamp, originalLength?: number): void {
    this.writeEncoded(this.encodeRecord(data, timestamp, originalLength));
  }

  /**
   * Builds the bytes of one record (16-byte header and a copy of `data`) without
   * writing it; {@link writeEncoded} writes it later. This is how a capture
   * copies a frame while it is at hand and writes it only once it is known to
   * have been sent. Arguments as {@link writeRecord}.
   */
  encodeRecord(data: Uint8Array, timestamp: number | Timestamp, originalLength: number = data.length): Uint8Array {
    if (!isU32(originalLength) || originalLength < data.length) {
      throw new MorganaError("EINVAL", `PcapWriter: originalLength ${originalLength} must be an unsigned 32-bit integer not below the data length ${data.length}`);
    }
    this.splitTimestamp(timestamp);
    const caplen = Math.min(data.length, this.snaplen);
    const rec = new Uint8Array(16 + caplen);
    putU32(rec, 0, this.sec);
    putU32(rec, 4, this.sub);
    putU32(rec, 8, caplen);
    putU32(rec, 12, originalLength);
    rec.set(caplen === data.length ? data : data.subarray(0, caplen), 16);
    return rec;
  }

  /** Writes a record built by {@link encodeRecord} of a writer with the same settings. */
  writeEncoded(record: Uint8Array): void {
    const caplen = record.length >= 16 ? (record[8]! | (record[9]! << 8) | (record[10]! << 16) | (record[11]! << 24)) >>> 0 : -1;
    if (caplen + 16 !== record.length) throw new MorganaError("EINVAL", "PcapWriter.writeEncoded: not a record built by encodeRecord");
    this.emit(record);
    this.count++;
  }

  /**
   * The whole file so far (global header and every record) as one array.
   * Only for a writer without a sink (`EINVAL` otherwise).
   */
  toBytes(): Uint8Array {
    if (this.sink !== undefined) throw new MorganaError("EINVAL", "PcapWriter.toBytes: the output went to the sink");
    if (this.chunks.length !== 1) {
      const out = new Uint8Array(this.total);
      let off = 0;
      for (const c of this.chunks) {
        out.set(c, off);
        off += c.length;
      }
      this.chunks = [out];
    }
    return this.chunks[0]!.slice();
  }

  private emit(chunk: Uint8Array): void {
    if (this.sink !== undefined) this.sink(chunk);
    else this.chunks.push(chunk);
    this.total += chunk.length;
  }

  private splitTimestamp(ts: number | Timestamp): void {
    const unit = this.nanosecond ? 1_000_000_000 : 1_000_000;
    let sec: number;
    let sub: number;
    if (typeof ts === "number") {
      if (!Number.isFinite(ts) || ts < 0) throw new MorganaError("EINVAL", `PcapWriter: bad timestamp ${ts} ms`);
      sec = Math.floor(ts / 1000);
      sub = Math.round((ts - sec * 1000) * (unit / 1000));
    } else {
      const { sec: s, nsec } = ts;
      if (!Number.isInteger(s) || s < 0 || !Number.isInteger(nsec) || nsec < 0 || nsec >= 1_000_000_000) {
        throw new MorganaError("EINVAL", `PcapWriter: bad timestamp { sec: ${s}, nsec: ${nsec} }`);
      }
      sec = s;
      sub = this.nanosecond ? nsec : Math.round(nsec / 1000);
    }
    if (sub >= unit) (sec += 1), (sub -= unit);
    if (sec > 0xffff_ffff) throw new MorganaError("EINVAL", `PcapWriter: timestamp beyond 2106 (${sec} s) does not fit classic pcap`);
    this.sec = sec;
    this.sub = sub;
  }
}
