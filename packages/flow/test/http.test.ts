import { createHash } from "node:crypto";
import http from "node:http";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { FlowReader, tcpFlowPair, type MemoryTcpFlow } from "../src/index.js";
import { toNodeDuplex } from "../src/node.js";
import { pattern } from "./helpers.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** An echo server: answers with the request body, its SHA-256 and the peer address in headers. */
function echoServer(): { server: http.Server; sockets: unknown[] } {
  const sockets: unknown[] = [];
  const server = http.createServer((req, res) => {
    sockets.push(req.socket);
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const body = Buffer.concat(parts);
      res.setHeader("x-sha256", sha256(body));
      res.setHeader("x-peer", `${req.socket.remoteAddress}:${req.socket.remotePort}`);
      res.setHeader("x-request", `${req.method} ${req.url}`);
      res.end(body.length > 0 ? body : `hello ${req.url}`);
    });
  });
  return { server, sockets };
}

/** Serves one connection of `server` over a new in-memory TCP pair; returns the client end. */
function connect(server: http.Server, bufferSize = 65536): { client: MemoryTcpFlow; server: MemoryTcpFlow } {
  const [c, s] = tcpFlowPair({ bufferSize });
  server.emit("connection", toNodeDuplex(s));
  return { client: c, server: s };
}

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
}

/** Reads one HTTP/1.1 response with a content-length body. */
async function readResponse(reader: FlowReader): Promise<RawResponse> {
  const head = dec.decode(await reader.readUntil("\r\n\r\n", 16384)).split("\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head[0]!)![1]);
  const headers = new Map<string, string>();
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const len = Number(headers.get("content-length"));
  expect(Number.isInteger(len)).toBe(true);
  return { status, headers, body: await reader.readExactly(len) };
}

describe("node:http over toNodeDuplex", () => {
  it("a 1 MB POST through http.request (createConnection) and its 1 MB echo arrive intact", async () => {
    const { server } = echoServer();
    const body = pattern(1 << 20, 42);
    let flows: { client: MemoryTcpFlow; server: MemoryTcpFlow } | undefined;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(
        {
          method: "POST",
          host: "10.0.0.2",
          path: "/upload",
          headers: { "content-type": "application/octet-stream", "content-length": body.length },
          createConnection: () => {
            flows = connect(server);
            return toNodeDuplex(flows.client) as unknown as Socket;
          },
        },
        resolve,
      );
      req.on("error", reject);
      req.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-sha256"]).toBe(sha256(body));
    expect(res.headers["x-peer"]).toBe("10.0.0.1:49152");
    const parts: Buffer[] = [];
    for await (const c of res) parts.push(c as Buffer);
    const echoed = Buffer.concat(parts);
    expect(echoed.length).toBe(body.length);
    expect(echoed.equals(body)).toBe(true);
    // The flows never buffered more than their size, in either direction.
    expect(flows!.server.stats().maxBuffered).toBeLessThanOrEqual(65536);
    expect(flows!.client.stats().maxBuffered).toBeLessThanOrEqual(65536);
    expect(flows!.server.stats().bytesRead).toBeGreaterThan(1 << 20);
  });

  it("keep-alive: two requests on one flow, written by hand, then a third with Connection: close ends the flow", async () => {
    const { server, sockets } = echoServer();
    const { client } = connect(server);
    const reader = new FlowReader(client);

    await client.write(enc.encode("GET /one HTTP/1.1\r\nHost: example\r\n\r\n"));
    const r1 = await readResponse(reader);
    expect(r1.status).toBe(200);
    expect(r1.headers.get("connection")).toBe("keep-alive");
    expect(dec.decode(r1.body)).toBe("hello /one");

    const post = pattern(100_000, 5);
    await client.write(enc.encode(`POST /two HTTP/1.1\r\nHost: example\r\nContent-Length: ${post.length}\r\n\r\n`));
    await client.write(post);
    const r2 = await readResponse(reader);
    expect(r2.headers.get("x-request")).toBe("POST /two");
    expect(r2.headers.get("x-sha256")).toBe(sha256(post));
    expect(Buffer.from(r2.body).equals(post)).toBe(true);

    await client.write(enc.encode("GET /three HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n"));
    const r3 = await readResponse(reader);
    expect(r3.headers.get("connection")).toBe("close");
    expect(dec.decode(r3.body)).toBe("hello /three");
    expect(await reader.read()).toBeNull(); // the server ended the flow
    expect(sockets.length).toBe(3);
    expect(new Set(sockets).size).toBe(1); // one socket for the three requests
    await client.close();
  });

  it("a keep-alive http.Agent reuses one flow for two requests", async () => {
    const { server, sockets } = echoServer();
    let created = 0;
    class FlowAgent extends http.Agent {
      override createConnection(): Socket {
        created++;
        return toNodeDuplex(connect(server).client) as unknown as Socket;
      }
    }
    const agent = new FlowAgent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: "10.0.0.2", path, agent }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (text += c));
            res.on("end", () => resolve(text));
          })
          .on("error", reject);
      });
    expect(await get("/a")).toBe("hello /a");
    expect(await get("/b")).toBe("hello /b");
    expect(created).toBe(1);
    expect(new Set(sockets).size).toBe(1);
    agent.destroy();
  });

  it("a malformed request gets node:http's 400 response before the flow ends (destroy is graceful)", async () => {
    const { server } = echoServer();
    const { client } = connect(server);
    const reader = new FlowReader(client);
    await client.write(enc.encode("NOT HTTP AT ALL\r\n\r\n"));
    const head = dec.decode(await reader.readUntil("\r\n", 1024));
    expect(head).toBe("HTTP/1.1 400 Bad Request");
    await reader.readAll(4096);
    expect(reader.ended).toBe(true);
  });
});
