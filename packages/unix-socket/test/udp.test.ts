import { createSocket } from "node:dgram";
import { MorganaError, type Datagram } from "@morgana/interfaces";
import { describe, expect, it } from "vitest";
import { bytes, isPending, rejection, sleep, stack, until } from "./helpers.js";

const enc = (t: string) => new TextEncoder().encode(t);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A loopback UDP port nobody is bound to. */
async function closedUdpPort(): Promise<number> {
  const s = stack();
  const u = await s.udp.bind({ address: "127.0.0.1" });
  const port = u.local.port;
  await u.close();
  return port;
}

describe("bind", () => {
  it("port 0 picks distinct ephemeral ports, reported in local", async () => {
    const s = stack();
    const a = await s.udp.bind();
    const b = await s.udp.bind({ port: 0, address: "127.0.0.1" });
    // The wildcard reads 0.0.0.0, even on a stack restricted to one address.
    expect(a.local).toEqual({ address: "0.0.0.0", port: a.local.port, family: "IPv4" });
    expect(b.local).toEqual({ address: "127.0.0.1", port: b.local.port, family: "IPv4" });
    expect(a.local.port).toBeGreaterThan(0);
    expect(b.local.port).toBeGreaterThan(0);
    expect(a.local.port).not.toBe(b.local.port);
  });

  it("a port in use rejects with EADDRINUSE carrying address and port", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    const e = await rejection(s.udp.bind({ port: a.local.port, address: "127.0.0.1" }));
    expect(e).toBeInstanceOf(MorganaError);
    expect(e).toMatchObject({ code: "EADDRINUSE", errno: -98, syscall: "bind", address: "127.0.0.1", port: a.local.port });
    // After close the port is free again.
    await a.close();
    const again = await s.udp.bind({ port: a.local.port, address: "127.0.0.1" });
    expect(again.local.port).toBe(a.local.port);
  });

  it("bad arguments reject with EINVAL; foreign addresses with EADDRNOTAVAIL", async () => {
    const s = stack();
    for (const p of [s.udp.bind({ port: -1 }), s.udp.bind({ port: 65536 }), s.udp.bind({ address: "x" }), s.udp.bind({ receiveQueue: 0 })]) {
      expect((await rejection(p)).code).toBe("EINVAL");
    }
    expect(await rejection(s.udp.bind({ address: "192.0.2.1" }))).toMatchObject({ code: "EADDRNOTAVAIL", address: "192.0.2.1" });
  });

  it("the wildcard of a stack with two addresses receives on both", async () => {
    const s = stack({ addresses: ["127.0.0.1", "127.0.0.2"] });
    const u = await s.udp.bind();
    expect(u.local.address).toBe("0.0.0.0");
    const c = await s.udp.bind({ address: "127.0.0.1" });
    await c.send(enc("one"), { address: "127.0.0.1", port: u.local.port });
    await c.send(enc("two"), { address: "127.0.0.2", port: u.local.port });
    const got = [await u.recv(), await u.recv()];
    expect(got.map((d) => dec(d!.data))).toEqual(["one", "two"]);
  });
});

describe("send and recv", () => {
  it("delivers datagrams with the sender's address and port, in order", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    const b = await s.udp.bind({ address: "127.0.0.1" });
    for (let i = 0; i < 20; i++) await a.send(enc(`m${i}`), { address: "127.0.0.1", port: b.local.port });
    const got: Datagram[] = [];
    for (let i = 0; i < 20; i++) got.push((await b.recv())!);
    expect(got.map((d) => dec(d.data))).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(got.every((d) => d.address === "127.0.0.1" && d.port === a.local.port)).toBe(true);
    expect(Object.getPrototypeOf(got[0]!.data)).toBe(Uint8Array.prototype);
    // A received datagram is a destination: reply to it.
    await b.send(enc("reply"), got[0]!);
    expect(dec((await a.recv())!.data)).toBe("reply");
    const st = s.stats().udp.counters;
    expect(st).toMatchObject({ txDatagrams: 21, rxDatagrams: 21, sockets: 2 });
    expect(st.txBytes).toBe(st.rxBytes);
  });

  it("a pending recv() gets the next datagram; concurrent recv()s are served in call order", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    const b = await s.udp.bind({ address: "127.0.0.1" });
    const r = [b.recv(), b.recv(), b.recv()];
    for (const t of ["x", "y", "z"]) await a.send(enc(t), { address: "127.0.0.1", port: b.local.port });
    expect((await Promise.all(r)).map((d) => dec(d!.data))).toEqual(["x", "y", "z"]);
  });

  it("sends up to 65507 bytes and rejects larger datagrams with EMSGSIZE before sending", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    const b = await s.udp.bind({ address: "127.0.0.1" });
    const max = bytes(65507, "max");
    await a.send(max, { address: "127.0.0.1", port: b.local.port });
    expect(Buffer.from((await b.recv())!.data).equals(Buffer.from(max))).toBe(true);
    const e = await rejection(a.send(new Uint8Array(65508), { address: "127.0.0.1", port: b.local.port }));
    expect(e).toBeInstanceOf(MorganaError);
    expect(e).toMatchObject({ code: "EMSGSIZE", errno: -90, syscall: "send", address: "127.0.0.1", port: b.local.port });
    expect(s.stats().udp.counters.txDatagrams).toBe(1);
  });

  it("rejects bad destinations with EINVAL", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    for (const p of [
      a.send(enc("x"), { address: "localhost", port: 53 }),
      a.send(enc("x"), { address: "127.0.0.1", port: 0 }),
      a.send("x" as unknown as Uint8Array, { address: "127.0.0.1", port: 53 }),
    ]) {
      expect((await rejection(p)).code).toBe("EINVAL");
    }
  });

  it("async iteration yields datagrams and ends on close", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    const b = await s.udp.bind({ address: "127.0.0.1" });
    const it = (async () => {
      const seen: string[] = [];
      for await (const d of b) seen.push(dec(d.data));
      return seen;
    })();
    for (const t of ["1", "2", "3"]) await a.send(enc(t), { address: "127.0.0.1", port: b.local.port });
    await until(() => s.stats().udp.counters.rxDatagrams === 3, 2000, "three datagrams");
    await b.close();
    expect(await it).toEqual(["1", "2", "3"]);
  });
});

describe("receive queue", () => {
  it("holds at most receiveQueue datagrams; the rest are dropped and counted, the oldest kept", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    const b = await s.udp.bind({ address: "127.0.0.1", receiveQueue: 4 });
    for (let i = 0; i < 10; i++) await a.send(enc(`d${i}`), { address: "127.0.0.1", port: b.local.port });
    await until(() => (s.stats().udp.drops["queue-full"] ?? 0) === 6, 2000, "six drops");
    expect((b as unknown as { queued: number }).queued).toBe(4);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push(dec((await b.recv())!.data));
    expect(got).toEqual(["d0", "d1", "d2", "d3"]);
    expect(await isPending(b.recv(), 50)).toBe(true);
  });

  it("the default bound is 256 datagrams", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    const b = await s.udp.bind({ address: "127.0.0.1" });
    const handled = () => (s.stats().udp.drops["queue-full"] ?? 0) + (s.stats().udp.counters.rxDatagrams ?? 0);
    // In batches, so that the kernel's own receive buffer (about 256 small datagrams) never overflows.
    for (let i = 0; i < 300; i++) {
      await a.send(enc(String(i)), { address: "127.0.0.1", port: b.local.port });
      if (i % 20 === 19) await until(() => handled() === i + 1, 2000, "datagrams handled");
    }
    await until(() => handled() === 300, 2000, "all handled");
    expect(s.stats().udp.counters.rxDatagrams).toBe(256);
    expect(s.stats().udp.drops["queue-full"]).toBe(44);
  });
});

describe("close", () => {
  it("pending and later recv() give null, send rejects with ERR_SOCKET_CLOSED, close is idempotent", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    const r = a.recv();
    await a.close();
    expect(await r).toBeNull();
    expect(await a.recv()).toBeNull();
    const e = await rejection(a.send(enc("x"), { address: "127.0.0.1", port: 9 }));
    expect(e).toBeInstanceOf(MorganaError);
    expect(e).toMatchObject({ code: "ERR_SOCKET_CLOSED", syscall: "send" });
    await a.close();
    expect(s.stats().udp.counters.sockets).toBe(0);
  });

  it("queued datagrams are dropped at close", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    const b = await s.udp.bind({ address: "127.0.0.1" });
    await a.send(enc("queued"), { address: "127.0.0.1", port: b.local.port });
    await until(() => (b as unknown as { queued: number }).queued === 1, 2000, "queued");
    await b.close();
    expect(await b.recv()).toBeNull();
  });
});

describe("ICMP port unreachable (host behaviour)", () => {
  it("an unconnected socket gets no error from Node: recv() is not rejected and the socket goes on", async () => {
    const s = stack();
    const a = await s.udp.bind({ address: "127.0.0.1" });
    const closed = await closedUdpPort();
    // Linux answers with ICMP port unreachable, but reports it to an unconnected
    // socket only with IP_RECVERR, which Node does not set.
    await a.send(enc("to nobody"), { address: "127.0.0.1", port: closed });
    await a.send(enc("to nobody"), { address: "127.0.0.1", port: closed });
    await sleep(50);
    const b = await s.udp.bind({ address: "127.0.0.1" });
    await b.send(enc("hello"), { address: "127.0.0.1", port: a.local.port });
    const d = await a.recv();
    expect(dec(d!.data)).toBe("hello");
    expect(s.stats().udp.counters.socketErrors).toBe(0);
  });

  it("(reference) Node reports it only for a connected dgram socket, without address or port", async () => {
    const closed = await closedUdpPort();
    const sock = createSocket("udp4");
    try {
      await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
      await new Promise<void>((r) => sock.connect(closed, "127.0.0.1", () => r()));
      const err = new Promise<NodeJS.ErrnoException>((r) => sock.once("error", r));
      sock.send(enc("x"));
      const e = await err;
      expect(e.code).toBe("ECONNREFUSED");
      expect(e.syscall).toBe("recvmsg");
    } finally {
      sock.close();
    }
  });
});
