/**
 * A scripted peer for segment-level tests: the TCP layer under test runs on a
 * FakeIpv4 at 10.77.0.1 (with a VirtualClock); the test plays 10.77.0.2 by
 * injecting hand-built segments and reading what the layer wrote.
 */
import { expect } from "vitest";
import { parseIpv4, type Ipv4Address } from "@morgana/interfaces";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { FakeIpv4 } from "@morgana/testkit";
import { ACK, decodeTcp, encodeTcp, flagNames, type TcpHeader, type TcpOptions } from "../src/index.js";
import { TcpLayer, type TcpLayerOptions } from "../src/layer.js";

export const LOCAL = "10.77.0.1";
export const REMOTE = "10.77.0.2";
export const LOCAL_IP = parseIpv4(LOCAL);
export const REMOTE_IP = parseIpv4(REMOTE);

/** A segment the layer wrote, decoded, with the time it was written. */
export interface Out extends TcpHeader {
  readonly at: number;
  readonly data: Uint8Array;
  readonly names: string;
}

export interface SegSpec {
  readonly sport?: number;
  readonly dport?: number;
  readonly seq: number;
  readonly ack?: number;
  readonly flags: number;
  readonly window?: number;
  readonly options?: TcpOptions;
  readonly data?: Uint8Array;
  readonly src?: string;
}

export class Harness {
  readonly clock: VirtualClock;
  readonly ip: FakeIpv4;
  readonly tcp: TcpLayer;
  /** Every segment written, decoded. */
  readonly log: Out[] = [];
  private cursor = 0;
  /** The remote (scripted) port. */
  rport = 40000;
  /** The port of the layer under test the script talks to. */
  lport = 80;

  constructor(opts: Partial<Omit<TcpLayerOptions, "ipv4" | "clock" | "random">> = {}, seed = 1, linkMtu = 1500) {
    this.clock = new VirtualClock();
    this.ip = new FakeIpv4({ clock: this.clock, addresses: [`${LOCAL}/24`], linkMtu });
    const ip = this.ip;
    const orig = ip.write.bind(ip);
    ip.write = (dst, protocol, size, fill, o) => {
      const before = ip.written.length;
      orig(dst, protocol, size, fill, o);
      for (let i = before; i < ip.written.length; i++) {
        const w = ip.written[i]!;
        const h = decodeTcp(w.payload);
        this.log.push({ ...h, at: this.clock.now(), data: h.payload.slice(), names: flagNames(h.flags) });
      }
    };
    this.tcp = new TcpLayer({ ...opts, ipv4: ip, clock: this.clock, random: new SeededRandom(seed) });
  }

  /** Injects a segment from the remote host (checksummed with the right pseudo-header). */
  send(s: SegSpec): void {
    const src = s.src === undefined ? REMOTE_IP : parseIpv4(s.src);
    const seg = encodeTcp(
      {
        srcPort: s.sport ?? this.rport,
        dstPort: s.dport ?? this.lport,
        seq: s.seq >>> 0,
        ack: (s.ack ?? 0) >>> 0,
        flags: s.flags,
        window: s.window ?? 65535,
        ...(s.options !== undefined ? { options: s.options } : {}),
      },
      s.data ?? new Uint8Array(0),
      src,
      LOCAL_IP,
    );
    this.ip.inject({ src, dst: LOCAL_IP, protocol: 6, payload: seg });
  }

  /** Segments written since the last call. */
  out(): Out[] {
    const o = this.log.slice(this.cursor);
    this.cursor = this.log.length;
    return o;
  }

  /** Exactly one new segment; returns it. */
  one(): Out {
    const o = this.out();
    expect(o.map((x) => `${x.names} seq=${x.seq} len=${x.data.length}`), "expected exactly one segment").toHaveLength(1);
    return o[0]!;
  }

  /** No new segment. */
  none(): void {
    const o = this.out();
    expect(o.map((x) => `${x.names} seq=${x.seq} ack=${x.ack} len=${x.data.length} at=${x.at}`)).toEqual([]);
  }

  async settle(ms = 0): Promise<void> {
    await this.clock.advance(ms);
  }

  drops(): Record<string, number> {
    return this.tcp.stats().drops as Record<string, number>;
  }

  counters(): Record<string, number> {
    return this.tcp.stats().counters as Record<string, number>;
  }
}

/** Unsigned 32-bit addition for scripted sequence numbers. */
export const add = (a: number, n: number): number => (a + n) >>> 0;

export const bytes = (n: number, seed = 1): Uint8Array => {
  const r = new SeededRandom(seed);
  const b = new Uint8Array(n);
  r.fill(b);
  return b;
};

/** The remote's ISN in scripts. */
export const RISN = 1_000_000;

/**
 * Completes an active open from the layer (connect) against the scripted
 * remote: returns the flow, our ISS, and the SYN we sent.
 */
export async function activeOpen(
  h: Harness,
  synAckOptions: TcpOptions = { mss: 1460, wscale: 7, sackPermitted: true, tsVal: 5000, tsEcr: 0 },
  window = 65535,
  connectOpts: Record<string, unknown> = {},
): Promise<{ flow: Awaited<ReturnType<TcpLayer["connect"]>>; iss: number; syn: Out }> {
  const p = h.tcp.connect({ address: REMOTE, port: 80, ...connectOpts });
  const syn = h.one();
  expect(syn.names).toBe("SYN");
  h.lport = syn.srcPort;
  h.rport = 80;
  const opts: TcpOptions = { ...synAckOptions };
  if (opts.tsVal !== undefined) opts.tsEcr = syn.options.tsVal ?? 0;
  h.send({ seq: RISN, ack: add(syn.seq, 1), flags: 0x12, window, options: opts });
  const flow = await p;
  const ackSeg = h.one();
  expect(ackSeg.names).toBe("ACK");
  return { flow, iss: syn.seq, syn };
}

/**
 * Completes a passive open (a listener on h.lport accepting from the
 * scripted remote): returns the accepted flow and our ISS.
 */
export async function passiveOpen(
  h: Harness,
  synOptions: TcpOptions = { mss: 1460, wscale: 7, sackPermitted: true, tsVal: 5000, tsEcr: 0 },
  window = 65535,
): Promise<{ flow: Awaited<ReturnType<TcpLayer["connect"]>>; iss: number; synAck: Out }> {
  const l = await h.tcp.listen({ port: h.lport });
  h.send({ seq: RISN, flags: 0x02, window, options: synOptions });
  const synAck = h.one();
  expect(synAck.names).toBe("ACK,SYN");
  const o: TcpOptions = synAck.options.tsVal !== undefined && synOptions.tsVal !== undefined ? { tsVal: synOptions.tsVal + 1, tsEcr: synAck.options.tsVal } : {};
  h.send({ seq: RISN + 1, ack: add(synAck.seq, 1), flags: ACK, window, options: o });
  const flow = (await l.accept())!;
  return { flow, iss: synAck.seq, synAck };
}

export type { Ipv4Address };
