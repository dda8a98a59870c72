/**
 * Presentation format (RFC 1035 §5, RFC 3597, RFC 4034 §2.2/§3.2/§4.2/§5.3,
 * RFC 9460 Appendix A, RFC 8659): records to text as `dig` and zone files
 * write them, and RDATA from zone-file tokens.
 */
import { className, KNOWN_TYPE_NAME, RR_TYPES, SVC_KEYS, svcKeyCode, svcKeyName, typeCode, typeName } from "./constants.js";
import { fromBase64, fromHex, toBase64, toHex } from "./base.js";
import { decodeRdata } from "./decode.js";
import { encodeMessage } from "./encode.js";
import { DnsDecodeError, ZoneParseError } from "./errors.js";
import { formatIpv4, formatIpv6, writeIpv4Text, writeIpv6Text } from "./ip.js";
import { absoluteText, resolveName, utf8Char } from "./name.js";
import type { DataRecord, OptRecord, Question, ResourceRecord, SvcParam, SvcbData } from "./types.js";

/** A token of presentation text: escapes kept as written, quotes removed. */
export interface Token {
  readonly text: string;
  /** The whole token was a quoted string. */
  readonly quoted: boolean;
  /** 1-based position of the token's first character. */
  readonly line: number;
  readonly col: number;
}

// --- text out ---------------------------------------------------------------

/** A character-string in quotes, with `"` and `\` escaped and bytes outside 0x20-0x7e as `\DDD`. */
export function quoteBytes(b: Uint8Array): string {
  let s = '"';
  for (const x of b) {
    if (x === 0x22 || x === 0x5c) s += "\\" + String.fromCharCode(x);
    else if (x < 0x20 || x > 0x7e) s += "\\" + String(x).padStart(3, "0");
    else s += String.fromCharCode(x);
  }
  return s + '"';
}

function latin1Bytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** RRSIG times: YYYYMMDDHHmmSS (UTC) from seconds since 1970 (mod 2^32). */
export function formatSigTime(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString(); // a calendar computation, not a clock read
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19);
}

/** Parses YYYYMMDDHHmmSS or a decimal number of seconds; -1 when malformed. */
export function parseSigTime(text: string): number {
  if (/^\d{14}$/.test(text)) {
    const ms = Date.UTC(+text.slice(0, 4), +text.slice(4, 6) - 1, +text.slice(6, 8), +text.slice(8, 10), +text.slice(10, 12), +text.slice(12, 14));
    if (Number.isNaN(ms)) return -1;
    return ((ms / 1000) % 2 ** 32 + 2 ** 32) % 2 ** 32;
  }
  if (/^\d{1,10}$/.test(text) && Number(text) <= 0xffffffff) return Number(text);
  return -1;
}

function svcValueText(p: SvcParam): string {
  if (typeof p.key === "number") return p.value.length === 0 ? `${svcKeyName(p.key)}=""` : `${svcKeyName(p.key)}=${quoteBytes(p.value)}`;
  switch (p.key) {
    case "mandatory":
      return `mandatory=${p.keys.map(svcKeyName).join(",")}`;
    case "alpn": {
      // Value-list escaping (RFC 9460 App. A.1): `,` and `\` inside an id get
      // a backslash, then the whole is a quoted character-string.
      const joined = p.protocols.map((id) => id.replace(/[\\,]/g, (c) => "\\" + c)).join(",");
      return `alpn=${quoteBytes(latin1Bytes(joined))}`;
    }
    case "no-default-alpn":
      return "no-default-alpn";
    case "port":
      return `port=${p.port}`;
    case "ipv4hint":
    case "ipv6hint":
      return `${p.key}=${p.addresses.join(",")}`;
    case "ech":
      return `ech=${toBase64(p.config)}`;
  }
}

function svcbText(d: SvcbData): string {
  return [String(d.priority), absoluteText(d.target), ...d.params.map(svcValueText)].join(" ");
}

function svcKeyOf(p: SvcParam): number {
  return typeof p.key === "number" ? p.key : SVC_KEYS[p.key];
}

function ascending(xs: readonly number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i - 1]! >= xs[i]!) return false;
  return true;
}

/**
 * False for typed RDATA that the type's presentation format cannot express
 * exactly (SvcParams out of order or with empty values, a CAA tag that is not
 * alphanumeric, an empty DS digest / DNSKEY key / RRSIG signature): such
 * records are written in the generic `\#` form so text round-trips.
 */
function presentable(rr: ResourceRecord): boolean {
  switch (rr.type) {
    case "SVCB":
    case "HTTPS":
      return (
        ascending(rr.data.params.map(svcKeyOf)) &&
        rr.data.params.every((p) =>
          p.key === "mandatory" ? p.keys.length > 0 && ascending(p.keys) : p.key === "alpn" ? p.protocols.length > 0 && p.protocols.every((x) => x.length > 0) : p.key === "ech" ? p.config.length > 0 : p.key === "ipv4hint" || p.key === "ipv6hint" ? p.addresses.length > 0 : true,
        )
      );
    case "CAA":
      return /^[A-Za-z0-9]{1,255}$/.test(rr.data.tag);
    case "DS":
      return rr.data.digest.length > 0;
    case "DNSKEY":
      return rr.data.publicKey.length > 0;
    case "RRSIG":
      return rr.data.signature.length > 0;
    default:
      return true;
  }
}

/** The uncompressed RDATA bytes of a record. */
export function rdataBytes(rr: ResourceRecord): Uint8Array {
  if (rr.type !== "OPT" && typeof rr.type === "number") return rr.data;
  const m = encodeMessage({ id: 0, qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0, questions: [], answers: [rr], authorities: [], additionals: [] }, { compress: false });
  let p = 12;
  while (m[p] !== 0) p += m[p]! + 1;
  return m.slice(p + 11);
}

function generic(b: Uint8Array): string {
  return `\\# ${b.length}${b.length > 0 ? " " + toHex(b) : ""}`;
}

/** The RDATA of a record in presentation format. Opaque types use RFC 3597's `\# len hex`. */
export function rdataToText(rr: ResourceRecord): string {
  if (!presentable(rr)) return generic(rdataBytes(rr));
  switch (rr.type) {
    case "A":
    case "AAAA":
      return rr.data;
    case "NS":
    case "CNAME":
    case "PTR":
      return absoluteText(rr.data);
    case "SOA": {
      const d = rr.data;
      return `${absoluteText(d.mname)} ${absoluteText(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    }
    case "MX":
      return `${rr.data.preference} ${absoluteText(rr.data.exchange)}`;
    case "TXT":
      return rr.data.length === 0 ? generic(new Uint8Array(0)) : rr.data.map(quoteBytes).join(" ");
    case "SRV": {
      const d = rr.data;
      return `${d.priority} ${d.weight} ${d.port} ${absoluteText(d.target)}`;
    }
    case "CAA":
      return `${rr.data.flags} ${rr.data.tag} ${quoteBytes(rr.data.value)}`;
    case "DS":
      return `${rr.data.keyTag} ${rr.data.algorithm} ${rr.data.digestType} ${toHex(rr.data.digest)}`;
    case "DNSKEY":
      return `${rr.data.flags} ${rr.data.protocol} ${rr.data.algorithm} ${toBase64(rr.data.publicKey)}`;
    case "RRSIG": {
      const d = rr.data;
      return `${typeName(d.typeCovered)} ${d.algorithm} ${d.labels} ${d.originalTtl} ${formatSigTime(d.expiration)} ${formatSigTime(d.inception)} ${d.keyTag} ${absoluteText(d.signerName)} ${toBase64(d.signature)}`;
    }
    case "NSEC":
      return [absoluteText(rr.data.nextName), ...rr.data.types.map((t) => typeName(t))].join(" ");
    case "SVCB":
    case "HTTPS":
      return svcbText(rr.data);
    case "OPT":
      // A pseudo-record: its options in the generic form.
      return generic(rdataBytes(rr));
    default:
      return generic(rr.data);
  }
}

/** The type mnemonic of a record (`A`, `TYPE65280`). */
export function recordTypeName(rr: ResourceRecord): string {
  return typeof rr.type === "string" ? rr.type : typeName(rr.type);
}

/** A record as one line of a zone file or `dig` answer: `owner. TTL CLASS TYPE RDATA` (tab separated). */
export function recordToText(rr: ResourceRecord): string {
  if (rr.type === "OPT") return `${absoluteText(rr.name)}\t${opt32(rr)}\tCLASS${rr.udpPayloadSize}\tOPT\t${rdataToText(rr)}`;
  return `${absoluteText(rr.name)}\t${rr.ttl}\t${className(rr.class)}\t${recordTypeName(rr)}\t${rdataToText(rr)}`;
}

function opt32(rr: OptRecord): number {
  return ((rr.extendedRcode << 24) | (rr.version << 16) | (rr.dnssecOk ? 0x8000 : 0) | rr.z) >>> 0;
}

/** A question as `dig` prints it: `;name.\t\tIN\tA`. */
export function questionToText(q: Question): string {
  return `;${absoluteText(q.name)}\t\t${className(q.class)}\t${typeof q.type === "string" ? q.type : typeName(q.type)}`;
}

// --- text in ----------------------------------------------------------------

function fail(tok: Token | undefined, reason: string, fallback: Token): never {
  const t = tok ?? fallback;
  throw new ZoneParseError(reason, t.line, t.col);
}

/** The bytes of a token: `\DDD` and `\X` escapes decoded, non-ASCII characters as UTF-8. */
export function tokenBytes(tok: Token): Uint8Array {
  const s = tok.text;
  const out = new Uint8Array(s.length * 4);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      if (i + 1 >= s.length) throw new ZoneParseError("dangling backslash", tok.line, tok.col + i);
      const d = s.charCodeAt(i + 1);
      if (d >= 0x30 && d <= 0x39) {
        const m = /^\d{3}/.exec(s.slice(i + 1, i + 4));
        if (m === null || Number(m[0]) > 255) throw new ZoneParseError("bad \\DDD escape", tok.line, tok.col + i);
        out[n++] = Number(m[0]);
        i += 3;
        continue;
      }
      i++;
      if (d < 0x80) out[n++] = d;
      else n = utf8Char(s, i, out, n, () => i++);
      continue;
    }
    if (c < 0x80) out[n++] = c;
    else n = utf8Char(s, i, out, n, () => i++);
  }
  return out.slice(0, n);
}

/**
 * A TTL: decimal seconds, or BIND's units (`1w2d3h4m5s`, case-insensitive).
 * Returns -1 when malformed or above 2^32-1.
 */
export function parseTtl(text: string): number {
  if (/^\d+$/.test(text)) {
    // RFC 2181 §8 says 31 bits; the wire field is 32 and we keep what is written.
    const v = Number(text);
    return v <= 0xffffffff ? v : -1;
  }
  const re = /(\d+)([wdhms])/giy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const unit = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 }[m[2]!.toLowerCase() as "w"]!;
    total += Number(m[1]) * unit;
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || text.length === 0 || total > 0x7fffffff) return -1;
  return total;
}

function uint(tok: Token | undefined, max: number, what: string, at: Token): number {
  if (tok === undefined) fail(tok, `missing ${what}`, at);
  if (!/^\d+$/.test(tok.text)) fail(tok, `${what} ${JSON.stringify(tok.text)} is not a number`, at);
  const v = Number(tok.text);
  if (v > max) fail(tok, `${what} ${tok.text} above ${max}`, at);
  return v;
}

function nameTok(tok: Token | undefined, origin: string, what: string, at: Token): string {
  if (tok === undefined) fail(tok, `missing ${what}`, at);
  try {
    return resolveName(tok.text, origin);
  } catch (e) {
    fail(tok, `bad ${what} ${JSON.stringify(tok.text)}: ${(e as Error).message}`, at);
  }
}

function typeTok(tok: Token, at: Token): number {
  const t = typeCode(tok.text);
  if (t < 0) fail(tok, `unknown type ${JSON.stringify(tok.text)}`, at);
  return t;
}

function ipTok(tok: Token | undefined, v6: boolean, at: Token): string {
  if (tok === undefined) fail(tok, `missing ${v6 ? "IPv6" : "IPv4"} address`, at);
  const b = new Uint8Array(16);
  try {
    if (v6) {
      writeIpv6Text(tok.text, b, 0);
      return formatIpv6(b, 0);
    }
    writeIpv4Text(tok.text, b, 0);
    return formatIpv4(b, 0);
  } catch {
    fail(tok, `bad ${v6 ? "IPv6" : "IPv4"} address ${JSON.stringify(tok.text)}`, at);
  }
}

function joinedBase64(toks: readonly Token[], at: Token): Uint8Array {
  const text = toks.map((t) => t.text).join("");
  if (text === "-" || text === "") return new Uint8Array(0);
  try {
    return fromBase64(text);
  } catch (e) {
    fail(toks[0], (e as Error).message, at);
  }
}

function joinedHex(toks: readonly Token[], at: Token): Uint8Array {
  const text = toks.map((t) => t.text).join("");
  if (text === "-" || text === "") return new Uint8Array(0);
  try {
    return fromHex(text);
  } catch (e) {
    fail(toks[0], (e as Error).message, at);
  }
}

function noMore(toks: readonly Token[], n: number, at: Token): void {
  if (toks.length > n) fail(toks[n], `unexpected ${JSON.stringify(toks[n]!.text)} after the RDATA`, at);
}

/** Splits bytes on unescaped commas, removing the value-list escapes (RFC 9460 App. A.1). */
function valueList(b: Uint8Array): Uint8Array[] {
  const items: Uint8Array[] = [];
  let cur: number[] = [];
  for (let i = 0; i < b.length; i++) {
    const x = b[i]!;
    if (x === 0x5c && i + 1 < b.length) cur.push(b[++i]!);
    else if (x === 0x2c) {
      items.push(Uint8Array.from(cur));
      cur = [];
    } else cur.push(x);
  }
  items.push(Uint8Array.from(cur));
  return items;
}

function parseSvcParams(toks: readonly Token[], at: Token): SvcParam[] {
  const params: SvcParam[] = [];
  const seen = new Set<number>();
  for (const tok of toks) {
    const eq = tok.text.indexOf("=");
    const keyText = eq < 0 ? tok.text : tok.text.slice(0, eq);
    const key = svcKeyCode(keyText);
    if (key < 0) fail(tok, `unknown SvcParamKey ${JSON.stringify(keyText)}`, at);
    if (seen.has(key)) fail(tok, `duplicate SvcParamKey ${keyText}`, at);
    seen.add(key);
    const raw: Token = { ...tok, text: eq < 0 ? "" : tok.text.slice(eq + 1) };
    const value = tokenBytes(raw);
    const str = String.fromCharCode(...value);
    const list = (): string[] => str.split(",");
    const need = (): void => {
      if (eq < 0 || value.length === 0) fail(tok, `SvcParam ${keyText} needs a value`, at);
    };
    switch (key) {
      case SVC_KEYS.mandatory: {
        need();
        const keys = list().map((k) => {
          const c = svcKeyCode(k);
          if (c < 0) fail(tok, `unknown key ${JSON.stringify(k)} in mandatory`, at);
          return c;
        });
        params.push({ key: "mandatory", keys: [...keys].sort((a, b) => a - b) });
        break;
      }
      case SVC_KEYS.alpn: {
        need();
        const ids = valueList(value).map((b) => String.fromCharCode(...b));
        if (ids.some((i) => i.length === 0 || i.length > 255)) fail(tok, "empty or over-long alpn-id", at);
        params.push({ key: "alpn", protocols: ids });
        break;
      }
      case SVC_KEYS["no-default-alpn"]:
        if (eq >= 0 && value.length > 0) fail(tok, "no-default-alpn takes no value", at);
        params.push({ key: "no-default-alpn" });
        break;
      case SVC_KEYS.port:
        need();
        params.push({ key: "port", port: uint({ ...raw, text: str }, 0xffff, "port", at) });
        break;
      case SVC_KEYS.ipv4hint:
      case SVC_KEYS.ipv6hint: {
        need();
        const v6 = key === SVC_KEYS.ipv6hint;
        const addresses = list().map((a) => ipTok({ ...raw, text: a }, v6, at));
        params.push(v6 ? { key: "ipv6hint", addresses } : { key: "ipv4hint", addresses });
        break;
      }
      case SVC_KEYS.ech:
        need();
        params.push({ key: "ech", config: joinedBase64([{ ...raw, text: str }], at) });
        break;
      default:
        params.push({ key, value });
    }
  }
  // Wire order is ascending by key (RFC 9460 §2.2).
  const code = (p: SvcParam): number => (typeof p.key === "number" ? p.key : SVC_KEYS[p.key]);
  return params.sort((a, b) => code(a) - code(b));
}

/**
 * Parses the RDATA tokens of a record of type `type` (a code) in
 * presentation format, relative names against `origin`. `at` locates errors
 * when a token is missing. Returns the typed data for typed types, bytes for
 * others (which must use the `\#` form).
 */
export function parseRdata(type: number, toks: readonly Token[], origin: string, at: Token): DataRecord["data"] {
  const known = KNOWN_TYPE_NAME[type];
  if (toks.length > 0 && toks[0]!.text === "\\#" && !toks[0]!.quoted) {
    const len = uint(toks[1], 0xffff, "generic RDATA length", at);
    const bytes = joinedHex(toks.slice(2), at);
    if (bytes.length !== len) fail(toks[1], `generic RDATA has ${bytes.length} bytes, length says ${len}`, at);
    if (known === undefined) return bytes;
    if (known === "OPT") fail(toks[0], "OPT records cannot appear in zone data", at);
    try {
      return (decodeRdata(type, bytes) as DataRecord).data;
    } catch (e) {
      if (e instanceof DnsDecodeError) fail(toks[2] ?? toks[1], `generic RDATA is not a valid ${known}: ${e.reason}`, at);
      throw e;
    }
  }
  const t0 = toks[0];
  switch (known) {
    case "A":
      noMore(toks, 1, at);
      return ipTok(t0, false, at);
    case "AAAA":
      noMore(toks, 1, at);
      return ipTok(t0, true, at);
    case "NS":
    case "CNAME":
    case "PTR":
      noMore(toks, 1, at);
      return nameTok(t0, origin, "target name", at);
    case "SOA":
      noMore(toks, 7, at);
      return {
        mname: nameTok(toks[0], origin, "SOA MNAME", at),
        rname: nameTok(toks[1], origin, "SOA RNAME", at),
        serial: uint(toks[2], 0xffffffff, "SOA serial", at),
        refresh: ttlTok(toks[3], "SOA refresh", at),
        retry: ttlTok(toks[4], "SOA retry", at),
        expire: ttlTok(toks[5], "SOA expire", at),
        minimum: ttlTok(toks[6], "SOA minimum", at),
      };
    case "MX":
      noMore(toks, 2, at);
      return { preference: uint(toks[0], 0xffff, "MX preference", at), exchange: nameTok(toks[1], origin, "MX exchange", at) };
    case "TXT": {
      if (toks.length === 0) fail(undefined, "TXT needs at least one character-string", at);
      return toks.map((t) => {
        const b = tokenBytes(t);
        if (b.length > 255) fail(t, "TXT character-string longer than 255 bytes", at);
        return b;
      });
    }
    case "SRV":
      noMore(toks, 4, at);
      return {
        priority: uint(toks[0], 0xffff, "SRV priority", at),
        weight: uint(toks[1], 0xffff, "SRV weight", at),
        port: uint(toks[2], 0xffff, "SRV port", at),
        target: nameTok(toks[3], origin, "SRV target", at),
      };
    case "CAA": {
      noMore(toks, 3, at);
      const flags = uint(toks[0], 255, "CAA flags", at);
      if (toks[1] === undefined) fail(undefined, "missing CAA tag", at);
      const tag = toks[1].text;
      if (!/^[A-Za-z0-9]{1,255}$/.test(tag)) fail(toks[1], `bad CAA tag ${JSON.stringify(tag)}`, at);
      if (toks[2] === undefined) fail(undefined, "missing CAA value", at);
      return { flags, tag, value: tokenBytes(toks[2]) };
    }
    case "DS":
      return {
        keyTag: uint(toks[0], 0xffff, "DS key tag", at),
        algorithm: uint(toks[1], 255, "DS algorithm", at),
        digestType: uint(toks[2], 255, "DS digest type", at),
        digest: joinedHex(toks.slice(3), at),
      };
    case "DNSKEY":
      return {
        flags: uint(toks[0], 0xffff, "DNSKEY flags", at),
        protocol: uint(toks[1], 255, "DNSKEY protocol", at),
        algorithm: uint(toks[2], 255, "DNSKEY algorithm", at),
        publicKey: joinedBase64(toks.slice(3), at),
      };
    case "RRSIG": {
      if (toks.length < 8) fail(toks[toks.length - 1], "RRSIG needs 9 fields", at);
      const time = (tok: Token, what: string): number => {
        const v = parseSigTime(tok.text);
        if (v < 0) fail(tok, `bad RRSIG ${what} ${JSON.stringify(tok.text)}`, at);
        return v;
      };
      return {
        typeCovered: typeTok(toks[0]!, at),
        algorithm: uint(toks[1], 255, "RRSIG algorithm", at),
        labels: uint(toks[2], 255, "RRSIG labels", at),
        originalTtl: uint(toks[3], 0xffffffff, "RRSIG original TTL", at),
        expiration: time(toks[4]!, "expiration"),
        inception: time(toks[5]!, "inception"),
        keyTag: uint(toks[6], 0xffff, "RRSIG key tag", at),
        signerName: nameTok(toks[7], origin, "RRSIG signer name", at),
        signature: joinedBase64(toks.slice(8), at),
      };
    }
    case "NSEC": {
      const nextName = nameTok(toks[0], origin, "NSEC next name", at);
      const types = [...new Set(toks.slice(1).map((t) => typeTok(t, at)))].sort((a, b) => a - b);
      return { nextName, types };
    }
    case "SVCB":
    case "HTTPS":
      return {
        priority: uint(toks[0], 0xffff, "SvcPriority", at),
        target: nameTok(toks[1], origin, "TargetName", at),
        params: parseSvcParams(toks.slice(2), at),
      };
    case "OPT":
      fail(t0, "OPT records cannot appear in zone data", at);
    // eslint-disable-next-line no-fallthrough
    default:
      fail(t0, `type ${typeName(type)} is supported only in the RFC 3597 generic form (\\# length hex)`, at);
  }
}

function ttlTok(tok: Token | undefined, what: string, at: Token): number {
  if (tok === undefined) fail(tok, `missing ${what}`, at);
  const v = parseTtl(tok.text);
  if (v < 0) fail(tok, `bad ${what} ${JSON.stringify(tok.text)}`, at);
  return v;
}

/** Builds a typed record from its parts (used by the zone parser). */
export function makeRecord(name: string, type: number, cls: number, ttl: number, data: DataRecord["data"]): DataRecord {
  const known = KNOWN_TYPE_NAME[type];
  return { name, type: known ?? type, class: cls, ttl, data } as DataRecord;
}

export { RR_TYPES };
