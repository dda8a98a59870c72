import { morganaBuild } from "../../tsup.shared.ts";

// Code splitting in the CJS build too, so that `@morgana/flow/node` shares the
// classes of `@morgana/flow` (one FlowReader, one error class) instead of
// bundling copies that would fail `instanceof` across the two entries.
export default morganaBuild(["src/index.ts", "src/node.ts"], { splitting: true });
