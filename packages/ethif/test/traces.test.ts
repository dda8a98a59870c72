/**
 * decodeEthernet against tshark: every frame of every reference trace, compared
 * with the eth (and, for tagged frames, vlan) fields of the .tshark.json.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { formatMac } from "@morgana/interfaces";
import { readCapture } from "@morgana/pcap";
import { decodeEthernet, encodeEthernet } from "../src/index.js";
import { hex } from "./helpers.js";

const TRACES = new URL("../../../../shared/traces/", import.meta.url);
const names = readdirSync(TRACES)
  .filter((f) => f.endsWith(".pcap"))
  .map((f) => f.slice(0, -5))
  .sort();

type Layers = Record<string, Record<string, unknown> | undefined>;

describe("reference traces", () => {
  it("finds them", () => {
    expect(names.length).toBeGreaterThanOrEqual(9);
  });

  describe.each(names)("%s", (name) => {
    it("decodes every frame as tshark does (dst, src, type; VLAN fields when tagged)", () => {
      const capture = readCapture(readFileSync(fileURLToPath(new URL(`${name}.pcap`, TRACES))));
      const json = JSON.parse(readFileSync(fileURLToPath(new URL(`${name}.tshark.json`, TRACES)), "utf8")) as { _source: { layers: Layers } }[];
      expect(capture.records.length).toBe(json.length);
      expect(capture.records.length).toBeGreaterThan(0);
      capture.records.forEach((r, i) => {
        const layers = json[i]!._source.layers;
        const eth = layers.eth as Record<string, string>;
        const d = decodeEthernet(r.data);
        expect(formatMac(d.dst)).toBe(eth["eth.dst"]);
        expect(formatMac(d.src)).toBe(eth["eth.src"]);
        const vlan = layers.vlan as Record<string, string> | undefined;
        if (vlan === undefined) {
          expect(d.vlan).toBeUndefined();
          expect("0x" + d.etherType.toString(16).padStart(4, "0")).toBe(eth["eth.type"]);
          expect(d.headerLength).toBe(14);
        } else {
          expect(eth["eth.type"]).toBe("0x8100");
          expect(d.vlan?.id).toBe(Number(vlan["vlan.id"]));
          expect(d.vlan?.pcp).toBe(Number(vlan["vlan.priority"]));
          expect("0x" + d.etherType.toString(16).padStart(4, "0")).toBe(vlan["vlan.etype"]);
        }
        expect(d.payload.length).toBe(r.data.length - d.headerLength);
        expect(hex(encodeEthernet(d, d.payload))).toBe(hex(r.data));
      });
    });
  });
});
