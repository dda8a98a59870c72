import { morganaBuild } from "../../tsup.shared.ts";

export default morganaBuild(["src/index.ts", "src/node.ts"]);
