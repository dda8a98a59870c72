/**
 * Builders and accessors: queries, EDNS(0) records and options, TXT strings,
 * the full (extended) rcode.
 */
import { EDNS_OPTION } from "./constants.js";
import { DnsDecodeError, invalid } from "./errors.js";
import { formatIpv4, formatIpv6, writeIpv4Text, writeIpv6Text } from "./ip.js";
import { canonicalName } from "./name.js";
import type { EdnsOption, Message, OptRecord, QType, Question, ResourceRecord } from "./types.js";

/** The UDP payload size we advertise and accept by default (DNS Flag Day 2020). */
export const DEFAULT_EDNS_UDP_SIZE = 1232;

export interface OptRecordInit {
  /** Default 1232. */
  readonly udpPayloadSize?: number;
  readonly extendedRcode?: number;
  readonly version?: number;
  readonly dnssecOk?: boolean;
  readonly options?: readonly EdnsOption[];
}

/** An OPT pseudo-record (owner `.`). */
export function optRecord(init: OptRecordInit = {}): OptRecord {
  return {
    name: ".",
    type: "OPT",
    udpPayloadSize: init.udpPayloadSize ?? DEFAULT_EDNS_UDP_SIZE,
    extendedRcode: init.extendedRcode ?? 0,
    version: init.version ?? 0,
    dnssecOk: init.dnssecOk ?? false,
    z: 0,
    options: init.options ?? [],
  };
}

/** The OPT records of a message's additional section (valid messages have at most one). */
export function optRecords(m: Message): OptRecord[] {
  const out: OptRecord[] = [];
  for (const rr of m.additionals) if (rr.type === "OPT") out.push(rr);
  return out;
}

/** The message's OPT record, if any (the first one). */
export function getOpt(m: Message): OptRecord | undefined {
  for (const rr of m.additionals) if (rr.type === "OPT") return rr;
  return undefined;
}

/** The 12-bit response code: the header's 4 bits plus the OPT record's upper 8 bits (RFC 6891 §6.1.3). */
export function fullRcode(m: Message): number {
  const opt = getOpt(m);
  return opt === undefined ? m.rcode : (opt.extendedRcode << 4) | m.rcode;
}

export interface QueryInit {
  /** Default 0; a resolver sets a random one. */
  readonly id?: number;
  /** Recursion desired (default true). */
  readonly rd?: boolean;
  readonly cd?: boolean;
  readonly ad?: boolean;
  /** Default 1 (IN). */
  readonly class?: number;
  /** EDNS(0): an OPT record is added unless `false` (default: 1232 bytes, no DO). */
  readonly edns?: false | OptRecordInit;
}

/** A standard query for one name and type. */
export function buildQuery(name: string, type: QType, init: QueryInit = {}): Message {
  const q: Question = { name: canonicalName(name), type, class: init.class ?? 1 };
  const additionals: ResourceRecord[] = init.edns === false ? [] : [optRecord(init.edns ?? {})];
  return {
    id: init.id ?? 0,
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: init.rd ?? true,
    ra: false,
    z: false,
    ad: init.ad ?? false,
    cd: init.cd ?? false,
    rcode: 0,
    questions: [q],
    answers: [],
    authorities: [],
    additionals,
  };
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder("utf-8", { fatal: false });

/** TXT data from text: UTF-8, split into 255-byte character-strings. */
export function txtFromString(text: string): Uint8Array[] {
  const b = utf8.encode(text);
  if (b.length === 0) return [new Uint8Array(0)];
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += 255) out.push(b.subarray(i, Math.min(i + 255, b.length)));
  return out;
}

/** TXT data from several strings, each one character-string (EINVAL if one is over 255 UTF-8 bytes). */
export function txtFromStrings(strings: readonly string[]): Uint8Array[] {
  return strings.map((s) => {
    const b = utf8.encode(s);
    if (b.length > 255) throw invalid("TXT character-string longer than 255 bytes");
    return b;
  });
}

/** Each character-string of TXT data as UTF-8 text (invalid sequences become U+FFFD). */
export function txtStrings(data: readonly Uint8Array[]): string[] {
  return data.map((s) => utf8d.decode(s));
}

/** The TXT character-strings concatenated as one UTF-8 text (how SPF/DKIM read them). */
export function txtToString(data: readonly Uint8Array[]): string {
  let n = 0;
  for (const s of data) n += s.length;
  const all = new Uint8Array(n);
  let o = 0;
  for (const s of data) {
    all.set(s, o);
    o += s.length;
  }
  return utf8d.decode(all);
}

// --- EDNS options -----------------------------------------------------------

/** A COOKIE option (RFC 7873): an 8-byte client cookie, optionally the 8-32-byte server cookie. */
export function cookieOption(client: Uint8Array, server?: Uint8Array): EdnsOption {
  if (client.length !== 8) throw invalid("client cookie must be 8 bytes");
  if (server !== undefined && (server.length < 8 || server.length > 32)) throw invalid("server cookie must be 8 to 32 bytes");
  const data = new Uint8Array(8 + (server?.length ?? 0));
  data.set(client);
  if (server !== undefined) data.set(server, 8);
  return { code: EDNS_OPTION.COOKIE, data };
}

export interface Cookie {
  readonly client: Uint8Array;
  readonly server: Uint8Array | undefined;
}

/** Parses a COOKIE option's data; DnsDecodeError when its length is not 8 or 16-40. */
export function parseCookie(data: Uint8Array): Cookie {
  if (data.length !== 8 && (data.length < 16 || data.length > 40)) throw new DnsDecodeError(0, `COOKIE option of ${data.length} bytes`);
  return { client: data.subarray(0, 8), server: data.length > 8 ? data.subarray(8) : undefined };
}

/** A PADDING option (RFC 7830) of `length` zero bytes. */
export function paddingOption(length: number): EdnsOption {
  if (!(length >= 0 && length <= 0xffff && Number.isInteger(length))) throw invalid("padding length");
  return { code: EDNS_OPTION.PADDING, data: new Uint8Array(length) };
}

export interface ClientSubnet {
  /** 1 = IPv4, 2 = IPv6. */
  readonly family: number;
  readonly sourcePrefixLength: number;
  readonly scopePrefixLength: number;
  /** The address, with the bits beyond the source prefix zero. */
  readonly address: string;
}

/** An EDNS Client Subnet option (RFC 7871). */
export function clientSubnetOption(ecs: ClientSubnet): EdnsOption {
  const v6 = ecs.family === 2;
  if (!v6 && ecs.family !== 1) throw invalid("ECS family must be 1 or 2");
  const full = new Uint8Array(v6 ? 16 : 4);
  if (v6) writeIpv6Text(ecs.address, full, 0);
  else writeIpv4Text(ecs.address, full, 0);
  const max = v6 ? 128 : 32;
  if (ecs.sourcePrefixLength > max || ecs.scopePrefixLength > max) throw invalid("ECS prefix length too long");
  const n = Math.ceil(ecs.sourcePrefixLength / 8);
  const data = new Uint8Array(4 + n);
  data[0] = 0;
  data[1] = ecs.family;
  data[2] = ecs.sourcePrefixLength;
  data[3] = ecs.scopePrefixLength;
  data.set(full.subarray(0, n), 4);
  const rem = ecs.sourcePrefixLength % 8;
  if (rem !== 0) data[3 + n]! &= (0xff << (8 - rem)) & 0xff;
  return { code: EDNS_OPTION.CLIENT_SUBNET, data };
}

/** Parses an EDNS Client Subnet option's data; DnsDecodeError when malformed. */
export function parseClientSubnet(data: Uint8Array): ClientSubnet {
  if (data.length < 4) throw new DnsDecodeError(0, "ECS option shorter than 4 bytes");
  const family = (data[0]! << 8) | data[1]!;
  const source = data[2]!;
  const scope = data[3]!;
  const size = family === 1 ? 4 : family === 2 ? 16 : -1;
  if (size < 0) throw new DnsDecodeError(0, `ECS family ${family}`);
  if (source > size * 8 || scope > size * 8) throw new DnsDecodeError(2, "ECS prefix length too long");
  if (data.length - 4 !== Math.ceil(source / 8)) throw new DnsDecodeError(4, "ECS address length does not match the source prefix");
  const full = new Uint8Array(size);
  full.set(data.subarray(4));
  return { family, sourcePrefixLength: source, scopePrefixLength: scope, address: size === 4 ? formatIpv4(full, 0) : formatIpv6(full, 0) };
}

/**
 * True when `response` answers `query` (RFC 5452 §9.1 checks a resolver
 * makes, beside the source address): QR set, same ID and opcode, and the same
 * single question (name compared case-insensitively, type and class equal).
 */
export function matchesQuery(query: Message, response: Message): boolean {
  if (!response.qr || response.id !== query.id || response.opcode !== query.opcode) return false;
  if (query.questions.length !== 1 || response.questions.length !== 1) return false;
  const q = query.questions[0]!;
  const r = response.questions[0]!;
  return r.type === q.type && r.class === q.class && (r.name === q.name || r.name.toLowerCase() === q.name.toLowerCase());
}

/**
 * The negative-caching TTL of an NXDOMAIN or NODATA response (RFC 2308 §5):
 * min(SOA TTL, SOA MINIMUM) of the authority section's SOA, or undefined
 * when it has none (such a response should not be cached).
 */
export function negativeTtl(response: Message): number | undefined {
  for (const rr of response.authorities) if (rr.type === "SOA") return Math.min(rr.ttl, rr.data.minimum);
  return undefined;
}
