import fc from "fast-check";
import { isMorganaError } from "@morgana/interfaces";
import { describe, expect, it } from "vitest";
import {
  AuthoritativeServer,
  buildQuery,
  decodeMessage,
  encodeMessage,
  fullRcode,
  getOpt,
  parseZone,
  RCODE,
  recordToText,
  Zone,
  type Message,
  type QType,
  type QueryInit,
} from "../src/index.js";
import { header, wireName } from "./helpers.js";

const ZONE = `$ORIGIN example.test.
$TTL 300
@       3600 SOA ns1 hostmaster 2026112601 3600 900 604800 120
        NS  ns1
        NS  ns2
        MX  10 mail
ns1     A   10.77.0.2
ns2     AAAA 2001:db8::2
mail    A   10.77.0.4
www     A   10.77.0.2
        AAAA 2001:db8::2
alias   CNAME www
alias2  CNAME alias
dangling CNAME nowhere
outside CNAME www.example.net.
loop1   CNAME loop2
loop2   CNAME loop1
*.wild  TXT "wildcard"
*.wild2 CNAME www
a.b.c   A   10.77.0.5
sub     NS  ns.sub
        NS  ns.elsewhere.net.
ns.sub  A   10.77.0.10
sub     DS  12345 8 2 0123456789ABCDEF
_sip._udp SRV 0 0 5060 mail
big     TXT ${'"' + "x".repeat(200) + '"'}
big     TXT ${'"' + "y".repeat(200) + '"'}
big     TXT ${'"' + "z".repeat(200) + '"'}
`;

const zone = new Zone(parseZone(ZONE).records);
const other = new Zone(parseZone("$ORIGIN other.test.\n$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n").records);
const server = new AuthoritativeServer({ zones: [zone, other] });

function ask(name: string, type: QType, init: QueryInit = {}, transport: "udp" | "tcp" = "udp", srv = server): Message {
  const q = encodeMessage(buildQuery(name, type, { id: 0x4242, ...init }));
  const r = srv.answer(q, { transport });
  expect(r).not.toBeNull();
  return decodeMessage(r!);
}

const texts = (rs: Message["answers"]): string[] => rs.map((r) => recordToText(r));

describe("Zone", () => {
  it("validates its records", () => {
    const soa = "$ORIGIN z.test.\n$TTL 1\n@ SOA ns hm 1 2 3 4 5\n";
    const bad = (extra: string): unknown => {
      try {
        return new Zone(parseZone(soa + extra).records);
      } catch (e) {
        return e;
      }
    };
    expect(isMorganaError(bad("x CNAME y\nx A 1.2.3.4\n"), "EINVAL")).toBe(true);
    expect(isMorganaError(bad("x.other. A 1.2.3.4\n"), "EINVAL")).toBe(true);
    expect(isMorganaError(bad("sub SOA ns hm 1 2 3 4 5\n"), "EINVAL")).toBe(true);
    expect(isMorganaError(bad("x CNAME y\nx CNAME z\n"), "EINVAL")).toBe(true);
    expect(() => new Zone(parseZone("$ORIGIN z.test.\n$TTL 1\nx A 1.2.3.4\n").records)).toThrow(/no SOA/);
    expect(bad("")).toBeInstanceOf(Zone);
  });
});

describe("AuthoritativeServer answers", () => {
  it("NOERROR with AA, the question echoed, id and RD copied, RA clear", () => {
    const r = ask("www.example.test", "A", { rd: true });
    expect(r).toMatchObject({ id: 0x4242, qr: true, aa: true, tc: false, rd: true, ra: false, rcode: 0 });
    expect(r.questions).toEqual([{ name: "www.example.test", type: "A", class: 1 }]);
    expect(texts(r.answers)).toEqual(["www.example.test.\t300\tIN\tA\t10.77.0.2"]);
    expect(ask("www.example.test", "A", { rd: false }).rd).toBe(false);
  });

  it("answers case-insensitively, echoing the question's case", () => {
    const r = ask("WwW.ExAmPlE.TeSt", "AAAA");
    expect(r.questions[0]!.name).toBe("WwW.ExAmPlE.TeSt");
    expect(texts(r.answers)).toEqual(["www.example.test.\t300\tIN\tAAAA\t2001:db8::2"]);
  });

  it("adds addresses for MX, NS and SRV targets in the additional section", () => {
    expect(texts(ask("example.test", "MX").additionals.filter((r) => r.type !== "OPT"))).toEqual(["mail.example.test.\t300\tIN\tA\t10.77.0.4"]);
    expect(texts(ask("example.test", "NS").additionals.filter((r) => r.type !== "OPT"))).toEqual(["ns1.example.test.\t300\tIN\tA\t10.77.0.2", "ns2.example.test.\t300\tIN\tAAAA\t2001:db8::2"]);
    expect(texts(ask("_sip._udp.example.test", "SRV").additionals.filter((r) => r.type !== "OPT"))).toEqual(["mail.example.test.\t300\tIN\tA\t10.77.0.4"]);
  });

  it("NXDOMAIN with the SOA in the authority section, TTL = min(SOA TTL, MINIMUM)", () => {
    const r = ask("nope.example.test", "A");
    expect(r).toMatchObject({ aa: true, rcode: RCODE.NXDOMAIN, answers: [] });
    expect(texts(r.authorities)).toEqual(["example.test.\t120\tIN\tSOA\tns1.example.test. hostmaster.example.test. 2026112601 3600 900 604800 120"]);
  });

  it("NODATA: NOERROR, no answer, the SOA; also for empty non-terminals (RFC 8020)", () => {
    for (const [n, t] of [["www.example.test", "MX"], ["b.c.example.test", "A"], ["c.example.test", "A"]] as const) {
      const r = ask(n, t);
      expect(r, n).toMatchObject({ aa: true, rcode: 0, answers: [] });
      expect(r.authorities.map((x) => x.type)).toEqual(["SOA"]);
      expect(r.authorities[0]!.type !== "OPT" && r.authorities[0]!.ttl).toBe(120);
    }
  });

  it("chases CNAMEs inside the zone, stops at the zone edge, at loops, and gives NXDOMAIN for a dangling target (RFC 6604)", () => {
    expect(texts(ask("alias2.example.test", "A").answers)).toEqual([
      "alias2.example.test.\t300\tIN\tCNAME\talias.example.test.",
      "alias.example.test.\t300\tIN\tCNAME\twww.example.test.",
      "www.example.test.\t300\tIN\tA\t10.77.0.2",
    ]);
    expect(texts(ask("alias.example.test", "CNAME").answers)).toEqual(["alias.example.test.\t300\tIN\tCNAME\twww.example.test."]);
    const out = ask("outside.example.test", "A");
    expect(out.rcode).toBe(0);
    expect(texts(out.answers)).toEqual(["outside.example.test.\t300\tIN\tCNAME\twww.example.net."]);
    const loop = ask("loop1.example.test", "A");
    expect(loop.rcode).toBe(0);
    expect(loop.answers.map((r) => r.name)).toEqual(["loop1.example.test", "loop2.example.test"]);
    const dangling = ask("dangling.example.test", "A");
    expect(dangling.rcode).toBe(RCODE.NXDOMAIN);
    expect(dangling.answers.map((r) => r.type)).toEqual(["CNAME"]);
    expect(dangling.authorities.map((r) => r.type)).toEqual(["SOA"]);
  });

  it("synthesises from wildcards (RFC 4592), with the query name as owner", () => {
    expect(texts(ask("anything.wild.example.test", "TXT").answers)).toEqual(['anything.wild.example.test.\t300\tIN\tTXT\t"wildcard"']);
    expect(texts(ask("x.y.wild.example.test", "TXT").answers)).toEqual(['x.y.wild.example.test.\t300\tIN\tTXT\t"wildcard"']);
    expect(ask("anything.wild.example.test", "A")).toMatchObject({ rcode: 0, answers: [] });
    expect(texts(ask("q.wild2.example.test", "A").answers)).toEqual(["q.wild2.example.test.\t300\tIN\tCNAME\twww.example.test.", "www.example.test.\t300\tIN\tA\t10.77.0.2"]);
    // The wildcard itself does not match the name it encloses... but does not
    // apply where a name exists either.
    expect(ask("wild.example.test", "TXT")).toMatchObject({ rcode: 0, answers: [] });
  });

  it("refers below a delegation: NS in authority, glue in additional, no AA; DS at the parent side", () => {
    for (const n of ["sub.example.test", "host.sub.example.test", "ns.sub.example.test"]) {
      const r = ask(n, "A");
      expect(r, n).toMatchObject({ aa: false, rcode: 0, answers: [] });
      expect(texts(r.authorities)).toEqual(["sub.example.test.\t300\tIN\tNS\tns.sub.example.test.", "sub.example.test.\t300\tIN\tNS\tns.elsewhere.net."]);
      expect(texts(r.additionals.filter((x) => x.type !== "OPT"))).toEqual(["ns.sub.example.test.\t300\tIN\tA\t10.77.0.10"]);
    }
    const ds = ask("sub.example.test", "DS");
    expect(ds).toMatchObject({ aa: true, rcode: 0 });
    expect(ds.answers.map((r) => r.type)).toEqual(["DS"]);
  });

  it("answers ANY with one RRset (RFC 8482): the lowest type code at the name", () => {
    const r = ask("www.example.test", "ANY");
    expect(r).toMatchObject({ aa: true, rcode: 0 });
    expect(r.answers.map((x) => x.type)).toEqual(["A"]);
    expect(ask("example.test", "ANY").answers.map((x) => x.type)).toEqual(["NS", "NS"]);
  });

  it("echoes EDNS: OPT with our payload size, DO copied", () => {
    const r = ask("www.example.test", "A", { edns: { udpPayloadSize: 4096, dnssecOk: true } });
    const opt = getOpt(r)!;
    expect(opt).toMatchObject({ udpPayloadSize: 1232, dnssecOk: true, version: 0 });
    expect(getOpt(ask("www.example.test", "A", { edns: false }))).toBeUndefined();
  });

  it("BADVERS for EDNS version > 0", () => {
    const r = ask("www.example.test", "A", { edns: { version: 1 } });
    expect(fullRcode(r)).toBe(RCODE.BADVERS);
    expect(r.rcode).toBe(0);
    expect(getOpt(r)).toMatchObject({ version: 0, extendedRcode: 1 });
    expect(r.answers).toEqual([]);
  });

  it("REFUSED outside our zones, for other classes, and for AXFR/IXFR", () => {
    expect(ask("www.example.net", "A")).toMatchObject({ rcode: RCODE.REFUSED, aa: false, answers: [] });
    expect(ask("www.example.test", "A", { class: 3 })).toMatchObject({ rcode: RCODE.REFUSED });
    expect(ask("example.test", "AXFR")).toMatchObject({ rcode: RCODE.REFUSED });
    expect(ask("example.test", "IXFR", {}, "tcp")).toMatchObject({ rcode: RCODE.REFUSED });
    expect(ask("ns.other.test", "A").answers.map((r) => r.type)).toEqual(["A"]);
  });

  it("NOTIMP for opcodes other than QUERY (NOTIFY, UPDATE)", () => {
    for (const opcode of [1, 2, 4, 5, 15]) {
      const q = encodeMessage({ ...buildQuery("example.test", "SOA", { id: 9 }), opcode });
      const r = decodeMessage(server.answer(q)!);
      expect(r).toMatchObject({ id: 9, qr: true, opcode, rcode: RCODE.NOTIMP });
    }
  });

  it("FORMERR for undecodable queries, QDCOUNT != 1, and bad OPT records", () => {
    const formerr = (bytes: Uint8Array): Message => {
      const r = decodeMessage(server.answer(bytes)!);
      expect(r.rcode).toBe(RCODE.FORMERR);
      expect(r.qr).toBe(true);
      return r;
    };
    expect(formerr(Uint8Array.from([...header(1, 0, 0, 0, 0x777), 0xc0, 12, 0, 1, 0, 1])).id).toBe(0x777);
    formerr(Uint8Array.from([...header(0)]));
    formerr(Uint8Array.from([...header(2), ...wireName("a.test"), 0, 1, 0, 1, ...wireName("b.test"), 0, 1, 0, 1]));
    const twoOpts = buildQuery("www.example.test", "A", { id: 1 });
    formerr(encodeMessage({ ...twoOpts, additionals: [...twoOpts.additionals, ...twoOpts.additionals] }));
    formerr(encodeMessage({ ...twoOpts, additionals: [{ ...twoOpts.additionals[0]!, name: "x.test" } as Message["additionals"][0]] }));
    formerr(encodeMessage({ ...twoOpts, additionals: [], answers: twoOpts.additionals }));
  });

  it("sends nothing for input without a header or with QR set, and counts it", () => {
    const s = new AuthoritativeServer({ zones: [zone] });
    expect(s.answer(new Uint8Array(5))).toBeNull();
    const resp = encodeMessage({ ...buildQuery("www.example.test", "A"), qr: true });
    expect(s.answer(resp)).toBeNull();
    expect(s.stats().drops).toEqual({ short: 1, response: 1 });
  });

  it("counts answers by kind", () => {
    const s = new AuthoritativeServer({ zones: [zone] });
    ask("www.example.test", "A", {}, "udp", s);
    ask("nope.example.test", "A", {}, "udp", s);
    ask("www.example.test", "MX", {}, "udp", s);
    ask("host.sub.example.test", "A", {}, "udp", s);
    ask("elsewhere.net", "A", {}, "udp", s);
    expect(s.stats().counters).toMatchObject({ queries: 5, responses: 5, noerror: 1, nxdomain: 1, nodata: 1, referral: 1, refused: 1 });
  });
});

describe("truncation", () => {
  it("sets TC at 512 bytes without EDNS, and answers in full over TCP", () => {
    const udp = ask("big.example.test", "TXT", { edns: false });
    expect(udp.tc).toBe(true);
    expect(udp.answers).toEqual([]);
    expect(encodeMessage(udp).length).toBeLessThanOrEqual(512);
    const tcp = ask("big.example.test", "TXT", { edns: false }, "tcp");
    expect(tcp.tc).toBe(false);
    expect(tcp.answers).toHaveLength(3);
  });

  it("fits the client's EDNS size (at least 512), capped by the server's maxUdpSize", () => {
    const fits = ask("big.example.test", "TXT", { edns: { udpPayloadSize: 1232 } });
    expect(fits.tc).toBe(false);
    expect(fits.answers).toHaveLength(3);
    const small = ask("big.example.test", "TXT", { edns: { udpPayloadSize: 100 } });
    expect(small.tc).toBe(true);
    expect(getOpt(small)).toBeDefined();
    const capped = new AuthoritativeServer({ zones: [zone], maxUdpSize: 600 });
    const r = ask("big.example.test", "TXT", { edns: { udpPayloadSize: 4096 } }, "udp", capped);
    expect(r.tc).toBe(true);
    expect(getOpt(r)!.udpPayloadSize).toBe(600);
    const perCall = decodeMessage(server.answer(encodeMessage(buildQuery("big.example.test", "TXT", { edns: { udpPayloadSize: 4096 } })), { maxUdpSize: 600 })!);
    expect(perCall.tc).toBe(true);
    expect(capped.stats().counters.truncated).toBe(1);
  });

  it("drops additional data before truncating an answer", () => {
    const lots = Array.from({ length: 15 }, (_, i) => `mx MX ${i} mail${i}\nmail${i} A 10.0.0.${i}`).join("\n");
    const z = new Zone(parseZone(`$ORIGIN t.test.\n$TTL 1\n@ SOA ns hm 1 2 3 4 5\n${lots}\n`).records);
    const s = new AuthoritativeServer({ zones: [z] });
    const full = ask("mx.t.test", "MX", { edns: false }, "tcp", s);
    expect(full.additionals).toHaveLength(15);
    expect(encodeMessage(full).length).toBeGreaterThan(512);
    const r = ask("mx.t.test", "MX", { edns: false }, "udp", s);
    expect(r.tc).toBe(false);
    expect(r.answers).toHaveLength(15);
    expect(r.additionals).toHaveLength(0);
  });

  it("gives a Message for a Message", () => {
    const m = server.answer(buildQuery("big.example.test", "TXT", { edns: false }));
    expect(m.tc).toBe(true);
    const t = server.answer(buildQuery("www.example.test", "A"), { transport: "tcp" });
    expect(t.answers).toHaveLength(1);
  });
});

describe("robustness", () => {
  it("never throws on random bytes; answers with FORMERR or nothing", () => {
    const s = new AuthoritativeServer({ zones: [zone] });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = s.answer(b);
        if (r === null) {
          expect(b.length < 12 || (b[2]! & 0x80) !== 0).toBe(true);
        } else {
          const m = decodeMessage(r);
          expect(m.qr).toBe(true);
          expect(m.id).toBe((b[0]! << 8) | b[1]!);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on mutated valid queries", () => {
    const s = new AuthoritativeServer({ zones: [zone] });
    const names = ["www.example.test", "alias2.example.test", "x.wild.example.test", "host.sub.example.test", "nope.example.test", "big.example.test"];
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.constantFrom<QType>("A", "AAAA", "TXT", "ANY", "MX", "NS", "DS", 99), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.boolean(), (n, t, flips, tcp) => {
        const q = encodeMessage(buildQuery(n, t)).slice();
        q[2]! &= 0x7f;
        for (const [p, v] of flips) if (p % q.length !== 2) q[p % q.length] = v;
        const r = s.answer(q, { transport: tcp ? "tcp" : "udp" });
        if (r !== null) {
          expect(decodeMessage(r).qr).toBe(true);
          if (!tcp) expect(r.length).toBeLessThanOrEqual(1232);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
