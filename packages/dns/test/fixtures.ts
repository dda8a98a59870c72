/**
 * Shared test material: the zones, a virtual network of pure-TS stacks with a
 * virtual clock, helpers to drive the clock until a promise settles and to
 * watch DNS datagrams on the wire, and the rule for tests that need a system
 * tool (dig, nsd).
 */
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { toolsRequired } from "@morgana/linux-peer";
import { SeededRandom, VirtualClock } from "@morgana/sim";
import { createStack, type DirectStack } from "@morgana/stack";
import { VirtualSwitch } from "@morgana/vnetif";
import { it, type TestFunction } from "vitest";
import { AuthoritativeServer, parseZone, Zone } from "../src/index.js";

/** 100 A records: about 1,600 bytes, over the 1,232-byte EDNS limit. */
export const MANY = Array.from({ length: 100 }, (_, i) => `many 300 A 10.1.${i >> 8}.${(i & 255) + 1}`).join("\n");

export const ZONE_TEXT = `$ORIGIN example.test.
$TTL 300
@       3600 SOA ns1 hostmaster 2026112601 3600 900 604800 120
@       NS  ns1
ns1     A   10.0.0.1
www     A   10.77.0.2
www     AAAA 2001:db8::2
v4only  A   10.77.0.3
v6only  AAAA 2001:db8::3
two     A   10.77.0.5
two     A   10.77.0.6
alias   CNAME www
alias2  CNAME alias
ext     CNAME www.other.test.
dangling CNAME nothing.other.test.
loop1   CNAME loop2
loop2   CNAME loop1
short   60 A 10.77.0.9
txt     TXT "hello" "world"
big     TXT "${"x".repeat(200)}" "${"y".repeat(200)}"
big     TXT "${"z".repeat(200)}"
mx      MX 10 mail
mail    A   10.77.0.4
c0 CNAME c1
c1 CNAME c2
c2 CNAME c3
c3 CNAME c4
c4 CNAME c5
c5 CNAME c6
c6 CNAME c7
c7 CNAME c8
c8 CNAME c9
c9 CNAME www
${MANY}
`;

export const OTHER_TEXT = `$ORIGIN other.test.
$TTL 60
@ 600 SOA ns hostmaster 7 3600 900 604800 30
@ NS ns
ns A 10.0.0.1
www A 192.0.2.7
`;

export function zones(): Zone[] {
  return [new Zone(parseZone(ZONE_TEXT).records), new Zone(parseZone(OTHER_TEXT).records)];
}

export function engine(): AuthoritativeServer {
  return new AuthoritativeServer({ zones: zones() });
}

export interface Frame {
  at: number;
  to: string;
  frame: Uint8Array;
}

export interface VNet {
  clock: VirtualClock;
  random: SeededRandom;
  sw: VirtualSwitch;
  wire: Frame[];
  handlerErrors: unknown[];
  host(address: string): DirectStack;
  closeAll(): Promise<void>;
}

/** Stacks on one virtual switch (1 ms one way), a virtual clock, a seeded generator. */
export function vnet(seed = 1, latencyMs = 1): VNet {
  const clock = new VirtualClock();
  const random = new SeededRandom(seed);
  const wire: Frame[] = [];
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
    host(address) {
      const i = n++;
      const s = createStack({ netif: sw.createPort({ name: address }), address: `${address}/24`, clock, random: random.fork(`host${i}`) });
      stacks.push(s);
      return s;
    },
    async closeAll() {
      for (const s of stacks) await s.close();
      await clock.runUntilIdle();
    },
  };
}

/** Runs the virtual clock until `p` settles; resolves or rejects like `p`. Records when it settled. */
export async function run<T>(clock: VirtualClock, p: Promise<T>): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await clock.runUntil(() => done, { maxTimeMs: 3600_000 });
  return p;
}

/** The rejection of `p` (fails the test if it resolves), with the virtual time it happened. */
export async function rejection(clock: VirtualClock, p: Promise<unknown>): Promise<{ err: { code?: string; hostname?: string; message: string }; at: number }> {
  let at = NaN;
  const q = p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => {
      at = clock.now();
      return e as { code?: string; hostname?: string; message: string };
    },
  );
  const err = await run(clock, q);
  return { err, at };
}

export interface UdpOnWire {
  at: number;
  to: string;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/** UDP datagrams (IPv4 in Ethernet II) delivered by the switch. */
export function udpOnWire(wire: readonly Frame[]): UdpOnWire[] {
  const out: UdpOnWire[] = [];
  const ip = (f: Uint8Array, o: number) => `${f[o]}.${f[o + 1]}.${f[o + 2]}.${f[o + 3]}`;
  for (const w of wire) {
    const f = w.frame;
    if (f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 17) continue;
    const ihl = (f[14]! & 15) * 4;
    const u = 14 + ihl;
    const len = (f[u + 4]! << 8) | f[u + 5]!;
    out.push({
      at: w.at,
      to: w.to,
      src: ip(f, 26),
      dst: ip(f, 30),
      srcPort: (f[u]! << 8) | f[u + 1]!,
      dstPort: (f[u + 2]! << 8) | f[u + 3]!,
      payload: f.slice(u + 8, u + len),
    });
  }
  return out;
}

/** DNS queries on the wire: UDP datagrams to port `port` (53), as delivered to `to`. */
export function queriesTo(wire: readonly Frame[], address: string, port = 53): UdpOnWire[] {
  return udpOnWire(wire).filter((d) => d.dst === address && d.dstPort === port);
}

/**
 * `it` for a test that needs system tools: skipped with the reason in its
 * name when one is missing, except under MORGANA_REQUIRE_TOOLS=1 (CI), where
 * it fails with the reason.
 */
/** The full path of `cmd` found on PATH (also /usr/sbin, /sbin), or undefined. */
export function findTool(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/sbin"];
  for (const d of dirs) {
    if (d === "") continue;
    const p = path.join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function toolIt(tools: readonly string[], name: string, fn: TestFunction, timeoutMs?: number): void {
  const missing = tools.filter((t) => findTool(t) === undefined);
  if (missing.length === 0) it(name, fn, timeoutMs);
  else if (toolsRequired()) {
    it(name, () => {
      throw new Error(`MORGANA_REQUIRE_TOOLS=1 but ${missing.join(", ")} not found on PATH`);
    });
  } else {
    console.warn(`skipping "${name}": ${missing.join(", ")} not found (set MORGANA_REQUIRE_TOOLS=1 to make this a failure)`);
    it.skip(`${name} [skipped: ${missing.join(", ")} not found]`, fn);
  }
}
