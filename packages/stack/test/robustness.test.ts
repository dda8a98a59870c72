import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { finish, onesComplementSum } from "@morgana/checksum";
import { writeMac, type LayerStats, type MacAddress } from "@morgana/interfaces";
import { readCapture } from "@morgana/pcap";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { createLink } from "@morgana/vnetif";
import { createStack } from "../src/index.js";
import { TRACES_DIR } from "@morgana/testkit";
import { network, totalDrops } from "./helpers.js";

/** Counters that mean "this frame was taken in and handled" at some layer. */
function consumed(st: Readonly<Record<string, LayerStats>>): number {
  const c = (layer: string, name: string) => st[layer]!.counters[name] ?? 0;
  return (
    c("arp", "rxRequests") +
    c("arp", "rxReplies") +
    c("ipv4", "fragmentsReceived") +
    c("icmp", "rxMessages") +
    c("udp", "rxDatagrams") +
    c("tcp", "segmentsIn")
  );
}

/** Every frame of every reference trace. */
function traceFrames(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of readdirSync(TRACES_DIR).filter((n) => n.endsWith(".pcap")).sort()) {
    for (const r of readCapture(readFileSync(TRACES_DIR + f)).records) out.push(r.data.slice());
  }
  return out;
}

/** Readdresses a trace frame to the target stack (MAC, and IPv4 destination with a fixed checksum). */
function readdress(frame: Uint8Array, mac: MacAddress, ip: Uint8Array, fixChecksum: boolean): Uint8Array {
  const f = frame.slice();
  writeMac(f, 0, mac);
  if (f.length >= 34 && f[12] === 0x08 && f[13] === 0x00) {
    f.set(ip, 30);
    if (fixChecksum) {
      const hl = (f[14]! & 0x0f) * 4;
      if (hl >= 20 && 14 + hl <= f.length) {
        f[24] = 0;
        f[25] = 0;
        const c = finish(onesComplementSum(f, 14, 14 + hl));
        f[24] = c >>> 8;
        f[25] = c & 0xff;
      }
    }
  }
  return f;
}

describe("the whole receive path (ethif → arp/ipv4 → icmp/udp/tcp) under hostile input", () => {
  it("counts every random or mutated frame, throws nothing, and stays bounded", async () => {
    // On a point-to-point link with the injector (a learning switch would be
    // confused by the traces' source MACs): every frame it receives is one we sent.
    const clock = new VirtualClock();
    const handlerErrors: unknown[] = [];
    const [port, inj] = createLink({ clock, onHandlerError: (e) => handlerErrors.push(e) });
    const target = createStack({ netif: port, address: "10.77.0.2/24", clock, random: new SeededRandom(99) });
    const sock = await target.udp.bind({ port: 9999, receiveQueue: 16 });
    void sock;
    // A TCP listener on the port of the HTTP traces, so mutated TCP segments reach the state machine too.
    const listener = await target.tcp.listen({ port: 80 });
    void listener;
    const traces = traceFrames();
    expect(traces.length).toBeGreaterThan(100);
    const ipBytes = Uint8Array.of(10, 77, 0, 2);
    const frameArb = fc.oneof(
      // Random bytes, sometimes addressed to the target with an IPv4 or ARP EtherType.
      fc.tuple(fc.uint8Array({ minLength: 14, maxLength: 1514 }), fc.constantFrom(0, 1, 2)).map(([b, kind]) => {
        if (kind > 0) writeMac(b, 0, target.netif.mac);
        if (kind === 1) b.set([0x08, 0x00, 0x45].slice(0, b.length - 12), 12);
        if (kind === 2) b.set([0x08, 0x06], 12);
        return b;
      }),
      // A trace frame readdressed to the target, then mutated.
      fc
        .tuple(fc.nat(traces.length - 1), fc.boolean(), fc.array(fc.tuple(fc.nat(1513), fc.nat(255)), { minLength: 0, maxLength: 6 }))
        .map(([i, fix, muts]) => {
          const f = readdress(traces[i]!, target.netif.mac, ipBytes, fix);
          for (const [at, v] of muts) if (at >= 6 && at < f.length) f[at] = v; // keep the destination MAC
          return f;
        }),
    );
    let frames = 0;
    await fc.assert(
      fc.asyncProperty(frameArb, async (frame) => {
        const before = target.stats();
        const rx = before.ethernet!.counters.rxFrames!;
        inj.transmit(frame.length, (b) => (b.set(frame), frame.length));
        await clock.advance(0);
        const after = target.stats();
        frames++;
        // The frame reached the stack, and it was either handled somewhere or counted as a drop.
        expect(after.ethernet!.counters.rxFrames).toBe(rx + 1);
        expect(totalDrops(after) - totalDrops(before) + consumed(after) - consumed(before)).toBeGreaterThanOrEqual(1);
        expect(handlerErrors).toEqual([]);
      }),
      { numRuns: 3000 },
    );
    expect(frames).toBe(3000);
    // Something got through to every layer, and something was refused at several.
    const st = target.stats();
    expect(Object.keys(st.ethernet!.drops).length).toBeGreaterThan(0);
    expect(Object.keys(st.ipv4!.drops).length).toBeGreaterThan(1);
    expect(st.arp!.counters.rxPackets).toBeGreaterThan(0);
    // TCP saw segments and never hit an internal error (those would be counted, not thrown).
    expect(st.tcp!.counters.segmentsIn).toBeGreaterThan(0);
    expect(st.tcp!.drops["internal-error"] ?? 0).toBe(0);
    await target.close();
    await clock.runUntilIdle();
    expect(clock.pendingTimers).toBe(0);
  });

  it("keeps reassembly memory within its limits under a fragment flood", async () => {
    const net = network(5, 0);
    const limit = 256 * 1024;
    const target = net.host("10.77.0.2/24", { ipv4: { reassembly: { maxBytes: limit, maxDatagrams: 32 } } });
    const inj = net.sw.createPort({ name: "inj" });
    const r = new SeededRandom(7);
    const frame = new Uint8Array(1514);
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      // A non-final fragment of 1480 bytes with a random id and offset, valid header checksum.
      frame.fill(0);
      writeMac(frame, 0, target.netif.mac);
      frame.set([0x02, 0, 0, 0, 0, 0x99, 0x08, 0x00, 0x45, 0x00, 0x05, 0xdc], 6);
      // 32 ids, 43 distinct 1480-byte slots each: up to 32 × 43 × 1480 bytes (2 MB) wanted.
      frame[18] = 0;
      frame[19] = r.uint32() & 31;
      const off = (r.uint32() % 43) * 185; // in 8-byte units
      frame[20] = 0x20 | ((off >>> 8) & 0x1f);
      frame[21] = off & 0xff;
      frame[22] = 64;
      frame[23] = 17;
      frame.set([10, 77, 0, 1, 10, 77, 0, 2], 26);
      const c = finish(onesComplementSum(frame, 14, 34));
      frame[24] = c >>> 8;
      frame[25] = c & 0xff;
      inj.transmit(frame.length, (b) => (b.set(frame), frame.length));
      if (i % 64 === 63) {
        await net.clock.advance(0);
        const held = target.ipv4.stats().counters;
        peak = Math.max(peak, held.reassemblyBytes!);
        expect(held.reassemblyBytes).toBeLessThanOrEqual(limit);
        expect(held.reassemblyDatagrams).toBeLessThanOrEqual(32);
      }
    }
    await net.clock.advance(0);
    expect(peak).toBeGreaterThan(limit / 2); // the flood really pressed against the limit
    expect(target.ipv4.stats().counters.fragmentsReceived).toBeGreaterThan(10_000);
    await net.clock.advance(31_000);
    expect(target.ipv4.stats().counters.reassemblyBytes).toBe(0);
    expect(net.handlerErrors).toEqual([]);
    await net.closeAll();
  });
});
