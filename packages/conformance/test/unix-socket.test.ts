/**
 * The suite against two Unix-socket stacks on loopback: a restricted to
 * 127.0.0.1, b to 127.0.0.2 (Linux routes 127.0.0.0/8 to lo).
 */
import { readFileSync } from "node:fs";
import { createSocketStack } from "@morgana/unix-socket";
import { describeConformance } from "../src/index.js";

/** The kernel's ephemeral port range (the Unix socket stack's range), from /proc. */
function kernelPortRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo!, hi!];
  } catch {
    // not Linux
  }
  return [1024, 65535];
}

describeConformance(
  "unix-socket ↔ unix-socket (127.0.0.1 ↔ 127.0.0.2)",
  async () => {
    const a = createSocketStack({ addresses: ["127.0.0.1"] });
    const b = createSocketStack({ addresses: ["127.0.0.2"] });
    return {
      a,
      b,
      addressOfA: "127.0.0.1",
      addressOfB: "127.0.0.2",
      close: async () => {
        await Promise.all([a.close(), b.close()]);
      },
    };
  },
  {
    ephemeralPortRange: kernelPortRange(),
    // The UdpSocket contract's exemption: Node sets no IP_RECVERR, so ICMP errors on unconnected sockets are not seen.
    udpIcmpErrors: false,
  },
);
