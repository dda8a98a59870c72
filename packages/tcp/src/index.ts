/**
 * @morgana/tcp — TCP (RFC 9293) over any `Ipv4`: the full state machine,
 * window scaling, timestamps and PAWS, SACK with RFC 6675 recovery, NewReno
 * and CUBIC, delayed ACKs, Nagle, persist and keepalive timers, SYN cookies,
 * RFC 5961 challenge ACKs, and flows with backpressure. Also the wire codec.
 */
export * from "./codec.js";
export { TcpLayer, icmpErrorClass, type TcpLayerOptions, type TcpConnectOptionsExt, type TcpListenOptionsExt } from "./layer.js";
export { Connection, type ConnectionOptions, type LayerCounters } from "./connection.js";
export { Listener } from "./listener.js";
export { DEFAULTS, resolveConfig, wscaleFor, type TcpConfig, type TcpTuning } from "./config.js";
export { NewReno, Cubic, CUBIC_BETA, CUBIC_C, createCongestionControl, type CongestionControl, type CongestionControlName } from "./cc.js";
export { SendQueue, ChunkQueue } from "./buffers.js";
export { Reassembly } from "./reassembly.js";
export { Scoreboard } from "./scoreboard.js";
export { Segment, parseSegment } from "./segment.js";
export { siphash24, siphash3u32, siphash4u32 } from "./siphash.js";
export { SynCookies, COOKIE_MSS_TABLE, cookieMssIndex } from "./cookies.js";
export { STATE_NAMES } from "./state.js";
