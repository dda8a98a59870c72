/**
 * The direct stack against the real Linux kernel: a network namespace with a
 * TAP device bridged by socat to a dgram-netif on loopback (see
 * @morgana/linux-peer). Each test creates its own namespace and ports and
 * removes them. Runs as root with socat and iproute2 (CI installs them and
 * sets MORGANA_REQUIRE_TOOLS=1, which turns a missing tool into a failure).
 */
import { afterEach, expect, it } from "vitest";
import { parseIpv4 } from "@morgana/interfaces";
import { createDgramNetif } from "@morgana/dgram-netif";
import { createLinuxPeer, type LinuxPeer } from "@morgana/linux-peer";
import { describeLinux } from "@morgana/linux-peer/vitest";
import { SeededRandom } from "@morgana/sim";
import { createStack, type DirectStack } from "../src/index.js";

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(): Promise<{ peer: LinuxPeer; stack: DirectStack; me: string; linux: string }> {
  const peer = await createLinuxPeer();
  cleanup.push(() => peer.close());
  const netif = await createDgramNetif({ localPort: peer.morganaPort, remotePort: peer.socatPort, mtu: peer.mtu });
  const me = peer.hostAddress(2);
  const stack = createStack({ netif, address: `${me}/${peer.prefixLength}` });
  cleanup.push(() => stack.close());
  return { peer, stack, me, linux: peer.address };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))),
  ]);
}

describeLinux("the direct stack with a Linux kernel peer", () => {
  it("answers Linux's ping, including 3000-byte echoes fragmented both ways", async () => {
    const { peer, stack, me } = await setup();
    const small = await peer.exec(["ping", "-c", "3", "-i", "0.2", "-W", "2", me]);
    expect(small.stdout).toMatch(/3 packets transmitted, 3 received/);
    const before = stack.ipv4.stats().counters;
    const big = await peer.exec(["ping", "-c", "2", "-i", "0.2", "-W", "2", "-s", "3000", me]);
    expect(big.stdout).toMatch(/2 packets transmitted, 2 received/);
    expect(big.stdout).toMatch(/3008 bytes from/);
    const after = stack.ipv4.stats().counters;
    // Linux fragmented its requests (3 fragments each) and we fragmented our replies.
    expect(after.reassembled! - before.reassembled!).toBe(2);
    expect(after.fragmentsSent! - before.fragmentsSent!).toBe(6);
  });

  it("pings Linux, small and fragmented", async () => {
    const { stack, linux } = await setup();
    const r = await stack.icmp.ping(parseIpv4(linux), { timeoutMs: 3000 });
    expect(r.ttl).toBe(64);
    expect(r.bytes).toBe(56);
    expect(r.rttMs).toBeGreaterThan(0);
    const big = await stack.icmp.ping(parseIpv4(linux), { timeoutMs: 3000, size: 3000 });
    expect(big.bytes).toBe(3000);
  });

  it("exchanges 1000 UDP datagrams of random sizes with a socat echo server, intact", async () => {
    const { peer, stack, linux } = await setup();
    const echo = peer.spawn(["socat", "-b", "65536", "UDP4-LISTEN:7000,reuseaddr", "PIPE"]);
    cleanup.push(() => echo.kill());
    const sock = await stack.udp.bind();
    const rnd = new SeededRandom(2026);
    // Wait until socat listens (ss inside the namespace), so no datagram meets a closed port.
    for (let i = 0; i < 100; i++) {
      if ((await peer.exec(["ss", "-Hlun", "sport = :7000"])).stdout.trim() !== "") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await sock.send(Uint8Array.of(1, 2, 3), { address: linux, port: 7000 });
    expect((await withTimeout(sock.recv(), 5000, "first echo"))!.data).toEqual(Uint8Array.of(1, 2, 3));
    let bytes = 0;
    for (let i = 0; i < 1000; i++) {
      const n = 1 + (rnd.uint32() % 6000); // up to 6000 bytes: many are fragmented both ways
      const data = new Uint8Array(n);
      rnd.fill(data);
      await sock.send(data.slice(), { address: linux, port: 7000 });
      const back = await withTimeout(sock.recv(), 5000, `echo of datagram ${i} (${n} bytes)`);
      expect(back!.address).toBe(linux);
      expect(back!.port).toBe(7000);
      expect(back!.data).toEqual(data);
      bytes += n;
    }
    expect(bytes).toBeGreaterThan(1_000_000);
    expect(stack.ipv4.stats().counters.reassembled).toBeGreaterThan(100);
  }, 120_000);

  it("reports a datagram to a closed Linux port as ECONNREFUSED on the socket", async () => {
    const { stack, linux } = await setup();
    const sock = await stack.udp.bind();
    await sock.send(new TextEncoder().encode("hello?"), { address: linux, port: 9 });
    const err = await withTimeout(sock.recv().then(() => undefined, (e: unknown) => e), 5000, "ICMP port unreachable");
    expect(err).toMatchObject({ code: "ECONNREFUSED", address: linux, port: 9 });
  });
});
