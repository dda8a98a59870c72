import { describe, expect, it } from "vitest";
import { expectReject } from "@morgana/testkit";
import { ACK } from "../src/index.js";
import { Harness, REMOTE_IP, RISN, activeOpen, add, bytes, passiveOpen } from "./harness.js";

const NO_TS = { mss: 1460, wscale: 7, sackPermitted: true };

describe("retransmission timeout (RFC 6298)", () => {
  it("retransmits with exponential backoff (1, 2, 4 … s, capped at 120 s) and fails with ETIMEDOUT after 15 retransmissions", async () => {
    const h = new Harness({ tailLossProbe: false });
    const { flow, iss } = await activeOpen(h, NO_TS);
    const t0 = h.clock.now();
    await flow.write(bytes(100));
    expect(h.one().seq).toBe(add(iss, 1));
    const r = flow.read();
    let failedAt = -1;
    r.catch(() => (failedAt = h.clock.now()));
    await h.clock.advance(2_000_000);
    const re = h.out();
    expect(re.every((s) => s.seq === add(iss, 1) && s.data.length === 100)).toBe(true);
    expect(re.map((s) => (s.at - t0) / 1000)).toEqual([1, 3, 7, 15, 31, 63, 127, 247, 367, 487, 607, 727, 847, 967, 1087]);
    await expectReject(r, "ETIMEDOUT");
    expect(failedAt - t0).toBe(1_207_000);
    expect(h.counters().timeouts).toBe(16);
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it("reports a remembered soft error (ICMP host unreachable) instead of ETIMEDOUT", async () => {
    const h = new Harness({ maxRetransmissions: 2 });
    const { flow, iss } = await activeOpen(h, NO_TS);
    await flow.write(bytes(10));
    const seg = h.one();
    const q = new Uint8Array(8);
    q.set([seg.srcPort >> 8, seg.srcPort & 255, 0, 80, ...[24, 16, 8, 0].map((b) => (add(iss, 1) >>> b) & 255)]);
    h.ip.deliverIcmpError({ kind: "host-unreachable", type: 3, code: 1, reporter: h.ip.addresses[0]!.address, src: h.ip.addresses[0]!.address, dst: REMOTE_IP, protocol: 6, quoted: q, nextHopMtu: 0 });
    expect(flow.info().state).toBe("ESTABLISHED");
    await h.clock.advance(100_000);
    await expectReject(flow.read(), "EHOSTUNREACH");
  });

  it("computes the RTO from measured RTTs (SRTT + 4·RTTVAR, at least minRtoMs)", async () => {
    const h = new Harness({ minRtoMs: 200, timestamps: false });
    const p = h.tcp.connect({ address: "10.77.0.2", port: 80 });
    const syn = h.one();
    h.lport = syn.srcPort;
    h.rport = 80;
    await h.clock.advance(100);
    h.send({ seq: RISN, ack: add(syn.seq, 1), flags: 0x12, options: { mss: 1460 } });
    const flow = await p;
    // First sample R = 100: SRTT = 100, RTTVAR = 50, RTO = 100 + 200 = 300.
    expect(flow.info()).toMatchObject({ srttMs: 100, rttVarMs: 50, rtoMs: 300 });
    h.out();
    await flow.write(bytes(10));
    h.one();
    await h.clock.advance(50);
    h.send({ seq: RISN + 1, ack: add(syn.seq, 11), flags: ACK });
    // R = 50: RTTVAR = 3/4·50 + 1/4·|100 − 50| = 50; SRTT = 7/8·100 + 1/8·50 = 93.75.
    expect(flow.info().srttMs).toBe(93.75);
    expect(flow.info().rttVarMs).toBe(50);
    expect(flow.info().rtoMs).toBe(293.75);
    // With a 1 s minimum the RTO stays at 1 s.
    const h2 = new Harness();
    const o2 = await activeOpen(h2, NO_TS);
    expect(o2.flow.info().rtoMs).toBe(1000);
  });

  it("Karn: no RTT sample from a retransmitted segment, and the backed-off RTO is kept until a clean sample", async () => {
    const h = new Harness({ timestamps: false, tailLossProbe: false });
    const { flow, iss } = await activeOpen(h, NO_TS);
    await flow.write(bytes(10));
    h.one();
    await h.clock.advance(1000);
    expect(h.one().seq).toBe(add(iss, 1)); // retransmitted; RTO now 2 s
    await h.clock.advance(500);
    h.send({ seq: RISN + 1, ack: add(iss, 11), flags: ACK });
    // The ACK may be for either transmission: no sample (SRTT keeps the handshake's 0).
    expect(flow.info().srttMs).toBe(0);
    expect(flow.info().rtoMs).toBe(2000);
    await flow.write(bytes(10));
    const s2 = h.one();
    await h.clock.advance(1999);
    h.none();
    await h.clock.advance(1);
    expect(h.one().seq).toBe(s2.seq);
    // A segment sent and acknowledged cleanly gives a sample and a fresh RTO.
    h.send({ seq: RISN + 1, ack: add(iss, 21), flags: ACK });
    await flow.write(bytes(10));
    h.one();
    await h.clock.advance(300);
    h.send({ seq: RISN + 1, ack: add(iss, 31), flags: ACK });
    expect(flow.info().srttMs).toBeGreaterThan(0);
    expect(flow.info().rtoMs).toBe(1000);
  });

  it("with timestamps the RTT comes from the echoed TSval, retransmissions included (RFC 7323 §4)", async () => {
    const h = new Harness({ minRtoMs: 100 });
    const { flow, iss, syn } = await activeOpen(h, { mss: 1460, tsVal: 1, tsEcr: 0 });
    await flow.write(bytes(10));
    const d = h.one();
    await h.clock.advance(80);
    h.send({ seq: RISN + 1, ack: add(iss, 11), flags: ACK, options: { tsVal: 2, tsEcr: d.options.tsVal! } });
    expect(flow.info().srttMs).toBeGreaterThan(0);
    void syn;
  });
});

describe("delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2)", () => {
  it("acknowledges a lone segment after 40 ms, and every second full-sized segment at once", async () => {
    const h = new Harness();
    const { flow, iss } = await passiveOpen(h, NO_TS);
    void flow;
    const t0 = h.clock.now();
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, data: bytes(1460) });
    h.none();
    await h.clock.advance(39);
    h.none();
    await h.clock.advance(1);
    const a1 = h.one();
    expect(a1).toMatchObject({ names: "ACK", ack: RISN + 1 + 1460 });
    expect(a1.at - t0).toBe(40);
    h.send({ seq: RISN + 1 + 1460, ack: add(iss, 1), flags: ACK, data: bytes(1460) });
    h.none();
    h.send({ seq: RISN + 1 + 2920, ack: add(iss, 1), flags: ACK, data: bytes(1460) });
    expect(h.one()).toMatchObject({ ack: RISN + 1 + 4380 });
    expect(h.counters().delayedAcks).toBe(1);
  });

  it("acknowledges out-of-order data at once with SACK blocks, and again at once when the hole is filled", async () => {
    const h = new Harness();
    const { flow, iss } = await passiveOpen(h, NO_TS);
    h.send({ seq: RISN + 1 + 1000, ack: add(iss, 1), flags: ACK, data: bytes(500) });
    const dup = h.one();
    expect(dup.ack).toBe(RISN + 1);
    expect(dup.options.sack).toEqual([{ left: RISN + 1001, right: RISN + 1501 }]);
    h.send({ seq: RISN + 1 + 2000, ack: add(iss, 1), flags: ACK, data: bytes(500) });
    // The newest block first (RFC 2018 §4).
    expect(h.one().options.sack).toEqual([
      { left: RISN + 2001, right: RISN + 2501 },
      { left: RISN + 1001, right: RISN + 1501 },
    ]);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, data: bytes(1000) });
    const filled = h.one();
    expect(filled.ack).toBe(RISN + 1501);
    expect(filled.options.sack).toEqual([{ left: RISN + 2001, right: RISN + 2501 }]);
    const got = await flow.read();
    expect(got!.length).toBe(1500);
  });

  it("delayedAckMs: 0 acknowledges every segment at once", async () => {
    const h = new Harness({ delayedAckMs: 0 });
    const { iss } = await passiveOpen(h, NO_TS);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, data: bytes(10) });
    expect(h.one().ack).toBe(RISN + 11);
  });

  it("an ACK rides on data we send in the meantime (no separate delayed ACK)", async () => {
    const h = new Harness();
    const { flow, iss } = await passiveOpen(h, NO_TS);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, data: bytes(10) });
    h.none();
    await flow.write(bytes(5));
    expect(h.one()).toMatchObject({ ack: RISN + 11 });
    await h.clock.advance(100);
    h.none();
  });
});

describe("zero window and the persist timer", () => {
  it("probes a zero window with backoff, never gives up while the peer answers, and sends when it opens", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS, 0);
    const t0 = h.clock.now();
    await flow.write(bytes(3000));
    h.none();
    // Probes (old sequence number, no data) at 1, 3, 7, 15 … s; the peer answers each with window 0.
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      await h.clock.advance(h.clock.nextDeadline()! - h.clock.now());
      const p = h.one();
      expect(p).toMatchObject({ names: "ACK", seq: iss /* SND.UNA − 1 */ });
      expect(p.data.length).toBe(0);
      times.push((p.at - t0) / 1000);
      h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, window: 0 });
    }
    expect(times.slice(0, 8)).toEqual([1, 3, 7, 15, 31, 63, 127, 247]);
    expect(times[19]! - times[18]!).toBe(120); // capped at the maximum RTO
    expect(flow.info().state).toBe("ESTABLISHED");
    expect(h.counters().zeroWindowProbes).toBe(20);
    // The window opens: data flows at once.
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, window: 65535 });
    const segs = h.out();
    // No timestamps: 1460-byte segments; Nagle holds the 80-byte tail while data is in flight.
    expect(segs.map((s) => s.data.length)).toEqual([1460, 1460]);
    h.send({ seq: RISN + 1, ack: add(iss, 2921), flags: ACK, window: 65535 });
    expect(h.one().data.length).toBe(80);
  });

  it("fails with ETIMEDOUT when 15 probes go unanswered", async () => {
    const h = new Harness({ maxRtoMs: 2000 });
    const { flow } = await activeOpen(h, NO_TS, 0);
    await flow.write(bytes(10));
    const r = flow.read();
    r.catch(() => undefined);
    await h.clock.advance(100_000);
    expect(h.out().length).toBe(15);
    await expectReject(r, "ETIMEDOUT");
  });

  it("a probe the peer answers with an open window releases the data", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS, 0);
    await flow.write(bytes(100));
    await h.clock.advance(1000);
    expect(h.one().seq).toBe(iss);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, window: 1000 });
    expect(h.one().data.length).toBe(100);
  });

  it("as receiver: answers a probe with the current window, and sends a window update when the application reads", async () => {
    const h = new Harness({ receiveBufferSize: 4096, windowScaling: false });
    const { flow, iss, synAck } = await passiveOpen(h, { mss: 1000 });
    expect(synAck.window).toBe(4096);
    // Fill the window.
    for (let i = 0; i < 4; i++) h.send({ seq: RISN + 1 + i * 1024, ack: add(iss, 1), flags: ACK, data: bytes(1024, i) });
    const acks = h.out();
    expect(acks.at(-1)).toMatchObject({ ack: RISN + 1 + 4096, window: 0 });
    // A zero-window probe (old sequence number): we answer with window 0.
    h.send({ seq: RISN + 4096, ack: add(iss, 1), flags: ACK });
    expect(h.one()).toMatchObject({ ack: RISN + 4097, window: 0 });
    // A 1-byte probe beyond the window is not taken, but answered (its ACK part is processed).
    await h.clock.advance(600);
    h.send({ seq: RISN + 4097, ack: add(iss, 1), flags: ACK, data: bytes(1) });
    expect(h.one()).toMatchObject({ ack: RISN + 4097, window: 0 });
    // The application reads: the window reopens with an update.
    const got = await flow.read();
    expect(got!.length).toBe(4096);
    const upd = h.one();
    expect(upd).toMatchObject({ names: "ACK", ack: RISN + 4097, window: 4096 });
  });
});

describe("keepalive", () => {
  it("is off by default: an idle connection sends nothing for hours", async () => {
    const h = new Harness();
    await activeOpen(h, NO_TS);
    await h.clock.advance(10 * 3600_000);
    h.none();
  });

  it("when on, probes after the idle time at the interval, and fails with ETIMEDOUT (and a RST) after `count` unanswered probes", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    const t0 = h.clock.now();
    flow.setKeepAlive(true, { idleMs: 10_000, intervalMs: 1_000, count: 3 });
    const r = flow.read();
    r.catch(() => undefined);
    await h.clock.advance(20_000);
    const segs = h.out();
    expect(segs.map((s) => [s.names, s.seq, s.data.length, (s.at - t0) / 1000])).toEqual([
      ["ACK", iss, 0, 10],
      ["ACK", iss, 0, 11],
      ["ACK", iss, 0, 12],
      ["RST", add(iss, 1), 0, 13],
    ]);
    await expectReject(r, "ETIMEDOUT");
    expect(h.counters().keepAliveProbes).toBe(3);
  });

  it("answered probes keep the connection; data resets the idle time; defaults are 2 h / 75 s / 9", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    const t0 = h.clock.now();
    flow.setKeepAlive(true);
    await h.clock.advance(7_200_000);
    const p = h.one();
    expect(p.at - t0).toBe(7_200_000);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK });
    await h.clock.advance(7_199_000);
    h.none();
    await h.clock.advance(1000);
    expect(h.one().at - t0).toBe(14_400_000);
    // Unanswered: probes every 75 s, 9 of them, then the RST.
    await h.clock.advance(10 * 75_000);
    const rest = h.out();
    expect(rest.filter((s) => s.names === "ACK")).toHaveLength(8);
    expect(rest.at(-1)!.names).toBe("RST");
    expect(rest.at(-1)!.at - t0).toBe(14_400_000 + 9 * 75_000);
  });

  it("can be enabled from connect() and turned off again", async () => {
    const h = new Harness();
    const { flow } = await activeOpen(h, NO_TS, 65535, { keepAlive: { idleMs: 5000, intervalMs: 1000, count: 1 } });
    await h.clock.advance(5000);
    expect(h.one().names).toBe("ACK");
    flow.setKeepAlive(false);
    await h.clock.advance(100_000);
    h.none();
    expect(flow.info().state).toBe("ESTABLISHED");
    expect(() => flow.setKeepAlive(true, { idleMs: -1 })).toThrow();
  });
});
