/**
 * @morgana/interfaces — the signatures every Morgana implementation provides
 * and every consumer programs against, plus tiny helpers (address parsing and
 * formatting, error classes, random helpers). No implementation lives here.
 *
 * Layering (each arrow is "is built on"):
 *
 *   application → Stack { Tcp, Udp } → Ipv4 (+ Icmp) → Arp, Ethernet → Netif
 *                 Resolver → Stack             Block (storage)
 *
 * Every implementation gets its dependencies (lower layers, Clock, Random)
 * injected by composition code; see docs/architecture.md.
 */
export * from "./errors.js";
export * from "./address.js";
export * from "./time.js";
export * from "./stats.js";
export * from "./netif.js";
export * from "./ipv4.js";
export * from "./flow.js";
export * from "./resolver.js";
export * from "./block.js";
export * from "./app.js";
