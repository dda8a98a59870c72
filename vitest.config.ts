import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      "packages/*",
      "examples/*",
      // The code shown in docs/*.md (docs/examples), run and checked against the text.
      "docs",
      // Checks of the repository's own tooling (scripts/).
      { test: { name: "repo", include: ["scripts/test/*.test.ts"], isolate: false } },
    ],
    coverage: { provider: "v8", include: ["packages/*/src/**"] },
  },
});
