/**
 * @morgana/tcp — TCP (RFC 9293) over any `Ipv4`.
 */
export * from "./codec.js";
