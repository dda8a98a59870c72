/**
 * @morgana/vnetif — an in-memory virtual network with no real I/O: a learning
 * switch, point-to-point links, and impairment middlewares (loss, duplication,
 * reordering, corruption, delay, bandwidth, MTU, outages), all driven by an
 * injected Clock and Random so a seed reproduces a run exactly.
 */
export { VirtualSwitch, DEFAULT_MAC_AGE_MS, DEFAULT_MAC_TABLE_SIZE, DEFAULT_MTU } from "./switch.js";
export type { VirtualSwitchOptions, PortOptions, MacTableEntry } from "./switch.js";
export { createLink, type LinkOptions } from "./link.js";
export { DEFAULT_PORT_QUEUE_BYTES, MIN_CHARGE, type VirtualPort, type DeliverHook, type HandlerErrorHook } from "./fabric.js";
export { Middleware, type ImpairedNetif } from "./middleware.js";
export {
  withLoss,
  withDuplication,
  withCorruption,
  withReordering,
  withDelay,
  withBandwidth,
  withMtu,
  withOutages,
  DEFAULT_HOLD_LIMIT,
  type LossOptions,
  type BurstLoss,
  type DuplicationOptions,
  type CorruptionOptions,
  type ReorderingOptions,
  type DelayOptions,
  type BandwidthOptions,
  type MtuOptions,
  type Outage,
  type OutagesOptions,
} from "./impairments.js";
export { impair, type ImpairOptions } from "./impair.js";
export { deriveRandom } from "./random.js";
export { isVlanTagged, fitsMtu } from "./frame.js";
export { MAX_MTU, type Direction } from "./validate.js";
