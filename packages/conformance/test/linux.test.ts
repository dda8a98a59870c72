/**
 * The conformance suite on the pair this package exists for: Morgana's
 * direct stack (a) on a dgram-netif bridged by socat to a TAP, against the
 * Linux kernel (b) inside the TAP's namespace, driven through the remote
 * stack (a unix-socket stack in a helper process there). A fresh peer, netif
 * and helper per test; real time.
 */
import { readFileSync } from "node:fs";
import { describeConformance } from "../src/index.js";
import { createDgramNetif } from "@morgana/dgram-netif";
import { createStack } from "@morgana/stack";
import { createLinuxPeer, createRemoteStack } from "@morgana/linux-peer";
import { describeLinux } from "@morgana/linux-peer/vitest";

/** The kernel's ephemeral range (the remote side's) joined with the direct stack's (49152-65535). */
function ephemeralRange(): [number, number] {
  try {
    const [lo] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo)) return [Math.min(lo!, 49152), 65535];
  } catch {
    // not Linux: the suite is skipped anyway
  }
  return [1024, 65535];
}

describeLinux("conformance", () => {
  describeConformance(
    "direct stack vs the Linux kernel",
    async () => {
      const peer = await createLinuxPeer();
      try {
        const netif = await createDgramNetif({ localPort: peer.morganaPort, remotePort: peer.socatPort, mtu: peer.mtu });
        const me = peer.hostAddress(2);
        const a = createStack({ netif, address: `${me}/${peer.prefixLength}`, tcp: { minRtoMs: 200 } });
        const b = await createRemoteStack(peer).catch(async (e: unknown) => {
          await a.close();
          throw e;
        });
        let closing: Promise<void> | undefined;
        return {
          a,
          b,
          addressOfA: me,
          addressOfB: peer.address,
          close: () =>
            (closing ??= (async () => {
              await Promise.all([a.close(), b.close()]);
              await peer.close();
            })()),
        };
      } catch (e) {
        await peer.close();
        throw e;
      }
    },
    {
      ephemeralPortRange: ephemeralRange(),
      // The remote side is a unix-socket stack: Node sets no IP_RECVERR, so it cannot see ICMP errors on UDP sockets.
      udpIcmpErrors: false,
    },
  );
});
