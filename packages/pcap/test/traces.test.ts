/**
 * The reader against the reference traces: the frames tshark dissected (the
 * .tshark.json beside each trace), and tshark's own frame lengths and times.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCapture, type Capture } from "../src/index.js";
import {
  HAVE_EDITCAP,
  TRACES_DIR,
  requireTool,
  run,
  skipWithout,
  toHex,
  traceBytes,
  traceNames,
  tracePath,
  tsharkFields,
  withTempDir,
} from "./helpers.js";

interface JsonPacket {
  _source: { layers: Record<string, Record<string, unknown> | undefined> };
}

const names = traceNames();

function macBytes(text: string): string {
  return text.split(":").join("");
}

describe("reference traces", () => {
  it("finds the traces", () => {
    expect(TRACES_DIR).toMatch(/shared\/traces\/$/);
    expect(names.length).toBeGreaterThanOrEqual(9);
    expect(names).toContain("tcp-bulk-256k");
  });

  describe.each(names)("%s", (name) => {
    const capture: Capture = readCapture(traceBytes(name));
    const json = JSON.parse(readFileSync(join(TRACES_DIR, `${name}.tshark.json`), "utf8")) as JsonPacket[];

    it("is classic little-endian microsecond Ethernet pcap", () => {
      expect(capture.format).toBe("pcap");
      expect(capture.header).toMatchObject({ byteOrder: "little", nanosecond: false, versionMajor: 2, versionMinor: 4, linktype: 1 });
      expect(capture.interfaces).toHaveLength(1);
      expect(capture.error).toBeUndefined();
      expect(capture.validLength).toBe(traceBytes(name).length);
    });

    it("has the frames tshark dissected: count, Ethernet addresses and type, IPv4 total length", () => {
      expect(capture.records.length).toBe(json.length);
      let withIp = 0;
      capture.records.forEach((r, i) => {
        const layers = json[i]!._source.layers;
        const eth = layers.eth as Record<string, string>;
        expect(r.linktype).toBe(1);
        expect(r.interfaceId).toBe(0);
        expect(r.capturedLength).toBe(r.data.length);
        expect(toHex(r.data.subarray(0, 6))).toBe(macBytes(eth["eth.dst"]!));
        expect(toHex(r.data.subarray(6, 12))).toBe(macBytes(eth["eth.src"]!));
        expect("0x" + toHex(r.data.subarray(12, 14))).toBe(eth["eth.type"]);
        const ip = layers.ip as Record<string, string> | undefined;
        if (ip !== undefined) {
          withIp++;
          const len = Number(ip["ip.len"]);
          expect((r.data[16]! << 8) | r.data[17]!).toBe(len);
          expect(len).toBeLessThanOrEqual(r.data.length - 14);
        }
      });
      if (name !== "arp-icmp-echo") expect(withIp).toBeGreaterThan(0);
    });

    it("gives zero-copy views into the input", () => {
      const bytes = traceBytes(name);
      const c = readCapture(bytes);
      let expectedOffset = 24;
      for (const r of c.records) {
        expect(r.data.buffer).toBe(bytes.buffer);
        expect(r.offset).toBe(expectedOffset);
        expect(r.data.byteOffset).toBe(bytes.byteOffset + r.offset + 16);
        expectedOffset += 16 + r.capturedLength;
      }
    });

    it.skipIf(skipWithout("tshark"))("matches tshark's frame.len and frame.time_epoch", () => {
      requireTool("tshark");
      const fields = tsharkFields(tracePath(name));
      expect(fields.length).toBe(capture.records.length);
      fields.forEach((f, i) => {
        const r = capture.records[i]!;
        expect(r.originalLength).toBe(f.len);
        expect(r.capturedLength).toBe(f.capLen);
        expect(r.sec).toBe(f.sec);
        expect(Math.floor(r.nsec / 1000)).toBe(Math.floor(f.nsec / 1000));
        expect(r.nsec).toBe(f.nsec);
        expect(Math.abs(r.timestampMs - (f.sec * 1000 + f.nsec / 1e6))).toBeLessThan(1e-3);
      });
    });
  });
});

describe("the traces converted by editcap", () => {
  // editcap is part of the same Wireshark install as tshark.
  const skip = skipWithout("editcap");

  describe.each(names)("%s", (name) => {
   it.skipIf(skip)("pcapng and nanosecond pcap give the same records", () => {
    requireTool("editcap");
    expect(HAVE_EDITCAP).toBe(true);
    const original = readCapture(traceBytes(name));
    withTempDir((dir) => {
      for (const type of ["pcapng", "nsecpcap"]) {
        const out = join(dir, `${name}.${type}`);
        run("editcap", ["-F", type, tracePath(name), out]);
        const converted = readCapture(readFileSync(out));
        expect(converted.format).toBe(type === "pcapng" ? "pcapng" : "pcap");
        if (type === "nsecpcap") expect(converted.header?.nanosecond).toBe(true);
        if (type === "pcapng") {
          expect(converted.sections).toHaveLength(1);
          expect(converted.interfaces[0]?.linktype).toBe(1);
        }
        expect(converted.records.length).toBe(original.records.length);
        converted.records.forEach((r, i) => {
          const o = original.records[i]!;
          expect(r.data).toEqual(o.data);
          expect(r.originalLength).toBe(o.originalLength);
          expect({ sec: r.sec, nsec: r.nsec }).toEqual({ sec: o.sec, nsec: o.nsec });
          expect(r.linktype).toBe(1);
        });
      }
    });
   });
  });
});
