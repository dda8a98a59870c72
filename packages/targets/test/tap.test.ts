import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { describeLinux } from "@morgana/linux-peer/vitest";
import { main, startTap } from "../src/tap.js";
import { captureIo, failingApp, probeApp } from "./fixtures.js";

const unsupported = () => ({ ok: false, reason: "not running as root (network namespaces and TAP devices need CAP_NET_ADMIN)" });

describe("the tap target without support", () => {
  it("main: one line, exit 2, the application never starts", async () => {
    const app = failingApp("must not start");
    const c = captureIo();
    expect(await main(app, [], c.io, { support: unsupported, handleSignals: false })).toBe(2);
    expect(c.err).toEqual(["morgana: the tap target needs root and socat (not running as root (network namespaces and TAP devices need CAP_NET_ADMIN))"]);
    expect(c.out).toEqual([]);
    expect(app.started).toBe(0);
  });

  it("startTap rejects with ENOTSUP and the reason", async () => {
    await expect(startTap(probeApp, { support: () => ({ ok: false, reason: "missing tools: socat" }) })).rejects.toMatchObject({ code: "ENOTSUP", message: "missing tools: socat" });
  });
});

describeLinux(
  "the tap target on a Linux peer",
  () => {
    it("main: prints the commands, Linux's curl reaches the app, stopping removes the namespace (exit 0)", async () => {
      const c = captureIo();
      const stop = new AbortController();
      const done = main(probeApp, [], c.io, { signal: stop.signal, handleSignals: false });
      let curl: string | undefined;
      for (let i = 0; i < 500 && curl === undefined; i++) {
        curl = c.out.find((l) => l.startsWith("  ip netns exec ") && l.includes(" curl "));
        if (curl === undefined) await new Promise((r) => setTimeout(r, 10));
      }
      const m = /^ {2}ip netns exec (\S+) curl http:\/\/([\d.]+)\/$/.exec(curl ?? "");
      expect(m, c.out.join("\n") + c.err.join("\n")).not.toBeNull();
      const [, ns, address] = m!;
      expect(c.out).toContain(`  ip netns exec ${ns} dig @${address} probe.morgana.test`);
      expect(c.out).toContain(`  ip netns exec ${ns} ping ${address}`);
      // Asynchronously: the stack answering curl runs in this process's event loop.
      const r = await promisify(execFile)("ip", ["netns", "exec", ns!, "curl", "-s", "--max-time", "10", `http://${address}/x`], { encoding: "utf8" });
      expect(r.stdout).toBe("/x on direct\n");
      stop.abort();
      expect(await done).toBe(0);
      expect(c.err).toEqual([]);
      const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
      expect(list).not.toContain(ns!);
    }, 60_000);

    it("startTap: a failing application leaves no namespace behind", async () => {
      const before = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
      await expect(startTap(failingApp("bad app"))).rejects.toThrow("bad app");
      const after = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
      const mine = (s: string) => s.split("\n").filter((l) => l.startsWith(`mg${process.pid.toString(36)}-`)).map((l) => l.split(" ")[0]).sort();
      expect(mine(after)).toEqual(mine(before));
    }, 60_000);
  },
  { tools: ["curl"] },
);
