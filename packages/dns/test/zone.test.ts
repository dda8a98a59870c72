import { describe, expect, it } from "vitest";
import { parseZone, recordToText, ZoneParseError, type DataRecord } from "../src/index.js";

const ZONE = `; example.test, exercising the master file syntax
$TTL 1h            ; default TTL for what follows
$ORIGIN example.test.
@   IN  SOA ns1 hostmaster (
        2026112601 ; serial
        3600       ; refresh
        900        ; retry
        1w         ; expire
        300 )      ; minimum
    IN  NS  ns1
    IN  NS  ns2.example.test.
    IN  MX  10 mail
ns1     A   10.77.0.2
ns2 600 IN  A   10.77.0.3
        IN 700 AAAA 2001:db8::3   ; owner omitted: ns2, class before TTL
mail    A   10.77.0.4
www     CNAME @
txt     TXT "v=spf1 -all" "second string"
        TXT "semi;colon (paren) \\"quote\\" back\\\\slash \\065\\066C"
_http._tcp SRV 0 5 80 www
*.wild  A   10.77.0.9
sub     NS  ns.sub
ns.sub  A   10.77.0.10
esc\\.dot  A  10.77.0.11
caa     CAA 0 issue "ca.example.net"
generic TYPE65280 \\# 3 ABCDEF
hinfo   HINFO \\# 4 01410142
svc     HTTPS 1 . alpn=h2,h3 port=8443
$ORIGIN other.example.test.
deep    A   10.77.0.12
$TTL 30
last    A   10.77.0.13
`;

function byText(records: readonly DataRecord[]): string[] {
  return records.map((r) => recordToText(r));
}

describe("parseZone", () => {
  it("parses a realistic zone with every directive and syntax feature", () => {
    const z = parseZone(ZONE);
    expect(z.origin).toBe("other.example.test");
    expect(z.soa?.data).toEqual({ mname: "ns1.example.test", rname: "hostmaster.example.test", serial: 2026112601, refresh: 3600, retry: 900, expire: 604800, minimum: 300 });
    expect(byText(z.records)).toEqual([
      "example.test.\t3600\tIN\tSOA\tns1.example.test. hostmaster.example.test. 2026112601 3600 900 604800 300",
      "example.test.\t3600\tIN\tNS\tns1.example.test.",
      "example.test.\t3600\tIN\tNS\tns2.example.test.",
      "example.test.\t3600\tIN\tMX\t10 mail.example.test.",
      "ns1.example.test.\t3600\tIN\tA\t10.77.0.2",
      "ns2.example.test.\t600\tIN\tA\t10.77.0.3",
      "ns2.example.test.\t700\tIN\tAAAA\t2001:db8::3",
      "mail.example.test.\t3600\tIN\tA\t10.77.0.4",
      "www.example.test.\t3600\tIN\tCNAME\texample.test.",
      'txt.example.test.\t3600\tIN\tTXT\t"v=spf1 -all" "second string"',
      'txt.example.test.\t3600\tIN\tTXT\t"semi;colon (paren) \\"quote\\" back\\\\slash ABC"',
      "_http._tcp.example.test.\t3600\tIN\tSRV\t0 5 80 www.example.test.",
      "*.wild.example.test.\t3600\tIN\tA\t10.77.0.9",
      "sub.example.test.\t3600\tIN\tNS\tns.sub.example.test.",
      "ns.sub.example.test.\t3600\tIN\tA\t10.77.0.10",
      "esc\\.dot.example.test.\t3600\tIN\tA\t10.77.0.11",
      'caa.example.test.\t3600\tIN\tCAA\t0 issue "ca.example.net"',
      "generic.example.test.\t3600\tIN\tTYPE65280\t\\# 3 ABCDEF",
      "hinfo.example.test.\t3600\tIN\tHINFO\t\\# 4 01410142",
      'svc.example.test.\t3600\tIN\tHTTPS\t1 . alpn="h2,h3" port=8443',
      "deep.other.example.test.\t3600\tIN\tA\t10.77.0.12",
      "last.other.example.test.\t30\tIN\tA\t10.77.0.13",
    ]);
  });

  it("uses the origin and default TTL options, and the last explicit TTL without $TTL (RFC 1035)", () => {
    const z = parseZone("www A 192.0.2.1\nmail 60 A 192.0.2.2\nftp A 192.0.2.3\n", { origin: "example.org", defaultTtl: 10 });
    expect(z.records.map((r) => [r.name, r.ttl])).toEqual([
      ["www.example.org", 10],
      ["mail.example.org", 60],
      ["ftp.example.org", 60],
    ]);
  });

  it("includes files through the callback, with an origin argument that does not leak back", () => {
    const files: Record<string, string> = {
      "hosts.zone": "$ORIGIN elsewhere.test.\nhost1 A 192.0.2.10\n",
      "more.zone": "host2 A 192.0.2.11\n$INCLUDE hosts.zone\n",
    };
    const z = parseZone("$TTL 60\n$ORIGIN example.test.\n$INCLUDE more.zone sub\nafter A 192.0.2.12\n", { include: (p) => files[p] });
    expect(z.records.map((r) => r.name)).toEqual(["host2.sub.example.test", "host1.elsewhere.test", "after.example.test"]);
  });

  it("bounds $INCLUDE depth", () => {
    const err = catchZone(() => parseZone("$TTL 1\n$INCLUDE self\n", { include: () => "$INCLUDE self\n", maxIncludeDepth: 3 }));
    expect(err.reason).toMatch(/nested deeper than 3/);
    expect(err.file).toBe("self");
  });

  it("reports each error with its line and column", () => {
    const cases: [string, number, number, RegExp][] = [
      ["$TTL 60\nwww A 192.0.2.1\n", 2, 1, /relative owner name "www" without an origin/],
      ["$ORIGIN example.\n$TTL 60\nwww A 192.0.2.300\n", 3, 7, /bad IPv4 address/],
      ["$ORIGIN example.\n$TTL 60\nwww BOGUS 1\n", 3, 5, /unknown type "BOGUS"/],
      ["$ORIGIN example.\nwww A 192.0.2.1\n", 2, 5, /no TTL/],
      ["$ORIGIN example.\n$TTL 60\n@ SOA ns1 host ( 1 2 3\n 4\n", 3, 16, /unclosed parenthesis/],
      ["$ORIGIN example.\n$TTL 60\nwww TXT \"open\n", 3, 14, /unterminated quoted string/],
      ["$ORIGIN example.\n$TTL 60\nwww A 192.0.2.1 )\n", 3, 17, /unbalanced/],
      ["$ORIGIN example.\n$TTL 60\n$INCLUDE x\n", 3, 1, /\$INCLUDE is disabled/],
      ["$ORIGIN example.\n$TTL 60\n$GENERATE 1-2 a A 1.2.3.$\n", 3, 1, /unsupported directive/],
      ["$ORIGIN example.\n$TTL 60\n  A 192.0.2.1\n", 3, 3, /no owner name/],
      ["$ORIGIN example.\n$TTL 60\nwww MX 10\n", 3, 5, /missing MX exchange/],
      ["$ORIGIN example.\n$TTL 60\nwww MX 70000 mail\n", 3, 8, /MX preference 70000 above 65535/],
      ["$ORIGIN example.\n$TTL 60\nwww A 1.2.3.4 5.6.7.8\n", 3, 15, /unexpected "5.6.7.8"/],
      ["$ORIGIN example.\n$TTL 60\nwww TYPE9 \\# 3 ABCD\n", 3, 14, /generic RDATA has 2 bytes, length says 3/],
      ["$ORIGIN example.\n$TTL 60\nwww A \\# 3 ABCDEF\n", 3, 12, /not a valid A/],
      ["$ORIGIN example.\n$TTL 60\nwww HINFO cpu os\n", 3, 11, /generic form/],
      ["$ORIGIN example.\n$TTL 60\n" + "a".repeat(64) + " A 1.2.3.4\n", 3, 1, /bad owner name/],
      ["$ORIGIN example.\n$TTL 60\nwww TXT \"" + "x".repeat(256) + "\"\n", 3, 9, /longer than 255 bytes/],
      ["$ORIGIN example.\n$TTL 60\nwww DNSKEY 257 3 8 not*base64\n", 3, 20, /base64/],
      ["$ORIGIN example.\n$TTL 60\nwww CAA 0 is-sue \"x\"\n", 3, 11, /bad CAA tag/],
      ["$ORIGIN example.\n$TTL 60\nwww RRSIG A 5 3 86400 2003x 20030220173103 2642 example. AwEAAQ==\n", 3, 23, /bad RRSIG expiration/],
      ["$ORIGIN example.\n$TTL bogus\n", 2, 6, /bad TTL/],
      ["$ORIGIN example.\n$TTL 60\nwww OPT \\# 0\n", 3, 9, /OPT records cannot appear/],
    ];
    for (const [text, line, col, reason] of cases) {
      const e = catchZone(() => parseZone(text), text);
      expect({ line: e.line, column: e.column, text }).toEqual({ line, column: col, text });
      expect(e.reason).toMatch(reason);
      expect(e.code).toBe("EINVAL");
      expect(e.message).toContain(`line ${line}`);
    }
  });

  it("enforces its limits", () => {
    const many = "$ORIGIN example.\n$TTL 1\n" + Array.from({ length: 11 }, (_, i) => `h${i} A 192.0.2.1`).join("\n");
    expect(parseZone(many, { maxRecords: 11 }).records).toHaveLength(11);
    expect(catchZone(() => parseZone(many, { maxRecords: 10 })).reason).toMatch(/more than 10 records/);
    expect(catchZone(() => parseZone(many, { maxTextLength: 100 })).reason).toMatch(/longer than 100 characters/);
    const long = `$ORIGIN example.\n$TTL 1\nwww TXT ( ${'"x" '.repeat(100)} )\n`;
    const e = catchZone(() => parseZone(long, { maxEntryLength: 200 }));
    expect(e.reason).toMatch(/entry longer than 200/);
    expect(e.line).toBe(3);
    expect(parseZone(long).records[0]!.type).toBe("TXT");
  });

  it("reports the file name in errors when given one", () => {
    const e = catchZone(() => parseZone("$TTL 1\nbad..name. A 1.2.3.4\n", { fileName: "db.example" }));
    expect(e.file).toBe("db.example");
    expect(e.message).toMatch(/^zone db.example line 2/);
  });
});

function catchZone(f: () => unknown, what = ""): ZoneParseError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ZoneParseError);
    return e as ZoneParseError;
  }
  throw new Error(`expected a ZoneParseError ${what}`);
}
