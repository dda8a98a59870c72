/**
 * Reading tshark's `-T json` decode: every listed field, in document order
 * (duplicate keys kept), converted to our value conventions so that it can be
 * compared with the dissector's output.
 */
import { tsharkFrameFields } from "@morgana/testkit";

export type Value = number | string;

/** The fields the dissector promises. */
export const FIELDS = [
  "eth.src", "eth.dst", "eth.type",
  "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
  "ip.version", "ip.hdr_len", "ip.len", "ip.id", "ip.flags.df", "ip.flags.mf", "ip.frag_offset", "ip.ttl", "ip.proto", "ip.checksum", "ip.src", "ip.dst",
  "icmp.type", "icmp.code", "icmp.checksum", "icmp.ident", "icmp.seq",
  "udp.srcport", "udp.dstport", "udp.length", "udp.checksum",
  "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.hdr_len", "tcp.flags", "tcp.window_size_value", "tcp.checksum",
  "tcp.urgent_pointer", "tcp.len", "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_perm",
  "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr",
  "dns.id", "dns.flags.response", "dns.flags.opcode", "dns.flags.authoritative", "dns.flags.truncated", "dns.flags.rcode",
  "dns.count.queries", "dns.count.answers", "dns.count.auth_rr", "dns.count.add_rr", "dns.qry.name", "dns.qry.type",
  "dns.resp.name", "dns.resp.type", "dns.resp.ttl", "dns.a", "dns.aaaa", "dns.cname", "dns.ns", "dns.mx.preference",
  "dns.mx.mail_exchange", "dns.txt", "dns.srv.port", "dns.srv.target", "dns.soa.mname",
] as const;

const STRING_FIELDS = new Set([
  "eth.src", "eth.dst", "arp.src.hw_mac", "arp.dst.hw_mac", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "ip.src", "ip.dst",
  "dns.qry.name", "dns.resp.name", "dns.a", "dns.aaaa", "dns.cname", "dns.ns", "dns.mx.mail_exchange", "dns.txt", "dns.srv.target", "dns.soa.mname",
]);
const CASE_SENSITIVE = new Set(["dns.qry.name", "dns.resp.name", "dns.cname", "dns.ns", "dns.mx.mail_exchange", "dns.txt", "dns.srv.target", "dns.soa.mname"]);

/** Converts one tshark value to our convention for `field`. */
export function convert(field: string, raw: string): Value {
  if (STRING_FIELDS.has(field)) return CASE_SENSITIVE.has(field) ? raw : raw.toLowerCase();
  // tshark shows the option's bytes ("04:02"); ours is 1 when present.
  if (field === "tcp.options.sack_perm") return 1;
  const n = /^0x[0-9a-f]+$/i.test(raw) ? parseInt(raw, 16) : Number(raw);
  if (!Number.isFinite(n)) throw new Error(`tshark value ${JSON.stringify(raw)} of ${field} is not numeric`);
  // tshark 4 prints ip.frag_offset in 8-byte units; ours is in bytes.
  return field === "ip.frag_offset" ? n * 8 : n;
}

/** The frames of NAME.tshark.json: the listed fields of each, converted, in document order. */
export function loadTshark(path: string, wanted: ReadonlySet<string>): Map<string, Value[]>[] {
  return tsharkFrameFields(path).map((all) => {
    const out = new Map<string, Value[]>();
    for (const [k, values] of all) if (wanted.has(k)) out.set(k, values.map((v) => convert(k, v)));
    return out;
  });
}
