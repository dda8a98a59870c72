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

/** Cases we do not run, each with the reason. */
const SKIPPED: Record<string, string> = {
  "request/method.md › SOURCE request with ICE": "RTSP/ICE: not HTTP; @morgana/http accepts only HTTP/x.y (rejects with HPE_INVALID_CONSTANT)",
  "request/method.md › OPTIONS request with RTSP": "RTSP/ICE: not HTTP; @morgana/http accepts only HTTP/x.y (rejects with HPE_INVALID_CONSTANT)",
  "request/method.md › ANNOUNCE request with RTSP": "RTSP/ICE: not HTTP; ANNOUNCE is an RTSP method (rejected with HPE_INVALID_METHOD)",
  "response/sample.md › RTSP response": "RTSP/ICE: not HTTP; @morgana/http accepts only HTTP/x.y (rejects with HPE_INVALID_CONSTANT)",
  "response/sample.md › ICE response": "RTSP/ICE: not HTTP; @morgana/http accepts only HTTP/x.y (rejects with HPE_INVALID_CONSTANT)",
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
    const skip = SKIPPED[c.name];
    if (skip !== undefined) {
      it.skip(`${c.name} (${skip})`, () => {});
      const list = summary.skipped.get(skip) ?? [];
      list.push(c.name);
      summary.skipped.set(skip, list);
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
      `${summary.urlPassed} url cases passed, ${skipped} skipped`,
    `  pause cases: ${summary.pauseExercised} paused and resumed at a mapped callback, ${summary.pauseNotMapped} run without pausing (pause point has no callback in our API)`,
  ];
  for (const [reason, names] of summary.skipped) lines.push(`  skipped (${names.length}): ${reason}: ${names.join("; ")}`);
  console.log(lines.join("\n"));
});
