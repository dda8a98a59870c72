/**
 * The message model. Decoded messages are plain objects; byte fields
 * (`Uint8Array`) are zero-copy views into the decoded buffer.
 */
import type { QType, RRType } from "./constants.js";

export interface Question {
  /** Canonical presentation name, no final dot; `.` for the root. */
  readonly name: string;
  /** A type name when this codec knows it (`"A"`, `"ANY"`), else the number. */
  readonly type: QType;
  /** 1 = IN. mDNS's unicast-response bit is bit 15 of this number. */
  readonly class: number;
}

export interface SoaData {
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}

export interface MxData {
  readonly preference: number;
  readonly exchange: string;
}

export interface SrvData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

export interface CaaData {
  /** Bit 7 (128) is "issuer critical". */
  readonly flags: number;
  readonly tag: string;
  readonly value: Uint8Array;
}

export interface DsData {
  readonly keyTag: number;
  readonly algorithm: number;
  readonly digestType: number;
  readonly digest: Uint8Array;
}

export interface DnskeyData {
  /** 256 = zone key, 257 = zone key + secure entry point. */
  readonly flags: number;
  /** Always 3 in valid records (kept as read). */
  readonly protocol: number;
  readonly algorithm: number;
  readonly publicKey: Uint8Array;
}

export interface RrsigData {
  /** A type code. */
  readonly typeCovered: number;
  readonly algorithm: number;
  readonly labels: number;
  readonly originalTtl: number;
  /** Seconds since 1970, modulo 2^32 (RFC 4034 §3.1.5). */
  readonly expiration: number;
  readonly inception: number;
  readonly keyTag: number;
  readonly signerName: string;
  readonly signature: Uint8Array;
}

export interface NsecData {
  readonly nextName: string;
  /** Type codes present at the owner, ascending (the type bitmap). */
  readonly types: readonly number[];
}

/** One SvcParam (RFC 9460 §2.2). Known keys are parsed; others keep their value bytes. */
export type SvcParam =
  | { readonly key: "mandatory"; readonly keys: readonly number[] }
  | { readonly key: "alpn"; /** Protocol ids, one char per byte (latin1). */ readonly protocols: readonly string[] }
  | { readonly key: "no-default-alpn" }
  | { readonly key: "port"; readonly port: number }
  | { readonly key: "ipv4hint"; readonly addresses: readonly string[] }
  | { readonly key: "ech"; readonly config: Uint8Array }
  | { readonly key: "ipv6hint"; readonly addresses: readonly string[] }
  | { readonly key: number; readonly value: Uint8Array };

export interface SvcbData {
  /** 0 = AliasMode. */
  readonly priority: number;
  readonly target: string;
  /** In wire order, as read (RFC 9460 requires ascending keys; not enforced on decode). */
  readonly params: readonly SvcParam[];
}

/** RDATA by type name. */
export interface RDataMap {
  A: string;
  NS: string;
  CNAME: string;
  SOA: SoaData;
  PTR: string;
  MX: MxData;
  /** The character-strings, each 0-255 bytes. See `txtToString`/`txtFromString`. */
  TXT: readonly Uint8Array[];
  AAAA: string;
  SRV: SrvData;
  DS: DsData;
  RRSIG: RrsigData;
  NSEC: NsecData;
  DNSKEY: DnskeyData;
  SVCB: SvcbData;
  HTTPS: SvcbData;
  CAA: CaaData;
}

export type TypedRRType = keyof RDataMap;

export interface RecordOf<T extends TypedRRType> {
  readonly name: string;
  readonly type: T;
  readonly class: number;
  readonly ttl: number;
  readonly data: RDataMap[T];
}

/** A record of a type without typed RDATA here: `type` is its number, `data` the RDATA bytes (RFC 3597). */
export interface UnknownRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly data: Uint8Array;
}

export interface EdnsOption {
  readonly code: number;
  readonly data: Uint8Array;
}

/**
 * The EDNS(0) pseudo-record (RFC 6891). On the wire its CLASS is the UDP
 * payload size and its TTL holds the extended rcode, version, DO bit and Z.
 */
export interface OptRecord {
  /** Must be the root (`.`); kept as read. */
  readonly name: string;
  readonly type: "OPT";
  readonly udpPayloadSize: number;
  /** The upper 8 bits of the 12-bit rcode (the header holds the lower 4). */
  readonly extendedRcode: number;
  readonly version: number;
  /** DNSSEC OK (RFC 3225). */
  readonly dnssecOk: boolean;
  /** The other 15 flag bits (reserved, zero). */
  readonly z: number;
  readonly options: readonly EdnsOption[];
}

export type TypedRecord = { [K in TypedRRType]: RecordOf<K> }[TypedRRType];
export type ResourceRecord = TypedRecord | OptRecord | UnknownRecord;
/** A record that is not OPT (what zones hold). */
export type DataRecord = TypedRecord | UnknownRecord;

export interface Message {
  readonly id: number;
  /** QR: true for a response. */
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  /** The Z bit (bit 6 of the flags; must be zero). */
  readonly z: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  /** The header's 4-bit rcode. With EDNS, see `fullRcode(message)`. */
  readonly rcode: number;
  readonly questions: readonly Question[];
  readonly answers: readonly ResourceRecord[];
  readonly authorities: readonly ResourceRecord[];
  readonly additionals: readonly ResourceRecord[];
}

export type { RRType, QType };
