/**
 * Real Node libraries over the facade, over two direct stacks: node:http's
 * server fed by the facade Server, undici's Client/Agent/fetch and node:http's
 * client connecting through the facade.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type net from "node:net";
import { afterEach, expect, it } from "vitest";
import { Agent, Client, fetch } from "undici";
import type { NetModule, NetSocket } from "../src/index.js";
import { bytes, delay, pair, within, type Pair } from "./helpers.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const RESPONSE = bytes(1 << 20, 8);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** node:http served through the facade's Server on port 80 of the first stack. */
async function serveHttp(p: Pair): Promise<{ connections: NetSocket[] }> {
  const httpServer = http.createServer((req, res) => {
    const h = createHash("sha256");
    let n = 0;
    req.on("data", (c: Buffer) => {
      h.update(c);
      n += c.length;
    });
    req.on("end", () => {
      if (req.url === "/small") {
        res.end(`hello ${req.socket.remoteAddress}`);
        return;
      }
      res.writeHead(200, { "content-length": RESPONSE.length, "x-request-sha256": h.digest("hex"), "x-request-bytes": n });
      res.end(RESPONSE);
    });
  });
  const connections: NetSocket[] = [];
  // node:http has no way to accept from another listener: hand it each accepted socket.
  const server = p.netA.createServer((socket) => {
    connections.push(socket);
    httpServer.emit("connection", socket);
  });
  server.listen(80, p.hostA);
  await within(server, "listening");
  cleanups.push(() => {
    server.close();
    httpServer.close();
  });
  return { connections };
}

/** undici's `connect` option: a socket from the facade. */
function connector(net: NetModule, counter: { n: number }) {
  return (opts: { hostname: string; port: string; protocol: string }, cb: (...a: [null, net.Socket] | [Error, null]) => void) => {
    counter.n++;
    // undici leaves `port` empty for the scheme's default port.
    const s = net.connect({ host: opts.hostname, port: Number(opts.port) || (opts.protocol === "https:" ? 443 : 80) });
    s.once("connect", () => cb(null, s)); // a facade Socket is typed as a net.Socket
    s.once("error", (e) => cb(e, null));
  };
}

it("node:http server + undici Client: a 1 MB POST and a 1 MB response arrive intact, twice over one kept-alive connection", async () => {
  const p = pair(60);
  cleanups.push(() => p.close());
  const { connections } = await serveHttp(p);
  const counter = { n: 0 };
  const client = new Client(`http://${p.hostA}`, { connect: connector(p.netB, counter), keepAliveTimeout: 10_000 });
  cleanups.push(() => client.close());
  const body = bytes(1 << 20, 7);
  for (let i = 0; i < 2; i++) {
    const res = await client.request({ path: "/upload", method: "POST", body });
    const got = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-request-sha256"]).toBe(sha(body));
    expect(res.headers["x-request-bytes"]).toBe(String(body.length));
    expect(got.length).toBe(RESPONSE.length);
    expect(sha(got)).toBe(sha(RESPONSE));
  }
  expect(counter.n).toBe(1); // keep-alive: the second request reused the connection
  expect(connections.length).toBe(1);
  expect(connections[0]!.bytesRead).toBeGreaterThan(2 << 20);
  expect(connections[0]!.bytesWritten).toBeGreaterThan(2 << 20);
});

it("undici fetch with an Agent whose connect uses the facade", async () => {
  const p = pair(61);
  cleanups.push(() => p.close());
  await serveHttp(p);
  const counter = { n: 0 };
  const agent = new Agent({ connect: connector(p.netB, counter) });
  cleanups.push(() => agent.close());
  const texts: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`http://${p.hostA}/small`, { dispatcher: agent });
    texts.push(await res.text());
    // undici's Agent marks the connection free a moment after the body ended (with node:net too);
    // a request issued before that opens a second connection. Wait until its pool has a free one.
    const origin = `http://${p.hostA}`;
    for (let j = 0; j < 1000 && (agent.stats[origin] as { free?: number } | undefined)?.free !== 1; j++) await delay(2);
  }
  expect(texts).toEqual(Array(3).fill(`hello ${p.hostB}`));
  expect(counter.n).toBe(1);
});

it("node:http's client over the facade: http.Agent with createConnection, keep-alive reuse", async () => {
  const p = pair(62);
  cleanups.push(() => p.close());
  await serveHttp(p);
  let connects = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  (agent as unknown as { createConnection: (o: { host: string; port: number }) => NetSocket }).createConnection = (o) => {
    connects++;
    return p.netB.connect({ host: o.host, port: o.port });
  };
  cleanups.push(() => agent.destroy());
  const body = bytes(1 << 20, 9);
  const post = () =>
    new Promise<{ reqSha: string | undefined; resSha: string }>((resolve, reject) => {
      const req = http.request({ agent, host: p.hostA, port: 80, method: "POST", path: "/upload", headers: { "content-length": body.length } }, (res) => {
        const h = createHash("sha256");
        res.on("data", (c: Buffer) => h.update(c));
        res.on("end", () => resolve({ reqSha: res.headers["x-request-sha256"] as string | undefined, resSha: h.digest("hex") }));
      });
      req.on("error", reject);
      req.end(body);
    });
  for (let i = 0; i < 2; i++) expect(await post()).toEqual({ reqSha: sha(body), resSha: sha(RESPONSE) });
  expect(connects).toBe(1);
});
