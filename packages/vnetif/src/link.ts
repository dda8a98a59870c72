/**
 * A point-to-point link: two devices joined by a virtual cable.
 */
import { localMac, type Clock, type MacAddress, type Random } from "@morgana/interfaces";
import { DEFAULT_PORT_QUEUE_BYTES, Fabric, Port, type DeliverHook, type HandlerErrorHook, type VirtualPort } from "./fabric.js";
import { DEFAULT_MTU } from "./switch.js";
import { checkClock, checkFunction, checkInt, checkMac, checkMtu, checkNonNegative, checkOptions, checkRandom } from "./validate.js";

export interface LinkOptions {
  clock: Clock;
  /** Default 02:00:00:00:00:01 (or random when `random` is given). */
  macA?: MacAddress | number;
  /** Default 02:00:00:00:00:02 (or random when `random` is given). */
  macB?: MacAddress | number;
  /** Both ends' MTU, default 1500. */
  mtu?: number;
  /** One-way delay in ms, default 0 (delivered in a microtask). */
  latencyMs?: number;
  /** Bound on the bytes waiting for delivery to one end, default 16 MiB (see {@link VirtualSwitchOptions.queueBytes}). */
  queueBytes?: number;
  /** Source of the default MACs when given. */
  random?: Random;
  onDeliver?: DeliverHook;
  onHandlerError?: HandlerErrorHook;
}

/**
 * Creates a link and returns its two ends. Every valid frame one end transmits
 * is delivered to the other, whatever its destination MAC (a cable, not a
 * switch). Throws `EINVAL` on bad options.
 */
export function createLink(opts: LinkOptions): [VirtualPort, VirtualPort] {
  const where = "createLink";
  checkOptions(where, opts);
  const clock = checkClock(where, opts.clock);
  const latencyMs = checkNonNegative(where, "latencyMs", opts.latencyMs ?? 0);
  const queueBytes = checkInt(where, "queueBytes", opts.queueBytes ?? DEFAULT_PORT_QUEUE_BYTES, 1, Number.MAX_SAFE_INTEGER);
  const mtu = checkMtu(where, opts.mtu ?? DEFAULT_MTU);
  const random = opts.random === undefined ? undefined : checkRandom(where, opts.random);
  const macA =
    opts.macA !== undefined ? checkMac(where, "macA", opts.macA) : random !== undefined ? localMac(random) : (0x0200_0000_0001 as MacAddress);
  const macB =
    opts.macB !== undefined ? checkMac(where, "macB", opts.macB) : random !== undefined ? localMac(random) : (0x0200_0000_0002 as MacAddress);
  const onDeliver = opts.onDeliver === undefined ? undefined : checkFunction<DeliverHook>(where, "onDeliver", opts.onDeliver);
  const onHandlerError =
    opts.onHandlerError === undefined ? undefined : checkFunction<HandlerErrorHook>(where, "onHandlerError", opts.onHandlerError);
  const fabric = new LinkFabric({ clock, latencyMs, queueBytes, onDeliver, onHandlerError });
  const a = new Port({ fabric, index: 0, name: "a", mac: macA, mtu });
  const b = new Port({ fabric, index: 1, name: "b", mac: macB, mtu });
  fabric.ends = [a, b];
  return [a, b];
}

class LinkFabric extends Fabric {
  ends: [Port, Port] | undefined;

  forward(from: Port, frame: Uint8Array): void {
    const [a, b] = this.ends!;
    this.enqueue(from === a ? b : a, frame);
  }

  detach(): void {}
}
