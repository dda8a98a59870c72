import { QDTEXT, QPAIR, TCHAR } from "./chars.js";
import { HttpParseError } from "./errors.js";

/**
 * Splits the raw chunk extensions that `onChunkHeader` reports
 * (`";name=value;flag;q=\"quoted\""`) into `[name, value]` pairs. Values are
 * returned as received: a token, or a quoted-string with its quotes and
 * backslashes (see {@link unquote}); an extension without `=` has value `""`.
 * Throws {@link HttpParseError} (`HPE_INVALID_CHUNK_EXTENSION`) for text the
 * parser would not have accepted.
 */
export function parseChunkExtensions(raw: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  const n = raw.length;
  const bad = (why: string): HttpParseError => new HttpParseError("HPE_INVALID_CHUNK_EXTENSION", i, why);
  const code = (k: number): number => {
    const c = raw.charCodeAt(k);
    return c > 255 ? 0 : c;
  };
  while (i < n) {
    if (raw[i] !== ";") throw bad(`expected ";" in chunk extensions`);
    i++;
    const ns = i;
    while (i < n && TCHAR[code(i)] === 1) i++;
    if (i === ns) throw bad("empty chunk-extension name");
    const name = raw.slice(ns, i);
    if (i < n && raw[i] === "=") {
      i++;
      const vs = i;
      if (i < n && raw[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) throw bad("unterminated quoted-string in chunk extensions");
          const c = code(i);
          if (c === 0x22) break;
          if (c === 0x5c) {
            if (i + 1 >= n || QPAIR[code(i + 1)] !== 1) throw bad("invalid quoted-pair in chunk extensions");
            i += 2;
          } else if (QDTEXT[c] === 1) i++;
          else throw bad("invalid character in a quoted chunk-extension value");
        }
        i++;
      } else {
        while (i < n && TCHAR[code(i)] === 1) i++;
        if (i === vs) throw bad("empty chunk-extension value");
      }
      out.push([name, raw.slice(vs, i)]);
    } else {
      out.push([name, ""]);
    }
  }
  return out;
}

/** The content of a quoted-string (`"a \"b\""` → `a "b"`); other strings are returned unchanged. */
export function unquote(value: string): string {
  if (value.length < 2 || value[0] !== '"' || value[value.length - 1] !== '"') return value;
  let out = "";
  for (let i = 1; i < value.length - 1; i++) {
    if (value[i] === "\\" && i + 1 < value.length - 1) i++;
    out += value[i];
  }
  return out;
}
