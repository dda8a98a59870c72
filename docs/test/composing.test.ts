/**
 * docs/composing-a-stack.md, run: every code block that names a file is that
 * file, byte for byte, and the scenario it builds gives the same transcript on
 * the socket stack, on the direct stack over vnetif, and on the direct stack
 * over dgram-netif. This is also issue 5's "same application module on both
 * stacks" test.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PcapWriter, readCapture } from "@morgana/pcap";
// @ts-expect-error -- a plain .mjs script without types
import { importsOf } from "../../scripts/lint-deps.mjs";
import { runNotes } from "../examples/run-notes.js";
import { devicePair, directPair, socketPair } from "../examples/stacks.js";
import { freeTcpPort, freeUdpPorts } from "./ports.js";

const docsDir = new URL("../", import.meta.url);
const doc = readFileSync(new URL("composing-a-stack.md", docsDir), "utf8");

/** The transcript the notes protocol defines for run-notes.ts (docs/examples/notes-app.ts's header). */
const TRANSCRIPT = ["OK", "NOTE hello from any stack", "MISSING", "ERROR unknown command", "BYE", "OK", "KEYS motd todo", "BYE", "pong"];

describe("docs/composing-a-stack.md", () => {
  it("shows every file of docs/examples exactly as it is (here or in another docs page)", () => {
    const pages = readdirSync(docsDir).filter((f) => f.endsWith(".md"));
    const blocks = pages.flatMap((page) =>
      [...readFileSync(new URL(page, docsDir), "utf8").matchAll(/```ts\n(\/\/ file: (\S+)\n[\s\S]*?)```/g)].map((m) => ({ page, path: m[2]!, text: m[1]! })),
    );
    const files = readdirSync(new URL("examples/", docsDir)).filter((f) => f.endsWith(".ts"));
    expect(blocks.map((b) => b.path).sort()).toEqual(files.map((f) => `docs/examples/${f}`).sort());
    for (const b of blocks) expect(b.text, `${b.page}: ${b.path}`).toBe(readFileSync(new URL(`../../${b.path}`, import.meta.url), "utf8"));
    expect(blocks.filter((b) => b.page === "composing-a-stack.md").length).toBe(3);
  });

  it("the application imports nothing but @morgana/interfaces", () => {
    const app = readFileSync(new URL("examples/notes-app.ts", docsDir), "utf8");
    expect(importsOf(app)).toEqual(["@morgana/interfaces"]);
  });

  it("shows the transcript the test expects", () => {
    expect(doc).toContain("```\n" + TRANSCRIPT.join("\n") + "\n```");
  });
});

describe("one application, three stacks, the same transcript", () => {
  it("on unix-socket (the host's TCP/IP, loopback)", async () => {
    const pair = socketPair();
    try {
      expect(await runNotes(pair, await freeTcpPort())).toEqual(TRANSCRIPT);
      expect(pair.server.name).toBe("unix-socket");
    } finally {
      await pair.close();
    }
  });

  it("on the direct stack over an in-memory link, captured to pcap", async () => {
    const pcap = new PcapWriter();
    const pair = directPair(pcap);
    try {
      expect(await runNotes(pair)).toEqual(TRANSCRIPT);
      expect(pair.server.name).toBe("direct");
      // The capture holds the server's side of the exchange: a SYN to 7070 and the UDP ping.
      const frames = readCapture(pcap.toBytes()).records.map((r) => r.data);
      const ipv4 = frames.filter((f) => f[12] === 0x08 && f[13] === 0x00);
      const l4 = (f: Uint8Array) => 14 + (f[14]! & 0x0f) * 4;
      const dstPort = (f: Uint8Array) => (f[l4(f) + 2]! << 8) | f[l4(f) + 3]!;
      expect(ipv4.filter((f) => f[23] === 6 && dstPort(f) === 7070 && (f[l4(f) + 13]! & 0x02) !== 0).length).toBe(2); // two connections
      expect(ipv4.filter((f) => f[23] === 17 && dstPort(f) === 7070).length).toBe(1);
    } finally {
      await pair.close();
    }
  });

  it("on the direct stack over dgram-netif (frames in UDP datagrams on loopback)", async () => {
    const [a, b] = await freeUdpPorts(2);
    const pair = await devicePair(a, b);
    try {
      expect(await runNotes(pair)).toEqual(TRANSCRIPT);
      expect(pair.client.stats().netif?.counters.txFrames).toBeGreaterThan(10);
    } finally {
      await pair.close();
    }
  });
});
