import { describe, expect, it } from "vitest";
import type { IcmpErrorKind } from "@morgana/interfaces";
import { expectReject } from "@morgana/testkit";
import { ACK, icmpErrorClass } from "../src/index.js";
import { Harness, LOCAL_IP, REMOTE, REMOTE_IP, RISN, activeOpen, add, bytes } from "./harness.js";

/** Delivers an ICMP error quoting a segment from our `sport` to the remote's port 80 with `seq`. */
function icmp(h: Harness, kind: IcmpErrorKind, sport: number, seq: number, code = 0, nextHopMtu = 0): void {
  const q = new Uint8Array(8);
  q[0] = sport >>> 8;
  q[1] = sport & 255;
  q[2] = 0;
  q[3] = 80;
  q[4] = seq >>> 24;
  q[5] = seq >>> 16;
  q[6] = seq >>> 8;
  q[7] = seq;
  h.ip.deliverIcmpError({ kind, type: 3, code, reporter: REMOTE_IP, src: LOCAL_IP, dst: REMOTE_IP, protocol: 6, quoted: q, nextHopMtu });
}

describe("ICMP errors (RFC 1122 §4.2.3.9, RFC 5461, RFC 5927)", () => {
  it("a hard error (port unreachable) aborts a connection attempt with ECONNREFUSED", async () => {
    const h = new Harness();
    const p = h.tcp.connect({ address: REMOTE, port: 80 });
    const syn = h.one();
    icmp(h, "port-unreachable", syn.srcPort, syn.seq);
    await expectReject(p, "ECONNREFUSED");
    expect(h.tcp.connectionCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it("protocol unreachable and administratively prohibited are hard errors too", async () => {
    for (const [kind, code] of [["protocol-unreachable", "ECONNREFUSED"], ["admin-prohibited", "EHOSTUNREACH"]] as const) {
      const h = new Harness();
      const p = h.tcp.connect({ address: REMOTE, port: 80 });
      const syn = h.one();
      icmp(h, kind, syn.srcPort, syn.seq, kind === "admin-prohibited" ? 13 : 2);
      await expectReject(p, code);
    }
  });

  it("a soft error (host unreachable) does not abort; it is reported if the attempt times out", async () => {
    const h = new Harness();
    const p = h.tcp.connect({ address: REMOTE, port: 80, timeoutMs: 10_000 });
    p.catch(() => undefined);
    const syn = h.one();
    icmp(h, "host-unreachable", syn.srcPort, syn.seq, 1);
    await h.clock.advance(5000);
    expect(h.tcp.connectionCount).toBe(1);
    expect(h.out().filter((s) => s.names === "SYN").length).toBe(2); // still retrying
    await h.clock.advance(5000);
    await expectReject(p, "EHOSTUNREACH");
  });

  it("errors quoting a sequence number outside SND.UNA..SND.NXT are ignored (blind attacks)", async () => {
    const h = new Harness();
    const p = h.tcp.connect({ address: REMOTE, port: 80 });
    p.catch(() => undefined);
    const syn = h.one();
    icmp(h, "port-unreachable", syn.srcPort, add(syn.seq, 12345));
    expect(h.tcp.connectionCount).toBe(1);
    expect(h.drops()["icmp-out-of-window"]).toBe(1);
    icmp(h, "port-unreachable", 1, syn.seq);
    expect(h.drops()["icmp-no-connection"]).toBe(1);
    await h.tcp.close();
  });

  it("in a synchronized state even a hard error is only remembered (RFC 5461)", async () => {
    const h = new Harness({ maxRetransmissions: 1 });
    const { flow, iss } = await activeOpen(h, { mss: 1460 });
    await flow.write(bytes(10));
    h.one();
    icmp(h, "port-unreachable", flow.local.port, add(iss, 1));
    expect(flow.info().state).toBe("ESTABLISHED");
    // The connection recovers when the peer answers.
    h.send({ seq: RISN + 1, ack: add(iss, 11), flags: ACK });
    await flow.write(bytes(10));
    h.one();
    // If it then times out, the remembered error is what the application sees.
    const r = flow.read();
    r.catch(() => undefined);
    await h.clock.advance(10_000);
    await expectReject(r, "ECONNREFUSED");
  });

  it("fragmentation needed lowers the MSS and resends the outstanding data in smaller segments (PMTUD, RFC 1191)", async () => {
    const h = new Harness();
    const { flow, iss } = await activeOpen(h, { mss: 1460 });
    await flow.write(bytes(2920));
    expect(h.out().map((s) => s.data.length)).toEqual([1460, 1460]);
    icmp(h, "fragmentation-needed", flow.local.port, add(iss, 1), 4, 1000);
    expect(flow.info().mss).toBe(960);
    // Everything outstanding is resent in 960-byte segments (no congestion response, as Linux's simple retransmit).
    const re = h.out();
    expect(re.map((s) => s.data.length)).toEqual([960, 960, 960, 40]);
    expect(re.map((s) => s.seq)).toEqual([add(iss, 1), add(iss, 961), add(iss, 1921), add(iss, 2881)]);
    expect(h.counters().pmtuReductions).toBe(1);
    // A larger "next-hop MTU" never raises it.
    icmp(h, "fragmentation-needed", flow.local.port, add(iss, 1), 4, 1400);
    expect(flow.info().mss).toBe(960);
  });

  it("a neighbour that does not resolve (ARP failure) is reported as EHOSTUNREACH when the attempt times out", async () => {
    const h = new Harness();
    h.ip.unresolvable.add(REMOTE_IP);
    h.ip.resolveFailMs = 3000;
    const p = h.tcp.connect({ address: REMOTE, port: 80, timeoutMs: 20_000 });
    p.catch(() => undefined);
    await h.clock.advance(20_000);
    await expectReject(p, "EHOSTUNREACH");
  });

  it("classifies error kinds like Linux's table", () => {
    expect(icmpErrorClass("port-unreachable", 3)).toEqual({ code: "ECONNREFUSED", hard: true });
    expect(icmpErrorClass("net-unreachable", 0)).toEqual({ code: "ENETUNREACH", hard: false });
    expect(icmpErrorClass("host-unreachable", 1)).toEqual({ code: "EHOSTUNREACH", hard: false });
    expect(icmpErrorClass("unreachable", 6)).toEqual({ code: "ENETUNREACH", hard: true });
    expect(icmpErrorClass("unreachable", 7)).toEqual({ code: "EHOSTUNREACH", hard: true });
    expect(icmpErrorClass("unreachable", 11)).toEqual({ code: "ENETUNREACH", hard: false });
    expect(icmpErrorClass("time-exceeded", 0)).toEqual({ code: "EHOSTUNREACH", hard: false });
  });
});
