/** Connection states (RFC 9293 §3.3.2). LISTEN belongs to listeners, not connections. */
export const CLOSED = 0;
export const SYN_SENT = 1;
export const SYN_RECEIVED = 2;
export const ESTABLISHED = 3;
export const FIN_WAIT_1 = 4;
export const FIN_WAIT_2 = 5;
export const CLOSE_WAIT = 6;
export const CLOSING = 7;
export const LAST_ACK = 8;
export const TIME_WAIT = 9;

export const STATE_NAMES = [
  "CLOSED",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
] as const;

/** Loss recovery states of the sender. */
export const OPEN = 0;
/** Fast recovery (RFC 6675 with SACK, RFC 6582 NewReno without). */
export const RECOVERY = 1;
/** After a retransmission timeout: resend what is outstanding, in slow start. */
export const LOSS = 2;

/** Default MSS when the peer sends none (RFC 9293 §3.7.1). */
export const DEFAULT_MSS = 536;
/** The smallest MSS we accept from a peer (Linux's tcp_min_snd_mss is 48). */
export const MIN_MSS = 64;
/** RFC 7323 §5.5: a timestamp older than 24 days is invalid. */
export const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** Duplicate ACKs that start fast retransmit (RFC 5681). */
export const DUP_THRESH = 3;
/** The RTO after a retransmitted SYN when no RTT was measured (RFC 6298 §5.7). */
export const FALLBACK_RTO_MS = 3000;
/** Largest chunk one `read()` returns when it merges queued segments. */
export const MAX_READ = 64 * 1024;
