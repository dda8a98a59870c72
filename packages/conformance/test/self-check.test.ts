/**
 * The suite catches what it claims to: each block runs one check against a
 * direct-stack pair with one deliberate defect, and expects that check to
 * fail (`expectedFailures` registers it with `it.fails`, which passes only
 * if the check fails).
 */
import type { Datagram, Stack, Tcp, TcpFlow, TcpListener, Udp, UdpSocket } from "@morgana/interfaces";
import { describeConformance, type StackPairFactory } from "../src/index.js";
import { directVnetifPair } from "./pairs.js";

interface Defects {
  flow?: (flow: TcpFlow) => TcpFlow;
  udpSocket?: (sock: UdpSocket) => UdpSocket;
}

/** `target` with some members replaced; the rest forwarded (methods bound to the target). */
function override<T extends object>(target: T, members: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(target, {
    get(t, k) {
      if (Object.prototype.hasOwnProperty.call(members, k)) return (members as Record<PropertyKey, unknown>)[k];
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

function defective(factory: StackPairFactory, d: Defects): StackPairFactory {
  const flow = d.flow ?? ((f: TcpFlow) => f);
  const sockOf = d.udpSocket ?? ((s: UdpSocket) => s);
  const listener = (l: TcpListener): TcpListener => {
    const accept = async () => {
      const f = await l.accept();
      return f === null ? null : flow(f);
    };
    return override(l, {
      accept,
      [Symbol.asyncIterator]: async function* () {
        for (;;) {
          const f = await accept();
          if (f === null) return;
          yield f;
        }
      },
    });
  };
  const tcp = (t: Tcp): Tcp =>
    override(t, { listen: async (o: Parameters<Tcp["listen"]>[0]) => listener(await t.listen(o)), connect: async (o: Parameters<Tcp["connect"]>[0]) => flow(await t.connect(o)) });
  const udp = (u: Udp): Udp => override(u, { bind: async (o?: Parameters<Udp["bind"]>[0]) => sockOf(await u.bind(o)) });
  const stack = (s: Stack): Stack => override(s, { tcp: tcp(s.tcp), udp: udp(s.udp) });
  return async () => {
    const p = await factory();
    return { a: stack(p.a), b: stack(p.b), addressOfA: p.addressOfA, addressOfB: p.addressOfB, close: () => p.close() };
  };
}

function expectCaught(defect: string, check: string, d: Defects, opts: { maxBufferedBytes?: number; timeoutMs?: number } = {}): void {
  describeConformance(`self-check: ${defect}`, defective(directVnetifPair(7), d), {
    ...opts,
    only: [check],
    expectedFailures: { [check]: `the pair has a defect: ${defect}` },
  });
}

expectCaught("read() flips one bit past byte 100 000", "tcp-echo", {
  flow: (f) => {
    let seen = 0;
    let done = false;
    return override(f, {
      read: async () => {
        const c = await f.read();
        if (c !== null && !done && seen + c.length > 100_000) {
          done = true;
          c[100_000 - seen]! ^= 1;
        }
        if (c !== null) seen += c.length;
        return c;
      },
    });
  },
});

expectCaught(
  "write() always resolves at once and buffers without bound",
  "tcp-backpressure",
  {
    flow: (f) => {
      let chain: Promise<void> = Promise.resolve();
      const later = (op: () => Promise<void>) => {
        const p = chain.then(op);
        chain = p.catch(() => undefined);
        return p;
      };
      return override(f, {
        write: (data: Uint8Array) => {
          void later(() => f.write(data)).catch(() => undefined);
          return Promise.resolve();
        },
        shutdown: () => later(() => f.shutdown()),
        close: () => later(() => f.close()),
      });
    },
  },
  { maxBufferedBytes: 2 << 20 },
);

expectCaught("flow.remote reports the wrong port", "tcp-connect", {
  flow: (f) => override(f, { remote: { ...f.remote, port: f.remote.port + 1 } }),
});

expectCaught("write() after shutdown() resolves instead of rejecting with EPIPE", "tcp-flow-errors", {
  flow: (f) => {
    let shut = false;
    return override(f, {
      shutdown: () => {
        shut = true;
        return f.shutdown();
      },
      write: (data: Uint8Array) => (shut ? Promise.resolve() : f.write(data)),
    });
  },
});

expectCaught(
  "read() never resolves at the end of stream (the watchdog fails the check)",
  "tcp-half-close",
  {
    flow: (f) =>
      override(f, {
        read: async () => {
          const c = await f.read();
          return c === null ? new Promise<never>(() => undefined) : c;
        },
      }),
  },
  { timeoutMs: 1000 },
);

expectCaught("recv() reports the wrong source port", "udp-exchange", {
  udpSocket: (s) =>
    override(s, {
      recv: async () => {
        const d = await s.recv();
        return d === null ? null : ({ ...d, port: d.port ^ 1 } satisfies Datagram);
      },
    }),
});
