import {
  isLoopbackIpv4,
  isMulticastIpv4,
  prefixBroadcast,
  prefixNetwork,
  type Ipv4Address,
  type Ipv4Prefix,
} from "@morgana/interfaces";

/** True when `a` is one of the interface's own (unicast) addresses. */
export function isOwnAddress(prefixes: readonly Ipv4Prefix[], a: Ipv4Address): boolean {
  for (const p of prefixes) if (p.address === a) return true;
  return false;
}

/** True when `a` reaches this host: one of its addresses or 127.0.0.0/8 (delivered by loopback). */
export function isLocalAddress(prefixes: readonly Ipv4Prefix[], a: Ipv4Address): boolean {
  return isLoopbackIpv4(a) || isOwnAddress(prefixes, a);
}

/**
 * True when `a` is a broadcast or multicast destination as seen from this
 * interface: 255.255.255.255, 0.0.0.0 (the old broadcast), 224.0.0.0/4, or the
 * directed broadcast (or all-zeros network address) of one of our prefixes
 * shorter than /31.
 */
export function isBroadcastOrMulticast(prefixes: readonly Ipv4Prefix[], a: Ipv4Address): boolean {
  if (a === 0xffff_ffff || a === 0 || isMulticastIpv4(a)) return true;
  for (const p of prefixes) {
    if (p.length < 31 && (a === prefixBroadcast(p) || a === prefixNetwork(p))) return true;
  }
  return false;
}

/**
 * True when `a` names a single host (RFC 1122 §3.2.2): not 0.0.0.0, not
 * loopback, not a (directed) broadcast, not multicast, not class E (240/4).
 */
export function isUnicastHost(prefixes: readonly Ipv4Prefix[], a: Ipv4Address): boolean {
  if (a >>> 28 === 0xf || isLoopbackIpv4(a)) return false;
  return !isBroadcastOrMulticast(prefixes, a);
}
