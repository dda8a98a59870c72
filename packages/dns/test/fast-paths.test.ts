/**
 * The codec's fast paths against plain references: name compression (the
 * encoder writes unseen names straight from the string, caches names seen
 * twice, and points repeated names at their first occurrence) against a
 * naive compressor; string creation from bytes against String.fromCharCode;
 * the decoder's per-message memo and name cache against fresh decoding.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { asciiText, portableText } from "../src/ascii.js";
import { decodeMessage, DnsDecodeError, encodeMessage, encodeMessageInto, nameLabels, type Message, type ResourceRecord } from "../src/index.js";

/** RFC 1035 §4.1.4 compression, naively: the earliest occurrence of the longest suffix, case-sensitive. */
function refEncode(m: Message): Uint8Array {
  const out: number[] = [];
  const seen = new Map<string, number>();
  const u16 = (v: number) => out.push(v >> 8, v & 255);
  const u32 = (v: number) => out.push(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  const name = (n: string, compress: boolean) => {
    const labels = nameLabels(n);
    const key = (j: number) => labels.slice(j).map((l) => `${l.length}:${[...l].join(",")}`).join("|");
    let j = labels.length;
    if (compress) {
      for (let k = 0; k < labels.length; k++) {
        if (seen.has(key(k))) {
          j = k;
          break;
        }
      }
    }
    for (let k = 0; k < j; k++) {
      if (compress && out.length < 0x4000 && !seen.has(key(k))) seen.set(key(k), out.length);
      out.push(labels[k]!.length, ...labels[k]!);
    }
    if (j < labels.length) u16(0xc000 | seen.get(key(j))!);
    else out.push(0);
  };
  u16(m.id);
  out.push((m.qr ? 0x80 : 0) | (m.rd ? 1 : 0), 0);
  u16(m.questions.length);
  u16(m.answers.length);
  u16(0);
  u16(0);
  for (const q of m.questions) {
    name(q.name, true);
    u16(1);
    u16(1);
  }
  for (const rr of m.answers) {
    name(rr.name, true);
    const code = { A: 1, NS: 2, CNAME: 5, MX: 15, SRV: 33 }[rr.type as "A"];
    u16(code);
    u16(1);
    u32((rr as { ttl: number }).ttl);
    const at = out.length;
    u16(0);
    if (rr.type === "A") out.push(...rr.data.split(".").map(Number));
    else if (rr.type === "NS" || rr.type === "CNAME") name(rr.data, true);
    else if (rr.type === "MX") {
      u16(rr.data.preference);
      name(rr.data.exchange, true);
    } else if (rr.type === "SRV") {
      u16(rr.data.priority);
      u16(rr.data.weight);
      u16(rr.data.port);
      name(rr.data.target, false);
    }
    const len = out.length - at - 2;
    out[at] = len >> 8;
    out[at + 1] = len & 255;
  }
  return Uint8Array.from(out);
}

// A small pool of related names, so suffixes and whole names repeat, in
// several cases, as the same string object and as equal copies.
const BASE = ["example.com", "www.example.com", "a.b.example.com", "b.example.com", "EXAMPLE.com", "mail.Example.com", "other.net", "x.other.net", "example.com.", "com"];
const nameArb = fc.oneof(fc.constantFrom(...BASE), fc.constantFrom(...BASE).map((s) => s.split("").join("")), fc.stringMatching(/^[a-z]{1,8}\.(example\.com|other\.net)$/));
const recordArb: fc.Arbitrary<ResourceRecord> = fc.oneof(
  fc.record({ name: nameArb, type: fc.constant("A" as const), class: fc.constant(1), ttl: fc.nat(), data: fc.ipV4() }),
  fc.record({ name: nameArb, type: fc.constant("NS" as const), class: fc.constant(1), ttl: fc.nat(), data: nameArb }),
  fc.record({ name: nameArb, type: fc.constant("CNAME" as const), class: fc.constant(1), ttl: fc.nat(), data: nameArb }),
  fc.record({ name: nameArb, type: fc.constant("MX" as const), class: fc.constant(1), ttl: fc.nat(), data: fc.record({ preference: fc.nat(0xffff), exchange: nameArb }) }),
  fc.record({
    name: nameArb,
    type: fc.constant("SRV" as const),
    class: fc.constant(1),
    ttl: fc.nat(),
    data: fc.record({ priority: fc.nat(0xffff), weight: fc.nat(0xffff), port: fc.nat(0xffff), target: nameArb }),
  }),
);
const messageArb: fc.Arbitrary<Message> = fc.record({ id: fc.nat(0xffff), q: nameArb, answers: fc.array(recordArb, { maxLength: 12 }), qr: fc.boolean(), rd: fc.boolean() }).map(({ id, q, answers, qr, rd }) => ({
  id,
  qr,
  opcode: 0,
  aa: false,
  tc: false,
  rd,
  ra: false,
  z: false,
  ad: false,
  cd: false,
  rcode: 0,
  questions: [{ name: q, type: "A", class: 1 }],
  answers,
  authorities: [],
  additionals: [],
}));

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("encoder fast paths", () => {
  it("compress exactly as the naive reference, on every path (direct, cached, repeated names)", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const ref = hex(refEncode(m));
        // Three times: names unseen, seen once (admitted to the cache), cached.
        for (let i = 0; i < 3; i++) expect(hex(encodeMessage(m))).toBe(ref);
        const buf = new Uint8Array(refEncode(m).length);
        expect(encodeMessageInto(m, buf)).toBe(buf.length);
        expect(hex(buf)).toBe(ref);
      }),
      { numRuns: 500 },
    );
  });

  it("points a repeated name at its first occurrence, never at an uncompressed SRV target", () => {
    const m: Message = {
      ...decodeMessage(encodeMessage({ id: 1, qr: true, opcode: 0, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0, questions: [{ name: "www.example.com", type: "A", class: 1 }], answers: [], authorities: [], additionals: [] })),
      answers: [
        { name: "example.com", type: "SRV", class: 1, ttl: 1, data: { priority: 0, weight: 0, port: 1, target: "a.example.com" } },
        { name: "a.example.com", type: "A", class: 1, ttl: 1, data: "10.0.0.1" },
        { name: "a.example.com", type: "A", class: 1, ttl: 1, data: "10.0.0.2" },
        { name: "example.com", type: "NS", class: 1, ttl: 1, data: "example.com" },
      ],
    };
    expect(hex(encodeMessage(m))).toBe(hex(refEncode(m)));
  });
});

describe("string creation", () => {
  it("asciiText and portableText equal String.fromCharCode for every length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => b.map((x) => 0x21 + (x % 94))), fc.nat(8), (bytes, off) => {
        const buf = new Uint8Array(off + bytes.length + 3);
        buf.set(bytes, off);
        const want = String.fromCharCode(...bytes);
        expect(asciiText(buf, off, off + bytes.length)).toBe(want);
        expect(portableText(buf, off, off + bytes.length)).toBe(want);
      }),
    );
  });
});

describe("decoder fast paths", () => {
  it("memo and cache give the same names as a fresh decode, in any case and order", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const bytes = encodeMessage(m).slice();
        const a = decodeMessage(bytes);
        const b = decodeMessage(bytes);
        expect(b).toEqual(a);
        expect(a.answers.map((r) => r.name)).toEqual(m.answers.map((r) => nameOf(r.name)));
        expect(a.questions[0]!.name).toBe(nameOf(m.questions[0]!.name));
      }),
      { numRuns: 300 },
    );
  });

  it("a pointer to a memoised name still counts that name's pointers against maxPointers", () => {
    const m: Message = {
      id: 1, qr: true, opcode: 0, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0,
      questions: [{ name: "www.example.com", type: "A", class: 1 }],
      answers: [
        { name: "a.example.com", type: "A", class: 1, ttl: 1, data: "10.0.0.1" }, // a + pointer: 1 jump
        { name: "a.example.com", type: "A", class: 1, ttl: 1, data: "10.0.0.2" }, // pointer to it: 2 jumps
      ],
      authorities: [],
      additionals: [],
    };
    const bytes = encodeMessage(m).slice();
    expect(decodeMessage(bytes).answers[1]!.name).toBe("a.example.com");
    expect(decodeMessage(bytes, { maxPointers: 2 }).answers[1]!.name).toBe("a.example.com");
    expect(() => decodeMessage(bytes, { maxPointers: 1 })).toThrow(DnsDecodeError);
    expect(() => decodeMessage(bytes, { forwardPointers: false, maxPointers: 1 })).toThrow(/more than 1 compression pointers/);
  });

  it("names with bytes that need escapes skip the fast path", () => {
    const wire = Uint8Array.of(0, 1, 0x81, 0, 0, 1, 0, 1, 0, 0, 0, 0, 3, 0x61, 0x2e, 0x20, 1, 0x7f, 0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4);
    const m = decodeMessage(wire);
    expect(m.questions[0]!.name).toBe("a\\.\\032.\\127");
    expect(m.answers[0]!.name).toBe("a\\.\\032.\\127");
    expect(decodeMessage(wire).questions[0]!.name).toBe("a\\.\\032.\\127");
  });
});

function nameOf(n: string): string {
  return n.endsWith(".") && n.length > 1 ? n.slice(0, -1) : n;
}
