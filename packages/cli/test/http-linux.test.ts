/**
 * Debian's curl, inside a network namespace, against @morgana/http's server
 * running on the pure-TypeScript stack (@morgana/stack: its own TCP/IP) whose
 * device is a TAP bridged by socat (@morgana/linux-peer, @morgana/dgram-netif):
 * the static handler of `morgana http serve` plus an upload route. Keep-alive
 * reuse, a chunked upload and a Range request, all through Morgana's TCP.
 * Needs root, ip, socat and curl; skipped visibly otherwise, failing under
 * MORGANA_REQUIRE_TOOLS=1.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, expect, it } from "vitest";
import { createDgramNetif } from "@morgana/dgram-netif";
import { createHttpServer, type HttpServer } from "@morgana/http";
import { createLinuxPeer, type LinuxPeer } from "@morgana/linux-peer";
import { describeLinux } from "@morgana/linux-peer/vitest";
import { createStack, type DirectStack } from "@morgana/stack";
import { createStaticHandler } from "../src/http.js";

const tmp = mkdtempSync(path.join(tmpdir(), "morgana-serve-linux-"));
const DATA = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 29 + 3) & 0xff));
writeFileSync(path.join(tmp, "a.txt"), "first file\n");
writeFileSync(path.join(tmp, "b.txt"), "second file\n");
writeFileSync(path.join(tmp, "data.bin"), DATA);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(): Promise<{ peer: LinuxPeer; stack: DirectStack; server: HttpServer; base: string }> {
  const peer = await createLinuxPeer();
  cleanup.push(() => peer.close());
  const netif = await createDgramNetif({ localPort: peer.morganaPort, remotePort: peer.socatPort, mtu: peer.mtu });
  const me = peer.hostAddress(2);
  const stack = createStack({ netif, address: `${me}/${peer.prefixLength}` });
  cleanup.push(() => stack.close());
  const files = await createStaticHandler(tmp);
  const server = createHttpServer({
    clock: stack.clock,
    handler: async (req, info) => {
      if (req.method !== "PUT") return files(req, info);
      const h = createHash("sha256");
      let n = 0;
      for await (const c of req.body as unknown as AsyncIterable<Uint8Array>) {
        h.update(c);
        n += c.length;
      }
      return new Response(`${req.headers.get("transfer-encoding")} ${n} ${h.digest("hex")}\n`);
    },
  });
  cleanup.push(() => server.close({ deadlineMs: 1000 }));
  await server.listen(stack.tcp, { port: 80 });
  return { peer, stack, server, base: `http://${me}` };
}

describeLinux(
  "curl in a namespace against @morgana/http on the pure-TS stack",
  () => {
    it("keep-alive: two URLs on one curl command line share one TCP connection", async () => {
      const { peer, server, base } = await setup();
      const r = await peer.exec(["curl", "-sv", "--max-time", "20", `${base}/a.txt`, `${base}/b.txt`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("first file\nsecond file\n");
      expect(r.stderr).toMatch(/Re-using existing connection/);
      expect(server.stats().counters).toMatchObject({ connectionsAccepted: 1, requests: 2, keepAliveReuses: 1 });
    }, 60_000);

    it("chunked upload: curl -T - with Transfer-Encoding: chunked", async () => {
      const { peer, base } = await setup();
      const data = Buffer.alloc(300_000).map((_, i) => (i * 11) & 0xff);
      const r = await peer.exec(["curl", "-s", "--max-time", "30", "-T", "-", "-H", "Transfer-Encoding: chunked", `${base}/upload`], { input: data });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`chunked 300000 ${createHash("sha256").update(data).digest("hex")}\n`);
    }, 60_000);

    it("Range: curl -r 0-99 gets 206 and the first 100 bytes", async () => {
      const { peer, base } = await setup();
      const r = await peer.exec(["sh", "-c", `curl -s --max-time 20 -D - -r 0-99 ${base}/data.bin | od -An -tx1 -v`]);
      expect(r.code, r.stderr).toBe(0);
      const bytes = Buffer.from(r.stdout.replace(/\s+/g, ""), "hex");
      const split = bytes.indexOf("\r\n\r\n") + 4;
      const head = bytes.subarray(0, split).toString("latin1");
      expect(head).toMatch(/^HTTP\/1\.1 206 Partial Content\r\n/);
      expect(head).toMatch(/content-range: bytes 0-99\/50000\r\n/i);
      expect(Buffer.compare(bytes.subarray(split), DATA.subarray(0, 100))).toBe(0);
      // The whole file too, through the direct stack's TCP (many segments).
      const all = await peer.exec(["sh", "-c", `curl -s --max-time 20 ${base}/data.bin | sha256sum`]);
      expect(all.stdout.split(" ")[0]).toBe(createHash("sha256").update(DATA).digest("hex"));
    }, 60_000);
  },
  { tools: ["curl"] },
);
