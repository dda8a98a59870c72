import { expect } from "vitest";
import { DnsDecodeError } from "../src/index.js";

export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHexString(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** Runs `f`, expecting a DnsDecodeError; returns it. */
export function decodeError(f: () => unknown): DnsDecodeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DnsDecodeError);
    return e as DnsDecodeError;
  }
  throw new Error("expected a DnsDecodeError");
}

/** A 12-byte header with the given counts. */
export function header(qd: number, an = 0, ns = 0, ar = 0, id = 0x1234, flags = 0x0100): number[] {
  return [id >> 8, id & 255, flags >> 8, flags & 255, qd >> 8, qd & 255, an >> 8, an & 255, ns >> 8, ns & 255, ar >> 8, ar & 255];
}

/** Wire labels for a plain dotted name. */
export function wireName(name: string): number[] {
  const out: number[] = [];
  if (name !== ".") for (const l of name.split(".")) out.push(l.length, ...[...l].map((c) => c.charCodeAt(0)));
  out.push(0);
  return out;
}
