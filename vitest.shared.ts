import { defineProject } from "vitest/config";

/**
 * The per-package vitest project settings. Every package's vitest.config.ts is
 * `export default morganaProject(import.meta.url)`.
 *
 * - Sibling packages resolve to their TypeScript source through the
 *   "@morgana/source" export condition, so tests need no prior build. User
 *   conditions replace Vite's defaults, so those are listed again.
 * - `isolate: false` reuses workers between test files (fast-check and
 *   @fast-check/vitest cost seconds of import per isolated file).
 */
export function morganaProject(name: string) {
  return defineProject({
    ssr: { resolve: { conditions: ["@morgana/source", "module", "node", "development|production"] } },
    resolve: { conditions: ["@morgana/source", "module", "browser", "development|production"] },
    test: {
      name,
      include: ["test/**/*.test.ts"],
      isolate: false,
      setupFiles: [new URL("./vitest.setup.ts", import.meta.url).pathname],
      testTimeout: 60_000,
      hookTimeout: 60_000,
    },
  });
}
