import { ArpLayer, type ArpOptions } from "@morgana/arp";
import { Ethif, type EthifOptions } from "@morgana/ethif";
import { IcmpLayer, type IcmpLayerOptions } from "@morgana/icmp";
import {
  formatIpv4,
  MorganaError,
  parseIpv4,
  parseIpv4Prefix,
  type Clock,
  type LayerStats,
  type Netif,
  type Random,
  type Stack,
} from "@morgana/interfaces";
import { Ipv4Layer, type Ipv4LayerOptions } from "@morgana/ipv4";
import { withPcap, type PcapWriter } from "@morgana/pcap";
import { systemClock, systemRandom } from "@morgana/sim";
import { TcpLayer, type TcpLayerOptions } from "@morgana/tcp";
import { UdpLayer, type UdpLayerOptions } from "@morgana/udp";

type Tuning<T, Wired extends keyof T> = Partial<Omit<T, Wired>>;

export interface StackOptions {
  /** The network device. The stack takes it over: `close()` closes it. */
  readonly netif: Netif;
  /** The interface address with its prefix, "10.0.0.2/24"; or several. */
  readonly address: string | readonly string[];
  /** The default gateway, dotted quad, inside one of the prefixes. */
  readonly gateway?: string;
  /** Default: the system clock. Tests pass a VirtualClock. */
  readonly clock?: Clock;
  /** Default: the system's cryptographic generator. Tests pass a SeededRandom. */
  readonly random?: Random;
  /** Record every frame in and out to this pcap writer (see @morgana/pcap). */
  readonly pcap?: PcapWriter;
  /** Per-layer options (everything except what the stack wires itself). */
  readonly ethif?: Tuning<EthifOptions, "netif">;
  readonly arp?: Tuning<ArpOptions, "ethernet" | "clock" | "random" | "addresses">;
  readonly ipv4?: Tuning<Ipv4LayerOptions, "ethernet" | "arp" | "clock" | "random" | "addresses" | "gateway">;
  readonly icmp?: Tuning<IcmpLayerOptions, "ipv4" | "clock" | "random">;
  readonly udp?: Tuning<UdpLayerOptions, "ipv4" | "clock" | "random">;
  readonly tcp?: Tuning<TcpLayerOptions, "ipv4" | "clock" | "random">;
}

/**
 * The direct stack: every layer, wired, for applications (it is a
 * {@link Stack}) and for those who need a layer directly.
 */
export interface DirectStack extends Stack {
  readonly name: "direct";
  readonly netif: Netif;
  readonly ethernet: Ethif;
  readonly arp: ArpLayer;
  readonly ipv4: Ipv4Layer;
  readonly icmp: IcmpLayer;
  readonly udp: UdpLayer;
  readonly tcp: TcpLayer;
  readonly clock: Clock;
  /** The stack's IPv4 addresses, dotted quad. */
  addresses(): string[];
  /** Every layer's counters, by layer name. */
  stats(): Readonly<Record<string, LayerStats>>;
  /** Closes every connection, socket and layer, cancels every timer, and closes the device. Idempotent. */
  close(): Promise<void>;
}

/**
 * Wires a stack over `opts.netif`. Throws `EINVAL` for a malformed address or
 * gateway (before touching the device).
 */
export function createStack(opts: StackOptions): DirectStack {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? systemRandom;
  const texts = typeof opts.address === "string" ? [opts.address] : [...opts.address];
  if (texts.length === 0) throw new MorganaError("EINVAL", "createStack: at least one address is required");
  const prefixes = texts.map((t) => parseIpv4Prefix(t));
  const gateway = opts.gateway === undefined ? undefined : parseIpv4(opts.gateway);

  const netif = opts.pcap === undefined ? opts.netif : withPcap(opts.netif, { writer: opts.pcap, clock });
  const ethernet = new Ethif({ ...opts.ethif, netif });
  // The IPv4 layer adds its addresses to ARP (which announces them).
  const arp = new ArpLayer({ ...opts.arp, ethernet, clock, random });
  const ipv4 = new Ipv4Layer({
    ...opts.ipv4,
    ethernet,
    arp,
    clock,
    random,
    addresses: prefixes,
    ...(gateway === undefined ? {} : { gateway }),
  });
  const icmp = new IcmpLayer({ ...opts.icmp, ipv4, clock, random });
  const udp = new UdpLayer({ ...opts.udp, ipv4, clock, random });
  const tcp = new TcpLayer({ ...opts.tcp, ipv4, clock, random });

  let closing: Promise<void> | undefined;
  return {
    name: "direct",
    netif,
    ethernet,
    arp,
    ipv4,
    icmp,
    udp,
    tcp,
    clock,
    addresses: () => prefixes.map((p) => formatIpv4(p.address)),
    stats: () => ({
      netif: netif.stats(),
      ethernet: ethernet.stats(),
      arp: arp.stats(),
      ipv4: ipv4.stats(),
      icmp: icmp.stats(),
      udp: udp.stats(),
      tcp: tcp.stats(),
    }),
    close: () =>
      (closing ??= (async () => {
        // Top down: connections, sockets and pending operations first, then the layers they use, then the device.
        await tcp.close();
        await udp.close();
        await icmp.close();
        ipv4.close();
        arp.close();
        ethernet.close();
        await netif.close();
      })()),
  };
}
