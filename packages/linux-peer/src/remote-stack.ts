/**
 * A {@link Stack} whose sockets are the Linux kernel's inside a peer's
 * network namespace: the other half of a pair in which Morgana's direct stack
 * talks to Linux through the Stack interface on both sides.
 *
 *   this process                              namespace <ns>
 *   RemoteStack ── frames on stdin/stdout ──> node helper.mjs: createSocketStack({ addresses: [peer.address] })
 *                                              └─ node:net / node:dgram → the kernel's TCP/UDP on the TAP
 *
 * The helper (remote-helper.ts) is bundled with esbuild once per process into
 * a temporary .mjs file and started with `ip netns exec <ns> node`. Every
 * method call is one request frame and one answer frame (remote-protocol.ts);
 * flow data and datagrams travel as raw bytes after a JSON header.
 *
 * Semantics are the helper's unix-socket stack's: a write resolves when the
 * remote `flow.write` resolved; a remote `flow.read` happens only when the
 * local `read()` is called (nothing is read ahead, so a reader that stops
 * stops the kernel socket's reading and the TCP window closes); errors keep
 * their code, errno, syscall, address and port. `info()` and `stats()` are
 * synchronous in the interface: they return the snapshot that came with the
 * latest answer (see the README).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  MorganaError,
  type Datagram,
  type KeepAliveOptions,
  type LayerStats,
  type SocketAddress,
  type Stack,
  type Tcp,
  type TcpConnectOptions,
  type TcpFlow,
  type TcpInfo,
  type TcpListenOptions,
  type TcpListener,
  type Udp,
  type UdpBindOptions,
  type UdpDestination,
  type UdpSocket,
} from "@morgana/interfaces";
import type { SocketTcpOptions, SocketUdpOptions } from "@morgana/unix-socket";
import { processAlive, type LinuxPeer } from "./peer.js";
import type { ExitStatus, PeerProcess } from "./process.js";
import { encodeHead, FrameReader, fromWireError, type Frame, type WireError } from "./remote-protocol.js";

/** Default bound on starting the helper (bundling, `node` start-up, its first frame): 20 s. */
export const DEFAULT_START_TIMEOUT_MS = 20_000;
/** Default bound on `close()` waiting for the helper to close its stack: 10 s; then it is killed. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** How much of the helper's standard error a crash error quotes: the last 2000 characters. */
const STDERR_TAIL = 2000;

export interface RemoteStackOptions {
  /**
   * The addresses the helper's socket stack is restricted to (its
   * `addresses` option). Default `[peer.address]`: the wildcard binds the
   * kernel's address on the TAP, and `addresses()` is that one address.
   */
  addresses?: readonly string[];
  /** The helper's unix-socket TCP options (backlog, highWaterMark, finTimeoutMs, connectTimeoutMs). */
  tcp?: SocketTcpOptions;
  /** The helper's unix-socket UDP options (receiveQueue, recvBufferSize, sendBufferSize). */
  udp?: SocketUdpOptions;
  /** The stack's `name`, default `"linux-remote"`. */
  name?: string;
  /** Bound on starting the helper, default 20 000 ms. */
  startTimeoutMs?: number;
  /** Bound on `close()` waiting for the helper's stack to close, default 10 000 ms; the helper is then killed. */
  closeTimeoutMs?: number;
}

/** The remote stack: a {@link Stack}, plus what a test may want to know about the helper. */
export interface RemoteStack extends Stack {
  /** The helper process (in the namespace): `helper.pid`, `helper.stderr()`, `helper.kill()`. */
  readonly helper: PeerProcess;
  /** Resolves when the helper exits. */
  readonly helperExited: Promise<ExitStatus>;
  /** The error every call gets since the helper died without `close()`; undefined while it runs. */
  readonly crashed: MorganaError | undefined;
  /** Counters by layer: `tcp` and `udp` (the helper's, as of the latest answer) and `rpc` (this end's). */
  stats(): Readonly<Record<string, LayerStats>>;
}

// ---- the helper bundle ---------------------------------------------------------------------

let bundling: Promise<string> | undefined;

function helperSource(): string {
  const here = import.meta.url;
  for (const rel of ["./remote-helper.ts", "../src/remote-helper.ts"]) {
    const file = fileURLToPath(new URL(rel, here));
    if (existsSync(file)) return file;
  }
  throw new MorganaError("ENOENT", `createRemoteStack: remote-helper.ts not found next to ${here}`);
}

const BUNDLE_DIR_RE = /^morgana-remote-(\d+)-/;

/** Removes the bundle directories of dead processes (a test worker killed before its exit handlers ran). */
function sweepBundles(): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const e of entries) {
    const m = BUNDLE_DIR_RE.exec(e);
    if (m === null || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    rmSync(path.join(tmpdir(), e), { recursive: true, force: true });
  }
}

/**
 * Bundles the helper (and the workspace sources it imports, through the
 * "@morgana/source" condition) into one .mjs file in a temporary directory,
 * once per process; the directory is removed when the process exits (and,
 * should it be killed, by the next process that bundles).
 * Resolves with the file's path.
 */
export function remoteHelperBundle(): Promise<string> {
  if (bundling !== undefined) return bundling;
  const attempt = (async () => {
    // esbuild is an optional peer dependency: only the remote stack needs it.
    const { build } = await import("esbuild").catch((e: unknown) => {
      throw new MorganaError("ENOTSUP", "createRemoteStack needs the esbuild package (npm install --save-dev esbuild)", { cause: e });
    });
    const result = await build({
      entryPoints: [helperSource()],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      conditions: ["@morgana/source"],
      write: false,
      sourcemap: "inline",
      logLevel: "silent",
      plugins: [
        {
          name: "external-deps",
          setup(b) {
            // Workspace packages are bundled from source; anything else loads from node_modules.
            b.onResolve({ filter: /^[^./]/ }, (args) =>
              args.path.startsWith("@morgana/") || args.path.startsWith("node:") ? undefined : { path: args.path, external: true },
            );
          },
        },
      ],
    });
    const out = result.outputFiles[0];
    if (out === undefined) throw new MorganaError("EIO", "createRemoteStack: esbuild produced no output");
    sweepBundles();
    const dir = mkdtempSync(path.join(tmpdir(), `morgana-remote-${process.pid}-`));
    const file = path.join(dir, "helper.mjs");
    writeFileSync(file, out.contents);
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    return file;
  })();
  bundling = attempt;
  attempt.catch(() => {
    if (bundling === attempt) bundling = undefined; // a later call tries again
  });
  return attempt;
}

// ---- the RPC channel -----------------------------------------------------------------------

/** What a pending call becomes when the channel dies: rejected, resolved with `null` (accept, recv), or resolved (close). */
type OnDead = "reject" | "null" | "resolve";

interface Response {
  readonly r: unknown;
  readonly payload: Uint8Array;
  readonly i: TcpInfo | undefined;
}

interface Pending {
  readonly id: number;
  readonly onDead: OnDead;
  readonly owner: Set<Pending> | undefined;
  readonly mapError: ((w: WireError) => MorganaError) | undefined;
  readonly closedError: (() => MorganaError) | undefined;
  readonly onInfo: ((i: TcpInfo) => void) | undefined;
  resolve(res: Response): void;
  reject(err: Error): void;
}

interface CallOptions {
  onDead?: OnDead;
  /** The object's set of calls in flight (so that `abort()` can settle them). */
  owner?: Set<Pending>;
  mapError?: (w: WireError) => MorganaError;
  /** The error when the stack is closed while the call is pending (default ECONNABORTED "the stack was closed"). */
  closedError?: () => MorganaError;
  onInfo?: (i: TcpInfo) => void;
  onId?: (id: number) => void;
}

interface Hello {
  name: string;
  addresses: string[];
  pid: number;
}

const EMPTY = new Uint8Array(0);
const NULL_RESPONSE: Response = { r: null, payload: EMPTY, i: undefined };
const NO_STATS: LayerStats = { counters: {}, drops: {} };

function stackClosed(): MorganaError {
  return new MorganaError("ECONNABORTED", "the stack was closed");
}

function socketClosed(syscall: string, what = "the stack"): MorganaError {
  return new MorganaError("ERR_SOCKET_CLOSED", `${syscall}: ${what} is closed`, { syscall });
}

class Rpc {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly reader = new FrameReader();
  /** Set when the channel is over: the stack was closed, or the helper died. */
  dead: { kind: "closed" | "crashed"; error: MorganaError } | undefined;
  /** `close()` was called on the stack. */
  closing = false;
  stats: Record<string, LayerStats> = {};
  readonly counters = { calls: 0, casts: 0, framesSent: 0, bytesSent: 0 };
  readonly hello: Promise<Hello>;
  private gotHello!: (h: Hello) => void;

  constructor(
    readonly proc: PeerProcess,
    private readonly where: string,
  ) {
    this.hello = new Promise((resolve) => (this.gotHello = resolve));
    proc.child.stdout!.on("data", (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      } catch (e) {
        this.fail(`sent a malformed frame (${(e as Error).message})`);
        void proc.kill("SIGKILL");
        return;
      }
      for (const f of frames) this.onFrame(f);
    });
    void proc.exited.then((st) => {
      if (this.dead !== undefined) return;
      if (this.closing) this.markDead("closed", stackClosed());
      else this.fail(`exited unexpectedly (${st.signal !== null ? `signal ${st.signal}` : `exit code ${String(st.code)}`})`);
    });
  }

  /** The helper died or spoke nonsense: every pending and later call fails with one clear error. */
  private fail(what: string): void {
    const tail = this.proc.stderr().trim().slice(-STDERR_TAIL);
    const message = `remote stack helper (pid ${this.proc.pid}, ${this.where}) ${what}${tail !== "" ? `; its stderr:\n${tail}` : ""}`;
    this.markDead("crashed", new MorganaError("ECONNABORTED", message, { cause: new Error(message) }));
  }

  markDead(kind: "closed" | "crashed", error: MorganaError): void {
    if (this.dead !== undefined) return;
    this.dead = { kind, error };
    for (const p of [...this.pending.values()]) this.settleDead(p);
  }

  private settleDead(p: Pending): void {
    this.forget(p);
    const dead = this.dead!;
    if (p.onDead === "resolve" || (p.onDead === "null" && dead.kind === "closed")) p.resolve(NULL_RESPONSE);
    else if (dead.kind === "closed") p.reject((p.closedError ?? stackClosed)());
    else p.reject(dead.error);
  }

  forget(p: Pending): void {
    this.pending.delete(p.id);
    p.owner?.delete(p);
  }

  get pendingCalls(): number {
    return this.pending.size;
  }

  get bytesReceived(): number {
    return this.reader.bytes;
  }

  get framesReceived(): number {
    return this.reader.frames;
  }

  private onFrame(frame: Frame): void {
    const h = frame.header;
    if (typeof h.s === "object" && h.s !== null) this.stats = h.s as Record<string, LayerStats>;
    if (h.t === "hello") return this.gotHello(h as unknown as Hello);
    if (h.t !== "r") return;
    const p = this.pending.get(h.id as number);
    if (p === undefined) return; // settled here already (abort, stack closed)
    this.forget(p);
    const info = h.i as TcpInfo | undefined;
    if (info !== undefined) p.onInfo?.(info);
    if (h.e !== undefined) {
      const w = h.e as WireError;
      p.reject(p.mapError !== undefined ? p.mapError(w) : fromWireError(w));
    } else {
      p.resolve({ r: h.r, payload: frame.payload, i: info });
    }
  }

  private write(header: Record<string, unknown>, parts: readonly Uint8Array[]): void {
    const stdin = this.proc.child.stdin;
    if (stdin === null || stdin.destroyed || !stdin.writable) return;
    let n = 0;
    for (const p of parts) n += p.length;
    const head = encodeHead(header, n);
    this.counters.framesSent++;
    this.counters.bytesSent += head.length + n;
    stdin.cork();
    stdin.write(head);
    for (const p of parts) if (p.length > 0) stdin.write(p);
    stdin.uncork();
  }

  call(m: string, h: number | undefined, a: unknown, parts: readonly Uint8Array[] = [], opts: CallOptions = {}): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const id = this.nextId++;
      const p: Pending = {
        id,
        onDead: opts.onDead ?? "reject",
        owner: opts.owner,
        mapError: opts.mapError,
        closedError: opts.closedError,
        onInfo: opts.onInfo,
        resolve,
        reject,
      };
      if (this.dead !== undefined) return this.settleDead(p);
      this.pending.set(id, p);
      opts.owner?.add(p);
      opts.onId?.(id);
      this.counters.calls++;
      this.write({ t: "c", id, m, h, a }, parts);
    });
  }

  /** A one-way message (abort, options, release). */
  cast(m: string, h: number, a?: unknown): void {
    if (this.dead !== undefined) return;
    this.counters.casts++;
    this.write({ t: "o", m, h, a }, []);
  }

  cancel(id: number): void {
    if (this.dead === undefined) this.write({ t: "x", id }, []);
  }

  /** No more requests: the helper closes its stack and exits when its input ends. */
  endInput(): void {
    this.proc.child.stdin?.end();
  }
}

// ---- flows ---------------------------------------------------------------------------------

type Answer = { readonly v: null } | { readonly e: Error };
type WireAnswer = { v: null } | { e: WireError };

interface FlowDesc {
  h: number;
  local: SocketAddress;
  remote: SocketAddress;
}

function answer(a: Answer): Promise<never> | Promise<null> {
  return "e" in a ? Promise.reject(a.e) : Promise.resolve(null);
}

function fromWireAnswer(a: WireAnswer): Answer {
  return "e" in a ? { e: fromWireError(a.e) } : { v: null };
}

/** A TCP connection of the remote stack. */
export class RemoteTcpFlow implements TcpFlow {
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  private readonly h: number;
  private snapshot: TcpInfo;
  private readonly calls = new Set<Pending>();
  /** Answers of every later call, once the helper let go of the flow (completed close, or abort). */
  private final: { read: Answer; write: Answer; shutdown: Answer } | undefined;
  /** The first terminal answer a read got (null or an error): every later read gives it. */
  private readEnd: Answer | undefined;
  private closing: Promise<void> | undefined;
  private closeCalled = false;

  /** @internal */
  constructor(
    private readonly rpc: Rpc,
    desc: FlowDesc,
    info: TcpInfo | undefined,
  ) {
    this.h = desc.h;
    this.local = desc.local;
    this.remote = desc.remote;
    this.snapshot = info ?? { state: "ESTABLISHED", bytesSent: 0, bytesReceived: 0 };
  }

  private readonly onInfo = (i: TcpInfo): void => {
    this.snapshot = i;
  };

  private call(m: string, a?: unknown, parts?: readonly Uint8Array[], onDead: OnDead = "reject"): Promise<Response> {
    return this.rpc.call(m, this.h, a, parts, { onDead, owner: this.calls, onInfo: this.onInfo });
  }

  /** The answer when the helper can no longer be asked: the stack was closed, or the helper died. */
  private deadAnswer(): Answer | undefined {
    const dead = this.rpc.dead;
    if (dead === undefined) return undefined;
    return { e: dead.kind === "closed" ? stackClosed() : dead.error };
  }

  read(): Promise<Uint8Array | null> {
    // Once the stack is closed during our close(): reading had stopped (null), as the socket stack's close() does.
    const dead = this.closeCalled && this.rpc.dead?.kind === "closed" ? { v: null } : this.deadAnswer();
    const known = this.final?.read ?? this.readEnd ?? dead;
    if (known !== undefined) return answer(known);
    return this.call("f.read").then(
      (res) => {
        if (res.r === null) {
          this.readEnd ??= { v: null };
          return null;
        }
        return res.payload;
      },
      (e: MorganaError) => {
        this.readEnd ??= { e };
        throw e;
      },
    );
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  write(data: Uint8Array): Promise<void> {
    const known = this.final?.write ?? this.deadAnswer();
    if (known !== undefined) return answer(known).then(() => undefined);
    // Not bytes: the helper's flow answers as the local one would (its checks, in its order).
    if (!(data instanceof Uint8Array)) return this.call("f.write", { bad: "element" }).then(() => undefined);
    return this.call("f.write", undefined, [data]).then(() => undefined);
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    const known = this.final?.write ?? this.deadAnswer();
    if (known !== undefined) return answer(known).then(() => undefined);
    if (!Array.isArray(chunks)) return this.call("f.writev", { bad: "array" }).then(() => undefined);
    if (!chunks.every((c) => c instanceof Uint8Array)) return this.call("f.writev", { bad: "element" }).then(() => undefined);
    return this.call("f.writev", { n: chunks.map((c) => c.length) }, chunks).then(() => undefined);
  }

  shutdown(): Promise<void> {
    const known = this.final?.shutdown ?? this.deadAnswer();
    if (known !== undefined) return answer(known).then(() => undefined);
    return this.call("f.shutdown").then(() => undefined);
  }

  close(): Promise<void> {
    this.closeCalled = true;
    this.closing ??= (async () => {
      if (this.final !== undefined || this.rpc.dead !== undefined) return;
      try {
        const res = await this.call("f.close", undefined, undefined, "resolve");
        const f = (res.r as { final?: { read: WireAnswer; write: WireAnswer; shutdown: WireAnswer } } | null)?.final;
        if (f !== undefined && this.final === undefined) {
          this.final = { read: fromWireAnswer(f.read), write: fromWireAnswer(f.write), shutdown: fromWireAnswer(f.shutdown) };
          this.rpc.cast("release", this.h);
        }
      } catch {
        // close() never rejects.
      }
    })();
    return this.closing;
  }

  abort(err?: Error): void {
    if (this.final !== undefined || this.rpc.dead !== undefined) return;
    const e =
      err instanceof Error ? err : new MorganaError("ECONNABORTED", "the flow was aborted", { address: this.remote.address, port: this.remote.port });
    // As the socket stack: a read side that already ended (or was stopped by close()) keeps its answer.
    this.final = { read: this.readEnd ?? (this.closeCalled ? { v: null } : { e }), write: { e }, shutdown: { e } };
    for (const p of [...this.calls]) {
      this.rpc.forget(p);
      if (p.onDead === "resolve") p.resolve(NULL_RESPONSE);
      else p.reject(e);
    }
    this.rpc.cast("f.abort", this.h);
  }

  setNoDelay(noDelay: boolean): void {
    if (this.final === undefined) this.rpc.cast("f.nodelay", this.h, { on: noDelay });
  }

  /** As the socket stack: `idleMs` in whole seconds (rounded up, at least 1 s); `intervalMs` and `count` are ignored. */
  setKeepAlive(enable: boolean, opts?: KeepAliveOptions): void {
    const idle = opts?.idleMs;
    if (enable && idle !== undefined && (typeof idle !== "number" || !(idle >= 0) || !Number.isFinite(idle))) {
      throw new MorganaError("EINVAL", `setKeepAlive: idleMs must be a non-negative number, not ${String(idle)}`, { syscall: "setKeepAlive" });
    }
    if (this.final === undefined) this.rpc.cast("f.keepalive", this.h, { enable, opts });
  }

  /** The remote flow's `info()` as of the latest answer about this flow (see {@link refreshInfo}). */
  info(): TcpInfo {
    return this.snapshot;
  }

  /** Asks the helper for the flow's current `info()`. */
  async refreshInfo(): Promise<TcpInfo> {
    if (this.final === undefined && this.rpc.dead === undefined) await this.call("f.info", undefined, undefined, "resolve");
    return this.snapshot;
  }
}

// ---- listeners -----------------------------------------------------------------------------

class RemoteTcpListener implements TcpListener {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly rpc: Rpc,
    private readonly h: number,
    readonly local: SocketAddress,
  ) {}

  accept(): Promise<TcpFlow | null> {
    if (this.closing !== undefined) return Promise.resolve(null);
    const dead = this.rpc.dead;
    if (dead !== undefined) return dead.kind === "closed" ? Promise.resolve(null) : Promise.reject(dead.error);
    return this.rpc
      .call("l.accept", this.h, undefined, [], { onDead: "null" })
      .then((res) => (res.r === null ? null : new RemoteTcpFlow(this.rpc, res.r as FlowDesc, res.i)));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TcpFlow> {
    for (;;) {
      const f = await this.accept();
      if (f === null) return;
      yield f;
    }
  }

  close(): Promise<void> {
    this.closing ??=
      this.rpc.dead !== undefined
        ? Promise.resolve()
        : this.rpc.call("l.close", this.h, undefined, [], { onDead: "resolve" }).then(
            () => this.rpc.cast("release", this.h),
            () => undefined,
          );
    return this.closing;
  }
}

class RemoteTcp implements Tcp {
  constructor(private readonly rpc: Rpc) {}

  private unusable(syscall: string): MorganaError | undefined {
    if (this.rpc.closing) return socketClosed(syscall);
    return this.rpc.dead?.error;
  }

  async listen(opts: TcpListenOptions): Promise<TcpListener> {
    const no = this.unusable("listen");
    if (no !== undefined) throw no;
    const res = await this.rpc.call("tcp.listen", undefined, { opts }, [], { closedError: () => socketClosed("listen") });
    const r = res.r as { h: number; local: SocketAddress };
    return new RemoteTcpListener(this.rpc, r.h, r.local);
  }

  connect(opts: TcpConnectOptions): Promise<TcpFlow> {
    const no = this.unusable("connect");
    if (no !== undefined) return Promise.reject(no);
    let signal: AbortSignal | undefined;
    let rest: unknown = opts;
    if (typeof opts === "object" && opts !== null && opts.signal !== undefined) {
      const { signal: s, ...others } = opts;
      signal = s;
      rest = others;
    }
    let id = 0;
    const onAbort = (): void => this.rpc.cancel(id);
    const call = this.rpc.call("tcp.connect", undefined, { opts: rest, signal: signal !== undefined, aborted: signal?.aborted === true }, [], {
      onId: (i) => (id = i),
      // An abort's cause is the signal's reason, as on the local stacks.
      mapError: (w) => fromWireError(w, w.code === "ABORT_ERR" && signal !== undefined ? signal.reason : undefined),
    });
    if (signal !== undefined && !signal.aborted) {
      signal.addEventListener("abort", onAbort, { once: true });
      const off = (): void => signal.removeEventListener("abort", onAbort);
      call.then(off, off);
    }
    return call.then((res) => new RemoteTcpFlow(this.rpc, res.r as FlowDesc, res.i));
  }

  stats(): LayerStats {
    return this.rpc.stats.tcp ?? NO_STATS;
  }
}

// ---- UDP -----------------------------------------------------------------------------------

class RemoteUdpSocket implements UdpSocket {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly rpc: Rpc,
    private readonly h: number,
    readonly local: SocketAddress,
  ) {}

  send(data: Uint8Array, to: UdpDestination): Promise<void> {
    if (this.closing !== undefined || this.rpc.closing) return Promise.reject(socketClosed("send", "the socket"));
    const dead = this.rpc.dead;
    if (dead !== undefined) return Promise.reject(dead.kind === "closed" ? socketClosed("send", "the socket") : dead.error);
    // Only the destination crosses (`to` may be a received Datagram, with its data).
    const dest = typeof to === "object" && to !== null ? { address: to.address, port: to.port } : null;
    const bad = !(data instanceof Uint8Array);
    return this.rpc
      .call("u.send", this.h, { to: dest, ...(bad ? { bad: true } : {}) }, bad ? [] : [data], { closedError: () => socketClosed("send", "the socket") })
      .then(() => undefined);
  }

  recv(): Promise<Datagram | null> {
    if (this.closing !== undefined) return Promise.resolve(null);
    const dead = this.rpc.dead;
    if (dead !== undefined) return dead.kind === "closed" ? Promise.resolve(null) : Promise.reject(dead.error);
    return this.rpc.call("u.recv", this.h, undefined, [], { onDead: "null" }).then((res) => {
      if (res.r === null) return null;
      const r = res.r as { address: string; port: number };
      return { data: res.payload, address: r.address, port: r.port };
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Datagram> {
    for (;;) {
      const d = await this.recv();
      if (d === null) return;
      yield d;
    }
  }

  close(): Promise<void> {
    this.closing ??=
      this.rpc.dead !== undefined
        ? Promise.resolve()
        : this.rpc.call("u.close", this.h, undefined, [], { onDead: "resolve" }).then(
            () => this.rpc.cast("release", this.h),
            () => undefined,
          );
    return this.closing;
  }
}

class RemoteUdp implements Udp {
  constructor(private readonly rpc: Rpc) {}

  async bind(opts?: UdpBindOptions): Promise<UdpSocket> {
    if (this.rpc.closing) throw socketClosed("bind");
    if (this.rpc.dead !== undefined) throw this.rpc.dead.error;
    const res = await this.rpc.call("u.bind", undefined, { opts: opts ?? {} }, [], { closedError: () => socketClosed("bind") });
    const r = res.r as { h: number; local: SocketAddress };
    return new RemoteUdpSocket(this.rpc, r.h, r.local);
  }

  stats(): LayerStats {
    return this.rpc.stats.udp ?? NO_STATS;
  }
}

// ---- the stack -----------------------------------------------------------------------------

function timeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

class RemoteStackImpl implements RemoteStack {
  readonly tcp: RemoteTcp;
  readonly udp: RemoteUdp;
  private closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly rpc: Rpc,
    private readonly addressList: readonly string[],
    private readonly closeTimeoutMs: number,
  ) {
    this.tcp = new RemoteTcp(rpc);
    this.udp = new RemoteUdp(rpc);
  }

  get helper(): PeerProcess {
    return this.rpc.proc;
  }

  get helperExited(): Promise<ExitStatus> {
    return this.rpc.proc.exited;
  }

  get crashed(): MorganaError | undefined {
    return this.rpc.dead?.kind === "crashed" ? this.rpc.dead.error : undefined;
  }

  addresses(): string[] {
    return [...this.addressList];
  }

  stats(): Readonly<Record<string, LayerStats>> {
    const rpc = this.rpc;
    return {
      tcp: this.tcp.stats(),
      udp: this.udp.stats(),
      rpc: {
        counters: {
          ...rpc.counters,
          framesReceived: rpc.framesReceived,
          bytesReceived: rpc.bytesReceived,
          pendingCalls: rpc.pendingCalls,
        },
        drops: {},
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const rpc = this.rpc;
    rpc.closing = true;
    if (rpc.dead === undefined) {
      // The helper's stack aborts its flows (RST), answers its pending calls, then answers this.
      const asked = rpc.call("s.close", undefined, undefined, [], { onDead: "resolve" }).then(
        () => undefined,
        () => undefined,
      );
      await timeout(asked, this.closeTimeoutMs);
    }
    rpc.markDead("closed", stackClosed());
    rpc.endInput();
    if ((await timeout(rpc.proc.exited, 2000)) === "timeout") await rpc.proc.kill("SIGKILL");
  }
}

/**
 * Starts a helper process in `peer`'s namespace serving a unix-socket stack
 * bound to the kernel's address there, and resolves with a {@link Stack}
 * whose calls go to it. Rejects with `EIO` when the helper cannot be started
 * (its standard error in the message), `EBADF` when the peer is closed.
 * `peer.close()` kills the helper; the stack's pending and later calls then
 * reject with `ECONNABORTED` naming the helper's exit.
 */
export async function createRemoteStack(peer: LinuxPeer, opts: RemoteStackOptions = {}): Promise<RemoteStack> {
  const startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  for (const [k, v] of [
    ["startTimeoutMs", startTimeoutMs],
    ["closeTimeoutMs", closeTimeoutMs],
  ] as const) {
    if (typeof v !== "number" || !(v > 0)) throw new MorganaError("EINVAL", `createRemoteStack: ${k} must be a positive number, not ${String(v)}`);
  }
  if (peer.closed) throw new MorganaError("EBADF", `createRemoteStack: LinuxPeer ${peer.ns} is closed`);
  const file = await remoteHelperBundle();
  const config = {
    addresses: [...(opts.addresses ?? [peer.address])],
    ...(opts.tcp !== undefined ? { tcp: opts.tcp } : {}),
    ...(opts.udp !== undefined ? { udp: opts.udp } : {}),
  };
  const proc = peer.spawn([process.execPath, "--enable-source-maps", file, JSON.stringify(config)], { stdout: "pipe" });
  const rpc = new Rpc(proc, `namespace ${peer.ns}`);
  const started = await timeout(
    Promise.race([rpc.hello, proc.exited.then((st) => ({ exited: st }))]),
    startTimeoutMs,
  );
  if (started === "timeout" || "exited" in started) {
    if (started === "timeout") await proc.kill("SIGKILL");
    else await proc.exited;
    const why = started === "timeout" ? `did not start within ${startTimeoutMs} ms` : `exited (${started.exited.signal ?? started.exited.code}) while starting`;
    throw new MorganaError("EIO", `createRemoteStack: the helper ${why}: ${proc.stderr().trim().slice(-STDERR_TAIL)}`);
  }
  return new RemoteStackImpl(opts.name ?? "linux-remote", rpc, started.addresses, closeTimeoutMs);
}
