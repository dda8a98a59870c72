/**
 * @morgana/conformance — the Stack/Tcp/Udp/Flow conformance suite. Give
 * `describeConformance` a factory for two connected stacks and it registers,
 * with vitest, every check of the contracts documented in
 * `@morgana/interfaces`, in both directions. See the README for the list.
 */
export type { StackPair, StackPairFactory, ConformanceOptions } from "./types.js";
export { describeConformance, CHECK_IDS, DEFAULT_SEED } from "./suite.js";
export { PatternSource, PatternVerifier, chunkSizes } from "./data.js";
export { Watchdog } from "./watchdog.js";
