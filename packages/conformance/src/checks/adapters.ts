/**
 * The stream adapters of @morgana/flow over the stacks' flows: Web Streams
 * and a Node Duplex, data both ways and the end of stream.
 */
import { once } from "node:events";
import { expect } from "vitest";
import { toWebStreams } from "@morgana/flow";
import { toNodeDuplex, type FlowDuplex } from "@morgana/flow/node";
import { chunkSizes, PatternSource, PatternVerifier } from "../data.js";
import type { CheckContext } from "../context.js";
import type { Check } from "./check.js";

const KiB = 1024;

async function webWrite(ctx: CheckContext, writable: WritableStream<Uint8Array>, seed: number, total: number, label: string): Promise<void> {
  const writer = writable.getWriter();
  const src = new PatternSource(seed);
  for (const n of chunkSizes(total, seed ^ 0x3c3c)) {
    await ctx.wait(`${label}: writer.ready`, writer.ready);
    await ctx.wait(`${label}: writer.write at byte ${src.offset}`, writer.write(src.take(n)));
  }
  await ctx.wait(`${label}: writer.close()`, writer.close());
}

async function webRead(ctx: CheckContext, readable: ReadableStream<Uint8Array>, seed: number, label: string): Promise<number> {
  const reader = readable.getReader();
  const v = new PatternVerifier(seed, label);
  for (;;) {
    const r = await ctx.wait(`${label}: reader.read() at byte ${v.received}`, reader.read());
    if (r.done) return v.received;
    expect(r.value, `${label}: chunks are Uint8Arrays`).toBeInstanceOf(Uint8Array);
    v.check(r.value);
  }
}

const webStreams: Check = {
  id: "adapter-web-streams",
  title: "toWebStreams: data both ways through ReadableStream/WritableStream, close() of the writable is the end of stream",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    const c = toWebStreams(client);
    const s = toWebStreams(server);
    const total = ctx.bytes(256 * KiB);
    const up = ctx.seed("up");
    const down = ctx.seed("down");
    const writing = ctx.task("client writes through its WritableStream", () => webWrite(ctx, c.writable, up, total, "client"));
    expect(await webRead(ctx, s.readable, up, "server reads its ReadableStream"), "bytes up").toBe(total);
    await writing;
    // The client's readable still works after its writable closed (a half-close).
    const reading = ctx.task("client reads its ReadableStream", () => webRead(ctx, c.readable, down, "client"));
    await webWrite(ctx, s.writable, down, total, "server");
    expect(await reading, "bytes down").toBe(total);
    // Both sides done: the adapter closes the flows; close() is idempotent and resolves.
    await ctx.wait("client.close() and server.close()", Promise.all([client.close(), server.close()]));
    await ctx.wait("listener.close()", listener.close());
  },
};

function duplexRead(ctx: CheckContext, d: FlowDuplex, seed: number, label: string): Promise<number> {
  const v = new PatternVerifier(seed, label);
  return ctx.wait(
    `${label}: 'data' until 'end'`,
    new Promise<number>((resolve, reject) => {
      d.on("data", (chunk: Uint8Array) => {
        try {
          v.check(chunk);
        } catch (e) {
          reject(e as Error);
        }
      });
      d.once("end", () => resolve(v.received));
      d.once("error", reject);
    }),
  );
}

async function duplexWrite(ctx: CheckContext, d: FlowDuplex, seed: number, total: number, label: string): Promise<void> {
  const src = new PatternSource(seed);
  for (const n of chunkSizes(total, seed ^ 0x4d4d)) {
    if (!d.write(src.take(n))) await ctx.wait(`${label}: 'drain' at byte ${src.offset}`, once(d, "drain"));
  }
  const finished = once(d, "finish");
  d.end();
  await ctx.wait(`${label}: 'finish' after end()`, finished);
}

const nodeDuplex: Check = {
  id: "adapter-node-duplex",
  title: "toNodeDuplex: data both ways through a stream.Duplex, end() is the end of stream, socket addresses",
  directional: true,
  async run(ctx) {
    const { client, server, listener, port } = await ctx.connect();
    const c = toNodeDuplex(client);
    const s = toNodeDuplex(server);
    expect(c.remoteAddress, "duplex.remoteAddress").toBe(ctx.serverAddress);
    expect(c.remotePort, "duplex.remotePort").toBe(port);
    expect(s.remoteAddress, "duplex.remoteAddress").toBe(ctx.clientAddress);
    expect(s.localPort, "duplex.localPort").toBe(port);
    const cClosed = once(c, "close");
    const sClosed = once(s, "close");
    const total = ctx.bytes(256 * KiB);
    const up = ctx.seed("up");
    const down = ctx.seed("down");
    const atServer = duplexRead(ctx, s, up, "server duplex");
    const atClient = duplexRead(ctx, c, down, "client duplex");
    atServer.catch(() => undefined);
    atClient.catch(() => undefined);
    await duplexWrite(ctx, c, up, total, "client duplex");
    expect(await atServer, "bytes up").toBe(total);
    await duplexWrite(ctx, s, down, total, "server duplex");
    expect(await atClient, "bytes down").toBe(total);
    await ctx.wait("both duplexes emit 'close'", Promise.all([cClosed, sClosed]));
    await ctx.wait("client.close() and server.close()", Promise.all([client.close(), server.close()]));
    await ctx.wait("listener.close()", listener.close());
  },
};

export const ADAPTER_CHECKS: readonly Check[] = [webStreams, nodeDuplex];
