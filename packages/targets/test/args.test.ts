import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { main as directMain } from "../src/direct.js";
import { main as socketMain } from "../src/socket.js";
import { main as tapMain } from "../src/tap.js";
import { parseArgs, UsageError } from "../src/common.js";
import { captureIo, failingApp } from "./fixtures.js";

const TARGETS = { socket: socketMain, direct: directMain, tap: tapMain } as const;
const never = () => ({ ok: false, reason: "the support check must not run for bad arguments" });

async function run(target: keyof typeof TARGETS, argv: string[]) {
  const app = failingApp("must not start");
  const c = captureIo();
  const code = await TARGETS[target](app, argv, c.io, { handleSignals: false, ...(target === "tap" ? { support: never } : {}) });
  return { code, out: c.out, err: c.err, started: app.started };
}

describe("parseArgs", () => {
  const spec = { port: { kind: "port", help: "" }, address: { kind: "address", help: "" }, pcap: { kind: "path", help: "" } } as const;

  it("takes --name VALUE and --name=VALUE, ports as numbers", () => {
    expect(parseArgs("t", ["--port", "80", "--address=10.1.2.3", "--pcap", "x.pcap"], spec)).toEqual({ help: false, values: { port: 80, address: "10.1.2.3", pcap: "x.pcap" } });
    expect(parseArgs("t", ["--port=65535"], spec).values.port).toBe(65535);
    expect(parseArgs("t", [], spec)).toEqual({ help: false, values: {} });
    expect(parseArgs("t", ["--help", "--port", "x"], spec).help).toBe(true); // help wins over what follows
    expect(parseArgs("t", ["-h"], spec).help).toBe(true);
  });

  it.each([
    [["--nope"], /^unknown option --nope \(the t target takes --port N, --address A, --pcap FILE\)$/],
    [["-x"], /^unknown option -x /],
    [["file.txt"], /^unexpected argument "file.txt" /],
    [["--port"], /^--port needs a value$/],
    [["--port", "0"], /^bad port "0" for --port \(1 to 65535\)$/],
    [["--port", "65536"], /^bad port "65536"/],
    [["--port", "8o"], /^bad port "8o"/],
    [["--port", "-1"], /^bad port "-1"/],
    [["--port", " 80"], /^bad port " 80"/],
    [["--address", "localhost"], /^bad address "localhost" for --address/],
    [["--address", "1.2.3.256"], /^bad address "1.2.3.256"/],
    [["--pcap="], /^--pcap needs a file name$/],
  ])("%j is a one-line UsageError", (argv, message) => {
    let caught: unknown;
    try {
      parseArgs("t", argv, spec);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toMatch(/\n/);
  });

  it("ports: exactly the integers 1..65535 in decimal are accepted", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -100, max: 70000 }).map(String), fc.string({ maxLength: 6 })), (raw) => {
        const ok = /^\d{1,5}$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 65535;
        let got: number | undefined;
        try {
          got = parseArgs("t", ["--port", raw], spec).values.port as number;
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
        expect(got).toBe(ok ? Number(raw) : undefined);
      }),
    );
  });
});

describe("main: argument errors are one line on stderr and exit 2, before anything starts", () => {
  it.each([
    ["socket", ["--nope"], "morgana: unknown option --nope (the socket target takes --port N, --dns-port N, --address A)"],
    ["socket", ["--port", "0"], 'morgana: bad port "0" for --port (1 to 65535)'],
    ["socket", ["--port", "99999"], 'morgana: bad port "99999" for --port (1 to 65535)'],
    ["socket", ["--dns-port", "dns"], 'morgana: bad port "dns" for --dns-port (1 to 65535)'],
    ["socket", ["--port"], "morgana: --port needs a value"],
    ["socket", ["--address", "example.com"], 'morgana: bad address "example.com" for --address (an IPv4 address such as 127.0.0.1)'],
    ["direct", ["--port", "8080"], "morgana: unknown option --port (the direct target takes --pcap FILE)"],
    ["direct", ["extra"], 'morgana: unexpected argument "extra" (the direct target takes --pcap FILE)'],
    ["direct", ["--pcap"], "morgana: --pcap needs a value"],
    ["tap", ["--port", "80"], "morgana: unknown option --port (the tap target takes no options)"],
  ] as const)("%s %j", async (target, argv, line) => {
    const r = await run(target, [...argv]);
    expect(r).toEqual({ code: 2, out: [], err: [line], started: 0 });
  });

  it("any unknown option, on any target: exit 2, one line naming it", async () => {
    const known = new Set(["--port", "--dns-port", "--address", "--pcap", "--help"]);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("socket", "direct", "tap"),
        fc.stringMatching(/^--[a-z][a-z-]{0,12}$/).filter((o) => !known.has(o)),
        async (target, option) => {
          const r = await run(target as keyof typeof TARGETS, [option, "1"]);
          expect(r.code).toBe(2);
          expect(r.out).toEqual([]);
          expect(r.err).toHaveLength(1);
          expect(r.err[0]).toMatch(new RegExp(`^morgana: unknown option ${option} \\(the ${target} target takes `));
          expect(r.started).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it.each(["socket", "direct", "tap"] as const)("%s --help prints the usage on stdout and exits 0", async (target) => {
    const r = await run(target, ["--help"]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out.join("\n")).toMatch(new RegExp(`^usage: morgana run APP --target ${target} \\[options\\]`));
    expect(r.started).toBe(0);
  });
});
