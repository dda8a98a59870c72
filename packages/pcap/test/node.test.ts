import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { MorganaError } from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { PcapError, PcapWriter, readCapture, withPcap } from "../src/index.js";
import { createPcapFileWriter, readCaptureFile, readCaptureFileSync } from "../src/node.js";
import { requireTool, skipWithout, toHex, tracePath, tsharkFrames, withTempDir } from "./helpers.js";

describe("@morgana/pcap/node", () => {
  it("readCaptureFile and readCaptureFileSync read a trace (path or URL)", async () => {
    const a = await readCaptureFile(tracePath("tcp-http-get"));
    const b = readCaptureFileSync(pathToFileURL(tracePath("tcp-http-get")));
    const c = readCapture(readFileSync(tracePath("tcp-http-get")));
    expect(a.records.length).toBe(14);
    expect(b.records.map((r) => r.data)).toEqual(c.records.map((r) => r.data));
    expect(a.records.map((r) => r.timestampMs)).toEqual(c.records.map((r) => r.timestampMs));
  });

  it("readCaptureFile rejects with PcapError for a bad file and with the fs error for a missing one", async () => {
    await withTempDir(async (dir) => {
      const f = join(dir, "bad.pcap");
      const w = createPcapFileWriter(f);
      await w.close();
      const bytes = readFileSync(f);
      expect(bytes.length).toBe(24);
      expect((await readCaptureFile(f)).records).toHaveLength(0);
      await expect(readCaptureFile(join(dir, "missing.pcap"))).rejects.toMatchObject({ code: "ENOENT" });
      const { writeFileSync } = await import("node:fs");
      writeFileSync(f, bytes.subarray(0, 10));
      await expect(readCaptureFile(f)).rejects.toBeInstanceOf(PcapError);
    });
  });

  it("createPcapFileWriter writes the same bytes as an in-memory writer; flush makes them readable", async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "out.pcap");
      const fw = createPcapFileWriter(path, { nanosecond: true, snaplen: 1000 });
      const mem = new PcapWriter({ nanosecond: true, snaplen: 1000 });
      const rnd = new SeededRandom(5);
      // Enough records for several background writes.
      for (let i = 0; i < 3000; i++) {
        const d = new Uint8Array(rnd.uint32() % 1200);
        rnd.fill(d);
        const ts = { sec: 1_800_000_000 + i, nsec: rnd.uint32() % 1_000_000_000 };
        fw.writeRecord(d, ts);
        mem.writeRecord(d, ts);
        if (i === 1000) {
          await fw.flush();
          // A file still being written: readable up to the last flush.
          const partial = await readCaptureFile(path, { lenient: true });
          expect(partial.records.length).toBe(1001);
          expect(partial.error).toBeUndefined();
        }
      }
      await fw.flush();
      const onDisk = readFileSync(path);
      expect(onDisk.length).toBe(fw.bytesWritten);
      expect(readCapture(onDisk).records.length).toBe(3000);
      expect(Buffer.compare(onDisk, mem.toBytes())).toBe(0);
      await fw.close();
      await fw.close(); // idempotent
      expect(statSync(path).size).toBe(fw.bytesWritten);
    });
  });

  it("throws EBADF for writes after close, and fails early for a bad path or options", async () => {
    await withTempDir(async (dir) => {
      const fw = createPcapFileWriter(join(dir, "x.pcap"));
      const closing = fw.close();
      let caught: unknown;
      try {
        fw.writeRecord(new Uint8Array(1), 0);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(MorganaError);
      expect((caught as MorganaError).code).toBe("EBADF");
      await closing;
      expect(() => createPcapFileWriter(join(dir, "no", "such", "dir.pcap"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
      expect(() => createPcapFileWriter(join(dir, "y.pcap"), { snaplen: 0 })).toThrow(MorganaError);
      expect(() => statSync(join(dir, "y.pcap"))).toThrow(); // not created
    });
  });

  it.skipIf(!existsSync("/dev/full"))("reports a failed write from flush, close and later writes", async () => {
    const fw = createPcapFileWriter("/dev/full"); // every write fails with ENOSPC
    await expect(fw.flush()).rejects.toMatchObject({ code: "ENOSPC" });
    expect(() => fw.writeRecord(new Uint8Array(1), 0)).toThrow(expect.objectContaining({ code: "ENOSPC" }));
    await expect(fw.close()).rejects.toMatchObject({ code: "ENOSPC" });
    expect(() => fw.writeRecord(new Uint8Array(1), 0)).toThrow(expect.objectContaining({ code: "EBADF" }));
  });

  it.skipIf(skipWithout("tshark"))("a captured Netif's file is read by tshark", async () => {
    requireTool("tshark");
    const { mac } = await import("@morgana/interfaces");
    await withTempDir(async (dir) => {
      const path = join(dir, "capture.pcap");
      const clock = new VirtualClock({ epochMs: 1_795_730_702_000 });
      const writer = createPcapFileWriter(path);
      let handler: ((f: Uint8Array) => void) | undefined;
      const sent: Uint8Array[] = [];
      const netif = withPcap(
        {
          mac: mac(0x020000000001),
          mtu: 1500,
          transmit(size, fill) {
            const b = new Uint8Array(size);
            const n = fill(b);
            sent.push(b.subarray(0, n));
            return true;
          },
          listen(h) {
            handler = h;
          },
          stats: () => ({ counters: {}, drops: {} }),
          close: async () => {},
        },
        { writer, clock },
      );
      netif.listen(() => {});
      const rnd = new SeededRandom(8);
      const frames: { bytes: Uint8Array; ms: number }[] = [];
      for (let i = 0; i < 40; i++) {
        await clock.advance(0.25 + (rnd.uint32() % 100));
        const bytes = new Uint8Array(60 + (rnd.uint32() % 1400));
        rnd.fill(bytes);
        if (i % 2 === 0) netif.transmit(bytes.length, (b) => (b.set(bytes), bytes.length));
        else handler!(bytes.slice());
        frames.push({ bytes, ms: clock.wallTime() });
      }
      await writer.close();
      const got = tsharkFrames(path);
      expect(got.length).toBe(40);
      got.forEach((f, i) => {
        const e = frames[i]!;
        expect(f.raw).toBe(toHex(e.bytes));
        expect(f.len).toBe(e.bytes.length);
        expect(f.sec * 1000 + f.nsec / 1e6).toBeCloseTo(e.ms, 3);
      });
    });
  });
});
