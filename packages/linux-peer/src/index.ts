/**
 * @morgana/linux-peer — gives tests (and @morgana/targets' tap target) a real
 * Linux kernel as a network peer: a network namespace per peer, a TAP device
 * inside it, and socat in the root namespace bridging the TAP to UDP on
 * loopback, where a `@morgana/dgram-netif` meets it. Loopback and its own namespaces only.
 * Node.js, Linux, root. Vitest helpers (skip or fail when unsupported) are in
 * `@morgana/linux-peer/vitest`.
 */
export {
  createLinuxPeer,
  withLinuxPeer,
  sweepStale,
  processAlive,
  livePeers,
  pickFreeUdpPort,
  DEFAULT_PEER_MTU,
  MAX_PEER_MTU,
  DEFAULT_SETUP_TIMEOUT_MS,
  PORT_RANGE,
  type LinuxPeer,
  type LinuxPeerOptions,
} from "./peer.js";
export { linuxPeerSupport, haveTool, toolsRequired, REQUIRED_TOOLS, type LinuxPeerSupport, type SupportOptions } from "./support.js";
export {
  runCommand,
  DEFAULT_EXEC_TIMEOUT_MS,
  DEFAULT_KILL_GRACE_MS,
  MAX_CAPTURE_BYTES,
  type ExecOptions,
  type ExecResult,
  type ExitStatus,
  type PeerProcess,
  type SpawnOptions,
} from "./process.js";
export {
  createRemoteStack,
  remoteHelperBundle,
  RemoteTcpFlow,
  DEFAULT_START_TIMEOUT_MS,
  DEFAULT_CLOSE_TIMEOUT_MS,
  type RemoteStack,
  type RemoteStackOptions,
} from "./remote-stack.js";
