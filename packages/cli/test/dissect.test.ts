import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readCapture } from "@morgana/pcap";
import { describe, expect, it } from "vitest";
import { Dissector } from "../src/index.js";
import { FIELDS, loadTshark } from "./tshark.js";

const traces = fileURLToPath(new URL("../../../../shared/traces/", import.meta.url));
const pcaps = readdirSync(traces).filter((f) => f.endsWith(".pcap")).sort();
const wanted = new Set<string>(FIELDS);

describe("dissector agrees with tshark on the reference traces", () => {
  it("has traces to check", () => {
    expect(pcaps.length).toBeGreaterThanOrEqual(9);
  });

  for (const name of pcaps) {
    it(name, () => {
      const capture = readCapture(readFileSync(traces + name));
      const expected = loadTshark(traces + name.replace(/\.pcap$/, ".tshark.json"), wanted);
      expect(capture.records.length).toBe(expected.length);
      const d = new Dissector();
      let compared = 0;
      capture.records.forEach((r, i) => {
        const got = d.dissect(r.data, i + 1, r.timestampMs, r.linktype);
        expect(got.error, `frame ${i + 1}`).toBeUndefined();
        for (const [field, values] of expected[i]!) {
          expect(got.fields.get(field), `frame ${i + 1} ${field}`).toEqual(values);
          compared += values.length;
        }
      });
      // Every trace has at least the Ethernet fields of every frame.
      expect(compared).toBeGreaterThanOrEqual(capture.records.length * 3);
    });
  }
});
