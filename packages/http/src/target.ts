import { HttpParseError } from "./errors.js";

/**
 * A request-target split into its parts (RFC 9112 §3.2). Parts absent from
 * the target are absent from the object. `host` includes userinfo and port as
 * written (`user:pw@example.com:8080`, `[::1]:80`).
 */
export interface RequestTarget {
  readonly form: "origin" | "absolute" | "authority" | "asterisk";
  readonly schema?: string;
  readonly host?: string;
  readonly path?: string;
  readonly query?: string;
  readonly fragment?: string;
}

const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
// unreserved / sub-delims / pct-encoded / ":" — userinfo, reg-name and port characters.
const HOST_CHARS = "-._~!$&'()*+,;=:%";

function fail(offset: number, reason: string): HttpParseError {
  return new HttpParseError("HPE_INVALID_URL", offset, reason);
}

/**
 * Splits a request-target: origin-form (`/path?query#fragment`), absolute-form
 * (`http://host:port/path?query`), authority-form (`host:port`, only when
 * `method` is CONNECT) or asterisk-form (`*`). Throws {@link HttpParseError}
 * (`HPE_INVALID_URL`, offset into the target) for characters outside VCHAR,
 * a scheme not followed by `//`, a second `@`, bad host characters or
 * unbalanced IPv6 brackets.
 */
export function parseRequestTarget(target: string, method?: string): RequestTarget {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw fail(i, "invalid character in the request-target");
  }
  if (target.length === 0) throw fail(0, "empty request-target");
  if (method === "CONNECT") {
    checkHost(target, 0, target.length);
    return { form: "authority", host: target };
  }
  if (target === "*") return { form: "asterisk" };
  if (target.charCodeAt(0) === 0x2f) return { form: "origin", ...pathParts(target, 0) };
  // absolute-form: scheme "://" authority path-abempty [ "?" query ] [ "#" fragment ]
  let i = 0;
  if (!isAlpha(target.charCodeAt(0))) throw fail(0, "request-target is neither a path, an absolute URI, an authority nor *");
  while (i < target.length) {
    const c = target.charCodeAt(i);
    if (isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e) i++;
    else break;
  }
  const schema = target.slice(0, i);
  if (!target.startsWith("://", i)) throw fail(i, "unexpected character after the URI scheme (expected \"://\")");
  const hs = i + 3;
  let he = hs;
  while (he < target.length && !"/?#".includes(target[he]!)) he++;
  checkHost(target, hs, he);
  const host = target.slice(hs, he);
  return { form: "absolute", schema, host, ...pathParts(target, he) };
}

function checkHost(t: string, start: number, end: number): void {
  if (start === end) throw fail(start, "empty host in the request-target");
  let at = -1;
  let bracket = false;
  let closed = false;
  for (let i = start; i < end; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x40) {
      if (at >= 0) throw fail(i, "double @ in the request-target authority");
      if (bracket) throw fail(i, "@ inside an IPv6 literal");
      at = i;
    } else if (c === 0x5b) {
      if (bracket || closed) throw fail(i, "unexpected [ in the host");
      bracket = true;
    } else if (c === 0x5d) {
      if (!bracket) throw fail(i, "unbalanced ] in the host");
      bracket = false;
      closed = true;
    } else if (!(isAlpha(c) || isDigit(c) || HOST_CHARS.includes(t[i]!))) {
      throw fail(i, `invalid character ${JSON.stringify(t[i])} in the host`);
    }
  }
  if (bracket) throw fail(end, "unterminated IPv6 literal in the host");
}

function pathParts(t: string, from: number): { path?: string; query?: string; fragment?: string } {
  const out: { path?: string; query?: string; fragment?: string } = {};
  const hash = t.indexOf("#", from);
  const stop = hash < 0 ? t.length : hash;
  const q = t.indexOf("?", from);
  const qi = q >= 0 && q < stop ? q : -1;
  const pathEnd = qi >= 0 ? qi : stop;
  if (pathEnd > from) out.path = t.slice(from, pathEnd);
  if (qi >= 0) out.query = t.slice(qi + 1, stop);
  if (hash >= 0) out.fragment = t.slice(hash + 1);
  return out;
}
