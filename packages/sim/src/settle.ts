/**
 * Resolves after every queued microtask has run (and the promise chains they
 * start, as far as they do not wait for I/O or timers): it waits for the next
 * macrotask turn of the host's event loop.
 */
export function settle(): Promise<void> {
  const g = globalThis as { setImmediate?: (cb: () => void) => unknown };
  if (typeof g.setImmediate === "function") return new Promise((r) => g.setImmediate!(r));
  if (typeof MessageChannel === "function") {
    return new Promise((r) => {
      const ch = new MessageChannel();
      (ch.port1 as unknown as { onmessage: (() => void) | null }).onmessage = () => {
        ch.port1.close();
        r();
      };
      ch.port2.postMessage(0);
    });
  }
  return new Promise((r) => setTimeout(r, 0));
}
