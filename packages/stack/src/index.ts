/**
 * @morgana/stack — the composition root of the pure-TypeScript stack. One call
 * takes a Netif and an address and wires ethif → arp → ipv4 → icmp/udp/tcp, each
 * layer getting its lower layer, the Clock and the Random injected. This is the
 * only package (with examples and tests) that names concrete implementation
 * packages: the layers themselves depend only on @morgana/interfaces.
 */
export { createStack, type DirectStack, type StackOptions } from "./stack.js";
