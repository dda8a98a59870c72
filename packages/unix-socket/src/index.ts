/**
 * @morgana/unix-socket — the Morgana {@link Stack} on the host's sockets
 * (`node:net`, `node:dgram`): the stack you develop with, as MirageOS's socket
 * stack. An application written against `@morgana/interfaces` runs on it
 * unchanged, with the Flow and UdpSocket semantics of the direct stack.
 * Node.js only.
 */
export { createSocketStack, type SocketStack, type SocketStackOptions } from "./stack.js";
export { SocketTcp, DEFAULT_BACKLOG, DEFAULT_FIN_TIMEOUT_MS, type SocketTcpOptions } from "./tcp.js";
export { SocketUdp, DEFAULT_RECEIVE_QUEUE, UDP_MAX_PAYLOAD, type SocketUdpOptions } from "./udp.js";
export { SocketTcpFlow, RESET_WAIT_MS } from "./flow.js";
export { fromNodeError } from "./errors.js";
export { hostClock } from "./clock.js";
export { hostIpv4Addresses } from "./addresses.js";
