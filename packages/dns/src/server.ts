/**
 * A pure authoritative answering engine: bytes (or a decoded message) in,
 * response out, no I/O. A UDP or TCP server over a Stack feeds it datagrams
 * and length-prefixed messages; `morgana dns serve` wraps it.
 */
import { DropCounters, MorganaError, type LayerStats } from "@morgana/interfaces";
import { CLASS, OPCODE, QUERY_TYPES, RCODE, RR_TYPES } from "./constants.js";
import { decodeHeader, decodeMessage } from "./decode.js";
import { encodeMessage, MAX_MESSAGE_SIZE } from "./encode.js";
import { DnsDecodeError } from "./errors.js";
import { DEFAULT_EDNS_UDP_SIZE, optRecord } from "./message.js";
import { canonicalName, isSubdomain, nameKey, parentName } from "./name.js";
import type { DataRecord, Message, OptRecord, Question, RecordOf, ResourceRecord } from "./types.js";

const T_CNAME = RR_TYPES.CNAME;
const T_NS = RR_TYPES.NS;
const T_DS = RR_TYPES.DS;
const T_A = RR_TYPES.A;
const T_AAAA = RR_TYPES.AAAA;

function codeOf(rr: DataRecord): number {
  return typeof rr.type === "number" ? rr.type : RR_TYPES[rr.type];
}

function invalidZone(reason: string): MorganaError {
  return new MorganaError("EINVAL", `dns zone: ${reason}`);
}

/** What a zone answers for one name and type. */
export interface ZoneAnswer {
  readonly rcode: number;
  /** False for referrals. */
  readonly aa: boolean;
  readonly answers: DataRecord[];
  readonly authorities: DataRecord[];
  readonly additionals: DataRecord[];
  /** How the answer was formed, for counters and tests. */
  readonly kind: "answer" | "nodata" | "nxdomain" | "referral" | "any";
}

export interface ZoneOptions {
  /** The apex; default the owner of the (single) SOA record. */
  readonly origin?: string;
  /** Most CNAMEs followed inside the zone for one answer (default 8). */
  readonly maxCnameChain?: number;
}

/**
 * One zone's data, indexed for answering: an SOA at the apex, every record
 * at or below it. Throws EINVAL for a zone without exactly one SOA at the
 * apex, records outside the zone, or a CNAME beside other data.
 */
export class Zone {
  /** The apex, canonical, in the case of the SOA owner. */
  readonly origin: string;
  readonly soa: RecordOf<"SOA">;
  readonly records: readonly DataRecord[];
  readonly maxCnameChain: number;
  private readonly apexKey: string;
  private readonly nodes = new Map<string, Map<number, DataRecord[]>>();
  /** Names that exist only because something exists below them (RFC 8020 says NODATA). */
  private readonly emptyNonTerminals = new Set<string>();
  private readonly cuts = new Set<string>();

  constructor(records: readonly DataRecord[], opts: ZoneOptions = {}) {
    this.maxCnameChain = opts.maxCnameChain ?? 8;
    const soas = records.filter((r): r is RecordOf<"SOA"> => r.type === "SOA");
    const origin = opts.origin !== undefined ? canonicalName(opts.origin) : soas[0]?.name;
    if (origin === undefined) throw invalidZone("no SOA record");
    this.origin = origin;
    this.apexKey = nameKey(origin);
    const apexSoas = soas.filter((s) => nameKey(s.name) === this.apexKey);
    if (apexSoas.length !== 1) throw invalidZone(`${apexSoas.length} SOA records at the apex ${origin}, expected 1`);
    if (soas.length !== 1) throw invalidZone("an SOA record below the apex");
    this.soa = apexSoas[0]!;
    this.records = records;
    for (const rr of records) {
      if ((rr as ResourceRecord).type === "OPT") throw invalidZone("an OPT record in zone data");
      const key = nameKey(rr.name);
      if (!isSubdomain(key, this.apexKey)) throw invalidZone(`${rr.name} is outside the zone ${origin}`);
      let node = this.nodes.get(key);
      if (node === undefined) this.nodes.set(key, (node = new Map()));
      const t = codeOf(rr);
      const set = node.get(t);
      if (set === undefined) node.set(t, [rr]);
      else set.push(rr);
    }
    for (const [key, node] of this.nodes) {
      if (node.has(T_CNAME)) {
        for (const t of node.keys()) if (t !== T_CNAME && t !== RR_TYPES.RRSIG && t !== RR_TYPES.NSEC) throw invalidZone(`${key} has a CNAME and other data`);
        if (node.get(T_CNAME)!.length > 1) throw invalidZone(`${key} has several CNAME records`);
      }
      if (node.has(T_NS) && key !== this.apexKey) this.cuts.add(key);
      for (let p = parentName(key); p !== undefined && p !== this.apexKey && isSubdomain(p, this.apexKey); p = parentName(p)) {
        if (!this.nodes.has(p)) this.emptyNonTerminals.add(p);
      }
    }
  }

  /** The SOA for negative answers: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §3). */
  negativeSoa(): RecordOf<"SOA"> {
    const s = this.soa;
    return { ...s, ttl: Math.min(s.ttl, s.data.minimum) };
  }

  /** True when `name` is at or below the apex. */
  contains(name: string): boolean {
    return isSubdomain(nameKey(name), this.apexKey);
  }

  /** The RRset of `type` at `name` (exact, no CNAME or wildcard processing). */
  rrset(name: string, type: number): readonly DataRecord[] {
    return this.nodes.get(nameKey(name))?.get(type) ?? [];
  }

  /** The highest delegation point at or above `key` (below the apex), if any. */
  private cutAbove(key: string): string | undefined {
    let cut: string | undefined;
    for (let k: string | undefined = key; k !== undefined && k !== this.apexKey; k = parentName(k)) if (this.cuts.has(k)) cut = k;
    return cut;
  }

  private exists(key: string): boolean {
    return this.nodes.has(key) || this.emptyNonTerminals.has(key);
  }

  /** Address records for `names` found in this zone (glue and additional data). */
  private addresses(names: readonly string[], skip: readonly DataRecord[]): DataRecord[] {
    const out: DataRecord[] = [];
    const seen = new Set<string>();
    for (const n of names) {
      const k = nameKey(n);
      if (seen.has(k) || !isSubdomain(k, this.apexKey)) continue;
      seen.add(k);
      const node = this.nodes.get(k);
      if (node === undefined) continue;
      for (const t of [T_A, T_AAAA]) for (const rr of node.get(t) ?? []) if (!skip.includes(rr)) out.push(rr);
    }
    return out;
  }

  /**
   * Answers `qname`/`qtype` (a type code) from this zone: CNAME chasing inside
   * the zone (bounded), wildcards (RFC 4592), referrals below delegations,
   * NXDOMAIN/NODATA with the SOA, RFC 8482 for ANY (one RRset: the one with
   * the lowest type code).
   */
  lookup(qname: string, qtype: number): ZoneAnswer {
    const answers: DataRecord[] = [];
    const visited = new Set<string>();
    let name = canonicalName(qname);
    for (let chain = 0; ; chain++) {
      const key = nameKey(name);
      visited.add(key);
      const cut = this.cutAbove(key);
      if (cut !== undefined && !(cut === key && qtype === T_DS)) {
        const ns = this.nodes.get(cut)!.get(T_NS)!;
        const glue = this.addresses(
          ns.map((r) => (r as RecordOf<"NS">).data),
          [],
        );
        return { rcode: RCODE.NOERROR, aa: answers.length > 0, answers, authorities: [...ns], additionals: glue, kind: "referral" };
      }
      let node = this.nodes.get(key);
      let owner: string | undefined;
      if (node === undefined && !this.emptyNonTerminals.has(key)) {
        // Wildcard: the source of synthesis is "*." + the closest encloser.
        let ce = parentName(key);
        while (ce !== undefined && !this.exists(ce) && ce !== this.apexKey) ce = parentName(ce);
        const wild = ce === undefined ? undefined : this.nodes.get(ce === "." ? "*" : `*.${ce}`);
        if (wild === undefined) {
          return { rcode: RCODE.NXDOMAIN, aa: true, answers, authorities: [this.negativeSoa()], additionals: [], kind: "nxdomain" };
        }
        node = wild;
        owner = name;
      }
      const synth = (set: readonly DataRecord[]): DataRecord[] => (owner === undefined ? [...set] : set.map((r) => ({ ...r, name: owner! }) as DataRecord));
      if (node === undefined) return { rcode: RCODE.NOERROR, aa: true, answers, authorities: [this.negativeSoa()], additionals: [], kind: "nodata" };
      if (qtype === QUERY_TYPES.ANY) {
        const types = [...node.keys()].sort((a, b) => a - b);
        const pick = types.find((t) => t !== RR_TYPES.RRSIG && t !== RR_TYPES.NSEC) ?? types[0];
        if (pick !== undefined) answers.push(...synth(node.get(pick)!));
        return { rcode: RCODE.NOERROR, aa: true, answers, authorities: [], additionals: this.additionalFor(answers), kind: "any" };
      }
      const set = node.get(qtype);
      if (set !== undefined) {
        answers.push(...synth(set));
        return { rcode: RCODE.NOERROR, aa: true, answers, authorities: [], additionals: this.additionalFor(answers), kind: "answer" };
      }
      const cname = node.get(T_CNAME);
      if (cname !== undefined && qtype !== T_CNAME) {
        const rr = synth(cname)[0] as RecordOf<"CNAME">;
        answers.push(rr);
        const target = rr.data;
        const tkey = nameKey(target);
        if (!isSubdomain(tkey, this.apexKey) || visited.has(tkey) || chain + 1 >= this.maxCnameChain) {
          return { rcode: RCODE.NOERROR, aa: true, answers, authorities: [], additionals: [], kind: "answer" };
        }
        name = target;
        continue;
      }
      return { rcode: RCODE.NOERROR, aa: true, answers, authorities: [this.negativeSoa()], additionals: [], kind: "nodata" };
    }
  }

  private additionalFor(answers: readonly DataRecord[]): DataRecord[] {
    const names: string[] = [];
    for (const rr of answers) {
      if (rr.type === "MX") names.push(rr.data.exchange);
      else if (rr.type === "NS") names.push(rr.data);
      else if (rr.type === "SRV") names.push(rr.data.target);
    }
    return names.length === 0 ? [] : this.addresses(names, answers);
  }
}

export interface AuthoritativeServerOptions {
  readonly zones: readonly Zone[];
  /**
   * The largest UDP response we send to an EDNS client, and the payload size
   * we advertise (default 1232, RFC 9715 / DNS Flag Day 2020). Clients
   * without EDNS get at most 512 bytes.
   */
  readonly maxUdpSize?: number;
}

export interface AnswerOptions {
  /** Default "udp". */
  readonly transport?: "udp" | "tcp";
  /** Overrides the server's `maxUdpSize` for this answer. */
  readonly maxUdpSize?: number;
}

/** Counter names of {@link AuthoritativeServer.stats}. */
export type ServerCounter =
  | "queries"
  | "responses"
  | "noerror"
  | "nxdomain"
  | "nodata"
  | "referral"
  | "any"
  | "formerr"
  | "notimp"
  | "refused"
  | "badvers"
  | "truncated";

/**
 * Answers queries from a set of zones. Never throws on input: a message too
 * short to carry a header, or one with QR set (a response), gets no answer
 * (a counted drop); anything else malformed gets FORMERR.
 */
export class AuthoritativeServer {
  readonly zones: readonly Zone[];
  readonly maxUdpSize: number;
  private readonly counters = new Map<ServerCounter, number>();
  private readonly drops = new DropCounters();

  constructor(opts: AuthoritativeServerOptions) {
    this.zones = [...opts.zones].sort((a, b) => b.origin.length - a.origin.length);
    this.maxUdpSize = opts.maxUdpSize ?? DEFAULT_EDNS_UDP_SIZE;
    if (!(this.maxUdpSize >= 512 && this.maxUdpSize <= 65535)) throw new MorganaError("EINVAL", "dns: maxUdpSize must be 512-65535");
  }

  stats(): LayerStats {
    return { counters: Object.fromEntries(this.counters), drops: this.drops.snapshot() };
  }

  private count(c: ServerCounter): void {
    this.counters.set(c, (this.counters.get(c) ?? 0) + 1);
  }

  /** The zone with the longest apex containing `name`. */
  findZone(name: string): Zone | undefined {
    const key = nameKey(name);
    let best: Zone | undefined;
    let bestLen = -1;
    for (const z of this.zones) {
      const apex = nameKey(z.origin);
      if (isSubdomain(key, apex) && apex.length > bestLen) {
        best = z;
        bestLen = apex.length;
      }
    }
    return best;
  }

  answer(query: Uint8Array, opts?: AnswerOptions): Uint8Array | null;
  answer(query: Message, opts?: AnswerOptions): Message;
  answer(query: Uint8Array | Message, opts: AnswerOptions = {}): Uint8Array | Message | null {
    if (query instanceof Uint8Array) return this.answerBytes(query, opts);
    this.count("queries");
    const r = this.respond(query, opts);
    this.count("responses");
    return r.message;
  }

  private answerBytes(bytes: Uint8Array, opts: AnswerOptions): Uint8Array | null {
    let header;
    try {
      header = decodeHeader(bytes);
    } catch {
      this.drops.drop("short");
      return null;
    }
    if (header.qr) {
      this.drops.drop("response");
      return null;
    }
    this.count("queries");
    let query: Message;
    try {
      query = decodeMessage(bytes);
    } catch (e) {
      if (!(e instanceof DnsDecodeError)) throw e;
      this.count("formerr");
      this.count("responses");
      return encodeMessage(this.bare(header.id, header.opcode, (header.flags & 0x0100) !== 0, (header.flags & 0x0010) !== 0, [], RCODE.FORMERR, []));
    }
    const r = this.respond(query, opts);
    this.count("responses");
    return r.bytes ?? encodeMessage(r.message);
  }

  private bare(id: number, opcode: number, rd: boolean, cd: boolean, questions: readonly Question[], rcode: number, additionals: ResourceRecord[]): Message {
    return { id, qr: true, opcode, aa: false, tc: false, rd, ra: false, z: false, ad: false, cd, rcode, questions, answers: [], authorities: [], additionals };
  }

  private respond(q: Message, opts: AnswerOptions): { message: Message; bytes?: Uint8Array } {
    const error = (rcode: number, counter: ServerCounter, questions: readonly Question[], opt?: OptRecord): { message: Message } => {
      this.count(counter);
      return { message: this.bare(q.id, q.opcode, q.rd, q.cd, questions, rcode, opt === undefined ? [] : [opt]) };
    };
    // EDNS: at most one OPT, in the additional section, owned by the root.
    let opt: OptRecord | undefined;
    for (const rr of q.answers) if (rr.type === "OPT") return error(RCODE.FORMERR, "formerr", q.questions.slice(0, 1));
    for (const rr of q.authorities) if (rr.type === "OPT") return error(RCODE.FORMERR, "formerr", q.questions.slice(0, 1));
    for (const rr of q.additionals) {
      if (rr.type !== "OPT") continue;
      if (opt !== undefined || rr.name !== ".") return error(RCODE.FORMERR, "formerr", q.questions.slice(0, 1));
      opt = rr;
    }
    const maxUdp = opts.maxUdpSize ?? this.maxUdpSize;
    const respOpt = opt === undefined ? undefined : optRecord({ udpPayloadSize: maxUdp, dnssecOk: opt.dnssecOk });
    if (q.opcode !== OPCODE.QUERY) return error(RCODE.NOTIMP, "notimp", q.questions.slice(0, 1), respOpt);
    if (opt !== undefined && opt.version > 0) {
      // BADVERS = 16: header 0, extended 1 (RFC 6891 §6.1.3).
      return error(0, "badvers", q.questions.slice(0, 1), optRecord({ udpPayloadSize: maxUdp, dnssecOk: opt.dnssecOk, extendedRcode: RCODE.BADVERS >> 4 }));
    }
    if (q.questions.length !== 1) return error(RCODE.FORMERR, "formerr", [], respOpt);
    const question = q.questions[0]!;
    const qtype = typeof question.type === "number" ? question.type : (RR_TYPES as Record<string, number>)[question.type] ?? (QUERY_TYPES as Record<string, number>)[question.type]!;
    if (qtype === RR_TYPES.OPT) return error(RCODE.FORMERR, "formerr", [question], respOpt);
    if (qtype === 253 || qtype === 254 || qtype === 250 || qtype === 249) return error(RCODE.NOTIMP, "notimp", [question], respOpt);
    if (qtype === QUERY_TYPES.AXFR || qtype === QUERY_TYPES.IXFR) return error(RCODE.REFUSED, "refused", [question], respOpt);
    const zone = this.findZone(question.name);
    if (zone === undefined || (question.class !== zone.soa.class && question.class !== CLASS.ANY)) return error(RCODE.REFUSED, "refused", [question], respOpt);
    const a = zone.lookup(question.name, qtype);
    this.count(a.kind === "answer" ? "noerror" : a.kind);
    const message: Message = {
      id: q.id,
      qr: true,
      opcode: 0,
      aa: a.aa,
      tc: false,
      rd: q.rd,
      ra: false,
      z: false,
      ad: false,
      cd: q.cd,
      rcode: a.rcode,
      questions: [question],
      answers: a.answers,
      authorities: a.authorities,
      additionals: respOpt === undefined ? a.additionals : [...a.additionals, respOpt],
    };
    const limit = opts.transport === "tcp" ? MAX_MESSAGE_SIZE : opt === undefined ? 512 : Math.max(512, Math.min(opt.udpPayloadSize, maxUdp));
    return this.fit(message, limit, respOpt, a.kind === "referral");
  }

  /**
   * Makes the response fit `limit` bytes: first without the additional data
   * (keeping OPT; for a referral, dropping glue sets TC, RFC 9471), then with
   * only the question and OPT and TC set (RFC 2181 §9).
   */
  private fit(m: Message, limit: number, opt: OptRecord | undefined, referral: boolean): { message: Message; bytes?: Uint8Array } {
    const tryEncode = (x: Message): Uint8Array | undefined => {
      try {
        const b = encodeMessage(x);
        return b.length <= limit ? b : undefined;
      } catch (e) {
        if (e instanceof MorganaError && e.code === "EMSGSIZE") return undefined;
        throw e;
      }
    };
    let b = tryEncode(m);
    if (b !== undefined) return { message: m, bytes: b };
    const optOnly = opt === undefined ? [] : [opt];
    if (m.additionals.length > optOnly.length) {
      const lean: Message = { ...m, tc: referral, additionals: optOnly };
      b = tryEncode(lean);
      if (b !== undefined) {
        if (referral) this.count("truncated");
        return { message: lean, bytes: b };
      }
    }
    this.count("truncated");
    const bare: Message = { ...m, tc: true, answers: [], authorities: [], additionals: optOnly };
    return { message: bare, bytes: encodeMessage(bare) };
  }
}
