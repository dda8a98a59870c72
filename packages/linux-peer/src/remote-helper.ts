/**
 * The helper process behind {@link createRemoteStack}: it runs inside the
 * peer's network namespace (`ip netns exec <ns> node helper.mjs CONFIG`) and
 * serves a `@morgana/unix-socket` stack, whose sockets are that namespace's
 * kernel sockets, over frames on its standard input and output (see
 * remote-protocol.ts). It is bundled with esbuild at run time into one .mjs
 * file; it is not part of the package's build.
 *
 * Every request is dispatched synchronously on arrival, so calls on one
 * object reach it in the order the client made them; each is answered when
 * the stack's promise settles. Nothing is read from a flow unless the client
 * asked for it, and a write is answered only when the flow accepted it.
 */
import type { Datagram, TcpFlow, TcpInfo, TcpListener, UdpSocket } from "@morgana/interfaces";
import { createSocketStack, type SocketStackOptions } from "@morgana/unix-socket";
import { encodeHead, FrameReader, toWireError, type WireError } from "./remote-protocol.js";

interface HelperConfig {
  addresses?: string[];
  tcp?: SocketStackOptions["tcp"];
  udp?: SocketStackOptions["udp"];
}

type Entry = { kind: "flow"; flow: TcpFlow } | { kind: "listener"; listener: TcpListener } | { kind: "udp"; socket: UdpSocket };

interface Reply {
  r?: unknown;
  payload?: Uint8Array;
  i?: TcpInfo;
}

/** Standard output carries frames only: anything logged goes to standard error. */
for (const k of ["log", "info", "debug", "warn"] as const) console[k] = console.error.bind(console);

const config = JSON.parse(process.argv[2] ?? "{}") as HelperConfig;
const stack = createSocketStack({
  ...(config.addresses !== undefined ? { addresses: config.addresses } : {}),
  ...(config.tcp !== undefined ? { tcp: config.tcp } : {}),
  ...(config.udp !== undefined ? { udp: config.udp } : {}),
});
const handles = new Map<number, Entry>();
const cancels = new Map<number, AbortController>();
let nextHandle = 1;
let lastStats = "";

const EMPTY = new Uint8Array(0);

process.stdout.on("error", () => process.exit(1)); // the client is gone

function send(header: Record<string, unknown>, payload: Uint8Array = EMPTY): void {
  // Synchronous on Linux pipes: frames never interleave.
  process.stdout.write(encodeHead(header, payload.length));
  if (payload.length > 0) process.stdout.write(payload);
}

function withStats(header: Record<string, unknown>): Record<string, unknown> {
  const s = JSON.stringify(stack.stats());
  if (s !== lastStats) {
    lastStats = s;
    header.s = JSON.parse(s) as unknown;
  }
  return header;
}

function respond(id: number, work: () => Promise<Reply>, infoOf?: () => TcpInfo): void {
  let p: Promise<Reply>;
  try {
    p = work();
  } catch (e) {
    p = Promise.reject(e);
  }
  p.then(
    (rep) => {
      const header: Record<string, unknown> = { t: "r", id, r: rep.r ?? null };
      const info = rep.i ?? infoOf?.();
      if (info !== undefined) header.i = info;
      send(withStats(header), rep.payload);
    },
    (err: unknown) => {
      const header: Record<string, unknown> = { t: "r", id, e: toWireError(err) };
      const info = infoOf?.();
      if (info !== undefined) header.i = info;
      send(withStats(header));
    },
  );
}

function add(entry: Entry): number {
  const h = nextHandle++;
  handles.set(h, entry);
  return h;
}

function flowDesc(flow: TcpFlow): Reply {
  const h = add({ kind: "flow", flow });
  return { r: { h, local: flow.local, remote: flow.remote }, i: flow.info() };
}

function badHandle(h: unknown, want: string): Error {
  const e = new Error(`remote stack helper: no ${want} with handle ${String(h)}`) as Error & { code: string };
  e.code = "EBADF";
  return e;
}

function entry<K extends Entry["kind"]>(h: unknown, kind: K): Extract<Entry, { kind: K }> {
  const e = handles.get(h as number);
  if (e === undefined || e.kind !== kind) throw badHandle(h, kind);
  return e as Extract<Entry, { kind: K }>;
}

type Answer = { v: null } | { e: WireError };

async function settle(p: Promise<unknown>): Promise<Answer> {
  try {
    await p;
    return { v: null };
  } catch (e) {
    return { e: toWireError(e) };
  }
}

/** Splits a writev payload into the chunks the client sent. */
function chunks(payload: Uint8Array, lengths: unknown): Uint8Array[] {
  if (!Array.isArray(lengths)) return [payload];
  const out: Uint8Array[] = [];
  let off = 0;
  for (const n of lengths as number[]) {
    out.push(payload.subarray(off, off + n));
    off += n;
  }
  return out;
}

function call(id: number, m: string, h: unknown, a: Record<string, unknown> | undefined, payload: Uint8Array): void {
  switch (m) {
    case "tcp.listen":
      return respond(id, async () => {
        const listener = await stack.tcp.listen(a?.opts as never);
        return { r: { h: add({ kind: "listener", listener }), local: listener.local } };
      });
    case "tcp.connect": {
      let signal: AbortSignal | undefined;
      if (a?.signal === true) {
        const ac = new AbortController();
        if (a.aborted === true) ac.abort();
        else cancels.set(id, ac);
        signal = ac.signal;
      }
      const opts = a?.opts;
      const withSignal = signal !== undefined && typeof opts === "object" && opts !== null ? { ...opts, signal } : opts;
      return respond(id, async () => {
        try {
          return flowDesc(await stack.tcp.connect(withSignal as never));
        } finally {
          cancels.delete(id);
        }
      });
    }
    case "l.accept":
      return respond(id, async () => {
        const f = await entry(h, "listener").listener.accept();
        return f === null ? { r: null } : flowDesc(f);
      });
    case "l.close":
      return respond(id, async () => {
        await entry(h, "listener").listener.close();
        return {};
      });
    case "u.bind":
      return respond(id, async () => {
        const socket = await stack.udp.bind(a?.opts as never);
        return { r: { h: add({ kind: "udp", socket }), local: socket.local } };
      });
    case "u.send":
      return respond(id, async () => {
        const { socket } = entry(h, "udp");
        await socket.send(a?.bad === true ? (null as never) : payload, a?.to as never);
        return {};
      });
    case "u.recv":
      return respond(id, async () => {
        const d: Datagram | null = await entry(h, "udp").socket.recv();
        return d === null ? { r: null } : { r: { address: d.address, port: d.port }, payload: d.data };
      });
    case "u.close":
      return respond(id, async () => {
        await entry(h, "udp").socket.close();
        return {};
      });
    case "s.close":
      return respond(id, async () => {
        await stack.close();
        return {};
      });
  }
  // Flow calls: every answer carries the flow's info().
  const e = handles.get(h as number);
  if (e === undefined || e.kind !== "flow") return respond(id, () => Promise.reject(badHandle(h, "flow")));
  const flow = e.flow;
  const info = () => flow.info();
  switch (m) {
    case "f.read":
      return respond(
        id,
        async () => {
          const c = await flow.read();
          return c === null ? { r: null } : { r: c.length, payload: c };
        },
        info,
      );
    case "f.write":
      return respond(
        id,
        async () => {
          await flow.write(a?.bad !== undefined ? (null as never) : payload);
          return {};
        },
        info,
      );
    case "f.writev":
      return respond(
        id,
        async () => {
          const bad = a?.bad;
          await flow.writev(bad === "array" ? (null as never) : bad === "element" ? [null as never] : chunks(payload, a?.n));
          return {};
        },
        info,
      );
    case "f.shutdown":
      return respond(
        id,
        async () => {
          await flow.shutdown();
          return {};
        },
        info,
      );
    case "f.close":
      return respond(
        id,
        async () => {
          await flow.close();
          // What every later call would answer; the client answers them itself from now on.
          const final = { read: await settle(flow.read()), write: await settle(flow.write(EMPTY)), shutdown: await settle(flow.shutdown()) };
          return { r: { final } };
        },
        info,
      );
    case "f.info":
      return respond(id, async () => ({}), info);
    default:
      return respond(id, () => Promise.reject(new Error(`remote stack helper: unknown method ${m}`)));
  }
}

/** One-way messages: no answer. */
function cast(m: string, h: unknown, a: Record<string, unknown> | undefined): void {
  const e = handles.get(h as number);
  switch (m) {
    case "release":
      handles.delete(h as number);
      return;
    case "f.abort":
      if (e?.kind === "flow") e.flow.abort();
      handles.delete(h as number);
      return;
    case "f.nodelay":
      if (e?.kind === "flow") e.flow.setNoDelay(a?.on === true);
      return;
    case "f.keepalive":
      if (e?.kind === "flow") {
        try {
          e.flow.setKeepAlive(a?.enable === true, a?.opts as never);
        } catch {
          // The client checked the arguments already.
        }
      }
      return;
  }
}

const reader = new FrameReader();
process.stdin.on("data", (chunk: Buffer) => {
  for (const { header, payload } of reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
    const t = header.t;
    if (t === "c") call(header.id as number, header.m as string, header.h, header.a as Record<string, unknown> | undefined, payload);
    else if (t === "o") cast(header.m as string, header.h, header.a as Record<string, unknown> | undefined);
    else if (t === "x") cancels.get(header.id as number)?.abort();
  }
});
// The client closed the pipe (its stack was closed, or it died): close everything and leave.
process.stdin.on("end", () => {
  void stack.close().finally(() => process.exit(0));
});

send(withStats({ t: "hello", name: stack.name, addresses: stack.addresses(), pid: process.pid }));
