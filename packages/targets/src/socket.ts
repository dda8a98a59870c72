/**
 * @morgana/targets/socket — the development target, MirageOS's `--target
 * unix` with the socket stack: the application's `Stack` is the host's own
 * TCP/IP through `node:net` and `node:dgram` (@morgana/unix-socket). No
 * TCP/IP code of Morgana's is linked in.
 *
 *   application ── Stack ── @morgana/unix-socket ── node:net / node:dgram ── the host kernel
 */
import type { App, RunningApp, Stack } from "@morgana/interfaces";
import { systemClock, systemRandom } from "@morgana/sim";
import { createSocketStack } from "@morgana/unix-socket";
import { appLog, guard, hasCode, parseArgs, stdio, untilStopped, usage, UsageError, type MainOptions, type OptionSpec, type TargetIo } from "./common.js";

export type { MainOptions, TargetIo } from "./common.js";

export const DEFAULT_SOCKET_ADDRESS = "127.0.0.1";
export const DEFAULT_SOCKET_HTTP_PORT = 8080;
export const DEFAULT_SOCKET_DNS_PORT = 5353;

export interface SocketOptions {
  /** The host address to serve on, and the address the application's DNS zone gives for its name. Default 127.0.0.1. */
  readonly address?: string;
  /** The HTTP port. Default 8080. */
  readonly port?: number;
  /** The DNS port (UDP and TCP). Default 5353. */
  readonly dnsPort?: number;
  /** The application's progress lines. Default: discarded. */
  readonly log?: (line: string) => void;
}

export interface SocketHandle {
  readonly app: RunningApp;
  /** The unix-socket stack the application runs on. */
  readonly stack: Stack;
  /** Stops the application, then closes the stack. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts `app` on a unix-socket stack restricted to `address`. Rejects with
 * the stack's error (`EADDRINUSE` with `port` set, `EACCES`, `EADDRNOTAVAIL`,
 * `EINVAL`) after closing what was opened.
 */
export async function startSocket(app: App, opts: SocketOptions = {}): Promise<SocketHandle> {
  const address = opts.address ?? DEFAULT_SOCKET_ADDRESS;
  const ports = { http: opts.port ?? DEFAULT_SOCKET_HTTP_PORT, dns: opts.dnsPort ?? DEFAULT_SOCKET_DNS_PORT };
  const stack = createSocketStack({ addresses: [address] });
  let running: RunningApp;
  try {
    running = await app.start({ target: "socket", stack, clock: systemClock, random: systemRandom, address, ports, log: opts.log ?? (() => {}) });
  } catch (err) {
    await stack.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    app: running,
    stack,
    close: () =>
      (closing ??= (async () => {
        await running.close();
        await stack.close();
      })()),
  };
}

const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  port: { kind: "port", help: `HTTP port (default ${DEFAULT_SOCKET_HTTP_PORT})` },
  "dns-port": { kind: "port", help: `DNS port, UDP and TCP (default ${DEFAULT_SOCKET_DNS_PORT})` },
  address: { kind: "address", help: `host address to serve on (default ${DEFAULT_SOCKET_ADDRESS})` },
};

/**
 * `morgana run APP --target socket [--port N] [--dns-port N] [--address A]`:
 * serves `app` on the host's sockets until SIGINT or SIGTERM, then closes it
 * and returns 0. A port in use is one line and 2, as are bad arguments.
 */
export function main(app: App, argv: readonly string[], io: TargetIo = stdio, opts: MainOptions = {}): Promise<number> {
  return guard(io, async () => {
    const args = parseArgs("socket", argv, OPTIONS);
    if (args.help) {
      io.out(usage("socket", "Serves the application on the host's TCP/IP (node:net, node:dgram) until interrupted.", OPTIONS));
      return 0;
    }
    const address = (args.values.address as string | undefined) ?? DEFAULT_SOCKET_ADDRESS;
    const port = (args.values.port as number | undefined) ?? DEFAULT_SOCKET_HTTP_PORT;
    const dnsPort = (args.values["dns-port"] as number | undefined) ?? DEFAULT_SOCKET_DNS_PORT;
    let handle: SocketHandle;
    try {
      handle = await startSocket(app, { address, port, dnsPort, log: appLog(io, app.name) });
    } catch (err) {
      if (hasCode(err, "EADDRINUSE")) {
        const which = err.port === dnsPort && dnsPort !== port ? "--dns-port" : "--port";
        throw new UsageError(`port ${err.port ?? (which === "--port" ? port : dnsPort)} is in use (try ${which} N)`);
      }
      if (hasCode(err, "EACCES")) throw new UsageError(`no permission to serve on ${address} (ports below 1024 need root; try --port N --dns-port N)`);
      if (hasCode(err, "EADDRNOTAVAIL")) throw new UsageError(`${address} is not an address of this host (try --address 127.0.0.1)`);
      throw err;
    }
    io.out(`${app.name} on the socket target: the host's TCP/IP (node:net, node:dgram), ${address}`);
    io.out(`  curl http://${address}:${port}/`);
    io.out(`  dig @${address} -p ${dnsPort} ${app.domain}`);
    io.out("Ctrl-C to stop");
    const why = await untilStopped(opts);
    io.out(`${why === "abort" ? "stopping" : `${why}: stopping`}`);
    await handle.close();
    return 0;
  });
}
