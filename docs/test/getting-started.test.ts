/**
 * docs/getting-started.md, run: the hello application it shows runs on the
 * direct target (in process, and through `morgana run` as the page says) and
 * on the socket target, with the bodies the page quotes.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
// @ts-expect-error -- a plain .mjs script without types
import { importsOf } from "../../scripts/lint-deps.mjs";
import { runDirect } from "@morgana/targets/direct";
import { startSocket } from "@morgana/targets/socket";
import hello from "../examples/hello-app.js";
import { freeTcpPort } from "./ports.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const doc = readFileSync(new URL("../getting-started.md", import.meta.url), "utf8");
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("docs/getting-started.md", () => {
  it("the hello app imports only the signatures and protocol libraries", () => {
    const imports = importsOf(readFileSync(new URL("../examples/hello-app.ts", import.meta.url), "utf8"));
    expect([...imports].sort()).toEqual(["@morgana/dns", "@morgana/http", "@morgana/interfaces"]);
  });

  it("on the direct target: the name resolves through its own DNS and the page says which stack served it", async () => {
    const report = await runDirect(hello);
    expect(report.resolved).toEqual({ name: "hello.morgana.test", address: "10.0.0.1" });
    expect(report.pages.map((p) => [p.path, p.status, p.bytes])).toEqual([["/", 200, 28]]);
    expect(text(report.pages[0]!.body)).toBe("hello from the direct stack\n");
    expect(doc).toContain("`GET http://hello.morgana.test/  200  28 bytes`");
  });

  it("on the socket target: the same page from the host's sockets, and its DNS answer", async () => {
    const [port, dnsPort] = [await freeTcpPort(), await freeTcpPort()];
    const running = await startSocket(hello, { port, dnsPort });
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("hello from the unix-socket stack\n");
      expect(running.stack.name).toBe("unix-socket");
    } finally {
      await running.close();
    }
  });

  it("`npx morgana run docs/examples/hello-app.ts --target direct` works as the page says", () => {
    expect(doc).toContain("npx morgana run docs/examples/hello-app.ts --target direct");
    const r = spawnSync(process.execPath, ["packages/cli/bin/morgana.mjs", "run", "docs/examples/hello-app.ts", "--target", "direct", "--pcap", path.join(tmpdir(), `morgana-docs-hello-${process.pid}.pcap`)], { cwd: root, encoding: "utf8", timeout: 60_000 });
    rmSync(path.join(tmpdir(), `morgana-docs-hello-${process.pid}.pcap`), { force: true });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resolved hello\.morgana\.test -> 10\.0\.0\.1/);
    expect(r.stdout).toMatch(/GET http:\/\/hello\.morgana\.test\/\s+200\s+28 bytes/);
  }, 90_000);
});
