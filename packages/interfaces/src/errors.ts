/**
 * The error model shared by every Morgana package.
 *
 * Every error an application can see from a Morgana API is a {@link MorganaError}
 * whose `code` is the string Node.js would use for the same condition
 * (`ECONNREFUSED`, `ETIMEDOUT`, `ENOTFOUND`, ...). An application that checks
 * `err.code` therefore behaves the same on the Unix socket stack, on the direct
 * stack, and on plain `node:net`.
 *
 * Inside receive paths errors are never thrown: a malformed packet is counted
 * as a drop with a reason (see {@link LayerStats}). Errors are thrown, or
 * promises rejected, only at API calls.
 */

/** Linux errno numbers for the system codes, negated as Node reports them in `err.errno`. */
const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  EPIPE: 32,
  ENODATA: 61,
  EPROTO: 71,
  EBADMSG: 74,
  EMSGSIZE: 90,
  EPROTONOSUPPORT: 93,
  ENOTSUP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  ECANCELED: 125,
} as const;

/** Codes that correspond to a Linux errno. */
export type SystemErrorCode = keyof typeof ERRNO;

/** The codes `node:dns` uses for resolver failures (they carry no errno). */
export type DnsErrorCode =
  | "ENOTFOUND"
  | "ENODATA"
  | "ETIMEOUT"
  | "ESERVFAIL"
  | "EREFUSED"
  | "EFORMERR"
  | "ENOTIMP"
  | "EBADNAME"
  | "ECONNREFUSED"
  | "ECANCELLED";

/**
 * Node's codes for conditions that are not system errors: a socket used after
 * it was closed, an aborted operation (`AbortSignal`), a stream that ended
 * cleanly before the data a reader needed.
 */
export type NodeErrorCode =
  | "ERR_SOCKET_CLOSED"
  | "ABORT_ERR"
  | "ERR_STREAM_PREMATURE_CLOSE"
  // Argument and state errors of node:net's API, for facades that mimic it (@morgana/node-net).
  | "ERR_SOCKET_BAD_PORT"
  | "ERR_MISSING_ARGS"
  | "ERR_INVALID_ARG_TYPE"
  | "ERR_INVALID_IP_ADDRESS"
  | "ERR_OUT_OF_RANGE"
  | "ERR_SERVER_ALREADY_LISTEN"
  | "ERR_SERVER_NOT_RUNNING"
  | "ERR_SOCKET_CLOSED_BEFORE_CONNECTION";

export type ErrorCode = SystemErrorCode | DnsErrorCode | NodeErrorCode;

/** Optional context attached to an error, in the shape of Node's system errors. */
export interface ErrorDetails {
  /** The operation, as Node names it: `connect`, `bind`, `send`, `read`, `write`, `getaddrinfo`, ... */
  syscall?: string;
  /** The remote or local address the operation concerned. */
  address?: string;
  port?: number;
  /** For resolver errors: the host name looked up. */
  hostname?: string;
  cause?: unknown;
}

/** The negative errno Node puts in `err.errno`, or `undefined` for codes without one. */
export function errnoOf(code: ErrorCode): number | undefined {
  const n = (ERRNO as Record<string, number>)[code];
  return n === undefined ? undefined : -n;
}

function defaultMessage(code: ErrorCode, d: ErrorDetails): string {
  const parts: string[] = [];
  if (d.syscall !== undefined) parts.push(d.syscall);
  parts.push(code);
  if (d.hostname !== undefined) parts.push(d.hostname);
  else if (d.address !== undefined) parts.push(d.port !== undefined ? `${d.address}:${d.port}` : d.address);
  return parts.join(" ");
}

/**
 * The base class of every error a Morgana API throws or rejects with.
 * `code` is Node's code; `errno`, `syscall`, `address` and `port` are set like
 * Node's system errors where they apply.
 */
export class MorganaError extends Error {
  readonly code: ErrorCode;
  readonly errno: number | undefined;
  readonly syscall: string | undefined;
  readonly address: string | undefined;
  readonly port: number | undefined;
  readonly hostname: string | undefined;

  constructor(code: ErrorCode, message?: string, details: ErrorDetails = {}) {
    super(message ?? defaultMessage(code, details), details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = "MorganaError";
    this.code = code;
    this.errno = errnoOf(code);
    this.syscall = details.syscall;
    this.address = details.address;
    this.port = details.port;
    this.hostname = details.hostname;
  }
}

/** True when `err` is a {@link MorganaError}, optionally with the given code. */
export function isMorganaError(err: unknown, code?: ErrorCode): err is MorganaError {
  return err instanceof MorganaError && (code === undefined || err.code === code);
}

/**
 * A malformed input was rejected by a decoder. `layer` names the format
 * (`pcap`, `ipv4`, `dns`, ...), `offset` the byte offset in the input where the
 * problem was found, `reason` a short description. Code `EBADMSG`.
 */
export class DecodeError extends MorganaError {
  readonly layer: string;
  readonly offset: number;
  readonly reason: string;

  constructor(layer: string, offset: number, reason: string, cause?: unknown) {
    super("EBADMSG", `${layer}: ${reason} at byte offset ${offset}`, cause !== undefined ? { cause } : {});
    this.name = "DecodeError";
    this.layer = layer;
    this.offset = offset;
    this.reason = reason;
  }
}

/** A textual value (an address, a prefix, an option) could not be parsed. Code `EINVAL`. */
export class ParseError extends MorganaError {
  readonly input: string;
  readonly kind: string;

  constructor(kind: string, input: string, reason: string) {
    super("EINVAL", `invalid ${kind} ${JSON.stringify(input)}: ${reason}`);
    this.name = "ParseError";
    this.kind = kind;
    this.input = input;
  }
}
