/**
 * Layer 2: a network device and Ethernet.
 */
import type { Ipv4Address, MacAddress } from "./address.js";
import type { LayerStats } from "./stats.js";

/** Length of an untagged Ethernet II header. */
export const ETHERNET_HEADER_LENGTH = 14;
/** Extra bytes an 802.1Q tag adds to a frame. */
export const VLAN_TAG_LENGTH = 4;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

/**
 * Fills a freshly allocated output buffer and returns how many of its bytes
 * were used (0..buffer.length); the rest is not sent. Returning a value out of
 * range, or throwing, cancels the transmission and is counted as a drop.
 */
export type Fill = (buffer: Uint8Array) => number;

/** Receives one frame. Ownership passes to the handler: the device never touches the bytes again. */
export type FrameHandler = (frame: Uint8Array) => void;

/**
 * A network device: moves whole Ethernet frames (header included, no FCS).
 *
 * Contract:
 * - **Output**: `transmit(size, fill)` allocates one buffer of `size` bytes
 *   (so the whole packet, every header included, is built in place with one
 *   allocation), calls `fill` synchronously, and sends the first `n` bytes
 *   `fill` returned. It returns true when the device accepted the frame (which
 *   is not a promise of delivery) and false when it dropped it locally (device
 *   closed, queue full, size above `mtu + 14` or `+ 18` when 802.1Q-tagged);
 *   every false is counted in `stats().drops`. It never throws for those
 *   conditions. After `transmit` returns, the device owns the buffer.
 * - **Input**: `listen(handler)` installs the one receive handler, replacing
 *   any earlier one. Frames are delivered one call per frame, never inside
 *   `transmit` (no re-entrancy), in the order the device received them. A frame
 *   arriving while no handler is installed is dropped (`no-listener`). The
 *   handler owns each frame it receives.
 * - **Stats**: `counters` has at least `rxFrames`, `rxBytes`, `txFrames`,
 *   `txBytes`; `drops` has a reason per dropped frame.
 * - **Close**: `close()` is idempotent; afterwards `transmit` returns false and
 *   no frame is delivered. It resolves when the device's resources are released.
 */
export interface Netif {
  readonly mac: MacAddress;
  /** The largest Ethernet payload (the IP MTU), 1500 for standard Ethernet. */
  readonly mtu: number;
  transmit(size: number, fill: Fill): boolean;
  listen(handler: FrameHandler): void;
  stats(): LayerStats;
  close(): Promise<void>;
}

/** Receives one Ethernet payload, with the frame's addresses. The handler owns `payload`. */
export type EthernetHandler = (payload: Uint8Array, src: MacAddress, dst: MacAddress) => void;

/**
 * Ethernet II over a {@link Netif}.
 *
 * Contract:
 * - `write(dst, etherType, size, fill)` builds a frame of `14 + size` bytes,
 *   writes the header, lets `fill` write the payload in place and returns the
 *   device's answer (see {@link Netif.transmit}). `size` above `mtu` throws
 *   `EMSGSIZE` (a caller bug, not a network condition).
 * - Receive: frames addressed to our MAC, to broadcast, or to a multicast group
 *   we joined are delivered to the handler registered for their EtherType;
 *   everything else is dropped and counted (`not-for-us`, `short`,
 *   `no-handler`, `vlan`, ...).
 * - `register` throws `EADDRINUSE` when the EtherType already has a handler.
 */
export interface Ethernet {
  readonly mac: MacAddress;
  readonly mtu: number;
  write(dst: MacAddress, etherType: number, size: number, fill: Fill): boolean;
  register(etherType: number, handler: EthernetHandler): void;
  unregister(etherType: number): void;
  /** Accept frames sent to this multicast MAC. */
  joinMulticast(group: MacAddress): void;
  leaveMulticast(group: MacAddress): void;
  stats(): LayerStats;
  /** Stops receiving and sending (writes return false). Idempotent. Does not close the device. */
  close(): void;
}

/** One ARP cache entry as reported by {@link Arp.entries}. */
export interface ArpEntry {
  readonly ip: Ipv4Address;
  readonly mac: MacAddress;
  /** Static entries never expire and are never overwritten by the network. */
  readonly static: boolean;
  /** Clock time at which a dynamic entry expires; `Infinity` for static entries. */
  readonly expiresAt: number;
}

/**
 * Address resolution (ARP, RFC 826) over an {@link Ethernet}.
 *
 * Contract:
 * - `lookup(ip)` answers from the cache only and sends nothing.
 * - `query(ip)` resolves with the MAC, sending requests as needed (concurrent
 *   queries for one address share one exchange), and rejects with
 *   `EHOSTUNREACH` after the implementation's bounded number of retries.
 * - `send(ip, size, fill, onError)` transmits an IPv4 packet to `ip`'s MAC: at
 *   once when cached, otherwise it copies the packet into a bounded queue,
 *   resolves, and sends it then. A packet that is finally dropped (resolution
 *   failed, queue overflow) is counted and reported to `onError`. Returns false
 *   when the packet was dropped immediately; `onError` is then not called (it
 *   reports only drops that happen after `send` returned true).
 * - The implementation answers requests for every address in `addresses`, and
 *   announces an address when it is added (gratuitous ARP).
 */
export interface Arp {
  lookup(ip: Ipv4Address): MacAddress | undefined;
  query(ip: Ipv4Address, signal?: AbortSignal): Promise<MacAddress>;
  send(ip: Ipv4Address, size: number, fill: Fill, onError?: (err: Error) => void): boolean;
  readonly addresses: readonly Ipv4Address[];
  addAddress(ip: Ipv4Address): void;
  removeAddress(ip: Ipv4Address): void;
  addStatic(ip: Ipv4Address, mac: MacAddress): void;
  removeStatic(ip: Ipv4Address): void;
  entries(): ArpEntry[];
  stats(): LayerStats;
  /** Cancels every timer, rejects pending queries (`ECANCELED`), drops queued packets. Idempotent. */
  close(): void;
}
