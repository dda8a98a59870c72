import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MorganaError, isGroupMac, localMac, type MacAddress } from "@morgana/interfaces";
import { SeededRandom } from "@morgana/sim";
import { createDgramNetif, DEFAULT_MAX_PENDING_SENDS, MAX_MTU, type DgramNetif } from "../src/index.js";
import { closeSocket, hex, ioTurn, makeFrame, rawSocket, sendRaw, waitFor } from "./helpers.js";

/** Two dgram-netifs on loopback pointing at each other. */
async function pair(opts: { mtuA?: number; mtuB?: number } = {}): Promise<[DgramNetif, DgramNetif]> {
  const a = await createDgramNetif({ localPort: 0, remotePort: 9, mtu: opts.mtuA ?? 1500 });
  // A's remote is not known before B is bound: rebuild A pointing at B.
  const b = await createDgramNetif({ localPort: 0, remotePort: a.localPort, mtu: opts.mtuB ?? 1500 });
  const port = a.localPort;
  await a.close();
  const a2 = await createDgramNetif({ localPort: port, remotePort: b.localPort, mtu: opts.mtuA ?? 1500 });
  return [a2, b];
}

function send(n: DgramNetif, frame: Uint8Array): boolean {
  return n.transmit(frame.length, (buf) => {
    buf.set(frame);
    return frame.length;
  });
}

describe("createDgramNetif", () => {
  it("binds port 0 to a free port and reports its endpoints, MTU and a random local unicast MAC", async () => {
    const n = await createDgramNetif({ localPort: 0, remotePort: 5555 });
    try {
      expect(n.localPort).toBeGreaterThan(0);
      expect(n.localAddress).toBe("127.0.0.1");
      expect(n.remoteAddress).toBe("127.0.0.1");
      expect(n.remotePort).toBe(5555);
      expect(n.mtu).toBe(1500);
      // Locally administered (bit 1 of the first octet), unicast (bit 0 clear).
      const first = Math.floor(n.mac / 2 ** 40);
      expect(first & 2).toBe(2);
      expect(isGroupMac(n.mac)).toBe(false);
      expect(n.stats()).toEqual({
        counters: { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, pendingSends: 0, handlerErrors: 0, socketErrors: 0 },
        drops: {},
      });
      const other = await createDgramNetif({ localPort: 0, remotePort: 5555 });
      expect(other.localPort).not.toBe(n.localPort);
      expect(other.mac).not.toBe(n.mac);
      await other.close();
    } finally {
      await n.close();
    }
  });

  it("draws the default MAC from the given Random, and keeps an explicit MAC", async () => {
    const a = await createDgramNetif({ localPort: 0, remotePort: 9, random: new SeededRandom(42) });
    const b = await createDgramNetif({ localPort: 0, remotePort: 9, mac: 0x0200_dead_beef });
    try {
      expect(a.mac).toBe(localMac(new SeededRandom(42)));
      expect(b.mac).toBe(0x0200_dead_beef as MacAddress);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("rejects with EADDRINUSE (a MorganaError with syscall bind) when the local port is taken", async () => {
    const holder = await rawSocket();
    try {
      const err = await createDgramNetif({ localPort: holder.port, remotePort: 9 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MorganaError);
      expect(err).toMatchObject({ code: "EADDRINUSE", errno: -98, syscall: "bind", address: "127.0.0.1", port: holder.port });
    } finally {
      await closeSocket(holder);
    }
  });

  it("throws EINVAL for bad options", async () => {
    const bad: unknown[] = [
      null,
      { localPort: -1, remotePort: 9 },
      { localPort: 0, remotePort: 0 },
      { localPort: 0, remotePort: 70000 },
      { localPort: 0.5, remotePort: 9 },
      { localPort: 0, remotePort: 9, localAddress: "localhost" },
      { localPort: 0, remotePort: 9, remoteAddress: "::1" },
      { localPort: 0, remotePort: 9, mtu: 0 },
      { localPort: 0, remotePort: 9, mtu: MAX_MTU + 1 },
      { localPort: 0, remotePort: 9, mac: 2 ** 48 },
      { localPort: 0, remotePort: 9, maxPendingSends: 0 },
      { localPort: 0, remotePort: 9, random: {} },
    ];
    for (const opts of bad) {
      await expect(createDgramNetif(opts as never), JSON.stringify(opts)).rejects.toMatchObject({ code: "EINVAL" });
    }
  });

  it("works over IPv6 loopback too", async () => {
    const a = await createDgramNetif({ localPort: 0, localAddress: "::1", remoteAddress: "0:0:0:0:0:0:0:1", remotePort: 9 });
    const b = await createDgramNetif({ localPort: 0, localAddress: "::1", remoteAddress: "::1", remotePort: a.localPort });
    const a2port = a.localPort;
    await a.close();
    const a2 = await createDgramNetif({ localPort: a2port, localAddress: "::1", remoteAddress: "0:0::1", remotePort: b.localPort });
    try {
      const got: Uint8Array[] = [];
      a2.listen((f) => got.push(f));
      // The canonical form matches what node:dgram reports, so B's frames are not foreign.
      expect(a2.remoteAddress).toBe("::1");
      expect(send(b, makeFrame(60, 1, 7))).toBe(true);
      await waitFor(() => got.length === 1, "one frame over ::1");
      expect(hex(got[0]!)).toBe(hex(makeFrame(60, 1, 7)));
    } finally {
      await a2.close();
      await b.close();
    }
  });
});

describe("two dgram-netifs on loopback", () => {
  let a: DgramNetif;
  let b: DgramNetif;
  beforeAll(async () => {
    [a, b] = await pair();
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it("exchange random frame sequences both ways: exactly once, in order, bytes intact", async () => {
    const WINDOW = 16; // frames in flight per direction: far below the loopback socket buffers
    const gotA: Uint8Array[] = [];
    const gotB: Uint8Array[] = [];
    a.listen((f) => gotA.push(f));
    b.listen((f) => gotB.push(f));
    const frameArb = fc.record({
      fromA: fc.boolean(),
      length: fc.oneof(fc.integer({ min: 14, max: 1514 }), fc.constantFrom(14, 15, 60, 64, 1513, 1514)),
      seed: fc.integer({ min: 0, max: 0xffff_ffff }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 80 }), async (specs) => {
        gotA.length = 0;
        gotB.length = 0;
        const toA: Uint8Array[] = [];
        const toB: Uint8Array[] = [];
        const before = { a: a.stats().counters, b: b.stats().counters };
        for (const s of specs) {
          const frame = new Uint8Array(s.length);
          new SeededRandom(s.seed).fill(frame);
          const [from, sent, got] = s.fromA ? [a, toB, gotB] : [b, toA, gotA];
          if (sent.length - got.length >= WINDOW) await waitFor(() => sent.length - got.length < WINDOW, "the window to open");
          expect(send(from, frame)).toBe(true);
          sent.push(frame);
        }
        await waitFor(() => gotA.length >= toA.length && gotB.length >= toB.length, "every frame");
        await ioTurn(5); // a duplicate would arrive now
        expect(gotA.map(hex)).toEqual(toA.map(hex));
        expect(gotB.map(hex)).toEqual(toB.map(hex));
        const bytes = (l: Uint8Array[]): number => l.reduce((x, f) => x + f.length, 0);
        await waitFor(() => a.pendingSends === 0 && b.pendingSends === 0, "send completions");
        const after = { a: a.stats().counters, b: b.stats().counters };
        expect(after.a.txFrames! - before.a.txFrames!).toBe(toB.length);
        expect(after.a.txBytes! - before.a.txBytes!).toBe(bytes(toB));
        expect(after.b.rxFrames! - before.b.rxFrames!).toBe(toB.length);
        expect(after.b.rxBytes! - before.b.rxBytes!).toBe(bytes(toB));
        expect(after.b.txFrames! - before.b.txFrames!).toBe(toA.length);
        expect(after.a.rxFrames! - before.a.rxFrames!).toBe(toA.length);
      }),
      { numRuns: 40 },
    );
    expect(a.stats().drops).toEqual({});
    expect(b.stats().drops).toEqual({});
  });

  it("sends only the n bytes fill returned, zero-filled where fill wrote nothing", async () => {
    const got: Uint8Array[] = [];
    b.listen((f) => got.push(f));
    expect(a.transmit(1000, (buf) => {
      expect(buf.length).toBe(1000);
      expect(buf.every((x) => x === 0)).toBe(true);
      buf.fill(0xab, 0, 20);
      return 30;
    })).toBe(true);
    await waitFor(() => got.length === 1, "the frame");
    expect(Array.from(got[0]!)).toEqual([...new Array<number>(20).fill(0xab), ...new Array<number>(10).fill(0)]);
    // The receiver gets a plain Uint8Array (not a Buffer, whose slice() would alias).
    expect(Object.getPrototypeOf(got[0])).toBe(Uint8Array.prototype);
  });

  it("accepts a tagged frame of mtu + 18 bytes but an untagged one only up to mtu + 14", async () => {
    const got: Uint8Array[] = [];
    b.listen((f) => got.push(f));
    const tagged = makeFrame(1518, 1, 1);
    tagged[12] = 0x81;
    tagged[13] = 0x00;
    const before = a.stats().drops.oversize ?? 0;
    expect(send(a, tagged)).toBe(true);
    expect(send(a, makeFrame(1515, 1, 2))).toBe(false);
    expect(send(a, makeFrame(1519, 1, 3))).toBe(false);
    expect(a.stats().drops.oversize).toBe(before + 2);
    await waitFor(() => got.length === 1, "the tagged frame");
    expect(got[0]!.length).toBe(1518);
  });
});

describe("transmit refusals (counted, never thrown)", () => {
  it("counts each refusal by reason and returns false", async () => {
    const peer = await rawSocket();
    const n = await createDgramNetif({ localPort: 0, remotePort: peer.port, mtu: 100 });
    try {
      const ok = (len: number) => (buf: Uint8Array) => {
        buf.set(makeFrame(len, 1, 1).subarray(0, buf.length));
        return len;
      };
      expect(n.transmit(-1, ok(60))).toBe(false);
      expect(n.transmit(1.5, ok(60))).toBe(false);
      expect(n.transmit(119, ok(60))).toBe(false); // above mtu + 18 before any fill
      expect(
        n.transmit(60, () => {
          throw new Error("boom");
        }),
      ).toBe(false);
      expect(n.transmit(60, () => 61)).toBe(false);
      expect(n.transmit(60, () => -1)).toBe(false);
      expect(n.transmit(60, () => Number.NaN)).toBe(false);
      expect(n.transmit(60, (() => "60") as never)).toBe(false);
      expect(n.transmit(60, () => 13)).toBe(false);
      expect(n.transmit(118, ok(115))).toBe(false); // untagged above mtu + 14
      expect(n.stats().drops).toEqual({ "bad-size": 2, oversize: 2, "fill-error": 1, "fill-length": 4, short: 1 });
      expect(n.transmit(114, ok(114))).toBe(true);
      await waitFor(() => peer.received.length === 1, "the valid frame");
      expect(peer.received[0]!.length).toBe(114);
      expect(n.stats().counters.txFrames).toBe(1);
    } finally {
      await n.close();
      await closeSocket(peer);
    }
  });

  it("bounds the sends in flight: beyond maxPendingSends in one turn, queue-full", async () => {
    const peer = await rawSocket();
    const n = await createDgramNetif({ localPort: 0, remotePort: peer.port, maxPendingSends: 3 });
    try {
      const results = Array.from({ length: 5 }, (_, i) => n.transmit(60, (buf) => (buf.set(makeFrame(60, 1, i)), 60)));
      expect(results).toEqual([true, true, true, false, false]);
      expect(n.pendingSends).toBe(3);
      expect(n.stats().drops).toEqual({ "queue-full": 2 });
      await waitFor(() => n.pendingSends === 0, "completions");
      expect(n.transmit(60, (buf) => (buf.set(makeFrame(60, 1, 9)), 60))).toBe(true);
      await waitFor(() => peer.received.length === 4, "four datagrams");
      expect(peer.received.map((d) => d.readUInt32BE(14))).toEqual([0, 1, 2, 9]);
      expect(DEFAULT_MAX_PENDING_SENDS).toBe(1024);
    } finally {
      await n.close();
      await closeSocket(peer);
    }
  });

  it("counts a socket send error (EACCES: broadcast without SO_BROADCAST, on loopback) as send-error", async () => {
    const n = await createDgramNetif({ localPort: 0, remotePort: 9, remoteAddress: "127.255.255.255" });
    try {
      expect(n.transmit(60, (buf) => (buf.set(makeFrame(60, 1, 1)), 60))).toBe(true);
      await waitFor(() => n.pendingSends === 0, "the send completion");
      expect(n.stats().drops).toEqual({ "send-error": 1 });
      expect(n.stats().counters.txFrames).toBe(0);
    } finally {
      await n.close();
    }
  });

  it("after close: transmit returns false (closed), nothing is delivered, close is idempotent", async () => {
    const [a, b] = await pair();
    const got: Uint8Array[] = [];
    b.listen((f) => got.push(f));
    const p1 = b.close();
    const p2 = b.close();
    expect(p2).toBe(p1);
    expect(b.closed).toBe(true);
    await p1;
    expect(b.transmit(60, () => 60)).toBe(false);
    expect(b.stats().drops).toEqual({ closed: 1 });
    expect(send(a, makeFrame(60, 1, 1))).toBe(true);
    await ioTurn();
    expect(got).toHaveLength(0);
    await a.close();
    expect(a.transmit(60, () => 60)).toBe(false);
    await a.close();
  });
});

describe("receive", () => {
  it("drops datagrams from a foreign source, short ones and ones above mtu + 18; accepts the rest", async () => {
    const remote = await rawSocket();
    const stranger = await rawSocket();
    const n = await createDgramNetif({ localPort: 0, remotePort: remote.port, mtu: 100 });
    try {
      const got: Uint8Array[] = [];
      n.listen((f) => got.push(f));
      await sendRaw(stranger, makeFrame(60, 2, 1), n.localPort);
      await sendRaw(remote, new Uint8Array(13), n.localPort);
      await sendRaw(remote, new Uint8Array(0), n.localPort);
      await sendRaw(remote, makeFrame(119, 1, 2), n.localPort);
      await sendRaw(remote, makeFrame(118, 1, 3), n.localPort); // accepted: receive allows up to mtu + 18
      await sendRaw(remote, makeFrame(14, 1, 4), n.localPort);
      await waitFor(() => got.length === 2, "the two valid frames");
      await ioTurn();
      expect(got.map((f) => f.length)).toEqual([118, 14]);
      expect(hex(got[0]!)).toBe(hex(makeFrame(118, 1, 3)));
      expect(n.stats().drops).toEqual({ "foreign-source": 1, short: 2, oversize: 1 });
      expect(n.stats().counters.rxFrames).toBe(2);
      expect(n.stats().counters.rxBytes).toBe(132);
    } finally {
      await n.close();
      await closeSocket(remote);
      await closeSocket(stranger);
    }
  });

  it("with acceptAnySource, frames from any sender are delivered", async () => {
    const stranger = await rawSocket();
    const n = await createDgramNetif({ localPort: 0, remotePort: 9, acceptAnySource: true });
    try {
      const got: Uint8Array[] = [];
      n.listen((f) => got.push(f));
      await sendRaw(stranger, makeFrame(60, 2, 1), n.localPort);
      await waitFor(() => got.length === 1, "the frame");
      expect(n.stats().drops).toEqual({});
    } finally {
      await n.close();
      await closeSocket(stranger);
    }
  });

  it("counts no-listener drops, uses the latest listener, and catches a throwing listener", async () => {
    const remote = await rawSocket();
    const errors: unknown[] = [];
    const n = await createDgramNetif({ localPort: 0, remotePort: remote.port, onHandlerError: (e) => errors.push(e) });
    try {
      await sendRaw(remote, makeFrame(60, 1, 1), n.localPort);
      await waitFor(() => (n.stats().drops["no-listener"] ?? 0) === 1, "the no-listener drop");
      const first: Uint8Array[] = [];
      const second: Uint8Array[] = [];
      n.listen((f) => first.push(f));
      n.listen((f) => {
        second.push(f);
        throw new Error("listener failure");
      });
      await sendRaw(remote, makeFrame(60, 1, 2), n.localPort);
      await sendRaw(remote, makeFrame(60, 1, 3), n.localPort);
      await waitFor(() => second.length === 2, "both frames");
      expect(first).toHaveLength(0);
      expect(n.stats().counters.handlerErrors).toBe(2);
      expect(n.stats().counters.rxFrames).toBe(2);
      expect(errors.map((e) => (e as Error).message)).toEqual(["listener failure", "listener failure"]);
    } finally {
      await n.close();
      await closeSocket(remote);
    }
  });
});
