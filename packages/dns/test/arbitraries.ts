/** fast-check arbitraries for names, records of every type, and messages. */
import fc from "fast-check";
import { formatIpv4, formatIpv6, labelsToName, optRecord, type DataRecord, type EdnsOption, type Message, type OptRecord, type Question, type ResourceRecord, type SvcParam } from "../src/index.js";

const PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/** A label: mostly letters/digits, sometimes any bytes (escapes, dots, non-ASCII). */
export const labelBytes = (plainOnly = false): fc.Arbitrary<Uint8Array> =>
  plainOnly
    ? fc.string({ unit: fc.constantFrom(...PLAIN.split("")), minLength: 1, maxLength: 12 }).map((s) => Uint8Array.from(s, (c) => c.charCodeAt(0)))
    : fc.oneof(
        { weight: 4, arbitrary: labelBytes(true) },
        { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 63 }) },
      );

/** A canonical name (wire length <= 255). */
export const nameArb = (plainOnly = false, maxLabels = 5): fc.Arbitrary<string> =>
  fc.array(labelBytes(plainOnly), { minLength: 0, maxLength: maxLabels }).map((labels) => {
    const out: Uint8Array[] = [];
    let total = 1;
    for (const l of labels) {
      if (total + l.length + 1 > 255) break;
      out.push(l);
      total += l.length + 1;
    }
    return labelsToName(out);
  });

/** Names drawn from a small pool so that compression has suffixes to share. */
export const pooledName = (plainOnly = false): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom("example.com", "www.example.com", "mail.example.com", "Example.COM", "a.b.c.example.com", "."),
    nameArb(plainOnly),
    fc.tuple(labelBytes(plainOnly), fc.constantFrom("example.com", "b.c.example.com")).map(([l, s]) => labelsToName([l]) + "." + s),
  );

export const ipv4Arb = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIpv4(b, 0));
export const ipv6Arb = fc
  .oneof(
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    // Zero runs exercise "::" compression.
    fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([s, l, b]) => {
      b.fill(0, s, Math.min(16, s + l));
      return b;
    }),
  )
  .map((b) => formatIpv6(b, 0));

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (max = 40): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const latin1 = (min: number, max: number, chars?: string): fc.Arbitrary<string> =>
  chars !== undefined
    ? fc.string({ unit: fc.constantFrom(...chars.split("")), minLength: min, maxLength: max })
    : fc.uint8Array({ minLength: min, maxLength: max }).map((b) => String.fromCharCode(...b));

export const svcParamArb: fc.Arbitrary<SvcParam> = fc.oneof(
  fc.array(u16, { minLength: 1, maxLength: 4 }).map((keys) => ({ key: "mandatory" as const, keys })),
  fc.array(latin1(1, 10), { minLength: 1, maxLength: 3 }).map((protocols) => ({ key: "alpn" as const, protocols })),
  fc.constant({ key: "no-default-alpn" as const }),
  u16.map((port) => ({ key: "port" as const, port })),
  fc.array(ipv4Arb, { minLength: 1, maxLength: 3 }).map((addresses) => ({ key: "ipv4hint" as const, addresses })),
  bytes().map((config) => ({ key: "ech" as const, config })),
  fc.array(ipv6Arb, { minLength: 1, maxLength: 3 }).map((addresses) => ({ key: "ipv6hint" as const, addresses })),
  fc.tuple(fc.integer({ min: 7, max: 0xffff }), bytes()).map(([key, value]) => ({ key, value })),
);

const TYPED_CODES = new Set([1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 43, 46, 47, 48, 64, 65, 257, 251, 252, 255]);
export const unknownTypeArb = u16.filter((t) => !TYPED_CODES.has(t));

/** Record data per type, keyed by type name; `plain` restricts names to what dns-packet handles. */
export function rdataArbs(plain = false) {
  const name = pooledName(plain);
  return {
    A: ipv4Arb,
    AAAA: ipv6Arb,
    NS: name,
    CNAME: name,
    PTR: name,
    SOA: fc.record({ mname: name, rname: name, serial: u32, refresh: u32, retry: u32, expire: u32, minimum: u32 }),
    MX: fc.record({ preference: u16, exchange: name }),
    TXT: fc.array(bytes(255), { minLength: plain ? 1 : 0, maxLength: 4 }),
    SRV: fc.record({ priority: u16, weight: u16, port: u16, target: name }),
    CAA: fc.record({ flags: plain ? fc.constantFrom(0, 128) : u8, tag: plain ? latin1(1, 10, "abcdefghijklmnopqrstuvwxyz") : latin1(0, 15), value: bytes() }),
    DS: fc.record({ keyTag: u16, algorithm: u8, digestType: u8, digest: bytes(48) }),
    DNSKEY: fc.record({ flags: u16, protocol: u8, algorithm: u8, publicKey: bytes(64) }),
    RRSIG: fc.record({
      typeCovered: u16,
      algorithm: u8,
      labels: u8,
      originalTtl: u32,
      expiration: u32,
      inception: u32,
      keyTag: u16,
      signerName: name,
      signature: bytes(64),
    }),
    NSEC: fc.record({ nextName: name, types: fc.uniqueArray(u16, { maxLength: 12 }).map((t) => t.sort((a, b) => a - b)) }),
    SVCB: fc.record({ priority: u16, target: name, params: fc.array(svcParamArb, { maxLength: 4 }) }),
    HTTPS: fc.record({ priority: u16, target: name, params: fc.array(svcParamArb, { maxLength: 4 }) }),
  };
}

export type TypedName = keyof ReturnType<typeof rdataArbs>;
export const TYPED_NAMES = Object.keys(rdataArbs()) as TypedName[];

export function recordArb(type: TypedName | "unknown", plain = false, classArb: fc.Arbitrary<number> = fc.constant(1)): fc.Arbitrary<DataRecord> {
  const owner = pooledName(plain);
  if (type === "unknown") {
    return fc.record({ name: owner, type: unknownTypeArb, class: classArb, ttl: u32, data: bytes(60) }) as fc.Arbitrary<DataRecord>;
  }
  return fc.record({ name: owner, type: fc.constant(type), class: classArb, ttl: u32, data: rdataArbs(plain)[type] as fc.Arbitrary<unknown> }) as fc.Arbitrary<DataRecord>;
}

export const anyRecordArb = (plain = false): fc.Arbitrary<DataRecord> =>
  fc.oneof(...(plain ? TYPED_NAMES.filter((t) => t !== "SVCB" && t !== "HTTPS") : TYPED_NAMES).map((t) => recordArb(t, plain)), recordArb("unknown", plain));

export const ednsOptionArb: fc.Arbitrary<EdnsOption> = fc.record({ code: u16, data: bytes(20) });
export const optArb: fc.Arbitrary<OptRecord> = fc
  .record({ udpPayloadSize: u16, extendedRcode: u8, version: u8, dnssecOk: fc.boolean(), z: fc.integer({ min: 0, max: 0x7fff }), options: fc.array(ednsOptionArb, { maxLength: 3 }) })
  .map((o) => ({ ...optRecord(o), z: o.z }));

export const questionArb = (plain = false): fc.Arbitrary<Question> =>
  fc.record({ name: pooledName(plain), type: fc.oneof(fc.constantFrom("A", "AAAA", "MX", "ANY", "AXFR", "TXT", "HTTPS"), unknownTypeArb) as fc.Arbitrary<Question["type"]>, class: plain ? fc.constant(1) : u16 });

export const messageArb = (plain = false): fc.Arbitrary<Message> =>
  fc.record({
    id: u16,
    qr: fc.boolean(),
    opcode: fc.integer({ min: 0, max: 15 }),
    aa: fc.boolean(),
    tc: fc.boolean(),
    rd: fc.boolean(),
    ra: fc.boolean(),
    z: fc.boolean(),
    ad: fc.boolean(),
    cd: fc.boolean(),
    rcode: fc.integer({ min: 0, max: 15 }),
    questions: fc.array(questionArb(plain), { maxLength: 2 }),
    answers: fc.array(anyRecordArb(plain), { maxLength: 5 }) as fc.Arbitrary<ResourceRecord[]>,
    authorities: fc.array(anyRecordArb(plain), { maxLength: 3 }) as fc.Arbitrary<ResourceRecord[]>,
    additionals: fc.tuple(fc.array(anyRecordArb(plain), { maxLength: 3 }), fc.option(optArb, { nil: undefined })).map(([rs, o]) => (o === undefined ? rs : [...rs, o]) as ResourceRecord[]),
  });
