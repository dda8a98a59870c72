import { createSocket } from "node:dgram";
import { describe, expect, it } from "vitest";
import { main, startSocket } from "../src/socket.js";
import { captureIo, failingApp, freePorts, holdTcpPort, probeApp } from "./fixtures.js";

async function holdUdpPort(port: number): Promise<{ close(): Promise<void> }> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.bind(port, "127.0.0.1", () => resolve());
  });
  return { close: () => new Promise<void>((r) => s.close(() => r())) };
}

describe("the socket target", () => {
  it("serves on the host's sockets until stopped, then frees its ports (exit 0)", async () => {
    const ports = await freePorts();
    const c = captureIo();
    const stop = new AbortController();
    const done = main(probeApp, ["--port", String(ports.http), "--dns-port", String(ports.dns)], c.io, { signal: stop.signal, handleSignals: false });
    let body = "";
    for (let i = 0; i < 200 && body === ""; i++) {
      body = await fetch(`http://127.0.0.1:${ports.http}/hello`).then((r) => r.text(), () => "");
      if (body === "") await new Promise((r) => setTimeout(r, 10));
    }
    expect(body).toBe("/hello on unix-socket\n");
    expect(c.out).toContain("probe: up on socket");
    expect(c.out).toContain(`  curl http://127.0.0.1:${ports.http}/`);
    expect(c.out).toContain(`  dig @127.0.0.1 -p ${ports.dns} probe.morgana.test`);
    stop.abort();
    expect(await done).toBe(0);
    expect(c.err).toEqual([]);
    // Both ports are free again.
    const t = await holdTcpPort(ports.http);
    await t.close();
    const u = await holdUdpPort(ports.dns);
    await u.close();
  });

  it("an HTTP port in use: one line, exit 2", async () => {
    const ports = await freePorts();
    const held = await holdTcpPort(ports.http);
    try {
      const c = captureIo();
      const code = await main(probeApp, ["--port", String(ports.http), "--dns-port", String(ports.dns)], c.io, { handleSignals: false });
      expect(code).toBe(2);
      expect(c.err).toEqual([`morgana: port ${ports.http} is in use (try --port N)`]);
      expect(c.out).toEqual([]);
    } finally {
      await held.close();
    }
  });

  it("a DNS port in use: one line naming --dns-port, exit 2, and the HTTP port is released", async () => {
    const ports = await freePorts();
    const held = await holdUdpPort(ports.dns);
    try {
      const c = captureIo();
      const code = await main(probeApp, ["--port", String(ports.http), "--dns-port", String(ports.dns)], c.io, { handleSignals: false });
      expect(code).toBe(2);
      expect(c.err).toEqual([`morgana: port ${ports.dns} is in use (try --dns-port N)`]);
    } finally {
      await held.close();
    }
    const t = await holdTcpPort(ports.http); // the application closed its HTTP listener when DNS failed
    await t.close();
  });

  it("startSocket: EADDRINUSE with the port; a failing application's error after closing the stack", async () => {
    const held = await holdTcpPort();
    try {
      await expect(startSocket(probeApp, { port: held.port, dnsPort: (await freePorts()).dns })).rejects.toMatchObject({ code: "EADDRINUSE", port: held.port });
    } finally {
      await held.close();
    }
    const app = failingApp("no luck");
    await expect(startSocket(app, { port: 1, dnsPort: 2 })).rejects.toThrow("no luck");
    expect(app.started).toBe(1);
    const c = captureIo();
    expect(await main(failingApp("broken app"), [], c.io, { handleSignals: false })).toBe(1);
    expect(c.err).toEqual(["morgana: broken app"]);
  });

  it("startSocket gives the application the socket context", async () => {
    const ports = await freePorts();
    let seen: unknown;
    const h = await startSocket(
      { ...probeApp, start: (ctx) => ((seen = { target: ctx.target, address: ctx.address, ports: ctx.ports, stack: ctx.stack.name, addresses: ctx.stack.addresses() }), probeApp.start(ctx)) },
      { port: ports.http, dnsPort: ports.dns },
    );
    await h.close();
    await h.close(); // idempotent
    expect(seen).toEqual({ target: "socket", address: "127.0.0.1", ports: { http: ports.http, dns: ports.dns }, stack: "unix-socket", addresses: ["127.0.0.1"] });
  });
});
