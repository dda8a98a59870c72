/**
 * Server throughput.
 *
 * 1. `server-keepalive-unix-socket`: keep-alive requests per second of our
 *    server on the unix-socket stack against node:http, with the same
 *    trivial handler (a 12-byte text body), both loaded by the same load
 *    generator in another process: autocannon 8.0.0 (10 connections, 3 s per
 *    run, runs interleaved ours/node/ours/node, best run of each).
 * 2. `server-direct-stack`: the same server on the pure-TS stack (two
 *    @morgana/stack instances on an in-memory @morgana/vnetif link, one
 *    process), loaded by our fetch client over 10 keep-alive connections;
 *    reference: node:http loaded by node:http's keep-alive agent
 *    (10 sockets) over the kernel's loopback, in one process.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { figure, loadLoop } from "@morgana/benchkit";
import { autocannon as cannon, type CannonResult } from "@morgana/benchkit/node";
import { SeededRandom, systemClock } from "@morgana/sim";
import { createStack } from "@morgana/stack";
import { createSocketStack } from "@morgana/unix-socket";
import { createLink } from "@morgana/vnetif";
import { createFetch, createHttpServer } from "../src/index.js";

const BODY = "hello world\n";
const CONNECTIONS = 10;
const SECONDS = 3;

/** autocannon with this file's settings. */
function autocannon(url: string): Promise<CannonResult> {
  return cannon(url, { connections: CONNECTIONS, seconds: SECONDS });
}

figure("http", "server-keepalive-unix-socket", async () => {
  const stack = createSocketStack({ addresses: ["127.0.0.1"] });
  const ours = createHttpServer({ clock: systemClock, handler: () => new Response(BODY) });
  const l = await ours.listen(stack.tcp, { port: 0, address: "127.0.0.1" });
  const node = http.createServer((_req, res) => res.end(BODY));
  await new Promise<void>((r) => node.listen(0, "127.0.0.1", () => r()));
  const nodePort = (node.address() as AddressInfo).port;
  const oursUrl = `http://127.0.0.1:${l.local.port}/`;
  const nodeUrl = `http://127.0.0.1:${nodePort}/`;
  // Warm up both (JIT), then interleave.
  await autocannon(oursUrl);
  await autocannon(nodeUrl);
  const o: CannonResult[] = [];
  const n: CannonResult[] = [];
  for (let i = 0; i < 2; i++) {
    o.push(await autocannon(oursUrl));
    n.push(await autocannon(nodeUrl));
  }
  for (const r of [...o, ...n]) if (r.errors > 0 || r.non2xx > 0) throw new Error(`autocannon saw errors: ${JSON.stringify(r)}`);
  await ours.close();
  await stack.close();
  await new Promise<void>((r) => node.close(() => r()));
  const best = (xs: CannonResult[]) => Math.max(...xs.map((x) => x.rps));
  return {
    unit: "req/s",
    ours: best(o),
    reference: `node:http (Node ${process.version})`,
    referenceValue: best(n),
    note: `autocannon 8.0.0 in another process, ${CONNECTIONS} keep-alive connections, ${SECONDS} s per run, interleaved, best of two (ours ${o.map((x) => Math.round(x.rps)).join("/")}, node ${n.map((x) => Math.round(x.rps)).join("/")}); 12-byte text body`,
  };
});

figure("http", "server-direct-stack", async () => {
  const [pa, pb] = createLink({ clock: systemClock });
  const a = createStack({ netif: pa, address: "10.0.0.1/24", random: new SeededRandom(1) });
  const b = createStack({ netif: pb, address: "10.0.0.2/24", random: new SeededRandom(2) });
  a.arp.addStatic(b.ipv4.addresses[0]!.address, b.netif.mac);
  b.arp.addStatic(a.ipv4.addresses[0]!.address, a.netif.mac);
  const server = createHttpServer({ clock: systemClock, handler: () => new Response(BODY) });
  await server.listen(b.tcp, { port: 80 });
  const fetch = createFetch({ stack: a, clock: systemClock, pool: { maxSocketsPerOrigin: CONNECTIONS } });
  const ours = async (): Promise<void> => {
    const r = await fetch("http://10.0.0.2/");
    if ((await r.text()) !== BODY) throw new Error("bad body");
  };
  await loadLoop(CONNECTIONS, 500, ours);
  const oursRate = await loadLoop(CONNECTIONS, 2000, ours);
  const stats = fetch.stats().counters;
  await fetch.close();
  await server.close({ deadlineMs: 500 });
  await a.close();
  await b.close();

  const node = http.createServer((_req, res) => res.end(BODY));
  await new Promise<void>((r) => node.listen(0, "127.0.0.1", () => r()));
  const port = (node.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const ref = (): Promise<void> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
          let s = "";
          res.setEncoding("latin1");
          res.on("data", (d: string) => (s += d));
          res.on("end", () => (s === BODY ? resolve() : reject(new Error("bad body"))));
        })
        .on("error", reject);
    });
  await loadLoop(CONNECTIONS, 500, ref);
  const refRate = await loadLoop(CONNECTIONS, 2000, ref);
  agent.destroy();
  await new Promise<void>((r) => node.close(() => r()));
  return {
    unit: "req/s",
    ours: oursRate,
    reference: "node:http server + node:http keep-alive agent on 127.0.0.1 (one process)",
    referenceValue: refRate,
    note: `our server on one direct stack, our fetch on another, vnetif link, one process, ${CONNECTIONS} keep-alive connections (${stats.connectionsOpened} opened), 2 s; reference: the kernel's loopback`,
  };
});
