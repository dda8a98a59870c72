import fc from "fast-check";
import type { Flow } from "@morgana/interfaces";
import { describe, expect, it } from "vitest";
import { DnsDecodeError, frameTcp, readTcpMessages, TcpFrameReader } from "../src/index.js";

/** A Flow that yields the given chunks, then end of stream. */
function flowOf(chunks: Uint8Array[]): Flow {
  let i = 0;
  const read = async (): Promise<Uint8Array | null> => chunks[i++] ?? null;
  return {
    read,
    write: async () => undefined,
    writev: async () => undefined,
    shutdown: async () => undefined,
    close: async () => undefined,
    abort: () => undefined,
    async *[Symbol.asyncIterator]() {
      for (let c = await read(); c !== null; c = await read()) yield c;
    },
  };
}

function split(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, stream.length]) {
    if (p > prev) out.push(stream.slice(prev, p));
    prev = p;
  }
  return out;
}

const messagesArb = fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 6 });

describe("TCP framing", () => {
  it("frameTcp prefixes the length", () => {
    expect([...frameTcp(Uint8Array.of(9, 8, 7))]).toEqual([0, 3, 9, 8, 7]);
    expect(() => frameTcp(new Uint8Array(65536))).toThrow(/65535/);
  });

  it("TcpFrameReader splits any segmentation into the same messages", () => {
    fc.assert(
      fc.property(messagesArb, fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
        const stream = Uint8Array.from(msgs.flatMap((m) => [...frameTcp(m)]));
        const r = new TcpFrameReader();
        const got: number[][] = [];
        for (const piece of split(stream, cuts)) {
          expect(r.push(piece)).toBe(true);
          for (let m = r.next(); m !== undefined; m = r.next()) got.push([...m]);
        }
        expect(got).toEqual(msgs.map((m) => [...m]));
        expect(r.buffered).toBe(0);
      }),
    );
  });

  it("TcpFrameReader refuses input beyond its bound", () => {
    const r = new TcpFrameReader({ limit: 10 });
    expect(r.push(new Uint8Array(8))).toBe(true);
    expect(r.push(new Uint8Array(3))).toBe(false);
    expect(r.buffered).toBe(8);
  });

  it("readTcpMessages yields messages from a Flow and fails on a cut message", async () => {
    await fc.assert(
      fc.asyncProperty(messagesArb, fc.array(fc.nat(), { maxLength: 10 }), async (msgs, cuts) => {
        const stream = Uint8Array.from(msgs.flatMap((m) => [...frameTcp(m)]));
        const got: number[][] = [];
        for await (const m of readTcpMessages(flowOf(split(stream, cuts)))) got.push([...m]);
        expect(got).toEqual(msgs.map((m) => [...m]));
      }),
      { numRuns: 50 },
    );
    const cut = async (): Promise<unknown> => {
      try {
        for await (const m of readTcpMessages(flowOf([Uint8Array.of(0, 5, 1, 2)]))) void m;
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(await cut()).toBeInstanceOf(DnsDecodeError);
  });
});
