/**
 * The ICMP plumbing: protocol unreachable, deliverIcmpError, sendIcmpError.
 */
import { describe, expect, it } from "vitest";
import { MAC_BROADCAST, type IcmpErrorReport } from "@morgana/interfaces";
import { multicastMac } from "../src/index.js";
import { FakeIcmp, Recorder, bytesOf, fieldsOf, ip, packet, rig } from "./helpers.js";

const report = (protocol: number): IcmpErrorReport => ({
  kind: "port-unreachable",
  type: 3,
  code: 3,
  reporter: ip("10.0.0.1"),
  src: ip("10.0.0.2"),
  dst: ip("10.0.0.1"),
  protocol,
  quoted: new Uint8Array(8),
  nextHopMtu: 0,
});

describe("protocol unreachable", () => {
  it("asks the attached ICMP layer, quoting the datagram's header and payload", () => {
    const { ipv4, eth } = rig();
    const icmp = new FakeIcmp();
    ipv4.attachIcmp(icmp);
    const p = packet({ protocol: 132, ttl: 17 }, bytesOf(30));
    eth.deliver(p);
    expect(icmp.sent).toHaveLength(1);
    expect(icmp.sent[0]!.kind).toBe("protocol-unreachable");
    expect([...icmp.sent[0]!.header]).toEqual([...p.subarray(0, 20)]);
    expect([...icmp.sent[0]!.payload]).toEqual([...bytesOf(30)]);
    expect(ipv4.stats().counters.icmpErrorsRequested).toBe(1);
  });

  it("quotes the reassembled header for a fragmented datagram", () => {
    const { ipv4, eth } = rig();
    const icmp = new FakeIcmp();
    ipv4.attachIcmp(icmp);
    eth.deliver(packet({ protocol: 132, id: 9, mf: true }, bytesOf(8)));
    eth.deliver(packet({ protocol: 132, id: 9, offset: 8 }, bytesOf(8)));
    expect(icmp.sent).toHaveLength(1);
    expect(fieldsOf(icmp.sent[0]!.header)).toMatchObject({ total: 36, mf: false, offset: 0, checksumOk: true });
    expect(icmp.sent[0]!.payload.length).toBe(16);
  });

  it.each([
    ["limited broadcast", "255.255.255.255", MAC_BROADCAST],
    ["directed broadcast", "10.0.0.255", MAC_BROADCAST],
    ["multicast", "224.0.0.1", multicastMac(ip("224.0.0.1"))],
  ])("is not sent for a %s destination, but still counted", (_n, dst, linkDst) => {
    const { ipv4, eth } = rig();
    const icmp = new FakeIcmp();
    ipv4.attachIcmp(icmp);
    eth.deliver(packet({ protocol: 132, dst }), linkDst);
    expect(icmp.sent).toHaveLength(0);
    expect(ipv4.stats().drops).toEqual({ "no-protocol": 1 });
  });

  it("survives a throwing ICMP layer", () => {
    const { ipv4, eth } = rig();
    ipv4.attachIcmp({
      sendError: () => {
        throw new Error("icmp");
      },
    });
    expect(() => eth.deliver(packet({ protocol: 132 }))).not.toThrow();
    expect(ipv4.stats().drops).toEqual({ "no-protocol": 1, "icmp-sender-error": 1 });
  });
});

describe("deliverIcmpError", () => {
  it("routes a report to the handler of its protocol", () => {
    const { ipv4 } = rig();
    const udp = new Recorder();
    const tcp = new Recorder();
    ipv4.register(17, udp);
    ipv4.register(6, tcp);
    const first = report(17);
    ipv4.deliverIcmpError(first);
    ipv4.deliverIcmpError(report(6));
    ipv4.deliverIcmpError(report(17));
    expect(udp.errors.map((r) => r.protocol)).toEqual([17, 17]);
    expect(tcp.errors.map((r) => r.protocol)).toEqual([6]);
    expect(udp.errors[0]).toBe(first); // the same object is handed over
    expect(ipv4.stats().counters.icmpErrorsDelivered).toBe(3);
  });

  it("counts reports for a protocol without a handler or without onIcmpError", () => {
    const { ipv4 } = rig();
    ipv4.register(17, { onDatagram: () => {} });
    ipv4.deliverIcmpError(report(17));
    ipv4.deliverIcmpError(report(6));
    expect(ipv4.stats().drops).toEqual({ "icmp-no-handler": 2 });
  });

  it("catches a throwing onIcmpError", () => {
    const { ipv4 } = rig();
    ipv4.register(17, {
      onDatagram: () => {},
      onIcmpError: () => {
        throw new Error("x");
      },
    });
    expect(() => ipv4.deliverIcmpError(report(17))).not.toThrow();
    expect(ipv4.stats().counters.handlerErrors).toBe(1);
  });
});

describe("sendIcmpError", () => {
  it("forwards to the attached sender, the latest attached one", () => {
    const { ipv4 } = rig();
    const a = new FakeIcmp();
    const b = new FakeIcmp();
    ipv4.attachIcmp(a);
    ipv4.attachIcmp(b);
    const h = packet({});
    ipv4.sendIcmpError("port-unreachable", h, bytesOf(8));
    expect(a.sent).toHaveLength(0);
    expect(b.sent.map((s) => s.kind)).toEqual(["port-unreachable"]);
    expect([...b.sent[0]!.header]).toEqual([...h]);
  });

  it("is a counted no-op without a sender", () => {
    const { ipv4 } = rig();
    expect(() => ipv4.sendIcmpError("port-unreachable", packet({}), bytesOf(8))).not.toThrow();
    expect(ipv4.stats().drops).toEqual({ "icmp-no-sender": 1 });
  });
});
