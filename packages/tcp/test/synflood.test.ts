import { describe, expect, it } from "vitest";
import { SeededRandom } from "@morgana/sim";
import { ACK, SYN } from "../src/index.js";
import { Harness, RISN, add, bytes } from "./harness.js";

describe("SYN queue, SYN cookies and the accept queue", () => {
  it("answers with a SYN cookie once the SYN queue is full, and keeps no state for it", async () => {
    const h = new Harness({ synQueue: 4 });
    await h.tcp.listen({ port: 80 });
    for (let i = 0; i < 4; i++) {
      h.rport = 41000 + i;
      h.send({ seq: RISN, flags: SYN, options: { mss: 1460 } });
    }
    expect(h.out()).toHaveLength(4);
    expect(h.tcp.stats().counters.halfOpen).toBe(4);
    h.rport = 42000;
    h.send({ seq: RISN, flags: SYN, options: { mss: 1460 } });
    const sa = h.one();
    expect(sa.names).toBe("ACK,SYN");
    expect(sa.ack).toBe(RISN + 1);
    expect(h.counters().synCookiesSent).toBe(1);
    expect(h.tcp.connectionCount).toBe(4);
  });

  it("a cookie-validated ACK completes the connection (MSS from the cookie; no WS/SACK without timestamps), and data flows", async () => {
    const h = new Harness({ synQueue: 1 });
    const l = await h.tcp.listen({ port: 80 });
    h.rport = 41000;
    h.send({ seq: 7, flags: SYN });
    h.one();
    h.rport = 42000;
    h.send({ seq: RISN, flags: SYN, options: { mss: 1400, wscale: 5, sackPermitted: true } });
    const sa = h.one();
    // Without timestamps the cookie SYN-ACK offers neither window scaling nor SACK (as Linux).
    expect(sa.options).toEqual({ mss: 1460 });
    h.send({ seq: RISN + 1, ack: add(sa.seq, 1), flags: ACK, data: new TextEncoder().encode("GET /") });
    expect(h.counters().synCookiesValidated).toBe(1);
    const flow = (await l.accept())!;
    expect(flow.remote.port).toBe(42000);
    expect(new TextDecoder().decode((await flow.read())!)).toBe("GET /");
    // 1400 rounds down to 1360 in the cookie's MSS table.
    expect(flow.info()).toMatchObject({ state: "ESTABLISHED", mss: 1360, windowScaling: false, sack: false, timestamps: false });
    await flow.write(bytes(4000));
    // Full 1360-byte segments (Nagle holds the 1280-byte tail while they are in flight).
    expect(h.out().filter((s) => s.data.length > 0).map((s) => s.data.length)).toEqual([1360, 1360]);
  });

  it("with timestamps the cookie also carries window scale and SACK-permitted in the TSval", async () => {
    const h = new Harness({ synQueue: 1 });
    const l = await h.tcp.listen({ port: 80 });
    h.rport = 41000;
    h.send({ seq: 7, flags: SYN });
    h.one();
    h.rport = 42000;
    h.send({ seq: RISN, flags: SYN, options: { mss: 1460, wscale: 5, sackPermitted: true, tsVal: 1000, tsEcr: 0 } });
    const sa = h.one();
    expect(sa.options).toMatchObject({ mss: 1460, wscale: 3, sackPermitted: true, tsEcr: 1000 });
    expect(sa.options.tsVal! & 0x3f).toBe(5 | 0x10);
    h.send({ seq: RISN + 1, ack: add(sa.seq, 1), flags: ACK, window: 100, options: { tsVal: 1001, tsEcr: sa.options.tsVal! } });
    const flow = (await l.accept())!;
    expect(flow.info()).toMatchObject({ mss: 1448, windowScaling: true, sack: true, timestamps: true, sendWindow: 100 << 5 });
    await flow.write(bytes(100));
    const d = h.one();
    // Our timestamps continue from the cookie's (the peer's PAWS would drop older ones).
    expect(((d.options.tsVal! - sa.options.tsVal!) | 0) >= 0).toBe(true);
    expect(d.options.tsEcr).toBe(1001);
  });

  it("a forged or stale cookie gets a RST and no connection", async () => {
    const h = new Harness({ synQueue: 1 });
    await h.tcp.listen({ port: 80 });
    h.rport = 41000;
    h.send({ seq: 7, flags: SYN });
    h.one();
    h.rport = 42000;
    h.send({ seq: RISN, flags: SYN });
    const sa = h.one();
    h.send({ seq: RISN + 1, ack: add(sa.seq, 1 + (1 << 20)), flags: ACK });
    expect(h.one()).toMatchObject({ names: "RST" });
    expect(h.counters().synCookiesFailed).toBe(1);
    // Three minutes later the genuine cookie has expired too.
    await h.clock.advance(180_000);
    h.out();
    h.send({ seq: RISN + 1, ack: add(sa.seq, 1), flags: ACK });
    expect(h.one().names).toBe("RST");
    expect(h.tcp.connectionCount).toBe(0);
  });

  it("without SYN cookies a full SYN queue drops SYNs", async () => {
    const h = new Harness({ synQueue: 1, synCookies: false });
    await h.tcp.listen({ port: 80 });
    h.rport = 41000;
    h.send({ seq: 7, flags: SYN });
    h.one();
    h.rport = 41001;
    h.send({ seq: 7, flags: SYN });
    h.none();
    expect(h.drops()["syn-queue-full"]).toBe(1);
  });

  it("a full accept queue drops SYNs and final ACKs (the client retries), and takes them once accept() makes room", async () => {
    const h = new Harness();
    const l = await h.tcp.listen({ port: 80, backlog: 1 });
    const open = (port: number) => {
      h.rport = port;
      h.send({ seq: RISN, flags: SYN });
      const sa = h.one();
      return sa;
    };
    const sa1 = open(41000);
    h.send({ seq: RISN + 1, ack: add(sa1.seq, 1), flags: ACK });
    // The queue is full now: a SYN is dropped.
    h.rport = 41001;
    h.send({ seq: RISN, flags: SYN });
    h.none();
    expect(h.drops()["accept-queue-full"]).toBe(1);
    const f1 = await l.accept();
    expect(f1!.remote.port).toBe(41000);
    // A half-open connection whose final ACK arrives while the queue is full stays half-open.
    const sa2 = open(41002);
    const sa3 = open(41003);
    h.rport = 41002;
    h.send({ seq: RISN + 1, ack: add(sa2.seq, 1), flags: ACK });
    h.rport = 41003;
    h.send({ seq: RISN + 1, ack: add(sa3.seq, 1), flags: ACK });
    expect(h.drops()["accept-queue-full"]).toBe(2);
    expect(h.tcp.stats().counters.halfOpen).toBe(1);
    expect((await l.accept())!.remote.port).toBe(41002);
    // The client retransmits its ACK (or the SYN-ACK timer fires): now it fits.
    h.send({ seq: RISN + 1, ack: add(sa3.seq, 1), flags: ACK });
    expect((await l.accept())!.remote.port).toBe(41003);
  });

  it("100 000 spoofed SYNs: memory and state stay bounded, and a real client still connects (through a cookie)", async () => {
    const h = new Harness();
    const l = await h.tcp.listen({ port: 80 });
    const r = new SeededRandom(99);
    let maxConns = 0;
    let maxTimers = 0;
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) {
      const a = r.uint32();
      h.send({ src: `10.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${(a & 255) | 1}`, sport: 1024 + (r.uint32() % 60000), seq: r.uint32(), flags: SYN, options: { mss: 1460, tsVal: r.uint32(), tsEcr: 0, sackPermitted: true, wscale: 7 } });
      if (i % 1000 === 0) {
        maxConns = Math.max(maxConns, h.tcp.connectionCount);
        maxTimers = Math.max(maxTimers, h.clock.pendingTimers);
        h.log.length = 0;
        h.ip.written.length = 0;
        h.out();
        await h.clock.advance(1);
      }
    }
    h.log.length = 0;
    h.ip.written.length = 0;
    h.out();
    expect(maxConns).toBe(256);
    expect(h.tcp.connectionCount).toBe(256);
    expect(maxTimers).toBeLessThanOrEqual(256);
    expect(h.counters().synCookiesSent).toBe(100_000 - 256);
    // The heap grew by far less than 100 000 connections would take (they would be ~100 MB).
    const grown = process.memoryUsage().heapUsed - before;
    expect(grown).toBeLessThan(40 << 20);
    // A genuine client still gets in, through a cookie.
    h.rport = 55555;
    h.send({ seq: RISN, flags: SYN, options: { mss: 1460 } });
    const sa = h.one();
    h.send({ seq: RISN + 1, ack: add(sa.seq, 1), flags: ACK, data: bytes(10) });
    const flow = (await l.accept())!;
    expect(flow.remote.port).toBe(55555);
    expect((await flow.read())!.length).toBe(10);
    // The half-open connections time out after the SYN-ACK retries (1+2+4+8+16+32 s).
    await h.clock.advance(64_000);
    expect(h.tcp.connectionCount).toBe(1);
    expect(h.tcp.stats().counters.halfOpen).toBe(0);
  });
});
