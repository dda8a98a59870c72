import { morganaBuild } from "../../tsup.shared.ts";

// One entry per target, so that a bundle of one target holds only that target's
// stack; splitting shares src/common.ts between them (ESM and CJS).
export default morganaBuild(["src/socket.ts", "src/direct.ts", "src/tap.ts"], { splitting: true });
