import { morganaBuild } from "../../tsup.shared.ts";

// shims: remote-stack.ts finds the helper's source from import.meta.url, also in the CJS build.
export default morganaBuild(["src/index.ts", "src/vitest.ts"], { shims: true });
