/**
 * The URL of a request as the platform serialises it (`new URL(u).href`),
 * without running the URL parser in the common case: a lower-case host
 * name or dotted-quad address with an optional port, and an origin-form
 * target whose characters the URL parser leaves as they are. Anything else
 * (upper case, IDNA, other IPv4 forms, dot segments, characters the parser
 * percent-encodes, ...) returns null and the caller uses `URL`.
 */

/** `http://host[:port]` as `URL` serialises it, or null when the host is not in the simple form. */
export function simpleOrigin(host: string): string | null {
  const n = host.length;
  const colon = host.indexOf(":");
  if (colon === 0) return null;
  const end = colon < 0 ? n : colon;
  if (!simpleHostName(host, end)) return null;
  if (colon < 0) return "http://" + host;
  // Port: 1-5 digits, no leading zero, at most 65535; the default port 80 is dropped.
  const plen = n - colon - 1;
  if (plen < 1 || plen > 5 || host.charCodeAt(colon + 1) === 0x30) return null;
  let port = 0;
  for (let i = colon + 1; i < n; i++) {
    const c = host.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
    port = port * 10 + (c - 0x30);
  }
  if (port > 65535) return null;
  if (port === 80) return "http://" + host.slice(0, colon);
  return "http://" + host;
}

/** A lower-case reg-name whose last label starts with a letter, or a canonical dotted quad. */
function simpleHostName(h: string, end: number): boolean {
  if (end === 0 || end > 253) return false;
  const first = h.charCodeAt(0);
  if (first >= 0x30 && first <= 0x39) return dottedQuad(h, end);
  let labelStart = 0;
  for (let i = 0; i <= end; i++) {
    const c = i === end ? 0x2e : h.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - labelStart;
      if (len === 0 || len > 63) return false;
      // Punycode labels are validated (and may be refused) by the URL parser.
      if (len >= 4 && h.charCodeAt(labelStart + 2) === 0x2d && h.charCodeAt(labelStart + 3) === 0x2d && h.startsWith("xn", labelStart)) return false;
      if (i === end) {
        // A last label that starts with a digit could be a number (the IPv4 parser would run).
        const lc = h.charCodeAt(labelStart);
        return lc >= 0x61 && lc <= 0x7a;
      }
      labelStart = i + 1;
    } else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d)) {
      return false;
    }
  }
  return false;
}

function dottedQuad(h: string, end: number): boolean {
  let parts = 0;
  let i = 0;
  while (i < end) {
    const start = i;
    let v = 0;
    while (i < end) {
      const c = h.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || v > 255 || (len > 1 && h.charCodeAt(start) === 0x30)) return false;
    parts++;
    if (i === end) break;
    if (h.charCodeAt(i) !== 0x2e || parts === 4) return false;
    i++;
    if (i === end) return false;
  }
  return parts === 4;
}

// Bytes an origin-form target may hold for the URL parser to keep it as it is:
// VCHAR except " # ' < > [ \ ] ^ ` { | } (percent-encoded, a delimiter, or
// left out to be safe). 1: fine in the path and the query.
const TARGET_SAFE = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) TARGET_SAFE[c] = 1;
for (const c of "\"#'<>[\\]^`{|}") TARGET_SAFE[c.charCodeAt(0)] = 0;

/**
 * `origin + target` when the URL parser would serialise it unchanged: an
 * origin-form target of safe characters whose path has no dot segment
 * (no `/.` and no `%2e`); else null.
 */
export function simpleHref(origin: string, target: string): string | null {
  const n = target.length;
  if (n === 0 || target.charCodeAt(0) !== 0x2f) return null;
  let inPath = true;
  for (let i = 0; i < n; i++) {
    const c = target.charCodeAt(i);
    if (c >= 128 || TARGET_SAFE[c] !== 1) return null;
    if (inPath) {
      if (c === 0x3f) inPath = false;
      else if (c === 0x2e && target.charCodeAt(i - 1) === 0x2f) return null;
      else if (c === 0x25 && target.charCodeAt(i + 1) === 0x32 && (target.charCodeAt(i + 2) | 0x20) === 0x65) return null;
    }
  }
  return origin + target;
}
