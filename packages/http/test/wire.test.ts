/**
 * The server's shortcuts through Node's Response internals give what the
 * public API gives: header fields as `Headers` iterates them, and the body of
 * a string or bytes Response only while its stream is untouched.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { knownBody, responseFields } from "../src/wire.js";

const names = ["content-type", "Content-Type", "x-a", "X-B", "x-b", "accept", "cookie", "vary", "etag", "a", "zz", "set-cookie"];

describe("responseFields", () => {
  it("equals the Headers iteration for any set of fields, and skips the iteration when there is no Set-Cookie", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...names), fc.stringMatching(/^[a-z0-9 ,;=]{0,8}$/)), { maxLength: 8 }),
        fc.constantFrom("text", "empty", "bytes"),
        (fields, kind) => {
          const res = new Response(kind === "text" ? "hello" : kind === "bytes" ? new Uint8Array(3) : null, { headers: fields });
          const got = responseFields(res);
          expect([...got]).toEqual([...res.headers]);
          const hasCookie = fields.some(([n]) => n.toLowerCase() === "set-cookie");
          // The fast path returns its own array; with Set-Cookie (or on other runtimes) the Headers object itself.
          expect(got === res.headers).toBe(hasCookie);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("sees fields changed after the Response was built", () => {
    const res = new Response("x", { headers: { "X-Late": "1" } });
    res.headers.append("x-late", "2");
    res.headers.set("a-first", "y");
    expect([...responseFields(res)]).toEqual([...res.headers]);
    expect([...responseFields(res)]).toEqual([
      ["a-first", "y"],
      ["content-type", "text/plain;charset=UTF-8"],
      ["x-late", "1, 2"],
    ]);
  });
});

describe("knownBody", () => {
  it("gives the source of a fresh string or bytes Response", () => {
    const t = new Response("héllo");
    expect(knownBody(t, t.body!)).toEqual({ text: "héllo", bytes: null, length: 6 });
    const bytes = Uint8Array.of(1, 2, 3);
    const b = new Response(bytes);
    expect(knownBody(b, b.body!)).toMatchObject({ text: null, length: 3 });
    expect(Array.from(knownBody(b, b.body!)!.bytes!)).toEqual([1, 2, 3]);
  });

  it("gives null once the stream was locked, read, cancelled or consumed, and for other bodies", async () => {
    const locked = new Response("a");
    locked.body!.getReader();
    expect(locked.body!.locked).toBe(true);
    expect(knownBody(locked, locked.body!)).toBeNull();

    const readOnce = new Response("abc");
    const r = readOnce.body!.getReader();
    await r.read();
    r.releaseLock();
    expect(readOnce.body!.locked).toBe(false);
    expect(readOnce.bodyUsed).toBe(true);
    expect(knownBody(readOnce, readOnce.body!)).toBeNull();

    const cancelled = new Response("abc");
    await cancelled.body!.cancel();
    expect(knownBody(cancelled, cancelled.body!)).toBeNull();

    const consumed = new Response("abc");
    await consumed.text();
    expect(knownBody(consumed, consumed.body!)).toBeNull();

    const stream = new Response(new ReadableStream({ start: (c) => (c.enqueue(Uint8Array.of(1)), c.close()) }));
    expect(knownBody(stream, stream.body!)).toBeNull();
    const blob = new Response(new Blob(["abc"]));
    expect(knownBody(blob, blob.body!)).toBeNull();
    // Not the Response's own body stream.
    const other = new Response("abc");
    expect(knownBody(other, new Response("abc").body!)).toBeNull();
  });
});
