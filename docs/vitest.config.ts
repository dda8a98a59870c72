import { morganaProject } from "../vitest.shared.ts";

// The documentation's code (docs/examples) runs as tests: docs/test.
export default morganaProject("docs");
