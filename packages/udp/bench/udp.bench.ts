/**
 * UDP codec throughput: encode a datagram in place (header, payload copy,
 * checksum with the pseudo-header), then decode it and verify its checksum,
 * as the send and receive paths do.
 *
 * Ours: encodeUdpInto + decodeUdp + verifyUdpChecksum (@morgana/checksum's
 * 32-bit word sums). Reference: the straightforward version, written here: a
 * DataView for the header fields and the textbook byte-pair checksum loop
 * (RFC 1071) over the pseudo-header and the datagram.
 */
import { figure, rate } from "@morgana/benchkit";
import { parseIpv4, type Ipv4Address } from "@morgana/interfaces";
import { decodeUdp, encodeUdpInto, verifyUdpChecksum } from "../src/index.js";

const SRC = parseIpv4("10.77.0.1");
const DST = parseIpv4("10.77.0.2");
const BATCH = 64;
let sink = 0;

// ---- the reference --------------------------------------------------------------------

function byteSum(sum: number, b: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i += 2) {
    sum += (b[i]! << 8) + (i + 1 < end ? b[i + 1]! : 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return sum;
}

function pseudoSum(src: number, dst: number, len: number): number {
  let sum = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 + len;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function refEncode(buf: Uint8Array, srcPort: number, dstPort: number, payload: Uint8Array, src: number, dst: number): number {
  const len = 8 + payload.length;
  const dv = new DataView(buf.buffer, buf.byteOffset, len);
  dv.setUint16(0, srcPort);
  dv.setUint16(2, dstPort);
  dv.setUint16(4, len);
  dv.setUint16(6, 0);
  buf.set(payload, 8);
  const c = ~byteSum(pseudoSum(src, dst, len), buf, 0, len) & 0xffff;
  dv.setUint16(6, c === 0 ? 0xffff : c);
  return len;
}

function refDecode(buf: Uint8Array, src: number, dst: number): { srcPort: number; dstPort: number; length: number; checksum: number; payload: Uint8Array; ok: boolean } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const length = dv.getUint16(4);
  if (buf.length < 8 || length < 8 || length > buf.length) throw new Error("bad datagram");
  const checksum = dv.getUint16(6);
  const ok = checksum === 0 || byteSum(pseudoSum(src, dst, length), buf, 0, length) === 0xffff;
  return { srcPort: dv.getUint16(0), dstPort: dv.getUint16(2), length, checksum, payload: buf.subarray(8, length), ok };
}

// ---- the measurements -----------------------------------------------------------------

function setup(size: number) {
  const payloads = Array.from({ length: BATCH }, (_, k) => new Uint8Array(size).map((_, i) => (i * 31 + k) & 0xff));
  // Datagrams sit at offset 34 of a frame buffer (14 Ethernet + 20 IP), as in the send path.
  const frame = new Uint8Array(34 + 8 + size);
  const out = frame.subarray(34);
  return { payloads, out };
}

function ours(payloads: Uint8Array[], out: Uint8Array, src: Ipv4Address, dst: Ipv4Address): void {
  for (let k = 0; k < BATCH; k++) {
    encodeUdpInto(out, 0, { srcPort: 40000, dstPort: 53, payload: payloads[k]! }, src, dst);
    const d = decodeUdp(out);
    if (!verifyUdpChecksum(out, src, dst)) throw new Error("checksum");
    sink ^= d.checksum ^ d.payload.length;
  }
}

function reference(payloads: Uint8Array[], out: Uint8Array, src: number, dst: number): void {
  for (let k = 0; k < BATCH; k++) {
    refEncode(out, 40000, 53, payloads[k]!, src, dst);
    const d = refDecode(out, src, dst);
    if (!d.ok) throw new Error("checksum");
    sink ^= d.checksum ^ d.payload.length;
  }
}

for (const size of [64, 1472]) {
  figure("udp", `encode-decode-${size}B`, async () => {
    const { payloads, out } = setup(size);
    // Both sides must agree on the bytes before they are timed.
    const check = new Uint8Array(out.length);
    encodeUdpInto(out, 0, { srcPort: 40000, dstPort: 53, payload: payloads[0]! }, SRC, DST);
    refEncode(check, 40000, 53, payloads[0]!, SRC, DST);
    if (out.some((b, i) => b !== check[i])) throw new Error("ours and the reference encode differently");
    const o = await rate(() => ours(payloads, out, SRC, DST), BATCH);
    const r = await rate(() => reference(payloads, out, SRC, DST), BATCH);
    return {
      unit: "datagrams/s",
      ours: o,
      reference: "DataView header + byte-pair checksum (RFC 1071 textbook)",
      referenceValue: r,
      note: `${size}-byte payload at frame offset 34: encode in place (copy + checksum), decode, verify; sink ${sink & 1}`,
    };
  });
}
