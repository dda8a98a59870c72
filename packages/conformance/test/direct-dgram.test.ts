/**
 * The suite against two direct stacks whose Ethernet frames travel as UDP
 * datagrams between two dgram-netifs on 127.0.0.1 (each sends to the
 * other's port), on the real clock: the direct stack with real I/O and real
 * timers.
 */
import { createSocket } from "node:dgram";
import { createDgramNetif, type DgramNetif } from "@morgana/dgram-netif";
import { systemClock, systemRandom } from "@morgana/sim";
import { createStack } from "@morgana/stack";
import { describeConformance } from "../src/index.js";

/** Two UDP ports free on 127.0.0.1 right now (bound, read, released). */
async function twoFreePorts(): Promise<[number, number]> {
  const socks = [createSocket("udp4"), createSocket("udp4")];
  const ports = await Promise.all(
    socks.map((s) => new Promise<number>((resolve, reject) => {
      s.once("error", reject);
      s.bind(0, "127.0.0.1", () => resolve(s.address().port));
    })),
  );
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return [ports[0]!, ports[1]!];
}

/** The two netifs, pointing at each other; retried if another process took a port meanwhile. */
async function netifPair(): Promise<[DgramNetif, DgramNetif]> {
  for (let attempt = 0; ; attempt++) {
    const [pa, pb] = await twoFreePorts();
    // 4 MiB socket buffers (capped by net.core.rmem_max): a TCP window of frames arriving in one burst fits.
    const opts = { recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 };
    let a: DgramNetif | undefined;
    try {
      a = await createDgramNetif({ localPort: pa, remotePort: pb, ...opts });
      const b = await createDgramNetif({ localPort: pb, remotePort: pa, ...opts });
      return [a, b];
    } catch (e) {
      await a?.close();
      if ((e as { code?: unknown }).code !== "EADDRINUSE" || attempt === 5) throw e;
    }
  }
}

describeConformance(
  "direct ↔ direct over two dgram-netifs on 127.0.0.1 (real clock)",
  async () => {
    const [na, nb] = await netifPair();
    const a = createStack({ netif: na, address: "10.0.0.1/24", clock: systemClock, random: systemRandom });
    const b = createStack({ netif: nb, address: "10.0.0.2/24", clock: systemClock, random: systemRandom });
    let closing: Promise<void> | undefined;
    return {
      a,
      b,
      addressOfA: "10.0.0.1",
      addressOfB: "10.0.0.2",
      close: () => (closing ??= Promise.all([a.close(), b.close()]).then(() => undefined)),
    };
  },
  {
    ephemeralPortRange: [49152, 65535],
  },
);
