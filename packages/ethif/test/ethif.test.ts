import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAC_BROADCAST, type MacAddress } from "@morgana/interfaces";
import { settle, VirtualClock } from "@morgana/sim";
import { createLink, type VirtualPort } from "@morgana/vnetif";
import { decodeEthernet, encodeEthernet, Ethif, type EthernetHeader, type EthifOptions } from "../src/index.js";
import { expectCode, FakeNetif, hex, sendRaw, spyNetif, sumDrops } from "./helpers.js";

const OUR = 0x0200_0000_0001 as MacAddress;
const PEER = 0x0200_0000_0002 as MacAddress;
const OTHER = 0x0200_0000_0099 as MacAddress;
const MDNS = 0x0100_5e00_00fb as MacAddress;

interface Got {
  type: number;
  payload: Uint8Array;
  src: MacAddress;
  dst: MacAddress;
}

function setup(opts: Omit<EthifOptions, "netif"> = {}, mtu = 1500) {
  const clock = new VirtualClock();
  const [a, b] = createLink({ clock, mtu });
  const spy = spyNetif(a);
  const eth = new Ethif({ netif: spy, ...opts });
  const got: Got[] = [];
  const onPeer: Uint8Array[] = [];
  b.listen((f) => onPeer.push(f));
  const handle = (type: number) => (payload: Uint8Array, src: MacAddress, dst: MacAddress) => got.push({ type, payload, src, dst });
  return { clock, a, b, spy, eth, got, onPeer, handle };
}

/** The peer end sends a frame with this header and payload. */
function peerSend(b: VirtualPort, header: EthernetHeader, payload: Uint8Array | number = 46): void {
  const body = typeof payload === "number" ? Uint8Array.from({ length: payload }, (_, i) => i & 0xff) : payload;
  expect(sendRaw(b, encodeEthernet(header, body))).toBe(true);
}

describe("Ethif receive over a vnetif link", () => {
  it("delivers by EtherType with the payload after the header, and the frame's addresses", async () => {
    const { b, eth, got, handle } = setup();
    eth.register(0x0800, handle(0x0800));
    eth.register(0x0806, handle(0x0806));
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0806 }, Uint8Array.of(1, 2, 3));
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800 }, Uint8Array.of(4, 5));
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0806 }, Uint8Array.of(6));
    await settle();
    expect(got.map((g) => [g.type, [...g.payload]])).toEqual([
      [0x0806, [1, 2, 3]],
      [0x0800, [4, 5]],
      [0x0806, [6]],
    ]);
    for (const g of got) expect([g.src, g.dst]).toEqual([PEER, OUR]);
    const s = eth.stats();
    expect(s.counters).toMatchObject({ rxFrames: 3, rxBytes: 14 * 3 + 6, rxDelivered: 3, rxDropped: 0 });
    expect(s.drops).toEqual({});
  });

  it("delivers broadcast, drops unicast to someone else as not-for-us unless promiscuous", async () => {
    const t = setup();
    t.eth.register(0x0800, t.handle(0x0800));
    peerSend(t.b, { dst: MAC_BROADCAST, src: PEER, etherType: 0x0800 });
    peerSend(t.b, { dst: OTHER, src: PEER, etherType: 0x0800 });
    await settle();
    expect(t.got.map((g) => g.dst)).toEqual([MAC_BROADCAST]);
    expect(t.eth.stats().drops).toEqual({ "not-for-us": 1 });

    const p = setup({ promiscuous: true });
    p.eth.register(0x0800, p.handle(0x0800));
    peerSend(p.b, { dst: OTHER, src: PEER, etherType: 0x0800 });
    peerSend(p.b, { dst: MDNS, src: PEER, etherType: 0x0800 });
    await settle();
    expect(p.got.map((g) => g.dst)).toEqual([OTHER, MDNS]);
    expect(p.eth.stats().drops).toEqual({});
  });

  it("accepts a multicast group only after joinMulticast, counting joins", async () => {
    const { b, eth, got, handle } = setup();
    eth.register(0x0800, handle(0x0800));
    const round = async () => {
      got.length = 0;
      peerSend(b, { dst: MDNS, src: PEER, etherType: 0x0800 });
      await settle();
      return got.length;
    };
    expect(await round()).toBe(0);
    eth.joinMulticast(MDNS);
    eth.joinMulticast(MDNS);
    expect(eth.multicastGroups()).toEqual([MDNS]);
    expect(await round()).toBe(1);
    eth.leaveMulticast(MDNS);
    expect(await round()).toBe(1);
    eth.leaveMulticast(MDNS);
    expect(await round()).toBe(0);
    eth.leaveMulticast(MDNS); // no-op
    expect(eth.stats().drops).toEqual({ "not-for-us": 2 });
    expectCode(() => eth.joinMulticast(PEER), "EINVAL");
    expectCode(() => eth.joinMulticast(MAC_BROADCAST), "EINVAL");
    expectCode(() => eth.joinMulticast(-3 as MacAddress), "EINVAL");
  });

  it("counts no-handler (also after unregister) and 802.3 length frames as llc", async () => {
    const { b, eth, got, handle } = setup();
    eth.register(0x0800, handle(0x0800));
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x86dd });
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800 });
    await settle();
    eth.unregister(0x0800);
    eth.unregister(0x0800);
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800 });
    peerSend(b, { dst: OUR, src: PEER, etherType: 46 });
    await settle();
    expect(got).toHaveLength(1);
    expect(eth.stats().drops).toEqual({ "no-handler": 2, llc: 1 });
    expect(eth.stats().counters).toMatchObject({ rxFrames: 4, rxDelivered: 1, rxDropped: 3 });
  });

  it("throws EADDRINUSE for a second handler, EINVAL for bad EtherTypes", () => {
    const { eth, handle } = setup();
    eth.register(0x0806, handle(0x0806));
    expectCode(() => eth.register(0x0806, handle(0x0806)), "EADDRINUSE");
    for (const t of [0x05ff, 0x8100, 0x10000, -1, 1.5]) expectCode(() => eth.register(t, handle(t)), "EINVAL");
    eth.unregister(0x0806);
    eth.register(0x0806, handle(0x0806));
  });

  it("keeps receiving after a handler throws, counting handler-error", async () => {
    const errors: unknown[] = [];
    const { b, eth, got, handle } = setup({ onHandlerError: (e, type) => errors.push([e, type]) });
    let calls = 0;
    eth.register(0x0800, () => {
      calls++;
      throw new Error("boom");
    });
    eth.register(0x0806, handle(0x0806));
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800 });
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0806 });
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800 });
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0806 });
    await settle();
    expect(calls).toBe(2);
    expect(got).toHaveLength(2);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toEqual([new Error("boom"), 0x0800]);
    expect(eth.stats().drops).toEqual({ "handler-error": 2 });
    expect(eth.stats().counters).toMatchObject({ rxFrames: 4, rxDelivered: 2, rxDropped: 2 });
  });

  it("drops tagged frames without a configured VLAN, reporting the VLAN ids seen; VID 0 (priority tag) is accepted", async () => {
    const { b, eth, got, handle } = setup();
    eth.register(0x0800, handle(0x0800));
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 3, dei: false, id: 10 } });
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 0, dei: false, id: 20 } });
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 0, dei: true, id: 10 } });
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 5, dei: false, id: 0 } }, Uint8Array.of(9, 9));
    await settle();
    expect(got.map((g) => [...g.payload])).toEqual([[9, 9]]);
    expect(eth.vlanIdsSeen()).toEqual([0, 10, 20]);
    expect(eth.vlanFrameCount(10)).toBe(2);
    const s = eth.stats();
    expect(s.drops).toEqual({ vlan: 3 });
    expect(s.counters).toMatchObject({ "vlan.0": 1, "vlan.10": 2, "vlan.20": 1 });
  });

  it("with a VLAN configured: strips our tag, drops other VLANs, untagged frames and stacked tags", async () => {
    const { b, eth, got, handle } = setup({ vlan: 10 });
    expect(eth.vlan).toBe(10);
    eth.register(0x0800, handle(0x0800));
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 2, dei: false, id: 10 } }, Uint8Array.of(1, 2, 3, 4));
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 0, dei: false, id: 11 } });
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800 });
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 0, dei: false, id: 0 } });
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x8100, vlan: { pcp: 0, dei: false, id: 10 } });
    await settle();
    expect(got.map((g) => [...g.payload])).toEqual([[1, 2, 3, 4]]);
    expect(eth.stats().drops).toEqual({ vlan: 2, untagged: 2 });
  });

  it("with a VLAN and acceptUntagged: untagged and priority-tagged frames are delivered too", async () => {
    const { b, eth, got, handle } = setup({ vlan: 10, acceptUntagged: true });
    eth.register(0x0800, handle(0x0800));
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800 }, 1);
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 0, dei: false, id: 0 } }, 2);
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 0, dei: false, id: 10 } }, 3);
    peerSend(b, { dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 0, dei: false, id: 12 } }, 4);
    await settle();
    expect(got.map((g) => g.payload.length)).toEqual([1, 2, 3]);
    expect(eth.stats().drops).toEqual({ vlan: 1 });
  });

  it("refuses bad VLAN options", () => {
    const [a] = createLink({ clock: new VirtualClock() });
    for (const vlan of [0, 4095, 1.5, -1]) expectCode(() => new Ethif({ netif: a, vlan }), "EINVAL");
    expectCode(() => new Ethif({ netif: a, vlan: 5, vlanPriority: 8 }), "EINVAL");
    expectCode(() => new Ethif({ netif: {} as never }), "EINVAL");
  });
});

describe("Ethif.write", () => {
  it("calls transmit with exactly 14 + size and sends 14 + n bytes with our header", async () => {
    const { spy, eth, onPeer } = setup();
    const ok = eth.write(PEER, 0x0800, 100, (buf) => {
      expect(buf.length).toBe(100);
      buf.fill(0xab, 0, 60);
      return 60;
    });
    expect(ok).toBe(true);
    expect(spy.calls.map((c) => c.size)).toEqual([114]);
    await settle();
    expect(onPeer).toHaveLength(1);
    const f = onPeer[0]!;
    expect(f.length).toBe(74);
    expect(hex(f.subarray(0, 14))).toBe("020000000002" + "020000000001" + "0800");
    expect(f.subarray(14).every((x) => x === 0xab)).toBe(true);
    expect(eth.stats().counters).toMatchObject({ txFrames: 1, txBytes: 74 });
  });

  it("writes in place: fill gets a view of the device's buffer at offset 14 (18 tagged)", () => {
    for (const vlan of [undefined, 7]) {
      const netif = new FakeNetif();
      const eth = new Ethif({ netif, ...(vlan !== undefined ? { vlan } : {}) });
      let view: Uint8Array | undefined;
      eth.write(PEER, 0x0806, 28, (buf) => {
        view = buf;
        return 28;
      });
      const hl = vlan === undefined ? 14 : 18;
      expect(netif.sent).toHaveLength(1);
      expect(view!.buffer).toBe(netif.sent[0]!.buffer.buffer);
      expect(view!.byteOffset).toBe(hl);
      expect(netif.sent[0]!.size).toBe(hl + 28);
    }
  });

  it("tags outgoing frames when a VLAN is configured: transmit size 18 + size, TCI with the priority", async () => {
    const { spy, eth, onPeer } = setup({ vlan: 300, vlanPriority: 6 });
    expect(eth.write(MAC_BROADCAST, 0x0806, 28, (buf) => (buf.fill(1), 28))).toBe(true);
    expect(eth.write(PEER, 0x0800, 1500, () => 1500)).toBe(true); // full MTU still fits with the tag
    expect(spy.calls.map((c) => c.size)).toEqual([46, 1518]);
    await settle();
    const d = decodeEthernet(onPeer[0]!);
    expect(d).toMatchObject({ dst: MAC_BROADCAST, src: OUR, etherType: 0x0806, vlan: { pcp: 6, dei: false, id: 300 }, headerLength: 18 });
    expect(d.payload).toEqual(new Uint8Array(28).fill(1));
    expect(onPeer[1]!.length).toBe(1518);
  });

  it("throws EMSGSIZE above the MTU and EINVAL for bad sizes, types, MACs", () => {
    const { spy, eth } = setup({}, 1000);
    expect(eth.mtu).toBe(1000);
    expect(eth.write(PEER, 0x0800, 1000, () => 1000)).toBe(true);
    expectCode(() => eth.write(PEER, 0x0800, 1001, () => 0), "EMSGSIZE");
    for (const size of [-1, 1.5, NaN, Infinity]) expectCode(() => eth.write(PEER, 0x0800, size, () => 0), "EINVAL");
    expectCode(() => eth.write(PEER, 0x8100, 10, () => 0), "EINVAL");
    expectCode(() => eth.write(PEER, 0x0100, 10, () => 0), "EINVAL");
    expectCode(() => eth.write(2 ** 48 as MacAddress, 0x0800, 10, () => 0), "EINVAL");
    expect(spy.calls).toHaveLength(1);
  });

  it("returns the device's answer and counts refusals and bad fill lengths", async () => {
    const { a, eth } = setup();
    expect(eth.write(PEER, 0x0800, 10, () => 11)).toBe(false);
    expect(eth.write(PEER, 0x0800, 10, () => -1)).toBe(false);
    expect(eth.write(PEER, 0x0800, 10, () => 0.5)).toBe(false);
    expect(eth.stats().drops).toEqual({ "fill-length": 3 });
    await a.close();
    expect(eth.write(PEER, 0x0800, 10, () => 10)).toBe(false);
    expect(eth.stats().drops).toEqual({ "fill-length": 3, "tx-refused": 1 });
    expect(eth.stats().counters).toMatchObject({ txFrames: 0, txDropped: 4 });
  });

  it("a fill that throws cancels the frame; the exception is the device's to count", () => {
    const netif = new FakeNetif();
    const eth = new Ethif({ netif });
    expect(
      eth.write(PEER, 0x0800, 10, () => {
        throw new Error("x");
      }),
    ).toBe(false);
    expect(netif.sent).toHaveLength(0);
    expect(eth.stats().drops).toEqual({ "tx-refused": 1 });
  });
});

describe("Ethif with a fake device", () => {
  it("drops frames shorter than the header as short (14, or 18 with the 802.1Q TPID)", () => {
    const netif = new FakeNetif();
    const eth = new Ethif({ netif, vlan: 5 });
    let n = 0;
    eth.register(0x0800, () => n++);
    netif.inject(new Uint8Array(0));
    netif.inject(new Uint8Array(13));
    const tagged = encodeEthernet({ dst: OUR, src: PEER, etherType: 0x0800, vlan: { pcp: 0, dei: false, id: 5 } });
    netif.inject(tagged.subarray(0, 17));
    netif.inject(tagged);
    expect(n).toBe(1);
    expect(eth.stats().drops).toEqual({ short: 3 });
    expect(eth.stats().counters).toMatchObject({ rxFrames: 4, rxBytes: 0 + 13 + 17 + 18, rxDelivered: 1, rxDropped: 3 });
  });

  it("after close: frames are dropped as closed, write returns false, handlers are gone", () => {
    const netif = new FakeNetif();
    const eth = new Ethif({ netif });
    let n = 0;
    eth.register(0x0800, () => n++);
    const f = encodeEthernet({ dst: OUR, src: PEER, etherType: 0x0800 }, new Uint8Array(4));
    netif.inject(f);
    eth.close();
    eth.close();
    netif.inject(f);
    expect(n).toBe(1);
    expect(eth.write(PEER, 0x0800, 4, () => 4)).toBe(false);
    expect(netif.sent).toHaveLength(0);
    expect(eth.stats().drops).toEqual({ closed: 2 });
    expect(eth.stats().counters.handlers).toBe(0);
  });

  // Frames built from parts chosen to reach every branch: our MAC, broadcast, a
  // joined or unjoined group, someone else; tags with our VLAN, another, VID 0,
  // stacked; registered, throwing, unknown and 802.3 types; any length, any bytes.
  const frameArb = fc
    .record({
      dst: fc.constantFrom<number>(OUR, MAC_BROADCAST, MDNS, 0x0100_5e00_0001, OTHER),
      tag: fc.constantFrom<number | undefined>(undefined, undefined, 0, 7, 8, 4095),
      type: fc.constantFrom(0x0800, 0x0806, 0x86dd, 0x8100, 0x0040, 0x88b5),
      tail: fc.uint8Array({ maxLength: 40 }),
      cut: fc.integer({ min: 0, max: 80 }),
      raw: fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, { arbitrary: fc.uint8Array({ maxLength: 40 }), weight: 1 }),
    })
    .map(({ dst, tag, type, tail, cut, raw }) => {
      if (raw !== null) return raw;
      const h: EthernetHeader =
        tag === undefined ? { dst: dst as MacAddress, src: PEER, etherType: type === 0x8100 ? 0x0800 : type } : { dst: dst as MacAddress, src: PEER, etherType: type, vlan: { pcp: 1, dei: false, id: tag } };
      const f = encodeEthernet(h, tail);
      return f.subarray(0, Math.min(f.length, cut));
    });

  it("never throws on arbitrary frames, and counts every frame as delivered or dropped (property)", () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 60 }), fc.constantFrom<number | undefined>(undefined, 7), fc.boolean(), (frames, vlan, promiscuous) => {
        const netif = new FakeNetif();
        const eth = new Ethif({ netif, promiscuous, ...(vlan !== undefined ? { vlan } : {}) });
        eth.joinMulticast(MDNS);
        let delivered = 0;
        eth.register(0x0800, () => delivered++);
        eth.register(0x86dd, (p) => {
          delivered++;
          if (p.length % 2 === 0) throw new Error("even");
        });
        let expectedDelivered = 0;
        let expectedErrors = 0;
        for (const f of frames) {
          // Oracle, from the decoded header.
          let d: ReturnType<typeof decodeEthernet> | undefined;
          try {
            d = decodeEthernet(f);
          } catch {
            d = undefined;
          }
          if (d !== undefined) {
            const forUs = promiscuous || d.dst === OUR || d.dst === MAC_BROADCAST || d.dst === MDNS;
            const vid = d.vlan?.id ?? 0;
            const vlanOk = vlan === undefined ? vid === 0 : vid === vlan;
            if (forUs && vlanOk && (d.etherType === 0x0800 || d.etherType === 0x86dd)) {
              if (d.etherType === 0x86dd && d.payload.length % 2 === 0) expectedErrors++;
              else expectedDelivered++;
            }
          }
          expect(() => netif.inject(f)).not.toThrow();
        }
        const s = eth.stats();
        expect(s.counters.rxFrames).toBe(frames.length);
        expect(s.counters.rxBytes).toBe(frames.reduce((a, f) => a + f.length, 0));
        expect(s.counters.rxDelivered! + s.counters.rxDropped!).toBe(frames.length);
        expect(sumDrops(s.drops)).toBe(s.counters.rxDropped);
        expect(s.counters.rxDelivered).toBe(expectedDelivered);
        expect(s.drops["handler-error"] ?? 0).toBe(expectedErrors);
        expect(delivered).toBe(expectedDelivered + expectedErrors);
      }),
    );
  });

  it("counts every random frame sent over a vnetif link as delivered or dropped (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(frameArb, fc.uint8Array({ minLength: 14, maxLength: 60 })), { maxLength: 30 }), async (frames) => {
        const { b, eth } = setup({ vlan: 7 });
        let delivered = 0;
        eth.register(0x0800, () => delivered++);
        let sent = 0;
        for (const f of frames) if (f.length >= 14 && sendRaw(b, f)) sent++;
        await settle();
        const s = eth.stats();
        expect(s.counters.rxFrames).toBe(sent);
        expect(s.counters.rxDelivered! + s.counters.rxDropped!).toBe(sent);
        expect(sumDrops(s.drops)).toBe(s.counters.rxDropped);
        expect(delivered).toBe(s.counters.rxDelivered);
        // Every tagged frame that reached us was accounted to its VLAN id.
        const tagged = frames.filter((f) => f.length >= 18 && f[12] === 0x81 && f[13] === 0).length;
        expect(eth.vlanIdsSeen().reduce((a, id) => a + eth.vlanFrameCount(id), 0)).toBe(tagged);
      }),
      { numRuns: 50 },
    );
  });
});

describe("two Ethifs on a link", () => {
  it("exchange frames in both directions", async () => {
    const clock = new VirtualClock();
    const [a, b] = createLink({ clock, latencyMs: 2 });
    const ea = new Ethif({ netif: a });
    const eb = new Ethif({ netif: b });
    const atB: [number, number[]][] = [];
    const atA: [number, number[]][] = [];
    eb.register(0x88b5, (p, src) => atB.push([src, [...p]]));
    ea.register(0x88b5, (p, src) => atA.push([src, [...p]]));
    ea.write(eb.mac, 0x88b5, 3, (buf) => (buf.set([1, 2, 3]), 3));
    eb.write(MAC_BROADCAST, 0x88b5, 1, (buf) => ((buf[0] = 9), 1));
    await clock.advance(1);
    expect(atB).toEqual([]);
    await clock.advance(1);
    expect(atB).toEqual([[ea.mac, [1, 2, 3]]]);
    expect(atA).toEqual([[eb.mac, [9]]]);
  });
});
