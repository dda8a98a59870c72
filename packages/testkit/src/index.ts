/**
 * @morgana/testkit (private) — helpers shared by the test suites of several
 * packages: a faithful in-memory fake of the Ipv4 interface (to test upper
 * layers without @morgana/ipv4), loaders for the reference traces in
 * ../shared/traces, and error assertions.
 */
export * from "./fake-ipv4.js";
export * from "./traces.js";
export * from "./expect.js";
export * from "./tshark-json.js";
