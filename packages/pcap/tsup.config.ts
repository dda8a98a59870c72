import { morganaBuild } from "../../tsup.shared.ts";

// Code splitting in the CJS build too, so that `@morgana/pcap/node` shares the
// classes of `@morgana/pcap` (one PcapError, one PcapWriter) instead of
// bundling copies that would fail `instanceof` across the two entries.
export default morganaBuild(["src/index.ts", "src/node.ts"], { splitting: true });
