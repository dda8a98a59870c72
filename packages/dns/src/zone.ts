/**
 * Zone files: the RFC 1035 §5 master format.
 *
 * `$ORIGIN`, `$TTL` (RFC 2308), `$INCLUDE` (off unless an `include` callback
 * is given; bounded depth), `@`, relative names, omitted owner / TTL / class,
 * parentheses across lines, `;` comments, quoted strings with `\DDD` and `\X`
 * escapes, RFC 3597 `\#` generic RDATA, and every typed type's presentation
 * format. Errors are {@link ZoneParseError}s with line and column.
 */
import { classCode, KNOWN_TYPE_NAME, typeCode } from "./constants.js";
import { MorganaError } from "@morgana/interfaces";
import { ZoneParseError } from "./errors.js";
import { resolveName } from "./name.js";
import { makeRecord, parseRdata, parseTtl, type Token } from "./text.js";
import type { DataRecord, RecordOf } from "./types.js";

export interface ZoneParseOptions {
  /** The initial origin (default: none; a relative name before `$ORIGIN` is an error). */
  readonly origin?: string;
  /** TTL for records without one when no `$TTL` or earlier TTL applies. */
  readonly defaultTtl?: number;
  /** Default class (default 1, IN). */
  readonly defaultClass?: number;
  /**
   * Enables `$INCLUDE`: returns the text of the named file, or undefined when
   * it cannot be read (an error at the directive). Absent: `$INCLUDE` is an error.
   */
  readonly include?: (path: string) => string | undefined;
  /** Nesting limit for `$INCLUDE` (default 8). */
  readonly maxIncludeDepth?: number;
  /** Most characters of text, all included files together (default 64 MiB). */
  readonly maxTextLength?: number;
  /** Most records (default 1,000,000). */
  readonly maxRecords?: number;
  /** Most characters in one entry, parentheses included (default 65,536). */
  readonly maxEntryLength?: number;
  /** The name reported in errors. */
  readonly fileName?: string;
}

export const ZONE_DEFAULTS = {
  maxIncludeDepth: 8,
  maxTextLength: 64 * 1024 * 1024,
  maxRecords: 1_000_000,
  maxEntryLength: 65_536,
} as const;

export interface ParsedZone {
  /** Every record in file order (the SOA included). */
  readonly records: DataRecord[];
  /** The first SOA record, if any. */
  readonly soa: RecordOf<"SOA"> | undefined;
  /** The origin at the end of the main file. */
  readonly origin: string | undefined;
}

interface Entry {
  readonly tokens: Token[];
  /** The entry started with whitespace: the owner is omitted. */
  readonly blankOwner: boolean;
  readonly line: number;
}

/** Splits presentation text into entries (logical lines) of tokens. */
export function* tokenize(text: string, maxEntryLength: number = ZONE_DEFAULTS.maxEntryLength, file?: string): Generator<Entry> {
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const len = text.length;
  const err = (reason: string, at = i): never => {
    throw new ZoneParseError(reason, line, at - lineStart + 1, file);
  };
  while (i < len) {
    // One entry.
    const entryLine = line;
    const entryStart = i;
    const blankOwner = text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09;
    const tokens: Token[] = [];
    let depth = 0;
    let openLine = 0;
    let openCol = 0;
    for (;;) {
      if (i - entryStart > maxEntryLength) err(`entry longer than ${maxEntryLength} characters`);
      if (i >= len) {
        if (depth > 0) throw new ZoneParseError("unclosed parenthesis", openLine, openCol, file);
        break;
      }
      const c = text.charCodeAt(i);
      if (c === 0x0a) {
        line++;
        i++;
        lineStart = i;
        if (depth === 0) break;
        continue;
      }
      if (c === 0x20 || c === 0x09 || c === 0x0d) {
        i++;
        continue;
      }
      if (c === 0x3b) {
        while (i < len && text.charCodeAt(i) !== 0x0a) i++;
        continue;
      }
      if (c === 0x28) {
        if (depth === 0) {
          openLine = line;
          openCol = i - lineStart + 1;
        }
        depth++;
        i++;
        continue;
      }
      if (c === 0x29) {
        if (depth === 0) err("unbalanced ')'");
        depth--;
        i++;
        continue;
      }
      const tokLine = line;
      const col = i - lineStart + 1;
      if (c === 0x22) {
        // A quoted string: escapes kept for tokenBytes, quotes removed.
        let s = "";
        i++;
        for (;;) {
          if (i >= len || text.charCodeAt(i) === 0x0a) err("unterminated quoted string");
          const d = text.charCodeAt(i);
          if (d === 0x22) {
            i++;
            break;
          }
          if (d === 0x5c) {
            if (i + 1 >= len) err("dangling backslash");
            s += text.slice(i, i + 2);
            i += 2;
            continue;
          }
          s += text[i];
          i++;
        }
        tokens.push({ text: s, quoted: true, line: tokLine, col });
        continue;
      }
      let s = "";
      while (i < len) {
        const d = text.charCodeAt(i);
        if (d === 0x20 || d === 0x09 || d === 0x0a || d === 0x0d || d === 0x3b || d === 0x28 || d === 0x29) break;
        if (d === 0x5c) {
          if (i + 1 >= len || text.charCodeAt(i + 1) === 0x0a) err("dangling backslash");
          s += text.slice(i, i + 2);
          i += 2;
          continue;
        }
        if (d === 0x22) {
          // key="quoted value" (SVCB): the quoted part joins the token.
          if (!s.endsWith("=")) err("quote inside a word");
          i++;
          for (;;) {
            if (i >= len || text.charCodeAt(i) === 0x0a) err("unterminated quoted string");
            const e = text.charCodeAt(i);
            if (e === 0x22) {
              i++;
              break;
            }
            if (e === 0x5c) {
              s += text.slice(i, i + 2);
              i += 2;
              continue;
            }
            // Characters special outside quotes are escaped to keep their meaning.
            s += e === 0x20 || e === 0x3b || e === 0x28 || e === 0x29 || e === 0x22 ? "\\" + text[i] : text[i];
            i++;
          }
          continue;
        }
        s += text[i];
        i++;
      }
      tokens.push({ text: s, quoted: false, line: tokLine, col });
    }
    if (tokens.length > 0) yield { tokens, blankOwner, line: entryLine };
  }
}

function isTtl(t: Token): boolean {
  return !t.quoted && /^\d/.test(t.text) && parseTtl(t.text) >= 0;
}

/**
 * Parses a zone file. Returns every record in file order; throws
 * {@link ZoneParseError} (with line and column) on the first error.
 */
export function parseZone(text: string, opts: ZoneParseOptions = {}): ParsedZone {
  const maxText = opts.maxTextLength ?? ZONE_DEFAULTS.maxTextLength;
  const maxRecords = opts.maxRecords ?? ZONE_DEFAULTS.maxRecords;
  const maxEntry = opts.maxEntryLength ?? ZONE_DEFAULTS.maxEntryLength;
  const maxDepth = opts.maxIncludeDepth ?? ZONE_DEFAULTS.maxIncludeDepth;
  const records: DataRecord[] = [];
  let soa: RecordOf<"SOA"> | undefined;
  let textTotal = 0;
  // State shared across included files (RFC 1035: the last owner, TTL and class carry on).
  let lastOwner: string | undefined;
  let lastTtl: number | undefined;
  let lastClass = opts.defaultClass ?? 1;
  let dollarTtl: number | undefined;

  const run = (src: string, originIn: string | undefined, depth: number, file: string | undefined): string | undefined => {
    textTotal += src.length;
    if (textTotal > maxText) throw new ZoneParseError(`zone text longer than ${maxText} characters`, 1, 1, file);
    let origin = originIn;
    for (const entry of tokenize(src, maxEntry, file)) {
      const toks = entry.tokens;
      const first = toks[0]!;
      const err = (tok: Token, reason: string): never => {
        throw new ZoneParseError(reason, tok.line, tok.col, file);
      };
      const name = (tok: Token, what: string): string => {
        if (origin === undefined && tok.text !== "." && !(tok.text.endsWith(".") && !tok.text.endsWith("\\."))) err(tok, `relative ${what} ${JSON.stringify(tok.text)} without an origin ($ORIGIN)`);
        try {
          return resolveName(tok.text, origin ?? ".");
        } catch (e) {
          return err(tok, `bad ${what} ${JSON.stringify(tok.text)}: ${(e as MorganaError).message}`);
        }
      };
      if (!entry.blankOwner && !first.quoted && first.text.startsWith("$")) {
        const directive = first.text.toUpperCase();
        if (directive === "$ORIGIN") {
          if (toks.length !== 2) err(first, "$ORIGIN takes one name");
          origin = name(toks[1]!, "origin");
        } else if (directive === "$TTL") {
          if (toks.length !== 2) err(first, "$TTL takes one TTL");
          const v = parseTtl(toks[1]!.text);
          if (v < 0) err(toks[1]!, `bad TTL ${JSON.stringify(toks[1]!.text)}`);
          dollarTtl = v;
        } else if (directive === "$INCLUDE") {
          if (opts.include === undefined) err(first, "$INCLUDE is disabled (pass an include callback to enable it)");
          if (toks.length < 2 || toks.length > 3) err(first, "$INCLUDE takes a file name and an optional origin");
          if (depth >= maxDepth) err(first, `$INCLUDE nested deeper than ${maxDepth}`);
          const path = toks[1]!.text;
          const sub = opts.include!(path);
          if (sub === undefined) err(toks[1]!, `cannot include ${JSON.stringify(path)}`);
          const subOrigin = toks.length === 3 ? name(toks[2]!, "origin") : origin;
          // The included file's $ORIGIN does not leak back (RFC 1035 §5.1).
          run(sub!, subOrigin, depth + 1, path);
        } else {
          err(first, `unsupported directive ${first.text}`);
        }
        continue;
      }
      // A record: [owner] [ttl] [class] type rdata, TTL and class in either order.
      let k = 0;
      let owner: string;
      if (entry.blankOwner) {
        if (lastOwner === undefined) err(first, "no owner name (the first record must name one)");
        owner = lastOwner!;
      } else {
        owner = name(first, "owner name");
        k = 1;
      }
      let ttl: number | undefined;
      let cls: number | undefined;
      for (let n = 0; n < 2 && k < toks.length; n++) {
        const t = toks[k]!;
        if (ttl === undefined && isTtl(t)) {
          ttl = parseTtl(t.text);
          k++;
        } else if (cls === undefined && !t.quoted && classCode(t.text) >= 0 && typeCode(t.text) < 0) {
          cls = classCode(t.text);
          k++;
        } else break;
      }
      const typeTok = toks[k];
      if (typeTok === undefined) err(toks[toks.length - 1]!, "missing type");
      const type = typeCode(typeTok!.text);
      if (type < 0 || typeTok!.quoted) err(typeTok!, `unknown type ${JSON.stringify(typeTok!.text)}`);
      if (ttl !== undefined) lastTtl = ttl;
      else ttl = dollarTtl ?? lastTtl ?? opts.defaultTtl;
      if (ttl === undefined) err(typeTok!, "no TTL: give one, or a $TTL directive, or the defaultTtl option");
      if (cls === undefined) cls = lastClass;
      lastClass = cls;
      lastOwner = owner;
      let data: DataRecord["data"];
      try {
        data = parseRdata(type, toks.slice(k + 1), origin ?? ".", typeTok!);
      } catch (e) {
        if (e instanceof ZoneParseError && file !== undefined && e.file === undefined) throw new ZoneParseError(e.reason, e.line, e.column, file);
        throw e;
      }
      if (records.length >= maxRecords) err(first, `more than ${maxRecords} records`);
      const rr = makeRecord(owner, type, cls, ttl!, data);
      if (KNOWN_TYPE_NAME[type] === "SOA" && soa === undefined) soa = rr as RecordOf<"SOA">;
      records.push(rr);
    }
    return origin;
  };
  const origin = run(text, opts.origin === undefined ? undefined : resolveName(opts.origin, "."), 0, opts.fileName);
  return { records, soa, origin };
}

/**
 * Parses one record in presentation format (`www 300 IN A 192.0.2.1`), with
 * names relative to `origin` (default: absolute names only).
 */
export function parseRecord(text: string, opts: { readonly origin?: string; readonly defaultTtl?: number } = {}): DataRecord {
  const z = parseZone(text, { ...opts, defaultTtl: opts.defaultTtl ?? 0 });
  if (z.records.length !== 1) throw new ZoneParseError(`expected one record, found ${z.records.length}`, 1, 1);
  return z.records[0]!;
}
