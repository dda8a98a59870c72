/**
 * Decodes captured frames with Morgana's own codecs into Wireshark field names
 * with tshark's value conventions: numbers as JSON numbers, MAC addresses
 * lowercase and colon-separated, IPv4 addresses dotted quad, flags as 0/1.
 * One deliberate difference: `ip.frag_offset` is in bytes (tshark 4 prints the
 * field's 8-byte units).
 *
 * A frame that fails to decode keeps every field decoded before the failure
 * and gets an `error` naming the layer and the reason; the next frame is
 * decoded as usual. IPv4 fragments are reassembled across frames (bounded), so
 * the upper layer of a fragmented datagram is decoded on its last fragment, as
 * tshark does.
 */
import { decodeArp } from "@morgana/arp";
import { decodeMessage, tsharkName, tsharkText, typeCode, type Message, type ResourceRecord } from "@morgana/dns";
import { decodeEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from "@morgana/ethif";
import { decodeIcmp, decodeQuotedDatagram, hasIdentifier, isIcmpErrorType } from "@morgana/icmp";
import { DecodeError, formatIpv4, formatMac, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from "@morgana/interfaces";
import { decodeIpv4, type Ipv4Header } from "@morgana/ipv4";
import { decodeTcp, flagNames } from "@morgana/tcp";
import { decodeUdp } from "@morgana/udp";
import { FieldList } from "./fields.js";

const DNS_PORT = 53;

/** The dns.* fields of a message, in tshark's order and value conventions. */
function dnsFields(m: Message, f: FieldList): void {
  f.add("dns.id", m.id);
  f.add("dns.flags.response", m.qr ? 1 : 0);
  f.add("dns.flags.opcode", m.opcode);
  if (m.qr) f.add("dns.flags.authoritative", m.aa ? 1 : 0);
  f.add("dns.flags.truncated", m.tc ? 1 : 0);
  if (m.qr) f.add("dns.flags.rcode", m.rcode);
  f.add("dns.count.queries", m.questions.length);
  f.add("dns.count.answers", m.answers.length);
  f.add("dns.count.auth_rr", m.authorities.length);
  f.add("dns.count.add_rr", m.additionals.length);
  for (const q of m.questions) {
    f.add("dns.qry.name", tsharkName(q.name));
    f.add("dns.qry.type", typeCode(q.type));
  }
  for (const section of [m.answers, m.authorities, m.additionals]) for (const rr of section) recordFields(rr, f);
}

function recordFields(rr: ResourceRecord, f: FieldList): void {
  f.add("dns.resp.name", tsharkName(rr.name));
  f.add("dns.resp.type", typeCode(rr.type));
  if (rr.type === "OPT") return; // tshark shows no TTL for OPT (its TTL field holds EDNS flags)
  f.add("dns.resp.ttl", rr.ttl);
  switch (rr.type) {
    case "A":
      f.add("dns.a", rr.data);
      break;
    case "AAAA":
      f.add("dns.aaaa", rr.data);
      break;
    case "CNAME":
      f.add("dns.cname", tsharkName(rr.data));
      break;
    case "NS":
      f.add("dns.ns", tsharkName(rr.data));
      break;
    case "MX":
      f.add("dns.mx.preference", rr.data.preference);
      f.add("dns.mx.mail_exchange", tsharkName(rr.data.exchange));
      break;
    case "TXT":
      for (const t of rr.data) f.add("dns.txt", tsharkText(t));
      break;
    case "SRV":
      f.add("dns.srv.port", rr.data.port);
      f.add("dns.srv.target", tsharkName(rr.data.target));
      break;
    case "SOA":
      f.add("dns.soa.mname", tsharkName(rr.data.mname));
      break;
    default:
      break;
  }
}

/** Link types this dissector decodes (pcap LINKTYPE_ETHERNET). */
export const LINKTYPE_ETHERNET = 1;

export interface DissectedFrame {
  /** 1-based position in the capture. */
  readonly index: number;
  readonly timestampMs: number;
  readonly capturedLength: number;
  readonly fields: FieldList;
  /** One human-readable line per decoded layer. */
  readonly summary: string[];
  /** `layer: reason` when decoding stopped early. */
  readonly error?: string;
}

export interface DissectorOptions {
  /** Datagrams reassembled at once (oldest evicted beyond). Default 64. */
  maxReassemblies?: number;
  /** Fragment bytes held at once (oldest reassembly evicted beyond). Default 4 MiB. */
  maxReassemblyBytes?: number;
}

class Failure extends Error {
  constructor(
    readonly layer: string,
    readonly reason: string,
  ) {
    super(`${layer}: ${reason}`);
  }
}

/** Re-throws a codec's DecodeError as a failure at an offset counted from the frame start. */
function at<T>(base: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DecodeError) throw new Failure(e.layer, `${e.reason} (frame offset ${base + e.offset})`);
    throw e;
  }
}

const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, "0")}`;

interface Pending {
  pieces: Map<number, Uint8Array>;
  /** End of the datagram, known once the last fragment arrived. */
  end: number | undefined;
  bytes: number;
}

/** Decodes frames one at a time, keeping reassembly state across them. */
export class Dissector {
  private readonly maxReassemblies: number;
  private readonly maxBytes: number;
  private readonly pending = new Map<string, Pending>();
  private heldBytes = 0;

  constructor(opts: DissectorOptions = {}) {
    this.maxReassemblies = opts.maxReassemblies ?? 64;
    this.maxBytes = opts.maxReassemblyBytes ?? 4 << 20;
  }

  dissect(frame: Uint8Array, index: number, timestampMs = 0, linktype = LINKTYPE_ETHERNET): DissectedFrame {
    const fields = new FieldList();
    const summary: string[] = [];
    let error: string | undefined;
    try {
      if (linktype !== LINKTYPE_ETHERNET) throw new Failure("frame", `link type ${linktype} is not supported (only Ethernet, 1)`);
      this.ethernet(frame, fields, summary);
    } catch (e) {
      error = e instanceof Failure ? e.message : `internal: ${(e as Error).message}`;
    }
    const out: DissectedFrame = { index, timestampMs, capturedLength: frame.length, fields, summary };
    return error === undefined ? out : { ...out, error };
  }

  private ethernet(frame: Uint8Array, f: FieldList, s: string[]): void {
    const eth = at(0, () => decodeEthernet(frame));
    const outerType = frame.length >= 14 ? (frame[12]! << 8) | frame[13]! : eth.etherType;
    f.add("eth.dst", formatMac(eth.dst));
    f.add("eth.src", formatMac(eth.src));
    f.add("eth.type", outerType);
    const vlan = eth.vlan === undefined ? "" : ` vlan ${eth.vlan.id}`;
    s.push(`Ethernet ${formatMac(eth.src)} > ${formatMac(eth.dst)}${vlan}, type ${hex(eth.etherType, 4)}, ${frame.length} bytes`);
    if (eth.etherType === ETHERTYPE_ARP) this.arp(eth.payload, eth.headerLength, f, s);
    else if (eth.etherType === ETHERTYPE_IPV4) this.ipv4(eth.payload, eth.headerLength, f, s);
  }

  private arp(bytes: Uint8Array, base: number, f: FieldList, s: string[]): void {
    const a = at(base, () => decodeArp(bytes));
    f.add("arp.opcode", a.opcode);
    f.add("arp.src.hw_mac", formatMac(a.senderMac));
    f.add("arp.src.proto_ipv4", formatIpv4(a.senderIp));
    f.add("arp.dst.hw_mac", formatMac(a.targetMac));
    f.add("arp.dst.proto_ipv4", formatIpv4(a.targetIp));
    s.push(
      a.opcode === 1
        ? `ARP request who-has ${formatIpv4(a.targetIp)} tell ${formatIpv4(a.senderIp)}`
        : a.opcode === 2
          ? `ARP reply ${formatIpv4(a.senderIp)} is-at ${formatMac(a.senderMac)}`
          : `ARP opcode ${a.opcode} ${formatIpv4(a.senderIp)} > ${formatIpv4(a.targetIp)}`,
    );
  }

  private ipFields(f: FieldList, h: Pick<Ipv4Header, "headerLength" | "totalLength" | "id" | "fragmentOffset" | "ttl" | "protocol" | "checksum" | "src" | "dst">, df: boolean, mf: boolean): void {
    f.add("ip.version", 4);
    f.add("ip.hdr_len", h.headerLength);
    f.add("ip.len", h.totalLength);
    f.add("ip.id", h.id);
    f.add("ip.flags.df", df ? 1 : 0);
    f.add("ip.flags.mf", mf ? 1 : 0);
    f.add("ip.frag_offset", h.fragmentOffset);
    f.add("ip.ttl", h.ttl);
    f.add("ip.proto", h.protocol);
    f.add("ip.checksum", h.checksum);
    f.add("ip.src", formatIpv4(h.src));
    f.add("ip.dst", formatIpv4(h.dst));
  }

  private ipv4(bytes: Uint8Array, base: number, f: FieldList, s: string[]): void {
    const ip = at(base, () => decodeIpv4(bytes));
    this.ipFields(f, ip, ip.flags.dontFragment, ip.flags.moreFragments);
    const frag = ip.flags.moreFragments || ip.fragmentOffset > 0;
    s.push(
      `IPv4 ${formatIpv4(ip.src)} > ${formatIpv4(ip.dst)}, proto ${ip.protocol}, ttl ${ip.ttl}, id ${ip.id}, len ${ip.totalLength}` +
        (frag ? `, fragment offset ${ip.fragmentOffset}${ip.flags.moreFragments ? " +" : ""}` : "") +
        (ip.checksumValid ? "" : ", bad header checksum"),
    );
    let payload = ip.payload;
    let payloadBase = base + ip.headerLength;
    if (frag) {
      const whole = this.reassemble(ip);
      if (whole === undefined) return;
      s.push(`  reassembled ${whole.length} bytes`);
      payload = whole;
      payloadBase = -1; // offsets now refer to the reassembled datagram
    }
    const b = payloadBase < 0 ? 0 : payloadBase;
    if (ip.protocol === IPPROTO_ICMP) this.icmp(payload, b, f, s);
    else if (ip.protocol === IPPROTO_UDP) this.udp(payload, b, f, s);
    else if (ip.protocol === IPPROTO_TCP) this.tcp(payload, b, f, s);
  }

  /** Adds a fragment; returns the whole payload when this fragment completes the datagram. */
  private reassemble(ip: Ipv4Header): Uint8Array | undefined {
    const key = `${ip.src},${ip.dst},${ip.protocol},${ip.id}`;
    let p = this.pending.get(key);
    if (p === undefined) {
      p = { pieces: new Map(), end: undefined, bytes: 0 };
      this.pending.set(key, p);
    }
    if (!p.pieces.has(ip.fragmentOffset)) {
      const copy = ip.payload.slice();
      p.pieces.set(ip.fragmentOffset, copy);
      p.bytes += copy.length;
      this.heldBytes += copy.length;
    }
    if (!ip.flags.moreFragments) p.end = ip.fragmentOffset + ip.payload.length;
    // Bound the state: evict the oldest reassemblies (Map order is insertion order).
    for (const [k, q] of this.pending) {
      if (this.pending.size <= this.maxReassemblies && this.heldBytes <= this.maxBytes) break;
      if (k === key) continue;
      this.drop(k, q);
    }
    if (p.end === undefined) return undefined;
    const whole = new Uint8Array(p.end);
    let covered = 0;
    for (const [off, piece] of [...p.pieces].sort((a, b) => a[0] - b[0])) {
      if (off > covered) return undefined; // a hole remains
      const end = Math.min(p.end, off + piece.length);
      if (end > covered) whole.set(piece.subarray(covered - off, end - off), covered);
      covered = Math.max(covered, end);
    }
    if (covered < p.end) return undefined;
    this.drop(key, p);
    return whole;
  }

  private drop(key: string, p: Pending): void {
    this.pending.delete(key);
    this.heldBytes -= p.bytes;
  }

  private icmp(bytes: Uint8Array, base: number, f: FieldList, s: string[]): void {
    const m = at(base, () => decodeIcmp(bytes));
    f.add("icmp.type", m.type);
    f.add("icmp.code", m.code);
    f.add("icmp.checksum", m.checksum);
    if (hasIdentifier(m.type)) {
      f.add("icmp.ident", m.identifier!);
      f.add("icmp.seq", m.sequence!);
    }
    const name = m.type === 8 ? "echo request" : m.type === 0 ? "echo reply" : m.type === 3 ? "destination unreachable" : m.type === 11 ? "time exceeded" : `type ${m.type}`;
    s.push(
      `ICMP ${name}, code ${m.code}` +
        (hasIdentifier(m.type) ? `, id ${m.identifier}, seq ${m.sequence}` : "") +
        `, ${bytes.length} bytes` +
        (m.checksumValid ? "" : ", bad checksum"),
    );
    if (!isIcmpErrorType(m.type)) return;
    const q = at(base, () => decodeQuotedDatagram(m.body));
    this.ipFields(f, { ...q, fragmentOffset: q.fragmentOffset * 8, checksum: q.headerChecksum }, (q.flags & 2) !== 0, (q.flags & 1) !== 0);
    s.push(`  quoting IPv4 ${formatIpv4(q.src)} > ${formatIpv4(q.dst)}, proto ${q.protocol}, id ${q.id}`);
    const d = q.data;
    if (q.protocol === IPPROTO_UDP && d.length >= 8) {
      f.add("udp.srcport", (d[0]! << 8) | d[1]!);
      f.add("udp.dstport", (d[2]! << 8) | d[3]!);
      f.add("udp.length", (d[4]! << 8) | d[5]!);
      f.add("udp.checksum", (d[6]! << 8) | d[7]!);
      s.push(`  quoting UDP ${(d[0]! << 8) | d[1]!} > ${(d[2]! << 8) | d[3]!}`);
    } else if (q.protocol === IPPROTO_TCP && d.length >= 8) {
      f.add("tcp.srcport", (d[0]! << 8) | d[1]!);
      f.add("tcp.dstport", (d[2]! << 8) | d[3]!);
      f.add("tcp.seq_raw", ((d[4]! << 24) | (d[5]! << 16) | (d[6]! << 8) | d[7]!) >>> 0);
      s.push(`  quoting TCP ${(d[0]! << 8) | d[1]!} > ${(d[2]! << 8) | d[3]!}`);
    }
  }

  private tcp(bytes: Uint8Array, base: number, f: FieldList, s: string[]): void {
    const t = at(base, () => decodeTcp(bytes));
    f.add("tcp.srcport", t.srcPort);
    f.add("tcp.dstport", t.dstPort);
    f.add("tcp.seq_raw", t.seq);
    f.add("tcp.ack_raw", t.ack);
    f.add("tcp.hdr_len", t.headerLength);
    f.add("tcp.flags", t.flags);
    f.add("tcp.window_size_value", t.window);
    f.add("tcp.checksum", t.checksum);
    f.add("tcp.urgent_pointer", t.urgentPointer);
    f.add("tcp.len", t.payload.length);
    const o = t.options;
    if (o.mss !== undefined) f.add("tcp.options.mss_val", o.mss);
    if (o.sackPermitted) f.add("tcp.options.sack_perm", 1);
    if (o.tsVal !== undefined) {
      f.add("tcp.options.timestamp.tsval", o.tsVal);
      f.add("tcp.options.timestamp.tsecr", o.tsEcr ?? 0);
    }
    if (o.wscale !== undefined) f.add("tcp.options.wscale.shift", o.wscale);
    const opts = [
      o.mss !== undefined ? `mss ${o.mss}` : "",
      o.sackPermitted ? "sackOK" : "",
      o.tsVal !== undefined ? `TS val ${o.tsVal} ecr ${o.tsEcr}` : "",
      o.wscale !== undefined ? `wscale ${o.wscale}` : "",
      o.sack !== undefined ? `sack ${o.sack.map((b) => `${b.left}-${b.right}`).join(" ")}` : "",
    ].filter((x) => x !== "");
    s.push(
      `TCP ${t.srcPort} > ${t.dstPort} [${flagNames(t.flags)}] seq ${t.seq} ack ${t.ack} win ${t.window} len ${t.payload.length}` +
        (opts.length > 0 ? ` <${opts.join(", ")}>` : ""),
    );
    if (t.optionsError !== undefined) throw new Failure("tcp", `bad options: ${t.optionsError}`);
    // DNS over TCP, when one whole length-prefixed message is this segment's data.
    const d = t.payload;
    if ((t.srcPort === DNS_PORT || t.dstPort === DNS_PORT) && d.length >= 2 && ((d[0]! << 8) | d[1]!) === d.length - 2) {
      this.dns(d.subarray(2), base + t.headerLength + 2, f, s);
    }
  }

  private udp(bytes: Uint8Array, base: number, f: FieldList, s: string[]): void {
    const u = at(base, () => decodeUdp(bytes));
    f.add("udp.srcport", u.srcPort);
    f.add("udp.dstport", u.dstPort);
    f.add("udp.length", u.length);
    f.add("udp.checksum", u.checksum);
    s.push(`UDP ${u.srcPort} > ${u.dstPort}, length ${u.length}`);
    if (u.srcPort === DNS_PORT || u.dstPort === DNS_PORT) this.dns(u.payload, base + 8, f, s);
  }

  /** A DNS message: over UDP the whole payload; over TCP one length-prefixed message that fills the segment. */
  private dns(bytes: Uint8Array, base: number, f: FieldList, s: string[]): void {
    const m = at(base, () => decodeMessage(bytes));
    dnsFields(m, f);
    const q = m.questions[0];
    s.push(
      `DNS ${m.qr ? "response" : "query"} id ${m.id}` +
        (q === undefined ? "" : ` ${q.name} ${typeof q.type === "string" ? q.type : `TYPE${q.type}`}`) +
        (m.qr ? `, rcode ${m.rcode}, ${m.answers.length} answers${m.tc ? ", truncated" : ""}` : ""),
    );
  }
}
