import { morganaBuild } from "../../tsup.shared.ts";

export default morganaBuild();
