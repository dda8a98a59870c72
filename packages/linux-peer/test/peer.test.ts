import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { MorganaError } from "@morgana/interfaces";
import { createLinuxPeer, linuxPeerSupport, livePeers, sweepStale, withLinuxPeer, type LinuxPeer } from "../src/index.js";
import { describeLinux, linuxGate } from "../src/vitest.js";
import { deadPid, namespaces, processAlive, rootLinkExists, rootRoutes, sh, waitUntil } from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ORPHAN = fileURLToPath(new URL("./fixtures/orphan.ts", import.meta.url));

describeLinux("createLinuxPeer", () => {
  const opened: LinuxPeer[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((p) => p.close()));
  });

  it("creates a namespace with the TAP, its address, MTU and lo up; IPv6 off; nothing in the root namespace; close removes it all", async () => {
    const routesBefore = rootRoutes();
    const peer = await createLinuxPeer({ linuxAddress: "10.231.17.1/24", mtu: 1400 });
    opened.push(peer);
    expect(peer.tap.length).toBeLessThanOrEqual(15);
    expect(peer.ns).toMatch(new RegExp(`^mg${process.pid.toString(36)}-[0-9a-z]{5}$`));
    expect(namespaces()).toContain(peer.ns);
    expect(livePeers()).toContain(peer.ns);
    expect(peer).toMatchObject({ linuxAddress: "10.231.17.1/24", address: "10.231.17.1", prefixLength: 24, subnet: "10.231.17.0/24", mtu: 1400 });
    expect(peer.hostAddress(2)).toBe("10.231.17.2");
    expect(peer.linuxMac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(peer.morganaPort).not.toBe(peer.socatPort);

    // Inside the namespace: the TAP with the address, up, the MTU, the MAC; lo up.
    const links = JSON.parse((await peer.exec(["ip", "-j", "addr", "show"])).stdout) as {
      ifname: string;
      flags: string[];
      mtu: number;
      address: string;
      addr_info: { family: string; local: string; prefixlen: number }[];
    }[];
    expect(links.map((l) => l.ifname).sort()).toEqual(["lo", peer.tap].sort());
    const tap = links.find((l) => l.ifname === peer.tap)!;
    expect(tap.flags).toContain("UP");
    expect(tap.mtu).toBe(1400);
    expect(tap.address).toBe(peer.linuxMac);
    // IPv4 only: no IPv6 link-local address, so no IPv6 noise on the wire.
    expect(tap.addr_info).toEqual([expect.objectContaining({ family: "inet", local: "10.231.17.1", prefixlen: 24 })]);
    expect(links.find((l) => l.ifname === "lo")!.flags).toContain("UP");
    const v6 = await peer.exec(["cat", `/proc/sys/net/ipv6/conf/${peer.tap}/disable_ipv6`, "/proc/sys/net/ipv6/conf/all/disable_ipv6"]);
    expect(v6.stdout.split("\n").filter(Boolean)).toEqual(["1", "1"]);
    // The only routes in the namespace: the subnet on the TAP (no default route: nothing leaves).
    const nsRoutes = (await peer.exec(["ip", "-4", "route", "show"])).stdout.trim().split("\n");
    expect(nsRoutes).toHaveLength(1);
    expect(nsRoutes[0]).toMatch(new RegExp(`^10\\.231\\.17\\.0/24 dev ${peer.tap} `));

    // The root namespace: no such link, no route for the subnet or the TAP; socat runs there.
    expect(rootLinkExists(peer.tap)).toBe(false);
    const routesNow = rootRoutes();
    expect(routesNow.filter((r) => r.includes("10.231.17.") || r.includes(peer.tap))).toEqual([]);
    expect(routesNow.filter((r) => !routesBefore.includes(r))).toEqual([]);
    expect(processAlive(peer.socatPid)).toBe(true);
    const socat = sh("ss", ["-ulnp", `sport = :${peer.socatPort}`]).stdout;
    expect(socat).toContain(`127.0.0.1:${peer.socatPort}`);
    expect(socat).toContain(`pid=${peer.socatPid}`);

    await peer.close();
    expect(peer.closed).toBe(true);
    expect(namespaces()).not.toContain(peer.ns);
    expect(livePeers()).not.toContain(peer.ns);
    expect(processAlive(peer.socatPid)).toBe(false);
    // socat catches SIGTERM and exits with 128 + 15.
    expect(await peer.socatExited).toEqual({ code: 143, signal: null });
    expect(rootLinkExists(peer.tap)).toBe(false);
    await peer.close(); // idempotent
    await expect(peer.exec(["true"])).rejects.toMatchObject({ code: "EBADF" });
    expect(() => peer.spawn(["true"])).toThrow(MorganaError);
  });

  it("picks a fresh 10.<200..254>.<r>.1/24 subnet, namespace and ports per peer; several peers coexist", async () => {
    const peers = await Promise.all([createLinuxPeer(), createLinuxPeer(), createLinuxPeer()]);
    opened.push(...peers);
    for (const p of peers) {
      expect(p.linuxAddress).toMatch(/^10\.(2[0-4][0-9]|25[0-4])\.\d{1,3}\.1\/24$/);
      expect(Number(p.address.split(".")[1])).toBeGreaterThanOrEqual(200);
      expect(namespaces()).toContain(p.ns);
    }
    expect(new Set(peers.map((p) => p.ns)).size).toBe(3);
    expect(new Set(peers.flatMap((p) => [p.morganaPort, p.socatPort])).size).toBe(6);
    // Each namespace sees only its own TAP.
    for (const p of peers) {
      const names = (await p.exec(["ls", "/sys/class/net"])).stdout.split(/\s+/).filter(Boolean).sort();
      expect(names).toEqual(["lo", p.tap].sort());
    }
  });

  it("uses the morganaPort it is given", async () => {
    const peer = await createLinuxPeer({ morganaPort: 23456 });
    opened.push(peer);
    expect(peer.morganaPort).toBe(23456);
    expect(readFileSync(`/proc/${peer.socatPid}/cmdline`, "utf8").split("\0")).toContain(`UDP-DATAGRAM:127.0.0.1:23456,bind=127.0.0.1:${peer.socatPort}`);
  });

  it("exec runs inside the namespace: exit code, output, input, timeout", async () => {
    const peer = await createLinuxPeer();
    opened.push(peer);
    const ok = await peer.exec(["sh", "-c", "echo out; echo err >&2; exit 7"]);
    expect(ok).toEqual({ code: 7, signal: null, stdout: "out\n", stderr: "err\n", timedOut: false });
    const cat = await peer.exec(["cat"], { input: "hello\n" });
    expect(cat.stdout).toBe("hello\n");
    const t0 = Date.now();
    const slow = await peer.exec(["sleep", "30"], { timeoutMs: 200 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(slow).toMatchObject({ timedOut: true, code: null, signal: "SIGKILL" });
    const missing = await peer.exec(["no-such-command-xyz"]);
    expect(missing.code).not.toBe(0);
    // Really inside: the TAP is visible, the root's eth0 (or any other interface) is not.
    const ns = (await peer.exec(["ip", "-o", "link", "show"])).stdout;
    expect(ns).toContain(peer.tap);
    expect(ns.split("\n").filter(Boolean)).toHaveLength(2);
  });

  it("spawn starts long-running processes; kill() stops one, close() stops the rest", async () => {
    const peer = await createLinuxPeer();
    const a = peer.spawn(["sh", "-c", "echo ready; exec sleep 600"]);
    const b = peer.spawn(["sleep", "600"]);
    await a.waitForOutput("ready");
    expect(a.stdout()).toBe("ready\n");
    expect(processAlive(a.pid)).toBe(true);
    // The spawned process lives in the peer's namespace.
    expect(sh("ip", ["netns", "identify", String(b.pid)]).stdout.trim()).toBe(peer.ns);
    const st = await a.kill();
    expect(st.signal).toBe("SIGTERM");
    expect(processAlive(a.pid)).toBe(false);
    await peer.close();
    expect(await b.exited).toMatchObject({ signal: "SIGTERM" });
    expect(processAlive(b.pid)).toBe(false);
  });

  it("waitForOutput rejects when the process exits first", async () => {
    const peer = await createLinuxPeer();
    opened.push(peer);
    const p = peer.spawn(["sh", "-c", "echo something else"]);
    await expect(p.waitForOutput("never printed", 5000)).rejects.toThrow(/exited/);
  });

  it("close also kills processes that were started in the namespace by other means", async () => {
    const peer = await createLinuxPeer();
    // A daemon: the shell exits at once, the sleep stays in the namespace.
    await peer.exec(["sh", "-c", "sleep 600 >/dev/null 2>&1 &"]);
    const pids = sh("ip", ["netns", "pids", peer.ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
    expect(pids.length).toBeGreaterThan(0);
    await peer.close();
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    expect(namespaces()).not.toContain(peer.ns);
  });

  it("withLinuxPeer closes the peer when the body throws, and returns the body's value otherwise", async () => {
    let seen: LinuxPeer | undefined;
    const err = await withLinuxPeer({}, async (peer) => {
      seen = peer;
      expect(namespaces()).toContain(peer.ns);
      throw new Error("test body failed");
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("test body failed");
    expect(seen!.closed).toBe(true);
    expect(namespaces()).not.toContain(seen!.ns);
    expect(processAlive(seen!.socatPid)).toBe(false);
    expect(await withLinuxPeer({}, (peer) => peer.address.startsWith("10."))).toBe(true);
  });

  it("rejects bad options with EINVAL before creating anything", async () => {
    const ours = (): string[] => namespaces().filter((n) => n.startsWith(`mg${process.pid.toString(36)}-`));
    const before = ours();
    for (const opts of [{ linuxAddress: "bogus" }, { linuxAddress: "10.1.2.3" }, { linuxAddress: "10.1.2.3/31" }, { mtu: 10 }, { mtu: 70000 }, { morganaPort: 0 }, { sysctls: { "bad key": 1 } }, { sysctls: { "net.ipv4.ip_forward": "1; reboot" } }]) {
      await expect(createLinuxPeer(opts), JSON.stringify(opts)).rejects.toMatchObject({ code: "EINVAL" });
    }
    expect(ours()).toEqual(before);
  });

  it("applies extra sysctls inside the namespace only", async () => {
    const rootValue = sh("cat", ["/proc/sys/net/ipv4/icmp_ratelimit"]).stdout.trim();
    const peer = await createLinuxPeer({ sysctls: { "net.ipv4.icmp_ratelimit": rootValue === "0" ? 7 : 0 } });
    opened.push(peer);
    expect((await peer.exec(["cat", "/proc/sys/net/ipv4/icmp_ratelimit"])).stdout.trim()).toBe(rootValue === "0" ? "7" : "0");
    expect(sh("cat", ["/proc/sys/net/ipv4/icmp_ratelimit"]).stdout.trim()).toBe(rootValue);
  });

  it("hostAddress rejects host numbers outside the subnet", async () => {
    const peer = await createLinuxPeer({ linuxAddress: "10.232.0.1/30" });
    opened.push(peer);
    expect([0, 1, 2, 3].map((n) => peer.hostAddress(n))).toEqual(["10.232.0.0", "10.232.0.1", "10.232.0.2", "10.232.0.3"]);
    expect(() => peer.hostAddress(4)).toThrow(MorganaError);
    expect(() => peer.hostAddress(-1)).toThrow(MorganaError);
  });
});

/** Starts test/fixtures/orphan.ts in a child Node process; resolves with what it printed and the child. */
async function startOrphan(mode: string): Promise<{ info: { ns: string; socatPid: number; childPid: number; pid: number }; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ["scripts/run-ts.mjs", ORPHAN, mode], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  await waitUntil(() => out.includes("\n") || child.exitCode !== null, "the orphan's report", 30_000);
  if (!out.includes("\n")) throw new Error(`orphan failed: ${err}`);
  return { info: JSON.parse(out.split("\n")[0]!) as { ns: string; socatPid: number; childPid: number; pid: number }, exited };
}

describeLinux("cleanup when the owning process ends", () => {
  for (const [mode, how] of [
    ["exit", "process.exit"],
    ["throw", "an uncaught exception"],
    ["SIGTERM", "SIGTERM"],
    ["SIGINT", "SIGINT"],
  ] as const) {
    it(`removes the namespace and kills socat and spawned processes on ${how}`, async () => {
      const { info, exited } = await startOrphan(mode.startsWith("SIG") ? "wait" : mode);
      if (mode.startsWith("SIG")) {
        expect(namespaces()).toContain(info.ns);
        process.kill(info.pid, mode);
      }
      await exited;
      await waitUntil(() => !processAlive(info.socatPid) && !processAlive(info.childPid), "socat and the spawned process to die");
      expect(namespaces()).not.toContain(info.ns);
      expect(rootLinkExists(info.ns)).toBe(false);
    });
  }

  it("sweepStale removes what a SIGKILLed process left behind (namespace, socat, processes inside)", async () => {
    const { info, exited } = await startOrphan("wait");
    process.kill(info.pid, "SIGKILL");
    await exited;
    // Nothing ran in the dead process: its namespace and socat are still there.
    expect(namespaces()).toContain(info.ns);
    expect(processAlive(info.socatPid)).toBe(true);
    // (Another worker's first createLinuxPeer may sweep it a moment earlier: check the result, not the return value.)
    sweepStale();
    expect(namespaces()).not.toContain(info.ns);
    await waitUntil(() => !processAlive(info.socatPid) && !processAlive(info.childPid), "socat and sleep to die");
  });

  it("sweepStale leaves namespaces of live processes and foreign names alone", async () => {
    const dead = deadPid();
    const staleName = `mg${dead.toString(36)}-zzzzz`;
    const mine = `mg${process.pid.toString(36)}-yyyyy`;
    const foreign = `other${process.pid.toString(36)}`;
    for (const n of [staleName, mine, foreign]) expect(sh("ip", ["netns", "add", n]).status).toBe(0);
    try {
      const removed = sweepStale();
      expect(removed).not.toContain(mine);
      expect(removed).not.toContain(foreign);
      expect(namespaces()).toEqual(expect.arrayContaining([mine, foreign]));
      expect(namespaces()).not.toContain(staleName);
    } finally {
      for (const n of [staleName, mine, foreign]) sh("ip", ["netns", "del", n]);
    }
  });
});

describe("support and the skip-or-fail rule", () => {
  it("linuxPeerSupport reports ok on a capable machine, and a reason otherwise", () => {
    const s = linuxPeerSupport();
    const capable = process.getuid?.() === 0 && sh("socat", ["-V"]).status === 0 && sh("ip", ["-V"]).status === 0;
    expect(s.ok).toBe(capable);
    if (!s.ok) expect(s.reason).toMatch(/\w/);
    const missing = linuxPeerSupport({ tools: ["no-such-tool-xyz"] });
    expect(missing.ok).toBe(false);
    expect(missing.reason).toContain("no-such-tool-xyz");
  });

  it("skips with a reason when tools are not required, fails when MORGANA_REQUIRE_TOOLS=1", () => {
    const saved = process.env.MORGANA_REQUIRE_TOOLS;
    try {
      delete process.env.MORGANA_REQUIRE_TOOLS;
      const skip = linuxGate({ tools: ["no-such-tool-xyz"] });
      expect(skip).toMatchObject({ run: false, skip: true, fail: false });
      expect(skip.reason).toContain("no-such-tool-xyz");
      process.env.MORGANA_REQUIRE_TOOLS = "1";
      expect(linuxGate({ tools: ["no-such-tool-xyz"] })).toMatchObject({ run: false, skip: false, fail: true });
      if (linuxPeerSupport().ok) expect(linuxGate()).toMatchObject({ run: true, skip: false, fail: false });
    } finally {
      if (saved === undefined) delete process.env.MORGANA_REQUIRE_TOOLS;
      else process.env.MORGANA_REQUIRE_TOOLS = saved;
    }
  });
});
