/**
 * The request methods the parser knows: the HTTP methods of llhttp (RFC 9110,
 * WebDAV, CalDAV, UPnP, PATCH, PURGE, LINK/UNLINK, SOURCE, PRI, QUERY). Any
 * other token is rejected with `HPE_INVALID_METHOD` unless the parser runs
 * with `allowUnknownMethods`. Known methods come back as interned constant
 * strings, so parsing a method allocates nothing.
 */
export const KNOWN_METHODS: readonly string[] = [
  "DELETE", "GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "TRACE",
  "COPY", "LOCK", "MKCOL", "MOVE", "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK",
  "BIND", "REBIND", "UNBIND", "ACL", "REPORT", "MKACTIVITY", "CHECKOUT", "MERGE",
  "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH", "PURGE", "MKCALENDAR",
  "LINK", "UNLINK", "SOURCE", "PRI", "QUERY",
];

/** Candidates by length: [bytes, string] pairs. */
const BY_LENGTH: Array<Array<[Uint8Array, string]>> = [];
for (const m of KNOWN_METHODS) {
  const bytes = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) bytes[i] = m.charCodeAt(i);
  (BY_LENGTH[m.length] ??= []).push([bytes, m]);
}

/** The interned method string for `buf[start..end)`, or undefined when it is not a known method. */
export function matchMethod(buf: Uint8Array, start: number, end: number): string | undefined {
  const cands = BY_LENGTH[end - start];
  if (cands === undefined) return undefined;
  outer: for (let k = 0; k < cands.length; k++) {
    const [bytes, name] = cands[k]!;
    for (let i = 0; i < bytes.length; i++) if (buf[start + i] !== bytes[i]) continue outer;
    return name;
  }
  return undefined;
}
