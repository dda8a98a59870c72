import { describe, expect, it } from "vitest";
import { expectReject } from "@morgana/testkit";
import { ACK, FIN, RST, SYN } from "../src/index.js";
import { Harness, RISN, REMOTE, activeOpen, add, passiveOpen } from "./harness.js";

describe("option negotiation", () => {
  it("offers MSS (path MTU − 40), window scale from the receive buffer, SACK and timestamps in the SYN", async () => {
    const h = new Harness();
    void h.tcp.connect({ address: REMOTE, port: 80 }).catch(() => undefined);
    const syn = h.one();
    expect(syn.names).toBe("SYN");
    // 1500 − 20 (IP) − 20 (TCP).
    expect(syn.options.mss).toBe(1460);
    // 256 KiB needs a shift of 3 (65535 << 2 is just below 262144).
    expect(syn.options.wscale).toBe(3);
    expect(syn.options.sackPermitted).toBe(true);
    expect(syn.options.tsVal).toBeTypeOf("number");
    expect(syn.options.tsEcr).toBe(0);
    // The window in a SYN is never scaled.
    expect(syn.window).toBe(65535);
    expect(syn.ack).toBe(0);
    await h.tcp.close();
  });

  it("chooses the window scale from the buffer size: 1 MiB gives 5, 64 KiB gives 0, 16 MiB gives 9", async () => {
    for (const [buf, shift] of [[1 << 20, 5], [65535, 0], [1 << 16, 1], [16 << 20, 9]] as const) {
      const h = new Harness({ receiveBufferSize: buf });
      void h.tcp.connect({ address: REMOTE, port: 80 }).catch(() => undefined);
      expect(h.one().options.wscale).toBe(shift);
      await h.tcp.close();
    }
  });

  it("uses every option both sides offered (active open)", async () => {
    const h = new Harness();
    const { flow } = await activeOpen(h, { mss: 1400, wscale: 7, sackPermitted: true, tsVal: 777, tsEcr: 0 });
    const i = flow.info();
    expect(i).toMatchObject({ state: "ESTABLISHED", windowScaling: true, timestamps: true, sack: true });
    // The peer's MSS minus the 12 bytes of timestamp option in every segment.
    expect(i.mss).toBe(1400 - 12);
    // 65535 in the SYN-ACK is not scaled.
    expect(i.sendWindow).toBe(65535);
    await h.tcp.close();
  });

  it("uses no option the peer did not offer, and 536 as MSS without the option", async () => {
    const h = new Harness();
    const { flow } = await activeOpen(h, {}, 8000);
    const i = flow.info();
    expect(i).toMatchObject({ windowScaling: false, timestamps: false, sack: false, mss: 536, sendWindow: 8000 });
    // Our ACKs carry no options then, and an unscaled window of at most 65535.
    const data = new Uint8Array(100);
    h.send({ seq: RISN + 1, ack: add(flow.info().bytesSent, 0), flags: ACK, data });
    await h.settle(100);
    const acks = h.out();
    expect(acks.length).toBeGreaterThan(0);
    for (const a of acks) {
      expect(a.headerLength).toBe(20);
      expect(a.window).toBeLessThanOrEqual(65535);
    }
    await h.tcp.close();
  });

  it("answers a SYN with the options it offered, and only those (passive open)", async () => {
    for (const [offer, expected] of [
      [{ mss: 1460, wscale: 2, sackPermitted: true, tsVal: 1, tsEcr: 0 }, { ws: true, sack: true, ts: true }],
      [{ mss: 1460, wscale: 2 }, { ws: true, sack: false, ts: false }],
      [{ sackPermitted: true }, { ws: false, sack: true, ts: false }],
      [{ tsVal: 9, tsEcr: 0 }, { ws: false, sack: false, ts: true }],
      [{}, { ws: false, sack: false, ts: false }],
    ] as const) {
      const h = new Harness();
      await h.tcp.listen({ port: 80 });
      h.send({ seq: RISN, flags: SYN, options: offer });
      const sa = h.one();
      expect(sa.names).toBe("ACK,SYN");
      expect(sa.ack).toBe(RISN + 1);
      expect(sa.options.mss).toBe(1460);
      expect(sa.options.wscale !== undefined).toBe(expected.ws);
      expect(sa.options.sackPermitted === true).toBe(expected.sack);
      expect(sa.options.tsVal !== undefined).toBe(expected.ts);
      if (expected.ts) expect(sa.options.tsEcr).toBe((offer as unknown as { tsVal: number }).tsVal);
      await h.tcp.close();
    }
  });

  it("clamps our segments to the smaller of the two MSS values", async () => {
    const h = new Harness({}, 1, 9000);
    const { flow } = await activeOpen(h, { mss: 1000 });
    expect(flow.info().mss).toBe(1000);
    void flow.write(new Uint8Array(5000));
    const segs = h.out().filter((s) => s.data.length > 0);
    expect(segs.map((s) => s.data.length)).toEqual([1000, 1000, 1000, 1000, 1000]);
    await h.tcp.close();
  });

  it("advertises an MSS from a larger path MTU (9000 → 8960) and honours the `mss` override", async () => {
    const h = new Harness({}, 1, 9000);
    void h.tcp.connect({ address: REMOTE, port: 80 }).catch(() => undefined);
    expect(h.one().options.mss).toBe(8960);
    await h.tcp.close();
    const h2 = new Harness({ mss: 1200 });
    void h2.tcp.connect({ address: REMOTE, port: 80 }).catch(() => undefined);
    expect(h2.one().options.mss).toBe(1200);
    await h2.tcp.close();
  });

  it("scales the peer's window by its shift after the handshake (RFC 7323 §2.2)", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, { mss: 1460, wscale: 4 }, 1000);
    expect(flow.info().sendWindow).toBe(1000);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, window: 1000 });
    expect(flow.info().sendWindow).toBe(16000);
    await h.tcp.close();
  });

  it("turns options off by configuration", async () => {
    const h = new Harness({ windowScaling: false, sack: false, timestamps: false });
    void h.tcp.connect({ address: REMOTE, port: 80 }).catch(() => undefined);
    const syn = h.one();
    expect(syn.options).toEqual({ mss: 1460 });
    await h.tcp.close();
  });
});

describe("connection establishment", () => {
  it("completes an active open and sends the ACK of the SYN-ACK", async () => {
    const h = new Harness();
    const p = h.tcp.connect({ address: REMOTE, port: 80 });
    const syn = h.one();
    h.lport = syn.srcPort;
    h.rport = 80;
    expect(syn.srcPort).toBeGreaterThanOrEqual(49152);
    h.send({ seq: RISN, ack: add(syn.seq, 1), flags: SYN | ACK, options: { mss: 1460 } });
    const flow = await p;
    const ack = h.one();
    expect(ack).toMatchObject({ seq: add(syn.seq, 1), ack: RISN + 1, names: "ACK" });
    expect(flow.local).toEqual({ address: "10.77.0.1", port: syn.srcPort, family: "IPv4" });
    expect(flow.remote).toEqual({ address: REMOTE, port: 80, family: "IPv4" });
    expect(h.counters().activeOpens).toBe(1);
    await h.tcp.close();
  });

  it("completes a passive open; accept() yields the flow with its addresses", async () => {
    const h = new Harness();
    const { flow } = await passiveOpen(h);
    expect(flow.info().state).toBe("ESTABLISHED");
    expect(flow.remote).toEqual({ address: REMOTE, port: h.rport, family: "IPv4" });
    expect(flow.local.port).toBe(80);
    expect(h.counters().passiveOpens).toBe(1);
    await h.tcp.close();
  });

  it("simultaneous open: SYN-SENT receives a SYN, answers SYN-ACK, and both end ESTABLISHED", async () => {
    const h = new Harness();
    const p = h.tcp.connect({ address: REMOTE, port: 80, localPort: 5555 });
    const syn = h.one();
    h.rport = 80;
    h.lport = 5555;
    // The peer's SYN crosses ours (RFC 9293 figure 8).
    h.send({ seq: RISN, flags: SYN, options: { mss: 1460, sackPermitted: true, tsVal: 100, tsEcr: 0, wscale: 1 } });
    const sa = h.one();
    expect(sa.names).toBe("ACK,SYN");
    expect(sa.seq).toBe(syn.seq); // the same ISN
    expect(sa.ack).toBe(RISN + 1);
    expect(sa.options).toMatchObject({ mss: 1460, sackPermitted: true, tsEcr: 100, wscale: 3 });
    // The peer's SYN-ACK (answering our SYN) completes the handshake.
    h.send({ seq: RISN, ack: add(syn.seq, 1), flags: SYN | ACK, options: { mss: 1460, sackPermitted: true, tsVal: 101, tsEcr: sa.options.tsVal!, wscale: 1 } });
    const flow = await p;
    expect(flow.info()).toMatchObject({ state: "ESTABLISHED", sack: true, timestamps: true, windowScaling: true });
    await h.tcp.close();
  });

  it("simultaneous open where the peer then sends a plain ACK", async () => {
    const h = new Harness({ timestamps: false });
    const p = h.tcp.connect({ address: REMOTE, port: 80, localPort: 5556 });
    const syn = h.one();
    h.rport = 80;
    h.lport = 5556;
    h.send({ seq: RISN, flags: SYN, options: { mss: 1460 } });
    expect(h.one().names).toBe("ACK,SYN");
    h.send({ seq: RISN + 1, ack: add(syn.seq, 1), flags: ACK });
    const flow = await p;
    expect(flow.info().state).toBe("ESTABLISHED");
    await h.tcp.close();
  });

  it("retransmits the SYN at 1, 3, 7, 15, 31, 63 s and fails with ETIMEDOUT at 127 s", async () => {
    const h = new Harness();
    const t0 = h.clock.now();
    const p = h.tcp.connect({ address: REMOTE, port: 80 });
    let failedAt = -1;
    p.catch(() => (failedAt = h.clock.now()));
    await h.clock.advance(200_000);
    const syns = h.out().filter((s) => s.names === "SYN");
    expect(syns.map((s) => s.at - t0)).toEqual([0, 1000, 3000, 7000, 15000, 31000, 63000]);
    // Every retransmission is the same SYN.
    expect(new Set(syns.map((s) => s.seq)).size).toBe(1);
    await expectReject(p, "ETIMEDOUT");
    expect(failedAt - t0).toBe(127_000);
    expect(h.clock.pendingTimers).toBe(0);
    expect(h.tcp.connectionCount).toBe(0);
  });

  it("gives up at timeoutMs when given, with ETIMEDOUT", async () => {
    const h = new Harness();
    const p = h.tcp.connect({ address: REMOTE, port: 80, timeoutMs: 2500 });
    let at = -1;
    p.catch(() => (at = h.clock.now()));
    await h.clock.advance(10_000);
    await expectReject(p, "ETIMEDOUT");
    expect(at).toBe(2500);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it("uses a 1-segment initial window and a 3 s RTO after a retransmitted SYN without RTT sample (RFC 5681, RFC 6298 §5.7)", async () => {
    const h = new Harness({ timestamps: false });
    const p = h.tcp.connect({ address: REMOTE, port: 80 });
    const syn = h.one();
    h.lport = syn.srcPort;
    h.rport = 80;
    await h.clock.advance(1000);
    expect(h.one().names).toBe("SYN");
    h.send({ seq: RISN, ack: add(syn.seq, 1), flags: SYN | ACK, options: { mss: 1460 } });
    const flow = await p;
    h.out();
    expect(flow.info().rtoMs).toBe(3000);
    void flow.write(new Uint8Array(10_000));
    expect(h.out().filter((s) => s.data.length > 0)).toHaveLength(1);
    await h.tcp.close();
  });

  it("an initial window of 10 segments otherwise (RFC 6928)", async () => {
    const h = new Harness();
    const { flow } = await activeOpen(h);
    void flow.write(new Uint8Array(100_000));
    const segs = h.out().filter((s) => s.data.length > 0);
    expect(segs).toHaveLength(10);
    expect(flow.info().cwnd).toBe(10 * 1448);
    await h.tcp.close();
  });

  it("connect rejects with ABORT_ERR when the signal aborts, and frees the attempt", async () => {
    const h = new Harness();
    const ac = new AbortController();
    const p = h.tcp.connect({ address: REMOTE, port: 80, signal: ac.signal });
    h.out();
    ac.abort();
    await expectReject(p, "ABORT_ERR");
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
    const ac2 = new AbortController();
    ac2.abort();
    await expectReject(h.tcp.connect({ address: REMOTE, port: 80, signal: ac2.signal }), "ABORT_ERR");
  });

  it("validates arguments: EINVAL, EADDRNOTAVAIL, EADDRINUSE, ENETUNREACH", async () => {
    const h = new Harness();
    await expectReject(h.tcp.connect({ address: "nope", port: 80 }), "EINVAL");
    await expectReject(h.tcp.connect({ address: REMOTE, port: 0 }), "EINVAL");
    await expectReject(h.tcp.connect({ address: REMOTE, port: 70000 }), "EINVAL");
    await expectReject(h.tcp.connect({ address: "224.0.0.1", port: 80 }), "EINVAL");
    await expectReject(h.tcp.connect({ address: REMOTE, port: 80, localAddress: "10.9.9.9" }), "EADDRNOTAVAIL");
    await expectReject(h.tcp.connect({ address: REMOTE, port: 80, timeoutMs: -1 }), "EINVAL");
    await expectReject(h.tcp.listen({ port: -1 }), "EINVAL");
    await expectReject(h.tcp.listen({ port: 80, address: "10.1.1.1" }), "EADDRNOTAVAIL");
    const l = await h.tcp.listen({ port: 80 });
    await expectReject(h.tcp.listen({ port: 80 }), "EADDRINUSE");
    await expectReject(h.tcp.listen({ port: 80, address: "10.77.0.1" }), "EADDRINUSE");
    // An explicit local port used by a listener, or by a connection with the same 4-tuple.
    await expectReject(h.tcp.connect({ address: REMOTE, port: 80, localPort: 80 }), "EADDRINUSE");
    void h.tcp.connect({ address: REMOTE, port: 81, localPort: 6000 }).catch(() => undefined);
    await expectReject(h.tcp.connect({ address: REMOTE, port: 81, localPort: 6000 }), "EADDRINUSE");
    // No route: the FakeIpv4 has no gateway.
    await expectReject(h.tcp.connect({ address: "192.168.1.1", port: 80 }), "ENETUNREACH");
    await l.close();
    await h.tcp.close();
    await expectReject(h.tcp.connect({ address: REMOTE, port: 80 }), "ERR_SOCKET_CLOSED");
  });

  it("picks an ephemeral listen port for port 0", async () => {
    const h = new Harness();
    const l = await h.tcp.listen({ port: 0 });
    expect(l.local.port).toBeGreaterThanOrEqual(49152);
    expect(l.local.address).toBe("0.0.0.0");
    const l2 = await h.tcp.listen({ port: 0 });
    expect(l2.local.port).not.toBe(l.local.port);
    await h.tcp.close();
  });

  it("ignores data in a SYN (no TFO) and does not acknowledge it", async () => {
    const h = new Harness();
    await h.tcp.listen({ port: 80 });
    h.send({ seq: RISN, flags: SYN, data: new Uint8Array(10) });
    const sa = h.one();
    expect(sa.ack).toBe(RISN + 1);
    await h.tcp.close();
  });

  it("a duplicate SYN in SYN-RECEIVED gets the SYN-ACK again; the SYN-ACK is retransmitted on timeout", async () => {
    const h = new Harness();
    await h.tcp.listen({ port: 80 });
    h.send({ seq: RISN, flags: SYN, options: { mss: 1460 } });
    const sa = h.one();
    h.send({ seq: RISN, flags: SYN, options: { mss: 1460 } });
    const again = h.one();
    expect(again).toMatchObject({ names: "ACK,SYN", seq: sa.seq, ack: RISN + 1 });
    await h.clock.advance(1000);
    expect(h.one()).toMatchObject({ names: "ACK,SYN", seq: sa.seq });
    // After synAckRetries (5) retransmissions it is dropped silently: 1+2+4+8+16+32 s.
    await h.clock.advance(100_000);
    const rest = h.out();
    expect(rest.filter((s) => s.names === "ACK,SYN")).toHaveLength(4);
    expect(rest.filter((s) => s.flags & RST)).toHaveLength(0);
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.drops()["syn-ack-timeout"]).toBe(1);
  });

  it("a SYN-RECEIVED connection completes on the ACK that carries data", async () => {
    const h = new Harness({ timestamps: false });
    const l = await h.tcp.listen({ port: 80 });
    h.send({ seq: RISN, flags: SYN });
    const sa = h.one();
    h.send({ seq: RISN + 1, ack: add(sa.seq, 1), flags: ACK, data: new TextEncoder().encode("hello") });
    const flow = (await l.accept())!;
    expect(new TextDecoder().decode((await flow.read())!)).toBe("hello");
    await h.tcp.close();
  });

  it("SYN-SENT: an ACK for something we did not send gets a RST (seq = SEG.ACK) and is dropped", async () => {
    const h = new Harness();
    const p = h.tcp.connect({ address: REMOTE, port: 80 });
    p.catch(() => undefined);
    const syn = h.one();
    h.lport = syn.srcPort;
    h.rport = 80;
    h.send({ seq: RISN, ack: add(syn.seq, 100), flags: SYN | ACK });
    const r = h.one();
    expect(r).toMatchObject({ names: "RST", seq: add(syn.seq, 100) });
    expect(h.tcp.connectionCount).toBe(1);
    expect(h.drops()["bad-ack"]).toBe(1);
    // A SYN-SENT connection ignores a RST without ACK.
    h.send({ seq: RISN, flags: RST });
    h.none();
    expect(h.tcp.connectionCount).toBe(1);
    await h.tcp.close();
    await expectReject(p, "ECONNABORTED");
  });

  it("a FIN in the SYN-ACK: the connection goes to CLOSE-WAIT and reads end", async () => {
    const h = new Harness({ timestamps: false });
    const p = h.tcp.connect({ address: REMOTE, port: 80 });
    const syn = h.one();
    h.lport = syn.srcPort;
    h.rport = 80;
    h.send({ seq: RISN, ack: add(syn.seq, 1), flags: SYN | ACK | FIN, data: new Uint8Array([1, 2, 3]) });
    const flow = await p;
    expect(await flow.read()).toEqual(new Uint8Array([1, 2, 3]));
    expect(await flow.read()).toBeNull();
    expect(flow.info().state).toBe("CLOSE-WAIT");
    const ack = h.out().at(-1)!;
    expect(ack.ack).toBe(RISN + 1 + 3 + 1);
    await h.tcp.close();
  });
});
