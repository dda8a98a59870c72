import { type Fill, type FrameHandler, type LayerStats, type MacAddress, type Netif } from "@morgana/interfaces";

/**
 * A Netif stand-in: frames "received" are injected synchronously with
 * {@link inject} (including frames shorter than 14 bytes, which a vnetif port
 * refuses to send); transmitted frames are recorded with the size requested.
 */
export class FakeNetif implements Netif {
  readonly sent: { size: number; frame: Uint8Array; buffer: Uint8Array }[] = [];
  handler: FrameHandler | undefined;
  accept = true;

  constructor(
    readonly mac: MacAddress = 0x0200_0000_0001 as MacAddress,
    readonly mtu = 1500,
  ) {}

  transmit(size: number, fill: Fill): boolean {
    const buffer = new Uint8Array(size);
    let n: number;
    try {
      n = fill(buffer);
    } catch {
      return false;
    }
    if (!Number.isInteger(n) || n < 0 || n > size) return false;
    if (!this.accept) return false;
    this.sent.push({ size, frame: buffer.subarray(0, n), buffer });
    return true;
  }

  listen(handler: FrameHandler): void {
    this.handler = handler;
  }

  inject(frame: Uint8Array): void {
    this.handler!(frame);
  }

  stats(): LayerStats {
    return { counters: {}, drops: {} };
  }

  async close(): Promise<void> {}
}

/** Wraps a Netif and records the `size` of every transmit call and the bytes sent. */
export function spyNetif(inner: Netif): Netif & { calls: { size: number; frame: Uint8Array }[] } {
  const calls: { size: number; frame: Uint8Array }[] = [];
  return {
    calls,
    get mac() {
      return inner.mac;
    },
    get mtu() {
      return inner.mtu;
    },
    transmit(size: number, fill: Fill): boolean {
      return inner.transmit(size, (buf) => {
        const n = fill(buf);
        calls.push({ size, frame: buf.slice(0, n) });
        return n;
      });
    },
    listen: (h) => inner.listen(h),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
}

/** Copies `bytes` into a transmit call. */
export function sendRaw(netif: Netif, bytes: Uint8Array): boolean {
  return netif.transmit(bytes.length, (b) => {
    b.set(bytes);
    return bytes.length;
  });
}


export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function sumDrops(drops: Readonly<Record<string, number>>, reasons?: readonly string[]): number {
  return Object.entries(drops)
    .filter(([k]) => reasons === undefined || reasons.includes(k))
    .reduce((a, [, v]) => a + v, 0);
}

export { expectCode, expectReject } from "@morgana/testkit";
