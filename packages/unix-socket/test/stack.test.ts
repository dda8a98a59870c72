import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { MorganaError } from "@morgana/interfaces";
import { describe, expect, it } from "vitest";
import { createSocketStack } from "../src/index.js";
import { pair, rejection, stack } from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixtures/exit-after-close.ts", import.meta.url));

/** Host sockets and servers open in this process (timers are not counted: vitest has its own). */
function socketHandles(): number {
  return process.getActiveResourcesInfo().filter((t) => /^(TCP|UDP)/.test(t)).length;
}

describe("stack", () => {
  it("is a Stack named unix-socket with tcp and udp layers", () => {
    const s = stack();
    expect(s.name).toBe("unix-socket");
    expect(s.addresses()).toEqual(["127.0.0.1"]);
    expect(Object.keys(s.stats()).sort()).toEqual(["tcp", "udp"]);
    expect(s.stats().tcp.counters).toMatchObject({ connectionsOpened: 0, connections: 0, listeners: 0 });
  });

  it("two stacks on 127.0.0.1 and 127.0.0.2 form a loopback pair, each using its own address", async () => {
    const a = stack({ addresses: ["127.0.0.1"] });
    const b = stack({ addresses: ["127.0.0.2"] });
    const lb = await b.tcp.listen({ port: 0 });
    const la = await a.tcp.listen({ port: 0 });
    const fromA = await a.tcp.connect({ address: b.addresses()[0]!, port: lb.local.port });
    const fromB = await b.tcp.connect({ address: a.addresses()[0]!, port: la.local.port });
    expect((await lb.accept())!.remote.address).toBe("127.0.0.1");
    expect((await la.accept())!.remote.address).toBe("127.0.0.2");
    expect(fromA.local.address).toBe("127.0.0.1");
    expect(fromB.local.address).toBe("127.0.0.2");
    const ua = await a.udp.bind();
    const ub = await b.udp.bind();
    await ub.send(new Uint8Array([1]), { address: "127.0.0.1", port: ua.local.port });
    expect(await ua.recv()).toMatchObject({ address: "127.0.0.2", port: ub.local.port });
  });

  it("rejects bad options with EINVAL", () => {
    for (const opts of [
      { addresses: [] },
      { addresses: ["localhost"] },
      { addresses: ["0.0.0.0"] },
      { tcp: { backlog: 0 } },
      { tcp: { finTimeoutMs: -1 } },
      { tcp: { highWaterMark: 0 } },
      { udp: { receiveQueue: 1.5 } },
      { udp: { recvBufferSize: 0 } },
    ]) {
      expect(() => createSocketStack(opts as never)).toThrow(MorganaError);
    }
  });

  it("close() closes every listener, connection and socket, and leaves no host handle", async () => {
    const before = socketHandles();
    const s = createSocketStack({ addresses: ["127.0.0.1"] });
    const peer = stack();
    const l = await s.tcp.listen({ port: 0 });
    const { client: own } = await pair(s);
    const remote = await peer.tcp.connect({ address: "127.0.0.1", port: l.local.port });
    const accepted = (await l.accept())!;
    const unaccepted = await peer.tcp.connect({ address: "127.0.0.1", port: l.local.port });
    const u = await s.udp.bind();
    const pendingRead = rejection(accepted.read());
    const pendingRecv = u.recv();
    const idle = await s.tcp.listen({ port: 0 });
    const pendingAccept = idle.accept();
    expect(socketHandles()).toBeGreaterThan(before);
    void unaccepted;

    const c1 = s.close();
    const c2 = s.close();
    await Promise.all([c1, c2]);
    await s.close();

    expect((await pendingRead).code).toBe("ECONNABORTED");
    expect(await pendingRecv).toBeNull();
    expect(await pendingAccept).toBeNull();
    expect((await rejection(own.write(new Uint8Array(1)))).code).toBe("ECONNABORTED");
    // The peer of an aborted connection sees a reset.
    expect((await rejection(remote.read())).code).toBe("ECONNRESET");
    expect(s.stats().tcp.counters).toMatchObject({ connections: 0, listeners: 0 });
    expect(s.stats().udp.counters.sockets).toBe(0);
    await peer.close();
    // Node lists a closed handle until its close callback has run.
    await new Promise((r) => setImmediate(r));
    expect(socketHandles()).toBe(before);

    for (const p of [s.tcp.listen({ port: 0 }), s.tcp.connect({ address: "127.0.0.1", port: 9 }), s.udp.bind()]) {
      expect((await rejection(p)).code).toBe("ERR_SOCKET_CLOSED");
    }
  });

  it("after close() the process exits on its own: no handle or timer is left", async () => {
    const child = spawn(process.execPath, ["scripts/run-ts.mjs", FIXTURE], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<"still running">((r) => (timer = setTimeout(() => r("still running"), 15_000)));
    const outcome = await Promise.race([exited, limit]);
    clearTimeout(timer);
    if (outcome === "still running") child.kill("SIGKILL");
    expect(outcome, `stderr: ${err}`).toBe(0);
    const report = JSON.parse(out.trim().split("\n").pop()!);
    expect(report).toMatchObject({ read: "ECONNABORTED", accept: null, recv: null });
    expect(report.stats.tcp.counters).toMatchObject({ connections: 0, listeners: 0 });
  });
});
