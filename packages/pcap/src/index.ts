/**
 * @morgana/pcap — capture files for Morgana.
 *
 * - {@link readCapture} / {@link records}: read classic pcap (both byte orders,
 *   microsecond and nanosecond) and pcapng (SHB, IDB, EPB, SPB, obsolete PB;
 *   other blocks skipped), with zero-copy record data and a typed
 *   {@link PcapError} for every corrupt or truncated input.
 * - {@link PcapWriter}: write classic little-endian pcap to a sink or to memory.
 * - {@link withPcap}: a Netif middleware that records every frame sent and received.
 *
 * Browser-safe. File helpers for Node are in `@morgana/pcap/node`.
 */
export { PcapError, type PcapErrorKind } from "./errors.js";
export {
  readCapture,
  records,
  detectFormat,
  CaptureReader,
  DEFAULT_MAX_RECORD_LENGTH,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_MAGIC_NANOSECONDS,
  PCAPNG_SECTION_HEADER,
  BLOCK_INTERFACE_DESCRIPTION,
  BLOCK_PACKET_OBSOLETE,
  BLOCK_SIMPLE_PACKET,
  BLOCK_ENHANCED_PACKET,
  type Capture,
  type CaptureInterface,
  type CaptureSection,
  type PcapFileHeader,
  type PcapRecord,
  type ReadOptions,
  type ReadCaptureOptions,
  type Timestamp,
  type TimestampResolution,
} from "./read.js";
export { PcapWriter, DEFAULT_SNAPLEN, LINKTYPE_ETHERNET, type PcapWriterOptions } from "./write.js";
export { withPcap, type CapturingNetif, type PcapCaptureOptions, type PcapCaptureStats } from "./capture.js";
