/**
 * The receive path's view of one segment: a reusable, mutable record filled
 * by {@link parseSegment} straight from the bytes (no object per segment).
 * Sequence and acknowledgment numbers are kept as int32 (`| 0`), which V8
 * stores unboxed; compare them by signed difference.
 */
import { OPT_EOL, OPT_MSS, OPT_NOP, OPT_SACK, OPT_SACK_PERMITTED, OPT_TIMESTAMP, OPT_WSCALE, TCP_HEADER_LENGTH } from "./codec.js";
import type { Ipv4Address } from "@morgana/interfaces";

/** At most 4 SACK blocks fit in 40 option bytes. */
export const MAX_SACK_BLOCKS = 4;

export class Segment {
  src: Ipv4Address = 0 as Ipv4Address;
  dst: Ipv4Address = 0 as Ipv4Address;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** The window field as sent (not scaled). */
  wnd = 0;
  /** Payload bytes. */
  len = 0;
  data: Uint8Array = new Uint8Array(0);
  /** MSS option, or -1. */
  mss = -1;
  /** Window scale shift, or -1. */
  wscale = -1;
  sackOk = false;
  hasTs = false;
  tsVal = 0;
  tsEcr = 0;
  /** SACK blocks: left/right pairs (int32). */
  readonly sack = new Int32Array(2 * MAX_SACK_BLOCKS);
  sackCount = 0;
}

/**
 * Parses the TCP header of `p` into `seg`. Returns a drop reason, or
 * undefined when the header is usable. The checksum is verified by the caller.
 */
export function parseSegment(p: Uint8Array, seg: Segment): string | undefined {
  const n = p.length;
  if (n < TCP_HEADER_LENGTH) return "short";
  const hl = (p[12]! >>> 4) << 2;
  if (hl < TCP_HEADER_LENGTH || hl > n) return "bad-offset";
  seg.srcPort = (p[0]! << 8) | p[1]!;
  seg.dstPort = (p[2]! << 8) | p[3]!;
  seg.seq = (p[4]! << 24) | (p[5]! << 16) | (p[6]! << 8) | p[7]!;
  seg.ack = (p[8]! << 24) | (p[9]! << 16) | (p[10]! << 8) | p[11]!;
  seg.flags = p[13]!;
  seg.wnd = (p[14]! << 8) | p[15]!;
  seg.len = n - hl;
  seg.data = hl === n ? EMPTY : p.subarray(hl);
  seg.mss = -1;
  seg.wscale = -1;
  seg.sackOk = false;
  seg.hasTs = false;
  seg.sackCount = 0;
  if (hl === TCP_HEADER_LENGTH) return undefined;
  // The common layout of every segment after the handshake: NOP NOP TS.
  if (hl === 32 && p[20] === OPT_NOP && p[21] === OPT_NOP && p[22] === OPT_TIMESTAMP && p[23] === 10) {
    seg.hasTs = true;
    seg.tsVal = (p[24]! << 24) | (p[25]! << 16) | (p[26]! << 8) | p[27]!;
    seg.tsEcr = (p[28]! << 24) | (p[29]! << 16) | (p[30]! << 8) | p[31]!;
    return undefined;
  }
  return parseOptions(p, hl, seg);
}

const EMPTY = new Uint8Array(0);

function parseOptions(b: Uint8Array, end: number, seg: Segment): string | undefined {
  let i = TCP_HEADER_LENGTH;
  while (i < end) {
    const kind = b[i]!;
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return "bad-options";
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return "bad-options";
    switch (kind) {
      case OPT_MSS:
        if (len !== 4) return "bad-options";
        seg.mss = (b[i + 2]! << 8) | b[i + 3]!;
        break;
      case OPT_WSCALE:
        if (len !== 3) return "bad-options";
        seg.wscale = b[i + 2]!;
        break;
      case OPT_SACK_PERMITTED:
        if (len !== 2) return "bad-options";
        seg.sackOk = true;
        break;
      case OPT_SACK: {
        if ((len - 2) % 8 !== 0 || len < 10) return "bad-options";
        let k = 0;
        for (let j = i + 2; j < i + len && k < MAX_SACK_BLOCKS; j += 8, k++) {
          seg.sack[2 * k] = (b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!;
          seg.sack[2 * k + 1] = (b[j + 4]! << 24) | (b[j + 5]! << 16) | (b[j + 6]! << 8) | b[j + 7]!;
        }
        seg.sackCount = k;
        break;
      }
      case OPT_TIMESTAMP:
        if (len !== 10) return "bad-options";
        seg.hasTs = true;
        seg.tsVal = (b[i + 2]! << 24) | (b[i + 3]! << 16) | (b[i + 4]! << 8) | b[i + 5]!;
        seg.tsEcr = (b[i + 6]! << 24) | (b[i + 7]! << 16) | (b[i + 8]! << 8) | b[i + 9]!;
        break;
      default:
        break; // unknown options are skipped (RFC 9293 §3.2: MUST ignore)
    }
    i += len;
  }
  return undefined;
}
