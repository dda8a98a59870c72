/**
 * Node's own HTTP server and client running over two direct stacks (pure-TS
 * TCP on an in-memory link), through @morgana/flow's toNodeDuplex.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import { expect, it } from "vitest";
import { toNodeDuplex } from "@morgana/flow/node";
import { SeededRandom, systemClock } from "@morgana/sim";
import { createLink } from "@morgana/vnetif";
import { createStack } from "../src/index.js";

it("node:http serves a 1 MB POST over Morgana TCP, with keep-alive reuse", async () => {
  const [pa, pb] = createLink({ clock: systemClock });
  const server = createStack({ netif: pa, address: "10.1.0.1/24", random: new SeededRandom(1) });
  const client = createStack({ netif: pb, address: "10.1.0.2/24", random: new SeededRandom(2) });
  const httpServer = http.createServer((req, res) => {
    const h = createHash("sha256");
    let n = 0;
    req.on("data", (c: Buffer) => (h.update(c), (n += c.length)));
    req.on("end", () => res.end(JSON.stringify({ n, sha: h.digest("hex"), remote: req.socket.remoteAddress })));
  });
  const listener = await server.tcp.listen({ port: 80 });
  void (async () => {
    for await (const flow of listener) httpServer.emit("connection", toNodeDuplex(flow));
  })();
  let connects = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  (agent as unknown as { createConnection: unknown }).createConnection = (_opts: unknown, cb: (e: Error | null, s?: unknown) => void) => {
    connects++;
    client.tcp.connect({ address: "10.1.0.1", port: 80 }).then((f) => cb(null, toNodeDuplex(f)), (e: Error) => cb(e));
  };
  const body = new Uint8Array(1 << 20);
  new SeededRandom(3).fill(body);
  const post = (): Promise<{ n: number; sha: string; remote: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ agent, host: "10.1.0.1", port: 80, method: "POST", path: "/upload", headers: { "content-length": body.length } }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve(JSON.parse(text)));
      });
      req.on("error", reject);
      req.end(Buffer.from(body));
    });
  const first = await post();
  const second = await post();
  const expected = createHash("sha256").update(body).digest("hex");
  expect(first).toEqual({ n: body.length, sha: expected, remote: "10.1.0.2" });
  expect(second.sha).toBe(expected);
  expect(connects).toBe(1); // the second request reused the connection
  agent.destroy();
  await listener.close();
  await client.close();
  await server.close();
});
