/**
 * Every DNS message in the reference traces (over UDP, and over TCP when a
 * message fits one segment) decodes, re-encodes to the same bytes, and has the
 * values tshark printed for it.
 */
import { readFileSync } from "node:fs";
import { ipPackets, jsonFields, parseJsonWithDuplicates, traceNames, TRACES_DIR, type Json, type JsonEntries } from "@morgana/testkit";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage, flagsWord, typeCode, tsharkHex16, tsharkName, tsharkText, type Message, type ResourceRecord } from "../src/index.js";
import { toHexString } from "./helpers.js";

function layer(frame: Json, name: string): Json | undefined {
  const src = (frame as JsonEntries).entries.find(([k]) => k === "_source")![1] as JsonEntries;
  const layers = src.entries.find(([k]) => k === "layers")![1] as JsonEntries;
  return layers.entries.find(([k]) => k === name)?.[1];
}

interface DnsPacket {
  readonly index: number;
  readonly transport: "udp" | "tcp";
  readonly bytes: Uint8Array;
  readonly tshark: Map<string, string[]>;
}

function dnsPackets(name: string): DnsPacket[] {
  const json = parseJsonWithDuplicates(readFileSync(`${TRACES_DIR}${name}.tshark.json`, "utf8")) as Json[];
  const out: DnsPacket[] = [];
  for (const p of ipPackets(name)) {
    const dns = layer(json[p.index]!, "dns");
    if (dns === undefined || p.complete === undefined) continue;
    if (p.protocol === 17) {
      out.push({ index: p.index, transport: "udp", bytes: p.complete.subarray(8), tshark: jsonFields(dns) });
    } else if (p.protocol === 6) {
      const seg = p.complete;
      const payload = seg.subarray((seg[12]! >> 4) * 4);
      const len = (payload[0]! << 8) | payload[1]!;
      expect(payload.length).toBe(len + 2);
      out.push({ index: p.index, transport: "tcp", bytes: payload.subarray(2), tshark: jsonFields(dns) });
    }
  }
  return out;
}

function records(m: Message): ResourceRecord[] {
  return [...m.answers, ...m.authorities, ...m.additionals];
}

/** The fields tshark prints for a message, computed from our decoding with the package's formatters. */
function ourFields(m: Message): Map<string, string[]> {
  const f = new Map<string, string[]>();
  const add = (k: string, v: string | number | boolean): void => {
    f.set(k, [...(f.get(k) ?? []), typeof v === "boolean" ? (v ? "1" : "0") : String(v)]);
  };
  add("dns.id", tsharkHex16(m.id));
  add("dns.flags", tsharkHex16(flagsWord(m)));
  add("dns.flags.response", m.qr);
  add("dns.flags.opcode", m.opcode);
  if (m.qr) add("dns.flags.authoritative", m.aa);
  add("dns.flags.truncated", m.tc);
  if (m.qr) add("dns.flags.rcode", m.rcode);
  add("dns.count.queries", m.questions.length);
  add("dns.count.answers", m.answers.length);
  add("dns.count.auth_rr", m.authorities.length);
  add("dns.count.add_rr", m.additionals.length);
  for (const q of m.questions) {
    add("dns.qry.name", tsharkName(q.name));
    add("dns.qry.type", typeCode(q.type));
  }
  for (const rr of records(m)) {
    add("dns.resp.name", tsharkName(rr.name));
    add("dns.resp.type", typeCode(rr.type));
    if (rr.type !== "OPT") add("dns.resp.ttl", rr.ttl);
    switch (rr.type) {
      case "A":
        add("dns.a", rr.data);
        break;
      case "AAAA":
        add("dns.aaaa", rr.data);
        break;
      case "CNAME":
        add("dns.cname", tsharkName(rr.data));
        break;
      case "NS":
        add("dns.ns", tsharkName(rr.data));
        break;
      case "MX":
        add("dns.mx.preference", rr.data.preference);
        add("dns.mx.mail_exchange", tsharkName(rr.data.exchange));
        break;
      case "TXT":
        for (const s of rr.data) add("dns.txt", tsharkText(s));
        break;
      case "SRV":
        add("dns.srv.port", rr.data.port);
        add("dns.srv.target", tsharkName(rr.data.target));
        break;
      case "SOA":
        add("dns.soa.mname", tsharkName(rr.data.mname));
        break;
    }
  }
  return f;
}

const FIELDS = [
  "dns.id",
  "dns.flags",
  "dns.flags.response",
  "dns.flags.opcode",
  "dns.flags.authoritative",
  "dns.flags.truncated",
  "dns.flags.rcode",
  "dns.count.queries",
  "dns.count.answers",
  "dns.count.auth_rr",
  "dns.count.add_rr",
  "dns.qry.name",
  "dns.qry.type",
  "dns.resp.name",
  "dns.resp.type",
  "dns.resp.ttl",
  "dns.a",
  "dns.aaaa",
  "dns.cname",
  "dns.ns",
  "dns.mx.preference",
  "dns.mx.mail_exchange",
  "dns.txt",
  "dns.srv.port",
  "dns.srv.target",
  "dns.soa.mname",
];

const names = traceNames().filter((n) => n.startsWith("dns-"));

describe("reference traces", () => {
  it("has the DNS traces", () => {
    expect(names).toEqual(["dns-truncated-tcp-retry", "dns-udp-queries"]);
  });

  describe.each(names)("%s", (name) => {
    const packets = dnsPackets(name);

    it("has DNS messages over UDP (and TCP where the trace has them)", () => {
      expect(packets.filter((p) => p.transport === "udp").length).toBeGreaterThanOrEqual(2);
      if (name === "dns-truncated-tcp-retry") expect(packets.filter((p) => p.transport === "tcp")).toHaveLength(2);
    });

    it.each(packets.map((p) => [`frame ${p.index} (${p.transport})`, p] as const))("%s decodes, re-encodes identically, and agrees with tshark", (_label, p) => {
      const m = decodeMessage(p.bytes);
      expect(toHexString(encodeMessage(m))).toBe(toHexString(p.bytes));
      const ours = ourFields(m);
      let compared = 0;
      for (const f of FIELDS) {
        const theirs = p.tshark.get(f);
        if (theirs === undefined) {
          expect(ours.get(f) ?? [], f).toEqual([]);
          continue;
        }
        expect(ours.get(f), f).toEqual(theirs);
        compared++;
      }
      expect(compared).toBeGreaterThanOrEqual(10);
    });
  });

  it("the truncated UDP answer has TC and no records, the TCP retry has them all", () => {
    const ps = dnsPackets("dns-truncated-tcp-retry").map((p) => ({ ...p, m: decodeMessage(p.bytes) }));
    const tc = ps.find((p) => p.transport === "udp" && p.m.qr)!;
    expect(tc.m.tc).toBe(true);
    expect(tc.m.answers).toHaveLength(0);
    const full = ps.find((p) => p.transport === "tcp" && p.m.qr)!;
    expect(full.m.tc).toBe(false);
    expect(full.m.answers.length).toBe(12);
    expect(full.m.answers.every((r) => r.type === "TXT")).toBe(true);
  });
});
