/** Byte classes of RFC 9110/9112 as 256-entry lookup tables (1 = member). */

export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HTAB = 9;

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}

const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** tchar (RFC 9110 §5.6.2): field names, methods, transfer codings, chunk-extension names. */
export const TCHAR = table((c) => isAlnum(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));

/** Field-name bytes under `lenient.headers`: anything but ':' and line ends (bytes >= 0x80 marked 2). */
export const NAME_LENIENT = table2((c) => c !== 0x3a && c !== CR && c !== LF);

/**
 * Tables used while scanning text that becomes a string mark allowed bytes
 * >= 0x80 with 2 instead of 1, so the scanner knows whether the text is
 * ASCII (decoded natively) or needs the byte-exact latin1 path.
 */
function table2(pred: (c: number) => boolean): Uint8Array {
  const t = table(pred);
  for (let c = 0x80; c < 256; c++) if (t[c] === 1) t[c] = 2;
  return t;
}

/** field-value bytes: SP, HTAB, VCHAR and obs-text (RFC 9110 §5.5). obs-text is marked 2. */
export const VALUE_STRICT = table2((c) => c === SP || c === HTAB || (c >= 0x21 && c <= 0x7e) || c >= 0x80);

/** `lenient.headerValueRelaxed`: control characters too, except NUL, CR and LF. */
export const VALUE_RELAXED = table2((c) => c !== 0 && c !== CR && c !== LF);

/** `lenient.headers`: everything except CR and LF. */
export const VALUE_LENIENT = table2((c) => c !== CR && c !== LF);

/** request-target bytes: VCHAR (no SP, no CTL, no DEL, no obs-text). */
export const TARGET = table((c) => c >= 0x21 && c <= 0x7e);

/** reason-phrase bytes: HTAB, SP, VCHAR, obs-text. */
export const REASON = VALUE_STRICT;

/** qdtext of a quoted-string: HTAB, SP, '!', '#'..'[', ']'..'~', obs-text (marked 2). */
export const QDTEXT = table2((c) => c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80);

/** The byte after a backslash in a quoted-pair: HTAB, SP, VCHAR, obs-text (non-zero). */
export const QPAIR = VALUE_STRICT;

/** Hex digit values; 255 for non-digits. */
export const HEX = (() => {
  const t = new Uint8Array(256).fill(255);
  for (let c = 0x30; c <= 0x39; c++) t[c] = c - 0x30;
  for (let c = 0x41; c <= 0x46; c++) t[c] = c - 0x41 + 10;
  for (let c = 0x61; c <= 0x66; c++) t[c] = c - 0x61 + 10;
  return t;
})();

const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });
const SCRATCH: number[] = [];
type Latin1Slice = (this: Uint8Array, s: number, e: number) => string;
/**
 * Node's native latin1 decoder, which takes any Uint8Array (a flow hands out
 * plain views, not Buffers). Looked up on the global, not imported, so this
 * module still runs in browsers (where it is undefined).
 */
const NODE_LATIN1: Latin1Slice | undefined = (() => {
  const f = (globalThis as { Buffer?: { prototype?: { latin1Slice?: unknown } } }).Buffer?.prototype?.latin1Slice;
  return typeof f === "function" ? (f as Latin1Slice) : undefined;
})();

/**
 * Bytes to a string, one character per byte (ISO-8859-1), as Node's `latin1`
 * encoding does. Field values may contain obs-text; this keeps them
 * byte-exact (`TextDecoder("latin1")` is windows-1252 and is not). Pass
 * `ascii` when every byte is below 0x80: the native UTF-8 decoder is then
 * exact and much faster than building the string in JavaScript.
 */
export function latin1(b: Uint8Array, start: number, end: number, ascii = false): string {
  const n = end - start;
  if (n <= 0) return "";
  // Node's Buffer (what node:net hands out) has a native latin1 decoder: the
  // fastest path, and exact for every byte. Detected, not imported, so this
  // module still runs in browsers.
  const slice = (b as { latin1Slice?: Latin1Slice }).latin1Slice ?? NODE_LATIN1;
  if (slice !== undefined && n > 12) return slice.call(b, start, end);
  if (n <= 12) {
    // Short strings: cheaper than crossing into native code.
    const t = SCRATCH;
    t.length = n;
    for (let i = 0; i < n; i++) t[i] = b[start + i]!;
    return String.fromCharCode.apply(null, t);
  }
  if (ascii) return UTF8.decode(b.subarray(start, end));
  let out = "";
  const t = SCRATCH;
  for (let i = start; i < end; i += 4096) {
    const e = Math.min(end, i + 4096);
    t.length = e - i;
    for (let k = i; k < e; k++) t[k - i] = b[k]!;
    out += String.fromCharCode.apply(null, t);
  }
  return out;
}

/** True for a string that is a non-empty token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** Strips leading and trailing SP/HTAB (OWS). */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === HTAB)) a++;
  while (b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === HTAB)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
