import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      "packages/*",
      // Checks of the repository's own tooling (scripts/).
      { test: { name: "repo", include: ["scripts/test/*.test.ts"], isolate: false } },
    ],
    coverage: { provider: "v8", include: ["packages/*/src/**"] },
  },
});
