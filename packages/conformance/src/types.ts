/**
 * The contract between the suite and the code that runs it: a factory for a
 * pair of connected stacks, and the options.
 */
import type { Stack } from "@morgana/interfaces";

/** Two stacks that reach each other over some network. */
export interface StackPair {
  readonly a: Stack;
  readonly b: Stack;
  /** The address of `a` as `b` reaches it (dotted quad). */
  readonly addressOfA: string;
  /** The address of `b` as `a` reaches it (dotted quad). */
  readonly addressOfB: string;
  /** Releases everything the factory created (both stacks, devices, namespaces, processes). Idempotent. */
  close(): Promise<void>;
}

/** Creates a fresh pair; the suite calls it once per test and closes the pair after the test. */
export type StackPairFactory = () => Promise<StackPair>;

export interface ConformanceOptions {
  /** Per-test timeout in ms of real time (the watchdog), default 60 000. */
  timeoutMs?: number;
  /** Scales data sizes and connection counts down (or up) for slow pairs, default 1. */
  scale?: number;
  /**
   * Inclusive range the ephemeral ports of both stacks must lie in (the local
   * port of `connect()` without `localPort`, `listen({ port: 0 })`,
   * `bind()` without a port). Default [1024, 65535]: the interface names no
   * range, so the default only excludes port 0 and the privileged ports.
   */
  ephemeralPortRange?: readonly [number, number];
  /**
   * Whether an ICMP port unreachable must reach the sending UDP socket (its
   * next `recv()` rejecting with `ECONNREFUSED`). Default true. The UdpSocket
   * contract exempts hosts that cannot observe ICMP errors on unconnected
   * sockets (the Unix socket stack); pass false for such a pair: an error, if
   * one is reported, is still checked.
   */
  udpIcmpErrors?: boolean;
  /**
   * The most bytes a writer may get accepted while its peer reads nothing
   * (send buffer + receive buffer + what the implementations hold in memory),
   * default 16 MiB. The backpressure check fails above it.
   */
  maxBufferedBytes?: number;
  /** Seed of the generated data, sizes and chunkings (default a fixed value). */
  seed?: number;
  /** Register only these checks (by id); default every check. */
  only?: readonly string[];
  /**
   * Checks to skip, by id (`"tcp-echo"`) or id and direction (`"tcp-echo a→b"`),
   * with the reason (shown in the test name). See `CHECK_IDS`.
   */
  skip?: Readonly<Record<string, string>>;
  /**
   * Checks known to fail (a documented discrepancy), registered with
   * `it.fails`: they pass while they fail and fail once fixed. Same keys as `skip`.
   */
  expectedFailures?: Readonly<Record<string, string>>;
}
