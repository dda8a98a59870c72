/** Base64 and hex for presentation format (no Buffer: this runs in browsers). */
import { invalid } from "./errors.js";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VAL = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_VAL[B64.charCodeAt(i)] = i;

export function toBase64(b: Uint8Array): string {
  let s = "";
  let i = 0;
  for (; i + 3 <= b.length; i += 3) {
    const v = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += B64[v >> 18]! + B64[(v >> 12) & 63]! + B64[(v >> 6) & 63]! + B64[v & 63]!;
  }
  const rest = b.length - i;
  if (rest === 1) {
    const v = b[i]! << 16;
    s += B64[v >> 18]! + B64[(v >> 12) & 63]! + "==";
  } else if (rest === 2) {
    const v = (b[i]! << 16) | (b[i + 1]! << 8);
    s += B64[v >> 18]! + B64[(v >> 12) & 63]! + B64[(v >> 6) & 63]! + "=";
  }
  return s;
}

/** Decodes base64 (whitespace already removed). Throws EINVAL when malformed. */
export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw invalid("base64 length is not a multiple of 4");
  let pad = 0;
  if (text.endsWith("==")) pad = 2;
  else if (text.endsWith("=")) pad = 1;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = text.charCodeAt(i + k);
      let d: number;
      if (c === 0x3d && i + k >= text.length - pad) d = 0;
      else {
        d = c < 128 ? B64_VAL[c]! : -1;
        if (d < 0) throw invalid(`bad base64 character ${JSON.stringify(text[i + k])}`);
      }
      v = (v << 6) | d;
    }
    if (o < out.length) out[o++] = v >> 16;
    if (o < out.length) out[o++] = (v >> 8) & 255;
    if (o < out.length) out[o++] = v & 255;
  }
  return out;
}

const HEXU = "0123456789ABCDEF";
export function toHex(b: Uint8Array, upper = true): string {
  let s = "";
  for (const x of b) s += upper ? HEXU[x >> 4]! + HEXU[x & 15]! : (x >> 4).toString(16) + (x & 15).toString(16);
  return s;
}

export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0) throw invalid("odd number of hex digits");
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexVal(text.charCodeAt(2 * i));
    const lo = hexVal(text.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw invalid(`bad hex digit in ${JSON.stringify(text.slice(0, 40))}`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
