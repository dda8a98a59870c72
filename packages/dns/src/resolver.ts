/**
 * A stub resolver over any Stack, implementing `Resolver` from
 * @morgana/interfaces (`lookup` in the shape of node:dns's) plus typed
 * `resolve`/`query`.
 *
 * Each query goes over UDP from a fresh socket on a random ephemeral port with
 * a random ID, with EDNS(0) advertising 1,232 bytes; a truncated response (TC)
 * is asked again over TCP. Servers are tried in order, `attempts` rounds, each
 * try waiting `timeoutMs`. Responses must come from the server's address and
 * port and match the ID and the question; anything else is counted and
 * ignored. Answers are cached for their TTL (negative ones for the RFC 2308
 * TTL), CNAME chains are followed within the answer and by further queries,
 * and identical concurrent queries share one query on the wire.
 */
import {
  abortError,
  DropCounters,
  isIpv4,
  isMorganaError,
  MorganaError,
  randomInt,
  type Clock,
  type DnsErrorCode,
  type ErrorCode,
  type LayerStats,
  type LookupAddress,
  type LookupOptions,
  type Random,
  type Resolver,
} from "@morgana/interfaces";
import { DEFAULT_CACHE_ENTRIES, DEFAULT_MAX_NEGATIVE_TTL, DEFAULT_MAX_TTL, TtlCache, type DnsCacheOptions } from "./cache.js";
import { DNS_PORT, parseServerAddress, tcpExchange, udpExchange, type DnsServerAddress, type DnsTransport, type ExchangeResult, type MismatchReason } from "./client.js";
import { qtypeOf, QUERY_TYPES, RCODE, RR_TYPES, typeCode, typeName } from "./constants.js";
import { invalid } from "./errors.js";
import { isIpv6Text } from "./ip.js";
import { buildQuery, DEFAULT_EDNS_UDP_SIZE, fullRcode, getOpt, negativeTtl } from "./message.js";
import { canonicalName, isSubdomain, nameKey } from "./name.js";
import type { DataRecord, Message, QType, RecordOf, TypedRRType } from "./types.js";

export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_ATTEMPTS = 2;
export const DEFAULT_TCP_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_CNAME_CHAIN = 8;

export interface StubResolverOptions {
  /** The stack to query through: its UDP, and its TCP (if any) for truncated answers. */
  readonly stack: DnsTransport;
  /** Name servers, tried in order: `{ address, port = 53 }` or `"A.B.C.D[:PORT]"`. At least one. */
  readonly servers: readonly (DnsServerAddress | string)[];
  readonly clock: Clock;
  /** IDs come from here (ports from the stack): pass a cryptographic source in production. */
  readonly random: Random;
  /** How long one UDP try waits for its response (default 2000 ms). */
  readonly timeoutMs?: number;
  /** Rounds over the server list (default 2): each server gets this many tries. */
  readonly attempts?: number;
  /** How long a TCP exchange (connect, query, response) may take (default 5000 ms). */
  readonly tcpTimeoutMs?: number;
  /** Send every query over TCP (like resolv.conf's `use-vc`). Default false: UDP, TCP after TC. */
  readonly useTcp?: boolean;
  /** EDNS(0): true (default) advertises 1,232 bytes; a number advertises that size (512-65535); false sends none. */
  readonly edns?: boolean | number;
  /** CNAMEs followed for one name, across queries (default 8). */
  readonly maxCnameChain?: number;
  /** Cache options, or false for no cache. */
  readonly cache?: false | DnsCacheOptions;
}

/** The outcome of resolving one name and type. */
export interface ResolvedAnswer {
  /** The name asked for (canonical). */
  readonly name: string;
  /** The name the answer belongs to, after the CNAME chain. */
  readonly canonicalName: string;
  readonly type: QType;
  /** `answer` (records present), `nxdomain` (the name does not exist), `nodata` (no record of the type). */
  readonly status: "answer" | "nxdomain" | "nodata";
  /** The RRset of `type` at `canonicalName`, TTLs as remaining now. */
  readonly records: DataRecord[];
  /** The CNAME records followed, in order. */
  readonly cnames: RecordOf<"CNAME">[];
  /** Seconds this answer stays valid (the smallest TTL involved, or the negative TTL); 0 if it must not be cached. */
  readonly ttl: number;
}

export interface ResolveOptions {
  readonly signal?: AbortSignal;
}

/** One wire query's processed answer (what the cache holds). */
interface Step {
  readonly kind: "answer" | "nxdomain" | "nodata" | "chase";
  readonly chain: RecordOf<"CNAME">[];
  readonly records: DataRecord[];
  /** The end of the CNAME chain. */
  readonly target: string;
  /** Seconds, or 0: not cacheable. */
  readonly ttl: number;
}

interface Flight {
  promise: Promise<Step>;
  readonly controller: AbortController;
  waiters: number;
}

const T_CNAME = RR_TYPES.CNAME;
const T_ANY = QUERY_TYPES.ANY;

function rcodeError(rcode: number): DnsErrorCode {
  switch (rcode) {
    case RCODE.FORMERR:
      return "EFORMERR";
    case RCODE.NOTIMP:
      return "ENOTIMP";
    case RCODE.REFUSED:
      return "EREFUSED";
    default:
      return "ESERVFAIL";
  }
}

function codeOfRecord(rr: DataRecord): number {
  return typeof rr.type === "number" ? rr.type : RR_TYPES[rr.type];
}

/** `queryA`, `queryAaaa`, `queryMx`, ... as node:dns names its syscalls. */
function syscallFor(type: QType): string {
  const n = typeName(type);
  return "query" + n.charAt(0) + n.slice(1).toLowerCase();
}

const LOCALHOST = "localhost";

/**
 * A stub resolver (see the module comment). Implements `Resolver`.
 */
export class StubResolver implements Resolver {
  readonly servers: readonly { readonly address: string; readonly port: number }[];
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly tcpTimeoutMs: number;
  readonly maxCnameChain: number;
  private readonly stack: DnsTransport;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly useTcp: boolean;
  private readonly ednsSize: number | undefined;
  private readonly cache: TtlCache<Step> | undefined;
  private readonly maxTtl: number;
  private readonly maxNegativeTtl: number;
  private readonly inflight = new Map<string, Flight>();
  private readonly counters = new Map<string, number>();
  private readonly drops = new DropCounters();
  private closed = false;

  constructor(opts: StubResolverOptions) {
    if (opts.servers.length === 0) throw invalid("a resolver needs at least one name server");
    this.servers = opts.servers.map((s) => {
      if (typeof s === "string") return parseServerAddress(s);
      const port = s.port ?? DNS_PORT;
      if (!isIpv4(s.address) || !(Number.isInteger(port) && port >= 1 && port <= 65535)) throw invalid(`bad name server ${JSON.stringify(s)}`);
      return { address: s.address, port };
    });
    this.stack = opts.stack;
    this.clock = opts.clock;
    this.random = opts.random;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.attempts = opts.attempts ?? DEFAULT_ATTEMPTS;
    this.tcpTimeoutMs = opts.tcpTimeoutMs ?? DEFAULT_TCP_TIMEOUT_MS;
    this.maxCnameChain = opts.maxCnameChain ?? DEFAULT_MAX_CNAME_CHAIN;
    this.useTcp = opts.useTcp ?? false;
    const edns = opts.edns ?? true;
    this.ednsSize = edns === false ? undefined : edns === true ? DEFAULT_EDNS_UDP_SIZE : edns;
    if (!(this.timeoutMs > 0) || !(this.tcpTimeoutMs > 0)) throw invalid("timeouts must be positive");
    if (!(Number.isInteger(this.attempts) && this.attempts >= 1)) throw invalid("attempts must be a positive integer");
    if (!(Number.isInteger(this.maxCnameChain) && this.maxCnameChain >= 0)) throw invalid("maxCnameChain must be a non-negative integer");
    if (this.ednsSize !== undefined && !(Number.isInteger(this.ednsSize) && this.ednsSize >= 512 && this.ednsSize <= 65535)) throw invalid("EDNS payload size must be 512-65535");
    if (this.useTcp && this.stack.tcp === undefined) throw invalid("useTcp needs a stack with TCP");
    const c = opts.cache;
    this.maxTtl = c === false ? 0 : (c?.maxTtl ?? DEFAULT_MAX_TTL);
    this.maxNegativeTtl = c === false ? 0 : (c?.maxNegativeTtl ?? DEFAULT_MAX_NEGATIVE_TTL);
    const entries = c === false ? 0 : (c?.maxEntries ?? DEFAULT_CACHE_ENTRIES);
    if (!(Number.isInteger(entries) && entries >= 0)) throw invalid("cache maxEntries must be a non-negative integer");
    this.cache = entries > 0 ? new TtlCache<Step>(this.clock, entries) : undefined;
  }

  /** Counters (`lookups queries udpQueries tcpQueries responses truncated cacheHits cacheMisses coalesced timeouts retries cacheEntries inflight` and rcode counts) and the drops of received messages that were not the response. */
  stats(): LayerStats {
    return {
      counters: { ...Object.fromEntries(this.counters), cacheEntries: this.cache?.size ?? 0, inflight: this.inflight.size },
      drops: this.drops.snapshot(),
    };
  }

  /** Forgets every cached answer. */
  clearCache(): void {
    this.cache?.clear();
  }

  /** Cancels every query in flight (they reject with `ECANCELLED`), empties the cache; later calls reject with `ECANCELLED`. */
  close(): void {
    this.closed = true;
    const flights = [...this.inflight.values()];
    this.inflight.clear();
    for (const f of flights) f.controller.abort(new MorganaError("ECANCELLED", "dns: resolver closed"));
    this.cache?.clear();
  }

  private count(name: string, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  // --- lookup -------------------------------------------------------------

  lookup(hostname: string, opts: LookupOptions & { readonly all: true }): Promise<LookupAddress[]>;
  lookup(hostname: string, opts?: LookupOptions): Promise<LookupAddress>;
  async lookup(hostname: string, opts: LookupOptions = {}): Promise<LookupAddress | LookupAddress[]> {
    const family = opts.family ?? 0;
    const all = opts.all ?? false;
    const fail = (code: ErrorCode, cause?: unknown): MorganaError =>
      new MorganaError(code, `getaddrinfo ${code} ${hostname}`, { syscall: "getaddrinfo", hostname, ...(cause !== undefined ? { cause } : {}) });
    if (family !== 0 && family !== 4 && family !== 6) throw new MorganaError("EINVAL", `lookup: family must be 0, 4 or 6, not ${String(family)}`);
    if (typeof hostname !== "string") throw new MorganaError("EINVAL", "lookup: hostname must be a string");
    this.count("lookups");
    if (opts.signal?.aborted) throw abortError(opts.signal);
    // Literal addresses resolve to themselves, whatever the family asked (as node:dns).
    if (isIpv4(hostname)) return this.shape([{ address: hostname, family: 4 }], all);
    if (hostname.includes(":") && isIpv6Text(hostname)) return this.shape([{ address: hostname, family: 6 }], all);
    let name: string;
    try {
      name = canonicalName(hostname);
    } catch (e) {
      throw fail("EBADNAME", e);
    }
    if (name === "." || hostname === "") throw fail("EBADNAME");
    // RFC 6761 §6.3: localhost and its subdomains are the loopback address, never queried.
    const key = name.toLowerCase();
    if (key === LOCALHOST || key.endsWith("." + LOCALHOST)) {
      const out: LookupAddress[] = [];
      if (family !== 6) out.push({ address: "127.0.0.1", family: 4 });
      if (family !== 4) out.push({ address: "::1", family: 6 });
      return this.shape(out, all);
    }
    const wrap = (e: unknown): unknown => {
      if (isMorganaError(e) && e.code !== "ABORT_ERR" && e.code !== "EINVAL") return fail(e.code, e);
      return e;
    };
    const addresses = (a: ResolvedAnswer, fam: 4 | 6): LookupAddress[] => a.records.map((rr) => ({ address: rr.data as string, family: fam }));
    const one = async (type: "A" | "AAAA"): Promise<LookupAddress[]> => {
      const a = await this.query(name, type, opts.signal !== undefined ? { signal: opts.signal } : {});
      if (a.status === "nxdomain") throw fail("ENOTFOUND");
      if (a.records.length === 0) throw fail("ENODATA");
      return addresses(a, type === "A" ? 4 : 6);
    };
    try {
      if (family === 4) return this.shape(await one("A"), all);
      if (family === 6) return this.shape(await one("AAAA"), all);
      const v4 = one("A");
      const v6 = one("AAAA");
      v6.catch(() => undefined);
      v4.catch(() => undefined);
      if (!all) {
        // The first IPv4 address as soon as it is known; IPv6 only if there is none.
        try {
          return this.shape(await v4, false);
        } catch (e4) {
          try {
            return this.shape(await v6, false);
          } catch (e6) {
            throw pickError(e4, e6);
          }
        }
      }
      const [r4, r6] = await Promise.allSettled([v4, v6]);
      const out = [...(r4.status === "fulfilled" ? r4.value : []), ...(r6.status === "fulfilled" ? r6.value : [])];
      if (out.length > 0) return out;
      throw pickError((r4 as PromiseRejectedResult).reason, (r6 as PromiseRejectedResult).reason);
    } catch (e) {
      throw wrap(e);
    }
  }

  private shape(list: LookupAddress[], all: boolean): LookupAddress | LookupAddress[] {
    return all ? list : list[0]!;
  }

  // --- resolve ------------------------------------------------------------

  /**
   * The records of `type` for `name` (after CNAMEs), TTLs as remaining.
   * Rejects with `ENOTFOUND` (NXDOMAIN), `ENODATA` (no such record), and the
   * errors of {@link query}.
   */
  resolve<T extends TypedRRType>(name: string, type: T, opts?: ResolveOptions): Promise<RecordOf<T>[]>;
  resolve(name: string, type?: QType, opts?: ResolveOptions): Promise<DataRecord[]>;
  async resolve(name: string, type: QType = "A", opts: ResolveOptions = {}): Promise<DataRecord[]> {
    const a = await this.query(name, type, opts);
    const syscall = syscallFor(type);
    if (a.status === "nxdomain") throw new MorganaError("ENOTFOUND", `${syscall} ENOTFOUND ${name}`, { syscall, hostname: name });
    if (a.records.length === 0) throw new MorganaError("ENODATA", `${syscall} ENODATA ${name}`, { syscall, hostname: name });
    return a.records;
  }

  /**
   * Resolves one name and type: from the cache, or by querying the servers
   * (following CNAMEs), and reports NXDOMAIN and NODATA as a status rather
   * than an error. Rejects with `EBADNAME` (invalid name), `ETIMEOUT` (no
   * server answered), `ESERVFAIL`/`EREFUSED`/`ENOTIMP`/`EFORMERR` (every
   * server answered so), `ECONNREFUSED` (every server's port was closed, where
   * the stack reports it), `ABORT_ERR`, `ECANCELLED` (resolver closed).
   */
  async query(name: string, type: QType, opts: ResolveOptions = {}): Promise<ResolvedAnswer> {
    const syscall = syscallFor(type);
    const err = (code: ErrorCode, cause?: unknown): MorganaError =>
      new MorganaError(code, `${syscall} ${code} ${name}`, { syscall, hostname: name, ...(cause !== undefined ? { cause } : {}) });
    if (this.closed) throw err("ECANCELLED");
    let qname: string;
    try {
      qname = canonicalName(name);
    } catch (e) {
      throw err("EBADNAME", e);
    }
    let qtype: number;
    try {
      qtype = typeCode(type);
    } catch {
      qtype = -1;
    }
    if (!(qtype >= 0 && qtype <= 0xffff)) throw new MorganaError("EINVAL", `dns: unknown type ${String(type)}`);
    const chain: RecordOf<"CNAME">[] = [];
    const seen = new Set<string>([nameKey(qname)]);
    let current = qname;
    let ttl = Infinity;
    for (;;) {
      let step: Step;
      let ageMs: number;
      try {
        ({ step, ageMs } = await this.step(current, qtype, opts.signal));
      } catch (e) {
        if (isMorganaError(e) && (e.code === "ABORT_ERR" || e.code === "EINVAL")) throw e;
        if (isMorganaError(e)) throw err(e.code, e);
        throw e;
      }
      const age = Math.floor(ageMs / 1000);
      const aged = <R extends DataRecord>(rr: R): R => (age === 0 ? rr : { ...rr, ttl: Math.max(0, rr.ttl - age) });
      for (const c of step.chain) chain.push(aged(c));
      ttl = Math.min(ttl, Math.max(0, step.ttl - age));
      if (chain.length > this.maxCnameChain) throw err("ESERVFAIL", new Error(`more than ${this.maxCnameChain} CNAMEs`));
      if (step.kind === "chase") {
        const k = nameKey(step.target);
        if (seen.has(k)) throw err("ESERVFAIL", new Error("CNAME loop"));
        seen.add(k);
        current = step.target;
        continue;
      }
      return {
        name: qname,
        canonicalName: step.target,
        type,
        status: step.kind,
        records: step.records.map(aged),
        cnames: chain,
        ttl: ttl === Infinity ? 0 : ttl,
      };
    }
  }

  /** One question, from the cache, a query in flight, or a new query. */
  private async step(name: string, qtype: number, signal: AbortSignal | undefined): Promise<{ step: Step; ageMs: number }> {
    if (signal?.aborted) throw abortError(signal);
    const key = `${nameKey(name)}/${qtype}`;
    const hit = this.cache?.get(key);
    if (hit !== undefined) {
      this.count("cacheHits");
      return { step: hit.value, ageMs: hit.ageMs };
    }
    let f = this.inflight.get(key);
    if (f === undefined) {
      this.count("cacheMisses");
      const controller = new AbortController();
      const flight: Flight = { promise: undefined as unknown as Promise<Step>, controller, waiters: 0 };
      flight.promise = this.ask(name, qtype, controller.signal).then(
        (s) => {
          if (this.inflight.get(key) === flight) this.inflight.delete(key);
          if (s.ttl > 0 && !controller.signal.aborted) this.cache?.set(key, s, s.ttl);
          return s;
        },
        (e: unknown) => {
          if (this.inflight.get(key) === flight) this.inflight.delete(key);
          throw e;
        },
      );
      flight.promise.catch(() => undefined);
      this.inflight.set(key, flight);
      f = flight;
    } else this.count("coalesced");
    const flight = f;
    flight.waiters++;
    return new Promise<{ step: Step; ageMs: number }>((resolve, reject) => {
      const onAbort = (): void => {
        flight.waiters--;
        if (flight.waiters === 0) {
          // Nobody waits any more: stop the query, and let a later caller start afresh.
          if (this.inflight.get(key) === flight) this.inflight.delete(key);
          flight.controller.abort(abortError(signal));
        }
        reject(abortError(signal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(
        (s) => {
          signal?.removeEventListener("abort", onAbort);
          if (signal?.aborted) return;
          flight.waiters--;
          resolve({ step: s, ageMs: 0 });
        },
        (e: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          if (signal?.aborted) return;
          flight.waiters--;
          reject(e);
        },
      );
    });
  }

  /** Asks the servers one question: rounds of tries, failover, TCP after TC. */
  private async ask(name: string, qtype: number, signal: AbortSignal): Promise<Step> {
    let rcodeErr: DnsErrorCode | undefined;
    let refused = false;
    let netErr: unknown;
    const dead = new Set<number>();
    const onMismatch = (r: MismatchReason): void => void this.drops.drop(r);
    const stopped = (): MorganaError => {
      const reason: unknown = signal.reason;
      return isMorganaError(reason) ? reason : abortError(signal);
    };
    let first = true;
    for (let round = 0; round < this.attempts; round++) {
      for (let si = 0; si < this.servers.length; si++) {
        if (dead.has(si)) continue;
        if (signal.aborted) throw stopped();
        const server = this.servers[si]!;
        if (!first) this.count("retries");
        first = false;
        let edns = this.ednsSize;
        // One server's turn: possibly again without EDNS, possibly over TCP after TC.
        for (;;) {
          const query = buildQuery(name, qtypeOf(qtype), { id: randomInt(this.random, 0, 0x10000), edns: edns === undefined ? false : { udpPayloadSize: edns } });
          const ex = { stack: this.stack, server, clock: this.clock, signal, onMismatch };
          let res: ExchangeResult;
          try {
            this.count("queries");
            if (this.useTcp) {
              this.count("tcpQueries");
              res = await tcpExchange(query, { ...ex, timeoutMs: this.tcpTimeoutMs });
            } else {
              this.count("udpQueries");
              res = await udpExchange(query, { ...ex, timeoutMs: this.timeoutMs });
              if (res.response.tc && this.stack.tcp !== undefined) {
                this.count("truncated");
                this.count("tcpQueries");
                res = await tcpExchange(query, { ...ex, timeoutMs: this.tcpTimeoutMs });
              }
            }
          } catch (e) {
            if (signal.aborted) throw stopped();
            const code = (e as MorganaError).code;
            if (code === "ETIMEOUT") this.count("timeouts");
            else if (code === "ECONNREFUSED") refused = true;
            else netErr = e;
            break;
          }
          this.count("responses");
          const rcode = fullRcode(res.response);
          this.count(`rcode${rcode}`);
          if (rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN) return this.process(name, qtype, res.response);
          // An EDNS query refused as such (RFC 6891 §7): once more without EDNS.
          if (edns !== undefined && (rcode === RCODE.FORMERR || rcode === RCODE.NOTIMP || rcode === RCODE.BADVERS) && getOpt(res.response) === undefined) {
            edns = undefined;
            continue;
          }
          rcodeErr = rcodeError(rcode);
          dead.add(si);
          break;
        }
      }
    }
    const code: ErrorCode = rcodeErr ?? (refused ? "ECONNREFUSED" : netErr !== undefined ? ((netErr as MorganaError).code ?? "ETIMEOUT") : "ETIMEOUT");
    throw new MorganaError(code, `query ${code} ${name}`, { syscall: "query", hostname: name, ...(netErr !== undefined ? { cause: netErr } : {}) });
  }

  /** Reads the answer to (name, qtype) out of a NOERROR or NXDOMAIN response. */
  private process(name: string, qtype: number, m: Message): Step {
    const chain: RecordOf<"CNAME">[] = [];
    let current = name;
    let key = nameKey(name);
    const visited = new Set<string>([key]);
    let minTtl = Infinity;
    for (;;) {
      const records: DataRecord[] = [];
      let cname: RecordOf<"CNAME"> | undefined;
      for (const rr of m.answers) {
        if (rr.type === "OPT" || rr.class !== 1) continue;
        if (nameKey(rr.name) !== key) continue;
        const t = codeOfRecord(rr);
        if (t === qtype || (qtype === T_ANY && t !== RR_TYPES.OPT)) records.push(rr);
        else if (t === T_CNAME && cname === undefined) cname = rr as RecordOf<"CNAME">;
      }
      if (records.length > 0) {
        for (const rr of records) minTtl = Math.min(minTtl, rr.ttl);
        return { kind: "answer", chain, records, target: current, ttl: this.cap(minTtl, this.maxTtl) };
      }
      if (cname === undefined || chain.length >= this.maxCnameChain) break;
      chain.push(cname);
      minTtl = Math.min(minTtl, cname.ttl);
      current = canonicalName(cname.data);
      key = nameKey(current);
      if (visited.has(key)) break; // a loop inside the answer: stop where it closes
      visited.add(key);
    }
    const neg = negativeTtl(m);
    const negTtl = neg === undefined ? 0 : this.cap(Math.min(neg, minTtl), this.maxNegativeTtl);
    if (fullRcode(m) === RCODE.NXDOMAIN) return { kind: "nxdomain", chain, records: [], target: current, ttl: negTtl };
    if (chain.length === 0) return { kind: "nodata", chain, records: [], target: current, ttl: negTtl };
    // The chain ends without data: NODATA if the SOA's zone holds the end of
    // the chain, otherwise ask about the end of the chain.
    for (const rr of m.authorities) if (rr.type === "SOA" && isSubdomain(key, nameKey(rr.name))) return { kind: "nodata", chain, records: [], target: current, ttl: negTtl };
    return { kind: "chase", chain, records: [], target: current, ttl: this.cap(minTtl, this.maxTtl) };
  }

  private cap(ttl: number, max: number): number {
    return ttl === Infinity ? 0 : Math.max(0, Math.min(ttl, max));
  }
}

/** Of two lookup failures (IPv4, IPv6), the one to report: NXDOMAIN first, then anything but NODATA. */
function pickError(e4: unknown, e6: unknown): unknown {
  const code = (e: unknown): string | undefined => (isMorganaError(e) ? e.code : undefined);
  if (code(e4) === "ENOTFOUND") return e4;
  if (code(e6) === "ENOTFOUND") return e6;
  if (code(e4) !== "ENODATA") return e4;
  if (code(e6) !== "ENODATA") return e6;
  return e4;
}
