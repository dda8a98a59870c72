/**
 * The reference traces (/work/shared/traces/*.pcap with NAME.tshark.json):
 * every IPv4 packet of a trace with its tshark layers, and the upper-layer
 * bytes of every datagram (reassembled by this helper when fragmented).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readCapture } from "@morgana/pcap";
import { readIpv4, type Ipv4Address } from "@morgana/interfaces";

export const TRACES_DIR = fileURLToPath(new URL("../../../../shared/traces/", import.meta.url));

/** Names (without extension) of the traces with both a .pcap and a .tshark.json. */
export function traceNames(): string[] {
  if (!existsSync(TRACES_DIR)) return [];
  const files = new Set(readdirSync(TRACES_DIR));
  return [...files]
    .filter((f) => f.endsWith(".pcap") && files.has(f.replace(/\.pcap$/, ".tshark.json")))
    .map((f) => f.replace(/\.pcap$/, ""))
    .sort();
}

export type Layers = Record<string, unknown>;

export interface IpPacket {
  /** Frame index in the trace (= index in the tshark JSON). */
  readonly index: number;
  /** tshark's layers for this frame. */
  readonly layers: Layers;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly protocol: number;
  readonly id: number;
  readonly moreFragments: boolean;
  /** In bytes. */
  readonly fragmentOffset: number;
  readonly header: Uint8Array;
  /** This frame's IP payload (trimmed to the total length). */
  readonly payload: Uint8Array;
  /** The complete upper-layer bytes when this frame completes a datagram (unfragmented, or its last fragment). */
  readonly complete: Uint8Array | undefined;
}

export function ipPackets(name: string): IpPacket[] {
  const cap = readCapture(readFileSync(`${TRACES_DIR}${name}.pcap`));
  const json = JSON.parse(readFileSync(`${TRACES_DIR}${name}.tshark.json`, "utf8")) as { _source: { layers: Layers } }[];
  const parts = new Map<string, { off: number; data: Uint8Array }[]>();
  const out: IpPacket[] = [];
  cap.records.forEach((r, index) => {
    const f = r.data;
    if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0x00) return;
    const ip = f.subarray(14);
    const hl = (ip[0]! & 0x0f) * 4;
    const total = (ip[2]! << 8) | ip[3]!;
    const src = readIpv4(ip, 12);
    const dst = readIpv4(ip, 16);
    const protocol = ip[9]!;
    const id = (ip[4]! << 8) | ip[5]!;
    const moreFragments = (ip[6]! & 0x20) !== 0;
    const fragmentOffset = (((ip[6]! & 0x1f) << 8) | ip[7]!) * 8;
    const payload = ip.subarray(hl, total);
    let complete: Uint8Array | undefined;
    if (!moreFragments && fragmentOffset === 0) {
      complete = payload;
    } else {
      const key = `${src}/${dst}/${protocol}/${id}`;
      const list = parts.get(key) ?? [];
      list.push({ off: fragmentOffset, data: payload });
      parts.set(key, list);
      if (!moreFragments) {
        const size = fragmentOffset + payload.length;
        const whole = new Uint8Array(size);
        let covered = 0;
        for (const p of [...list].sort((a, b) => a.off - b.off)) {
          if (p.off > covered) break;
          whole.set(p.data, p.off);
          covered = Math.max(covered, p.off + p.data.length);
        }
        if (covered === size) complete = whole;
        parts.delete(key);
      }
    }
    out.push({
      index,
      layers: json[index]!._source.layers,
      src,
      dst,
      protocol,
      id,
      moreFragments,
      fragmentOffset,
      header: ip.subarray(0, hl),
      payload,
      complete,
    });
  });
  return out;
}

/** tshark's "0x11b6" or "43952" as a number. */
export function num(v: unknown): number {
  if (typeof v !== "string") throw new Error(`not a tshark field: ${JSON.stringify(v)}`);
  return Number(v);
}
