/**
 * The socket stack: a {@link Stack} whose TCP and UDP are the host's, through
 * `node:net` and `node:dgram`.
 */
import type { Clock, LayerStats, Stack } from "@morgana/interfaces";
import { AddressPlan } from "./addresses.js";
import { hostClock } from "./clock.js";
import { SocketTcp, type SocketTcpOptions } from "./tcp.js";
import { SocketUdp, type SocketUdpOptions } from "./udp.js";

export interface SocketStackOptions {
  /**
   * The stack's IPv4 addresses, dotted quad. Default: every IPv4 address of
   * the host (`os.networkInterfaces()`, 127.0.0.1 included), and then the
   * wildcard binds the host's 0.0.0.0. When given, the stack is restricted to
   * them: the wildcard binds each of them, and explicit addresses must be one
   * of them, 0.0.0.0, or in 127.0.0.0/8 (`EADDRNOTAVAIL` otherwise).
   * `["127.0.0.1"]` keeps everything on loopback.
   */
  readonly addresses?: readonly string[];
  /** Time for the connect and close timeouts. Default: the host's (`setTimeout`). */
  readonly clock?: Clock;
  readonly tcp?: SocketTcpOptions;
  readonly udp?: SocketUdpOptions;
}

/** The socket stack. */
export interface SocketStack extends Stack {
  readonly name: "unix-socket";
  readonly tcp: SocketTcp;
  readonly udp: SocketUdp;
  /** Counters by layer: `tcp` and `udp`. */
  stats(): Readonly<Record<"tcp" | "udp", LayerStats>>;
}

/**
 * Creates the stack. Throws `EINVAL` for bad options. Nothing is opened until
 * `listen`, `connect` or `bind`.
 */
export function createSocketStack(opts: SocketStackOptions = {}): SocketStack {
  const plan = new AddressPlan(opts.addresses);
  const clock = opts.clock ?? hostClock;
  const tcp = new SocketTcp(plan, clock, opts.tcp);
  const udp = new SocketUdp(plan, opts.udp);
  let closing: Promise<void> | undefined;
  return {
    name: "unix-socket",
    tcp,
    udp,
    addresses: () => [...plan.list],
    stats: () => ({ tcp: tcp.stats(), udp: udp.stats() }),
    close: () => (closing ??= Promise.all([tcp.close(), udp.close()]).then(() => undefined)),
  };
}
