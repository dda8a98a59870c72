import { VirtualClock, SeededRandom } from "@morgana/sim";
import { VirtualSwitch, impair, type ImpairOptions } from "@morgana/vnetif";
import type { LayerStats } from "@morgana/interfaces";
import { createStack, type DirectStack, type StackOptions } from "../src/index.js";

export interface Net {
  clock: VirtualClock;
  random: SeededRandom;
  sw: VirtualSwitch;
  /** Every frame delivered by the switch: time, receiving port name, bytes (copied). */
  wire: { at: number; to: string; frame: Uint8Array }[];
  /** Exceptions thrown by any receive handler (must stay empty). */
  handlerErrors: unknown[];
  host(address: string, opts?: Partial<StackOptions> & { impair?: Omit<ImpairOptions, "clock" | "random"> }): DirectStack;
  stacks: DirectStack[];
  closeAll(): Promise<void>;
}

/** Hosts on one virtual switch, with a virtual clock and a seeded generator. */
export function network(seed = 1, latencyMs = 1): Net {
  const clock = new VirtualClock();
  const random = new SeededRandom(seed);
  const wire: Net["wire"] = [];
  const handlerErrors: unknown[] = [];
  const sw = new VirtualSwitch({
    clock,
    latencyMs,
    onDeliver: (port, frame, at) => wire.push({ at, to: port.name, frame: frame.slice() }),
    onHandlerError: (e) => handlerErrors.push(e),
  });
  const stacks: DirectStack[] = [];
  let n = 0;
  return {
    clock,
    random,
    sw,
    wire,
    handlerErrors,
    stacks,
    host(address, opts = {}) {
      const i = n++;
      const port = sw.createPort({ name: `h${i}` });
      const { impair: imp, ...rest } = opts;
      const netif = imp === undefined ? port : impair(port, { clock, random: random.fork(`impair${i}`), ...imp });
      const s = createStack({ netif, address, clock, random: random.fork(`host${i}`), ...rest });
      stacks.push(s);
      return s;
    },
    async closeAll() {
      for (const s of stacks) await s.close();
      await clock.runUntilIdle();
    },
  };
}

/** ARP frames on the wire (EtherType 0x0806): opcode, sender IP, target IP (dotted), time. */
export function arpFrames(wire: Net["wire"]): { at: number; to: string; op: number; sender: string; target: string }[] {
  const ip = (f: Uint8Array, o: number) => `${f[o]}.${f[o + 1]}.${f[o + 2]}.${f[o + 3]}`;
  return wire
    .filter((w) => w.frame[12] === 0x08 && w.frame[13] === 0x06)
    .map((w) => ({ at: w.at, to: w.to, op: (w.frame[20]! << 8) | w.frame[21]!, sender: ip(w.frame, 28), target: ip(w.frame, 38) }));
}

/** Sum of every drop counter over the layers of a stack. */
export function totalDrops(stats: Readonly<Record<string, LayerStats>>): number {
  let n = 0;
  for (const l of Object.values(stats)) for (const v of Object.values(l.drops)) n += v;
  return n;
}

export function bytes(n: number, seed: number): Uint8Array {
  const r = new SeededRandom(seed);
  const b = new Uint8Array(n);
  r.fill(b);
  return b;
}

export const te = new TextEncoder();
