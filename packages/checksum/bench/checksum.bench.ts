import { figure, rate } from "@morgana/benchkit";
import { internetChecksum, referenceChecksum } from "../src/index.js";

// Throughput on a 64 KiB buffer (in cache) and on 1500-byte packets at the
// offset where an IP header starts in a frame (14: 2-byte aligned).
const big = new Uint8Array(64 * 1024).map((_, i) => (i * 2654435761) >>> 24);
const frame = new Uint8Array(1514).map((_, i) => i & 0xff);
let sink = 0;

figure("checksum", "throughput-64KiB", async () => {
  const ours = await rate(() => (sink ^= internetChecksum(big)), big.length);
  const ref = await rate(() => (sink ^= referenceChecksum(big)), big.length);
  return { unit: "GB/s", ours: ours / 1e9, reference: "byte-pair loop (RFC 1071 textbook)", referenceValue: ref / 1e9, note: "64 KiB buffer, in cache" };
});

figure("checksum", "throughput-1500B", async () => {
  const ours = await rate(() => (sink ^= internetChecksum(frame, 14)), 1500);
  const ref = await rate(() => (sink ^= referenceChecksum(frame, 14)), 1500);
  return { unit: "GB/s", ours: ours / 1e9, reference: "byte-pair loop (RFC 1071 textbook)", referenceValue: ref / 1e9, note: "1500-byte IP packet at frame offset 14" };
});
