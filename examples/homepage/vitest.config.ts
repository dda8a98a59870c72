import { morganaProject } from "../../vitest.shared.ts";

export default morganaProject("example-homepage");
