/**
 * The stack's addresses, and which host addresses a bind or listen uses.
 */
import { networkInterfaces } from "node:os";
import { MorganaError, isIpv4, isLoopbackIpv4, parseIpv4 } from "@morgana/interfaces";
import { einval } from "./errors.js";

export const WILDCARD = "0.0.0.0";

/** The host's IPv4 addresses from `os.networkInterfaces()`, always including 127.0.0.1. */
export function hostIpv4Addresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      // Node 18.0-18.3 reported family as the number 4.
      const fam = a.family as string | number;
      if ((fam === "IPv4" || fam === 4) && !out.includes(a.address)) out.push(a.address);
    }
  }
  if (!out.includes("127.0.0.1")) out.unshift("127.0.0.1");
  return out;
}

export function isLoopback(address: string): boolean {
  return isIpv4(address) && isLoopbackIpv4(parseIpv4(address));
}

/**
 * The stack's view of addresses.
 *
 * - Host mode (no `addresses` option): the stack owns every host address; the
 *   wildcard is the host's 0.0.0.0 and explicit addresses go to the OS as
 *   given (the OS answers `EADDRNOTAVAIL` for a foreign one).
 * - Restricted mode (`addresses` given): the wildcard means "each of the
 *   stack's addresses" (one host socket per address); an explicit address must
 *   be one of them, 0.0.0.0, or in 127.0.0.0/8 (as on the direct stack),
 *   otherwise `EADDRNOTAVAIL` before the OS is asked.
 */
export class AddressPlan {
  readonly list: readonly string[];
  readonly restricted: boolean;

  constructor(addresses: readonly string[] | undefined) {
    if (addresses === undefined) {
      this.list = hostIpv4Addresses();
      this.restricted = false;
      return;
    }
    if (!Array.isArray(addresses) || addresses.length === 0) {
      throw new MorganaError("EINVAL", "createSocketStack: addresses must be a non-empty array of dotted quads");
    }
    const list: string[] = [];
    for (const a of addresses) {
      if (typeof a !== "string" || !isIpv4(a)) {
        throw new MorganaError("EINVAL", `createSocketStack: invalid IPv4 address ${JSON.stringify(a)}`);
      }
      if (a === WILDCARD) throw new MorganaError("EINVAL", "createSocketStack: 0.0.0.0 is not an interface address");
      if (!list.includes(a)) list.push(a);
    }
    this.list = list;
    this.restricted = true;
  }

  /**
   * The host addresses to bind for `address` (undefined = the wildcard).
   * Throws `EINVAL` for a malformed address, `EADDRNOTAVAIL` for one outside
   * a restricted stack.
   */
  bindTargets(address: unknown, syscall: string, port: number): string[] {
    if (address === undefined || address === WILDCARD) {
      return this.restricted ? [...this.list] : [WILDCARD];
    }
    if (typeof address !== "string" || !isIpv4(address)) {
      throw einval(syscall, `invalid IPv4 address ${JSON.stringify(address)}`, { address: String(address), port });
    }
    this.check(address, syscall, port);
    return [address];
  }

  /** Throws `EADDRNOTAVAIL` for an address a restricted stack does not own. */
  check(address: string, syscall: string, port: number): void {
    if (this.restricted && !this.list.includes(address) && !isLoopback(address)) {
      throw new MorganaError("EADDRNOTAVAIL", undefined, { syscall, address, port });
    }
  }

  /**
   * The local address for a connection to `remote` when the caller named
   * none: on the host, undefined (the OS picks); on a restricted stack, its
   * first address of the same kind as the destination (loopback or not), so
   * the connection leaves from an address the stack owns — undefined if it
   * has none of that kind.
   */
  sourceFor(remote: string): string | undefined {
    if (!this.restricted) return undefined;
    const loop = isLoopback(remote);
    return this.list.find((a) => isLoopback(a) === loop);
  }
}
