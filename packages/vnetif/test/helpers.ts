import { expect } from "vitest";
import { isMorganaError, writeMac, type Clock, type MacAddress, type Netif } from "@morgana/interfaces";

export const BROADCAST = 0xffff_ffff_ffff as MacAddress;

/** An Ethernet frame: dst, src, EtherType 0x88b5 (local experimental) and the payload. */
export function frame(dst: number, src: number, payload: Uint8Array | number = 46, etherType = 0x88b5): Uint8Array {
  const body = typeof payload === "number" ? new Uint8Array(payload) : payload;
  const f = new Uint8Array(14 + body.length);
  writeMac(f, 0, dst as MacAddress);
  writeMac(f, 6, src as MacAddress);
  f[12] = etherType >>> 8;
  f[13] = etherType & 0xff;
  f.set(body, 14);
  return f;
}

/** A frame whose payload starts with a 32-bit sequence number. */
export function seqFrame(dst: number, src: number, seq: number, payloadLength = 46): Uint8Array {
  const body = new Uint8Array(Math.max(4, payloadLength));
  new DataView(body.buffer).setUint32(0, seq);
  return frame(dst, src, body);
}

export function seqOf(f: Uint8Array): number {
  return new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(14);
}

/** Transmits a copy of `bytes`. */
export function send(netif: Netif, bytes: Uint8Array): boolean {
  return netif.transmit(bytes.length, (b) => {
    b.set(bytes);
    return bytes.length;
  });
}

export interface Received {
  frame: Uint8Array;
  at: number;
}

/** Installs a handler that records every frame with the clock time. */
export function collect(netif: Netif, clock: Clock): Received[] {
  const got: Received[] = [];
  netif.listen((f) => got.push({ frame: f, at: clock.now() }));
  return got;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Number of differing bits between two equal-length arrays. */
export function bitDistance(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    let x = a[i]! ^ b[i]!;
    while (x !== 0) {
      d += x & 1;
      x >>>= 1;
    }
  }
  return d;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Asserts that `f` throws a MorganaError with code EINVAL. */
export function expectEinval(f: () => unknown): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(isMorganaError(err, "EINVAL"), String(err)).toBe(true);
}

/** True when two arrays share any byte of memory (frames may share a slab's ArrayBuffer, never bytes). */
export function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}
