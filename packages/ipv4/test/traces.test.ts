/**
 * The codec against tshark's dissection of the reference traces, and the
 * receive path against the real fragmented echo.
 */
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatIpv4, mac, parseIpv4Prefix } from "@morgana/interfaces";
import { readCapture } from "@morgana/pcap";
import { decodeIpv4 } from "../src/index.js";
import { Recorder, TRACES_DIR, rig, traceBytes, traceJson } from "./helpers.js";

const names = readdirSync(TRACES_DIR)
  .filter((f) => f.endsWith(".pcap"))
  .map((f) => f.replace(/\.pcap$/, ""))
  .filter((n) => readdirSync(TRACES_DIR).includes(`${n}.tshark.json`))
  .sort();

/** tshark writes numbers as "20", "0xe7cb", "1". */
const num = (s: unknown): number => {
  expect(typeof s).toBe("string");
  return Number(s);
};

/** IPv4 packets (Ethernet payloads) of a trace, with their frame index. */
function ipv4Frames(name: string): { index: number; ip: Uint8Array }[] {
  const out: { index: number; ip: Uint8Array }[] = [];
  readCapture(traceBytes(name)).records.forEach((r, index) => {
    if (r.data.length >= 14 && r.data[12] === 0x08 && r.data[13] === 0x00) out.push({ index, ip: r.data.subarray(14) });
  });
  return out;
}

describe("reference traces", () => {
  it("finds the traces, among them the fragmented echo", () => {
    expect(names.length).toBeGreaterThanOrEqual(9);
    expect(names).toContain("icmp-fragmented");
  });

  it.each(names)("%s: every IPv4 frame decodes to tshark's fields", (name) => {
    const json = traceJson(name);
    const frames = ipv4Frames(name);
    expect(frames.length).toBe(json.filter((p) => p._source.layers.ip !== undefined).length);
    expect(frames.length).toBeGreaterThan(0);
    for (const { index, ip } of frames) {
      const t = json[index]!._source.layers.ip as Record<string, unknown>;
      const flags = t["ip.flags_tree"] as Record<string, string>;
      const h = decodeIpv4(ip);
      expect(h.version).toBe(num(t["ip.version"]));
      expect(h.headerLength).toBe(num(t["ip.hdr_len"]));
      expect(h.tos).toBe(num(t["ip.dsfield"]));
      expect(h.totalLength).toBe(num(t["ip.len"]));
      expect(h.id).toBe(num(t["ip.id"]));
      expect(h.flags.reserved).toBe(num(flags["ip.flags.rb"]) === 1);
      expect(h.flags.dontFragment).toBe(num(flags["ip.flags.df"]) === 1);
      expect(h.flags.moreFragments).toBe(num(flags["ip.flags.mf"]) === 1);
      // This tshark reports ip.frag_offset in 8-byte units (1480 bytes shows as "185").
      expect(h.fragmentOffset).toBe(num(t["ip.frag_offset"]) * 8);
      expect(h.ttl).toBe(num(t["ip.ttl"]));
      expect(h.protocol).toBe(num(t["ip.proto"]));
      expect(h.checksum).toBe(num(t["ip.checksum"]));
      expect(h.checksumValid).toBe(true); // captured from real stacks
      expect(formatIpv4(h.src)).toBe(t["ip.src"]);
      expect(formatIpv4(h.dst)).toBe(t["ip.dst"]);
      expect(h.payload.length).toBe(num(t["ip.len"]) - num(t["ip.hdr_len"]));
    }
  });

  it("icmp-fragmented: the layer reassembles each three-fragment echo into tshark's ICMP message", () => {
    const json = traceJson("icmp-fragmented");
    const frames = ipv4Frames("icmp-fragmented");
    // Each peer's view: deliver the frames addressed to it.
    for (const me of ["10.77.0.2", "10.77.0.1"]) {
      const r = rig({ addresses: [parseIpv4Prefix(`${me}/24`)], gateway: null });
      const icmp = new Recorder();
      r.ipv4.register(1, icmp);
      let expected = 0;
      const lastFragments: number[] = [];
      for (const { index, ip } of frames) {
        const t = json[index]!._source.layers.ip as Record<string, string>;
        if (t["ip.dst"] !== me) continue;
        // Pass a copy: the layer owns what it receives.
        r.eth.deliver(ip.slice(), mac(0x020000000000 + (me === "10.77.0.2" ? 2 : 1)));
        if (json[index]!._source.layers.icmp !== undefined) {
          expected++;
          lastFragments.push(index);
        }
      }
      expect(icmp.got.length).toBe(expected);
      expect(expected).toBe(2);
      for (const [k, d] of icmp.got.entries()) {
        const i = lastFragments[k]!;
        const icmpJson = json[i]!._source.layers.icmp as Record<string, string>;
        // The ICMP message: 2 × 1480 + 48 bytes = 8-byte header + 3000 bytes of data.
        const fragLens = json
          .filter((p) => (p._source.layers.ip as Record<string, string> | undefined)?.["ip.id"] === (json[i]!._source.layers.ip as Record<string, string>)["ip.id"])
          .map((p) => Number((p._source.layers.ip as Record<string, string>)["ip.len"]) - 20);
        expect(d.payload.length).toBe(fragLens.reduce((a, b) => a + b, 0));
        expect(d.payload.length).toBe(3008);
        expect(d.payload[0]).toBe(Number(icmpJson["icmp.type"]));
        expect((d.payload[2]! << 8) | d.payload[3]!).toBe(Number(icmpJson["icmp.checksum"]));
        expect((d.payload[4]! << 8) | d.payload[5]!).toBe(Number(icmpJson["icmp.ident"]));
        expect((d.payload[6]! << 8) | d.payload[7]!).toBe(Number(icmpJson["icmp.seq"]));
        expect(formatIpv4(d.dst)).toBe(me);
        // The reassembled header describes the whole datagram.
        const h = decodeIpv4(new Uint8Array([...d.header, ...d.payload]));
        expect(h).toMatchObject({ totalLength: 3028, fragmentOffset: 0, flags: { moreFragments: false }, checksumValid: true });
        // The ICMP checksum over the reassembled message verifies (independent one's complement sum).
        let s = 0;
        for (let j = 0; j < d.payload.length; j += 2) s += (d.payload[j]! << 8) | (d.payload[j + 1] ?? 0);
        while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
        expect(s).toBe(0xffff);
      }
      const st = r.ipv4.stats();
      expect(st.counters.reassembled).toBe(2);
      expect(st.counters.fragmentsReceived).toBe(6);
      expect(st.counters.reassemblyDatagrams).toBe(0);
      expect(st.counters.reassemblyBytes).toBe(0);
      expect(r.clock.pendingTimers).toBe(0);
    }
  });
});
