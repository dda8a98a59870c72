/**
 * @morgana/linux-peer/vitest — the rule for tests that need a Linux peer:
 * where the environment cannot run them (not root, a tool missing, no
 * namespaces) they are skipped with the reason in their name and a warning,
 * EXCEPT when MORGANA_REQUIRE_TOOLS=1 (CI): then they fail with the reason.
 */
import { describe, it, type TestFunction } from "vitest";
import { linuxPeerSupport, toolsRequired, type SupportOptions } from "./support.js";

export interface LinuxGate {
  /** Run the tests normally. */
  run: boolean;
  /** Skip them (unsupported, tools not required). */
  skip: boolean;
  /** Fail them (unsupported, MORGANA_REQUIRE_TOOLS=1). */
  fail: boolean;
  reason: string | undefined;
}

const warned = new Set<string>();

/**
 * Decides what to do with Linux-peer tests here (see the module comment),
 * printing a warning once per reason when they are skipped.
 */
export function linuxGate(opts: SupportOptions = {}): LinuxGate {
  const s = linuxPeerSupport(opts);
  if (s.ok) return { run: true, skip: false, fail: false, reason: undefined };
  if (toolsRequired()) return { run: false, skip: false, fail: true, reason: s.reason };
  if (!warned.has(s.reason ?? "")) {
    warned.add(s.reason ?? "");
    console.warn(`Linux-peer tests skipped: ${s.reason} (set MORGANA_REQUIRE_TOOLS=1 to make this a failure)`);
  }
  return { run: false, skip: true, fail: false, reason: s.reason };
}

function requiredError(reason: string | undefined): Error {
  return new Error(`Linux-peer tests are required (MORGANA_REQUIRE_TOOLS=1) but cannot run here: ${reason ?? "unknown"}`);
}

/**
 * `describe` for a suite of Linux-peer tests. Unsupported: the suite is
 * `describe.skip`ped with the reason appended to its name, or, under
 * MORGANA_REQUIRE_TOOLS=1, replaced by a single failing test giving the reason.
 */
export function describeLinux(name: string, fn: () => void, opts: SupportOptions = {}): void {
  const gate = linuxGate(opts);
  if (gate.run) describe(name, fn);
  else if (gate.skip) describe.skip(`${name} [skipped: ${gate.reason}]`, fn);
  else
    describe(name, () => {
      it("needs a Linux peer environment", () => {
        throw requiredError(gate.reason);
      });
    });
}

/** `it` for one Linux-peer test, with the same rule as {@link describeLinux}. */
export function linuxIt(name: string, fn: TestFunction, timeoutMs?: number, opts: SupportOptions = {}): void {
  const gate = linuxGate(opts);
  if (gate.run) it(name, fn, timeoutMs);
  else if (gate.skip) it.skip(`${name} [skipped: ${gate.reason}]`, fn);
  else
    it(name, () => {
      throw requiredError(gate.reason);
    });
}
