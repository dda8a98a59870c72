import { describe, expect, it } from "vitest";
import { expectReject } from "@morgana/testkit";
import { ACK, FIN, RST, SYN } from "../src/index.js";
import { Harness, RISN, REMOTE, activeOpen, add, passiveOpen } from "./harness.js";

const NO_TS = { mss: 1460, wscale: 7, sackPermitted: true };

describe("RST generation", () => {
  it("answers a SYN to a closed port with RST+ACK (seq 0, ack = SEG.SEQ + 1)", () => {
    const h = new Harness();
    h.send({ seq: RISN, flags: SYN, dport: 9 });
    const r = h.one();
    expect(r).toMatchObject({ names: "ACK,RST", seq: 0, ack: RISN + 1, srcPort: 9, dstPort: h.rport, window: 0 });
    expect(h.drops()["no-listener"]).toBe(1);
    expect(h.counters().resetsSent).toBe(1);
  });

  it("answers an ACK to a closed port with RST (seq = SEG.ACK, no ACK flag)", () => {
    const h = new Harness();
    h.send({ seq: 5, ack: 123456, flags: ACK, dport: 9, data: new Uint8Array(10) });
    expect(h.one()).toMatchObject({ names: "RST", seq: 123456 });
  });

  it("counts data and FIN in the ACK of a RST to a segment without ACK", () => {
    const h = new Harness();
    h.send({ seq: 100, flags: FIN, dport: 9, data: new Uint8Array(10) });
    expect(h.one()).toMatchObject({ names: "ACK,RST", seq: 0, ack: 111 });
  });

  it("never answers a RST with a RST", () => {
    const h = new Harness();
    h.send({ seq: 5, ack: 7, flags: RST | ACK, dport: 9 });
    h.send({ seq: 5, flags: RST, dport: 9 });
    h.none();
    expect(h.drops()["no-listener"]).toBe(2);
  });

  it("LISTEN: ignores a RST, answers an ACK with a RST, drops segments without SYN or ACK", async () => {
    const h = new Harness();
    await h.tcp.listen({ port: 80 });
    h.send({ seq: 1, flags: RST });
    h.none();
    h.send({ seq: 1, ack: 99, flags: ACK });
    expect(h.one()).toMatchObject({ names: "RST", seq: 99 });
    h.send({ seq: 1, flags: FIN });
    h.none();
    expect(h.drops()).toMatchObject({ "listen-rst": 1, "listen-ack": 1, "listen-no-syn": 1 });
    expect(h.tcp.connectionCount).toBe(0);
  });

  it("drops segments with a bad checksum or data offset, counting the reason", () => {
    const h = new Harness();
    const seg = new Uint8Array(20);
    seg[12] = 0x50;
    h.ip.inject({ src: REMOTE, dst: "10.77.0.1", protocol: 6, payload: seg });
    const bad = new Uint8Array(20);
    h.ip.inject({ src: REMOTE, dst: "10.77.0.1", protocol: 6, payload: bad.subarray(0, 10) });
    h.none();
    expect(h.drops().checksum).toBe(1);
    expect(h.drops().short).toBe(1);
  });

  it("ignores segments sent to a broadcast address", async () => {
    const h = new Harness();
    await h.tcp.listen({ port: 80 });
    h.ip.inject({ src: REMOTE, dst: "10.77.0.255", protocol: 6, payload: new Uint8Array(20) });
    h.none();
    expect(h.drops()["not-unicast"]).toBe(1);
  });
});

describe("RST processing", () => {
  it("RST to our SYN (with an acceptable ACK) fails connect with ECONNREFUSED", async () => {
    const h = new Harness();
    const p = h.tcp.connect({ address: REMOTE, port: 80 });
    const syn = h.one();
    h.lport = syn.srcPort;
    h.rport = 80;
    h.send({ seq: 0, ack: add(syn.seq, 1), flags: RST | ACK });
    await expectReject(p, "ECONNREFUSED");
    const e = await p.catch((x: unknown) => x);
    expect(e).toMatchObject({ address: REMOTE, port: 80, syscall: "connect" });
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it("SYN-RECEIVED (passive): an exact RST drops the half-open connection silently", async () => {
    const h = new Harness();
    await h.tcp.listen({ port: 80 });
    h.send({ seq: RISN, flags: SYN });
    h.one();
    expect(h.tcp.connectionCount).toBe(1);
    h.send({ seq: RISN + 1, flags: RST });
    h.none();
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.tcp.stats().counters.halfOpen).toBe(0);
  });

  for (const state of ["ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT"] as const) {
    it(`${state}: an exact RST fails reads and writes with ECONNRESET`, async () => {
      const h = new Harness();
      const { flow, iss } = await activeOpen(h, NO_TS);
      let una = add(iss, 1);
      if (state === "FIN-WAIT-1" || state === "FIN-WAIT-2") {
        await flow.shutdown();
        const fin = h.one();
        expect(fin.names).toBe("ACK,FIN");
        una = add(una, 1);
        if (state === "FIN-WAIT-2") h.send({ seq: RISN + 1, ack: una, flags: ACK });
      }
      if (state === "CLOSE-WAIT") h.send({ seq: RISN + 1, ack: una, flags: ACK | FIN });
      h.out();
      expect(flow.info().state).toBe(state);
      const rcvNxt = state === "CLOSE-WAIT" ? RISN + 2 : RISN + 1;
      const pending = state === "CLOSE-WAIT" ? undefined : flow.read();
      h.send({ seq: rcvNxt, flags: RST });
      h.none();
      if (pending !== undefined) await expectReject(pending, "ECONNRESET");
      else expect(await flow.read()).toBeNull(); // the FIN came first; the end of stream is kept
      await expectReject(flow.write(new Uint8Array(1)), "ECONNRESET");
      expect(h.tcp.connectionCount).toBe(0);
      expect(h.clock.pendingTimers).toBe(0);
      expect(h.counters().resetsReceived).toBe(1);
    });
  }

  it("CLOSING, LAST-ACK and TIME-WAIT: an exact RST just closes", async () => {
    // LAST-ACK
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    h.send({ seq: RISN + 1, ack: add(iss, 1), flags: ACK | FIN });
    const closed = flow.close();
    expect(flow.info().state).toBe("LAST-ACK");
    h.out();
    h.send({ seq: RISN + 2, flags: RST });
    expect(h.tcp.connectionCount).toBe(0);
    h.none();
    await closed;
    // TIME-WAIT
    const h2 = new Harness();
    const o2 = await activeOpen(h2, NO_TS);
    await o2.flow.shutdown();
    h2.out();
    h2.send({ seq: RISN + 1, ack: add(o2.iss, 2), flags: ACK | FIN });
    expect(o2.flow.info().state).toBe("TIME-WAIT");
    h2.out();
    h2.send({ seq: RISN + 2, flags: RST });
    expect(h2.tcp.connectionCount).toBe(0);
    expect(h2.clock.pendingTimers).toBe(0);
  });

  it("RFC 5961 §3.2: an in-window RST that is not at RCV.NXT gets a challenge ACK and changes nothing", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    h.send({ seq: RISN + 1 + 1000, flags: RST });
    const ch = h.one();
    expect(ch).toMatchObject({ names: "ACK", seq: add(iss, 1), ack: RISN + 1 });
    expect(flow.info().state).toBe("ESTABLISHED");
    expect(h.counters().challengeAcks).toBe(1);
    // Out of window: silently dropped.
    h.send({ seq: RISN + 1 + 10_000_000, flags: RST });
    h.none();
    expect(h.drops()["out-of-window"]).toBe(1);
    expect(flow.info().state).toBe("ESTABLISHED");
    // The peer answers the challenge with the right sequence number: reset.
    await h.settle(1000);
    h.send({ seq: RISN + 1, flags: RST });
    await expectReject(flow.read(), "ECONNRESET");
  });

  it("RFC 5961 §4: a SYN in ESTABLISHED (in window or not) gets a challenge ACK, not a reset", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    h.send({ seq: RISN + 50, flags: SYN });
    expect(h.one()).toMatchObject({ names: "ACK", seq: add(iss, 1), ack: RISN + 1 });
    await h.settle(600);
    h.send({ seq: 12345, flags: SYN });
    expect(h.one()).toMatchObject({ names: "ACK", ack: RISN + 1 });
    expect(flow.info().state).toBe("ESTABLISHED");
    expect(h.counters().challengeAcks).toBe(2);
  });

  it("RFC 5961 §5.2: an ACK above SND.NXT or below SND.UNA − MAX.SND.WND gets a challenge ACK and is dropped", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    h.send({ seq: RISN + 1, ack: add(iss, 5000), flags: ACK, data: new Uint8Array(10) });
    expect(h.one()).toMatchObject({ names: "ACK", ack: RISN + 1 }); // the data was not taken
    await h.settle(600);
    h.send({ seq: RISN + 1, ack: add(iss, -(65535 * 128 + 10)), flags: ACK, data: new Uint8Array(10) });
    expect(h.one()).toMatchObject({ names: "ACK", ack: RISN + 1 });
    expect(h.drops()).toMatchObject({ "ack-unsent": 1, "ack-too-old": 1 });
    expect(flow.info().bytesReceived).toBe(0);
  });

  it("limits challenge ACKs per connection (one per 500 ms) and per layer (about 1000 per second)", async () => {
    const h = new Harness();
    const { flow } = await activeOpen(h, NO_TS);
    for (let i = 0; i < 10; i++) h.send({ seq: RISN + 100 + i, flags: RST });
    expect(h.out()).toHaveLength(1);
    expect(h.drops()["challenge-ack-rate-limited"]).toBe(9);
    expect(flow.info().state).toBe("ESTABLISHED");

    // The layer-wide budget: many connections, no per-connection limit.
    const h2 = new Harness({ invalidAckIntervalMs: 0, challengeAckLimit: 100 });
    const flows = [];
    for (let i = 0; i < 5; i++) {
      h2.lport = 80;
      flows.push(await activeOpen(h2, NO_TS));
    }
    h2.out();
    let sent = 0;
    for (let i = 0; i < 1000; i++) {
      const f = flows[i % 5]!;
      h2.lport = f.flow.local.port;
      h2.send({ seq: RISN + 100, flags: RST });
      sent += h2.out().length;
    }
    // A budget in [limit/2, 1.5·limit) for this second.
    expect(sent).toBeGreaterThanOrEqual(50);
    expect(sent).toBeLessThan(150);
    expect(h2.counters().challengeAcks).toBe(sent);
    await h2.settle(1000);
    h2.send({ seq: RISN + 100, flags: RST });
    expect(h2.out()).toHaveLength(1); // a new second, a new budget
    for (const f of flows) expect(f.flow.info().state).toBe("ESTABLISHED");
  });

  it("an unacceptable segment gets an ACK (at most one per 500 ms); an unacceptable RST is dropped silently", async () => {
    const h = new Harness();
    const { iss } = await activeOpen(h, NO_TS);
    h.send({ seq: RISN - 1000, ack: add(iss, 1), flags: ACK, data: new Uint8Array(10) });
    expect(h.one()).toMatchObject({ names: "ACK", ack: RISN + 1 });
    h.send({ seq: RISN - 2000, ack: add(iss, 1), flags: ACK });
    h.none();
    expect(h.drops()["oow-ack-rate-limited"]).toBe(1);
    h.send({ seq: RISN - 2000, flags: RST | ACK, ack: add(iss, 1) });
    h.none();
  });

  it("passive SYN-RECEIVED: an unacceptable ACK gets a RST (seq = SEG.ACK)", async () => {
    const h = new Harness();
    await h.tcp.listen({ port: 80 });
    h.send({ seq: RISN, flags: SYN });
    const sa = h.one();
    h.send({ seq: RISN + 1, ack: add(sa.seq, 10), flags: ACK });
    expect(h.one()).toMatchObject({ names: "RST", seq: add(sa.seq, 10) });
    expect(h.tcp.connectionCount).toBe(1); // still half-open
  });

  it("abort() sends a RST and rejects pending and later operations with ECONNABORTED", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, NO_TS);
    const r = flow.read();
    flow.abort();
    expect(h.one()).toMatchObject({ names: "RST", seq: add(iss, 1) });
    await expectReject(r, "ECONNABORTED");
    await expectReject(flow.read(), "ECONNABORTED");
    await expectReject(flow.write(new Uint8Array(1)), "ECONNABORTED");
    await flow.close(); // idempotent, resolves
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it("a passive connection reset before accept() leaves the accept queue", async () => {
    const h = new Harness();
    const l = await h.tcp.listen({ port: 80 });
    h.send({ seq: RISN, flags: SYN });
    const sa = h.one();
    h.send({ seq: RISN + 1, ack: add(sa.seq, 1), flags: ACK });
    h.send({ seq: RISN + 1, flags: RST });
    expect(h.tcp.connectionCount).toBe(0);
    await l.close();
    expect(await l.accept()).toBeNull();
  });

  it("passiveOpen helper sanity", async () => {
    const h = new Harness();
    const { flow } = await passiveOpen(h, NO_TS);
    expect(flow.info().state).toBe("ESTABLISHED");
  });
});
