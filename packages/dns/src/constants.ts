/**
 * Numbers of the DNS protocol: record types, classes, opcodes, rcodes, EDNS
 * option codes, SvcParam keys, and the mnemonics used in presentation format.
 */

/** Record types with a typed RDATA in this codec. Other types are numbers with opaque data. */
export const RR_TYPES = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  SVCB: 64,
  HTTPS: 65,
  CAA: 257,
} as const;

/** The name of a record type this codec decodes into typed data. */
export type RRType = keyof typeof RR_TYPES;

/** Query-only types (they never appear as records). */
export const QUERY_TYPES = { IXFR: 251, AXFR: 252, ANY: 255 } as const;
export type QueryOnlyType = keyof typeof QUERY_TYPES;

/** A question's type: a known name, a query-only name, or any other number. */
export type QType = RRType | QueryOnlyType | number;

/**
 * Mnemonics of other types, used only in presentation format (their records
 * are opaque: `HINFO \# 6 ...` in text, a number in `type`).
 */
const OTHER_TYPE_NAMES: Record<string, number> = {
  MD: 3, MF: 4, MB: 7, MG: 8, MR: 9, NULL: 10, WKS: 11, HINFO: 13, MINFO: 14, RP: 17, AFSDB: 18,
  X25: 19, ISDN: 20, RT: 21, NSAP: 22, "NSAP-PTR": 23, SIG: 24, KEY: 25, PX: 26, GPOS: 27, LOC: 29,
  NXT: 30, EID: 31, NIMLOC: 32, ATMA: 34, NAPTR: 35, KX: 36, CERT: 37, A6: 38, DNAME: 39, SINK: 40,
  APL: 42, SSHFP: 44, IPSECKEY: 45, DHCID: 49, NSEC3: 50, NSEC3PARAM: 51, TLSA: 52, SMIMEA: 53,
  HIP: 55, NINFO: 56, RKEY: 57, TALINK: 58, CDS: 59, CDNSKEY: 60, OPENPGPKEY: 61, CSYNC: 62,
  ZONEMD: 63, SPF: 99, UINFO: 100, UID: 101, GID: 102, UNSPEC: 103, NID: 104, L32: 105, L64: 106,
  LP: 107, EUI48: 108, EUI64: 109, TKEY: 249, TSIG: 250, MAILB: 253, MAILA: 254, URI: 256, AVC: 258,
  DOA: 259, AMTRELAY: 260, TA: 32768, DLV: 32769,
};

const TYPE_BY_NAME = new Map<string, number>();
const NAME_BY_TYPE = new Map<number, string>();
for (const [n, v] of [...Object.entries(OTHER_TYPE_NAMES), ...Object.entries(QUERY_TYPES), ...Object.entries(RR_TYPES)]) {
  TYPE_BY_NAME.set(n, v);
  NAME_BY_TYPE.set(v, n);
}

/** Known type codes → their names (indexable by number; undefined for others). */
export const KNOWN_TYPE_NAME: (RRType | undefined)[] = [];
for (const [n, v] of Object.entries(RR_TYPES)) KNOWN_TYPE_NAME[v] = n as RRType;
/** Question type codes → names (known record types and the query-only types). */
export const QTYPE_NAME: (RRType | QueryOnlyType | undefined)[] = [...KNOWN_TYPE_NAME];
for (const [n, v] of Object.entries(QUERY_TYPES)) QTYPE_NAME[v] = n as QueryOnlyType;

/** The numeric code of a type name or number. Throws nothing: unknown names give -1. */
export function typeCode(t: QType | string): number {
  if (typeof t === "number") return t;
  const v = TYPE_BY_NAME.get(t.toUpperCase());
  if (v !== undefined) return v;
  const m = /^TYPE(\d{1,5})$/i.exec(t);
  if (m !== null) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return -1;
}

/** The presentation mnemonic of a type: `A`, `HINFO`, or `TYPE65280` (RFC 3597). */
export function typeName(t: QType | string): string {
  if (typeof t === "string") return t;
  return NAME_BY_TYPE.get(t) ?? `TYPE${t}`;
}

/** The value used in `Question.type` / `record.type` for a code: a name when typed, else the number. */
export function qtypeOf(code: number): QType {
  return QTYPE_NAME[code] ?? code;
}

export const CLASS = { IN: 1, CS: 2, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

/** `IN`, `CH`, ... or `CLASS42` (RFC 3597). */
export function className(c: number): string {
  switch (c) {
    case 1:
      return "IN";
    case 2:
      return "CS";
    case 3:
      return "CH";
    case 4:
      return "HS";
    case 254:
      return "NONE";
    case 255:
      return "ANY";
    default:
      return `CLASS${c}`;
  }
}

/** The class code of a mnemonic (`IN`, `CLASS1`), or -1. */
export function classCode(text: string): number {
  const u = text.toUpperCase();
  const v = (CLASS as Record<string, number>)[u];
  if (v !== undefined) return v;
  const m = /^CLASS(\d{1,5})$/.exec(u);
  if (m !== null && Number(m[1]) <= 0xffff) return Number(m[1]);
  return -1;
}

export const OPCODE = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5, DSO: 6 } as const;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  DSOTYPENI: 11,
  /** Extended (needs OPT): 16 = BADVERS (RFC 6891). */
  BADVERS: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADMODE: 19,
  BADNAME: 20,
  BADALG: 21,
  BADTRUNC: 22,
  BADCOOKIE: 23,
} as const;

const RCODE_NAME = new Map<number, string>(Object.entries(RCODE).map(([k, v]) => [v, k]));
/** `NOERROR`, `NXDOMAIN`, ..., or `RCODE42`. */
export function rcodeName(r: number): string {
  return RCODE_NAME.get(r) ?? `RCODE${r}`;
}
const OPCODE_NAME = new Map<number, string>(Object.entries(OPCODE).map(([k, v]) => [v, k]));
export function opcodeName(o: number): string {
  return OPCODE_NAME.get(o) ?? `OPCODE${o}`;
}

/** EDNS(0) option codes (IANA "DNS EDNS0 Option Codes"). */
export const EDNS_OPTION = {
  LLQ: 1,
  UL: 2,
  NSID: 3,
  DAU: 5,
  DHU: 6,
  N3U: 7,
  CLIENT_SUBNET: 8,
  EXPIRE: 9,
  COOKIE: 10,
  TCP_KEEPALIVE: 11,
  PADDING: 12,
  CHAIN: 13,
  KEY_TAG: 14,
  EXTENDED_ERROR: 15,
} as const;

/** The DO (DNSSEC OK) bit in the OPT record's flags word. */
export const EDNS_DO = 0x8000;

/** SvcParamKeys (RFC 9460 §14.3.2). */
export const SVC_KEYS = {
  mandatory: 0,
  alpn: 1,
  "no-default-alpn": 2,
  port: 3,
  ipv4hint: 4,
  ech: 5,
  ipv6hint: 6,
} as const;
export type SvcKeyName = keyof typeof SVC_KEYS;
export const SVC_KEY_NAME: (SvcKeyName | undefined)[] = [];
for (const [n, v] of Object.entries(SVC_KEYS)) SVC_KEY_NAME[v] = n as SvcKeyName;

/** `alpn`, ... or `key65000` (RFC 9460 §2.1). */
export function svcKeyName(k: number): string {
  return SVC_KEY_NAME[k] ?? `key${k}`;
}
/** The SvcParamKey of a mnemonic or `keyNNNNN`, or -1. */
export function svcKeyCode(text: string): number {
  const v = (SVC_KEYS as Record<string, number>)[text];
  if (v !== undefined) return v;
  const m = /^key(\d{1,5})$/.exec(text);
  if (m !== null && Number(m[1]) <= 0xffff && (m[1] === "0" || !m[1]!.startsWith("0"))) return Number(m[1]);
  return -1;
}
