/**
 * `morgana dns serve` and `morgana dns query` (through `dnsCommand`, which the
 * lead wires into main.ts): the query output against a loopback server,
 * compared line by line with Debian's dig where dig is installed; `serve` as
 * a child process answering dig and stopping on SIGTERM/SIGINT; the errors of
 * both as one line with the documented exit codes.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AuthoritativeServer, parseZone, serveDns, Zone, type DnsServerHandle } from "@morgana/dns";
import { systemClock } from "@morgana/sim";
import { createSocketStack, type SocketStack } from "@morgana/unix-socket";
import { afterAll, beforeAll, describe, expect, it, type TestFunction } from "vitest";
import { dnsCommand, firstNameserver, type DnsCommandOptions } from "../src/dns.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), "morgana-cli-dns-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ZONE = `$ORIGIN example.test.
$TTL 300
@       3600 SOA ns1 hostmaster 2026112601 3600 900 604800 120
@       NS  ns1
ns1     A   127.0.0.1
www     A   10.77.0.2
www     AAAA 2001:db8::2
alias   CNAME www
mx      MX 10 mail
mail    A   10.77.0.4
txt     TXT "hello world" "second string"
${Array.from({ length: 100 }, (_, i) => `many A 10.1.0.${i + 1}`).join("\n")}
`;

async function cli(args: string[], opts: DnsCommandOptions = {}): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await dnsCommand(args, { out: (l) => out.push(...l.split("\n")), err: (l) => err.push(l) }, opts);
  return { code, out, err };
}

function haveDig(): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((d) => d !== "" && existsSync(path.join(d, "dig")));
}

/** `it` needing dig: skipped with the reason, or failed under MORGANA_REQUIRE_TOOLS=1. */
function digIt(name: string, fn: TestFunction, timeoutMs?: number): void {
  if (haveDig()) it(name, fn, timeoutMs);
  else if (process.env.MORGANA_REQUIRE_TOOLS === "1")
    it(name, () => {
      throw new Error("MORGANA_REQUIRE_TOOLS=1 but dig is not on PATH");
    });
  else it.skip(`${name} [skipped: dig not found]`, fn);
}

function digRaw(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("dig", ["+tries=1", "+time=3", ...args], { encoding: "utf8", timeout: 20_000 }, (e, stdout) => (e ? reject(e) : resolve(stdout)));
  });
}

/** The lines of one section (`ANSWER`, ...) of dig-style output. */
function section(lines: string[], name: string): string[] {
  const i = lines.findIndex((l) => l === `;; ${name} SECTION:`);
  if (i < 0) return [];
  const out: string[] = [];
  for (let j = i + 1; j < lines.length && lines[j] !== ""; j++) out.push(lines[j]!);
  return out;
}

describe("morgana dns query", () => {
  let stack: SocketStack;
  let handle: DnsServerHandle;
  let at: string;
  beforeAll(async () => {
    stack = createSocketStack({ addresses: ["127.0.0.1"] });
    handle = await serveDns({ stack, server: new AuthoritativeServer({ zones: [new Zone(parseZone(ZONE).records)] }), clock: systemClock, port: 0, address: "127.0.0.1" });
    at = `@127.0.0.1:${handle.port}`;
  });
  afterAll(async () => {
    await handle.close();
    await stack.close();
  });

  it("prints the answer in the style of dig", async () => {
    const r = await cli(["query", "www.example.test", "A", at]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    const o = r.out;
    expect(o).toContain(`; <<>> morgana dns query <<>> www.example.test A ${at}`);
    expect(o.find((l) => l.startsWith(";; ->>HEADER<<-"))).toMatch(/^;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: \d+$/);
    expect(o).toContain(";; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1");
    expect(o).toContain(";; WARNING: recursion requested but not available");
    expect(o).toContain("; EDNS: version: 0, flags:; udp: 1232");
    expect(section(o, "QUESTION")).toEqual([";www.example.test.\t\tIN\tA"]);
    expect(section(o, "ANSWER")).toEqual(["www.example.test.\t300\tIN\tA\t10.77.0.2"]);
    expect(o.find((l) => l.startsWith(";; Query time:"))).toMatch(/^;; Query time: \d+ msec$/);
    expect(o).toContain(`;; SERVER: 127.0.0.1#${handle.port}(127.0.0.1) (UDP)`);
    expect(o.find((l) => l.startsWith(";; MSG SIZE"))).toMatch(/^;; MSG SIZE {2}rcvd: \d+$/);
  });

  it("shows NXDOMAIN with the SOA, MX with additional data, TXT strings; --tcp; TC then TCP", async () => {
    const nx = await cli(["query", "nope.example.test", at]);
    expect(nx.code).toBe(0);
    expect(nx.out.find((l) => l.includes("status:"))).toContain("status: NXDOMAIN");
    expect(section(nx.out, "AUTHORITY")).toEqual(["example.test.\t\t120\tIN\tSOA\tns1.example.test. hostmaster.example.test. 2026112601 3600 900 604800 120"]);
    expect(section(nx.out, "ANSWER")).toEqual([]);
    const mx = await cli(["query", "mx.example.test", "mx", at]);
    expect(section(mx.out, "ANSWER")).toEqual(["mx.example.test.\t300\tIN\tMX\t10 mail.example.test."]);
    expect(section(mx.out, "ADDITIONAL")).toEqual(["mail.example.test.\t300\tIN\tA\t10.77.0.4"]);
    const txt = await cli(["query", "txt.example.test", "TXT", at, "--tcp"]);
    expect(section(txt.out, "ANSWER")).toEqual(['txt.example.test.\t300\tIN\tTXT\t"hello world" "second string"']);
    expect(txt.out).toContain(`;; SERVER: 127.0.0.1#${handle.port}(127.0.0.1) (TCP)`);
    const many = await cli(["query", "many.example.test", at]);
    expect(many.out[0]).toBe(";; Truncated, retrying in TCP mode.");
    expect(section(many.out, "ANSWER")).toHaveLength(100);
    expect(many.out).toContain(`;; SERVER: 127.0.0.1#${handle.port}(127.0.0.1) (TCP)`);
    const noedns = await cli(["query", "www.example.test", "AAAA", at, "--no-edns"]);
    expect(noedns.out.some((l) => l.includes("EDNS"))).toBe(false);
    expect(noedns.out).toContain(";; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0");
  });

  digIt("agrees with dig on the header, flags and every section", async () => {
    for (const [name, type] of [
      ["www.example.test", "A"],
      ["alias.example.test", "AAAA"],
      ["nope.example.test", "A"],
      ["mx.example.test", "MX"],
      ["txt.example.test", "TXT"],
      ["example.test", "NS"],
    ] as const) {
      const ours = (await cli(["query", name, type, at])).out;
      const theirs = (await digRaw([`@127.0.0.1`, "-p", String(handle.port), name, type])).split("\n");
      const strip = (l: string | undefined) => l?.replace(/id: \d+/, "id: N");
      expect(strip(ours.find((l) => l.startsWith(";; ->>HEADER")))).toBe(strip(theirs.find((l) => l.startsWith(";; ->>HEADER"))));
      expect(ours.find((l) => l.startsWith(";; flags:"))).toBe(theirs.find((l) => l.startsWith(";; flags:")));
      for (const s of ["QUESTION", "ANSWER", "AUTHORITY", "ADDITIONAL"]) expect(section(ours, s), `${name} ${type} ${s}`).toEqual(section(theirs, s));
      expect(ours.find((l) => l.startsWith("; EDNS:"))).toBe(theirs.find((l) => l.startsWith("; EDNS:")));
    }
  });

  it("reports no answer and refusal as one line, exit 9", async () => {
    const silent = await stack.udp.bind({ address: "127.0.0.1" });
    const t = await cli(["query", "www.example.test", `@127.0.0.1:${silent.local.port}`, "--timeout", "200"]);
    await silent.close();
    expect(t.code).toBe(9);
    expect(t.out).toEqual([]);
    expect(t.err).toEqual([`morgana dns query: no response from 127.0.0.1#${silent.local.port} within 200 ms (ETIMEOUT)`]);
    const closed = handle.port === 65535 ? 65534 : handle.port + 1;
    const r = await cli(["query", "www.example.test", `@127.0.0.1:${closed}`, "--tcp", "--timeout", "2000"]);
    expect(r.code).toBe(9);
    expect(r.err).toEqual([`morgana dns query: connection refused by 127.0.0.1#${closed} (ECONNREFUSED)`]);
  });

  it("takes the default server from resolv.conf, else 127.0.0.1", async () => {
    expect(firstNameserver("# comment\nsearch x\nnameserver ::1\nnameserver 10.1.2.3\nnameserver 10.9.9.9\n")).toBe("10.1.2.3");
    expect(firstNameserver("")).toBeUndefined();
    const conf = path.join(tmp, "resolv.conf");
    writeFileSync(conf, "nameserver 127.0.0.3\n");
    const r = await cli(["query", "www.example.test", "--timeout", "100"], { resolvConf: conf });
    expect(r.err).toEqual(["morgana dns query: no response from 127.0.0.3#53 within 100 ms (ETIMEOUT)"]);
    const none = await cli(["query", "www.example.test", "--timeout", "100"], { resolvConf: path.join(tmp, "missing") });
    expect(none.err[0]).toContain("127.0.0.1#53");
  });

  it("refuses bad usage with exit 2", async () => {
    for (const args of [["query"], ["query", "www.example.test", "BOGUS"], ["query", "www.example.test", "@example.com"], ["query", "a..b"], ["query", "x", "A", "extra"], ["query", "x", "--timeout", "0"], ["frobnicate"], []]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.out.length + r.err.length).toBeGreaterThan(0);
    }
    expect((await cli(["help"])).code).toBe(0);
  });
});

describe("morgana dns serve", () => {
  const zoneFile = path.join(tmp, "example.test.zone");
  beforeAll(() => writeFileSync(zoneFile, ZONE));

  it("serves in process until its signal aborts, answering our own query", async () => {
    const ac = new AbortController();
    const lines: string[] = [];
    const done = dnsCommand(["serve", zoneFile, "--port", "0", "--address", "127.0.0.1"], { out: (l) => lines.push(l), err: (l) => lines.push(l) }, { signal: ac.signal });
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const m = /^morgana dns: serving example\.test \((\d+) records\) on 127\.0\.0\.1:(\d+) \(UDP and TCP\)$/.exec(lines[0] ?? "");
    expect(m, lines.join("\n")).not.toBeNull();
    expect(Number(m![1])).toBe(9 + 100);
    const q = await cli(["query", "alias.example.test", `@127.0.0.1:${m![2]}`]);
    expect(section(q.out, "ANSWER")).toEqual(["alias.example.test.\t300\tIN\tCNAME\twww.example.test.", "www.example.test.\t300\tIN\tA\t10.77.0.2"]);
    ac.abort();
    expect(await done).toBe(0);
    expect(lines.at(-1)).toBe("morgana dns: stopped after 1 queries");
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    digIt(
      `runs as a process, answers dig over UDP and TCP, and exits 0 on ${signal}`,
      async () => {
        const child = spawn(process.execPath, [path.join(ROOT, "scripts/run-ts.mjs"), path.join(ROOT, "packages/cli/test/dns-entry.ts"), "serve", zoneFile, "--port", "0", "--address", "127.0.0.1"], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        try {
          for (let i = 0; i < 300 && !stdout.includes("\n"); i++) await new Promise((r) => setTimeout(r, 50));
          const m = /on 127\.0\.0\.1:(\d+) \(UDP and TCP\)/.exec(stdout);
          expect(m, stdout + stderr).not.toBeNull();
          const port = m![1]!;
          const u = await digRaw(["@127.0.0.1", "-p", port, "www.example.test", "A"]);
          expect(u).toContain("status: NOERROR");
          expect(u).toMatch(/www\.example\.test\.\s+300\s+IN\s+A\s+10\.77\.0\.2/);
          const t = await digRaw(["@127.0.0.1", "-p", port, "+tcp", "www.example.test", "AAAA"]);
          expect(t).toMatch(/2001:db8::2/);
          expect(t).toContain("(TCP)");
          child.kill(signal);
          expect(await exited).toBe(0);
          expect(stdout.trim().split("\n").at(-1)).toBe("morgana dns: stopped after 2 queries");
          expect(stderr).toBe("");
        } finally {
          child.kill("SIGKILL");
        }
      },
      60_000,
    );
  }

  it("reports zone errors as one line with the line number, exit 1", async () => {
    const bad = path.join(tmp, "bad.zone");
    writeFileSync(bad, "$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\nwww A 10.0.0.300\n");
    const r = await cli(["serve", bad, "--port", "0"]);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(new RegExp(`^morgana dns serve: ${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:4:\\d+: `));
    const noSoa = path.join(tmp, "nosoa.zone");
    writeFileSync(noSoa, "$ORIGIN example.test.\n$TTL 300\nwww A 10.0.0.1\n");
    const s = await cli(["serve", noSoa, "--port", "0"]);
    expect(s.code).toBe(1);
    expect(s.err).toHaveLength(1);
    expect(s.err[0]).toContain("no SOA record");
    const rel = path.join(tmp, "relative.zone");
    writeFileSync(rel, "$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\n");
    const o = await cli(["serve", rel, "--port", "0"]);
    expect(o.code).toBe(1);
    expect(o.err[0]).toMatch(/:2:\d+: /);
    const missing = await cli(["serve", path.join(tmp, "nope.zone")]);
    expect(missing.code).toBe(1);
    expect(missing.err[0]).toMatch(/^morgana dns serve: cannot read .*nope\.zone: /);
  });

  it("reports a port in use as one line, exit 1; usage errors exit 2", async () => {
    const stack = createSocketStack({ addresses: ["127.0.0.1"] });
    const taken = await stack.udp.bind({ address: "127.0.0.1" });
    try {
      const r = await cli(["serve", zoneFile, "--port", String(taken.local.port), "--address", "127.0.0.1"]);
      expect(r.code).toBe(1);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toContain("EADDRINUSE");
    } finally {
      await stack.close();
    }
    for (const args of [["serve"], ["serve", zoneFile, "--port", "99999"], ["serve", zoneFile, "--address", "localhost"], ["serve", zoneFile, "--bogus"], ["serve", zoneFile, zoneFile]]) {
      expect((await cli(args)).code, args.join(" ")).toBe(2);
    }
  });
});
