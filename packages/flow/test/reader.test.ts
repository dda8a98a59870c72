import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MorganaError } from "@morgana/interfaces";
import { flowPair, FlowReader, LimitExceededError, UnexpectedEndError, type ReadSource } from "../src/index.js";
import { concat, expectCode, pattern, rejection, tick } from "./helpers.js";

/** A source that returns the given chunks, then null; counts the bytes it handed out. */
class ChunkSource implements ReadSource {
  pulled = 0;
  reads = 0;
  private i = 0;
  constructor(private readonly chunks: Uint8Array[], private readonly end: Error | null = null) {}
  async read(): Promise<Uint8Array | null> {
    this.reads++;
    const c = this.chunks[this.i++];
    if (c === undefined) {
      if (this.end !== null) throw this.end;
      return null;
    }
    this.pulled += c.length;
    return c;
  }
}

/** Cuts `bytes` at the given (sorted, deduplicated) positions. */
function cut(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) out.push(bytes.slice(prev, p));
    prev = p;
  }
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("FlowReader", () => {
  it("readExactly decodes length-prefixed records (DNS over TCP framing) whatever the chunking", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 15 }), fc.array(fc.nat(5000), { maxLength: 40 }), async (records, cuts) => {
        const wire = concat(records.flatMap((r) => [Uint8Array.of(r.length >> 8, r.length & 255), r]));
        const reader = new FlowReader(new ChunkSource(cut(wire, cuts)));
        const got: Uint8Array[] = [];
        for (let i = 0; i < records.length; i++) {
          const len = await reader.readExactly(2);
          got.push(Uint8Array.from(await reader.readExactly((len[0]! << 8) | len[1]!)));
        }
        expect(await reader.read()).toBeNull();
        expect(got).toEqual(records);
      }),
    );
  });

  it("readUntil splits on a multi-byte delimiter across chunk boundaries", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom("a", "b", "\r", "\n", "é"), maxLength: 40 }).filter((s) => !s.includes("\r\n") && !s.endsWith("\r")), { maxLength: 12 }),
        fc.array(fc.nat(600), { maxLength: 30 }),
        async (lines, cuts) => {
          const wire = enc.encode(lines.map((l) => l + "\r\n").join(""));
          const reader = new FlowReader(new ChunkSource(cut(wire, cuts)));
          const got: string[] = [];
          for (let i = 0; i < lines.length; i++) got.push(dec.decode(await reader.readUntil("\r\n", 1000)));
          expect(got).toEqual(lines);
          expect(await reader.read()).toBeNull();
        },
      ),
    );
  });

  it("results are views of the received chunk when they lie in one chunk, one copy otherwise", async () => {
    const a = enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY");
    const reader = new FlowReader(new ChunkSource([a, enc.encode("MORE")]));
    const head = await reader.readUntil("\r\n\r\n", 100);
    expect(head.buffer).toBe(a.buffer);
    expect(dec.decode(head)).toBe("GET / HTTP/1.1\r\nHost: x");
    const body = await reader.readExactly(8); // "BODY" + "MORE": spans two chunks
    expect(dec.decode(body)).toBe("BODYMORE");
    expect(body.buffer).not.toBe(a.buffer);
  });

  it("readUntil without the delimiter within maxBytes fails with EMSGSIZE, holding at most maxBytes plus one chunk", async () => {
    const chunks = Array.from({ length: 1000 }, (_, i) => pattern(100, i).map((b) => (b === 10 ? 11 : b)));
    const src = new ChunkSource(chunks);
    const reader = new FlowReader(src);
    const err = await rejection(reader.readUntil(10, 4096));
    expect(err).toBeInstanceOf(LimitExceededError);
    expectCode(err, "EMSGSIZE");
    expect((err as LimitExceededError).limit).toBe(4096);
    expect(src.pulled).toBeLessThanOrEqual(4096 + 100);
    expect(reader.buffered).toBe(src.pulled); // nothing consumed
  });

  it("a delimiter found but ending past maxBytes is a limit error too; one ending exactly at it is fine", async () => {
    const r1 = new FlowReader(new ChunkSource([enc.encode("abcd\r\n")]));
    expectCode(await rejection(r1.readUntil("\r\n", 5)), "EMSGSIZE");
    const r2 = new FlowReader(new ChunkSource([enc.encode("abcd\r\n")]));
    expect(dec.decode(await r2.readUntil("\r\n", 6))).toBe("abcd");
  });

  it("readAll returns everything up to maxBytes and fails with EMSGSIZE beyond, without pulling on", async () => {
    const data = pattern(5000, 3);
    expect(await new FlowReader(new ChunkSource(cut(data, [700, 1400, 4000]))).readAll(5000)).toEqual(data);
    const src = new ChunkSource(Array.from({ length: 100 }, (_, i) => pattern(1000, i)));
    const err = await rejection(new FlowReader(src).readAll(4500));
    expectCode(err, "EMSGSIZE");
    expect(src.pulled).toBeLessThanOrEqual(4500 + 1000);
  });

  it("the end of stream in the middle of readExactly is an UnexpectedEndError (ERR_STREAM_PREMATURE_CLOSE) that consumes nothing", async () => {
    const reader = new FlowReader(new ChunkSource([Uint8Array.of(1, 2, 3)]));
    const err = await rejection(reader.readExactly(10));
    expect(err).toBeInstanceOf(UnexpectedEndError);
    expectCode(err, "ERR_STREAM_PREMATURE_CLOSE");
    expect((err as UnexpectedEndError).received).toBe(3);
    expect((err as UnexpectedEndError).expected).toBe(10);
    expect(reader.ended).toBe(true);
    expect([...(await reader.read())!]).toEqual([1, 2, 3]);
    expect(await reader.read()).toBeNull();
    expectCode(await rejection(reader.readUntil("x", 10)), "ERR_STREAM_PREMATURE_CLOSE");
    expect(await reader.readAll(10)).toEqual(new Uint8Array(0));
  });

  it("the source's errors pass through unchanged (a reset flow)", async () => {
    const [a, b] = flowPair();
    const reader = new FlowReader(b);
    await a.write(enc.encode("partial line"));
    a.abort();
    const err = await rejection(reader.readUntil("\n", 100));
    expectCode(err, "ECONNRESET");
    expect(err).not.toBeInstanceOf(UnexpectedEndError);
    const boom = new MorganaError("ETIMEDOUT");
    expect(await rejection(new FlowReader(new ChunkSource([], boom)).readExactly(1))).toBe(boom);
  });

  it("calls are served one at a time in call order", async () => {
    const [a, b] = flowPair();
    const reader = new FlowReader(b);
    const p1 = reader.readExactly(3);
    const p2 = reader.readUntil(";", 10);
    const p3 = reader.readAtMost(2);
    const p4 = reader.readAll(100);
    await tick();
    await a.write(enc.encode("abcde"));
    await a.write(enc.encode("f;ghi"));
    await a.shutdown();
    expect(dec.decode(await p1)).toBe("abc");
    expect(dec.decode(await p2)).toBe("def");
    expect(dec.decode((await p3)!)).toBe("gh");
    expect(dec.decode(await p4)).toBe("i");
  });

  it("skip discards across chunks; read returns the rest of the current chunk first", async () => {
    const reader = new FlowReader(new ChunkSource([pattern(10, 1), pattern(10, 2), pattern(10, 3)]));
    await reader.skip(15);
    expect(await reader.read()).toEqual(pattern(10, 2).subarray(5));
    expect(await reader.readAtMost(4)).toEqual(pattern(10, 3).subarray(0, 4));
    const err = await rejection(reader.skip(100));
    expect(err).toBeInstanceOf(UnexpectedEndError);
    expect((err as UnexpectedEndError).received).toBe(6);
  });

  it("argument errors are EINVAL", async () => {
    const reader = new FlowReader(new ChunkSource([]));
    expect(() => reader.readExactly(-1)).toThrow(MorganaError);
    expect(() => reader.readUntil("", 10)).toThrow(/empty/);
    expect(() => reader.readUntil(300, 10)).toThrow(MorganaError);
    expect(() => reader.readAll(Number.NaN)).toThrow(MorganaError);
    expectCode(await rejection(reader.readAtMost(0)), "EINVAL");
  });
});
