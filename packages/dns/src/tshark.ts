/**
 * Value conventions of tshark's DNS fields (Wireshark 4.0), for a dissector
 * that prints `dns.*` fields from a decoded {@link Message}:
 *
 * | field | from |
 * |---|---|
 * | dns.id | `m.id` (tshark prints hex, e.g. `0x7e6d`: {@link tsharkHex16}) |
 * | dns.flags | {@link flagsWord} as `0x8500` |
 * | dns.flags.response / opcode / authoritative / truncated / rcode | `m.qr`, `m.opcode`, `m.aa`, `m.tc`, `m.rcode` (as 0/1 and numbers) |
 * | dns.count.queries / answers / auth_rr / add_rr | the section lengths |
 * | dns.qry.name, dns.resp.name, dns.cname, dns.ns, dns.mx.mail_exchange, dns.srv.target, dns.soa.mname | {@link tsharkName} |
 * | dns.qry.type, dns.resp.type | {@link typeCode} of the type |
 * | dns.resp.ttl | `rr.ttl` |
 * | dns.a, dns.aaaa | `rr.data` (IPv6 is RFC 5952 text, as tshark prints it) |
 * | dns.mx.preference, dns.srv.port | the numbers |
 * | dns.txt | {@link tsharkText} of each character-string (one field per string) |
 */
import type { Message } from "./types.js";

/** The 16-bit flags word of a message's header. */
export function flagsWord(m: Message): number {
  return (
    (m.qr ? 0x8000 : 0) |
    ((m.opcode & 0xf) << 11) |
    (m.aa ? 0x0400 : 0) |
    (m.tc ? 0x0200 : 0) |
    (m.rd ? 0x0100 : 0) |
    (m.ra ? 0x0080 : 0) |
    (m.z ? 0x0040 : 0) |
    (m.ad ? 0x0020 : 0) |
    (m.cd ? 0x0010 : 0) |
    (m.rcode & 0xf)
  );
}

/** `0x7e6d`: tshark's format of 16-bit hex fields (dns.id, dns.flags). */
export function tsharkHex16(v: number): string {
  return "0x" + v.toString(16).padStart(4, "0");
}

/**
 * A name as tshark prints it: `<Root>` for the root; otherwise the labels
 * joined with dots, printable characters as themselves (our `\.`-style
 * escapes removed) and other bytes as `\DDD`.
 */
export function tsharkName(name: string): string {
  if (name === "." || name === "") return "<Root>";
  return name.replace(/\\(\d{3}|.)/g, (all, x: string) => (x.length === 3 && (Number(x) < 0x20 || Number(x) > 0x7e) ? all : x.length === 3 ? String.fromCharCode(Number(x)) : x));
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A TXT character-string as tshark prints it: valid UTF-8 text as itself,
 * with C escapes for control characters (`\n`, `\t`, ... and `\ooo` octal);
 * bytes that are not UTF-8 as `\ooo`.
 */
export function tsharkText(b: Uint8Array): string {
  let text: string;
  try {
    text = utf8.decode(b);
  } catch {
    text = String.fromCharCode(...b);
  }
  let s = "";
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c === 0x5c) s += "\\\\";
    else if (c === 7) s += "\\a";
    else if (c === 8) s += "\\b";
    else if (c === 12) s += "\\f";
    else if (c === 10) s += "\\n";
    else if (c === 13) s += "\\r";
    else if (c === 9) s += "\\t";
    else if (c === 11) s += "\\v";
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) s += "\\" + c.toString(8).padStart(3, "0");
    else s += ch;
  }
  return s;
}
