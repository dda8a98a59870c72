/**
 * @morgana/flow — adapters and helpers that work on any {@link Flow} (a TCP
 * connection of either stack, a TLS session, an in-memory pipe):
 *
 * - {@link toWebStreams}: a ReadableStream/WritableStream pair (browsers and Node);
 * - {@link flowPair} / {@link tcpFlowPair}: connected in-memory flows, the
 *   reference implementation of the Flow contract;
 * - {@link FlowReader}: bounded `readExactly`, `readUntil`, `readAll`.
 *
 * The Node `stream.Duplex` adapter lives in `@morgana/flow/node`.
 */
import type { Flow, TcpFlow } from "@morgana/interfaces";

export { toWebStreams, type WebStreamsOptions, type FlowWebStreams } from "./web.js";
export {
  flowPair,
  tcpFlowPair,
  MemoryFlow,
  MemoryTcpFlow,
  DEFAULT_PAIR_BUFFER_SIZE,
  type FlowPairOptions,
  type TcpFlowPairOptions,
  type MemoryFlowStats,
} from "./pair.js";
export { FlowReader, UnexpectedEndError, LimitExceededError, type ReadSource } from "./reader.js";

/** True when `flow` has the {@link TcpFlow} members (addresses and socket options). */
export function isTcpFlow(flow: Flow): flow is TcpFlow {
  const f = flow as Partial<TcpFlow>;
  return typeof f.setNoDelay === "function" && typeof f.setKeepAlive === "function" && f.remote !== undefined && f.local !== undefined;
}
