/**
 * A real-time watchdog per test: every awaited step is registered with a
 * label, so a test that hangs fails with the list of what was still pending
 * instead of hitting the runner's timeout.
 */

export class Watchdog {
  private readonly pending = new Map<number, string>();
  private nextId = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private rejectFailed!: (err: Error) => void;
  private lastStep = "(start)";
  /** Rejects when the watchdog fires. */
  readonly failed: Promise<never>;

  constructor(
    private readonly testName: string,
    private readonly ms: number,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => undefined);
    this.timer = setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.timer = undefined;
    const list = [...this.pending.values()];
    this.rejectFailed(
      new Error(
        `watchdog: "${this.testName}" did not finish within ${this.ms} ms of real time; last step: ${this.lastStep}; still pending: ${
          list.length > 0 ? list.join("; ") : "(nothing registered)"
        }`,
      ),
    );
  }

  /** Records the step the test is at, for the watchdog's message. */
  step(label: string): void {
    this.lastStep = label;
  }

  /** Resolves or rejects with `p`, or rejects when the watchdog fires first; `label` is listed meanwhile. */
  wait<T>(label: string, p: Promise<T>): Promise<T> {
    const id = this.nextId++;
    this.pending.set(id, label);
    return Promise.race([p, this.failed]).finally(() => this.pending.delete(id));
  }

  /** Registers a pending operation without waiting for it; returns a function that ends it. */
  hold(label: string): () => void {
    const id = this.nextId++;
    this.pending.set(id, label);
    return () => void this.pending.delete(id);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
