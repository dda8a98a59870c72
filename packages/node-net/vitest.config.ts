import { morganaProject } from "../../vitest.shared.ts";

export default morganaProject("node-net");
