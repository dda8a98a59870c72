/**
 * The application signature: what `morgana run APP --target T` and
 * `morgana bundle` expect an application module to export (as its default
 * export). An application is written against this and the other signatures
 * only; the target (composition code) builds the stack and passes it in, as
 * MirageOS's `config.ml` does for a unikernel.
 */
import type { Clock, Random } from "./time.js";
import type { Stack } from "./flow.js";

/** The targets Morgana knows how to build an application for. */
export type AppTarget = "socket" | "direct" | "tap";

/** What a target gives the application when it starts. */
export interface AppContext {
  /** Which target built this stack. Applications should not behave differently by target; it is for display. */
  readonly target: AppTarget;
  /** The stack the application serves on. */
  readonly stack: Stack;
  readonly clock: Clock;
  readonly random: Random;
  /**
   * The address clients reach the application at, dotted quad: what the
   * application's own DNS zone should answer for its name (socket: the bound
   * host address, 127.0.0.1 by default; direct and tap: the server stack's
   * address).
   */
  readonly address: string;
  /** The ports the target wants each service on (socket: 8080 and 5353 by default; direct and tap: 80 and 53). */
  readonly ports: { readonly http: number; readonly dns: number };
  /** One line of progress for the operator (the target prints it, prefixed, or collects it in tests). */
  log(line: string): void;
}

/** A started application. */
export interface RunningApp {
  /** Stops every service the application started (listeners, sockets, timers). Idempotent. */
  close(): Promise<void>;
}

/** An application module's default export. */
export interface App {
  /** A short name, for logs and bundle file names. */
  readonly name: string;
  /** The DNS name the application serves and answers for, e.g. `homepage.morgana.test`. */
  readonly domain: string;
  /** The HTTP paths a client should fetch to see every page, in order (the `direct` target's client fetches these). */
  readonly pages: readonly string[];
  start(ctx: AppContext): Promise<RunningApp>;
}

/** Identity, for type inference: `export default defineApp({ ... })`. */
export function defineApp(app: App): App {
  return app;
}
