import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PcapWriter } from "@morgana/pcap";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../src/index.js";

const traces = fileURLToPath(new URL("../../../../shared/traces/", import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), "morgana-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

function hexBytes(h: string): Uint8Array {
  return Uint8Array.from(h.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
}

// An Ethernet frame whose IPv4 header claims 200 bytes but carries 28: the
// Ethernet fields decode, the IPv4 layer fails.
const BAD_IP = hexBytes("020000000002 020000000001 0800 4500 00c8 0001 0000 4011 0000 0a4d0001 0a4d0002 1234 0035 0008 0000");
// A good UDP datagram after it, to show the file is not abandoned.
const GOOD_UDP = hexBytes("020000000002 020000000001 0800 4500 001c 0002 0000 4011 64c4 0a4d0001 0a4d0002 1234 0009 0008 0000");

describe("morgana dissect", () => {
  it("prints one JSON line per frame with Wireshark field names", async () => {
    const r = await run(["dissect", traces + "udp-port-unreachable.pcap", "--json"]);
    expect(r.code).toBe(0);
    const lines = r.out.map((l) => JSON.parse(l));
    expect(lines.map((l) => l.frame)).toEqual([1, 2, 3, 4, 5]);
    const icmp = lines[4].fields;
    expect(icmp["icmp.type"]).toBe(3);
    expect(icmp["icmp.code"]).toBe(3);
    // The outer and the quoted IP header: arrays in frame order.
    expect(icmp["ip.src"]).toEqual(["10.77.0.2", "10.77.0.1"]);
    expect(icmp["udp.dstport"]).toBe(9999);
    expect(lines[1].fields["eth.type"]).toBe(0x0806);
    expect(lines[1].fields["arp.src.hw_mac"]).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  });

  it("keeps the fields decoded before a failure, names the layer, and goes on", async () => {
    const w = new PcapWriter();
    w.writeRecord(BAD_IP, 1000);
    w.writeRecord(GOOD_UDP, 2000);
    const f = path.join(tmp, "bad.pcap");
    writeFileSync(f, w.toBytes());
    const r = await run(["dissect", f, "--json"]);
    expect(r.code).toBe(0);
    const [bad, good] = r.out.map((l) => JSON.parse(l));
    expect(bad.fields["eth.type"]).toBe(0x0800);
    expect(bad.fields["eth.src"]).toBe("02:00:00:00:00:01");
    expect(bad.fields.error).toMatch(/^ipv4: total length 200 exceeds/);
    expect(bad.fields["ip.len"]).toBeUndefined();
    expect(good.fields.error).toBeUndefined();
    expect(good.fields["udp.dstport"]).toBe(9);
    const human = await run(["dissect", f]);
    expect(human.out.join("\n")).toMatch(/Frame 1: 42 bytes[\s\S]*error: ipv4: total length 200/);
    expect(human.out.join("\n")).toMatch(/Frame 2: 42 bytes[\s\S]*UDP 4660 > 9/);
  });

  it("reports a truncated file after printing the frames before the damage", async () => {
    const whole = readFileSync(traces + "arp-icmp-echo.pcap");
    const f = path.join(tmp, "cut.pcap");
    writeFileSync(f, whole.subarray(0, whole.length - 10));
    const r = await run(["dissect", f, "--json"]);
    expect(r.code).toBe(1);
    expect(r.out.length).toBeGreaterThan(0);
    expect(r.err.join("\n")).toMatch(/byte offset \d+/);
  });

  it("gives one clear line for usage errors and unreadable files", async () => {
    expect((await run(["dissect"])).code).toBe(2);
    expect((await run(["dissect", "--bogus", "x"])).err[0]).toMatch(/unknown option --bogus/);
    const missing = await run(["dissect", path.join(tmp, "nope.pcap")]);
    expect(missing.code).toBe(1);
    expect(missing.err).toHaveLength(1);
    const notPcap = path.join(tmp, "text.pcap");
    writeFileSync(notPcap, "hello, this is not a capture");
    const bad = await run(["dissect", notPcap]);
    expect(bad.code).toBe(1);
    expect(bad.err[0]).toMatch(/magic/);
    expect((await run(["frobnicate"])).err[0]).toMatch(/unknown command "frobnicate"/);
  });

  it("runs as the `morgana` executable", () => {
    const bin = fileURLToPath(new URL("../bin/morgana.mjs", import.meta.url));
    const r = spawnSync(process.execPath, [bin, "dissect", traces + "arp-icmp-echo.pcap", "--json"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBe(9);
    expect(lines[0].fields["arp.opcode"]).toBe(1);
  });
});

describe("morgana dissect: DNS", () => {
  it("decodes DNS over UDP and over TCP, and reports a broken DNS message as a dns error", async () => {
    const r = await run(["dissect", traces + "dns-truncated-tcp-retry.pcap", "--json"]);
    expect(r.code).toBe(0);
    const frames = r.out.map((l) => JSON.parse(l).fields);
    const udpTc = frames.find((f) => f["udp.srcport"] === 53 && f["dns.flags.truncated"] === 1);
    expect(udpTc).toBeDefined();
    const overTcp = frames.find((f) => f["tcp.srcport"] === 53 && f["dns.count.answers"] !== undefined);
    expect(overTcp!["dns.flags.response"]).toBe(1);
    // A UDP datagram to port 53 whose payload is not DNS: the UDP fields stay, the error names dns.
    const w = new PcapWriter();
    w.writeRecord(hexBytes("020000000002 020000000001 0800 4500 001f 0002 0000 4011 64c1 0a4d0001 0a4d0002 1234 0035 000b 0000 ffffff"), 1);
    const f = path.join(tmp, "baddns.pcap");
    writeFileSync(f, w.toBytes());
    const bad = JSON.parse((await run(["dissect", f, "--json"])).out[0]!).fields;
    expect(bad["udp.dstport"]).toBe(53);
    expect(bad.error).toMatch(/^dns: /);
  });
});
