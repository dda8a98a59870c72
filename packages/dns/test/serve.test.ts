/**
 * serveDns over the Unix socket stack on loopback (and the direct stack on a
 * virtual network for exact timing): garbage never stops it, TCP answers
 * pipelined queries in order whatever the segmentation, idle connections are
 * closed, the connection cap holds, close() stops everything. The resolver
 * on the same loopback.
 */
import { systemClock, SeededRandom } from "@morgana/sim";
import { createSocketStack, type SocketStack } from "@morgana/unix-socket";
import type { Stack, TcpFlow } from "@morgana/interfaces";
import { afterEach, describe, expect, it } from "vitest";
import {
  buildQuery,
  decodeMessage,
  encodeMessage,
  frameTcp,
  RCODE,
  serveDns,
  StubResolver,
  TcpFrameReader,
  type DnsServerHandle,
  type QType,
} from "../src/index.js";
import { engine, run, vnet, type VNet } from "./fixtures.js";

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function loopback(opts: { tcpIdleTimeoutMs?: number; maxTcpConnections?: number } = {}): Promise<{ stack: SocketStack; handle: DnsServerHandle }> {
  const stack = createSocketStack({ addresses: ["127.0.0.1"] });
  cleanup.push(() => stack.close());
  const handle = await serveDns({ stack, server: engine(), clock: systemClock, port: 0, address: "127.0.0.1", ...opts });
  cleanup.push(() => handle.close());
  return { stack, handle };
}

function query(name: string, type: QType, id: number): Uint8Array {
  return encodeMessage(buildQuery(name, type, { id })).slice();
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([p.finally(() => clearTimeout(t)), new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]);
}

/** Reads length-prefixed messages from a flow until `n` arrived. */
async function readMessages(flow: TcpFlow, n: number): Promise<Uint8Array[]> {
  const reader = new TcpFrameReader();
  const out: Uint8Array[] = [];
  while (out.length < n) {
    for (let m = reader.next(); m !== undefined; m = reader.next()) out.push(m);
    if (out.length >= n) break;
    const c = await flow.read();
    if (c === null) break;
    reader.push(c);
  }
  return out;
}

describe("serveDns over UDP (unix-socket loopback)", () => {
  it("answers, ignores garbage, FORMERRs what has a header, and keeps going", async () => {
    const { stack, handle } = await loopback();
    const sock = await stack.udp.bind({ address: "127.0.0.1" });
    cleanup.push(() => sock.close());
    const to = { address: "127.0.0.1", port: handle.port };
    await sock.send(Uint8Array.of(1, 2, 3, 4, 5), to); // shorter than a header: nothing
    const resp = encodeMessage({ ...buildQuery("www.example.test", "A", { id: 9 }), qr: true }).slice();
    await sock.send(resp, to); // a response: nothing
    await sock.send(Uint8Array.of(0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63), to); // a header and a broken question: FORMERR
    await sock.send(query("www.example.test", "A", 0x1111), to);
    const first = decodeMessage((await withTimeout(sock.recv(), 5000, "FORMERR"))!.data);
    expect(first).toMatchObject({ id: 0xabcd, qr: true, rcode: RCODE.FORMERR });
    const second = decodeMessage((await withTimeout(sock.recv(), 5000, "answer"))!.data);
    expect(second.id).toBe(0x1111);
    expect(second.answers).toEqual([{ name: "www.example.test", type: "A", class: 1, ttl: 300, data: "10.77.0.2" }]);
    // 200 random datagrams, then a real query still gets its answer.
    const rnd = new SeededRandom(5);
    for (let i = 0; i < 200; i++) {
      const junk = new Uint8Array(rnd.uint32() % 600);
      rnd.fill(junk);
      junk[2] = junk[2]! & 0x7f; // not responses, so the engine looks at them
      await sock.send(junk, to);
    }
    // The kernel may drop some of that burst (SO_RCVBUF): ask until answered.
    let answered = false;
    const reader = (async () => {
      for (;;) {
        const d = await sock.recv();
        if (d === null) return;
        const m = decodeMessage(d.data);
        if (m.id === 0x2222 && m.rcode === 0) {
          expect(m.answers).toHaveLength(2);
          answered = true;
          return;
        }
      }
    })();
    for (let i = 0; i < 20 && !answered; i++) {
      await sock.send(query("two.example.test", "A", 0x2222), to);
      await new Promise((r) => setTimeout(r, 100));
    }
    await withTimeout(reader, 5000, "answer after junk");
    expect(answered).toBe(true);
    const st = handle.stats();
    expect(st.counters.udpQueries).toBeGreaterThan(50);
    expect(st.drops["no-answer"]).toBeGreaterThanOrEqual(2);
  });

  it("serves UDP and TCP on the same port, chosen with port 0", async () => {
    const { stack, handle } = await loopback();
    expect(handle.udp && handle.tcp).toBe(true);
    const flow = await stack.tcp.connect({ address: "127.0.0.1", port: handle.port, timeoutMs: 5000 });
    cleanup.push(() => flow.close());
    await flow.write(frameTcp(query("www.example.test", "AAAA", 77)));
    const [m] = await withTimeout(readMessages(flow, 1), 5000, "TCP answer");
    expect(decodeMessage(m!).answers[0]).toMatchObject({ type: "AAAA", data: "2001:db8::2" });
  });
});

describe("serveDns over TCP (unix-socket loopback)", () => {
  it("answers pipelined queries in order, whatever the segmentation", async () => {
    const { stack, handle } = await loopback();
    const flow = await stack.tcp.connect({ address: "127.0.0.1", port: handle.port, timeoutMs: 5000 });
    cleanup.push(() => flow.close());
    const names = ["www", "two", "nope", "alias", "many", "txt", "mx", "v6only"];
    const all = names.map((n, i) => frameTcp(query(`${n}.example.test`, "A", 1000 + i)));
    const joined = new Uint8Array(all.reduce((s, b) => s + b.length, 0));
    let o = 0;
    for (const b of all) (joined.set(b, o), (o += b.length));
    // One write with everything, then the same again one byte at a time, then in odd pieces.
    await flow.write(joined.slice());
    const r1 = await withTimeout(readMessages(flow, names.length), 5000, "pipelined answers");
    expect(r1.map((m) => decodeMessage(m).id)).toEqual(names.map((_, i) => 1000 + i));
    for (const b of joined) await flow.write(Uint8Array.of(b));
    const r2 = await withTimeout(readMessages(flow, names.length), 10000, "byte-by-byte answers");
    expect(r2.map((m) => decodeMessage(m).id)).toEqual(names.map((_, i) => 1000 + i));
    for (let i = 0; i < joined.length; i += 7) await flow.write(joined.slice(i, i + 7));
    const r3 = await withTimeout(readMessages(flow, names.length), 5000, "odd pieces");
    expect(r3.map((m) => decodeMessage(m).id)).toEqual(names.map((_, i) => 1000 + i));
    // Over TCP nothing is truncated: all 100 records.
    const many = decodeMessage(r1[4]!);
    expect(many.tc).toBe(false);
    expect(many.answers).toHaveLength(100);
    expect(handle.stats().counters.tcpQueries).toBe(3 * names.length);
  });

  it("caps the connections served at once", async () => {
    const { stack, handle } = await loopback({ maxTcpConnections: 2 });
    const a = await stack.tcp.connect({ address: "127.0.0.1", port: handle.port, timeoutMs: 5000 });
    const b = await stack.tcp.connect({ address: "127.0.0.1", port: handle.port, timeoutMs: 5000 });
    cleanup.push(() => a.close(), () => b.close());
    await a.write(frameTcp(query("www.example.test", "A", 1)));
    await b.write(frameTcp(query("www.example.test", "A", 2)));
    await withTimeout(readMessages(a, 1), 5000, "a");
    await withTimeout(readMessages(b, 1), 5000, "b");
    // The third is reset as soon as it is accepted: the client sees it on connect or on read.
    const outcome = await withTimeout(
      stack.tcp.connect({ address: "127.0.0.1", port: handle.port, timeoutMs: 5000 }).then(
        (c) => {
          cleanup.push(() => c.close());
          return c.read().then(
            (x) => (x === null ? "end" : "data"),
            (e: { code?: string }) => e.code,
          );
        },
        (e: { code?: string }) => e.code,
      ),
      5000,
      "third connection",
    );
    expect(["ECONNRESET", "end"]).toContain(outcome);
    expect(handle.stats().drops["tcp-limit"]).toBe(1);
    expect(handle.stats().counters.tcpActive).toBe(2);
  });

  it("counts a stream that ends inside a message, and close() ends everything", async () => {
    const { stack, handle } = await loopback();
    const flow = await stack.tcp.connect({ address: "127.0.0.1", port: handle.port, timeoutMs: 5000 });
    await flow.write(frameTcp(query("www.example.test", "A", 5)).subarray(0, 10));
    await flow.shutdown();
    expect(await withTimeout(flow.read(), 5000, "server end")).toBeNull();
    await flow.close();
    expect(handle.stats().drops["tcp-truncated"]).toBe(1);
    // An idle connection when the server closes: the server ends it gracefully.
    const idle = await stack.tcp.connect({ address: "127.0.0.1", port: handle.port, timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    await withTimeout(handle.close(), 5000, "close");
    expect(await withTimeout(idle.read(), 5000, "idle end")).toBeNull();
    await idle.close();
    await expect(stack.tcp.connect({ address: "127.0.0.1", port: handle.port, timeoutMs: 5000 })).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});

describe("serveDns timing (direct stack, virtual clock)", () => {
  let net: VNet | undefined;
  afterEach(async () => {
    await net?.closeAll();
    net = undefined;
  });

  it("closes a TCP connection idle for tcpIdleTimeoutMs, exactly", async () => {
    net = vnet();
    const server: Stack = net.host("10.0.0.1");
    const client: Stack = net.host("10.0.0.2");
    const handle = await run(net.clock, serveDns({ stack: server, server: engine(), clock: net.clock, tcpIdleTimeoutMs: 5000 }));
    const flow = await run(net.clock, client.tcp.connect({ address: "10.0.0.1", port: 53 }));
    await run(net.clock, flow.write(frameTcp(query("www.example.test", "A", 3))));
    const [answer] = await run(net.clock, readMessages(flow, 1));
    const answeredAt = net.clock.now();
    expect(decodeMessage(answer!).id).toBe(3);
    let endedAt = NaN;
    const end = await run(
      net.clock,
      flow.read().then((x) => ((endedAt = net!.clock.now()), x)),
    );
    expect(end).toBeNull();
    // The timer was re-armed when the answer was written (1 ms before it arrived here); the FIN takes 1 ms.
    expect(endedAt - answeredAt).toBe(5000);
    expect(handle.stats().drops["tcp-idle"]).toBe(1);
    await run(net.clock, flow.close());
    await run(net.clock, handle.close());
  });
});

describe("the resolver on loopback (unix-socket stack)", () => {
  it("resolves, falls back to TCP on TC, reports a closed TCP port as ECONNREFUSED", async () => {
    const { stack, handle } = await loopback();
    const r = new StubResolver({ stack, servers: [{ address: "127.0.0.1", port: handle.port }], clock: systemClock, random: new SeededRandom(3) });
    expect(await r.lookup("alias.example.test", { all: true })).toEqual([
      { address: "10.77.0.2", family: 4 },
      { address: "2001:db8::2", family: 6 },
    ]);
    expect(await r.lookup("many.example.test", { all: true, family: 4 })).toHaveLength(100);
    expect(r.stats().counters.truncated).toBe(1);
    await expect(r.lookup("nope.example.test")).rejects.toMatchObject({ code: "ENOTFOUND", hostname: "nope.example.test" });
    // Nothing listens on this TCP port (the Unix socket stack cannot see ICMP for UDP).
    const closedPort = handle.port === 65535 ? 65534 : handle.port + 1;
    const tcpOnly = new StubResolver({ stack, servers: [{ address: "127.0.0.1", port: closedPort }], clock: systemClock, random: new SeededRandom(4), useTcp: true, attempts: 1 });
    await expect(tcpOnly.lookup("www.example.test")).rejects.toMatchObject({ code: "ECONNREFUSED", hostname: "www.example.test" });
  });

  it("times out against a silent server (system clock, short timeout)", async () => {
    const stack = createSocketStack({ addresses: ["127.0.0.1"] });
    cleanup.push(() => stack.close());
    const silent = await stack.udp.bind({ address: "127.0.0.1" });
    cleanup.push(() => silent.close());
    const r = new StubResolver({ stack, servers: [{ address: "127.0.0.1", port: silent.local.port }], clock: systemClock, random: new SeededRandom(6), timeoutMs: 100, attempts: 2 });
    const t0 = performance.now();
    await expect(r.lookup("www.example.test", { family: 4 })).rejects.toMatchObject({ code: "ETIMEOUT" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(195);
    let n = 0;
    while (n < 2) {
      const d = await withTimeout(silent.recv(), 1000, "queries");
      expect(decodeMessage(d!.data).questions[0]!.name).toBe("www.example.test");
      n++;
    }
  });
});
