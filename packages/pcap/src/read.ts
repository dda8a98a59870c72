/**
 * Reading classic pcap and pcapng captures from bytes in memory.
 *
 * Every record's `data` is a zero-copy view into the input. Every length read
 * from the file is checked against the input before use, so a corrupt or
 * truncated file gives a {@link PcapError}, never a RangeError, an endless loop
 * or an allocation larger than the input.
 */
import { MorganaError } from "@morgana/interfaces";
import { PcapError, type PcapErrorKind } from "./errors.js";

/** A point in time as seconds since the Unix epoch plus nanoseconds (0..999 999 999). */
export interface Timestamp {
  readonly sec: number;
  readonly nsec: number;
}

/** Timestamp units: one unit is `base ** -exponent` seconds (pcapng `if_tsresol`). */
export interface TimestampResolution {
  readonly base: 10 | 2;
  readonly exponent: number;
}

/** The default cap on a record's captured length: 256 KiB (libpcap's and Wireshark's usual maximum). */
export const DEFAULT_MAX_RECORD_LENGTH = 262_144;

/** Classic pcap magic numbers, as read big-endian from the first four bytes. */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
/** The pcapng Section Header Block type, which is also the file's magic. */
export const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;

export const BLOCK_INTERFACE_DESCRIPTION = 0x00000001;
export const BLOCK_PACKET_OBSOLETE = 0x00000002;
export const BLOCK_SIMPLE_PACKET = 0x00000003;
export const BLOCK_ENHANCED_PACKET = 0x00000006;

/** The classic pcap global header. */
export interface PcapFileHeader {
  readonly byteOrder: "little" | "big";
  /** True for the 0xa1b23c4d magic: record timestamps carry nanoseconds. */
  readonly nanosecond: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** GMT-to-local correction in seconds (always 0 in practice); not applied to timestamps. */
  readonly thiszone: number;
  readonly sigfigs: number;
  readonly snaplen: number;
  /** The LINKTYPE_ value: the low 16 bits of the link-type field (1 = Ethernet). */
  readonly linktype: number;
  /** The whole 32-bit link-type field, including the FCS bits. */
  readonly linktypeField: number;
  /** FCS bytes at the end of every packet, when the field's FCS-present bit (0x04000000) is set. */
  readonly fcsLength?: number;
}

/**
 * A capture interface: the one implied by a classic pcap header, or one
 * pcapng Interface Description Block. Records point at theirs.
 */
export interface CaptureInterface {
  /** The pcapng section the interface belongs to (0 for classic pcap). */
  readonly section: number;
  /** The interface ID within its section, as Enhanced Packet Blocks name it (0 for classic pcap). */
  readonly id: number;
  readonly linktype: number;
  /** The snapshot length; 0 in pcapng means no limit. */
  readonly snaplen: number;
  readonly tsresol: TimestampResolution;
  /** Seconds added to every timestamp (pcapng `if_tsoffset`), 0 when absent. */
  readonly tsoffset: number;
  readonly name?: string;
  readonly description?: string;
  readonly fcsLength?: number;
  /** Byte offset of the IDB (0 for classic pcap: the global header). */
  readonly offset: number;
}

/** One pcapng section (from its Section Header Block to the next one). */
export interface CaptureSection {
  readonly index: number;
  readonly offset: number;
  readonly byteOrder: "little" | "big";
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** The section's interfaces, in IDB order: index = interface ID. */
  readonly interfaces: readonly CaptureInterface[];
}

/** One captured packet. */
export interface PcapRecord extends Timestamp {
  /** Byte offset of the record header (pcap) or block (pcapng) in the input. */
  readonly offset: number;
  readonly iface: CaptureInterface;
  /** `iface.id`. */
  readonly interfaceId: number;
  /** `iface.linktype`. */
  readonly linktype: number;
  /**
   * The timestamp in milliseconds since the Unix epoch, as a float (exact to
   * about 0.25 µs for present-day dates; `sec`/`nsec` are exact). Simple
   * Packet Blocks carry no timestamp: 0.
   */
  readonly timestampMs: number;
  /** Bytes present in the file: `data.length`. */
  readonly capturedLength: number;
  /** The packet's length on the wire (can exceed `capturedLength` when the capture was truncated). */
  readonly originalLength: number;
  /** A zero-copy view into the input. */
  readonly data: Uint8Array;
}

export interface ReadOptions {
  /**
   * Largest accepted captured length of a record, default 262144 (256 KiB).
   * Longer records are rejected with `record-too-large`: in practice a length
   * that large means corruption.
   */
  readonly maxRecordLength?: number;
}

export interface ReadCaptureOptions extends ReadOptions {
  /**
   * When true, a bad or truncated record does not throw: reading stops there
   * and the capture holds the records before it, with `error` set (what a
   * reader of a file still being written wants). A bad file header still
   * throws. Default false.
   */
  readonly lenient?: boolean;
}

/** A whole capture, as {@link readCapture} returns it. */
export interface Capture {
  readonly format: "pcap" | "pcapng";
  /** The classic pcap global header; absent for pcapng. */
  readonly header?: PcapFileHeader;
  /** pcapng sections; empty for classic pcap. */
  readonly sections: readonly CaptureSection[];
  /** Every interface of every section, in file order (one for classic pcap). */
  readonly interfaces: readonly CaptureInterface[];
  readonly records: readonly PcapRecord[];
  /** pcapng blocks skipped because they carry no packet (statistics, name resolution, unknown types, ...). */
  readonly skippedBlocks: number;
  /** Bytes read successfully: the input length, or where the error was found. */
  readonly validLength: number;
  /** Lenient mode only: why reading stopped early. */
  readonly error?: PcapError;
}

/** The format the magic number names, or undefined. Needs at least 4 bytes. */
export function detectFormat(bytes: Uint8Array): "pcap" | "pcapng" | undefined {
  if (bytes.length < 4) return undefined;
  const m = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  if (m === PCAPNG_SECTION_HEADER) return "pcapng";
  const swapped = ((bytes[3]! << 24) | (bytes[2]! << 16) | (bytes[1]! << 8) | bytes[0]!) >>> 0;
  for (const x of [m, swapped]) if (x === PCAP_MAGIC_MICROSECONDS || x === PCAP_MAGIC_NANOSECONDS) return "pcap";
  return undefined;
}

interface InterfaceState {
  readonly iface: CaptureInterface;
  /** 10^exponent for decimal resolutions up to nanoseconds (fast path), else 0. */
  readonly decimalUnits: number;
  /** Nanoseconds per unit for the fast path. */
  readonly nsPerUnit: number;
  /** Units per second, for the exact path. */
  readonly unitsPerSecond: bigint;
}

const TWO32 = 4294967296;
const TWO21 = 2097152;
const NS_PER_SEC = 1_000_000_000;
const NS_PER_SEC_BIG = 1_000_000_000n;
const MICROSECONDS: TimestampResolution = Object.freeze({ base: 10, exponent: 6 });
const NANOSECONDS: TimestampResolution = Object.freeze({ base: 10, exponent: 9 });

// Minimum total lengths of the pcapng blocks we decode.
const MIN_BLOCK = 12;
const MIN_SHB = 28;
const MIN_IDB = 20;
const MIN_EPB = 32;
const MIN_SPB = 16;
const MIN_PB = 32;

function hex(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}

let utf8: { decode(bytes: Uint8Array): string } | undefined;
function decodeUtf8(bytes: Uint8Array): string {
  utf8 ??= new TextDecoder("utf-8");
  // Strings in pcapng options are not NUL-terminated, but some writers add one.
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return utf8.decode(bytes.subarray(0, end));
}

/**
 * Reads a capture record by record. The file header (classic global header or
 * first Section Header Block) is checked by the constructor, which throws a
 * {@link PcapError} when it is bad. Iterating yields records and throws a
 * {@link PcapError} at the first bad one; the error is sticky (every later
 * call throws it again), so no loop can spin on a corrupt file.
 */
export class CaptureReader implements IterableIterator<PcapRecord> {
  readonly format: "pcap" | "pcapng";
  readonly header: PcapFileHeader | undefined;
  /** Grows as Section Header Blocks are read (pcapng). */
  readonly sections: readonly CaptureSection[];
  /** Grows as Interface Description Blocks are read; one entry for classic pcap. */
  readonly interfaces: readonly CaptureInterface[];
  private readonly sectionList: CaptureSection[] = [];
  private readonly interfaceList: CaptureInterface[] = [];
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly maxRecordLength: number;
  private pos = 0;
  private le = true;
  private nano = false;
  private skipped = 0;
  private failure: PcapError | undefined;
  /** The current section's interfaces, by ID. */
  private current: InterfaceState[] = [];
  private currentList: CaptureInterface[] = [];
  private tsSec = 0;
  private tsNsec = 0;

  constructor(bytes: Uint8Array, opts: ReadOptions = {}) {
    this.sections = this.sectionList;
    this.interfaces = this.interfaceList;
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const max = opts.maxRecordLength ?? DEFAULT_MAX_RECORD_LENGTH;
    if (!(max >= 0)) throw new MorganaError("EINVAL", `maxRecordLength must be a non-negative number, not ${max}`);
    this.maxRecordLength = max;
    if (bytes.length < 4) {
      throw new PcapError("pcap", 0, "truncated-header", bytes.length === 0 ? "empty file" : `file too short for a magic number (${bytes.length} bytes)`);
    }
    const magic = this.view.getUint32(0, false);
    if (magic === PCAPNG_SECTION_HEADER) {
      this.format = "pcapng";
      this.header = undefined;
      this.readSectionHeader(0);
      return;
    }
    this.format = "pcap";
    this.header = this.readPcapHeader(magic);
  }

  /** Bytes consumed so far: the offset of the next record or block (or of the bad one after an error). */
  get offset(): number {
    return this.pos;
  }

  /** pcapng blocks skipped so far (no packet in them). */
  get skippedBlocks(): number {
    return this.skipped;
  }

  /** The error that stopped reading, if any. */
  get error(): PcapError | undefined {
    return this.failure;
  }

  /** The next record, or undefined at the end of the input. Throws {@link PcapError}. */
  nextRecord(): PcapRecord | undefined {
    if (this.failure !== undefined) throw this.failure;
    try {
      return this.format === "pcap" ? this.nextPcap() : this.nextPcapng();
    } catch (e) {
      if (e instanceof PcapError) this.failure = e;
      throw e;
    }
  }

  next(): IteratorResult<PcapRecord> {
    const r = this.nextRecord();
    return r === undefined ? { done: true, value: undefined } : { done: false, value: r };
  }

  [Symbol.iterator](): this {
    return this;
  }

  // ---- classic pcap ----------------------------------------------------------------

  private readPcapHeader(magic: number): PcapFileHeader {
    const v = this.view;
    let nanosecond: boolean;
    let le: boolean;
    if (magic === PCAP_MAGIC_MICROSECONDS) (nanosecond = false), (le = false);
    else if (magic === PCAP_MAGIC_NANOSECONDS) (nanosecond = true), (le = false);
    else {
      const swapped = v.getUint32(0, true);
      if (swapped === PCAP_MAGIC_MICROSECONDS) (nanosecond = false), (le = true);
      else if (swapped === PCAP_MAGIC_NANOSECONDS) (nanosecond = true), (le = true);
      else if (magic === 0xa1b2cd34 || swapped === 0xa1b2cd34) {
        throw new PcapError("pcap", 0, "bad-magic", "unsupported format: Kuznetsov's modified pcap (magic 0xa1b2cd34)");
      } else {
        throw new PcapError("pcap", 0, "bad-magic", `bad magic number ${hex(magic)}: not a pcap or pcapng file`);
      }
    }
    if (this.bytes.length < 24) {
      throw new PcapError("pcap", 0, "truncated-header", `truncated global header: ${this.bytes.length} of 24 bytes`);
    }
    const versionMajor = v.getUint16(4, le);
    const versionMinor = v.getUint16(6, le);
    if (versionMajor !== 2) {
      throw new PcapError("pcap", 4, "unsupported-version", `unsupported pcap version ${versionMajor}.${versionMinor} (only 2.x)`, 0);
    }
    const snaplen = v.getUint32(16, le);
    const field = v.getUint32(20, le);
    const linktype = field & 0xffff;
    this.le = le;
    this.nano = nanosecond;
    this.pos = 24;
    const fcs = (field & 0x04000000) !== 0 ? { fcsLength: field >>> 28 } : {};
    const iface: CaptureInterface = {
      section: 0,
      id: 0,
      linktype,
      snaplen,
      tsresol: nanosecond ? NANOSECONDS : MICROSECONDS,
      tsoffset: 0,
      offset: 0,
      ...fcs,
    };
    this.interfaceList.push(iface);
    this.current = [{ iface, decimalUnits: 0, nsPerUnit: 0, unitsPerSecond: 0n }];
    return {
      byteOrder: le ? "little" : "big",
      nanosecond,
      versionMajor,
      versionMinor,
      thiszone: v.getInt32(8, le),
      sigfigs: v.getUint32(12, le),
      snaplen,
      linktype,
      linktypeField: field,
      ...fcs,
    };
  }

  private nextPcap(): PcapRecord | undefined {
    const off = this.pos;
    const left = this.bytes.length - off;
    if (left === 0) return undefined;
    if (left < 16) {
      throw new PcapError("pcap", off, "truncated-record-header", `truncated record header: ${left} of 16 bytes`);
    }
    const v = this.view;
    const le = this.le;
    let sec = v.getUint32(off, le);
    let sub = v.getUint32(off + 4, le);
    const caplen = v.getUint32(off + 8, le);
    const origlen = v.getUint32(off + 12, le);
    if (caplen > this.maxRecordLength) {
      throw new PcapError("pcap", off + 8, "record-too-large", `captured length ${caplen} above the limit of ${this.maxRecordLength} bytes`, off);
    }
    if (caplen > left - 16) {
      throw new PcapError("pcap", off, "truncated-record", `record of ${caplen} bytes runs past the end of the file (${left - 16} bytes left)`);
    }
    // Out-of-range fractions (a writer bug) carry into the seconds.
    if (this.nano) {
      if (sub >= NS_PER_SEC) (sec += Math.floor(sub / NS_PER_SEC)), (sub %= NS_PER_SEC);
    } else {
      if (sub >= 1_000_000) (sec += Math.floor(sub / 1_000_000)), (sub %= 1_000_000);
      sub *= 1000;
    }
    const iface = this.current[0]!.iface;
    this.pos = off + 16 + caplen;
    return {
      offset: off,
      iface,
      interfaceId: 0,
      linktype: iface.linktype,
      sec,
      nsec: sub,
      timestampMs: sec * 1000 + sub / 1e6,
      capturedLength: caplen,
      originalLength: origlen,
      data: this.bytes.subarray(off + 16, off + 16 + caplen),
    };
  }

  // ---- pcapng ------------------------------------------------------------------------

  private fail(offset: number, kind: PcapErrorKind, reason: string, blockOffset: number): never {
    throw new PcapError("pcapng", offset, kind, reason, blockOffset);
  }

  /** Checks a block's total length (already read with the section's byte order) and returns it. */
  private checkBlock(off: number, type: number, total: number, min: number): number {
    const left = this.bytes.length - off;
    if (total % 4 !== 0 || total < MIN_BLOCK) {
      this.fail(off + 4, "bad-block-length", `block ${hex(type)}: total length ${total} is ${total < MIN_BLOCK ? "below 12" : "not a multiple of 4"}`, off);
    }
    if (total > left) {
      this.fail(off, "truncated-block", `block ${hex(type)} of ${total} bytes runs past the end of the file (${left} bytes left)`, off);
    }
    const trailer = this.view.getUint32(off + total - 4, this.le);
    if (trailer !== total) {
      this.fail(off + total - 4, "length-mismatch", `block ${hex(type)}: trailing total length ${trailer} differs from the leading ${total}`, off);
    }
    if (total < min) {
      this.fail(off + 4, "bad-block-length", `block ${hex(type)}: total length ${total} below the minimum of ${min} for this block type`, off);
    }
    return total;
  }

  private readSectionHeader(off: number): void {
    const left = this.bytes.length - off;
    if (left < 12) {
      if (off === 0) this.fail(0, "truncated-header", `truncated section header: ${left} of at least 28 bytes`, 0);
      this.fail(off, "truncated-block-header", `truncated section header block: ${left} bytes`, off);
    }
    const bom = this.view.getUint32(off + 8, true);
    let le: boolean;
    if (bom === 0x1a2b3c4d) le = true;
    else if (bom === 0x4d3c2b1a) le = false;
    else this.fail(off + 8, "bad-magic", `bad byte-order magic ${hex(bom)} in section header block`, off);
    this.le = le;
    const total = this.checkBlock(off, PCAPNG_SECTION_HEADER, this.view.getUint32(off + 4, le), MIN_SHB);
    const versionMajor = this.view.getUint16(off + 12, le);
    const versionMinor = this.view.getUint16(off + 14, le);
    if (versionMajor !== 1) {
      this.fail(off + 12, "unsupported-version", `unsupported pcapng version ${versionMajor}.${versionMinor} (only 1.x)`, off);
    }
    this.currentList = [];
    this.current = [];
    this.sectionList.push({
      index: this.sections.length,
      offset: off,
      byteOrder: le ? "little" : "big",
      versionMajor,
      versionMinor,
      interfaces: this.currentList,
    });
    this.pos = off + total;
  }

  private readInterface(off: number, total: number): void {
    const v = this.view;
    const le = this.le;
    const linktype = v.getUint16(off + 8, le);
    const snaplen = v.getUint32(off + 12, le);
    let tsresol = MICROSECONDS;
    let tsoffset = 0n;
    let name: string | undefined;
    let description: string | undefined;
    let fcsLength: number | undefined;
    const end = off + total - 4;
    let p = off + 16;
    while (end - p >= 4) {
      const code = v.getUint16(p, le);
      const len = v.getUint16(p + 2, le);
      if (code === 0) break; // opt_endofopt
      if (len > end - p - 4) this.fail(p, "bad-option", `option ${code} of ${len} bytes runs past the end of the interface description block`, off);
      const value = p + 4;
      switch (code) {
        case 2: // if_name
          name = decodeUtf8(this.bytes.subarray(value, value + len));
          break;
        case 3: // if_description
          description = decodeUtf8(this.bytes.subarray(value, value + len));
          break;
        case 9: {
          // if_tsresol
          if (len !== 1) this.fail(p, "bad-option", `if_tsresol option of ${len} bytes (expected 1)`, off);
          const r = this.bytes[value]!;
          tsresol = (r & 0x80) !== 0 ? { base: 2, exponent: r & 0x7f } : { base: 10, exponent: r };
          break;
        }
        case 13: // if_fcslen
          if (len !== 1) this.fail(p, "bad-option", `if_fcslen option of ${len} bytes (expected 1)`, off);
          fcsLength = this.bytes[value]!;
          break;
        case 14: // if_tsoffset
          if (len !== 8) this.fail(p, "bad-option", `if_tsoffset option of ${len} bytes (expected 8)`, off);
          tsoffset = v.getBigInt64(value, le);
          break;
        default:
          break;
      }
      p = value + len + ((4 - (len & 3)) & 3);
    }
    const iface: CaptureInterface = {
      section: this.sections.length - 1,
      id: this.currentList.length,
      linktype,
      snaplen,
      tsresol,
      tsoffset: Number(tsoffset),
      offset: off,
      ...(name !== undefined ? { name } : {}),
      ...(description !== undefined ? { description } : {}),
      ...(fcsLength !== undefined ? { fcsLength } : {}),
    };
    const decimal = tsresol.base === 10 && tsresol.exponent <= 9;
    this.current.push({
      iface,
      decimalUnits: decimal ? 10 ** tsresol.exponent : 0,
      nsPerUnit: decimal ? 10 ** (9 - tsresol.exponent) : 0,
      unitsPerSecond: BigInt(tsresol.base) ** BigInt(tsresol.exponent),
    });
    this.currentList.push(iface);
    this.interfaceList.push(iface);
  }

  /** Converts a 64-bit timestamp in the interface's units into tsSec/tsNsec, exactly. */
  private convertTimestamp(st: InterfaceState, hi: number, lo: number): void {
    let sec: number;
    if (st.decimalUnits !== 0 && hi < TWO21) {
      // Below 2^53: exact in doubles.
      const units = hi * TWO32 + lo;
      sec = Math.floor(units / st.decimalUnits);
      this.tsNsec = (units - sec * st.decimalUnits) * st.nsPerUnit;
    } else {
      const units = (BigInt(hi) << 32n) | BigInt(lo);
      const d = st.unitsPerSecond;
      sec = Number(units / d);
      this.tsNsec = Number(((units % d) * NS_PER_SEC_BIG) / d);
    }
    this.tsSec = sec + st.iface.tsoffset;
  }

  private packet(off: number, st: InterfaceState, caplen: number, origlen: number, data: number): PcapRecord {
    const iface = st.iface;
    return {
      offset: off,
      iface,
      interfaceId: iface.id,
      linktype: iface.linktype,
      sec: this.tsSec,
      nsec: this.tsNsec,
      timestampMs: this.tsSec * 1000 + this.tsNsec / 1e6,
      capturedLength: caplen,
      originalLength: origlen,
      data: this.bytes.subarray(data, data + caplen),
    };
  }

  private checkCaplen(off: number, capOffset: number, caplen: number, room: number): void {
    if (caplen > this.maxRecordLength) {
      this.fail(capOffset, "record-too-large", `captured length ${caplen} above the limit of ${this.maxRecordLength} bytes`, off);
    }
    if (caplen > room) {
      this.fail(capOffset, "record-beyond-block", `captured length ${caplen} does not fit in the block (${room} bytes of room)`, off);
    }
  }

  private interfaceFor(off: number, idOffset: number, id: number): InterfaceState {
    const st = this.current[id];
    if (st === undefined) {
      this.fail(idOffset, "unknown-interface", `packet block names interface ${id} but the section describes ${this.current.length}`, off);
    }
    return st;
  }

  private nextPcapng(): PcapRecord | undefined {
    const v = this.view;
    for (;;) {
      const off = this.pos;
      const left = this.bytes.length - off;
      if (left === 0) return undefined;
      if (left < 8) this.fail(off, "truncated-block-header", `truncated block header: ${left} of 8 bytes`, off);
      const type = v.getUint32(off, this.le);
      if (type === PCAPNG_SECTION_HEADER) {
        this.readSectionHeader(off);
        continue;
      }
      const le = this.le;
      const raw = v.getUint32(off + 4, le);
      switch (type) {
        case BLOCK_INTERFACE_DESCRIPTION: {
          const total = this.checkBlock(off, type, raw, MIN_IDB);
          this.readInterface(off, total);
          this.pos = off + total;
          continue;
        }
        case BLOCK_ENHANCED_PACKET: {
          const total = this.checkBlock(off, type, raw, MIN_EPB);
          const st = this.interfaceFor(off, off + 8, v.getUint32(off + 8, le));
          const caplen = v.getUint32(off + 20, le);
          this.checkCaplen(off, off + 20, caplen, total - MIN_EPB);
          this.convertTimestamp(st, v.getUint32(off + 12, le), v.getUint32(off + 16, le));
          this.pos = off + total;
          return this.packet(off, st, caplen, v.getUint32(off + 24, le), off + 28);
        }
        case BLOCK_SIMPLE_PACKET: {
          const total = this.checkBlock(off, type, raw, MIN_SPB);
          if (this.current.length === 0) {
            this.fail(off, "unknown-interface", "simple packet block in a section with no interface description", off);
          }
          const st = this.current[0]!;
          const origlen = v.getUint32(off + 8, le);
          const snap = st.iface.snaplen;
          const caplen = snap !== 0 && snap < origlen ? snap : origlen;
          this.checkCaplen(off, off + 8, caplen, total - MIN_SPB);
          this.tsSec = 0;
          this.tsNsec = 0;
          this.pos = off + total;
          return this.packet(off, st, caplen, origlen, off + 12);
        }
        case BLOCK_PACKET_OBSOLETE: {
          const total = this.checkBlock(off, type, raw, MIN_PB);
          const st = this.interfaceFor(off, off + 8, v.getUint16(off + 8, le));
          const caplen = v.getUint32(off + 20, le);
          this.checkCaplen(off, off + 20, caplen, total - MIN_PB);
          this.convertTimestamp(st, v.getUint32(off + 12, le), v.getUint32(off + 16, le));
          this.pos = off + total;
          return this.packet(off, st, caplen, v.getUint32(off + 24, le), off + 28);
        }
        default: {
          const total = this.checkBlock(off, type, raw, MIN_BLOCK);
          this.skipped++;
          this.pos = off + total;
          continue;
        }
      }
    }
  }
}

/** Iterates over the records of a capture; see {@link CaptureReader}. */
export function records(bytes: Uint8Array, opts: ReadOptions = {}): CaptureReader {
  return new CaptureReader(bytes, opts);
}

/**
 * Reads a whole capture (classic pcap in either byte order, microsecond or
 * nanosecond, or pcapng), detected by its magic number. Throws
 * {@link PcapError} for a bad file; with `lenient`, only for a bad file header.
 */
export function readCapture(bytes: Uint8Array, opts: ReadCaptureOptions = {}): Capture {
  const reader = new CaptureReader(bytes, opts);
  const out: PcapRecord[] = [];
  let error: PcapError | undefined;
  for (;;) {
    let r: PcapRecord | undefined;
    try {
      r = reader.nextRecord();
    } catch (e) {
      if (opts.lenient === true && e instanceof PcapError) {
        error = e;
        break;
      }
      throw e;
    }
    if (r === undefined) break;
    out.push(r);
  }
  return {
    format: reader.format,
    ...(reader.header !== undefined ? { header: reader.header } : {}),
    sections: reader.sections,
    interfaces: reader.interfaces,
    records: out,
    skippedBlocks: reader.skippedBlocks,
    validLength: reader.offset,
    ...(error !== undefined ? { error } : {}),
  };
}
