import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

// ---- reference traces -------------------------------------------------------------------

/** /work/shared/traces: beside the repository root (packages/pcap/test -> ../../../../shared). */
export const TRACES_DIR = fileURLToPath(new URL("../../../../shared/traces/", import.meta.url));

/** Names (without extension) of the traces that have both a .pcap and a .tshark.json. */
export function traceNames(): string[] {
  const files = new Set(readdirSync(TRACES_DIR));
  return [...files]
    .filter((f) => f.endsWith(".pcap") && files.has(f.replace(/\.pcap$/, ".tshark.json")))
    .map((f) => f.replace(/\.pcap$/, ""))
    .sort();
}

export function tracePath(name: string): string {
  return join(TRACES_DIR, `${name}.pcap`);
}

export function traceBytes(name: string): Uint8Array {
  return readFileSync(tracePath(name));
}

// ---- external tools ---------------------------------------------------------------------

/** CI sets MORGANA_REQUIRE_TOOLS=1: a missing tool is then a failure, not a skip. */
export const REQUIRE_TOOLS = process.env.MORGANA_REQUIRE_TOOLS === "1";

function haveTool(cmd: string): boolean {
  const r = spawnSync(cmd, ["--version"], { stdio: "ignore" });
  return r.error === undefined && r.status === 0;
}

export const HAVE_TSHARK = haveTool("tshark");
export const HAVE_EDITCAP = haveTool("editcap");

const warned = new Set<string>();

/**
 * Whether tests needing `tool` should be skipped: only when it is missing and
 * tools are not required. Prints a visible note when skipping.
 */
export function skipWithout(tool: "tshark" | "editcap"): boolean {
  const have = tool === "tshark" ? HAVE_TSHARK : HAVE_EDITCAP;
  if (have || REQUIRE_TOOLS) return false;
  if (warned.has(tool)) return true;
  warned.add(tool);
  console.warn(`@morgana/pcap tests: ${tool} not found, skipping the comparisons that need it (set MORGANA_REQUIRE_TOOLS=1 to make this a failure)`);
  return true;
}

/** Throws a clear failure when a required tool is missing (the test was not skipped because REQUIRE_TOOLS is set). */
export function requireTool(tool: "tshark" | "editcap"): void {
  const have = tool === "tshark" ? HAVE_TSHARK : HAVE_EDITCAP;
  if (!have) throw new Error(`${tool} is required (MORGANA_REQUIRE_TOOLS=1) but was not found on PATH`);
}

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "pipe"] });
}

/** One frame as tshark reports it. */
export interface TsharkFrame {
  len: number;
  capLen: number;
  /** frame.time_epoch split into exact integers. */
  sec: number;
  nsec: number;
  /** The raw captured bytes, as hex. */
  raw: string;
}

/** Parses "1795730702.045536000" into exact seconds and nanoseconds. */
export function parseEpoch(text: string): { sec: number; nsec: number } {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (m === null) throw new Error(`unexpected frame.time_epoch ${JSON.stringify(text)}`);
  return { sec: Number(m[1]), nsec: Number((m[2] ?? "").padEnd(9, "0")) };
}

/** `tshark -r FILE -T fields -e frame.len -e frame.time_epoch -e frame.cap_len`. */
export function tsharkFields(file: string): { len: number; sec: number; nsec: number; capLen: number }[] {
  const out = run("tshark", ["-r", file, "-T", "fields", "-e", "frame.len", "-e", "frame.time_epoch", "-e", "frame.cap_len"]);
  return out
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const [len, epoch, capLen] = l.split("\t");
      return { len: Number(len), capLen: Number(capLen), ...parseEpoch(epoch ?? "") };
    });
}

/**
 * Every frame of FILE with its raw bytes: `tshark -r FILE -T ek -x` prints one
 * JSON document per frame whose `frame_raw` is the captured bytes in hex.
 */
export function tsharkFrames(file: string): TsharkFrame[] {
  const out = run("tshark", ["-r", file, "-T", "ek", "-x"]);
  const frames: TsharkFrame[] = [];
  for (const line of out.split("\n")) {
    if (line.length === 0) continue;
    const doc = JSON.parse(line) as { index?: unknown; layers?: Record<string, unknown> };
    if (doc.index !== undefined || doc.layers === undefined) continue;
    const frame = doc.layers.frame as Record<string, string>;
    frames.push({
      len: Number(frame.frame_frame_len),
      capLen: Number(frame.frame_frame_cap_len),
      ...parseEpoch(frame.frame_frame_time_epoch ?? ""),
      raw: (doc.layers.frame_raw as string | undefined) ?? "",
    });
  }
  return frames;
}

/** Asserts equal bytes; fast for large arrays (toEqual compares element by element). */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  const same = actual.length === expected.length && Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected);
  if (!same) expect(Array.from(actual)).toEqual(Array.from(expected));
  expect(same).toBe(true);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

// ---- temporary files --------------------------------------------------------------------

export function withTempDir<T>(f: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "morgana-pcap-"));
  let async = false;
  try {
    const r = f(dir);
    if (r instanceof Promise) {
      async = true;
      return r.finally(() => rmSync(dir, { recursive: true, force: true })) as T;
    }
    return r;
  } finally {
    if (!async) rmSync(dir, { recursive: true, force: true });
  }
}

// ---- a pcapng builder -------------------------------------------------------------------

/** A pcapng option: code and raw value (padded by the builder). */
export interface Opt {
  code: number;
  value: Uint8Array;
}

export const opt = {
  tsresol: (v: number): Opt => ({ code: 9, value: Uint8Array.of(v) }),
  name: (s: string): Opt => ({ code: 2, value: new TextEncoder().encode(s) }),
  description: (s: string): Opt => ({ code: 3, value: new TextEncoder().encode(s) }),
  fcslen: (n: number): Opt => ({ code: 13, value: Uint8Array.of(n) }),
  raw: (code: number, value: Uint8Array): Opt => ({ code, value }),
};

/** Little helper to build block bodies in a given byte order. */
class Body {
  private readonly parts: number[] = [];
  constructor(private readonly le: boolean) {}
  u8(...v: number[]): this {
    this.parts.push(...v.map((x) => x & 255));
    return this;
  }
  u16(v: number): this {
    return this.le ? this.u8(v, v >>> 8) : this.u8(v >>> 8, v);
  }
  u32(v: number): this {
    return this.le ? this.u8(v, v >>> 8, v >>> 16, v >>> 24) : this.u8(v >>> 24, v >>> 16, v >>> 8, v);
  }
  i64(v: bigint): this {
    const u = BigInt.asUintN(64, v);
    const hi = Number(u >> 32n);
    const lo = Number(u & 0xffffffffn);
    return this.le ? this.u32(lo).u32(hi) : this.u32(hi).u32(lo);
  }
  bytes(b: Uint8Array, pad = true): this {
    for (const x of b) this.parts.push(x);
    if (pad) while (this.parts.length % 4 !== 0) this.parts.push(0);
    return this;
  }
  options(opts: readonly Opt[], end = true): this {
    for (const o of opts) this.u16(o.code).u16(o.value.length).bytes(o.value);
    if (opts.length > 0 && end) this.u16(0).u16(0);
    return this;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export interface BlockTweaks {
  /** Overrides the leading total length. */
  total?: number;
  /** Overrides the trailing total length. */
  trailer?: number;
}

/**
 * Builds pcapng files block by block, in the byte order of the last section
 * header (a new `shb` may switch it).
 */
export class PcapngBuilder {
  private readonly chunks: Uint8Array[] = [];
  le: boolean;

  constructor(le = true) {
    this.le = le;
  }

  body(): Body {
    return new Body(this.le);
  }

  /** A raw block: type, body (padded to 4), total lengths. */
  block(type: number, body: Uint8Array, t: BlockTweaks = {}): this {
    const padded = new Body(this.le).bytes(body).build();
    const total = 12 + padded.length;
    this.chunks.push(
      new Body(this.le)
        .u32(type)
        .u32(t.total ?? total)
        .bytes(padded)
        .u32(t.trailer ?? total)
        .build(),
    );
    return this;
  }

  shb(o: { le?: boolean; major?: number; minor?: number; options?: Opt[]; sectionLength?: bigint } = {}, t: BlockTweaks = {}): this {
    if (o.le !== undefined) this.le = o.le;
    const b = this.body()
      .u32(0x1a2b3c4d)
      .u16(o.major ?? 1)
      .u16(o.minor ?? 0)
      .i64(o.sectionLength ?? -1n)
      .options(o.options ?? []);
    return this.block(0x0a0d0d0a, b.build(), t);
  }

  idb(o: { linktype?: number; snaplen?: number; options?: Opt[]; tsoffset?: bigint } = {}, t: BlockTweaks = {}): this {
    const opts = [...(o.options ?? [])];
    if (o.tsoffset !== undefined) opts.push({ code: 14, value: this.body().i64(o.tsoffset).build() });
    const b = this.body()
      .u16(o.linktype ?? 1)
      .u16(0)
      .u32(o.snaplen ?? 0)
      .options(opts);
    return this.block(1, b.build(), t);
  }

  /** An Enhanced Packet Block; `ts` in the interface's units. */
  epb(o: { ifid?: number; ts?: bigint; data: Uint8Array; origlen?: number; caplen?: number; options?: Opt[] }, t: BlockTweaks = {}): this {
    const ts = o.ts ?? 0n;
    const b = this.body()
      .u32(o.ifid ?? 0)
      .u32(Number(ts >> 32n))
      .u32(Number(ts & 0xffffffffn))
      .u32(o.caplen ?? o.data.length)
      .u32(o.origlen ?? o.data.length)
      .bytes(o.data)
      .options(o.options ?? []);
    return this.block(6, b.build(), t);
  }

  /** A Simple Packet Block: original length, then the data. */
  spb(o: { data: Uint8Array; origlen?: number }, t: BlockTweaks = {}): this {
    const b = this.body()
      .u32(o.origlen ?? o.data.length)
      .bytes(o.data);
    return this.block(3, b.build(), t);
  }

  /** The obsolete Packet Block (type 2). */
  pb(o: { ifid?: number; drops?: number; ts?: bigint; data: Uint8Array; origlen?: number }, t: BlockTweaks = {}): this {
    const ts = o.ts ?? 0n;
    const b = this.body()
      .u16(o.ifid ?? 0)
      .u16(o.drops ?? 0)
      .u32(Number(ts >> 32n))
      .u32(Number(ts & 0xffffffffn))
      .u32(o.data.length)
      .u32(o.origlen ?? o.data.length)
      .bytes(o.data);
    return this.block(2, b.build(), t);
  }

  /** Appends bytes as they are (for broken blocks). */
  raw(b: Uint8Array): this {
    this.chunks.push(b);
    return this;
  }

  /** The offset of every block (chunk) boundary, 0 and the end included. */
  boundaries(): number[] {
    const out = [0];
    for (const c of this.chunks) out.push(out[out.length - 1]! + c.length);
    return out;
  }

  bytes(): Uint8Array {
    const n = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(n);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

/** Reference conversion of a pcapng timestamp, independent of the reader's fast paths. */
export function expectedTimestamp(units: bigint, resol: number, tsoffset = 0n): { sec: number; nsec: number } {
  const perSec = (resol & 0x80) !== 0 ? 2n ** BigInt(resol & 0x7f) : 10n ** BigInt(resol);
  const sec = units / perSec + tsoffset;
  const nsec = ((units % perSec) * 1_000_000_000n) / perSec;
  return { sec: Number(sec), nsec: Number(nsec) };
}

/** A classic pcap file built by hand (header fields and raw records), for corrupt-file tests. */
export function classicPcap(o: {
  le?: boolean;
  nano?: boolean;
  major?: number;
  minor?: number;
  snaplen?: number;
  linktype?: number;
  records?: { sec?: number; sub?: number; caplen?: number; origlen?: number; data: Uint8Array }[];
}): Uint8Array {
  const b = new Body(o.le ?? true);
  b.u32(o.nano === true ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(o.major ?? 2)
    .u16(o.minor ?? 4)
    .u32(0)
    .u32(0)
    .u32(o.snaplen ?? 262144)
    .u32(o.linktype ?? 1);
  for (const r of o.records ?? []) {
    b.u32(r.sec ?? 0)
      .u32(r.sub ?? 0)
      .u32(r.caplen ?? r.data.length)
      .u32(r.origlen ?? r.data.length)
      .bytes(r.data, false);
  }
  return b.build();
}
