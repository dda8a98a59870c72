/**
 * @morgana/cli — the `morgana` command and its library parts: the dissector
 * (`Dissector`, which decodes frames into Wireshark field names with Morgana's
 * own codecs) and `main(args)`.
 */
export { Dissector, LINKTYPE_ETHERNET, type DissectedFrame, type DissectorOptions } from "./dissect.js";
export { FieldList, type FieldValue } from "./fields.js";
export { main, type Io } from "./main.js";
export {
  buildApp,
  bundleCommand,
  isApp,
  packageOf,
  resolveApp,
  runCommand,
  TARGETS,
  DEFAULT_TARGET,
  type BuildOptions,
  type BuildResult,
  type Metafile,
  type ResolvedApp,
  type RunCommandOptions,
} from "./run.js";
