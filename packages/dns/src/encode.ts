/**
 * The wire encoder: one pass into a reusable scratch buffer (or the caller's
 * buffer), with name compression through a hash table of name suffixes.
 *
 * Compression policy (RFC 1035 §4.1.4, RFC 3597 §4): names in the question,
 * owner names, and the names inside NS, CNAME, SOA, PTR and MX RDATA are
 * compressed; names in SRV, RRSIG, NSEC, SVCB/HTTPS RDATA are written in full
 * (and are not used as pointer targets). A suffix matches only when its
 * wire bytes are identical, case included, so compression never changes the
 * case of a name: decode(encode(m)) equals m exactly. Offsets at or above
 * 0x4000 (the 14-bit pointer limit) are never recorded.
 */
import { MorganaError } from "@morgana/interfaces";
import { QUERY_TYPES, RR_TYPES, SVC_KEYS, typeCode } from "./constants.js";
import { invalid } from "./errors.js";
import { writeIpv4Text, writeIpv6Text } from "./ip.js";
import { nameLabels, PLAIN_BYTE } from "./name.js";
import type { Message, Question, ResourceRecord, SvcParam } from "./types.js";

export interface EncodeOptions {
  /** Compress names (default true). */
  readonly compress?: boolean;
}

/** The largest DNS message (the TCP length prefix is 16 bits). */
export const MAX_MESSAGE_SIZE = 65535;

// Results are views into pooled 16 KiB chunks (as Node's Buffer pool does):
// allocating a small ArrayBuffer costs far more than encoding a message. A
// message that does not fit the chunk's remainder is encoded in the growable
// scratch buffer and copied out.
const POOL_SIZE = 16384;
const POOL_MIN_FREE = 1536;
let pool: Uint8Array = new Uint8Array(POOL_SIZE);
let poolOff = 0;
const RESTART = { restart: true };
let POOLED = false;

let scratch: Uint8Array = new Uint8Array(4096);
let W: Uint8Array = scratch;
let BASE = 0;
let POS = 0;
let CAP = scratch.length;
let GROW = true;
/** Encoding into a caller's buffer (encodeMessageInto). */
let INTO = false;
let COMPRESS = true;

// The compression table: an open-addressing hash table from the hash of a
// name suffix (its wire bytes, case-sensitive) to the suffix's offset. A hit
// is confirmed by comparing the bytes in the output buffer (following our
// own pointers), so nothing is allocated and no string is hashed.
const TBL_SIZE = 2048;
const TBL_MAX = 1536;
const tHash = new Int32Array(TBL_SIZE);
const tOff = new Int32Array(TBL_SIZE);
const tGen = new Uint32Array(TBL_SIZE);
let GEN = 1;
let tCount = 0;

function ensure(n: number): void {
  if (POS + n <= CAP) return;
  if (POOLED) throw RESTART;
  if (!GROW) throw new MorganaError("EMSGSIZE", `dns: message does not fit in the ${CAP - BASE}-byte buffer`);
  if (POS + n - BASE > MAX_MESSAGE_SIZE + 512) throw new MorganaError("EMSGSIZE", "dns: message longer than 65535 bytes");
  let size = W.length * 2;
  while (size < POS + n) size *= 2;
  const next = new Uint8Array(size);
  next.set(W.subarray(0, POS));
  W = scratch = next;
  CAP = size;
}

function u8(v: number, what: string): number {
  if (!(v >= 0 && v <= 0xff && Math.floor(v) === v)) throw invalid(`${what} ${v} is not an integer in 0..255`);
  return v;
}
function u16(v: number, what: string): number {
  if (!(v >= 0 && v <= 0xffff && Math.floor(v) === v)) throw invalid(`${what} ${v} is not an integer in 0..65535`);
  return v;
}
function u32(v: number, what: string): number {
  if (!(v >= 0 && v <= 0xffffffff && Math.floor(v) === v)) throw invalid(`${what} ${v} is not an integer in 0..2^32-1`);
  return v;
}

function put16(v: number): void {
  W[POS] = v >>> 8;
  W[POS + 1] = v;
  POS += 2;
}
function put32(v: number): void {
  W[POS] = v >>> 24;
  W[POS + 1] = v >>> 16;
  W[POS + 2] = v >>> 8;
  W[POS + 3] = v;
  POS += 4;
}
function putBytes(b: Uint8Array): void {
  ensure(b.length);
  W.set(b, POS);
  POS += b.length;
}

// Names. A name not seen recently is written straight from the string into
// the output (charCodeAt per character, each dot replaced by the following
// label's length), with the hash of each suffix computed from the written
// bytes. Names seen again are cached: a direct-mapped table of NAME_SLOTS
// slots, indexed by a cheap hash of the string (its length and four of its
// characters) and confirmed by string equality, holds the wire form, the
// offset of each label and the hash of each suffix, so a server encoding the
// same names again and again copies bytes only. A name enters the cache the
// second time the hash of its wire form is seen, so a stream of names never
// seen again pays for no cache writes. Memory is fixed (about 900 KiB).
export const NAME_SLOTS = 1024;
const slotName: (string | undefined)[] = new Array<string | undefined>(NAME_SLOTS).fill(undefined);
const slotLen = new Uint16Array(NAME_SLOTS);
const slotK = new Uint8Array(NAME_SLOTS);
const arena = new Uint8Array(NAME_SLOTS * 256);
const slotLbl = new Uint8Array(NAME_SLOTS * 128);
const slotSuf = new Int32Array(NAME_SLOTS * 128);
const seenWire = new Int32Array(NAME_SLOTS);
// The labels and suffix hashes of the name being written directly.
const LBL = new Uint8Array(128);
const SUF = new Int32Array(128);

/** Records a suffix at message offset `off`; false when the table is full or the offset is beyond 14 bits. */
function tableInsert(h: number, off: number): boolean {
  if (tCount >= TBL_MAX || off >= 0x4000) return false;
  let slot = (h ^ (h >>> 13)) & (TBL_SIZE - 1);
  while (tGen[slot] === GEN) slot = (slot + 1) & (TBL_SIZE - 1);
  tGen[slot] = GEN;
  tHash[slot] = h;
  tOff[slot] = off;
  tCount++;
  return true;
}

/**
 * True when the uncompressed labels at `src[a]` equal the (maybe compressed)
 * name at message offset `off`.
 */
function sameSuffix(src: Uint8Array, a: number, off: number): boolean {
  const w = W;
  let b = BASE + off;
  for (;;) {
    let lb = w[b]!;
    while (lb >= 0xc0) {
      b = BASE + (((lb & 0x3f) << 8) | w[b + 1]!);
      lb = w[b]!;
    }
    const la = src[a]!;
    if (la !== lb) return false;
    if (la === 0) return true;
    for (let i = 1; i <= la; i++) if (src[a + i] !== w[b + i]) return false;
    a += la + 1;
    b += la + 1;
  }
}

/** The cache slot of a name string. */
function slotIndex(name: string): number {
  const len = name.length;
  if (len === 0) return 0;
  const h = Math.imul(len, 0x9e3779b1) ^ Math.imul(name.charCodeAt(0), 0x85ebca6b) ^ Math.imul(name.charCodeAt(len >> 1), 0xc2b2ae35) ^ Math.imul(name.charCodeAt(len - 1), 0x27d4eb2f) ^ (name.charCodeAt((len * 3) >> 2) << 7);
  return (h ^ (h >>> 16)) & (NAME_SLOTS - 1);
}

/**
 * Writes `name`; with `compress`, replaces its longest suffix already in the
 * message with a pointer and records its new suffixes.
 */
function writeName(name: string, compress: boolean): void {
  if (compress) {
    // The same name again in this message: a pointer to where the suffix
    // table would point (the earliest occurrence of the whole name).
    for (let i = 0; i < memoCount; i++) {
      if (memoName[i] === name) {
        ensure(2);
        const ptr = memoOff[i]!;
        W[POS++] = 0xc0 | (ptr >> 8);
        W[POS++] = ptr;
        return;
      }
    }
  }
  const slot = slotIndex(name);
  const at = POS - BASE;
  if (slotName[slot] === name) writeCached(slot, compress);
  else writeDirect(name, slot, compress);
  // Remember where the whole name can be found: the pointer just written if
  // the whole name was one, else here if its first suffix was recorded.
  if (compress && memoCount < MEMO && WHOLE >= 0) {
    memoName[memoCount] = name;
    memoOff[memoCount++] = WHOLE;
  }
}

// Per message: the last names written with compression and the offset of
// their whole wire form (MEMO of them).
const MEMO = 8;
const memoName: string[] = new Array<string>(MEMO).fill("");
const memoOff = new Int32Array(MEMO);
let memoCount = 0;
/** Set by the writers: the offset where the whole name just written can be pointed at, or -1. */
let WHOLE = -1;

/** Compression: the longest suffix (label j of k) already in the message, as [label index, offset], or -1. */
function findSuffix(src: Uint8Array, srcBase: number, lbl: Uint8Array, lblBase: number, suf: Int32Array, sufBase: number, k: number): number {
  for (let j = 0; j < k; j++) {
    const h = suf[sufBase + j]!;
    let t = (h ^ (h >>> 13)) & (TBL_SIZE - 1);
    while (tGen[t] === GEN) {
      if (tHash[t] === h && sameSuffix(src, srcBase + lbl[lblBase + j]!, tOff[t]!)) {
        FOUND_OFF = tOff[t]!;
        return j;
      }
      t = (t + 1) & (TBL_SIZE - 1);
    }
  }
  return -1;
}
let FOUND_OFF = 0;

function writeCached(slot: number, compress: boolean): void {
  const base = slot << 8;
  const lb = slot << 7;
  const start = POS;
  const k = slotK[slot]!;
  let upTo = slotLen[slot]!;
  let ptr = -1;
  if (compress) {
    const j = findSuffix(arena, base, slotLbl, lb, slotSuf, lb, k);
    if (j >= 0) {
      ptr = FOUND_OFF;
      upTo = slotLbl[lb + j]!;
    }
  }
  ensure(ptr >= 0 ? upTo + 2 : upTo);
  const w = W;
  for (let i = 0; i < upTo; i++) w[start + i] = arena[base + i]!;
  let pos = start + upTo;
  if (ptr >= 0) {
    w[pos++] = 0xc0 | (ptr >> 8);
    w[pos++] = ptr;
  }
  POS = pos;
  WHOLE = -1;
  if (compress) {
    const at = start - BASE;
    if (upTo === 0) WHOLE = ptr;
    for (let j = 0; j < k; j++) {
      const o = slotLbl[lb + j]!;
      if (o >= upTo) break;
      if (tableInsert(slotSuf[lb + j]!, at + o) && j === 0) WHOLE = at;
    }
  }
}

/**
 * Writes the uncompressed wire form of `name` into `dst` at `at` (the caller
 * guarantees min(255, 3 * length + 2) bytes there); returns its length and
 * sets LBL (label offsets) and LABELS (the label count). Throws EINVAL for an
 * invalid name.
 */
function writeWire(name: string, dst: Uint8Array, at: number): number {
  const len = name.length;
  if (len === 0 || (len === 1 && name.charCodeAt(0) === 0x2e)) {
    dst[at] = 0;
    LABELS = 0;
    return 1;
  }
  // Fast path: a name of plain characters is its characters with each dot
  // replaced by the following label's length.
  if (len <= 254) {
    let lenAt = at;
    let pos = at + 1;
    let k = 0;
    let i = 0;
    for (; i < len; i++) {
      const c = name.charCodeAt(i);
      if (c === 0x2e) {
        const l = pos - lenAt - 1;
        if (l === 0 || l > 63) break;
        dst[lenAt] = l;
        LBL[k++] = lenAt - at;
        lenAt = pos++;
      } else if (c < 0x7f && PLAIN_BYTE[c] === 1) dst[pos++] = c;
      else break;
    }
    if (i === len) {
      const l = pos - lenAt - 1;
      if (l === 0) {
        // A final dot: the length byte just opened is the root.
        dst[lenAt] = 0;
        if (pos - at <= 255) {
          LABELS = k;
          return pos - at;
        }
      } else if (l <= 63 && pos + 1 - at <= 255) {
        dst[lenAt] = l;
        LBL[k++] = lenAt - at;
        dst[pos++] = 0;
        LABELS = k;
        return pos - at;
      }
    }
  }
  // Escapes, non-ASCII characters, or an error (nameLabels throws EINVAL).
  const labels = nameLabels(name);
  let pos = at;
  let k = 0;
  for (const l of labels) {
    LBL[k++] = pos - at;
    dst[pos++] = l.length;
    dst.set(l, pos);
    pos += l.length;
  }
  dst[pos++] = 0;
  LABELS = k;
  return pos - at;
}
let LABELS = 0;
const NAMEBUF = new Uint8Array(256 * 3 + 8);

function writeDirect(name: string, slot: number, compress: boolean): void {
  // Into the output directly when it has room for the uncompressed form;
  // into a scratch buffer when writing into a caller's buffer (whose bytes
  // after the message must stay untouched, and which may be just big enough
  // for the compressed form).
  const room = Math.min(255, 3 * name.length + 2);
  let src: Uint8Array;
  let s0: number;
  if (INTO) {
    src = NAMEBUF;
    s0 = 0;
  } else {
    ensure(room);
    src = W;
    s0 = POS;
  }
  const n = writeWire(name, src, s0);
  const k = LABELS;
  // Suffix hashes: FNV-1a over the suffix's bytes, from the last label to the first.
  let h = 0x811c9dc5 | 0;
  for (let j = k - 1; j >= 0; j--) {
    const p = s0 + LBL[j]!;
    const e = p + src[p]!;
    for (let i = p; i <= e; i++) h = Math.imul(h ^ src[i]!, 16777619);
    SUF[j] = h;
  }
  let upTo = n;
  let ptr = -1;
  if (compress) {
    const j = findSuffix(src, s0, LBL, 0, SUF, 0, k);
    if (j >= 0) {
      upTo = LBL[j]!;
      ptr = FOUND_OFF;
    }
  }
  if (seenWire[slot] === h) admit(name, slot, src, s0, n, k);
  else seenWire[slot] = h;
  const start = POS;
  if (INTO) {
    ensure(ptr >= 0 ? upTo + 2 : upTo);
    W.set(NAMEBUF.subarray(0, upTo), start);
  }
  let pos = start + upTo;
  if (ptr >= 0) {
    W[pos++] = 0xc0 | (ptr >> 8);
    W[pos++] = ptr;
  }
  POS = pos;
  WHOLE = -1;
  if (compress) {
    if (upTo === 0) WHOLE = ptr;
    insertSuffixes(start, upTo, k);
  }
}

function insertSuffixes(start: number, upTo: number, k: number): void {
  const at = start - BASE;
  for (let j = 0; j < k; j++) {
    const o = LBL[j]!;
    if (o >= upTo) break;
    if (tableInsert(SUF[j]!, at + o) && j === 0) WHOLE = at;
  }
}

/** Copies the wire form just written at src[start] into cache slot `slot`. */
function admit(name: string, slot: number, src: Uint8Array, start: number, n: number, k: number): void {
  const base = slot << 8;
  const lb = slot << 7;
  for (let i = 0; i < n; i++) arena[base + i] = src[start + i]!;
  for (let j = 0; j < k; j++) {
    slotLbl[lb + j] = LBL[j]!;
    slotSuf[lb + j] = SUF[j]!;
  }
  slotLen[slot] = n;
  slotK[slot] = k;
  slotName[slot] = name;
}

function typeNumber(t: string | number, what: string): number {
  if (typeof t === "number") return u16(t, what);
  const v = (RR_TYPES as Record<string, number>)[t] ?? (QUERY_TYPES as Record<string, number>)[t];
  if (v === undefined) {
    const c = typeCode(t);
    if (c < 0) throw invalid(`unknown ${what} ${JSON.stringify(t)}`);
    return c;
  }
  return v;
}

function writeQuestion(q: Question): void {
  writeName(q.name, COMPRESS);
  ensure(4);
  put16(typeNumber(q.type, "question type"));
  put16(u16(q.class, "question class"));
}

function writeCharString(b: Uint8Array, what: string): void {
  if (b.length > 255) throw invalid(`${what} longer than 255 bytes`);
  ensure(1 + b.length);
  W[POS++] = b.length;
  W.set(b, POS);
  POS += b.length;
}

function writeLatin1String(s: string, what: string): void {
  if (s.length > 255) throw invalid(`${what} longer than 255 bytes`);
  ensure(1 + s.length);
  W[POS++] = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw invalid(`${what} has a character above U+00FF`);
    W[POS++] = c;
  }
}

function writeRecord(rr: ResourceRecord): void {
  writeName(rr.name, COMPRESS);
  ensure(10);
  if (rr.type === "OPT") {
    put16(41);
    put16(u16(rr.udpPayloadSize, "OPT UDP payload size"));
    const ttl = ((u8(rr.extendedRcode, "OPT extended rcode") << 24) | (u8(rr.version, "OPT version") << 16) | (rr.dnssecOk ? 0x8000 : 0) | (u16(rr.z, "OPT z") & 0x7fff)) >>> 0;
    if (rr.z > 0x7fff) throw invalid("OPT z above 0x7fff");
    put32(ttl);
    const lenAt = POS;
    POS += 2;
    for (const o of rr.options) {
      ensure(4);
      put16(u16(o.code, "EDNS option code"));
      put16(u16(o.data.length, "EDNS option length"));
      putBytes(o.data);
    }
    finishRdata(lenAt);
    return;
  }
  const t = rr.type;
  put16(typeof t === "number" ? u16(t, "record type") : RR_TYPES[t]);
  put16(u16(rr.class, "record class"));
  put32(u32(rr.ttl, "TTL"));
  const lenAt = POS;
  POS += 2;
  switch (rr.type) {
    case "A":
      ensure(4);
      writeIpv4Text(rr.data, W, POS);
      POS += 4;
      break;
    case "AAAA":
      ensure(16);
      writeIpv6Text(rr.data, W, POS);
      POS += 16;
      break;
    case "NS":
    case "CNAME":
    case "PTR":
      writeName(rr.data, COMPRESS);
      break;
    case "SOA": {
      const d = rr.data;
      writeName(d.mname, COMPRESS);
      writeName(d.rname, COMPRESS);
      ensure(20);
      put32(u32(d.serial, "SOA serial"));
      put32(u32(d.refresh, "SOA refresh"));
      put32(u32(d.retry, "SOA retry"));
      put32(u32(d.expire, "SOA expire"));
      put32(u32(d.minimum, "SOA minimum"));
      break;
    }
    case "MX":
      ensure(2);
      put16(u16(rr.data.preference, "MX preference"));
      writeName(rr.data.exchange, COMPRESS);
      break;
    case "TXT":
      for (const s of rr.data) writeCharString(s, "TXT character-string");
      break;
    case "SRV": {
      const d = rr.data;
      ensure(6);
      put16(u16(d.priority, "SRV priority"));
      put16(u16(d.weight, "SRV weight"));
      put16(u16(d.port, "SRV port"));
      writeName(d.target, false);
      break;
    }
    case "DS": {
      const d = rr.data;
      ensure(4);
      put16(u16(d.keyTag, "DS key tag"));
      W[POS++] = u8(d.algorithm, "DS algorithm");
      W[POS++] = u8(d.digestType, "DS digest type");
      putBytes(d.digest);
      break;
    }
    case "DNSKEY": {
      const d = rr.data;
      ensure(4);
      put16(u16(d.flags, "DNSKEY flags"));
      W[POS++] = u8(d.protocol, "DNSKEY protocol");
      W[POS++] = u8(d.algorithm, "DNSKEY algorithm");
      putBytes(d.publicKey);
      break;
    }
    case "RRSIG": {
      const d = rr.data;
      ensure(18);
      put16(u16(d.typeCovered, "RRSIG type covered"));
      W[POS++] = u8(d.algorithm, "RRSIG algorithm");
      W[POS++] = u8(d.labels, "RRSIG labels");
      put32(u32(d.originalTtl, "RRSIG original TTL"));
      put32(u32(d.expiration, "RRSIG expiration"));
      put32(u32(d.inception, "RRSIG inception"));
      put16(u16(d.keyTag, "RRSIG key tag"));
      writeName(d.signerName, false);
      putBytes(d.signature);
      break;
    }
    case "NSEC":
      writeName(rr.data.nextName, false);
      writeTypeBitmap(rr.data.types);
      break;
    case "SVCB":
    case "HTTPS": {
      const d = rr.data;
      ensure(2);
      put16(u16(d.priority, "SVCB priority"));
      writeName(d.target, false);
      for (const p of d.params) writeSvcParam(p);
      break;
    }
    case "CAA": {
      const d = rr.data;
      ensure(1);
      W[POS++] = u8(d.flags, "CAA flags");
      writeLatin1String(d.tag, "CAA tag");
      putBytes(d.value);
      break;
    }
    default:
      if (!(rr.data instanceof Uint8Array)) throw invalid(`record of type ${String(rr.type)} needs data as a Uint8Array`);
      putBytes(rr.data);
  }
  finishRdata(lenAt);
}

function finishRdata(lenAt: number): void {
  const n = POS - lenAt - 2;
  if (n > 0xffff) throw new MorganaError("EMSGSIZE", "dns: RDATA longer than 65535 bytes");
  W[lenAt] = n >>> 8;
  W[lenAt + 1] = n;
}

/** Writes an NSEC/NSEC3 type bitmap for the given type codes (any order, duplicates ignored). */
function writeTypeBitmap(types: readonly number[]): void {
  const sorted = [...types].sort((a, b) => a - b);
  let i = 0;
  while (i < sorted.length) {
    const win = u16(sorted[i]!, "NSEC type") >> 8;
    const bits = new Uint8Array(32);
    let maxByte = 0;
    while (i < sorted.length && u16(sorted[i]!, "NSEC type") >> 8 === win) {
      const lo = sorted[i]! & 0xff;
      bits[lo >> 3]! |= 0x80 >> (lo & 7);
      if ((lo >> 3) + 1 > maxByte) maxByte = (lo >> 3) + 1;
      i++;
    }
    ensure(2 + maxByte);
    W[POS++] = win;
    W[POS++] = maxByte;
    W.set(bits.subarray(0, maxByte), POS);
    POS += maxByte;
  }
}

function writeSvcParam(p: SvcParam): void {
  ensure(4);
  const keyAt = POS;
  const lenAt = POS + 2;
  POS += 4;
  let key: number;
  if (typeof p.key === "number") {
    key = u16(p.key, "SvcParamKey");
    putBytes((p as { value: Uint8Array }).value);
  } else {
    key = SVC_KEYS[p.key];
    switch (p.key) {
      case "mandatory":
        ensure(2 * p.keys.length);
        for (const k of p.keys) put16(u16(k, "mandatory key"));
        break;
      case "alpn":
        for (const id of p.protocols) {
          if (id.length === 0) throw invalid("empty alpn-id");
          writeLatin1String(id, "alpn-id");
        }
        break;
      case "no-default-alpn":
        break;
      case "port":
        ensure(2);
        put16(u16(p.port, "port SvcParam"));
        break;
      case "ipv4hint":
        ensure(4 * p.addresses.length);
        for (const a of p.addresses) {
          writeIpv4Text(a, W, POS);
          POS += 4;
        }
        break;
      case "ech":
        putBytes(p.config);
        break;
      case "ipv6hint":
        ensure(16 * p.addresses.length);
        for (const a of p.addresses) {
          writeIpv6Text(a, W, POS);
          POS += 16;
        }
        break;
    }
  }
  const n = POS - lenAt - 2;
  if (n > 0xffff) throw invalid("SvcParam value longer than 65535 bytes");
  W[keyAt] = key >>> 8;
  W[keyAt + 1] = key;
  W[lenAt] = n >>> 8;
  W[lenAt + 1] = n;
}

function count(n: number, what: string): number {
  if (n > 0xffff) throw invalid(`more than 65535 ${what}`);
  return n;
}

function writeMessage(m: Message): void {
  ensure(12);
  put16(u16(m.id, "message id"));
  const flags =
    (m.qr ? 0x8000 : 0) |
    ((u8(m.opcode, "opcode") & 0xf) << 11) |
    (m.aa ? 0x0400 : 0) |
    (m.tc ? 0x0200 : 0) |
    (m.rd ? 0x0100 : 0) |
    (m.ra ? 0x0080 : 0) |
    (m.z ? 0x0040 : 0) |
    (m.ad ? 0x0020 : 0) |
    (m.cd ? 0x0010 : 0) |
    (u8(m.rcode, "rcode") & 0xf);
  if (m.opcode > 15) throw invalid("opcode above 15");
  if (m.rcode > 15) throw invalid("header rcode above 15 (the upper bits go in the OPT record)");
  put16(flags);
  put16(count(m.questions.length, "questions"));
  put16(count(m.answers.length, "answers"));
  put16(count(m.authorities.length, "authority records"));
  put16(count(m.additionals.length, "additional records"));
  for (const q of m.questions) writeQuestion(q);
  for (const rr of m.answers) writeRecord(rr);
  for (const rr of m.authorities) writeRecord(rr);
  for (const rr of m.additionals) writeRecord(rr);
  if (POS - BASE > MAX_MESSAGE_SIZE) throw new MorganaError("EMSGSIZE", `dns: message of ${POS - BASE} bytes is longer than 65535`);
}

function begin(buf: Uint8Array, offset: number, grow: boolean, opts: EncodeOptions | undefined): void {
  POOLED = false;
  INTO = false;
  W = buf;
  BASE = offset;
  POS = offset;
  CAP = buf.length;
  GROW = grow;
  COMPRESS = opts?.compress ?? true;
  if (++GEN === 0xffffffff) {
    tGen.fill(0);
    GEN = 1;
  }
  tCount = 0;
  memoCount = 0;
}

function end(): void {
  POOLED = false;
  INTO = false;
  W = scratch;
}

/** Encodes a message into a new Uint8Array of its exact size. Throws EINVAL for invalid fields, EMSGSIZE above 65535 bytes. */
export function encodeMessage(m: Message, opts?: EncodeOptions): Uint8Array {
  if (POOL_SIZE - poolOff < POOL_MIN_FREE) {
    pool = new Uint8Array(POOL_SIZE);
    poolOff = 0;
  }
  begin(pool, poolOff, false, opts);
  POOLED = true;
  try {
    writeMessage(m);
    const out = new Uint8Array(pool.buffer, poolOff, POS - poolOff);
    poolOff = (POS + 7) & ~7;
    return out;
  } catch (e) {
    if (e !== RESTART) throw e;
  } finally {
    end();
  }
  // Too big for the pool's remainder: encode into the growable scratch buffer.
  begin(scratch, 0, true, opts);
  try {
    writeMessage(m);
    return W.slice(0, POS);
  } finally {
    end();
  }
}

/**
 * Encodes a message into `buf` at `offset` (compression offsets are relative
 * to `offset`) and returns its length. Throws EMSGSIZE if it does not fit.
 */
export function encodeMessageInto(m: Message, buf: Uint8Array, offset = 0, opts?: EncodeOptions): number {
  begin(buf, offset, false, opts);
  INTO = true;
  try {
    writeMessage(m);
    return POS - offset;
  } finally {
    end();
  }
}

/** Encodes a message with its 2-byte TCP length prefix (RFC 1035 §4.2.2). */
export function encodeTcpMessage(m: Message, opts?: EncodeOptions): Uint8Array {
  begin(scratch, 2, true, opts);
  try {
    writeMessage(m);
    const n = POS - 2;
    W[0] = n >>> 8;
    W[1] = n;
    return W.slice(0, POS);
  } finally {
    end();
  }
}

/** The encoded size of a message (encodes it into the scratch buffer). */
export function encodedLength(m: Message, opts?: EncodeOptions): number {
  begin(scratch, 0, true, opts);
  try {
    writeMessage(m);
    return POS;
  } finally {
    end();
  }
}
