/**
 * Loader for the llhttp markdown test suite (nodejs/llhttp `test/`, MIT) in
 * /work/shared/suites/llhttp: a fence scanner instead of markdown-it, the
 * input normalisation of llhttp's md-test.ts, and a reader for the expected
 * log that turns it into a model of the parse (messages, outcome).
 */
import { readdirSync, readFileSync } from "node:fs";

export const SUITE_DIR = process.env["LLHTTP_SUITE_DIR"] !== undefined
  ? new URL(`file://${process.env["LLHTTP_SUITE_DIR"].replace(/\/?$/, "/")}`)
  : new URL("../../../../../shared/suites/llhttp/", import.meta.url);

export interface Meta {
  type?: string;
  pause?: string;
  skipBody?: boolean;
  noScan?: boolean;
  skip?: boolean;
  only?: boolean;
}

export interface SuiteCase {
  /** `request/sample.md › Simple request` (plus ` #n` when a heading repeats). */
  name: string;
  file: string;
  heading: string;
  meta: Meta;
  fence: "http" | "url";
  /** The input after md-test.ts normalisation, as bytes (the string is UTF-8 encoded, like Buffer.from). */
  input: Uint8Array;
  /** The log lines, `\t`/`\f` expanded. */
  log: string[];
}

/** Every case of one markdown file. */
export function loadFile(rel: string): SuiteCase[] {
  const text = readFileSync(new URL(rel, SUITE_DIR), "utf8");
  const lines = text.split("\n");
  const out: SuiteCase[] = [];
  let heading = "";
  let meta: Meta | null = null;
  let pendingInput: { fence: "http" | "url"; body: string; meta: Meta; heading: string } | null = null;
  const seen = new Map<string, number>();
  let i = 0;
  // Setext title on the first lines, or "# ": the file group, not a test heading.
  while (i < lines.length) {
    const line = lines[i]!;
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    if (h !== null) {
      if (h[1]!.length >= 2) heading = h[2]!.trim();
      i++;
      continue;
    }
    if (i + 1 < lines.length && /^(=+|-+)\s*$/.test(lines[i + 1]!) && line.trim() !== "" && !line.startsWith("```")) {
      // Setext heading: "===" is level 1 (the file title), "---" level 2.
      if (lines[i + 1]!.startsWith("-")) heading = line.trim();
      i += 2;
      continue;
    }
    const m = /^<!--\s*meta=(\{.*\})\s*-->\s*$/.exec(line);
    if (m !== null) {
      meta = JSON.parse(m[1]!) as Meta;
      i++;
      continue;
    }
    const f = /^```(\w*)\s*$/.exec(line);
    if (f !== null) {
      const lang = f[1]!;
      const body: string[] = [];
      i++;
      while (i < lines.length && !/^```\s*$/.test(lines[i]!)) body.push(lines[i++]!);
      i++; // closing fence
      const content = body.map((l) => l + "\n").join("");
      if (lang === "http" || lang === "url") {
        pendingInput = { fence: lang, body: content, meta: meta ?? {}, heading };
        meta = null;
      } else if (lang === "log" && pendingInput !== null) {
        const base = `${rel} › ${pendingInput.heading}`;
        const k = (seen.get(base) ?? 0) + 1;
        seen.set(base, k);
        out.push({
          name: k === 1 ? base : `${base} #${k}`,
          file: rel,
          heading: pendingInput.heading,
          meta: pendingInput.meta,
          fence: pendingInput.fence,
          input: new TextEncoder().encode(normaliseInput(pendingInput.body)),
          log: parseLogText(content),
        });
        pendingInput = null;
      }
      continue;
    }
    i++;
  }
  return out;
}

/** Every case of the suite: request/*.md, response/*.md, url.md. */
export function loadSuite(): SuiteCase[] {
  const out: SuiteCase[] = [];
  for (const dir of ["request", "response"]) {
    for (const f of readdirSync(new URL(`${dir}/`, SUITE_DIR)).sort()) {
      if (f.endsWith(".md")) out.push(...loadFile(`${dir}/${f}`));
    }
  }
  out.push(...loadFile("url.md"));
  return out;
}

/** md-test.ts input normalisation, in its order. */
export function normaliseInput(s: string): string {
  s = s.replace(/\n$/, "");
  s = s.replace(/\\(\r\n|\r|\n)/g, "");
  s = s.replace(/\r\n|\r|\n/g, "\r\n");
  s = s.replace(/\\r/g, "\r");
  s = s.replace(/\\n/g, "\n");
  s = s.replace(/\\t/g, "\t");
  s = s.replace(/\\f/g, "\f");
  s = s.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  s = s.replace(/\\([0-7]{1,3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
  return s;
}

function parseLogText(content: string): string[] {
  const s = content.replace(/\\t/g, "\t").replace(/\\f/g, "\f");
  const lines = s.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

// ---- the model of a parse ----

export interface MessageModel {
  method: string;
  url: string;
  version: string;
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  /** Per header: its value was folded (several value spans): compare with whitespace collapsed. */
  folded: boolean[];
  headersComplete: boolean;
  body: string;
  chunks: Array<{ size: number; ext: Array<[string, string]> }>;
  trailers: Array<[string, string]>;
  complete: boolean;
}

export type End = "ok" | "error" | "upgrade";

export interface ParseModel {
  messages: MessageModel[];
  end: End;
  /** llhttp's error code for `error`/`upgrade` (22 upgrade, 23 HTTP/2 preface). */
  code?: number;
  reason?: string;
  /** For `upgrade`: the offset where the unparsed bytes begin. */
  offset?: number;
  /** `*-finish` cases: 0 safe, 1 safe with a callback, 2 unsafe. */
  finish?: number;
}

export function newMessage(): MessageModel {
  return {
    method: "",
    url: "",
    version: "",
    status: 0,
    reason: "",
    headers: [],
    folded: [],
    headersComplete: false,
    body: "",
    chunks: [],
    trailers: [],
    complete: false,
  };
}

/** UTF-8 text of the log → the latin1 string of its bytes (our parser's strings are latin1). */
function bytesString(s: string): string {
  const b = new TextEncoder().encode(s);
  let out = "";
  for (const x of b) out += String.fromCharCode(x);
  return out;
}

const OWS = /^[ \t]+|[ \t]+$/g;

/** Reads an http case's expected log into the model. */
export function expectedModel(log: string[]): ParseModel {
  const model: ParseModel = { messages: [], end: "ok" };
  let msg: MessageModel | null = null;
  let field = "";
  let valueParts: string[] = [];
  let extName = "";
  let extPending: Array<[string, string]> = [];
  let extValue = "";
  let inTrailers = false;
  for (const line of log) {
    let m: RegExpExecArray | null;
    if ((m = /^off=\d+ len=\d+ span\[([\w.]+)\]=(?:"(.*)"|(cr|lf))$/.exec(line)) !== null) {
      const name = m[1]!;
      const text = m[3] === "cr" ? "\r" : m[3] === "lf" ? "\n" : bytesString(m[2]!);
      if (msg === null) throw new Error(`span outside a message: ${line}`);
      switch (name) {
        case "method":
          msg.method += text;
          break;
        case "url":
          msg.url += text;
          break;
        case "version":
          msg.version += text;
          break;
        case "status":
          msg.reason += text;
          break;
        case "header_field":
          field += text;
          break;
        case "header_value":
          valueParts.push(text);
          break;
        case "body":
          msg.body += text;
          break;
        case "chunk_extension_name":
          extName += text;
          break;
        case "chunk_extension_value":
          extValue += text;
          break;
        case "protocol":
          break;
        default:
          throw new Error(`unknown span ${name}`);
      }
      continue;
    }
    if ((m = /^off=\d+ message begin$/.exec(line)) !== null) {
      msg = newMessage();
      model.messages.push(msg);
      inTrailers = false;
      field = "";
      valueParts = [];
      continue;
    }
    if ((m = /^off=\d+ header_value complete$/.exec(line)) !== null) {
      const folded = valueParts.length > 1;
      let value = valueParts.join("");
      value = folded ? value.replace(/[ \t]+/g, " ").replace(OWS, "") : value.replace(OWS, "");
      if (inTrailers) msg!.trailers.push([field, value]);
      else {
        msg!.headers.push([field, value]);
        msg!.folded.push(folded);
      }
      field = "";
      valueParts = [];
      continue;
    }
    if ((m = /^off=\d+ chunk_extension_name complete$/.exec(line)) !== null) {
      extPending.push([extName, ""]);
      extName = "";
      continue;
    }
    if ((m = /^off=\d+ chunk_extension_value complete$/.exec(line)) !== null) {
      extPending[extPending.length - 1]![1] = extValue;
      extValue = "";
      continue;
    }
    if ((m = /^off=\d+ headers complete (?:method=\d+|status=(\d+)) v=(\d+)\/(\d+) flags=[0-9a-f]+ content_length=\d+$/.exec(line)) !== null) {
      msg!.headersComplete = true;
      msg!.version = `${m[2]}.${m[3]}`;
      if (m[1] !== undefined) msg!.status = Number(m[1]);
      continue;
    }
    if ((m = /^off=\d+ chunk header len=(\d+)$/.exec(line)) !== null) {
      const size = Number(m[1]);
      msg!.chunks.push({ size, ext: extPending });
      extPending = [];
      if (size === 0) inTrailers = true;
      continue;
    }
    if (/^off=\d+ message complete$/.test(line)) {
      msg!.complete = true;
      continue;
    }
    if ((m = /^off=(\d+) error code=(\d+) reason="(.*)"$/.exec(line)) !== null) {
      const code = Number(m[2]);
      model.code = code;
      model.reason = m[3]!;
      if (code === 22 || code === 23) {
        model.end = "upgrade";
        model.offset = Number(m[1]);
      } else {
        model.end = "error";
      }
      continue;
    }
    if ((m = /^off=NULL finish=(\d)$/.exec(line)) !== null) {
      model.finish = Number(m[1]);
      continue;
    }
    if (/^off=\d+ (reset|pause|skip body|\w+ complete)$/.test(line)) continue;
    throw new Error(`unrecognised log line: ${line}`);
  }
  return model;
}

/** For url.md cases: the expected URL parts, or an error. */
export function expectedUrl(log: string[]): { parts: Record<string, string>; error: boolean } {
  const parts: Record<string, string> = {};
  let error = false;
  for (const line of log) {
    let m: RegExpExecArray | null;
    if ((m = /^off=\d+ len=\d+ span\[url\.(\w+)\]="(.*)"$/.exec(line)) !== null) parts[m[1]!] = (parts[m[1]!] ?? "") + m[2]!;
    else if (/^off=\d+ error code=\d+ reason=".*"$/.test(line)) error = true;
    else throw new Error(`unrecognised url log line: ${line}`);
  }
  return { parts, error };
}
