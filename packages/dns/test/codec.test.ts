import fc from "fast-check";
import { isMorganaError } from "@morgana/interfaces";
import { describe, expect, it } from "vitest";
import {
  buildQuery,
  decodeHeader,
  decodeMessage,
  DnsDecodeError,
  encodedLength,
  encodeMessage,
  encodeMessageInto,
  encodeTcpMessage,
  fullRcode,
  getOpt,
  labelsToName,
  NAME_SLOTS,
  optRecord,
  type DataRecord,
  type Message,
  type ResourceRecord,
} from "../src/index.js";
import { anyRecordArb, messageArb, recordArb, TYPED_NAMES } from "./arbitraries.js";
import { decodeError, header, hex, toHexString, wireName } from "./helpers.js";

function messageWith(answers: ResourceRecord[], additionals: ResourceRecord[] = []): Message {
  return { ...buildQuery("example.com", "A", { id: 7, edns: false }), qr: true, answers, additionals };
}

describe("round trips", () => {
  for (const t of [...TYPED_NAMES, "unknown" as const]) {
    it(`decode(encode(rr)) = rr for ${t}`, () => {
      fc.assert(
        fc.property(recordArb(t, false, fc.integer({ min: 0, max: 0xffff })), fc.boolean(), (rr, compress) => {
          const m = messageWith([rr]);
          const back = decodeMessage(encodeMessage(m, { compress }));
          expect(back.answers).toEqual([rr]);
        }),
      );
    });
  }

  it("decode(encode(m)) = m for whole messages, compressed or not", () => {
    fc.assert(
      fc.property(messageArb(), fc.boolean(), (m, compress) => {
        const b = encodeMessage(m, { compress });
        expect(decodeMessage(b)).toEqual(m);
        expect(encodedLength(m, { compress })).toBe(b.length);
      }),
    );
  });

  it("encode(decode(b)) = b for our own encodings (compression decisions are reproducible)", () => {
    fc.assert(
      fc.property(messageArb(), (m) => {
        const b = encodeMessage(m);
        expect(toHexString(encodeMessage(decodeMessage(b)))).toBe(toHexString(b));
      }),
    );
  });

  it("compression never makes a message longer and keeps every name's case", () => {
    fc.assert(
      fc.property(messageArb(), (m) => {
        const c = encodeMessage(m);
        const u = encodeMessage(m, { compress: false });
        expect(c.length).toBeLessThanOrEqual(u.length);
        expect(decodeMessage(c)).toEqual(decodeMessage(u));
      }),
    );
  });

  it("encodeMessageInto writes at an offset with offsets relative to the message, and refuses a small buffer", () => {
    fc.assert(
      fc.property(messageArb(), fc.integer({ min: 0, max: 40 }), (m, off) => {
        const ref = encodeMessage(m);
        const buf = new Uint8Array(off + ref.length + 3).fill(0xee);
        const n = encodeMessageInto(m, buf, off);
        expect(n).toBe(ref.length);
        expect(toHexString(buf.subarray(off, off + n))).toBe(toHexString(ref));
        expect(buf[off + n]).toBe(0xee);
        if (ref.length > 12) {
          let err: unknown;
          try {
            encodeMessageInto(m, new Uint8Array(ref.length - 1));
          } catch (e) {
            err = e;
          }
          expect(isMorganaError(err, "EMSGSIZE")).toBe(true);
        }
      }),
    );
  });

  it("the encoder's name cache survives eviction and invalid names", () => {
    // More distinct names than NAME_SLOTS, with invalid names in between that
    // fail after the slot's bytes were overwritten.
    const names = Array.from({ length: NAME_SLOTS + 50 }, (_, i) => `host-${i}.cache.test`);
    for (let round = 0; round < 3; round++) {
      for (const [i, n] of names.entries()) {
        const m = messageWith([{ name: n, type: "A", class: 1, ttl: 1, data: "1.2.3.4" }]);
        expect(decodeMessage(encodeMessage(m)).answers[0]!.name).toBe(n);
        if (i % 7 === 0) expect(() => encodeMessage(messageWith([{ name: `bad..${i}`, type: "A", class: 1, ttl: 1, data: "1.2.3.4" }]))).toThrow(/empty label/);
      }
    }
  });

  it("encodeTcpMessage prefixes the length", () => {
    fc.assert(
      fc.property(messageArb(), (m) => {
        const f = encodeTcpMessage(m);
        const b = encodeMessage(m);
        expect((f[0]! << 8) | f[1]!).toBe(b.length);
        expect(toHexString(f.subarray(2))).toBe(toHexString(b));
      }),
    );
  });

  it("large messages fall back from the pool and still round-trip", () => {
    const answers: ResourceRecord[] = [];
    for (let i = 0; i < 600; i++) answers.push({ name: `host${i}.example.com`, type: "TXT", class: 1, ttl: 60, data: [new Uint8Array(80).fill(65 + (i % 26))] });
    const m = messageWith(answers);
    const b = encodeMessage(m);
    expect(b.length).toBeGreaterThan(16384);
    expect(decodeMessage(b)).toEqual(m);
  });
});

describe("the header and flags", () => {
  it("reads every flag bit where RFC 1035 / RFC 4035 put it", () => {
    const b = new Uint8Array([...header(0, 0, 0, 0, 0xbeef, 0b1_0101_1_0_1_1_0_1_0_1011)]);
    const m = decodeMessage(b);
    expect(m).toMatchObject({ id: 0xbeef, qr: true, opcode: 5, aa: true, tc: false, rd: true, ra: true, z: false, ad: true, cd: false, rcode: 11 });
    expect(decodeHeader(b)).toMatchObject({ id: 0xbeef, flags: 0b1010_1101_1010_1011, qr: true, opcode: 5, rcode: 11, qdcount: 0 });
  });

  it("the full rcode joins the OPT extended rcode (BADVERS = 16)", () => {
    const m: Message = { ...messageWith([], [optRecord({ extendedRcode: 1 })]), rcode: 0 };
    const back = decodeMessage(encodeMessage(m));
    expect(fullRcode(back)).toBe(16);
    expect(getOpt(back)?.extendedRcode).toBe(1);
    expect(fullRcode(messageWith([]))).toBe(0);
  });

  it("OPT fields sit in CLASS and TTL (RFC 6891 §6.1.3)", () => {
    const m = messageWith([], [{ ...optRecord({ udpPayloadSize: 4096, extendedRcode: 0xab, version: 0xcd, dnssecOk: true }), z: 0x1234 }]);
    const b = encodeMessage(m);
    // The OPT RR is the last 11 bytes: root, type 41, class 4096, ttl ab cd 92 34, rdlen 0.
    expect(toHexString(b.subarray(b.length - 11))).toBe("00" + "0029" + "1000" + "abcd9234" + "0000");
  });
});

describe("name compression", () => {
  it("follows RFC 1035 §4.1.4: repeated suffixes become pointers", () => {
    const m = messageWith([{ name: "F.ISI.ARPA", type: "NS", class: 1, ttl: 0, data: "FOO.F.ISI.ARPA" }, { name: "ARPA", type: "NS", class: 1, ttl: 0, data: "." }]);
    const b = encodeMessage({ ...m, questions: [] });
    // F.ISI.ARPA at 12, then type etc. at 24; FOO + pointer to 12 in RDATA.
    expect(toHexString(b.subarray(12, 24))).toBe("0146034953490441525041" + "00");
    expect(toHexString(b.subarray(34, 40))).toBe("03464f4fc00c");
    // ARPA as a pointer to offset 18 (inside F.ISI.ARPA).
    expect(toHexString(b.subarray(40, 42))).toBe("c012");
  });

  it("matches suffixes case-sensitively, so every name keeps its case", () => {
    const m = messageWith([{ name: "WWW.Example.COM", type: "CNAME", class: 1, ttl: 1, data: "www.example.com" }]);
    const b = encodeMessage(m);
    const back = decodeMessage(b);
    expect(back.answers[0]).toEqual(m.answers[0]);
    expect(back.questions[0]!.name).toBe("example.com");
  });

  it("does not compress names in SRV, RRSIG, NSEC, SVCB RDATA (RFC 3597 §4) but does in NS/CNAME/PTR/MX/SOA", () => {
    const base = "target.example.com";
    const mk = (rr: DataRecord): Uint8Array => encodeMessage({ ...messageWith([{ name: base, type: "A", class: 1, ttl: 1, data: "1.2.3.4" }, rr]), questions: [] });
    const full = wireName(base).length;
    const srv = mk({ name: "x", type: "SRV", class: 1, ttl: 1, data: { priority: 1, weight: 2, port: 3, target: base } });
    const svcb = mk({ name: "x", type: "HTTPS", class: 1, ttl: 1, data: { priority: 1, target: base, params: [] } });
    const mx = mk({ name: "x", type: "MX", class: 1, ttl: 1, data: { preference: 1, exchange: base } });
    const ns = mk({ name: "x", type: "NS", class: 1, ttl: 1, data: base });
    // The RDATA is the tail of each message.
    expect(toHexString(srv.subarray(srv.length - full))).toBe(toHexString(Uint8Array.from(wireName(base))));
    expect(toHexString(svcb.subarray(svcb.length - full))).toBe(toHexString(Uint8Array.from(wireName(base))));
    expect(toHexString(mx.subarray(mx.length - 2))).toBe("c00c");
    expect(toHexString(ns.subarray(ns.length - 2))).toBe("c00c");
  });

  it("never points at offsets of 0x4000 or more (14-bit pointers)", () => {
    const answers: ResourceRecord[] = [{ name: "pad.example", type: "TXT", class: 1, ttl: 1, data: Array.from({ length: 70 }, () => new Uint8Array(255)) }];
    answers.push({ name: "late.name.test", type: "A", class: 1, ttl: 1, data: "1.1.1.1" });
    answers.push({ name: "late.name.test", type: "A", class: 1, ttl: 1, data: "2.2.2.2" });
    const m = messageWith(answers);
    const b = encodeMessage(m);
    expect(b.length).toBeGreaterThan(0x4000);
    // The second late.name.test could only point beyond 0x4000: written in full.
    expect(toHexString(b)).toContain(toHexString(Uint8Array.from(wireName("late.name.test"))) + "0001" + "0001" + "00000001" + "0004" + "02020202");
    expect(decodeMessage(b)).toEqual(m);
  });
});

describe("decoding names", () => {
  const q = (nameBytes: number[], extra: number[] = []): Uint8Array => Uint8Array.from([...header(1), ...nameBytes, 0, 1, 0, 1, ...extra]);

  it("accepts a name of exactly 255 wire bytes and rejects 256", () => {
    // 3 labels of 63 + 1 label of 61 = 4*1 + 250 + root = 255.
    const l63 = Array(63).fill(0x61);
    const ok = [63, ...l63, 63, ...l63, 63, ...l63, 61, ...Array(61).fill(0x62), 0];
    expect(ok.length).toBe(255);
    const name = decodeMessage(q(ok)).questions[0]!.name;
    expect(name.length).toBe(253);
    const bad = [63, ...l63, 63, ...l63, 63, ...l63, 62, ...Array(62).fill(0x62), 0];
    expect(decodeError(() => decodeMessage(q(bad))).reason).toMatch(/longer than 255/);
  });

  it("counts bytes across pointers: a jump does not reset the length", () => {
    // Name A at 12: 63+63+63 labels (193 bytes). Question 2: 63-byte label + pointer to A = 257 bytes.
    const l63 = Array(63).fill(0x61);
    const a = [63, ...l63, 63, ...l63, 63, ...l63, 0];
    const b = [63, ...l63, 0xc0, 12];
    const msg = Uint8Array.from([...header(2), ...a, 0, 1, 0, 1, ...b, 0, 1, 0, 1]);
    expect(decodeError(() => decodeMessage(msg)).reason).toMatch(/longer than 255/);
  });

  it("rejects a pointer to itself, mutual pointers and chains beyond the cap", () => {
    expect(decodeError(() => decodeMessage(q([0xc0, 12]))).reason).toMatch(/loop/);
    // Mutual: at 12 a pointer to 14, at 14 a pointer to 12.
    const mutual = Uint8Array.from([...header(1), 0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
    expect(decodeError(() => decodeMessage(mutual)).reason).toMatch(/pointer/);
    const withoutForward = decodeError(() => decodeMessage(mutual, { forwardPointers: false }));
    expect(withoutForward.reason).toMatch(/forward/);
  });

  it("survives the deepest pointer chain 14-bit pointers allow (8182 links) without recursion", () => {
    // Question at 12 is a pointer to the last link; link i points to link i-1;
    // link 0 points to the name "a" at 18. 8182 links end at offset 16383.
    const depth = 8182;
    const first = 18;
    const links = first + 3;
    const lastLink = links + 2 * (depth - 1);
    expect(lastLink).toBeLessThan(0x4000);
    const parts: number[] = [...header(1), 0xc0 | (lastLink >> 8), lastLink & 255, 0, 1, 0, 1, 1, 0x61, 0];
    for (let i = 0; i < depth; i++) {
      const target = i === 0 ? first : links + 2 * (i - 1);
      parts.push(0xc0 | (target >> 8), target & 255);
    }
    const msg = Uint8Array.from(parts);
    const e = decodeError(() => decodeMessage(msg, { allowTrailingBytes: true }));
    expect(e.reason).toMatch(/more than 128 compression pointers/);
    // With a cap above the depth the same chain decodes, iteratively.
    const ok = decodeMessage(msg, { allowTrailingBytes: true, maxPointers: depth + 1 });
    expect(ok.questions[0]!.name).toBe("a");
  });

  it("rejects reserved label types 0x40 and 0x80", () => {
    expect(decodeError(() => decodeMessage(q([0x41, 0x61]))).reason).toMatch(/reserved label type 0x40/);
    expect(decodeError(() => decodeMessage(q([0x81, 0x61]))).reason).toMatch(/reserved label type 0x80/);
  });

  it("rejects pointers past the end and into the header", () => {
    expect(decodeError(() => decodeMessage(q([0xc0, 0xff]))).reason).toMatch(/past the end/);
    expect(decodeError(() => decodeMessage(q([0xc0, 0x02]))).reason).toMatch(/header/);
  });

  it("accepts forward pointers by default (mDNS), refuses them on request", () => {
    // Question 1 at 12: pointer to the name of question 2 (forward).
    const msg = Uint8Array.from([...header(2), 0xc0, 18, 0, 1, 0, 1, ...wireName("fwd.local"), 0, 1, 0, 1]);
    expect(decodeMessage(msg).questions.map((x) => x.name)).toEqual(["fwd.local", "fwd.local"]);
    expect(decodeError(() => decodeMessage(msg, { forwardPointers: false })).offset).toBe(12);
  });

  it("keeps case and escapes special bytes canonically", () => {
    const label = [...Array.from("A.b", (c) => c.charCodeAt(0)), 0x20, 0x5c, 0xff, 0x22];
    const msg = q([label.length, ...label, 3, 0x43, 0x6f, 0x4d, 0]);
    expect(decodeMessage(msg).questions[0]!.name).toBe('A\\.b\\032\\\\\\255\\".CoM');
    expect(labelsToName([Uint8Array.from(label)])).toBe('A\\.b\\032\\\\\\255\\"');
  });
});

describe("malformed messages", () => {
  it("rejects short input, counts larger than the content, truncation and trailing bytes", () => {
    expect(decodeError(() => decodeMessage(new Uint8Array(0))).offset).toBe(0);
    expect(decodeError(() => decodeMessage(hex("0100"))).reason).toMatch(/shorter than the 12-byte header/);
    expect(decodeError(() => decodeMessage(Uint8Array.from(header(1)))).reason).toMatch(/counts/);
    expect(decodeError(() => decodeMessage(Uint8Array.from([...header(0, 2), ...wireName("a.b"), 0, 1, 0, 1, 0, 0]))).offset).toBe(4);
    expect(decodeError(() => decodeMessage(Uint8Array.from([...header(0, 1), ...wireName("a.b"), 0, 1, 0, 1, 0, 0]))).reason).toMatch(/record header runs past the end/);
    const good = encodeMessage(messageWith([{ name: "a.b", type: "A", class: 1, ttl: 1, data: "1.2.3.4" }]));
    for (let cut = 12; cut < good.length; cut++) decodeError(() => decodeMessage(good.subarray(0, cut)));
    const extra = Uint8Array.from([...good, 0]);
    expect(decodeError(() => decodeMessage(extra)).reason).toMatch(/after the last record/);
    expect(decodeMessage(extra, { allowTrailingBytes: true }).answers).toHaveLength(1);
  });

  it("rejects RDLENGTH shorter or longer than the RDATA", () => {
    const rr = (type: number, rdata: number[], rdlen = rdata.length): Uint8Array =>
      Uint8Array.from([...header(0, 1), 0, type >> 8, type & 255, 0, 1, 0, 0, 0, 1, rdlen >> 8, rdlen & 255, ...rdata]);
    expect(decodeError(() => decodeMessage(rr(1, [1, 2, 3]))).reason).toMatch(/A RDLENGTH 3/);
    expect(decodeError(() => decodeMessage(rr(28, Array(15).fill(0)))).reason).toMatch(/AAAA RDLENGTH 15/);
    // MX: preference + name "a" + 1 extra byte: RDATA longer than its content.
    expect(decodeError(() => decodeMessage(rr(15, [0, 10, 1, 0x61, 0, 9]))).reason).toMatch(/longer than its content/);
    // MX whose name runs past RDLENGTH.
    expect(decodeError(() => decodeMessage(Uint8Array.from([...rr(15, [0, 10, 1, 0x61], 4), 0]), { allowTrailingBytes: true })).reason).toMatch(/past RDLENGTH/);
    // SOA missing the last field.
    expect(decodeError(() => decodeMessage(rr(6, [0, 0, ...Array(16).fill(0)]))).reason).toMatch(/SOA runs past RDLENGTH/);
    // TXT string longer than the RDATA.
    expect(decodeError(() => decodeMessage(rr(16, [5, 0x61]))).reason).toMatch(/TXT/);
    // RDLENGTH past the end of the message.
    expect(decodeError(() => decodeMessage(rr(1, [1, 2, 3, 4], 9))).reason).toMatch(/RDLENGTH 9 runs past the end/);
    // NSEC bitmap: window out of order, bad length.
    expect(decodeError(() => decodeMessage(rr(47, [0, 1, 1, 0x40, 0, 1, 0x40]))).reason).toMatch(/out of order/);
    expect(decodeError(() => decodeMessage(rr(47, [0, 0, 33, ...Array(33).fill(0)]))).reason).toMatch(/length 33/);
    // SVCB: known key with a bad value.
    expect(decodeError(() => decodeMessage(rr(64, [0, 1, 0, 0, 3, 0, 1, 0]))).reason).toMatch(/port/);
    // EDNS option longer than the RDATA.
    expect(decodeError(() => decodeMessage(rr(41, [0, 10, 0, 8, 1, 2]))).reason).toMatch(/EDNS option/);
  });

  it("random bytes never throw anything but DnsDecodeError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (b, fwd) => {
        try {
          const m = decodeMessage(b, { forwardPointers: fwd });
          // Whatever decodes re-encodes and decodes to itself (a fixpoint).
          expect(decodeMessage(encodeMessage(m))).toEqual(m);
        } catch (e) {
          if (!(e instanceof DnsDecodeError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("random headers over random bodies with plausible counts never throw anything but DnsDecodeError", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 0, maxLength: 200 }), (counts, body) => {
        const b = Uint8Array.from([...header(counts[0]!, counts[1], counts[2], counts[3]), ...body]);
        try {
          decodeMessage(b);
        } catch (e) {
          if (!(e instanceof DnsDecodeError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("mutations of valid messages never throw anything but DnsDecodeError, and decodable ones are fixpoints", () => {
    fc.assert(
      fc.property(
        messageArb(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        (m, flips, cut) => {
          const b = encodeMessage(m).slice();
          for (const [pos, v] of flips) if (b.length > 0) b[pos % b.length] = v;
          const input = cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
          let decoded: Message | undefined;
          try {
            decoded = decodeMessage(input);
          } catch (e) {
            if (!(e instanceof DnsDecodeError)) throw e;
            expect(e.layer).toBe("dns");
            expect(e.offset).toBeGreaterThanOrEqual(0);
            expect(e.offset).toBeLessThanOrEqual(input.length);
            expect(e.code).toBe("EBADMSG");
          }
          if (decoded !== undefined) expect(decodeMessage(encodeMessage(decoded))).toEqual(decoded);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("encoding errors are EINVAL / EMSGSIZE", () => {
  const bad = (rr: unknown): unknown => {
    try {
      encodeMessage(messageWith([rr as ResourceRecord]));
    } catch (e) {
      return e;
    }
    return undefined;
  };
  it("rejects invalid fields", () => {
    for (const rr of [
      { name: "a..b", type: "A", class: 1, ttl: 1, data: "1.2.3.4" },
      { name: "x".repeat(64), type: "A", class: 1, ttl: 1, data: "1.2.3.4" },
      { name: Array(130).fill("ab").join("."), type: "A", class: 1, ttl: 1, data: "1.2.3.4" },
      { name: "a", type: "A", class: 1, ttl: 1, data: "1.2.3" },
      { name: "a", type: "A", class: 1, ttl: 1, data: "1.2.3.256" },
      { name: "a", type: "AAAA", class: 1, ttl: 1, data: "1:2:3" },
      { name: "a", type: "AAAA", class: 1, ttl: 1, data: "1::2::3" },
      { name: "a", type: "A", class: 70000, ttl: 1, data: "1.2.3.4" },
      { name: "a", type: "A", class: 1, ttl: -1, data: "1.2.3.4" },
      { name: "a", type: "TXT", class: 1, ttl: 1, data: [new Uint8Array(256)] },
      { name: "a", type: "MX", class: 1, ttl: 1, data: { preference: 1.5, exchange: "b" } },
      { name: "a", type: 999, class: 1, ttl: 1, data: "not bytes" },
      { name: "a\\", type: "A", class: 1, ttl: 1, data: "1.2.3.4" },
      { name: "a\\300", type: "A", class: 1, ttl: 1, data: "1.2.3.4" },
    ]) {
      const e = bad(rr);
      expect(isMorganaError(e, "EINVAL"), `${JSON.stringify(rr)}: ${String(e)}`).toBe(true);
    }
  });

  it("rejects a message over 65535 bytes with EMSGSIZE", () => {
    const big = Array.from({ length: 300 }, (_, i) => ({ name: `n${i}`, type: 65280, class: 1, ttl: 1, data: new Uint8Array(250) }) as ResourceRecord);
    let err: unknown;
    try {
      encodeMessage(messageWith(big));
    } catch (e) {
      err = e;
    }
    expect(isMorganaError(err, "EMSGSIZE")).toBe(true);
    // The encoder is still usable afterwards.
    const m = messageWith([{ name: "ok", type: "A", class: 1, ttl: 1, data: "1.2.3.4" }]);
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it("accepts names with a final dot, escapes and UTF-8, writing the same wire form", () => {
    const plain = encodeMessage(messageWith([{ name: "www.example.com", type: "A", class: 1, ttl: 1, data: "1.2.3.4" }]));
    const dotted = encodeMessage(messageWith([{ name: "www.example.com.", type: "A", class: 1, ttl: 1, data: "1.2.3.4" }]));
    const escaped = encodeMessage(messageWith([{ name: "\\119ww.example.com", type: "A", class: 1, ttl: 1, data: "1.2.3.4" }]));
    expect(toHexString(dotted)).toBe(toHexString(plain));
    expect(toHexString(escaped)).toBe(toHexString(plain));
    const utf = decodeMessage(encodeMessage(messageWith([{ name: "café.example", type: "A", class: 1, ttl: 1, data: "1.2.3.4" }])));
    expect(utf.answers[0]!.name).toBe("caf\\195\\169.example");
  });

  it("parses every IPv6 text form and prints RFC 5952", () => {
    const cases: [string, string][] = [
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
      ["::", "::"],
      ["::1", "::1"],
      ["1::", "1::"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
      ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
      ["::192.0.2.1", "::c000:201"],
      ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
      ["1:0:3:4:5:6:7:8", "1:0:3:4:5:6:7:8"],
    ];
    for (const [input, want] of cases) {
      const m = decodeMessage(encodeMessage(messageWith([{ name: "a", type: "AAAA", class: 1, ttl: 1, data: input }])));
      expect(m.answers[0]!.type === "AAAA" && m.answers[0]!.data).toBe(want);
    }
  });
});

describe("anyRecordArb sanity", () => {
  it("generates every typed type", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(anyRecordArb(), (rr) => {
        seen.add(typeof rr.type === "string" ? rr.type : "unknown");
      }),
      { numRuns: 500 },
    );
    expect(seen.size).toBeGreaterThanOrEqual(TYPED_NAMES.length);
  });
});
