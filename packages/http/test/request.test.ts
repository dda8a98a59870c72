/**
 * The handler's Request: the URL fast path (checked against the platform's
 * URL parser) and the lazily built Request (checked against a platform
 * Request built from the same parts), alone and through the server.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createServerRequest, lazyRequestsWork } from "../src/request.js";
import { simpleHref, simpleOrigin } from "../src/url.js";
import { harness } from "./server-helpers.js";

/** What the server computes for `http://host` + target without the fast path. */
function viaUrl(host: string, target: string): string | null {
  try {
    const u = new URL(target === "*" ? `http://${host}/` : `http://${host}${target}`);
    return u.href;
  } catch {
    return null;
  }
}

const hostChars = "abcxyz0123456789-.:AZ_%[]";
// Tokens rather than characters, so that dot segments and percent-encoded dots turn up often.
const targetTokens = ["/", "/", "a", "z", "0", "9", ".", "..", "%2e", "%2E", "%41", "%", "?", "=", "&", "-", "_", "~", "!", "$", "'", "(", ")", "*", "+", ",", ";", ":", "@", "#", '"', "<", ">", "[", "]", "\\", "^", "`", "{", "|", "}"];

describe("URL fast path", () => {
  it("gives new URL(...).href whenever it answers, for hosts and targets from a risky alphabet", () => {
    let answered = 0;
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: fc.constantFrom(...hostChars), minLength: 1, maxLength: 16 }), fc.constantFrom("h", "test", "127.0.0.1:8080", "a-b.example", "example.com:80")),
        fc.array(fc.constantFrom(...targetTokens), { maxLength: 12 }).map((t) => "/" + t.join("")),
        (host, target) => {
          const origin = simpleOrigin(host);
          if (origin === null) return;
          const fast = simpleHref(origin, target);
          if (fast === null) return;
          answered++;
          expect(fast).toBe(viaUrl(host, target));
        },
      ),
      { numRuns: 5000 },
    );
    expect(answered).toBeGreaterThan(500);
  });

  it("answers for the common forms and agrees with URL", () => {
    const cases: Array<[string, string]> = [
      ["127.0.0.1:8080", "/"],
      ["localhost:3000", "/api/items?id=7&sort=asc"],
      ["example.com", "/a/b/c.html"],
      ["example.com:80", "/x"],
      ["10.0.0.2", "/path%20with%41encoding?q=%2e"],
      ["a-b.example", "/~user/file;v=1"],
      ["255.255.255.255:65535", "/"],
    ];
    for (const [host, target] of cases) {
      const origin = simpleOrigin(host);
      expect(origin, host).not.toBeNull();
      expect(simpleHref(origin!, target), `${host}${target}`).toBe(viaUrl(host, target));
    }
  });

  it("declines what the URL parser would change or refuse", () => {
    for (const host of ["Example.com", "a.1", "a.0x1", "01.2.3.4", "1.2.3", "1.2.3.256", "xn--a", "a..b", "a.", ".a", "a:", "a:080", "a:65536", "a:0", "[::1]", "a_b", "a%41"]) {
      expect(simpleOrigin(host), host).toBeNull();
    }
    const origin = simpleOrigin("h")!;
    for (const target of ["/a/./b", "/a/../b", "/.", "/%2e/x", "/%2E%2e", "/a b", "/a\\b", "/a#f", "/{x}", "/a?'", "*", "http://h/"]) {
      expect(simpleHref(origin, target), target).toBeNull();
    }
  });
});

describe("lazy Request", () => {
  const parts = (over: Partial<Parameters<typeof createServerRequest>[0]> = {}) => ({
    method: "GET",
    url: "http://test/p?q=1",
    rawHeaders: ["Host", "test", "Accept", "a/b", "X-Dup", "1", "X-Dup", "2"],
    body: null,
    ...over,
  });

  it("is used on this platform", () => {
    expect(lazyRequestsWork()).toBe(true);
  });

  it("answers like a platform Request built from the same parts", async () => {
    const lazy = createServerRequest(parts());
    const real = new Request("http://test/p?q=1", { headers: [["Host", "test"], ["Accept", "a/b"], ["X-Dup", "1"], ["X-Dup", "2"]] });
    expect(lazy).toBeInstanceOf(Request);
    expect(lazy.constructor).toBe(Request);
    expect(Object.prototype.toString.call(lazy)).toBe("[object Request]");
    expect(Object.keys(lazy)).toEqual([]);
    expect(lazy.method).toBe(real.method);
    expect(lazy.url).toBe(real.url);
    expect(lazy.headers).toBeInstanceOf(Headers);
    expect([...lazy.headers]).toEqual([...real.headers]);
    expect(lazy.headers).toBe(lazy.headers);
    expect(lazy.body).toBeNull();
    expect(lazy.bodyUsed).toBe(false);
    expect(lazy.signal).toBeInstanceOf(AbortSignal);
    expect(lazy.signal.aborted).toBe(false);
    expect(lazy.signal).toBe(lazy.signal);
    for (const k of ["cache", "credentials", "destination", "integrity", "keepalive", "mode", "redirect", "referrer", "referrerPolicy", "isHistoryNavigation", "isReloadNavigation", "duplex"] as const) {
      expect((lazy as unknown as Record<string, unknown>)[k], k).toEqual((real as unknown as Record<string, unknown>)[k]);
    }
    expect(await lazy.text()).toBe("");
    // The platform takes it as a Request (undici reads its internal state).
    const copy = new Request(lazy);
    expect(copy.url).toBe(real.url);
    expect(copy.headers.get("x-dup")).toBe("1, 2");
  });

  it("keeps one Headers object and one signal before and after the platform Request is built", async () => {
    const lazy = createServerRequest(parts({ method: "POST", body: new Response("hello").body }));
    const h = lazy.headers;
    const s = lazy.signal;
    h.set("x-added", "yes");
    expect(await lazy.text()).toBe("hello");
    expect(lazy.bodyUsed).toBe(true);
    expect(lazy.headers).toBe(h);
    expect(lazy.signal).toBe(s);
    expect(new Request(lazy.url, { headers: lazy.headers }).headers.get("x-added")).toBe("yes");
  });

  it("clones with its body and current headers", async () => {
    const lazy = createServerRequest(parts({ method: "PUT", body: new Response('{"a":1}').body }));
    lazy.headers.set("content-type", "application/json");
    const c = lazy.clone();
    expect(c).toBeInstanceOf(Request);
    expect(c.method).toBe("PUT");
    expect(c.headers.get("content-type")).toBe("application/json");
    expect(await c.json()).toEqual({ a: 1 });
    expect(await lazy.json()).toEqual({ a: 1 });
  });

  it("reads bodies with every body method", async () => {
    const mk = (text: string) => createServerRequest(parts({ method: "POST", body: new Response(text).body }));
    expect(await mk("abc").text()).toBe("abc");
    expect(new Uint8Array(await mk("abc").arrayBuffer())).toEqual(new Uint8Array([97, 98, 99]));
    expect(await (await mk("abcd").blob()).text()).toBe("abcd");
    expect(await mk("[1,2]").json()).toEqual([1, 2]);
    const form = createServerRequest(parts({ method: "POST", rawHeaders: ["content-type", "application/x-www-form-urlencoded"], body: new Response("a=1&b=2").body }));
    expect((await form.formData()).get("b")).toBe("2");
  });
});

describe("through the server", () => {
  const GET = (target: string, host = "test"): string => `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

  it("gives the handler the URL the platform would (fast path and URL parser alike)", async () => {
    const urls: string[] = [];
    const h = harness({ handler: (req) => (urls.push(req.url), new Response("ok")) });
    const c = h.connect();
    const cases: Array<[string, string]> = [
      ["/a/b?c=d", "test"],
      ["/a/./b/../c", "test"],
      ["/%7e/{x}", "Test:80"],
      ["*", "example.com:8080"],
      ["/x", "127.1"],
      ["http://Other.example:81/y?z", "test"],
    ];
    for (const [target, host] of cases) {
      await c.request("GET", GET(target, host));
      expect((await c.reader.next()).status).toBe(200);
    }
    expect(urls).toEqual(cases.map(([t, host]) => (t.startsWith("http:") ? new URL(t).href : viaUrl(host, t))));
  });

  it("refuses what a platform Request refuses: credentials in the URL (400), TRACE (501), an unparsable host (400)", async () => {
    const statusOf = async (text: string): Promise<number> => {
      const h = harness({ handler: () => new Response("no"), parserOptions: { allowUnknownMethods: true } });
      const c = h.connect();
      await c.request("GET", text);
      return (await c.reader.next()).status;
    };
    expect(await statusOf("GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n")).toBe(400);
    expect(await statusOf("TRACE / HTTP/1.1\r\nHost: h\r\n\r\n")).toBe(501);
    expect(await statusOf("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n")).toBe(400);
    expect(await statusOf("GET / HTTP/1.1\r\nHost: 1.2.3.999\r\n\r\n")).toBe(400);
  });

  it("normalises the method as the platform does and hands over a Request the platform accepts", async () => {
    const seen: string[] = [];
    const h = harness({
      handler: async (req) => {
        const copy = new Request(req);
        seen.push(`${req.method} ${copy.method} ${req instanceof Request} ${await copy.text()}`);
        return new Response("ok");
      },
      parserOptions: { allowUnknownMethods: true },
    });
    const c = h.connect();
    await c.request("post", "post /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
    expect((await c.reader.next()).status).toBe(200);
    await c.request("PATCH", "PATCH /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nde");
    expect((await c.reader.next()).status).toBe(200);
    expect(seen).toEqual(["POST POST true abc", "PATCH PATCH true de"]);
  });

  it("with lenient header parsing, a field Headers refuses is a 400 before the handler", async () => {
    let called = 0;
    const h = harness({ handler: () => (called++, new Response("x")), parserOptions: { lenient: { headers: true } } });
    const c = h.connect();
    await c.request("GET", "GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n");
    expect((await c.reader.next()).status).toBe(400);
    expect(called).toBe(0);
  });
});
