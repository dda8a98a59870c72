/**
 * Ethernet framing checks shared by the devices and middlewares.
 */
import { ETHERNET_HEADER_LENGTH, ETHERTYPE_VLAN, VLAN_TAG_LENGTH } from "@morgana/interfaces";

/** True when bytes 12-13 hold the 802.1Q TPID 0x8100. */
export function isVlanTagged(frame: Uint8Array, length = frame.length): boolean {
  return length >= ETHERNET_HEADER_LENGTH && frame[12] === ETHERTYPE_VLAN >>> 8 && frame[13] === (ETHERTYPE_VLAN & 0xff);
}

/** True when a frame of `length` bytes fits an MTU: `mtu + 14`, or `mtu + 18` when 802.1Q-tagged. */
export function fitsMtu(frame: Uint8Array, length: number, mtu: number): boolean {
  const base = mtu + ETHERNET_HEADER_LENGTH;
  return length <= base || (length <= base + VLAN_TAG_LENGTH && isVlanTagged(frame, length));
}

/** The largest `size` a `transmit` may ask for: `mtu + 18` (a tagged full-size frame). */
export function maxFrameSize(mtu: number): number {
  return mtu + ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
}

/** True when `n` is a valid `fill` result for a buffer of `size` bytes. */
export function validFillLength(n: unknown, size: number): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= size;
}
