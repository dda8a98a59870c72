/**
 * tshark's `-T json` output repeats keys inside one object (two `dns.txt` of
 * one TXT record, `ip.addr` twice), which JSON.parse collapses. This reader
 * keeps every entry, in document order.
 */
import { readFileSync } from "node:fs";

export type Json = string | number | boolean | null | Json[] | JsonEntries;
/** A JSON object as its entries in order, duplicate keys kept. */
export interface JsonEntries {
  readonly entries: [string, Json][];
}

/** Parses JSON text, keeping duplicate object keys (objects become `{ entries }`). */
export function parseJsonWithDuplicates(text: string): Json {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  };
  const value = (): Json => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const entries: [string, Json][] = [];
      ws();
      if (text[i] === "}") {
        i++;
        return { entries };
      }
      for (;;) {
        ws();
        const k = value() as string;
        ws();
        if (text[i++] !== ":") throw new SyntaxError(`expected ':' at ${i - 1}`);
        entries.push([k, value()]);
        ws();
        const end = text[i++];
        if (end === "}") return { entries };
        if (end !== ",") throw new SyntaxError(`expected ',' or '}' at ${i - 1}`);
      }
    }
    if (c === "[") {
      i++;
      const arr: Json[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        const end = text[i++];
        if (end === "]") return arr;
        if (end !== ",") throw new SyntaxError(`expected ',' or ']' at ${i - 1}`);
      }
    }
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const s = JSON.parse(text.slice(i, j + 1)) as string;
      i = j + 1;
      return s;
    }
    const m = /^(-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null)/.exec(text.slice(i, i + 40));
    if (m === null) throw new SyntaxError(`unexpected ${JSON.stringify(text.slice(i, i + 10))} at ${i}`);
    i += m[0].length;
    return JSON.parse(m[0]) as Json;
  };
  return value();
}

/** Every string value of every key under `node`, in document order (keys may repeat). */
export function jsonFields(node: Json, out = new Map<string, string[]>()): Map<string, string[]> {
  if (Array.isArray(node)) for (const v of node) jsonFields(v, out);
  else if (node !== null && typeof node === "object") {
    for (const [k, v] of node.entries) {
      if (typeof v === "string") {
        const list = out.get(k);
        if (list === undefined) out.set(k, [v]);
        else list.push(v);
      } else jsonFields(v, out);
    }
  }
  return out;
}

/** The frames of a NAME.tshark.json file: for each, every field's string values in document order. */
export function tsharkFrameFields(path: string): Map<string, string[]>[] {
  const doc = parseJsonWithDuplicates(readFileSync(path, "utf8"));
  if (!Array.isArray(doc)) throw new Error(`${path}: not a tshark -T json array`);
  return doc.map((frame) => {
    const source = (frame as JsonEntries).entries.find(([k]) => k === "_source")?.[1] as JsonEntries | undefined;
    const layers = source?.entries.find(([k]) => k === "layers")?.[1];
    return layers === undefined ? new Map() : jsonFields(layers);
  });
}
