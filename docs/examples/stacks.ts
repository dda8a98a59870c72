// file: docs/examples/stacks.ts
// Composition code: the only place that names concrete implementations. Each
// function returns two stacks that reach each other; the application never
// knows which it got.
import { createDgramNetif } from "@morgana/dgram-netif";
import type { Stack } from "@morgana/interfaces";
import { PcapWriter } from "@morgana/pcap";
import { SeededRandom, systemClock } from "@morgana/sim";
import { createStack } from "@morgana/stack";
import { createSocketStack } from "@morgana/unix-socket";
import { createLink } from "@morgana/vnetif";

export interface StackPair {
  readonly server: Stack;
  readonly client: Stack;
  /** Where the client reaches the server. */
  readonly serverAddress: string;
  close(): Promise<void>;
}

/** Development: the host's own TCP/IP through node:net and node:dgram, on loopback. */
export function socketPair(): StackPair {
  const server = createSocketStack({ addresses: ["127.0.0.1"] });
  const client = createSocketStack({ addresses: ["127.0.0.1"] });
  return { server, client, serverAddress: "127.0.0.1", close: () => closeBoth(server, client) };
}

/**
 * The pure-TypeScript stack: ethif → arp → ipv4 → icmp/udp/tcp on each end of
 * an in-memory Ethernet link, with every frame recorded in `pcap`.
 */
export function directPair(pcap?: PcapWriter): StackPair {
  const [serverPort, clientPort] = createLink({ clock: systemClock, latencyMs: 1 });
  const server = createStack({ netif: serverPort, address: "10.0.0.1/24", random: new SeededRandom(1), ...(pcap ? { pcap } : {}) });
  const client = createStack({ netif: clientPort, address: "10.0.0.2/24", random: new SeededRandom(2) });
  return { server, client, serverAddress: "10.0.0.1", close: () => closeBoth(server, client) };
}

/**
 * The pure-TypeScript stack on a real device: each stack's Ethernet frames
 * travel as UDP datagrams between two ports of the host's loopback (the same
 * device, pointed at socat or QEMU, puts the stack on a TAP or a VM's network).
 */
export async function devicePair(portA = 47001, portB = 47002): Promise<StackPair> {
  const a = await createDgramNetif({ localPort: portA, remotePort: portB });
  const b = await createDgramNetif({ localPort: portB, remotePort: portA });
  const server = createStack({ netif: a, address: "10.0.1.1/24" });
  const client = createStack({ netif: b, address: "10.0.1.2/24" });
  return { server, client, serverAddress: "10.0.1.1", close: () => closeBoth(server, client) };
}

async function closeBoth(a: Stack, b: Stack): Promise<void> {
  await Promise.all([a.close(), b.close()]);
}
