import { describe, expect, it } from "vitest";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { expectReject, twoHosts } from "@morgana/testkit";
import { ACK, FIN, RST, SYN, TcpLayer } from "../src/index.js";
import { Harness, RISN, activeOpen, add, passiveOpen } from "./harness.js";

const NO_TS = { mss: 1460, wscale: 7, sackPermitted: true };
const te = new TextEncoder();

describe("half-close", () => {
  it("shutdown() sends FIN after the queued data; reading continues; EPIPE on later writes", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    await flow.write(te.encode("hello"));
    const data = h.one();
    expect(data).toMatchObject({ names: "ACK,PSH", seq: add(iss, 1) });
    await flow.shutdown();
    const fin = h.one();
    expect(fin).toMatchObject({ names: "ACK,FIN", seq: add(iss, 6) });
    expect(flow.info().state).toBe("FIN-WAIT-1");
    await expectReject(flow.write(te.encode("x")), "EPIPE");
    h.send({ seq: RISN + 1, ack: add(iss, 7), flags: ACK });
    expect(flow.info().state).toBe("FIN-WAIT-2");
    // The peer keeps sending; we keep reading.
    h.send({ seq: RISN + 1, ack: add(iss, 7), flags: ACK, data: te.encode("still") });
    expect(new TextDecoder().decode((await flow.read())!)).toBe("still");
    h.send({ seq: RISN + 6, ack: add(iss, 7), flags: ACK | FIN });
    expect(await flow.read()).toBeNull();
    expect(await flow.read()).toBeNull();
    expect(flow.info().state).toBe("TIME-WAIT");
    const last = h.out().at(-1)!;
    expect(last).toMatchObject({ names: "ACK", ack: RISN + 7 });
  });

  it("the FIN rides on the last data segment when shutdown() follows a write at once", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, window: 0 }); // hold the data back
    h.out();
    void flow.write(te.encode("abc"));
    void flow.shutdown();
    h.none();
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, window: 65535 });
    const seg = h.one();
    expect(seg).toMatchObject({ names: "ACK,PSH,FIN", seq: add(iss, 1) });
    expect(seg.data.length).toBe(3);
  });

  it("a half-closed peer: we read to the end, then write and close (CLOSE-WAIT → LAST-ACK → CLOSED)", async () => {
    const h = new Harness();
    const { flow, iss } = await passiveOpen(h, NO_TS);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK | FIN, data: te.encode("request") });
    expect(new TextDecoder().decode((await flow.read())!)).toBe("request");
    expect(await flow.read()).toBeNull();
    expect(flow.info().state).toBe("CLOSE-WAIT");
    h.out();
    await flow.write(te.encode("response"));
    const closed = flow.close();
    const segs = h.out();
    expect(segs.map((s) => s.names)).toEqual(["ACK,PSH", "ACK,FIN"]);
    expect(flow.info().state).toBe("LAST-ACK");
    let done = false;
    void closed.then(() => (done = true));
    await h.settle();
    expect(done).toBe(false);
    h.send({ seq: RISN + 9, ack: add(iss, 1 + 8 + 1), flags: ACK });
    await closed;
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
  });
});

describe("simultaneous close", () => {
  it("FIN-WAIT-1 receives a FIN: CLOSING, then TIME-WAIT on the ACK of our FIN", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    const closed = flow.close();
    expect(h.one()).toMatchObject({ names: "ACK,FIN", seq: add(iss, 1) });
    // The peer's FIN crosses ours: it does not acknowledge our FIN.
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK | FIN });
    expect(flow.info().state).toBe("CLOSING");
    expect(h.one()).toMatchObject({ names: "ACK", ack: RISN + 2 });
    h.send({ seq: RISN + 2, ack: add(iss, 2), flags: ACK });
    expect(flow.info().state).toBe("TIME-WAIT");
    await closed;
  });

  it("two layers closing at the same time both reach TIME-WAIT, and both are freed after 2 MSL", async () => {
    const clock = new VirtualClock();
    const { a, b } = twoHosts(clock, 5);
    const ta = new TcpLayer({ ipv4: a, clock, random: new SeededRandom(1) });
    const tb = new TcpLayer({ ipv4: b, clock, random: new SeededRandom(2) });
    const l = await tb.listen({ port: 80 });
    const cp = ta.connect({ address: "10.77.0.2", port: 80 });
    await clock.advance(20);
    const c = await cp;
    const s = (await l.accept())!;
    // Both close in the same instant: each FIN is in flight when the other is sent.
    const p1 = c.close();
    const p2 = s.close();
    await clock.advance(4);
    expect(c.info().state).toBe("FIN-WAIT-1");
    expect(s.info().state).toBe("FIN-WAIT-1");
    await clock.advance(2);
    expect(c.info().state).toBe("CLOSING");
    expect(s.info().state).toBe("CLOSING");
    await clock.advance(10);
    expect(c.info().state).toBe("TIME-WAIT");
    expect(s.info().state).toBe("TIME-WAIT");
    await p1;
    await p2;
    expect(ta.stats().counters.timeWait).toBe(1);
    await clock.advance(60_000);
    expect(ta.connectionCount + tb.connectionCount).toBe(0);
    await l.close();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("TIME-WAIT", () => {
  async function toTimeWait(h: Harness, opts = NO_TS as Record<string, unknown>) {
    const o = await activeOpen(h, opts);
    const closed = o.flow.close();
    h.one(); // our FIN
    const tsOpts = opts.tsVal !== undefined ? { tsVal: 6000, tsEcr: 1 } : undefined;
    h.send({ seq: RISN + 1, ack: add(o.iss, 2), flags: ACK | FIN, ...(tsOpts ? { options: tsOpts } : {}) });
    expect(o.flow.info().state).toBe("TIME-WAIT");
    h.one(); // our ACK of their FIN
    await closed;
    return o;
  }

  it("lasts 2 × MSL = 60 s by default, then the connection and its timer are gone", async () => {
    const h = new Harness();
    const t0 = h.clock.now();
    await toTimeWait(h);
    await h.clock.advance(59_999);
    expect(h.tcp.connectionCount).toBe(1);
    await h.clock.advance(1);
    expect(h.clock.now() - t0).toBe(60_000);
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it("closing the layer ends TIME-WAIT connections and their timers (abort() alone leaves them, per the Flow contract)", async () => {
    const h = new Harness();
    const o = await toTimeWait(h);
    o.flow.abort(); // a no-op after a completed close()
    expect(o.flow.info().state).toBe("TIME-WAIT");
    expect(h.clock.pendingTimers).toBe(1);
    await h.tcp.close();
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
    expect(h.out()).toEqual([]); // nothing is sent for a connection that is already over
  });

  it("is bounded: beyond maxTimeWait connections a closing connection skips TIME-WAIT", async () => {
    const h = new Harness({ maxTimeWait: 1 });
    await toTimeWait(h);
    expect(h.tcp.stats().counters.timeWait).toBe(1);
    h.lport = 80;
    await toTimeWait2(h);
    expect(h.tcp.stats().counters.timeWait).toBe(1);
    expect(h.tcp.connectionCount).toBe(1);
    expect(h.drops()["time-wait-overflow"]).toBe(1);
    await h.clock.advance(60_000);
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
  });

  async function toTimeWait2(h: Harness) {
    const o = await activeOpen(h, NO_TS);
    const closed = o.flow.close();
    h.out();
    h.send({ seq: RISN + 1, ack: add(o.iss, 2), flags: ACK | FIN });
    await closed;
    expect(o.flow.info().state).toBe("CLOSED");
  }

  it("is configurable (timeWaitMs)", async () => {
    const h = new Harness({ timeWaitMs: 5000 });
    await toTimeWait(h);
    await h.clock.advance(5000);
    expect(h.tcp.connectionCount).toBe(0);
  });

  it("acknowledges a retransmitted FIN and restarts the timer", async () => {
    const h = new Harness();
    await toTimeWait(h);
    await h.clock.advance(30_000);
    h.send({ seq: RISN + 1, ack: 0, flags: ACK | FIN });
    expect(h.one()).toMatchObject({ names: "ACK", ack: RISN + 2 });
    await h.clock.advance(59_000);
    expect(h.tcp.connectionCount).toBe(1);
    await h.clock.advance(1_000);
    expect(h.tcp.connectionCount).toBe(0);
  });

  it("a SYN with a higher sequence number reopens a TIME-WAIT connection (no timestamps, RFC 1122 §4.2.2.13)", async () => {
    const h = new Harness({ timestamps: false });
    // Passive side in TIME-WAIT: the server closes first.
    const { flow, iss } = await passiveOpen(h, NO_TS);
    void flow.close();
    h.one();
    h.send({ seq: RISN + 1, ack: add(iss, 2), flags: ACK | FIN });
    expect(flow.info().state).toBe("TIME-WAIT");
    h.out();
    // An old SYN (below RCV.NXT) gets an ACK, not a new connection.
    h.send({ seq: RISN, flags: SYN });
    expect(h.one()).toMatchObject({ names: "ACK", ack: RISN + 2 });
    // A new incarnation: a higher ISN.
    h.send({ seq: RISN + 100_000, flags: SYN });
    const sa = h.one();
    expect(sa.names).toBe("ACK,SYN");
    expect(sa.ack).toBe(RISN + 100_001);
    // The new ISN is above the old SND.NXT (+ 65535 + 2, like Linux).
    expect(sa.seq).toBe(add(iss, 2 + 65535 + 2));
    expect(h.tcp.connectionCount).toBe(1);
    expect(h.tcp.connections()[0]!.state).toBe(2);
  });

  it("with timestamps a SYN is accepted in TIME-WAIT only when its timestamp is newer (RFC 6191)", async () => {
    const h = new Harness();
    const { flow, iss } = await passiveOpen(h, { mss: 1460, tsVal: 5000, tsEcr: 0 });
    void flow.close();
    h.one();
    h.send({ seq: RISN + 1, ack: add(iss, 2), flags: ACK | FIN, options: { tsVal: 5002, tsEcr: 0 } });
    expect(flow.info().state).toBe("TIME-WAIT");
    h.out();
    // Higher sequence number, but an older timestamp: not a new incarnation.
    h.send({ seq: RISN + 100_000, flags: SYN, options: { tsVal: 4000, tsEcr: 0 } });
    const r = h.out();
    expect(r.map((x) => x.names)).toEqual(["ACK"]);
    // A lower sequence number but a newer timestamp: accepted.
    await h.settle(1000);
    h.send({ seq: RISN - 5, flags: SYN, options: { mss: 1460, tsVal: 9000, tsEcr: 0 } });
    const sa = h.one();
    expect(sa.names).toBe("ACK,SYN");
    expect(sa.options.tsEcr).toBe(9000);
  });

  it("a SYN for a TIME-WAIT connection with no listener is refused after the TIME-WAIT is dropped", async () => {
    const h = new Harness({ timestamps: false });
    await toTimeWait(h);
    h.send({ seq: RISN + 100_000, flags: SYN });
    expect(h.one()).toMatchObject({ names: "ACK,RST" });
    expect(h.tcp.connectionCount).toBe(0);
  });
});

describe("close()", () => {
  it("with unread data sends a RST instead of a FIN (RFC 2525 §2.17, Linux)", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK, data: te.encode("unread") });
    h.out();
    await flow.close();
    expect(h.one()).toMatchObject({ names: "RST", seq: add(iss, 1) });
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it("new data arriving after close() is answered with a RST", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    const closed = flow.close();
    h.one();
    h.send({ seq: RISN + 1, ack: add(iss, 2), flags: ACK });
    expect(flow.info().state).toBe("FIN-WAIT-2");
    h.send({ seq: RISN + 1, ack: add(iss, 2), flags: ACK, data: te.encode("late") });
    expect(h.one()).toMatchObject({ names: "RST" });
    await closed;
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.drops()["data-after-close"]).toBe(1);
  });

  it("a closed connection waits 60 s in FIN-WAIT-2, then is dropped (Linux tcp_fin_timeout)", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    const closed = flow.close();
    h.one();
    h.send({ seq: RISN + 1, ack: add(iss, 2), flags: ACK });
    expect(flow.info().state).toBe("FIN-WAIT-2");
    let done = false;
    void closed.then(() => (done = true));
    await h.clock.advance(59_000);
    expect(done).toBe(false);
    await h.clock.advance(1_000);
    expect(done).toBe(true);
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
    h.none(); // no RST
  });

  it("after shutdown() only (the flow is still reading) FIN-WAIT-2 has no timeout", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    await flow.shutdown();
    h.one();
    h.send({ seq: RISN + 1, ack: add(iss, 2), flags: ACK });
    await h.clock.advance(3_600_000);
    expect(flow.info().state).toBe("FIN-WAIT-2");
  });

  it("resolves pending reads with null, and is idempotent", async () => {
    const h = new Harness();
    const { flow } = await activeOpen(h, NO_TS);
    const r = flow.read();
    const c1 = flow.close();
    expect(await r).toBeNull();
    expect(await flow.read()).toBeNull();
    const c2 = flow.close();
    expect(h.out().map((s) => s.names)).toEqual(["ACK,FIN"]);
    void c1;
    void c2;
  });

  it("the FIN is retransmitted with backoff until acknowledged", async () => {
    const h = new Harness({ tailLossProbe: false });
    const { flow } = await activeOpen(h, NO_TS);
    void flow.close();
    const fin = h.one();
    await h.clock.advance(7000);
    const re = h.out();
    expect(re.map((s) => [s.names, s.seq, s.at - fin.at])).toEqual([
      ["ACK,FIN", fin.seq, 1000],
      ["ACK,FIN", fin.seq, 3000],
      ["ACK,FIN", fin.seq, 7000],
    ]);
  });

  it("listener close resets connections that were never accepted, and accept() gives null", async () => {
    const h = new Harness();
    const l = await h.tcp.listen({ port: 80 });
    h.send({ seq: RISN, flags: SYN });
    const sa = h.one();
    h.send({ seq: RISN + 1, ack: add(sa.seq, 1), flags: ACK });
    h.rport = 40001;
    h.send({ seq: RISN, flags: SYN }); // a second one, still half-open
    h.one();
    expect(h.tcp.connectionCount).toBe(2);
    const waiting = l.accept();
    expect(await waiting).not.toBeNull();
    h.rport = 40002;
    h.send({ seq: RISN, flags: SYN });
    const sa3 = h.one();
    h.send({ seq: RISN + 1, ack: add(sa3.seq, 1), flags: ACK });
    await l.close();
    const rsts = h.out().filter((s) => s.flags & RST);
    expect(rsts.map((s) => s.dstPort).sort()).toEqual([40001, 40002]);
    expect(await l.accept()).toBeNull();
    // The accepted connection is unaffected.
    expect(h.tcp.connectionCount).toBe(1);
    // New SYNs are refused.
    h.rport = 40003;
    h.send({ seq: RISN, flags: SYN });
    expect(h.one().names).toBe("ACK,RST");
  });

  it("stack close (layer close) resets everything and leaves no timer", async () => {
    const h = new Harness();
    const { flow } = await activeOpen(h, NO_TS);
    await h.tcp.listen({ port: 81 });
    void flow.write(new Uint8Array(100));
    const r = flow.read();
    await h.tcp.close();
    await expectReject(r, "ECONNABORTED");
    expect(h.out().some((s) => s.flags & RST)).toBe(true);
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
    void FIN;
  });
});
