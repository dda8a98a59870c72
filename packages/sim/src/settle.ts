/** A cancellable macrotask, as {@link scheduleMacrotask} returns it. */
export interface Macrotask {
  cancel(): void;
}

type ImmediateHost = {
  setImmediate?: (cb: () => void) => unknown;
  clearImmediate?: (handle: unknown) => void;
};

/**
 * Runs `callback` on the next macrotask turn of the host's event loop, after
 * every queued microtask: `setImmediate` in Node, a `MessageChannel` message
 * in browsers, `setTimeout(0)` where neither exists.
 */
export function scheduleMacrotask(callback: () => void): Macrotask {
  const g = globalThis as ImmediateHost;
  if (typeof g.setImmediate === "function") {
    const h = g.setImmediate(callback);
    return { cancel: () => g.clearImmediate?.(h) };
  }
  if (typeof MessageChannel === "function") {
    const ch = new MessageChannel();
    let live = true;
    (ch.port1 as unknown as { onmessage: (() => void) | null }).onmessage = () => {
      ch.port1.close();
      if (live) {
        live = false;
        callback();
      }
    };
    ch.port2.postMessage(0);
    return {
      cancel: () => {
        live = false;
        ch.port1.close();
      },
    };
  }
  const h = setTimeout(callback, 0);
  return { cancel: () => clearTimeout(h) };
}

/**
 * Resolves after every queued microtask has run (and the promise chains they
 * start, as far as they do not wait for I/O or timers): it waits for the next
 * macrotask turn of the host's event loop.
 */
export function settle(): Promise<void> {
  return new Promise((r) => void scheduleMacrotask(r));
}
