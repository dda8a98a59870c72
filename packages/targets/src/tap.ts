/**
 * @morgana/targets/tap — the application on Morgana's own TCP/IP, on a real
 * Ethernet device: a Linux TAP in a network namespace of its own, so that
 * Linux's curl, dig and ping talk to it. This is MirageOS's `--target unix
 * --net direct` (its TCP/IP over a tap device), with the namespace keeping the
 * host's network untouched. Linux only, root, `ip` and `socat`.
 *
 *   application (HTTP :80, DNS :53)
 *   Morgana's tcp / udp / icmp ─ ipv4 ─ arp ─ ethernet           (this process)
 *   @morgana/dgram-netif: one Ethernet frame per UDP datagram on 127.0.0.1
 *     ⇅
 *   socat (root namespace) ⇄ TAP device ── moved into namespace NS
 *     ⇅
 *   Linux's TCP/IP in NS: the peer address .1, curl / dig / ping
 */
import type { App, RunningApp } from "@morgana/interfaces";
import { MorganaError } from "@morgana/interfaces";
import { createDgramNetif } from "@morgana/dgram-netif";
import { createLinuxPeer, linuxPeerSupport, type LinuxPeer, type LinuxPeerSupport } from "@morgana/linux-peer";
import { systemClock, systemRandom } from "@morgana/sim";
import { createStack, type DirectStack } from "@morgana/stack";
import { appLog, guard, hasCode, parseArgs, stdio, untilStopped, usage, UsageError, type MainOptions, type OptionSpec, type TargetIo } from "./common.js";

export type { MainOptions, TargetIo } from "./common.js";

export interface TapOptions {
  /** The application's progress lines. Default: discarded. */
  readonly log?: (line: string) => void;
  /** The check run first; default `linuxPeerSupport()` (Linux, root, ip, socat, ping, /dev/net/tun, namespaces). */
  readonly support?: () => LinuxPeerSupport;
}

export interface TapHandle {
  /** The Linux side: the namespace (`peer.ns`), `peer.exec([...])` runs a command in it. */
  readonly peer: LinuxPeer;
  /** The application's address (the direct stack's), reachable from inside the namespace. */
  readonly address: string;
  readonly stack: DirectStack;
  readonly app: RunningApp;
  /** Stops the application, closes the stack, removes the namespace and socat. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates a Linux peer (namespace, TAP, socat), puts a direct stack at the
 * peer's host address .2 on it, and starts `app` there on ports 80 and 53.
 * Rejects with `ENOTSUP` (the reason in the message) when the machine cannot
 * do it, and with the application's error if it does not start; whatever was
 * created is removed first.
 */
export async function startTap(app: App, opts: TapOptions = {}): Promise<TapHandle> {
  const support = (opts.support ?? linuxPeerSupport)();
  if (!support.ok) throw new MorganaError("ENOTSUP", support.reason ?? "the Linux peer is not supported here");
  const peer = await createLinuxPeer();
  const clock = systemClock;
  let stack: DirectStack | undefined;
  try {
    const netif = await createDgramNetif({ localPort: peer.morganaPort, remotePort: peer.socatPort, mtu: peer.mtu });
    const address = peer.hostAddress(2);
    stack = createStack({ netif, address: `${address}/${peer.prefixLength}`, clock, random: systemRandom });
    const running = await app.start({
      target: "tap",
      stack,
      clock,
      random: systemRandom,
      address,
      ports: { http: 80, dns: 53 },
      log: opts.log ?? (() => {}),
    });
    const direct = stack;
    let closing: Promise<void> | undefined;
    return {
      peer,
      address,
      stack: direct,
      app: running,
      close: () =>
        (closing ??= (async () => {
          try {
            await running.close();
            await direct.close(); // cancels every timer of the stack
          } finally {
            await peer.close();
          }
        })()),
    };
  } catch (err) {
    await stack?.close();
    await peer.close();
    throw err;
  }
}

const OPTIONS: Readonly<Record<string, OptionSpec>> = {};

/**
 * `morgana run APP --target tap`: starts {@link startTap}, prints the commands
 * to try from inside the namespace, serves until SIGINT or SIGTERM, then
 * removes everything and returns 0. Without root or socat: one line, 2.
 */
export function main(app: App, argv: readonly string[], io: TargetIo = stdio, opts: MainOptions & Pick<TapOptions, "support"> = {}): Promise<number> {
  return guard(io, async () => {
    const args = parseArgs("tap", argv, OPTIONS);
    if (args.help) {
      io.out(usage("tap", "Serves the application on Morgana's TCP/IP over a Linux TAP device in a network namespace (root, ip, socat) until interrupted.", OPTIONS));
      return 0;
    }
    let handle: TapHandle;
    try {
      handle = await startTap(app, { log: appLog(io, app.name), ...(opts.support === undefined ? {} : { support: opts.support }) });
    } catch (err) {
      if (hasCode(err, "ENOTSUP")) throw new UsageError(`the tap target needs root and socat (${err.message})`);
      throw err;
    }
    const { peer, address } = handle;
    io.out(`${app.name} on the tap target: Morgana's TCP/IP at ${address}, Linux at ${peer.address} in network namespace ${peer.ns}`);
    io.out(`  (frames: TAP ${peer.tap} ⇄ socat ⇄ UDP 127.0.0.1:${peer.morganaPort} ⇄ this process)`);
    io.out("try, as root, in another terminal:");
    io.out(`  ip netns exec ${peer.ns} curl http://${address}/`);
    io.out(`  ip netns exec ${peer.ns} dig @${address} ${app.domain}`);
    io.out(`  ip netns exec ${peer.ns} ping ${address}`);
    io.out("Ctrl-C to stop (the namespace is removed)");
    const why = await untilStopped(opts);
    io.out(`${why === "abort" ? "stopping" : `${why}: stopping`}`);
    await handle.close();
    return 0;
  });
}
