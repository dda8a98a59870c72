/**
 * Reading tshark's `-T json` decode: every listed field, in document order,
 * converted to our value conventions so that it can be compared with the
 * dissector's output.
 */
import { readFileSync } from "node:fs";

export type Value = number | string;

/** The fields the dissector promises (issue 3's list; later layers add theirs). */
export const FIELDS = [
  "eth.src", "eth.dst", "eth.type",
  "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
  "ip.version", "ip.hdr_len", "ip.len", "ip.id", "ip.flags.df", "ip.flags.mf", "ip.frag_offset", "ip.ttl", "ip.proto", "ip.checksum", "ip.src", "ip.dst",
  "icmp.type", "icmp.code", "icmp.checksum", "icmp.ident", "icmp.seq",
  "udp.srcport", "udp.dstport", "udp.length", "udp.checksum",
  "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.hdr_len", "tcp.flags", "tcp.window_size_value", "tcp.checksum",
  "tcp.urgent_pointer", "tcp.len", "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_perm",
  "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr",
] as const;

const STRING_FIELDS = new Set(["eth.src", "eth.dst", "arp.src.hw_mac", "arp.dst.hw_mac", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "ip.src", "ip.dst"]);

/** Converts one tshark value to our convention for `field`. */
export function convert(field: string, raw: string): Value {
  if (STRING_FIELDS.has(field)) return raw.toLowerCase();
  // tshark shows the option's bytes ("04:02"); ours is 1 when present.
  if (field === "tcp.options.sack_perm") return 1;
  const n = /^0x[0-9a-f]+$/i.test(raw) ? parseInt(raw, 16) : Number(raw);
  if (!Number.isFinite(n)) throw new Error(`tshark value ${JSON.stringify(raw)} of ${field} is not numeric`);
  // tshark 4 prints ip.frag_offset in 8-byte units; ours is in bytes.
  return field === "ip.frag_offset" ? n * 8 : n;
}

/** Collects the listed fields of one frame's layers, in document order, descending into every sub-object. */
export function tsharkFields(layers: unknown, wanted: ReadonlySet<string>): Map<string, Value[]> {
  const out = new Map<string, Value[]>();
  const walk = (node: unknown) => {
    if (node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      node.forEach(walk);
      return;
    }
    for (const [k, v] of Object.entries(node)) {
      if (wanted.has(k) && typeof v === "string") {
        const list = out.get(k) ?? [];
        list.push(convert(k, v));
        out.set(k, list);
      } else if (wanted.has(k) && Array.isArray(v)) {
        // tshark writes a repeated field as an array in newer versions.
        for (const x of v) if (typeof x === "string") (out.get(k) ?? out.set(k, []).get(k)!).push(convert(k, x));
      }
      walk(v);
    }
  };
  walk(layers);
  return out;
}

/** The frames of NAME.tshark.json: one Map of listed fields each. */
export function loadTshark(path: string, wanted: ReadonlySet<string>): Map<string, Value[]>[] {
  const frames = JSON.parse(readFileSync(path, "utf8")) as { _source: { layers: unknown } }[];
  return frames.map((f) => tsharkFields(f._source.layers, wanted));
}
