/**
 * Every class of /work/shared/reference/dns-http.md §2.5 ("what a hardened
 * HTTP/1.1 parser must reject"), on the parser with its strict defaults. Each
 * input is followed by a smuggled request (`GET /smuggled`); the test checks
 * the error code and that the smuggled request is never produced as a
 * message — fed whole and one byte at a time.
 */
import { describe, expect, it } from "vitest";
import { HttpParser } from "../src/index.js";
import { classes, type Case } from "./hardening-cases.js";
import { parse, parseBothWays } from "./helpers.js";

function check(c: Case): void {
  const kind = c.kind ?? "request";
  const r = parseBothWays(kind, c.input, c.finish === true ? { finish: true } : {});
  expect(r.error, `${c.name}: expected ${c.code}`).not.toBeNull();
  expect(r.error!.httpCode).toBe(c.code);
  expect(r.error!.code).toBe("EBADMSG");
  // Completed messages: a head may have been delivered for the message that
  // failed (an error in its body), but it never completes.
  const got = r.messages.filter((m) => m.complete).map((m) => (kind === "request" ? m.head.target : m.head.status));
  expect(got).toEqual(c.before ?? []);
  expect(r.messages.some((m) => m.head.target === "/smuggled")).toBe(false);
}

describe("hardening classes (dns-http.md §2.5)", () => {
  for (const [cls, cases] of Object.entries(classes)) {
    describe(cls, () => {
      for (const c of cases) it(c.name, () => check(c));
    });
  }

  it("11. a response without a length is read to EOF (finish completes it) and is not keep-alive", () => {
    const r = parseBothWays("response", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, world", { finish: true });
    expect(r.error).toBeNull();
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0]!.head.bodyKind).toBe("eof");
    expect(r.messages[0]!.head.keepAlive).toBe(false);
    expect(r.messages[0]!.body).toBe("hello, world");
    expect(r.messages[0]!.complete).toBe(true);
  });

  it("the classic CL.TE smuggle is one error, not two requests", () => {
    const attack = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\n";
    const r = parseBothWays("request", attack);
    expect(r.error?.httpCode).toBe("HPE_UNEXPECTED_CONTENT_LENGTH");
    expect(r.messages).toHaveLength(0);
  });

  it("after an error the parser is dead: later input re-throws the same error", () => {
    const r = parse("request", "GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n");
    expect(r.error).not.toBeNull();
    // The same parser: feed a valid request afterwards.
    const p = new HttpParser("request");
    expect(() => p.execute(new TextEncoder().encode("GET / HTTP/1.1\r\nX: \x01\r\n"))).toThrow();
    const first = p.failure;
    expect(() => p.execute(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))).toThrow(first!);
    expect(() => p.finish()).toThrow(first!);
  });
});
