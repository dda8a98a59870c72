/**
 * The wire decoder: one pass over a Uint8Array, no DataView, no intermediate
 * buffers. Every malformation is a {@link DnsDecodeError} with the offset; the
 * loop over names is bounded (label and name length limits, a cap on
 * compression pointers), so any input terminates.
 */
import { KNOWN_TYPE_NAME, QTYPE_NAME, SVC_KEY_NAME } from "./constants.js";
import { DnsDecodeError } from "./errors.js";
import { formatIpv4, formatIpv6 } from "./ip.js";
import { asciiText } from "./ascii.js";
import { BYTE_TEXT, PLAIN_BYTE } from "./name.js";
import type { EdnsOption, Message, Question, ResourceRecord, SvcParam } from "./types.js";

export interface DecodeOptions {
  /**
   * Accept compression pointers to later offsets (default true: Avahi and other
   * mDNS responders emit them). Loops are caught either way by the pointer cap
   * and the 255-byte name limit.
   */
  readonly forwardPointers?: boolean;
  /** Most compression pointers followed while reading one name (default 128). */
  readonly maxPointers?: number;
  /** Accept bytes after the last record (default false: a DnsDecodeError). */
  readonly allowTrailingBytes?: boolean;
}

export const DEFAULT_MAX_POINTERS = 128;

// Decoder state: the decoder is not re-entrant and never calls out, so module
// variables are safe and cheaper than an object.
let B: Uint8Array = new Uint8Array(0);
let END = 0;
let P = 0;
let FWD = true;
let MAXJ = DEFAULT_MAX_POINTERS;

function fail(offset: number, reason: string): never {
  throw new DnsDecodeError(offset, reason);
}

function u16(o: number): number {
  return (B[o]! << 8) | B[o + 1]!;
}

function u32(o: number): number {
  return ((B[o]! << 24) | (B[o + 1]! << 16) | (B[o + 2]! << 8) | B[o + 3]!) >>> 0;
}

// Reading a name: one pass follows the labels and pointers, validating them
// and copying the name's TEXT form into NAME_BYTES (each length byte becomes
// a dot, so a name whose bytes all stand for themselves needs no further
// work), noting whether every byte is plain and where each label starts.
// Then:
// - a name that is only a pointer to the start of a name already decoded in
//   this message (the usual compression of owner names) reuses that string
//   (a per-message memo by offset);
// - otherwise a small direct-mapped cache of recently decoded names, keyed by
//   the text bytes, gives the string if it was decoded before (servers and
//   resolvers see the same names again and again);
// - otherwise the string is made in one native call (see ascii.ts). A name is
//   admitted into the cache the second time its hash is seen, so a stream of
//   names never seen again does not pay for cache writes.
// Names with bytes that need escapes (rare) skip the cache and are built
// through the escape table. The cache holds at most NAME_CACHE_SIZE names of
// at most 255 bytes each; the memo at most 16,384 offsets.
const NAME_BYTES = new Uint8Array(260);
const NAME_WORDS = new Int32Array(NAME_BYTES.buffer);
const LABEL_AT = new Uint8Array(128);
export const NAME_CACHE_SIZE = 1024;
const cacheHash = new Int32Array(NAME_CACHE_SIZE);
const cacheLen = new Uint16Array(NAME_CACHE_SIZE);
const cacheArena = new Uint8Array(NAME_CACHE_SIZE * 256);
const cacheStr: string[] = new Array<string>(NAME_CACHE_SIZE).fill("");
const seenHash = new Int32Array(NAME_CACHE_SIZE);
const MEMO_SIZE = 0x4000;
const memoGen = new Uint32Array(MEMO_SIZE);
const memoStr: string[] = new Array<string>(MEMO_SIZE).fill("");
/** The compression pointers followed to read the memoised name (the cap counts them too). */
const memoJumps = new Uint16Array(MEMO_SIZE);
let GEN = 1;
/** Whether names read now may be pointed at later (records follow). */
let MEMO = true;

/** Reads a (possibly compressed) name at P; the uncompressed part must end by `limit`. */
function readName(limit: number): string {
  const start = P;
  const b = B;
  // A name that is only a pointer to a name decoded earlier in this message.
  if (b[start]! >= 0xc0 && start + 1 < limit) {
    const ptr = ((b[start]! & 0x3f) << 8) | b[start + 1]!;
    if (memoGen[ptr] === GEN && ptr < start && memoJumps[ptr]! < MAXJ) {
      P = start + 2;
      return memoStr[ptr]!;
    }
  }
  let pos = start;
  let end = limit;
  let n = 0; // text bytes so far: a dot before each label
  let k = 0; // labels
  let plain = 1;
  let jumps = 0;
  let after = -1;
  const nb = NAME_BYTES;
  const table = PLAIN_BYTE;
  for (;;) {
    if (pos >= end) fail(pos, after < 0 && end < END ? "name runs past RDLENGTH" : "name runs past the end of the message");
    const len = b[pos]!;
    if (len === 0) {
      pos++;
      break;
    }
    if (len < 64) {
      if (n + len + 2 > 255) fail(pos, "name longer than 255 bytes");
      const lend = pos + 1 + len;
      if (lend > end) fail(pos, after < 0 && end < END ? "label runs past RDLENGTH" : "label runs past the end of the message");
      LABEL_AT[k++] = n;
      nb[n++] = 0x2e;
      for (let i = pos + 1; i < lend; i++) {
        const c = b[i]!;
        nb[n++] = c;
        plain &= table[c]!;
      }
      pos = lend;
      continue;
    }
    if (len < 0xc0) fail(pos, `reserved label type 0x${(len & 0xc0).toString(16)}`);
    if (pos + 1 >= end) fail(pos, "truncated compression pointer");
    const ptr = ((len & 0x3f) << 8) | b[pos + 1]!;
    if (after < 0) {
      after = pos + 2;
      end = END;
    }
    if (ptr === pos) fail(pos, "compression pointer loop (points to itself)");
    if (ptr < 12) fail(pos, "compression pointer into the header");
    if (ptr >= END) fail(pos, "compression pointer past the end of the message");
    if (ptr > pos && !FWD) fail(pos, "forward compression pointer");
    if (++jumps > MAXJ) fail(pos, `more than ${MAXJ} compression pointers (pointer loop)`);
    pos = ptr;
  }
  P = after < 0 ? pos : after;
  if (n === 0) return ".";
  let s: string;
  if (plain === 1) {
    // Hash four bytes at a time (the bytes after the name are zeroed first).
    nb[n] = nb[n + 1] = nb[n + 2] = 0;
    let h = 0x811c9dc5 ^ n;
    const words = (n + 3) >> 2;
    const w32 = NAME_WORDS;
    for (let w = 0; w < words; w++) h = Math.imul(h ^ w32[w]!, 16777619);
    const slot = (h ^ (h >>> 15)) & (NAME_CACHE_SIZE - 1);
    const base = slot << 8;
    const arena = cacheArena;
    if (cacheHash[slot] === h && cacheLen[slot] === n) {
      let i = 0;
      while (i < n && arena[base + i] === nb[i]) i++;
      if (i === n) {
        s = cacheStr[slot]!;
        if (MEMO) {
          memoGen[start] = GEN;
          memoStr[start] = s;
          memoJumps[start] = jumps;
        }
        return s;
      }
    }
    s = asciiText(nb, 1, n);
    if (seenHash[slot] === h) {
      for (let i = 0; i < n; i++) arena[base + i] = nb[i]!;
      cacheHash[slot] = h;
      cacheLen[slot] = n;
      cacheStr[slot] = s;
    } else seenHash[slot] = h;
  } else s = escapedText(nb, n, k);
  if (MEMO) {
    memoGen[start] = GEN;
    memoStr[start] = s;
    memoJumps[start] = jumps;
  }
  return s;
}

/** The canonical text of a name held in NAME_BYTES in text form, `k` labels starting at LABEL_AT[]. */
function escapedText(nb: Uint8Array, n: number, k: number): string {
  let s = "";
  for (let j = 0; j < k; j++) {
    const from = LABEL_AT[j]! + 1;
    const to = j + 1 < k ? LABEL_AT[j + 1]! : n;
    if (j > 0) s += ".";
    for (let i = from; i < to; i++) s += BYTE_TEXT[nb[i]!]!;
  }
  return s;
}

function latin1(start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(B[i]!);
  return s;
}

function readQuestion(): Question {
  const name = readName(END);
  if (P + 4 > END) fail(P, "question runs past the end of the message");
  const t = u16(P);
  const q: Question = { name, type: QTYPE_NAME[t] ?? t, class: u16(P + 2) };
  P += 4;
  return q;
}

function need(n: number, rend: number, what: string): void {
  if (P + n > rend) fail(P, `${what} runs past RDLENGTH`);
}

function readRecord(): ResourceRecord {
  const name = readName(END);
  const h = P;
  if (h + 10 > END) fail(h, "record header runs past the end of the message");
  const type = u16(h);
  const cls = u16(h + 2);
  const ttl = u32(h + 4);
  const rdlen = u16(h + 8);
  const start = h + 10;
  const rend = start + rdlen;
  if (rend > END) fail(h + 8, `RDLENGTH ${rdlen} runs past the end of the message`);
  P = start;
  let rr: ResourceRecord;
  switch (type) {
    case 1: // A
      if (rdlen !== 4) fail(h + 8, `A RDLENGTH ${rdlen}, expected 4`);
      rr = { name, type: "A", class: cls, ttl, data: formatIpv4(B, start) };
      P = rend;
      break;
    case 28: // AAAA
      if (rdlen !== 16) fail(h + 8, `AAAA RDLENGTH ${rdlen}, expected 16`);
      rr = { name, type: "AAAA", class: cls, ttl, data: formatIpv6(B, start) };
      P = rend;
      break;
    case 2:
    case 5:
    case 12:
      rr = { name, type: KNOWN_TYPE_NAME[type] as "NS", class: cls, ttl, data: readName(rend) };
      break;
    case 6: {
      const mname = readName(rend);
      const rname = readName(rend);
      need(20, rend, "SOA");
      const o = P;
      rr = {
        name,
        type: "SOA",
        class: cls,
        ttl,
        data: { mname, rname, serial: u32(o), refresh: u32(o + 4), retry: u32(o + 8), expire: u32(o + 12), minimum: u32(o + 16) },
      };
      P = o + 20;
      break;
    }
    case 15: {
      need(2, rend, "MX");
      const preference = u16(P);
      P += 2;
      rr = { name, type: "MX", class: cls, ttl, data: { preference, exchange: readName(rend) } };
      break;
    }
    case 16: {
      const strings: Uint8Array[] = [];
      while (P < rend) {
        const l = B[P]!;
        if (P + 1 + l > rend) fail(P, "TXT character-string runs past RDLENGTH");
        strings.push(B.subarray(P + 1, P + 1 + l));
        P += 1 + l;
      }
      rr = { name, type: "TXT", class: cls, ttl, data: strings };
      break;
    }
    case 33: {
      need(6, rend, "SRV");
      const o = P;
      P += 6;
      rr = { name, type: "SRV", class: cls, ttl, data: { priority: u16(o), weight: u16(o + 2), port: u16(o + 4), target: readName(rend) } };
      break;
    }
    case 41: {
      const options: EdnsOption[] = [];
      while (P < rend) {
        need(4, rend, "EDNS option header");
        const code = u16(P);
        const len = u16(P + 2);
        P += 4;
        need(len, rend, "EDNS option");
        options.push({ code, data: B.subarray(P, P + len) });
        P += len;
      }
      rr = {
        name,
        type: "OPT",
        udpPayloadSize: cls,
        extendedRcode: ttl >>> 24,
        version: (ttl >>> 16) & 0xff,
        dnssecOk: (ttl & 0x8000) !== 0,
        z: ttl & 0x7fff,
        options,
      };
      break;
    }
    case 43: {
      need(4, rend, "DS");
      const o = P;
      rr = { name, type: "DS", class: cls, ttl, data: { keyTag: u16(o), algorithm: B[o + 2]!, digestType: B[o + 3]!, digest: B.subarray(o + 4, rend) } };
      P = rend;
      break;
    }
    case 48: {
      need(4, rend, "DNSKEY");
      const o = P;
      rr = { name, type: "DNSKEY", class: cls, ttl, data: { flags: u16(o), protocol: B[o + 2]!, algorithm: B[o + 3]!, publicKey: B.subarray(o + 4, rend) } };
      P = rend;
      break;
    }
    case 46: {
      need(18, rend, "RRSIG");
      const o = P;
      P += 18;
      const signerName = readName(rend);
      rr = {
        name,
        type: "RRSIG",
        class: cls,
        ttl,
        data: {
          typeCovered: u16(o),
          algorithm: B[o + 2]!,
          labels: B[o + 3]!,
          originalTtl: u32(o + 4),
          expiration: u32(o + 8),
          inception: u32(o + 12),
          keyTag: u16(o + 16),
          signerName,
          signature: B.subarray(P, rend),
        },
      };
      P = rend;
      break;
    }
    case 47: {
      const nextName = readName(rend);
      rr = { name, type: "NSEC", class: cls, ttl, data: { nextName, types: readTypeBitmap(rend) } };
      break;
    }
    case 64:
    case 65: {
      need(2, rend, "SVCB");
      const priority = u16(P);
      P += 2;
      const target = readName(rend);
      const params: SvcParam[] = [];
      while (P < rend) params.push(readSvcParam(rend));
      rr = { name, type: type === 64 ? "SVCB" : "HTTPS", class: cls, ttl, data: { priority, target, params } };
      break;
    }
    case 257: {
      need(2, rend, "CAA");
      const flags = B[P]!;
      const tl = B[P + 1]!;
      P += 2;
      need(tl, rend, "CAA tag");
      const tag = latin1(P, P + tl);
      rr = { name, type: "CAA", class: cls, ttl, data: { flags, tag, value: B.subarray(P + tl, rend) } };
      P = rend;
      break;
    }
    default:
      rr = { name, type, class: cls, ttl, data: B.subarray(start, rend) };
      P = rend;
  }
  if (P !== rend) fail(P, `RDATA is ${rend - P} bytes longer than its content`);
  return rr;
}

/** Reads an NSEC-style type bitmap from P to `rend`. */
function readTypeBitmap(rend: number): number[] {
  const types: number[] = [];
  let last = -1;
  while (P < rend) {
    need(2, rend, "type bitmap window");
    const win = B[P]!;
    const len = B[P + 1]!;
    if (win <= last) fail(P, "type bitmap windows out of order");
    if (len < 1 || len > 32) fail(P + 1, `type bitmap length ${len}, expected 1-32`);
    last = win;
    P += 2;
    need(len, rend, "type bitmap");
    for (let i = 0; i < len; i++) {
      const byte = B[P + i]!;
      if (byte === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (byte & (0x80 >> bit)) types.push(win * 256 + i * 8 + bit);
    }
    P += len;
  }
  return types;
}

function readSvcParam(rend: number): SvcParam {
  need(4, rend, "SvcParam header");
  const key = u16(P);
  const len = u16(P + 2);
  const o = P + 4;
  P = o;
  need(len, rend, "SvcParam value");
  const e = o + len;
  P = e;
  const known = SVC_KEY_NAME[key];
  switch (known) {
    case "mandatory": {
      if (len === 0 || len % 2 !== 0) fail(o - 2, "bad mandatory SvcParam length");
      const keys: number[] = [];
      for (let i = o; i < e; i += 2) keys.push(u16(i));
      return { key: "mandatory", keys };
    }
    case "alpn": {
      if (len === 0) fail(o - 2, "empty alpn SvcParam");
      const protocols: string[] = [];
      for (let i = o; i < e; ) {
        const l = B[i]!;
        if (l === 0 || i + 1 + l > e) fail(i, "bad alpn-id");
        protocols.push(latin1(i + 1, i + 1 + l));
        i += 1 + l;
      }
      return { key: "alpn", protocols };
    }
    case "no-default-alpn":
      if (len !== 0) fail(o - 2, "no-default-alpn SvcParam with a value");
      return { key: "no-default-alpn" };
    case "port":
      if (len !== 2) fail(o - 2, "port SvcParam length is not 2");
      return { key: "port", port: u16(o) };
    case "ipv4hint": {
      if (len === 0 || len % 4 !== 0) fail(o - 2, "bad ipv4hint SvcParam length");
      const addresses: string[] = [];
      for (let i = o; i < e; i += 4) addresses.push(formatIpv4(B, i));
      return { key: "ipv4hint", addresses };
    }
    case "ech":
      return { key: "ech", config: B.subarray(o, e) };
    case "ipv6hint": {
      if (len === 0 || len % 16 !== 0) fail(o - 2, "bad ipv6hint SvcParam length");
      const addresses: string[] = [];
      for (let i = o; i < e; i += 16) addresses.push(formatIpv6(B, i));
      return { key: "ipv6hint", addresses };
    }
    default:
      return { key, value: B.subarray(o, e) };
  }
}

/**
 * Decodes one DNS message. `bytes` is the message alone (for TCP, without the
 * 2-byte length; see `TcpFrameReader`). Byte fields of the result are views
 * into `bytes`. Throws {@link DnsDecodeError} for malformed input, nothing else.
 */
export function decodeMessage(bytes: Uint8Array, opts?: DecodeOptions): Message {
  B = bytes;
  END = bytes.length;
  if (++GEN === 0xffffffff) {
    memoGen.fill(0);
    GEN = 1;
  }
  FWD = opts?.forwardPointers ?? true;
  MAXJ = opts?.maxPointers ?? DEFAULT_MAX_POINTERS;
  try {
    if (END < 12) fail(END, `message of ${END} bytes is shorter than the 12-byte header`);
    const flags = u16(2);
    const qd = u16(4);
    const an = u16(6);
    const ns = u16(8);
    const ar = u16(10);
    // Each question takes at least 5 bytes and each record 11: refuse
    // impossible counts before allocating anything.
    if (qd * 5 + (an + ns + ar) * 11 > END - 12) fail(4, "header counts larger than the records present");
    P = 12;
    MEMO = an + ns + ar > 0;
    let questions: Question[];
    if (qd === 1) questions = [readQuestion()];
    else {
      questions = [];
      for (let i = 0; i < qd; i++) questions.push(readQuestion());
    }
    const answers: ResourceRecord[] = [];
    for (let i = 0; i < an; i++) answers.push(readRecord());
    const authorities: ResourceRecord[] = [];
    for (let i = 0; i < ns; i++) authorities.push(readRecord());
    const additionals: ResourceRecord[] = [];
    for (let i = 0; i < ar; i++) additionals.push(readRecord());
    if (P !== END && opts?.allowTrailingBytes !== true) fail(P, `${END - P} bytes after the last record`);
    return {
      id: u16(0),
      qr: (flags & 0x8000) !== 0,
      opcode: (flags >> 11) & 0xf,
      aa: (flags & 0x0400) !== 0,
      tc: (flags & 0x0200) !== 0,
      rd: (flags & 0x0100) !== 0,
      ra: (flags & 0x0080) !== 0,
      z: (flags & 0x0040) !== 0,
      ad: (flags & 0x0020) !== 0,
      cd: (flags & 0x0010) !== 0,
      rcode: flags & 0xf,
      questions,
      answers,
      authorities,
      additionals,
    };
  } finally {
    B = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);

/** The fixed header fields and section counts, without decoding the sections. */
export interface DnsHeader {
  readonly id: number;
  /** The raw 16-bit flags word. */
  readonly flags: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly rcode: number;
  readonly qdcount: number;
  readonly ancount: number;
  readonly nscount: number;
  readonly arcount: number;
}

/** Decodes the 12-byte header only. Throws DnsDecodeError when shorter. */
export function decodeHeader(bytes: Uint8Array): DnsHeader {
  if (bytes.length < 12) throw new DnsDecodeError(bytes.length, `message of ${bytes.length} bytes is shorter than the 12-byte header`);
  const r = (o: number): number => (bytes[o]! << 8) | bytes[o + 1]!;
  const flags = r(2);
  return {
    id: r(0),
    flags,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    rcode: flags & 0xf,
    qdcount: r(4),
    ancount: r(6),
    nscount: r(8),
    arcount: r(10),
  };
}

/**
 * Decodes the RDATA of one record of type `type` (a code) from its
 * uncompressed wire bytes, as RFC 3597's `\#` form gives them: the typed data
 * for a typed type, the bytes otherwise. Throws DnsDecodeError (offsets are
 * within `rdata`).
 */
export function decodeRdata(type: number, rdata: Uint8Array): ResourceRecord {
  if (rdata.length > 0xffff) throw new DnsDecodeError(0, "RDATA longer than 65535 bytes");
  const m = new Uint8Array(12 + 11 + rdata.length);
  m[7] = 1; // ANCOUNT
  m[13] = type >> 8;
  m[14] = type;
  m[16] = 1;
  m[21] = rdata.length >> 8;
  m[22] = rdata.length;
  m.set(rdata, 23);
  try {
    return decodeMessage(m, { forwardPointers: false }).answers[0]!;
  } catch (e) {
    if (e instanceof DnsDecodeError) throw new DnsDecodeError(Math.max(0, e.offset - 23), e.reason);
    throw e;
  }
}
