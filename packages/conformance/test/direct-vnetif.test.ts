/**
 * The suite against two direct (pure TypeScript) stacks on an in-memory
 * vnetif link, on a virtual clock that `autoAdvance()` drives (the suite
 * just awaits events; virtual time jumps to the next timer whenever nothing
 * else is left to run). Twice: a clean link, and a link that loses 2 % and
 * reorders 2 % of the frames in each direction.
 */
import { describeConformance } from "../src/index.js";
import { directVnetifPair } from "./pairs.js";

const options = { ephemeralPortRange: [49152, 65535] as const };

describeConformance("direct ↔ direct over a vnetif link (virtual clock)", directVnetifPair(1), options);

describeConformance("direct ↔ direct over a vnetif link with 2 % loss and 2 % reordering (virtual clock)", directVnetifPair(2, { loss: 0.02, reorder: 0.02 }), options);
