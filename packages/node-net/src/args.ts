/**
 * Argument handling shared by the Socket and the Server: Node's overload
 * normalisation for `connect`/`listen`, port validation, and the mapping of a
 * host string to an IPv4 address the Stack understands.
 */
import { isIP } from "node:net";
import type { LookupOptions } from "node:dns";
import { MorganaError } from "@morgana/interfaces";

/**
 * A `dns.lookup`-shaped function, as `net.connect({ lookup })` takes. The
 * facade calls it with `{ family: 4, hints: 0, all: false }` and accepts an
 * address string or an array of `{ address, family }` in return; only IPv4
 * answers are used.
 */
export type LookupFunction = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | readonly { address: string; family: number }[], family?: number) => void,
) => void;

/** The options of `connect(options)` / `socket.connect(options)` that the facade understands. */
export interface ConnectOptions {
  /** Destination port, 1..65535 (a number or a numeric string). */
  port?: number | string | undefined;
  /** Destination: a dotted quad, "localhost" (127.0.0.1), or a name the `lookup` function resolves. Default "localhost". */
  host?: string | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
  /** 4 or 0 (any); 6 fails with EAFNOSUPPORT (the stacks are IPv4-only). */
  family?: number | undefined;
  /** Custom name resolution, as in `net.connect`. */
  lookup?: LookupFunction | undefined;
  noDelay?: boolean | undefined;
  keepAlive?: boolean | undefined;
  /** Milliseconds of idleness before the first keepalive probe (Node rounds it to seconds; so does the facade). */
  keepAliveInitialDelay?: number | undefined;
  /** The idle timeout (`socket.setTimeout`) applied by `net.connect`/`createConnection`; not a connect timeout. */
  timeout?: number | undefined;
  /** Socket constructor options are accepted here too, as `net.connect` passes them on. */
  allowHalfOpen?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** Unix domain sockets are not supported: passing `path` throws ENOTSUP. */
  path?: string | undefined;
  /** Ignored (there is only IPv4): accepted for compatibility. */
  autoSelectFamily?: boolean | undefined;
  autoSelectFamilyAttemptTimeout?: number | undefined;
  hints?: number | undefined;
  /** Stream options passed to the Duplex. */
  highWaterMark?: number | undefined;
  readableHighWaterMark?: number | undefined;
  writableHighWaterMark?: number | undefined;
}

/** The options of `server.listen(options)`. */
export interface ListenOptions {
  port?: number | string | null | undefined;
  host?: string | undefined;
  backlog?: number | undefined;
  /** Closes the server when aborted. */
  signal?: AbortSignal | undefined;
  /** Unix domain sockets are not supported: passing `path` throws ENOTSUP. */
  path?: string | undefined;
  /** Accepted and ignored (no cluster, no IPv6). */
  exclusive?: boolean | undefined;
  ipv6Only?: boolean;
  readableAll?: boolean | undefined;
  writableAll?: boolean | undefined;
}

function isCallback(v: unknown): v is (...args: unknown[]) => void {
  return typeof v === "function";
}

/** Node's `toNumber`: a non-negative number, or false. */
function toNumber(x: unknown): number | false {
  const n = Number(x);
  return n >= 0 ? n : false;
}

function isPipeName(s: unknown): s is string {
  return typeof s === "string" && toNumber(s) === false;
}

/** Node's `normalizeArgs` for `connect`: `(options[, cb])`, `(port[, host][, cb])`, `(path[, cb])`. */
export function normalizeConnectArgs(args: readonly unknown[]): [ConnectOptions, ((...a: unknown[]) => void) | null] {
  if (args.length === 0) return [{}, null];
  const arg0 = args[0];
  let options: ConnectOptions = {};
  if (typeof arg0 === "object" && arg0 !== null) options = arg0 as ConnectOptions;
  else if (isPipeName(arg0)) options.path = arg0;
  else {
    options.port = arg0 as number;
    if (args.length > 1 && typeof args[1] === "string") options.host = args[1];
  }
  const cb = args[args.length - 1];
  return [options, isCallback(cb) ? cb : null];
}

/** Validates a port as Node's `validatePort` does (numbers or numeric strings), returning it as a number. */
export function validatePort(port: unknown, name: string, allowZero: boolean): number {
  const ok =
    (typeof port === "number" || (typeof port === "string" && port.trim().length !== 0)) &&
    Number(port) === Number(port) >>> 0 &&
    Number(port) <= 0xffff &&
    (allowZero || Number(port) !== 0);
  if (!ok) {
    throw new MorganaError("ERR_SOCKET_BAD_PORT", `${name} should be >= ${allowZero ? 0 : 1} and < 65536. Received ${typeof port === "string" ? JSON.stringify(port) : String(port)}.`);
  }
  return Number(port);
}

/** The `listen` arguments, normalised. */
export interface NormalizedListen {
  port: number;
  host: string | undefined;
  backlog: number | undefined;
  signal: AbortSignal | undefined;
  cb: ((...a: unknown[]) => void) | null;
}

/**
 * Node's `Server.prototype.listen` overloads: `()`, `(cb)`, `(port[, host][, backlog][, cb])`,
 * `(options[, cb])`. `path`/`fd`/`handle` forms throw ENOTSUP.
 */
export function normalizeListenArgs(args: readonly unknown[]): NormalizedListen {
  const [opts, cb] = normalizeConnectArgs(args) as unknown as [ListenOptions & { fd?: unknown; handle?: unknown; _handle?: unknown }, ((...a: unknown[]) => void) | null];
  const backlogFromArgs = toNumber(args.length > 1 && args[1]) || toNumber(args.length > 2 && args[2]);
  if (opts.fd !== undefined || opts.handle !== undefined || opts._handle !== undefined) {
    throw new MorganaError("ENOTSUP", "listen: file descriptors and handles are not supported by the Morgana net facade");
  }
  let port = opts.port;
  if (args.length === 0 || typeof args[0] === "function" || (port === undefined && "port" in opts) || port === null) port = 0;
  if (typeof port === "number" || typeof port === "string") {
    const p = validatePort(port, "options.port", true);
    const backlog = opts.backlog || backlogFromArgs || undefined;
    return { port: p, host: opts.host || undefined, backlog: backlog === undefined ? undefined : Math.trunc(backlog), signal: opts.signal, cb };
  }
  if (opts.path !== undefined) throw new MorganaError("ENOTSUP", "listen: Unix domain sockets and named pipes are not supported by the Morgana net facade");
  throw new MorganaError("ERR_MISSING_ARGS", 'The argument \'options\' must have the property "port" or "path"');
}

/** What a host string means to the facade. */
export type HostKind = { kind: "ipv4"; address: string } | { kind: "any" } | { kind: "ipv6" } | { kind: "name"; name: string };

/**
 * Classifies a host. `::ffff:a.b.c.d` (IPv4-mapped) is its IPv4 address; for
 * a listener, `::` and `0.0.0.0` mean every address (`wildcard` true).
 */
export function classifyHost(host: string, wildcard: boolean): HostKind {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(host);
  if (mapped !== null && isIP(mapped[1]!) === 4) return { kind: "ipv4", address: mapped[1]! };
  const v = isIP(host);
  if (v === 4) return wildcard && host === "0.0.0.0" ? { kind: "any" } : { kind: "ipv4", address: host };
  if (v === 6) return wildcard && isAllZero6(host) ? { kind: "any" } : { kind: "ipv6" };
  return { kind: "name", name: host };
}

function isAllZero6(h: string): boolean {
  return h.split(":").every((g) => /^0*$/.test(g));
}

/** The built-in resolver: "localhost" is 127.0.0.1; any other name is ENOTFOUND. */
export const builtinLookup: LookupFunction = (hostname, _options, callback) => {
  process.nextTick(() => {
    if (hostname.toLowerCase() === "localhost" || hostname.toLowerCase() === "localhost.") callback(null, "127.0.0.1", 4);
    else {
      const e = new MorganaError("ENOTFOUND", `getaddrinfo ENOTFOUND ${hostname}`, { syscall: "getaddrinfo", hostname });
      callback(e as unknown as NodeJS.ErrnoException, "", undefined);
    }
  });
};

/**
 * Runs a lookup function and returns the first IPv4 answer as `[address, 4]`,
 * or rejects with its error (ENOTFOUND when it gave no IPv4 address).
 */
export function lookupIpv4(lookup: LookupFunction, hostname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let done = false;
    try {
      lookup(hostname, { family: 4, hints: 0, all: false }, (err, address, family) => {
        if (done) return;
        done = true;
        if (err) {
          reject(err);
          return;
        }
        const list = typeof address === "string" ? [{ address, family: family ?? isIP(address) }] : address;
        const v4 = list.find((a) => (a.family === 4 || (a.family as unknown) === "IPv4") && isIP(a.address) === 4);
        if (v4 === undefined) reject(new MorganaError("ENOTFOUND", `getaddrinfo ENOTFOUND ${hostname} (no IPv4 address)`, { syscall: "getaddrinfo", hostname }));
        else resolve(v4.address);
      });
    } catch (e) {
      done = true;
      reject(e as Error);
    }
  });
}
