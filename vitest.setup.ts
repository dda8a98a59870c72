import fc from "fast-check";

// Property tests run with a fixed seed unless FC_SEED is set, so a run is
// reproducible; fast-check prints the seed and the shrunk counterexample of
// any failure, and FC_SEED=<seed> replays it. FC_RUNS scales the number of runs.
const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 0x6d6f7267;
const numRuns = process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : 100;
fc.configureGlobal({ seed, numRuns });
