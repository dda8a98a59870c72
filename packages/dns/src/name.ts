/**
 * Domain names as strings.
 *
 * A name is held in presentation format (RFC 1035 §5.1), fully qualified,
 * without the final dot: `www.example.com`, and `.` for the root. A decoded
 * name is canonical: letters keep their case, the bytes `. \ " ( ) ; @ $` are
 * escaped as `\.` etc., bytes outside 0x21-0x7e as `\DDD` (BIND's rules), so two
 * names are equal as DNS names exactly when their lower-cased canonical forms
 * are equal ({@link nameKey}).
 *
 * Names given to encoders may use any escaping, may end with a dot, and may
 * contain non-ASCII characters (taken as UTF-8 bytes).
 */
import { invalid } from "./errors.js";

/** The presentation text of each byte inside a label. */
export const BYTE_TEXT: readonly string[] = (() => {
  const t: string[] = [];
  for (let b = 0; b < 256; b++) {
    if (b <= 0x20 || b >= 0x7f) t.push("\\" + String(b).padStart(3, "0"));
    else if (b === 0x2e || b === 0x5c || b === 0x22 || b === 0x28 || b === 0x29 || b === 0x3b || b === 0x40 || b === 0x24) t.push("\\" + String.fromCharCode(b));
    else t.push(String.fromCharCode(b));
  }
  return t;
})();

/** 1 for bytes that stand for themselves in a label's text. */
export const PLAIN_BYTE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = BYTE_TEXT[b]!.length === 1 ? 1 : 0;
  return t;
})();

/** The canonical text of label bytes `buf[start..end)`. */
export function labelText(buf: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += BYTE_TEXT[buf[i]!]!;
  return s;
}

/** Maximum wire length of a name, including the root label (RFC 1035 §3.1). */
export const MAX_NAME_WIRE = 255;
export const MAX_LABEL = 63;

/**
 * Parses a presentation name (absolute; a final dot is optional) into its
 * wire labels. Throws EINVAL for empty labels, labels over 63 bytes, names
 * over 255 wire bytes, and bad escapes.
 */
export function nameLabels(name: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (name === "." || name === "") return out;
  const scratch = new Uint8Array(4 * name.length + 4);
  let n = 0;
  let total = 1;
  let i = 0;
  const len = name.length;
  while (i < len) {
    let c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (n === 0) throw invalid(`empty label in name ${JSON.stringify(name)}`);
      pushLabel();
      i++;
      if (i === len) break; // final dot
      continue;
    }
    if (c === 0x5c) {
      i++;
      if (i >= len) throw invalid(`dangling escape in name ${JSON.stringify(name)}`);
      c = name.charCodeAt(i);
      if (c >= 0x30 && c <= 0x39) {
        const d1 = name.charCodeAt(i + 1) - 0x30;
        const d2 = name.charCodeAt(i + 2) - 0x30;
        if (!(d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9)) throw invalid(`bad \\DDD escape in name ${JSON.stringify(name)}`);
        const v = (c - 0x30) * 100 + d1 * 10 + d2;
        if (v > 255) throw invalid(`\\DDD escape above 255 in name ${JSON.stringify(name)}`);
        scratch[n++] = v;
        i += 3;
        continue;
      }
    }
    if (c < 0x80) scratch[n++] = c;
    else n = utf8Char(name, i, scratch, n, () => i++);
    i++;
  }
  if (n > 0) pushLabel();
  return out;

  function pushLabel(): void {
    if (n > MAX_LABEL) throw invalid(`label longer than 63 bytes in name ${JSON.stringify(name.slice(0, 80))}`);
    total += n + 1;
    if (total > MAX_NAME_WIRE) throw invalid(`name longer than 255 bytes: ${JSON.stringify(name.slice(0, 80))}...`);
    out.push(scratch.slice(0, n));
    n = 0;
  }
}

/**
 * Writes the UTF-8 bytes of the character at `s[i]` (a surrogate pair
 * consumes two code units: `skip` is called for the second) into `out` at `n`.
 */
export function utf8Char(s: string, i: number, out: Uint8Array, n: number, skip: () => void): number {
  let cp = s.charCodeAt(i);
  if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length) {
    const lo = s.charCodeAt(i + 1);
    if (lo >= 0xdc00 && lo <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      skip();
    }
  }
  if (cp < 0x80) out[n++] = cp;
  else if (cp < 0x800) {
    out[n++] = 0xc0 | (cp >> 6);
    out[n++] = 0x80 | (cp & 63);
  } else if (cp < 0x10000) {
    out[n++] = 0xe0 | (cp >> 12);
    out[n++] = 0x80 | ((cp >> 6) & 63);
    out[n++] = 0x80 | (cp & 63);
  } else {
    out[n++] = 0xf0 | (cp >> 18);
    out[n++] = 0x80 | ((cp >> 12) & 63);
    out[n++] = 0x80 | ((cp >> 6) & 63);
    out[n++] = 0x80 | (cp & 63);
  }
  return n;
}

/** The canonical text of wire labels. */
export function labelsToName(labels: readonly Uint8Array[]): string {
  if (labels.length === 0) return ".";
  let s = "";
  for (let k = 0; k < labels.length; k++) {
    if (k > 0) s += ".";
    const l = labels[k]!;
    s += labelText(l, 0, l.length);
  }
  return s;
}

function isPlainName(name: string): boolean {
  // Letters, digits, '-', '_', '*', '/', and dots between non-empty labels: the
  // common case, already canonical if no label is over 63 and the length fits.
  const len = name.length;
  if (len === 0 || len > 253) return false;
  let labelLen = 0;
  for (let i = 0; i < len; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (labelLen === 0) return false;
      labelLen = 0;
      continue;
    }
    if (c > 0x7e || PLAIN_BYTE[c] !== 1) return false;
    if (++labelLen > MAX_LABEL) return false;
  }
  return labelLen > 0;
}

/**
 * The canonical form of a presentation name: no final dot, `.` for the root,
 * canonical escapes, case kept. Throws EINVAL for an invalid name.
 */
export function canonicalName(name: string): string {
  if (isPlainName(name)) return name;
  if (name.length > 1 && name.charCodeAt(name.length - 1) === 0x2e && name.charCodeAt(name.length - 2) !== 0x5c) {
    const t = name.slice(0, -1);
    if (isPlainName(t)) return t;
  }
  return labelsToName(nameLabels(name));
}

/** The comparison key of a name: canonical and lower-cased (ASCII only, as DNS compares). */
export function nameKey(name: string): string {
  return canonicalName(name).toLowerCase();
}

/** True when two names are the same DNS name (case-insensitive). */
export function namesEqual(a: string, b: string): boolean {
  return a === b || nameKey(a) === nameKey(b);
}

/** Index of the first unescaped dot in a canonical name at or after `from`, or -1. */
function nextDot(name: string, from: number): number {
  for (let i = from; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x2e) return i;
  }
  return -1;
}

/** The labels of a canonical name as canonical text (`[]` for the root). */
export function splitName(name: string): string[] {
  if (name === "." || name === "") return [];
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const d = nextDot(name, start);
    if (d < 0) {
      out.push(name.slice(start));
      return out;
    }
    out.push(name.slice(start, d));
    start = d + 1;
  }
}

/** The number of labels of a canonical name (0 for the root). */
export function labelCount(name: string): number {
  if (name === "." || name === "") return 0;
  let n = 1;
  for (let d = nextDot(name, 0); d >= 0; d = nextDot(name, d + 1)) n++;
  return n;
}

/** The parent of a canonical name (`.` for a top-level name); undefined for the root. */
export function parentName(name: string): string | undefined {
  if (name === "." || name === "") return undefined;
  const d = nextDot(name, 0);
  return d < 0 ? "." : name.slice(d + 1);
}

/** `label.parent` for canonical names. */
export function joinName(label: string, parent: string): string {
  return parent === "." || parent === "" ? label : `${label}.${parent}`;
}

/**
 * True when canonical `name` equals `zone` or is below it. Both must be in
 * the same case (use {@link nameKey} forms).
 */
export function isSubdomain(name: string, zone: string): boolean {
  if (zone === "." || zone === "") return true;
  if (name === zone) return true;
  if (name.length <= zone.length + 1 || !name.endsWith(zone)) return false;
  const dot = name.length - zone.length - 1;
  if (name.charCodeAt(dot) !== 0x2e) return false;
  // The dot must not be escaped: count the backslashes before it.
  let bs = 0;
  for (let i = dot - 1; i >= 0 && name.charCodeAt(i) === 0x5c; i--) bs++;
  return bs % 2 === 0;
}

/** The wire length of a name (1 for the root). */
export function nameWireLength(name: string): number {
  if (isPlainName(name)) return name.length + 2;
  const labels = nameLabels(name);
  let n = 1;
  for (const l of labels) n += l.length + 1;
  return n;
}

/** The uncompressed wire form of a name. */
export function nameToWire(name: string): Uint8Array {
  const labels = nameLabels(name);
  let n = 1;
  for (const l of labels) n += l.length + 1;
  const out = new Uint8Array(n);
  let o = 0;
  for (const l of labels) {
    out[o++] = l.length;
    out.set(l, o);
    o += l.length;
  }
  return out;
}

/**
 * A name as written in a zone file: `@` is the origin, a name without a final
 * (unescaped) dot is relative to `origin`. Returns the canonical form; throws
 * EINVAL for an invalid name.
 */
export function resolveName(text: string, origin: string): string {
  if (text === "@") return canonicalName(origin);
  if (text === ".") return ".";
  let bs = 0;
  for (let i = text.length - 2; i >= 0 && text.charCodeAt(i) === 0x5c; i--) bs++;
  const absolute = text.endsWith(".") && bs % 2 === 0;
  if (absolute) return canonicalName(text);
  if (origin === "." || origin === "") return canonicalName(text);
  return canonicalName(`${text}.${origin}`);
}

/** The name as it would be written relative to `origin` (for zone output), or absolute with a final dot. */
export function relativeName(name: string, origin: string): string {
  const k = name.toLowerCase();
  const o = origin.toLowerCase();
  if (k === o) return "@";
  if (o !== "." && isSubdomain(k, o)) return name.slice(0, name.length - origin.length - 1);
  return absoluteText(name);
}

/** A canonical name with its final dot, as presentation format writes absolute names. */
export function absoluteText(name: string): string {
  return name === "." || name === "" ? "." : name + ".";
}
