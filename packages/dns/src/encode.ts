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

// Encoded names are cached (a server encodes the same record objects again
// and again, and a string's hash is computed once): a Map from the name
// string to a slot holding its uncompressed wire form, the offset of each
// label and the hash of each suffix. NAME_SLOTS slots, reused round-robin, so
// memory is fixed (about 900 KiB).
export const NAME_SLOTS = 1024;
const slotOf = new Map<string, number>();
const slotName: (string | undefined)[] = new Array<string | undefined>(NAME_SLOTS).fill(undefined);
const slotLen = new Uint16Array(NAME_SLOTS);
const slotK = new Uint8Array(NAME_SLOTS);
const arena = new Uint8Array(NAME_SLOTS * 256);
const slotLbl = new Uint8Array(NAME_SLOTS * 128);
const slotSuf = new Int32Array(NAME_SLOTS * 128);
let nextSlot = 0;

function tableInsert(h: number, off: number): void {
  if (tCount >= TBL_MAX || off >= 0x4000) return;
  let slot = (h ^ (h >>> 13)) & (TBL_SIZE - 1);
  while (tGen[slot] === GEN) slot = (slot + 1) & (TBL_SIZE - 1);
  tGen[slot] = GEN;
  tHash[slot] = h;
  tOff[slot] = off;
  tCount++;
}

/** True when the uncompressed labels at arena[a] equal the (maybe compressed) name at message offset `off`. */
function sameSuffix(a: number, off: number): boolean {
  const w = W;
  let b = BASE + off;
  for (;;) {
    let lb = w[b]!;
    while (lb >= 0xc0) {
      b = BASE + (((lb & 0x3f) << 8) | w[b + 1]!);
      lb = w[b]!;
    }
    const la = arena[a]!;
    if (la !== lb) return false;
    if (la === 0) return true;
    for (let i = 1; i <= la; i++) if (arena[a + i] !== w[b + i]) return false;
    a += la + 1;
    b += la + 1;
  }
}

/** Parses `name` into a slot (throws EINVAL for an invalid name). */
function buildSlot(name: string): number {
  const slot = nextSlot;
  // Evict the slot's previous name first: its bytes are about to be overwritten.
  const old = slotName[slot];
  if (old !== undefined) {
    slotOf.delete(old);
    slotName[slot] = undefined;
  }
  const base = slot << 8;
  const len = name.length;
  let n = -1;
  // Fast path: the wire form of a plain name is its chars with each dot
  // replaced by the following label's length.
  if (len > 0 && len <= 254) {
    let pos = base;
    let lenAt = pos++;
    for (let i = 0; i < len; i++) {
      const c = name.charCodeAt(i);
      if (c === 0x2e) {
        const l = pos - lenAt - 1;
        if (l === 0 || l > 63) break;
        arena[lenAt] = l;
        lenAt = pos++;
        if (i === len - 1) {
          // A final dot: the length byte just opened is the root.
          arena[lenAt] = 0;
          n = pos - base;
        }
      } else if (c < 0x7f && PLAIN_BYTE[c] === 1) {
        arena[pos++] = c;
        if (i === len - 1) {
          const l = pos - lenAt - 1;
          if (l <= 63) {
            arena[lenAt] = l;
            arena[pos++] = 0;
            n = pos - base;
          }
        }
      } else break;
    }
    if (n > 255) n = -1;
  }
  if (n < 0) {
    if (name === "." || name === "") {
      arena[base] = 0;
      n = 1;
    } else {
      const labels = nameLabels(name); // validates; throws EINVAL
      let pos = base;
      for (const l of labels) {
        arena[pos++] = l.length;
        arena.set(l, pos);
        pos += l.length;
      }
      arena[pos++] = 0;
      n = pos - base;
    }
  }
  // Label offsets and suffix hashes (FNV-1a over the suffix's wire bytes,
  // from the last label to the first).
  let k = 0;
  const lb = slot << 7;
  for (let p = base; arena[p] !== 0; p += arena[p]! + 1) slotLbl[lb + k++] = p - base;
  let h = 0x811c9dc5 | 0;
  for (let j = k - 1; j >= 0; j--) {
    const p = base + slotLbl[lb + j]!;
    const e = p + arena[p]!;
    for (let i = p; i <= e; i++) h = Math.imul(h ^ arena[i]!, 16777619);
    slotSuf[lb + j] = h;
  }
  slotName[slot] = name;
  slotOf.set(name, slot);
  slotLen[slot] = n;
  slotK[slot] = k;
  nextSlot = (slot + 1) & (NAME_SLOTS - 1);
  return slot;
}

/**
 * Writes `name`; with `compress`, replaces its longest suffix already in the
 * message with a pointer and records its new suffixes.
 */
function writeName(name: string, compress: boolean): void {
  let slot = slotOf.get(name);
  if (slot === undefined) slot = buildSlot(name);
  const base = slot << 8;
  const lb = slot << 7;
  const start = POS;
  let upTo = slotLen[slot]!;
  let ptr = -1;
  const k = slotK[slot]!;
  if (compress) {
    for (let j = 0; j < k && ptr < 0; j++) {
      const h = slotSuf[lb + j]!;
      let t = (h ^ (h >>> 13)) & (TBL_SIZE - 1);
      while (tGen[t] === GEN) {
        if (tHash[t] === h && sameSuffix(base + slotLbl[lb + j]!, tOff[t]!)) {
          ptr = tOff[t]!;
          upTo = slotLbl[lb + j]!;
          break;
        }
        t = (t + 1) & (TBL_SIZE - 1);
      }
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
  if (compress) {
    const at = start - BASE;
    for (let j = 0; j < k; j++) {
      const o = slotLbl[lb + j]!;
      if (o >= upTo) break;
      tableInsert(slotSuf[lb + j]!, at + o);
    }
  }
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
}

function end(): void {
  POOLED = false;
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
