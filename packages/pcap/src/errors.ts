import { DecodeError } from "@morgana/interfaces";

/**
 * Why a capture file was rejected. `reason` in {@link PcapError} is the human
 * text; `kind` is the stable, machine-checkable category.
 */
export type PcapErrorKind =
  /** The file starts with no known magic number, or an SHB has a bad byte-order magic. */
  | "bad-magic"
  /** A classic pcap major version other than 2, or a pcapng section major version other than 1. */
  | "unsupported-version"
  /** The file (or a section) ends inside the classic global header or the first block header. */
  | "truncated-header"
  /** The file ends inside a 16-byte classic record header. */
  | "truncated-record-header"
  /** A classic record's captured length runs past the end of the file. */
  | "truncated-record"
  /** A captured length above the reader's `maxRecordLength`. */
  | "record-too-large"
  /** The file ends inside a pcapng block's type and length fields. */
  | "truncated-block-header"
  /** A pcapng block total length that is not a multiple of 4 or is below the block type's minimum. */
  | "bad-block-length"
  /** A pcapng block whose total length runs past the end of the file. */
  | "truncated-block"
  /** A pcapng block whose trailing total length differs from the leading one. */
  | "length-mismatch"
  /** A pcapng packet's data (captured length, padded) does not fit inside its block. */
  | "record-beyond-block"
  /** A pcapng packet block names an interface that no IDB of the section described. */
  | "unknown-interface"
  /** A pcapng option runs past the end of its block, or has the wrong length for its code. */
  | "bad-option";

/**
 * A capture file could not be read. A {@link DecodeError} (`code` `EBADMSG`)
 * with `layer` `"pcap"` or `"pcapng"`.
 *
 * - `offset` is the byte offset at which the problem was found: the start of
 *   the truncated record or block, or the offending field.
 * - `recordOffset` is the start of the record (pcap) or block (pcapng), or 0
 *   for the file header, in which the problem was found. Every byte before it
 *   was read successfully: it is the length of the valid prefix of the file.
 */
export class PcapError extends DecodeError {
  override readonly layer: "pcap" | "pcapng";
  readonly kind: PcapErrorKind;
  readonly recordOffset: number;

  constructor(layer: "pcap" | "pcapng", offset: number, kind: PcapErrorKind, reason: string, recordOffset: number = offset) {
    super(layer, offset, reason);
    this.name = "PcapError";
    this.layer = layer;
    this.kind = kind;
    this.recordOffset = recordOffset;
  }
}
