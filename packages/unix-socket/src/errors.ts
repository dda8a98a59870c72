/**
 * Node's errors → {@link MorganaError}. A system error keeps its code, errno,
 * syscall, address and port (the original becomes `cause`); Node's own
 * `ERR_*` codes for misuse are translated to the code the Morgana contracts
 * name (a write after `end()` is `EPIPE`, a closed dgram socket is
 * `ERR_SOCKET_CLOSED`, a bad argument is `EINVAL`).
 */
import { MorganaError, type ErrorCode, type ErrorDetails } from "@morgana/interfaces";

/** Node `ERR_*` codes and the Morgana code each becomes. */
const NODE_CODES: Readonly<Record<string, ErrorCode>> = {
  ERR_SOCKET_CLOSED: "ERR_SOCKET_CLOSED",
  ERR_SOCKET_DGRAM_NOT_RUNNING: "ERR_SOCKET_CLOSED",
  ERR_SERVER_NOT_RUNNING: "ERR_SOCKET_CLOSED",
  ERR_STREAM_DESTROYED: "ERR_SOCKET_CLOSED",
  ERR_STREAM_WRITE_AFTER_END: "EPIPE",
  ERR_SOCKET_CONNECTION_TIMEOUT: "ETIMEDOUT",
  ABORT_ERR: "ABORT_ERR",
  ERR_SOCKET_BAD_PORT: "EINVAL",
  ERR_INVALID_ARG_TYPE: "EINVAL",
  ERR_INVALID_ARG_VALUE: "EINVAL",
  ERR_OUT_OF_RANGE: "EINVAL",
  ERR_INVALID_IP_ADDRESS: "EINVAL",
  ERR_SOCKET_BAD_BUFFER_SIZE: "EINVAL",
  ERR_SOCKET_DGRAM_IS_CONNECTED: "EISCONN",
  ERR_SOCKET_DGRAM_NOT_CONNECTED: "ENOTCONN",
};

interface NodeLikeError {
  code?: unknown;
  errno?: unknown;
  syscall?: unknown;
  address?: unknown;
  port?: unknown;
  name?: unknown;
  message?: unknown;
}

/**
 * Converts an error Node reported (a system error such as `connect
 * ECONNREFUSED 127.0.0.1:80`, or an `ERR_*` error) into a {@link MorganaError}.
 *
 * - A {@link MorganaError} is returned unchanged.
 * - A system code (`E` followed by capitals) is kept as is, with Node's
 *   `errno`, `syscall`, `address` and `port`; `details` fill what Node left
 *   out (Node's `read ECONNRESET` carries no address, for example).
 * - Node's `ERR_*` codes are translated (see the README); an `AbortError` is
 *   `ABORT_ERR`; anything else is `EIO`.
 *
 * The original error is the result's `cause`.
 */
export function fromNodeError(err: unknown, details: ErrorDetails = {}): MorganaError {
  if (err instanceof MorganaError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as NodeLikeError;
  const rawCode = typeof e.code === "string" ? e.code : e.name === "AbortError" ? "ABORT_ERR" : undefined;
  let code: ErrorCode;
  let system = false;
  if (rawCode !== undefined && /^E[A-Z0-9]+$/.test(rawCode)) {
    code = rawCode as ErrorCode;
    system = true;
  } else {
    code = (rawCode !== undefined ? NODE_CODES[rawCode] : undefined) ?? "EIO";
  }
  const syscall = typeof e.syscall === "string" ? e.syscall : details.syscall;
  const address = typeof e.address === "string" ? e.address : details.address;
  const port = typeof e.port === "number" ? e.port : details.port;
  const full: ErrorDetails = { cause: err };
  if (syscall !== undefined) full.syscall = syscall;
  if (address !== undefined) full.address = address;
  if (port !== undefined) full.port = port;
  if (details.hostname !== undefined) full.hostname = details.hostname;
  const message = system ? undefined : `${syscall !== undefined ? `${syscall} ` : ""}${code}: ${typeof e.message === "string" ? e.message : String(err)}`;
  const out = new MorganaError(code, message, full);
  // A system code outside the interfaces' errno table keeps Node's errno.
  if (out.errno === undefined && system && typeof e.errno === "number") {
    (out as { errno: number | undefined }).errno = e.errno;
  }
  return out;
}

/** A {@link MorganaError} for a bad argument (`EINVAL`). */
export function einval(syscall: string, message: string, details: ErrorDetails = {}): MorganaError {
  return new MorganaError("EINVAL", `${syscall}: ${message}`, { ...details, syscall });
}
