/**
 * Every request-side hardening class of dns-http.md §2.5, end to end on the
 * server (the same inputs as the parser test, test/hardening-cases.ts): the
 * connection is answered with the error status the parser names
 * (400/413/414/431/501/505) and closed, and the smuggled request that follows
 * each input never reaches the handler. Each input is sent whole and in
 * small pieces.
 */
import { describe, expect, it } from "vitest";
import { statusForError } from "../src/index.js";
import { classes, type Case } from "./hardening-cases.js";
import { enc } from "./helpers.js";
import { harness } from "./server-helpers.js";

async function run(c: Case, pieces: number): Promise<void> {
  const seen: string[] = [];
  const h = harness({
    handler: async (req) => {
      seen.push(new URL(req.url).pathname);
      if (req.body !== null) await req.arrayBuffer(); // fails when the body is malformed
      return new Response("fine");
    },
  });
  const conn = h.connect();
  const bytes = enc(c.input);
  if (pieces === 0) {
    await conn.flow.write(bytes).catch(() => undefined);
  } else {
    for (let off = 0, k = 0; off < bytes.length && !conn.reader.finished; k++) {
      const n = 1 + ((k * 7 + pieces) % 13);
      await conn.flow.write(bytes.slice(off, off + n)).catch(() => undefined);
      off += n;
    }
  }
  if (c.finish === true) await conn.flow.shutdown().catch(() => undefined);
  const responses = await conn.reader.end();
  await conn.flow.close();
  await h.clock.advance(5000); // lingering close
  await conn.done;

  expect(seen).not.toContain("/smuggled");
  for (const b of c.before ?? []) expect(seen).toContain(b);
  const statuses = responses.map((r) => r.status);
  const before = (c.before ?? []).map(() => 200);
  if (c.code === "HPE_CLOSED_CONNECTION") {
    // The server stops reading after a message that closes the connection: the rest is never parsed.
    expect(statuses).toEqual(before);
  } else {
    expect(statuses).toEqual([...before, statusForError(c.code)]);
    const last = responses[responses.length - 1]!;
    expect(last.head.get("connection")).toBe("close");
  }
  // Closed: the reader saw the end of stream, and the server holds no connection.
  expect(conn.reader.finished).toBe(true);
  expect(h.server.connections).toBe(0);
}

describe("hardening classes end to end on the server (dns-http.md §2.5)", () => {
  for (const [cls, cases] of Object.entries(classes)) {
    const requests = cases.filter((c) => (c.kind ?? "request") === "request");
    if (requests.length === 0) continue;
    describe(cls, () => {
      for (const c of requests) {
        it(`${c.name}: ${c.code === "HPE_CLOSED_CONNECTION" ? "not parsed" : statusForError(c.code)}, closed, smuggled request unseen (whole and in pieces)`, async () => {
          await run(c, 0);
          await run(c, 3);
        });
      }
    });
  }

  it("the classic CL.TE smuggle gets one 400 and the handler sees nothing", async () => {
    const seen: string[] = [];
    const h = harness({ handler: (req) => (seen.push(req.url), new Response("x")) });
    const c = h.connect();
    await c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\n");
    const r = await c.reader.end();
    expect(r.map((x) => x.status)).toEqual([400]);
    expect(seen).toEqual([]);
    expect(h.server.stats().drops["bad-request:HPE_UNEXPECTED_CONTENT_LENGTH"]).toBe(1);
  });
});
