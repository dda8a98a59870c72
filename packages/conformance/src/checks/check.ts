import type { CheckContext } from "../context.js";

/** One conformance check; directional checks run twice, a→b and b→a. */
export interface Check {
  /** Stable id, used by the `skip` and `expectedFailures` options. */
  readonly id: string;
  /** What it checks, for the test name. */
  readonly title: string;
  readonly directional: boolean;
  run(ctx: CheckContext): Promise<void>;
}
