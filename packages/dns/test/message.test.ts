import { describe, expect, it } from "vitest";
import {
  buildQuery,
  canonicalName,
  clientSubnetOption,
  cookieOption,
  decodeMessage,
  DnsDecodeError,
  EDNS_OPTION,
  encodeMessage,
  getOpt,
  isSubdomain,
  labelCount,
  nameKey,
  namesEqual,
  optRecords,
  paddingOption,
  parentName,
  parseClientSubnet,
  parseCookie,
  relativeName,
  resolveName,
  splitName,
  tsharkName,
  tsharkText,
  txtFromString,
  txtFromStrings,
  txtStrings,
  txtToString,
} from "../src/index.js";
import { hex, toHexString } from "./helpers.js";

describe("queries and EDNS options", () => {
  it("builds the query dig sent in frame 2 of dns-udp-queries.pcap", () => {
    const q = buildQuery("www.example.test.", "A", { id: 0x7e6d, ad: true, edns: { options: [cookieOption(hex("8963a5f86d2f4d87"))] } });
    expect(toHexString(encodeMessage(q))).toBe("7e6d0120000100000000000103777777076578616d706c650474657374000001000100002904d000000000000c000a00088963a5f86d2f4d87");
    expect(buildQuery("a.test", 99, { edns: false }).additionals).toEqual([]);
  });

  it("parses and builds cookies (RFC 7873)", () => {
    const c = parseCookie(hex("0102030405060708" + "aa".repeat(16)));
    expect(toHexString(c.client)).toBe("0102030405060708");
    expect(c.server?.length).toBe(16);
    expect(parseCookie(hex("0102030405060708")).server).toBeUndefined();
    expect(() => parseCookie(new Uint8Array(9))).toThrow(DnsDecodeError);
    expect(() => cookieOption(new Uint8Array(7))).toThrow(/8 bytes/);
    expect(cookieOption(new Uint8Array(8), new Uint8Array(8)).data.length).toBe(16);
  });

  it("builds padding and client subnet options (RFC 7830, RFC 7871)", () => {
    expect(paddingOption(5)).toEqual({ code: EDNS_OPTION.PADDING, data: new Uint8Array(5) });
    const ecs = clientSubnetOption({ family: 1, sourcePrefixLength: 20, scopePrefixLength: 0, address: "192.0.255.1" });
    expect(toHexString(ecs.data)).toBe("00011400c000f0");
    expect(parseClientSubnet(ecs.data)).toEqual({ family: 1, sourcePrefixLength: 20, scopePrefixLength: 0, address: "192.0.240.0" });
    const v6 = clientSubnetOption({ family: 2, sourcePrefixLength: 56, scopePrefixLength: 48, address: "2001:db8:1:2::" });
    expect(parseClientSubnet(v6.data)).toEqual({ family: 2, sourcePrefixLength: 56, scopePrefixLength: 48, address: "2001:db8:1::" });
    expect(() => parseClientSubnet(hex("0001180000c0"))).toThrow(DnsDecodeError);
    expect(() => parseClientSubnet(hex("000300000000"))).toThrow(DnsDecodeError);
  });

  it("finds OPT records", () => {
    const q = buildQuery("a.test", "A");
    const m = decodeMessage(encodeMessage({ ...q, additionals: [{ name: "x.test", type: "A", class: 1, ttl: 1, data: "1.2.3.4" }, ...q.additionals] }));
    expect(getOpt(m)?.udpPayloadSize).toBe(1232);
    expect(optRecords(m)).toHaveLength(1);
  });
});

describe("TXT helpers", () => {
  it("splits long text into 255-byte strings and joins them back", () => {
    const long = "é".repeat(200); // 400 UTF-8 bytes
    const parts = txtFromString(long);
    expect(parts.map((p) => p.length)).toEqual([255, 145]);
    expect(txtToString(parts)).toBe(long);
    expect(txtStrings(txtFromStrings(["a", "b c"]))).toEqual(["a", "b c"]);
    expect(() => txtFromStrings(["x".repeat(256)])).toThrow(/255/);
    expect(txtFromString("")).toEqual([new Uint8Array(0)]);
  });
});

describe("names", () => {
  it("canonicalises, compares and splits names", () => {
    expect(canonicalName("WWW.Example.COM.")).toBe("WWW.Example.COM");
    expect(canonicalName("\\065b.c")).toBe("Ab.c");
    expect(canonicalName(".")).toBe(".");
    expect(nameKey("WWW.Example.COM.")).toBe("www.example.com");
    expect(namesEqual("a.B", "A.b.")).toBe(true);
    expect(splitName("a\\.b.c")).toEqual(["a\\.b", "c"]);
    expect(labelCount("a\\.b.c")).toBe(2);
    expect(parentName("a\\.b.c")).toBe("c");
    expect(parentName("c")).toBe(".");
    expect(parentName(".")).toBeUndefined();
    expect(isSubdomain("a.example.com", "example.com")).toBe(true);
    expect(isSubdomain("aexample.com", "example.com")).toBe(false);
    expect(isSubdomain("a\\.example.com", "example.com")).toBe(false);
    expect(isSubdomain("x", ".")).toBe(true);
    expect(resolveName("@", "example.com")).toBe("example.com");
    expect(resolveName("www", "example.com.")).toBe("www.example.com");
    expect(resolveName("www.other.", "example.com")).toBe("www.other");
    expect(relativeName("www.example.com", "example.com")).toBe("www");
    expect(relativeName("example.com", "example.com")).toBe("@");
    expect(relativeName("www.other", "example.com")).toBe("www.other.");
  });
});

describe("tshark conventions", () => {
  it("prints names and TXT as tshark does", () => {
    expect(tsharkName(".")).toBe("<Root>");
    expect(tsharkName("a\\.b\\032c.test")).toBe("a.b c.test");
    expect(tsharkName("a\\001.test")).toBe("a\\001.test");
    expect(tsharkText(new TextEncoder().encode("v=spf1 -all"))).toBe("v=spf1 -all");
    expect(tsharkText(Uint8Array.of(0x61, 0x0a, 0x09, 0x01, 0x5c))).toBe("a\\n\\t\\001\\\\");
  });
});

describe("resolver helpers", () => {
  it("matches a response to its query", async () => {
    const { matchesQuery, negativeTtl } = await import("../src/index.js");
    const q = buildQuery("WwW.example.test", "A", { id: 7 });
    const r = { ...q, qr: true, questions: [{ name: "www.EXAMPLE.test", type: "A" as const, class: 1 }] };
    expect(matchesQuery(q, r)).toBe(true);
    expect(matchesQuery(q, { ...r, id: 8 })).toBe(false);
    expect(matchesQuery(q, { ...r, qr: false })).toBe(false);
    expect(matchesQuery(q, { ...r, questions: [{ name: "www.example.test", type: "AAAA", class: 1 }] })).toBe(false);
    expect(matchesQuery(q, { ...r, questions: [] })).toBe(false);
    expect(matchesQuery(q, { ...r, questions: [{ name: "xww.example.test", type: "A", class: 1 }] })).toBe(false);
    const soa = { name: "example.test", type: "SOA" as const, class: 1, ttl: 300, data: { mname: "ns", rname: "hm", serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 60 } };
    expect(negativeTtl({ ...r, authorities: [soa] })).toBe(60);
    expect(negativeTtl({ ...r, authorities: [{ ...soa, ttl: 30 }] })).toBe(30);
    expect(negativeTtl(r)).toBeUndefined();
  });
});
