import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCaptureFileSync } from "@morgana/pcap/node";
import { VirtualClock } from "@morgana/sim";
import { main, runDirect } from "../src/direct.js";
import { systemClock } from "@morgana/sim";
import { captureIo, failingApp, ownedClock, probeApp } from "./fixtures.js";

const dir = mkdtempSync(path.join(tmpdir(), "morgana-targets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("the direct target", () => {
  it("runDirect: resolves the name through the app's DNS, fetches every page, counts the frames", async () => {
    const r = await runDirect(probeApp);
    expect(r.resolved).toEqual({ name: "probe.morgana.test", address: "10.0.0.1" });
    expect(r.pages.map((p) => [p.path, p.status, text(p.body), p.bytes])).toEqual([
      ["/", 200, "/ on direct\n", 12],
      ["/two", 200, "/two on direct\n", 15],
    ]);
    expect(r.pages[0]!.contentType).toBe("text/plain;charset=UTF-8");
    // The probe zone has no TXT and no www: NODATA and NXDOMAIN, answered all the same.
    expect(r.dns.map((d) => [d.name, d.type, d.transport, d.rcode, d.answers])).toEqual([
      ["probe.morgana.test", "A", "udp", "NOERROR", ["10.0.0.1"]],
      ["probe.morgana.test", "TXT", "udp", "NOERROR", []],
      ["www.probe.morgana.test", "CNAME", "udp", "NXDOMAIN", []],
      ["probe.morgana.test", "A", "tcp", "NOERROR", ["10.0.0.1"]],
    ]);
    // At least: 2 ARP, 2 DNS lookups (A), 3-way handshake, 2 requests + 2 responses, 4 DNS exchanges, a TCP DNS connection.
    expect(r.packets).toBeGreaterThan(20);
    expect(r.bytes).toBeGreaterThan(r.packets * 42);
    expect(r.pcapPath).toBeUndefined();
    expect(r.elapsedMs).toBeGreaterThan(0);
    expect(r.elapsedMs).toBeLessThan(10_000);
  });

  it("main: prints the report, writes the pcap (exactly the frames counted), exit 0", async () => {
    const file = path.join(dir, "probe.pcap");
    const c = captureIo();
    expect(await main(probeApp, ["--pcap", file], c.io)).toBe(0);
    expect(c.err).toEqual([]);
    const out = c.out.join("\n");
    expect(out).toMatch(/^probe on the direct target: /);
    expect(out).toContain("probe: up on direct");
    expect(out).toContain("resolved probe.morgana.test -> 10.0.0.1");
    expect(out).toMatch(/\n {2}GET http:\/\/probe\.morgana\.test\/ {5}200 {6}12 bytes {2}text\/plain;charset=UTF-8\n/);
    expect(out).toMatch(/\n {2}GET http:\/\/probe\.morgana\.test\/two {2}200 {6}15 bytes /);
    expect(out).toMatch(/\n {2}DNS probe\.morgana\.test A +udp {2}NOERROR {2}10\.0\.0\.1\n/);
    const totals = /\n(\d+) packets, (\d+) bytes exchanged in \d+ ms\n/.exec(out);
    expect(totals).not.toBeNull();
    expect(c.out.slice(-2)).toEqual([`capture: ${file}`, `  npx morgana dissect ${file}`]);
    const capture = readCaptureFileSync(file);
    expect(capture.records.length).toBe(Number(totals![1]));
    expect(capture.records.reduce((n, r) => n + r.originalLength, 0)).toBe(Number(totals![2]));
  });

  it("main: a failing application is one line and exit 1; nothing is left open", async () => {
    const c = captureIo();
    const app = failingApp("boom");
    expect(await main(app, ["--pcap", path.join(dir, "failing.pcap")], c.io)).toBe(1);
    expect(app.started).toBe(1);
    expect(c.err).toEqual(["morgana: the direct run failed: boom"]);
    expect(existsSync(path.join(dir, "failing.pcap"))).toBe(true); // created, then closed
  });

  it("runDirect leaves no timer behind once the stacks are closed (TIME-WAIT included), so the process can exit", async () => {
    const clock = ownedClock(systemClock);
    const r = await runDirect(probeApp, { clock });
    expect(r.pages.length).toBeGreaterThan(0);
    expect(clock.pending).toBe(0);
  });

  it("runDirect with a failing application leaves no timer behind either", async () => {
    const clock = ownedClock(systemClock);
    await expect(runDirect(failingApp("boom"), { clock })).rejects.toThrow("boom");
    expect(clock.pending).toBe(0);
  });

  it("ownedClock (the test helper): fired and cancelled timers leave the count", async () => {
    const base = new VirtualClock();
    const clock = ownedClock(base);
    const fired: number[] = [];
    clock.setTimer(10, () => fired.push(10));
    const t = clock.setTimer(20, () => fired.push(20));
    clock.setTimer(30, () => fired.push(30));
    t.cancel();
    expect(clock.pending).toBe(2);
    await base.advance(15);
    expect(fired).toEqual([10]);
    expect(clock.pending).toBe(1);
    await base.advance(100);
    expect(fired).toEqual([10, 30]);
    expect(clock.pending).toBe(0);
    expect(base.pendingTimers).toBe(0);
    expect(clock.now()).toBe(base.now());
    expect(clock.wallTime?.()).toBe(base.wallTime());
  });
});
