/**
 * The llhttp markdown suite (nodejs/llhttp test/, MIT; 166 request, 85
 * response and 21 URL cases). Each http case runs once on the whole input
 * and, unless `noScan`, once per chunk size s = 1..len (the input fed in
 * s-byte chunks); every run must agree with the expected log at the semantic
 * level (see compareModels). Pause cases pause and resume at the callbacks
 * our API has. A summary is printed at the end.
 */
import { afterAll, describe, expect, it } from "vitest";
import { expectedModel, expectedUrl, loadSuite, type SuiteCase } from "./llhttp/suite.js";
import { compareModels, optionsFor, PAUSE_POINTS, runCase, runUrlCase } from "./llhttp/run.js";

/**
 * Cases where we deliberately differ from llhttp: RTSP and ICE are not HTTP,
 * so a start line with RTSP/1.0 or ICE/1.0, or an RTSP-only method, is
 * rejected. Each runs like the others (whole input and every chunk size) and
 * must be rejected with the error code given here, no message delivered.
 */
const DIFFERS: Record<string, { code: string; why: string }> = {
  "request/method.md › SOURCE request with ICE": { code: "HPE_INVALID_CONSTANT", why: "ICE/1.0 is not HTTP/x.y" },
  "request/method.md › OPTIONS request with RTSP": { code: "HPE_INVALID_CONSTANT", why: "RTSP/1.0 is not HTTP/x.y" },
  "request/method.md › ANNOUNCE request with RTSP": { code: "HPE_INVALID_METHOD", why: "ANNOUNCE is an RTSP method" },
  "response/sample.md › RTSP response": { code: "HPE_INVALID_CONSTANT", why: "RTSP/1.0 is not HTTP/x.y" },
  "response/sample.md › ICE response": { code: "HPE_INVALID_CONSTANT", why: "ICE/1.0 is not HTTP/x.y" },
};

const cases = loadSuite();
const summary = { passed: 0, runs: 0, pauseExercised: 0, pauseNotMapped: 0, urlPassed: 0, skipped: new Map<string, string[]>() };

function groupOf(c: SuiteCase): string {
  return c.file === "url.md" ? "url" : c.file.split("/")[0]!;
}

it("loads every case of the suite", () => {
  const count = (g: string): number => cases.filter((c) => groupOf(c) === g).length;
  expect(count("request")).toBe(166);
  expect(count("response")).toBe(85);
  expect(count("url")).toBe(21);
});

describe.each(["request", "response"])("llhttp %s cases", (group) => {
  for (const c of cases.filter((x) => groupOf(x) === group)) {
    const differs = DIFFERS[c.name];
    if (differs !== undefined) {
      it(`${c.name}: rejected with ${differs.code} (${differs.why}; llhttp accepts it)`, () => {
        const sizes = [0, ...Array.from({ length: c.input.length }, (_, i) => i + 1)];
        for (const s of sizes) {
          const r = runCase(c, s);
          expect(r.model.end, `chunk size ${s}`).toBe("error");
          expect(r.model.reason?.split(":")[0], `chunk size ${s}`).toBe(differs.code);
          expect(r.model.messages.filter((m) => m.complete), `chunk size ${s}`).toEqual([]);
        }
        const list = summary.skipped.get(differs.why) ?? [];
        list.push(c.name);
        summary.skipped.set(differs.why, list);
      });
      continue;
    }
    it(c.name, () => {
      const expected = expectedModel(c.log);
      const { kind } = optionsFor(c.meta.type ?? "");
      const sizes = c.meta.noScan === true ? [0] : [0, ...Array.from({ length: c.input.length }, (_, i) => i + 1)];
      let pauses = 0;
      for (const s of sizes) {
        const r = runCase(c, s);
        const diffs = compareModels(expected, r.model, kind);
        expect(diffs, `chunk size ${s === 0 ? "whole input" : s}`).toEqual([]);
        pauses += r.pauses;
        summary.runs++;
      }
      if (c.meta.pause !== undefined) {
        if (PAUSE_POINTS[c.meta.pause] !== undefined) {
          // The mapped pause point was hit (and resumed from) in the runs.
          expect(pauses).toBeGreaterThan(0);
          summary.pauseExercised++;
        } else {
          summary.pauseNotMapped++;
        }
      }
      summary.passed++;
    });
  }
});

describe("llhttp url.md cases (parseRequestTarget)", () => {
  for (const c of cases.filter((x) => groupOf(x) === "url")) {
    it(c.name, () => {
      const expected = expectedUrl(c.log);
      let s = "";
      for (const b of c.input) s += String.fromCharCode(b);
      const ours = runUrlCase(s);
      expect(ours.error).toBe(expected.error);
      if (!expected.error) expect(ours.parts).toEqual(expected.parts);
      summary.urlPassed++;
    });
  }
});

afterAll(() => {
  const skipped = [...summary.skipped.values()].reduce((n, l) => n + l.length, 0);
  const lines = [
    `llhttp suite: ${summary.passed} request/response cases passed at the semantic level (${summary.runs} runs including every chunk split), ` +
      `${summary.urlPassed} url cases passed, ${skipped} deliberately rejected where llhttp accepts (RTSP/ICE)`,
    `  pause cases: ${summary.pauseExercised} paused and resumed at a mapped callback, ${summary.pauseNotMapped} run without pausing (pause point has no callback in our API)`,
  ];
  for (const [reason, names] of summary.skipped) lines.push(`  rejected (${names.length}): ${reason}: ${names.join("; ")}`);
  console.log(lines.join("\n"));
});
