import { figure, rate } from "@morgana/benchkit";
import type { Ipv4Address } from "@morgana/interfaces";
import { decodeIpv4, encodeIpv4Header } from "../src/index.js";

// IPv4 header encode + decode, checksum computed on encode and verified on
// decode, of 1500-byte datagrams (the payload is not touched by either side:
// the header checksum covers the header only). The reference is the
// straightforward DataView version below.

const SIZE = 1500;
const ours = new Uint8Array(SIZE);
const theirs = new Uint8Array(SIZE);
const src = 0x0a4d0001 as Ipv4Address;
const dst = 0x0a4d0002 as Ipv4Address;
let sink = 0;
let id = 0;

function oursOnce(): void {
  id = (id + 1) & 0xffff;
  encodeIpv4Header(ours, 0, { totalLength: SIZE, id, flags: { dontFragment: true }, ttl: 64, protocol: 17, src, dst });
  const h = decodeIpv4(ours);
  if (!h.checksumValid) throw new Error("bad checksum");
  sink ^= h.id ^ h.payload.length ^ h.src ^ (h.flags.dontFragment ? 1 : 0);
}

interface RefHeader {
  version: number;
  headerLength: number;
  tos: number;
  totalLength: number;
  id: number;
  flags: { reserved: boolean; dontFragment: boolean; moreFragments: boolean };
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  checksumValid: boolean;
  src: number;
  dst: number;
  options: Uint8Array;
  payload: Uint8Array;
}

function refChecksum(v: DataView, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function refEncode(buf: Uint8Array, f: { totalLength: number; id: number; df: boolean; ttl: number; protocol: number; src: number; dst: number }): void {
  const v = new DataView(buf.buffer, buf.byteOffset, 20);
  v.setUint8(0, 0x45);
  v.setUint8(1, 0);
  v.setUint16(2, f.totalLength);
  v.setUint16(4, f.id);
  v.setUint16(6, f.df ? 0x4000 : 0);
  v.setUint8(8, f.ttl);
  v.setUint8(9, f.protocol);
  v.setUint16(10, 0);
  v.setUint32(12, f.src);
  v.setUint32(16, f.dst);
  v.setUint16(10, refChecksum(v, 20));
}

function refDecode(buf: Uint8Array): RefHeader {
  if (buf.length < 20) throw new Error("short");
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const vihl = v.getUint8(0);
  if (vihl >> 4 !== 4) throw new Error("version");
  const hl = (vihl & 15) * 4;
  if (hl < 20 || hl > buf.length) throw new Error("header length");
  const total = v.getUint16(2);
  if (total < hl || total > buf.length) throw new Error("total length");
  const ff = v.getUint16(6);
  return {
    version: 4,
    headerLength: hl,
    tos: v.getUint8(1),
    totalLength: total,
    id: v.getUint16(4),
    flags: { reserved: (ff & 0x8000) !== 0, dontFragment: (ff & 0x4000) !== 0, moreFragments: (ff & 0x2000) !== 0 },
    fragmentOffset: (ff & 0x1fff) * 8,
    ttl: v.getUint8(8),
    protocol: v.getUint8(9),
    checksum: v.getUint16(10),
    checksumValid: refChecksum(new DataView(buf.buffer, buf.byteOffset, hl), hl) === 0,
    src: v.getUint32(12),
    dst: v.getUint32(16),
    options: buf.subarray(20, hl),
    payload: buf.subarray(hl, total),
  };
}

function referenceOnce(): void {
  id = (id + 1) & 0xffff;
  refEncode(theirs, { totalLength: SIZE, id, df: true, ttl: 64, protocol: 17, src, dst });
  const h = refDecode(theirs);
  if (!h.checksumValid) throw new Error("bad checksum");
  sink ^= h.id ^ h.payload.length ^ h.src ^ (h.flags.dontFragment ? 1 : 0);
}

figure("ipv4", "encode-decode", async () => {
  const batch = 1000;
  const o = await rate(() => {
    for (let i = 0; i < batch; i++) oursOnce();
  }, batch);
  const r = await rate(() => {
    for (let i = 0; i < batch; i++) referenceOnce();
  }, batch);
  if (sink === 0.5) console.log(sink);
  return {
    unit: "datagrams/s",
    ours: o,
    reference: "DataView encode/decode with a 16-bit-word checksum loop",
    referenceValue: r,
    note: "1500-byte datagrams, 20-byte header: encode with checksum, then decode with checksum verification",
  };
});
