/**
 * The same scenarios against real `node:net` on 127.0.0.1 and against the
 * facade over two direct stacks: the transcripts (event sequences, property
 * values, error fields, return values) must be equal. Only deterministic
 * things are recorded: data events are merged (chunking differs), 'finish'
 * is checked for presence and position relative to 'close' only when it
 * races with the peer, addresses are compared to the expected host and port.
 */
import realNet from "node:net";
import { afterAll, expect, it } from "vitest";
import { pair } from "./helpers.js";

/** The part of a net module the scenarios use; both node:net and the facade have it. */
interface NetLike {
  createServer(options?: object, listener?: (s: Sock) => void): Srv;
  connect(...args: unknown[]): Sock;
  Socket: new (options?: object) => Sock;
}
type Sock = realNet.Socket;
type Srv = realNet.Server;

type Transcript = Record<string, unknown>;

const p = pair(70);
afterAll(() => p.close());

function nextEvent(e: NodeJS.EventEmitter, name: string): Promise<unknown[]> {
  return new Promise((r) => e.once(name, (...a: unknown[]) => r(a)));
}

/** Records socket events; consecutive 'data' events become one entry. */
function recordSocket(s: Sock, log: string[], prefix = ""): void {
  const push = (x: string) => {
    if (x === `${prefix}data` && log.at(-1) === x) return;
    log.push(x);
  };
  for (const e of ["lookup", "connect", "ready", "data", "timeout", "drain", "end", "finish", "error", "close"]) {
    s.on(e, (...a: unknown[]) => {
      if (e === "error") push(`${prefix}error:${(a[0] as { code?: string }).code ?? (a[0] as Error).message}`);
      else if (e === "close") push(`${prefix}close:${String(a[0])}`);
      else push(`${prefix}${e}`);
    });
  }
}

function props(s: Sock): Record<string, unknown> {
  return {
    connecting: s.connecting,
    pending: s.pending,
    readyState: s.readyState,
    destroyed: s.destroyed,
    bytesRead: s.bytesRead,
    bytesWritten: s.bytesWritten,
    timeout: s.timeout,
    addressKeys: Object.keys(s.address()).sort(),
    localAddressDefined: s.localAddress !== undefined,
    allowHalfOpen: s.allowHalfOpen,
  };
}

function listen(server: Srv, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as realNet.AddressInfo).port);
    });
  });
}

/** Moves `finish` out of the log (it races with the peer's data), checking it came before `close`. */
function withoutFinish(log: string[], prefix = ""): { log: string[]; finishBeforeClose: boolean } {
  const f = log.indexOf(`${prefix}finish`);
  const c = log.findIndex((x) => x.startsWith(`${prefix}close`));
  const rest = log.filter((x) => x !== `${prefix}finish`).filter((x, i, a) => !(x === `${prefix}data` && a[i - 1] === x));
  return { log: rest, finishBeforeClose: f >= 0 && f < c };
}

/** Servers on `sv` listen on `host`; clients of `cl` connect from `clientHost`. For node:net both are 127.0.0.1. */
async function scenarios(sv: NetLike, cl: NetLike, host: string, clientHost: string): Promise<Transcript> {
  const t: Transcript = {};

  // A fresh, unconnected socket.
  const fresh = new cl.Socket();
  t.fresh = { ...props(fresh), remoteAddress: fresh.remoteAddress, address: fresh.address(), server: (fresh as unknown as { server: unknown }).server };
  fresh.destroy();

  // 1. Echo (upper-cased) with the client ending first; default allowHalfOpen false on both sides.
  {
    const serverLog: string[] = [];
    const sideLog: string[] = [];
    const side: Record<string, unknown> = {};
    const server = sv.createServer({}, (s) => {
      serverLog.push("connection");
      side.onConnection = { ...props(s), remoteAddress: s.remoteAddress === clientHost, localPortIsListen: s.localPort === port, remoteFamily: s.remoteFamily };
      recordSocket(s, sideLog);
      s.on("data", (d: Buffer) => s.write(d.toString().toUpperCase()));
      s.on("end", () => (side.atEnd = s.readyState));
      s.on("close", () => (side.atClose = props(s)));
    });
    server.on("listening", () => serverLog.push("listening"));
    server.on("close", () => serverLog.push("server-close"));
    const port = await listen(server, 0, host);
    t.listen = { listening: server.listening, family: (server.address() as realNet.AddressInfo).family, address: (server.address() as realNet.AddressInfo).address === host };
    const c = cl.connect(port, host);
    const log: string[] = [];
    recordSocket(c, log);
    const before = props(c);
    const writeResult = c.write("hello");
    const afterWrite = c.bytesWritten;
    let text = "";
    c.on("data", (d: Buffer) => (text += d.toString()));
    let atConnect: Record<string, unknown> = {};
    c.on("connect", () => {
      atConnect = {
        ...props(c),
        remote: [c.remoteAddress === host, c.remotePort === port, c.remoteFamily],
        local: [c.localAddress === clientHost, typeof c.localPort, c.localFamily],
        address: [(c.address() as realNet.AddressInfo).family, (c.address() as realNet.AddressInfo).port === c.localPort],
      };
      c.end(" world");
    });
    await nextEvent(c, "close");
    while (side.atClose === undefined) await new Promise((r) => setTimeout(r, 5));
    const closed = nextEvent(server, "close");
    server.close();
    await closed;
    const f = withoutFinish(log);
    t.echo = { before, writeResult, afterWrite, atConnect, text, log: f.log, finishBeforeClose: f.finishBeforeClose, after: props(c), afterAddress: c.address(), sideLog, side, serverLog };

    // 2. Nothing listens there any more: ECONNREFUSED.
    const r = cl.connect({ port, host });
    const rlog: string[] = [];
    recordSocket(r, rlog);
    const [err] = (await nextEvent(r, "error")) as [Error & { code: string; errno: number; syscall: string; address: string; port: number }];
    await nextEvent(r, "close");
    t.refused = {
      log: rlog,
      err: [err instanceof Error, err.code, err.errno, err.syscall, err.address === host, err.port === port, err.message === `connect ECONNREFUSED ${host}:${port}`],
      after: props(r),
    };
  }

  // 3. EADDRINUSE.
  {
    const s1 = sv.createServer();
    const port = await listen(s1, 0, host);
    const s2 = sv.createServer();
    let cbCalled = false;
    s2.listen(port, host, () => (cbCalled = true));
    const [err] = (await nextEvent(s2, "error")) as [Error & { code: string; errno: number; syscall: string; port: number }];
    t.inUse = { code: err.code, errno: err.errno, syscall: err.syscall, port: err.port === port, s2: [s2.listening, s2.address(), cbCalled], s1: s1.listening };
    await new Promise((r) => s1.close(r));
    const notRunning = await new Promise<Error | undefined>((r) => s2.close((e) => r(e)));
    t.notRunning = notRunning?.message;
  }

  // 4. Idle timeout, then destroy; a server that never writes; writes after end.
  {
    const server = sv.createServer({}, (s) => s.resume());
    const port = await listen(server, 0, host);
    const c = cl.connect({ port, host, timeout: 40 });
    const log: string[] = [];
    recordSocket(c, log);
    await nextEvent(c, "timeout");
    const atTimeout = props(c);
    c.end();
    const [writeErr] = (await new Promise<unknown[]>((r) => c.write("late", (e) => r([e])))) as [Error & { code: string }];
    c.destroy();
    await nextEvent(c, "close");
    t.timeout = { log: withoutFinish(log).log, atTimeout, writeAfterEnd: writeErr.code };
    await new Promise((r) => server.close(r));
  }

  // 5. allowHalfOpen true server answering after the client's end; destroy(err); backpressure.
  {
    const sideLog: string[] = [];
    const server = sv.createServer({ allowHalfOpen: true }, (s) => {
      recordSocket(s, sideLog, "s:");
      let n = 0;
      s.on("data", (d: Buffer) => (n += d.length));
      s.on("end", () => setTimeout(() => s.end(`got ${n}`), 20));
    });
    const port = await listen(server, 0, host);
    const c = cl.connect({ port, host, allowHalfOpen: true });
    const log: string[] = [];
    recordSocket(c, log);
    let text = "";
    c.on("data", (d: Buffer) => (text += d.toString()));
    c.end(Buffer.alloc(1000, 1));
    await nextEvent(c, "finish");
    const halfState = c.readyState;
    await nextEvent(c, "close");
    while (!sideLog.some((x) => x.startsWith("s:close"))) await new Promise((r) => setTimeout(r, 5));
    t.halfOpen = { log, text, halfState, sideLog: withoutFinish(sideLog, "s:") };

    const d = cl.connect(port, host);
    const dlog: string[] = [];
    recordSocket(d, dlog);
    await nextEvent(d, "connect");
    d.destroy(new Error("boom"));
    await nextEvent(d, "close");
    t.destroyWithError = { log: dlog, after: props(d) };

    const e = cl.connect(port, host);
    const elog: string[] = [];
    recordSocket(e, elog);
    await nextEvent(e, "connect");
    // More than the kernel takes at once on loopback (node:net returns true when a write completes synchronously).
    const big = Buffer.alloc(16 << 20, 7);
    const ok = e.write(big);
    await nextEvent(e, "drain");
    e.destroy();
    await nextEvent(e, "close");
    t.backpressure = { ok, log: elog, bytesWritten: e.bytesWritten };
    await new Promise((r) => server.close(r));
  }

  // 6. server.close() while a connection is open: the server's 'close' waits for it.
  {
    const order: string[] = [];
    const server = sv.createServer({}, (s) => {
      s.resume();
      s.on("end", () => order.push("side-end"));
      s.on("close", () => order.push("side-close"));
    });
    const port = await listen(server, 0, host);
    const accepted = nextEvent(server, "connection");
    const c = cl.connect(port, host);
    await nextEvent(c, "connect");
    await accepted;
    const count = await new Promise((r) => server.getConnections((_e, n) => r(n)));
    server.close(() => order.push("close-cb"));
    server.on("close", () => order.push("server-close"));
    order.push(`listening:${String(server.listening)}`);
    await new Promise((r) => setTimeout(r, 30));
    order.push("client-end");
    c.end();
    await nextEvent(server, "close");
    await new Promise((r) => setTimeout(r, 10));
    t.serverClose = { count, order };
    c.destroy();
  }

  // Misuse: the codes Node's argument and state checks use.
  {
    const code = (f: () => unknown): string => {
      try {
        f();
        return "no throw";
      } catch (e) {
        return String((e as { code?: string }).code);
      }
    };
    const quiet = (s: Sock) => (s.on("error", () => {}), s);
    const misuse: Record<string, string> = {
      badPort: code(() => quiet(cl.connect(70000, host))),
      negativePort: code(() => quiet(cl.connect({ port: -1, host }))),
      noPort: code(() => quiet(cl.connect({ host } as object))),
      badLocalAddress: code(() => quiet(cl.connect({ port: 80, host, localAddress: "not-an-ip" }))),
      timeoutNegative: code(() => new cl.Socket().setTimeout(-1)),
      timeoutString: code(() => new cl.Socket().setTimeout("x" as unknown as number)),
      listenBadPort: code(() => sv.createServer().listen(70000)),
    };
    const srv = sv.createServer();
    await new Promise<void>((r) => srv.listen(0, host, () => r()));
    misuse.listenTwice = code(() => srv.listen(0, host));
    await new Promise<void>((r) => srv.close(() => r()));
    misuse.closeNotRunning = await new Promise<string>((r) => srv.close((e?: Error) => r(String((e as { code?: string } | undefined)?.code))));
    // A write queued before a connection that fails.
    const closedPort = await new Promise<number>((r) => {
      const tmp = sv.createServer();
      tmp.listen(0, host, () => {
        const port = (tmp.address() as { port: number }).port;
        tmp.close(() => r(port));
      });
    });
    const early = cl.connect(closedPort, host);
    early.on("error", () => {});
    misuse.writeBeforeFailedConnect = await new Promise<string>((r) => early.write("x", (e?: Error | null) => r(String((e as { code?: string } | null | undefined)?.code))));
    t.misuse = misuse;
  }
  return t;
}

it("the facade produces the same transcript as node:net", async () => {
  const real = await scenarios(realNet as unknown as NetLike, realNet as unknown as NetLike, "127.0.0.1", "127.0.0.1");
  const facade = await scenarios(p.netA as unknown as NetLike, p.netB as unknown as NetLike, p.hostA, p.hostB);
  expect(facade).toEqual(real);
  // And what both show, spelled out (so a shared mistake would be visible here).
  expect(real.refused).toMatchObject({ log: ["error:ECONNREFUSED", "close:true"] });
  expect(real.echo).toMatchObject({ text: "HELLO WORLD", log: ["connect", "ready", "data", "end", "close:false"], finishBeforeClose: true });
  expect(real.inUse).toMatchObject({ code: "EADDRINUSE", syscall: "listen" });
  expect(real.misuse).toEqual({
    badPort: "ERR_SOCKET_BAD_PORT",
    negativePort: "ERR_SOCKET_BAD_PORT",
    noPort: "ERR_MISSING_ARGS",
    badLocalAddress: "ERR_INVALID_IP_ADDRESS",
    timeoutNegative: "ERR_OUT_OF_RANGE",
    timeoutString: "ERR_INVALID_ARG_TYPE",
    listenBadPort: "ERR_SOCKET_BAD_PORT",
    listenTwice: "ERR_SERVER_ALREADY_LISTEN",
    closeNotRunning: "ERR_SERVER_NOT_RUNNING",
    writeBeforeFailedConnect: "ERR_SOCKET_CLOSED_BEFORE_CONNECTION",
  });
}, 30_000);
