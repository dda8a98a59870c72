/**
 * Errors of the DNS package.
 *
 * - {@link DnsDecodeError}: malformed wire data (layer `"dns"`, code `EBADMSG`),
 *   with the byte offset where the problem was found.
 * - {@link ZoneParseError}: malformed presentation (zone file) text, with the
 *   line and column (code `EINVAL`).
 * - API misuse while encoding (a label longer than 63 bytes, a message over
 *   65535 bytes, a bad address string) is a `MorganaError` with `EINVAL` or
 *   `EMSGSIZE`.
 */
import { DecodeError, MorganaError, ParseError } from "@morgana/interfaces";

export class DnsDecodeError extends DecodeError {
  constructor(offset: number, reason: string) {
    super("dns", offset, reason);
    this.name = "DnsDecodeError";
  }
}

/** A zone file (or presentation-format record) could not be parsed. */
export class ZoneParseError extends ParseError {
  /** 1-based line number (of the line where the entry or token starts). */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  readonly reason: string;
  /** The file name given to the parser or an `$INCLUDE`d path, if any. */
  readonly file: string | undefined;

  constructor(reason: string, line: number, column: number, file?: string) {
    super("zone", `${file !== undefined ? file + ":" : ""}${line}:${column}`, reason);
    this.message = `zone${file !== undefined ? " " + file : ""} line ${line} column ${column}: ${reason}`;
    this.name = "ZoneParseError";
    this.line = line;
    this.column = column;
    this.reason = reason;
    this.file = file;
  }
}

/** An argument given to an encoder or builder is invalid (`EINVAL`). */
export function invalid(what: string): MorganaError {
  return new MorganaError("EINVAL", `dns: ${what}`);
}
