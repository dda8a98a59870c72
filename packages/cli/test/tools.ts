/**
 * The rule for tests that need a system tool (curl): skipped with the reason
 * in their name when the tool is missing, except under MORGANA_REQUIRE_TOOLS=1
 * (CI), where they fail with the reason.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { toolsRequired } from "@morgana/linux-peer";
import { it, type TestFunction } from "vitest";

export function findTool(cmd: string): string | undefined {
  for (const d of [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/sbin"]) {
    if (d !== "" && existsSync(path.join(d, cmd))) return path.join(d, cmd);
  }
  return undefined;
}

export function toolIt(tools: readonly string[], name: string, fn: TestFunction, timeoutMs?: number): void {
  const missing = tools.filter((t) => findTool(t) === undefined);
  if (missing.length === 0) it(name, fn, timeoutMs);
  else if (toolsRequired()) {
    it(name, () => {
      throw new Error(`MORGANA_REQUIRE_TOOLS=1 but ${missing.join(", ")} not found on PATH`);
    });
  } else {
    console.warn(`skipping "${name}": ${missing.join(", ")} not found (set MORGANA_REQUIRE_TOOLS=1 to make this a failure)`);
    it.skip(`${name} [skipped: ${missing.join(", ")} not found]`, fn);
  }
}
