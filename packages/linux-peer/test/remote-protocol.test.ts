import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MorganaError } from "@morgana/interfaces";
import { encodeHead, FrameReader, fromWireError, toWireError, type Frame } from "../src/remote-protocol.js";

function frameBytes(header: Record<string, unknown>, payload: Uint8Array): Uint8Array {
  const head = encodeHead(header, payload.length);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

describe("remote-stack frames", () => {
  it("any sequence of frames, cut into chunks anywhere, comes out whole and in order", () => {
    const frame = fc.record({
      header: fc.record({ t: fc.constantFrom("c", "r", "o"), id: fc.nat(), m: fc.string() }),
      payload: fc.uint8Array({ maxLength: 300 }),
    });
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (frames, cuts) => {
        const parts = frames.map((f) => frameBytes(f.header, f.payload));
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) (all.set(p, o), (o += p.length));
        const reader = new FrameReader();
        const got: Frame[] = [];
        let off = 0;
        for (let i = 0; off < all.length; i++) {
          const n = cuts[i % cuts.length]!;
          got.push(...reader.push(all.slice(off, off + n)));
          off += n;
        }
        expect(got.map((f) => f.header)).toEqual(frames.map((f) => f.header));
        expect(got.map((f) => [...f.payload])).toEqual(frames.map((f) => [...f.payload]));
        for (const f of got) expect(Object.getPrototypeOf(f.payload)).toBe(Uint8Array.prototype);
        expect(reader.frames).toBe(frames.length);
        expect(reader.bytes).toBe(all.length);
      }),
    );
  });

  it("a payload inside one chunk is a view of it (no copy); the views of two frames do not overlap", () => {
    const a = frameBytes({ id: 1 }, new Uint8Array([1, 2, 3]));
    const b = frameBytes({ id: 2 }, new Uint8Array([4, 5]));
    const chunk = new Uint8Array(a.length + b.length);
    chunk.set(a);
    chunk.set(b, a.length);
    const [fa, fb] = new FrameReader().push(chunk);
    expect(fa!.payload.buffer).toBe(chunk.buffer);
    expect(fb!.payload.buffer).toBe(chunk.buffer);
    expect(fa!.payload.byteOffset + fa!.payload.length).toBeLessThanOrEqual(fb!.payload.byteOffset);
    expect([...fb!.payload]).toEqual([4, 5]);
  });

  it("non-finite numbers cross as their text, so the other side rejects them as the local stack would", () => {
    const [f] = new FrameReader().push(frameBytes({ a: { port: Number.NaN, timeoutMs: Number.POSITIVE_INFINITY } }, new Uint8Array(0)));
    expect(f!.header).toEqual({ a: { port: "NaN", timeoutMs: "Infinity" } });
  });

  it("a frame length beyond the limit or below 4 is a protocol error", () => {
    expect(() => new FrameReader().push(new Uint8Array([0x7f, 0xff, 0xff, 0xff]))).toThrow(/bad frame length/);
    expect(() => new FrameReader().push(new Uint8Array([0, 0, 0, 2]))).toThrow(/bad frame length/);
    expect(() => new FrameReader().push(new Uint8Array([0, 0, 0, 4, 0, 0, 0, 9]))).toThrow(/header length/);
  });
});

describe("errors across the pipe", () => {
  it("keeps code, message, errno, syscall, address, port and the cause's code", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:80"), { code: "ECONNREFUSED" });
    const original = new MorganaError("ECONNREFUSED", undefined, { syscall: "connect", address: "10.0.0.1", port: 80, cause });
    const back = fromWireError(JSON.parse(JSON.stringify(toWireError(original))) as ReturnType<typeof toWireError>);
    expect(back).toBeInstanceOf(MorganaError);
    expect(back).toMatchObject({ code: "ECONNREFUSED", errno: -111, syscall: "connect", address: "10.0.0.1", port: 80, message: original.message });
    expect((back.cause as { code?: string }).code).toBe("ECONNREFUSED");
  });

  it("an errno outside the interfaces' table survives; an error without a code becomes EIO", () => {
    const odd = Object.assign(new Error("x"), { code: "ENOTSOCK", errno: -88, syscall: "read" });
    expect(fromWireError(toWireError(odd))).toMatchObject({ code: "ENOTSOCK", errno: -88, syscall: "read" });
    const plain = fromWireError(toWireError(new TypeError("boom")));
    expect(plain).toMatchObject({ code: "EIO" });
    expect(plain.message).toContain("boom");
  });

  it("a local cause (an abort signal's reason) replaces the remote one", () => {
    const reason = new Error("stop");
    const e = fromWireError({ code: "ABORT_ERR", message: "The operation was aborted", syscall: "connect", cause: { message: "remote" } }, reason);
    expect(e.code).toBe("ABORT_ERR");
    expect(e.cause).toBe(reason);
  });
});
