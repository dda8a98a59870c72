import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage, parseRecord, parseTtl, questionToText, rdataToText, recordToText, ZoneParseError, type DataRecord, type Message } from "../src/index.js";
import { recordArb, TYPED_NAMES } from "./arbitraries.js";

describe("presentation format round trips", () => {
  for (const t of [...TYPED_NAMES, "unknown" as const]) {
    it(`parseRecord(recordToText(rr)) = rr for ${t}`, () => {
      fc.assert(
        fc.property(recordArb(t, false, fc.integer({ min: 1, max: 0xffff })), (rr) => {
          const text = recordToText(rr);
          expect(parseRecord(text)).toEqual(rr);
        }),
      );
    });
  }
});

describe("presentation format output", () => {
  const rr = (text: string): DataRecord => parseRecord(text);
  it("writes each type as dig and BIND do", () => {
    const cases: [string, string][] = [
      ["a.example. 300 IN A 192.0.2.1", "192.0.2.1"],
      ["a.example. 300 IN AAAA 2001:DB8:0::1", "2001:db8::1"],
      ["a.example. 300 IN NS ns1.example.", "ns1.example."],
      ["a.example. 300 IN SOA ns1.example. hostmaster.example. 2026112601 3600 900 604800 300", "ns1.example. hostmaster.example. 2026112601 3600 900 604800 300"],
      ["a.example. 300 IN MX 10 mail.example.", "10 mail.example."],
      ['a.example. 300 IN TXT "v=spf1 -all" "second \\"string\\"" plain', '"v=spf1 -all" "second \\"string\\"" "plain"'],
      ["a.example. 300 IN SRV 0 5 443 www.example.", "0 5 443 www.example."],
      ['a.example. 300 IN CAA 128 issue "letsencrypt.org"', '128 issue "letsencrypt.org"'],
      ["a.example. 300 IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118", "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"],
      ["a.example. 300 IN DNSKEY 257 3 8 AwEAAQ==", "257 3 8 AwEAAQ=="],
      ["a.example. 300 IN NSEC host.example. A MX RRSIG NSEC TYPE1234", "host.example. A MX RRSIG NSEC TYPE1234"],
      ["a.example. 300 IN RRSIG A 5 3 86400 20030322173103 20030220173103 2642 example. AwEAAQ==", "A 5 3 86400 20030322173103 20030220173103 2642 example. AwEAAQ=="],
      ['a.example. 300 IN HTTPS 1 . alpn="h2,h3" ipv4hint=192.0.2.1 port=8443', '1 . alpn="h2,h3" port=8443 ipv4hint=192.0.2.1'],
      ["a.example. 300 IN SVCB 0 svc.example.", "0 svc.example."],
      ["a.example. 300 IN TYPE65280 \\# 4 0A000001", "\\# 4 0A000001"],
      ["a.example. 300 IN HINFO \\# 6 03414243 0144", "\\# 6 034142430144"],
      ["a.example. 300 IN A \\# 4 C0000201", "192.0.2.1"],
    ];
    for (const [input, want] of cases) expect(rdataToText(rr(input)), input).toBe(want);
  });

  it("parses RFC 9460 Appendix D's SVCB examples", () => {
    const d = (text: string): DataRecord => parseRecord(`example.com. 300 IN ${text}`);
    expect(d("HTTPS 0 foo.example.com.").data).toEqual({ priority: 0, target: "foo.example.com", params: [] });
    expect(d("SVCB 1 .").data).toEqual({ priority: 1, target: ".", params: [] });
    expect(d("SVCB 16 foo.example.com. port=53").data).toEqual({ priority: 16, target: "foo.example.com", params: [{ key: "port", port: 53 }] });
    expect(d('SVCB 1 foo.example.com. key667=hello').data).toEqual({ priority: 1, target: "foo.example.com", params: [{ key: 667, value: new TextEncoder().encode("hello") }] });
    expect(d('SVCB 1 foo.example.com. key667="hello\\210qoo"').data).toEqual({ priority: 1, target: "foo.example.com", params: [{ key: 667, value: Uint8Array.from([...new TextEncoder().encode("hello"), 210, ...new TextEncoder().encode("qoo")]) }] });
    expect(d('SVCB 1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1"').data).toMatchObject({ params: [{ key: "ipv6hint", addresses: ["2001:db8::1", "2001:db8::53:1"] }] });
    expect(d("SVCB 1 example.com. ipv6hint=\"2001:db8:122:344::192.0.2.33\"").data).toMatchObject({ params: [{ key: "ipv6hint", addresses: ["2001:db8:122:344::c000:221"] }] });
    expect(d('SVCB 16 foo.example.org. (alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1)').data).toEqual({
      priority: 16,
      target: "foo.example.org",
      params: [
        { key: "mandatory", keys: [1, 4] },
        { key: "alpn", protocols: ["h2", "h3-19"] },
        { key: "ipv4hint", addresses: ["192.0.2.1"] },
      ],
    });
    expect(d('SVCB 16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"').data).toMatchObject({ params: [{ key: "alpn", protocols: ["f\\oo,bar", "h2"] }] });
    expect(d('SVCB 16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2').data).toMatchObject({ params: [{ key: "alpn", protocols: ["f\\oo,bar", "h2"] }] });
    // Appendix D.3 failures.
    for (const bad of ["SVCB 1 foo.example.com. key123=abc key123=def", "SVCB 1 foo.example.com. mandatory", "SVCB 1 foo.example.com. alpn", "SVCB 1 foo.example.com. port", "SVCB 1 foo.example.com. no-default-alpn=abc", "SVCB 1 foo.example.com. keyfoo=x"]) {
      expect(() => d(bad), bad).toThrow(ZoneParseError);
    }
  });

  it("prints questions and whole records in dig's layout", () => {
    expect(recordToText(parseRecord("www.example. 300 IN A 192.0.2.1"))).toBe("www.example.\t300\tIN\tA\t192.0.2.1");
    expect(recordToText(parseRecord("www.example. 300 CLASS7 TYPE300 \\# 0"))).toBe("www.example.\t300\tCLASS7\tTYPE300\t\\# 0");
    expect(questionToText({ name: "www.example", type: "AAAA", class: 1 })).toBe(";www.example.\t\tIN\tAAAA");
    const opt: Message = decodeMessage(encodeMessage({ id: 0, qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0, questions: [], answers: [], authorities: [], additionals: [{ name: ".", type: "OPT", udpPayloadSize: 1232, extendedRcode: 0, version: 0, dnssecOk: true, z: 0, options: [{ code: 10, data: Uint8Array.of(1, 2) }] }] }));
    expect(recordToText(opt.additionals[0]!)).toBe(".\t32768\tCLASS1232\tOPT\t\\# 6 000A00020102");
  });

  it("parses TTLs in seconds and BIND units", () => {
    expect(parseTtl("3600")).toBe(3600);
    expect(parseTtl("1h30m")).toBe(5400);
    expect(parseTtl("1W2D3H4M5S")).toBe(604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
    expect(parseTtl("4294967295")).toBe(4294967295);
    for (const bad of ["", "1x", "h", "4294967296", "-1", "1h 2m"]) expect(parseTtl(bad), bad).toBe(-1);
  });
});
