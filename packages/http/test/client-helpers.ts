/**
 * An in-memory `Tcp` for client tests: `connect()` returns one end of a
 * tcpFlowPair and hands the other end to a server function (our HTTP server's
 * handleConnection, or a scripted raw peer). Addresses map to servers, so
 * several origins can be simulated.
 */
import { tcpFlowPair, type MemoryTcpFlow } from "@morgana/flow";
import { MorganaError, type LayerStats, type Resolver, type Tcp, type TcpConnectOptions, type TcpFlow, type TcpListener } from "@morgana/interfaces";

export type Accept = (flow: MemoryTcpFlow) => void;

export interface MemoryTcp extends Tcp {
  /** Connections made, by "address:port". */
  readonly connects: Map<string, number>;
  /** Every client-side flow opened. */
  readonly flows: MemoryTcpFlow[];
  total(): number;
}

export function memoryTcp(servers: Record<string, Accept>, bufferSize?: number): MemoryTcp {
  const connects = new Map<string, number>();
  const flows: MemoryTcpFlow[] = [];
  let port = 40000;
  return {
    connects,
    flows,
    total: () => [...connects.values()].reduce((a, b) => a + b, 0),
    listen(): Promise<TcpListener> {
      return Promise.reject(new MorganaError("ENOTSUP", "memoryTcp cannot listen"));
    },
    async connect(o: TcpConnectOptions): Promise<TcpFlow> {
      if (o.signal?.aborted) throw new MorganaError("ABORT_ERR", "aborted");
      const key = `${o.address}:${o.port}`;
      const accept = servers[key];
      if (accept === undefined) throw new MorganaError("ECONNREFUSED", `connect ECONNREFUSED ${key}`, { address: o.address, port: o.port, syscall: "connect" });
      connects.set(key, (connects.get(key) ?? 0) + 1);
      const [c, s] = tcpFlowPair({
        addresses: [
          { address: "10.0.0.1", port: port++, family: "IPv4" },
          { address: o.address, port: o.port, family: "IPv4" },
        ],
        ...(bufferSize !== undefined ? { bufferSize } : {}),
      });
      flows.push(c);
      accept(s);
      return c;
    },
    stats(): LayerStats {
      return { counters: {}, drops: {} };
    },
  };
}

/** A resolver from a table; unknown names are ENOTFOUND. */
export function tableResolver(table: Record<string, string>): Resolver & { lookups: string[] } {
  const lookups: string[] = [];
  const lookup = async (hostname: string): Promise<{ address: string; family: 4 }> => {
    lookups.push(hostname);
    const a = table[hostname];
    if (a === undefined) throw new MorganaError("ENOTFOUND", `getaddrinfo ENOTFOUND ${hostname}`, { hostname });
    return { address: a, family: 4 };
  };
  return { lookups, lookup: lookup as Resolver["lookup"] };
}

/** Reads the request head (up to CRLFCRLF) from a raw flow; returns it as text and the bytes after it. */
export async function readHead(flow: MemoryTcpFlow, carry = ""): Promise<{ head: string; rest: string } | null> {
  let buf = carry;
  for (;;) {
    const i = buf.indexOf("\r\n\r\n");
    if (i >= 0) return { head: buf.slice(0, i + 4), rest: buf.slice(i + 4) };
    const c = await flow.read();
    if (c === null) return null;
    for (const b of c) buf += String.fromCharCode(b);
  }
}

export const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);
