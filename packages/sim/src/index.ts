/**
 * @morgana/sim — time and randomness for Morgana: a virtual clock and a seeded
 * generator for deterministic tests and simulations, and the real system
 * clock and cryptographic generator for production.
 */
export { VirtualClock, type VirtualClockOptions, type RunLimits, type AutoAdvance, type AutoAdvanceOptions } from "./virtual-clock.js";
export { SeededRandom, SystemRandom, systemRandom } from "./random.js";
export { SystemClock, systemClock, type SystemClockOptions } from "./system-clock.js";
export { settle } from "./settle.js";
