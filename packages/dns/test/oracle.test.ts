/**
 * dns-packet 5.6.1 as an oracle: for random messages of the types both
 * libraries support, our encoding decodes with dns-packet to the same values,
 * and dns-packet's encoding decodes with ours to the same values.
 */
import { createRequire } from "node:module";
import dnsPacket from "dns-packet";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage, formatIpv6, optRecord, writeIpv6Text, type DataRecord, type Message, type OptRecord, type ResourceRecord } from "../src/index.js";
import { ipv4Arb, ipv6Arb, pooledName } from "./arbitraries.js";

// dns-packet's own type-name table, to map type codes the way it does.
const dpTypes = createRequire(import.meta.url)("dns-packet/types.js") as { toString(n: number): string; toType(s: string): number };

const name = pooledName(true);
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (max = 30): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const ascii = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789;.:/".split("")), minLength: min, maxLength: max });
/** Type codes dns-packet has no codec for either. */
const opaqueType = u16.filter((t) => dpTypes.toString(t).startsWith("UNKNOWN_") && t !== 0);
const anyTypeCode = fc.oneof(fc.constantFrom(1, 2, 5, 6, 15, 16, 28, 33, 43, 46, 47, 48, 257), opaqueType);

const rr = (type: string, data: fc.Arbitrary<unknown>): fc.Arbitrary<DataRecord> =>
  fc.record({ name, type: fc.constant(type), class: fc.constant(1), ttl: u32, data }) as fc.Arbitrary<DataRecord>;

const recordArb: fc.Arbitrary<DataRecord> = fc.oneof(
  rr("A", ipv4Arb),
  rr("AAAA", ipv6Arb),
  rr("NS", name),
  rr("CNAME", name),
  rr("PTR", name),
  rr("SOA", fc.record({ mname: name, rname: name, serial: u32, refresh: u32, retry: u32, expire: u32, minimum: u32 })),
  rr("MX", fc.record({ preference: u16, exchange: name })),
  rr("TXT", fc.array(bytes(255), { minLength: 1, maxLength: 3 })),
  rr("SRV", fc.record({ priority: u16, weight: u16, port: u16, target: name })),
  rr("CAA", fc.record({ flags: fc.constantFrom(0, 128), tag: ascii(1, 12).filter((s) => /^[a-z0-9]+$/.test(s)), value: ascii(0, 30).map((s) => new TextEncoder().encode(s)) })),
  rr("DS", fc.record({ keyTag: u16, algorithm: u8, digestType: u8, digest: bytes(48) })),
  rr("DNSKEY", fc.record({ flags: u16, protocol: fc.constant(3), algorithm: u8, publicKey: bytes(64) })),
  rr(
    "RRSIG",
    fc.record({ typeCovered: anyTypeCode, algorithm: u8, labels: u8, originalTtl: u32, expiration: u32, inception: u32, keyTag: u16, signerName: name, signature: bytes(64) }),
  ),
  rr("NSEC", fc.record({ nextName: name, types: fc.uniqueArray(anyTypeCode, { maxLength: 8 }).map((t) => t.sort((a, b) => a - b)) })),
  fc.record({ name, type: opaqueType, class: fc.constant(1), ttl: u32, data: bytes(40) }) as fc.Arbitrary<DataRecord>,
);

const optArb: fc.Arbitrary<OptRecord> = fc
  .record({
    // dns-packet writes 4096 for a payload size of 0 (`|| 4096`).
    udpPayloadSize: fc.integer({ min: 1, max: 0xffff }),
    extendedRcode: u8,
    version: u8,
    dnssecOk: fc.boolean(),
    options: fc.array(fc.record({ code: u16.filter((c) => ![8, 11, 12, 14].includes(c)), data: bytes(12) }), { maxLength: 2 }),
  })
  .map((o) => optRecord(o));

const messageArb: fc.Arbitrary<Message> = fc.record({
  id: u16,
  qr: fc.boolean(),
  opcode: fc.constantFrom(0, 1, 2, 4, 5),
  aa: fc.boolean(),
  tc: fc.boolean(),
  rd: fc.boolean(),
  ra: fc.boolean(),
  z: fc.boolean(),
  ad: fc.boolean(),
  cd: fc.boolean(),
  rcode: fc.integer({ min: 0, max: 10 }),
  questions: fc.array(fc.record({ name, type: fc.constantFrom("A", "AAAA", "MX", "TXT", "ANY") as fc.Arbitrary<"A">, class: fc.constant(1) }), { maxLength: 2 }),
  answers: fc.array(recordArb, { maxLength: 4 }) as fc.Arbitrary<ResourceRecord[]>,
  authorities: fc.array(recordArb, { maxLength: 2 }) as fc.Arbitrary<ResourceRecord[]>,
  additionals: fc.tuple(fc.array(recordArb, { maxLength: 2 }), fc.option(optArb, { nil: undefined })).map(([r, o]) => (o === undefined ? r : [...r, o]) as ResourceRecord[]),
});

type DpAnswer = dnsPacket.Answer & Record<string, unknown>;
const buf = (b: Uint8Array): Buffer => Buffer.from(b);
const v6bytes = (s: string): string => {
  const b = new Uint8Array(16);
  writeIpv6Text(s, b, 0);
  return formatIpv6(b, 0);
};

/** Our record in dns-packet's object form. */
function toDp(r: ResourceRecord): DpAnswer {
  if (r.type === "OPT") {
    return { name: ".", type: "OPT", udpPayloadSize: r.udpPayloadSize, extendedRcode: r.extendedRcode, ednsVersion: r.version, flags: (r.dnssecOk ? 0x8000 : 0) | r.z, options: r.options.map((o) => ({ code: o.code, data: buf(o.data) })) } as unknown as DpAnswer;
  }
  const base = { name: r.name, class: "IN", ttl: r.ttl } as Record<string, unknown>;
  switch (r.type) {
    case "SOA":
      return { ...base, type: "SOA", data: { ...r.data } } as DpAnswer;
    case "TXT":
      return { ...base, type: "TXT", data: r.data.map(buf) } as DpAnswer;
    case "CAA":
      return { ...base, type: "CAA", data: { flags: r.data.flags, tag: r.data.tag, value: new TextDecoder().decode(r.data.value) } } as DpAnswer;
    case "DS":
      return { ...base, type: "DS", data: { ...r.data, digest: buf(r.data.digest) } } as DpAnswer;
    case "DNSKEY":
      return { ...base, type: "DNSKEY", data: { flags: r.data.flags, algorithm: r.data.algorithm, key: buf(r.data.publicKey) } } as DpAnswer;
    case "RRSIG": {
      const d = r.data;
      return { ...base, type: "RRSIG", data: { typeCovered: dpTypes.toString(d.typeCovered), algorithm: d.algorithm, labels: d.labels, originalTTL: d.originalTtl, expiration: d.expiration, inception: d.inception, keyTag: d.keyTag, signersName: d.signerName, signature: buf(d.signature) } } as DpAnswer;
    }
    case "NSEC":
      return { ...base, type: "NSEC", data: { nextDomain: r.data.nextName, rrtypes: r.data.types.map((t) => dpTypes.toString(t)) } } as DpAnswer;
    case "MX":
    case "SRV":
      return { ...base, type: r.type, data: { ...r.data } } as DpAnswer;
    case "A":
    case "AAAA":
    case "NS":
    case "CNAME":
    case "PTR":
      return { ...base, type: r.type, data: r.data } as DpAnswer;
    default:
      if (typeof r.type !== "number") throw new Error(`not in the oracle set: ${r.type}`);
      return { ...base, type: dpTypes.toString(r.type), data: buf(r.data) } as DpAnswer;
  }
}

/** dns-packet's decoded record in our form. */
function fromDp(a: DpAnswer): ResourceRecord {
  const d = a.data as Record<string, unknown> & unknown[];
  const bytes = (x: unknown): Uint8Array => new Uint8Array(x as Buffer);
  if (a.type === "OPT") {
    const flags = a.flags as number;
    return { name: a.name, type: "OPT", udpPayloadSize: a.udpPayloadSize as number, extendedRcode: a.extendedRcode as number, version: a.ednsVersion as number, dnssecOk: (flags & 0x8000) !== 0, z: flags & 0x7fff, options: (a.options as { code: number; data: Buffer }[]).map((o) => ({ code: o.code, data: bytes(o.data) })) };
  }
  const base = { name: a.name, class: a.class === "IN" ? 1 : -1, ttl: a.ttl as number };
  switch (a.type) {
    case "A":
    case "NS":
    case "CNAME":
    case "PTR":
      return { ...base, type: a.type, data: a.data as string };
    case "AAAA":
      return { ...base, type: "AAAA", data: v6bytes(a.data as string) };
    case "SOA":
      return { ...base, type: "SOA", data: { ...(d as unknown as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }) } };
    case "MX":
      return { ...base, type: "MX", data: { preference: d.preference as number, exchange: d.exchange as string } };
    case "SRV":
      return { ...base, type: "SRV", data: { priority: d.priority as number, weight: d.weight as number, port: d.port as number, target: d.target as string } };
    case "TXT":
      return { ...base, type: "TXT", data: (d as unknown as Buffer[]).map(bytes) };
    case "CAA":
      return { ...base, type: "CAA", data: { flags: d.flags as number, tag: d.tag as string, value: new TextEncoder().encode(d.value as string) } };
    case "DS":
      return { ...base, type: "DS", data: { keyTag: d.keyTag as number, algorithm: d.algorithm as number, digestType: d.digestType as number, digest: bytes(d.digest) } };
    case "DNSKEY":
      return { ...base, type: "DNSKEY", data: { flags: d.flags as number, protocol: 3, algorithm: d.algorithm as number, publicKey: bytes(d.key) } };
    case "RRSIG":
      return {
        ...base,
        type: "RRSIG",
        data: { typeCovered: dpTypes.toType(d.typeCovered as string), algorithm: d.algorithm as number, labels: d.labels as number, originalTtl: d.originalTTL as number, expiration: d.expiration as number, inception: d.inception as number, keyTag: d.keyTag as number, signerName: d.signersName as string, signature: bytes(d.signature) },
      };
    case "NSEC":
      return { ...base, type: "NSEC", data: { nextName: d.nextDomain as string, types: (d.rrtypes as string[]).map((t) => dpTypes.toType(t)).sort((x, y) => x - y) } };
    default:
      return { ...base, type: dpTypes.toType(a.type), data: bytes(a.data) };
  }
}

const OPCODES: Record<string, number> = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 };
const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10 };

function messageFromDp(p: dnsPacket.DecodedPacket): Message {
  const x = p as unknown as Record<string, unknown>;
  return {
    id: p.id!,
    qr: x.flag_qr as boolean,
    opcode: OPCODES[x.opcode as string]!,
    aa: x.flag_aa as boolean,
    tc: x.flag_tc as boolean,
    rd: x.flag_rd as boolean,
    ra: x.flag_ra as boolean,
    z: x.flag_z as boolean,
    ad: x.flag_ad as boolean,
    cd: x.flag_cd as boolean,
    rcode: RCODES[x.rcode as string]!,
    questions: (p.questions ?? []).map((q) => ({ name: q.name, type: q.type as "A", class: q.class === "IN" ? 1 : -1 })),
    answers: (p.answers ?? []).map((a) => fromDp(a as DpAnswer)),
    authorities: (p.authorities ?? []).map((a) => fromDp(a as DpAnswer)),
    additionals: (p.additionals ?? []).map((a) => fromDp(a as DpAnswer)),
  };
}

function messageToDp(m: Message): dnsPacket.Packet {
  const flags = (m.opcode << 11) | (m.aa ? 0x400 : 0) | (m.tc ? 0x200 : 0) | (m.rd ? 0x100 : 0) | (m.ra ? 0x80 : 0) | (m.z ? 0x40 : 0) | (m.ad ? 0x20 : 0) | (m.cd ? 0x10 : 0) | m.rcode;
  return {
    id: m.id,
    type: m.qr ? "response" : "query",
    flags,
    questions: m.questions.map((q) => ({ name: q.name, type: q.type as "A", class: "IN" })),
    answers: m.answers.map(toDp),
    authorities: m.authorities.map(toDp),
    additionals: m.additionals.map(toDp),
  };
}

/** AAAA text may differ in form only; compare on canonical text. */
function normalise(m: Message): Message {
  const n = (r: ResourceRecord): ResourceRecord => (r.type === "AAAA" ? { ...r, data: v6bytes(r.data) } : r);
  return { ...m, answers: m.answers.map(n), authorities: m.authorities.map(n), additionals: m.additionals.map(n) };
}

describe("dns-packet as an oracle", () => {
  it("dns-packet decodes our (compressed) encoding to the same values", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const ours = encodeMessage(m);
        expect(normalise(messageFromDp(dnsPacket.decode(Buffer.from(ours))))).toEqual(normalise(m));
      }),
      { numRuns: 300 },
    );
  });

  it("we decode dns-packet's encoding to the same values", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const theirs = dnsPacket.encode(messageToDp(m));
        expect(normalise(decodeMessage(new Uint8Array(theirs)))).toEqual(normalise(m));
        // Without compression our bytes are dns-packet's bytes.
        expect(Buffer.from(encodeMessage(m, { compress: false })).equals(theirs)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
