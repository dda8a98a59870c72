/**
 * A tiny application for the targets' own tests (the homepage's tests live
 * in examples/homepage): HTTP answering with the path and the stack's name,
 * and a one-record DNS zone, on the ports the target gives.
 */
import { defineApp, type App, type AppContext, type Clock, type Timer } from "@morgana/interfaces";
import { AuthoritativeServer, Zone, parseZone, serveDns, type DnsServerHandle } from "@morgana/dns";
import { createHttpServer } from "@morgana/http";
import { createServer, type Server } from "node:net";
import { createSocket } from "node:dgram";

export const probeApp: App = defineApp({
  name: "probe",
  domain: "probe.morgana.test",
  pages: ["/", "/two"],
  async start(ctx: AppContext) {
    const http = createHttpServer({ clock: ctx.clock, handler: (req) => new Response(`${new URL(req.url).pathname} on ${ctx.stack.name}\n`) });
    await http.listen(ctx.stack.tcp, { port: ctx.ports.http });
    const zone = new Zone(parseZone(`$ORIGIN probe.morgana.test.\n@ 60 IN SOA @ h 1 60 60 60 60\n@ 60 IN NS @\n@ 60 IN A ${ctx.address}\n`).records);
    let dns: DnsServerHandle;
    try {
      dns = await serveDns({ stack: ctx.stack, clock: ctx.clock, server: new AuthoritativeServer({ zones: [zone] }), port: ctx.ports.dns });
    } catch (e) {
      await http.close({ deadlineMs: 0 });
      throw e;
    }
    ctx.log(`up on ${ctx.target}`);
    const d = dns;
    return { close: async () => void (await Promise.all([http.close({ deadlineMs: 0 }), d.close()])) };
  },
});

/** An application whose start fails. */
export function failingApp(message: string): App & { started: number } {
  const app = {
    name: "failing",
    domain: "failing.morgana.test",
    pages: ["/"],
    started: 0,
    async start(): Promise<never> {
      app.started++;
      throw new Error(message);
    },
  };
  return app;
}

/** Collects what a `main` prints. */
export function captureIo(): { out: string[]; err: string[]; io: { out(l: string): void; err(l: string): void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l) => void out.push(l), err: (l) => void err.push(l) } };
}

/** A TCP server holding a port on 127.0.0.1 (port 0: any free one). */
export async function holdTcpPort(port = 0): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: "127.0.0.1", exclusive: true }, resolve);
  });
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no address");
  return { port: addr.port, server, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Two ports on 127.0.0.1 that are free right now for TCP, the second also for UDP. */
export async function freePorts(): Promise<{ http: number; dns: number }> {
  for (;;) {
    const a = await holdTcpPort();
    const u = createSocket("udp4");
    const dnsPort = await new Promise<number>((resolve, reject) => {
      u.once("error", reject);
      u.bind(0, "127.0.0.1", () => resolve(u.address().port));
    });
    const b = await holdTcpPort(dnsPort).catch(() => undefined);
    await new Promise<void>((r) => u.close(() => r()));
    await a.close();
    if (b === undefined) continue;
    await b.close();
    if (dnsPort !== a.port) return { http: a.port, dns: dnsPort };
  }
}

/**
 * A clock that remembers its pending timers, so a test can check that a
 * target leaves none behind once everything is closed (a timer left on the
 * system clock would keep the process alive: TIME-WAIT's 60 s, for one).
 */
export interface OwnedClock extends Clock {
  /** Timers set and neither fired nor cancelled. */
  readonly pending: number;
}

export function ownedClock(base: Clock): OwnedClock {
  const timers = new Set<Timer>();
  const clock: OwnedClock = {
    now: () => base.now(),
    setTimer(delayMs, callback) {
      const inner = base.setTimer(delayMs, () => {
        timers.delete(handle);
        callback();
      });
      const handle: Timer = {
        cancel() {
          timers.delete(handle);
          inner.cancel();
        },
      };
      timers.add(handle);
      return handle;
    },
    get pending() {
      return timers.size;
    },
    ...(base.wallTime === undefined ? {} : { wallTime: () => base.wallTime!() }),
  };
  return clock;
}
