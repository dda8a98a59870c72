/**
 * The throughput table of the TCP issue: one bulk transfer between two direct
 * stacks over an in-memory link with a fixed RTT of 100 ms (50 ms each way),
 * unlimited bandwidth, and random loss of 0, 1, 5 and 10 % of the frames in
 * both directions, with the default 256 KiB buffers. Goodput is compared with
 * the window-per-RTT bound (256 KiB / 100 ms = 2.62 MB/s). The table is kept
 * in test/tcp-throughput.json and every figure must stay within 15 % of it, so
 * regressions (and improvements) show; UPDATE_THROUGHPUT=1 rewrites the file.
 * Runs in virtual time: deterministic for the seeds below.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { TcpFlow } from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { createLink, impair } from "@morgana/vnetif";
import { createStack } from "../src/index.js";

const SNAPSHOT = fileURLToPath(new URL("./tcp-throughput.json", import.meta.url));
const RTT_MS = 100;
const BUFFER = 256 * 1024;
const TOTAL = 16 * 1024 * 1024;
const BOUND = BUFFER / (RTT_MS / 1000); // bytes per second

interface Row {
  lossPercent: number;
  minRtoMs: number;
  bytesPerSecond: number;
  ofBound: number;
  retransmissions: number;
  timeouts: number;
  seconds: number;
}

async function run(loss: number, minRtoMs: number, seed: number): Promise<Row> {
  const clock = new VirtualClock();
  const random = new SeededRandom(seed);
  const [pa, pb] = createLink({ clock, latencyMs: RTT_MS / 2 });
  const net = (p: typeof pa, label: string) => (loss > 0 ? impair(p, { clock, random: random.fork(label), loss }) : p);
  const tcp = { minRtoMs, sendBufferSize: BUFFER, receiveBufferSize: BUFFER };
  const a = createStack({ netif: net(pa, "a"), address: "10.0.0.1/24", clock, random: random.fork("sa"), tcp });
  const b = createStack({ netif: net(pb, "b"), address: "10.0.0.2/24", clock, random: random.fork("sb"), tcp });
  a.arp.addStatic(b.ipv4.addresses[0]!.address, b.netif.mac);
  b.arp.addStatic(a.ipv4.addresses[0]!.address, a.netif.mac);
  const l = await b.tcp.listen({ port: 5001 });
  let c: TcpFlow | undefined;
  let s: TcpFlow | null | undefined;
  void a.tcp.connect({ address: "10.0.0.2", port: 5001 }).then((x) => (c = x));
  void l.accept().then((x) => (s = x));
  await clock.runUntil(() => c !== undefined && s !== undefined, { maxTimeMs: 600_000 });
  const chunk = new Uint8Array(64 * 1024);
  const t0 = clock.now();
  let received = 0;
  let doneAt = -1;
  void (async () => {
    for (let sent = 0; sent < TOTAL; sent += chunk.length) await c!.write(chunk.slice());
  })();
  void (async () => {
    for await (const x of s!) {
      received += x.length;
      if (received >= TOTAL) {
        doneAt = clock.now();
        break;
      }
    }
  })();
  await clock.runUntil(() => doneAt >= 0, { maxTimeMs: 3_600_000 });
  const seconds = (doneAt - t0) / 1000;
  const st = a.tcp.stats().counters;
  await a.close();
  await b.close();
  const bps = TOTAL / seconds;
  return {
    lossPercent: loss * 100,
    minRtoMs,
    bytesPerSecond: Math.round(bps),
    ofBound: Math.round((bps / BOUND) * 1000) / 1000,
    retransmissions: st.retransmittedSegments!,
    timeouts: st.timeouts!,
    seconds: Math.round(seconds * 1000) / 1000,
  };
}

describe("TCP throughput over a 100 ms RTT link with random loss (snapshot)", () => {
  it("stays within 15 % of the recorded table", async () => {
    const rows: Row[] = [];
    for (const minRto of [1000, 200]) {
      for (const loss of [0, 0.01, 0.05, 0.1]) rows.push(await run(loss, minRto, 42));
    }
    const table = [
      `| loss | min RTO | goodput (B/s) | of window/RTT bound (${Math.round(BOUND)} B/s) | retransmitted segments | timeouts | seconds for ${TOTAL} B |`,
      "|---:|---:|---:|---:|---:|---:|---:|",
      ...rows.map((r) => `| ${r.lossPercent} % | ${r.minRtoMs} ms | ${r.bytesPerSecond} | ${(r.ofBound * 100).toFixed(1)} % | ${r.retransmissions} | ${r.timeouts} | ${r.seconds} |`),
    ].join("\n");
    console.log(`\nTCP goodput, 100 ms RTT, ${BUFFER / 1024} KiB buffers, ${TOTAL / 1048576} MiB per run, CUBIC, SACK, timestamps:\n${table}\n`);
    // At 0 % loss the transfer is within 10 % of the window-per-RTT bound (slow start included).
    expect(rows[0]!.ofBound).toBeGreaterThan(0.9);
    if (process.env.UPDATE_THROUGHPUT === "1" || !existsSync(SNAPSHOT)) {
      writeFileSync(SNAPSHOT, JSON.stringify({ rttMs: RTT_MS, bufferBytes: BUFFER, totalBytes: TOTAL, boundBytesPerSecond: BOUND, rows }, null, 2) + "\n");
      return;
    }
    const snap = JSON.parse(readFileSync(SNAPSHOT, "utf8")) as { rows: Row[] };
    for (const r of rows) {
      const old = snap.rows.find((x) => x.lossPercent === r.lossPercent && x.minRtoMs === r.minRtoMs);
      expect(old, `no recorded row for ${r.lossPercent} % / ${r.minRtoMs} ms`).toBeDefined();
      const rel = Math.abs(r.bytesPerSecond - old!.bytesPerSecond) / old!.bytesPerSecond;
      expect(rel, `${r.lossPercent} % loss, min RTO ${r.minRtoMs} ms: ${r.bytesPerSecond} B/s vs recorded ${old!.bytesPerSecond}`).toBeLessThanOrEqual(0.15);
    }
  }, 600_000);
});
