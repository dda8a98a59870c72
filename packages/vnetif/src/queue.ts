/**
 * A deadline-ordered queue driven by one clock timer (and the FIFO ring queue,
 * re-exported from @morgana/collections).
 */
import { deadlineOrder, MinHeap } from "@morgana/collections";
import type { Clock, Timer } from "@morgana/interfaces";

export { RingQueue } from "@morgana/collections";

interface TimedItem<T> {
  at: number;
  seq: number;
  value: T;
}

/**
 * Values released at their deadline, earliest first, equal deadlines in
 * insertion order. One clock timer is armed for the earliest deadline. A
 * release pass hands out only the values that were queued when it started
 * (values pushed from inside `release`, even with a deadline already due, wait
 * for the next pass, which is a fresh timer), so zero-delay feedback loops
 * cannot starve the clock.
 */
export class TimedQueue<T> {
  private heap = new MinHeap<TimedItem<T>>(deadlineOrder);
  private seq = 0;
  private timer: Timer | undefined;
  private armedAt = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly release: (value: T) => void,
  ) {}

  get size(): number {
    return this.heap.size;
  }

  push(at: number, value: T): void {
    this.heap.push({ at, seq: this.seq++, value });
    if (at < this.armedAt) this.arm();
  }

  /** Removes every value without releasing it and returns them (in no particular order). */
  drain(): T[] {
    this.timer?.cancel();
    this.timer = undefined;
    this.armedAt = Infinity;
    return this.heap.drain().map((e) => e.value);
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.armedAt = Infinity;
    const top = this.heap.peek();
    if (top === undefined) return;
    this.armedAt = top.at;
    this.timer = this.clock.setTimer(top.at - this.clock.now(), this.fire);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.clock.now();
    const limit = this.seq; // values pushed during this pass wait for the next one
    let first: unknown;
    let failed = false;
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined || top.at > now || top.seq >= limit) break;
      this.heap.pop();
      try {
        this.release(top.value);
      } catch (e) {
        if (!failed) (first = e), (failed = true);
      }
    }
    this.arm();
    if (failed) throw first;
  };
}
