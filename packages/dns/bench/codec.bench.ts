/**
 * Wire codec throughput against dns-packet 5.6.1, in the same process, on the
 * same set of DISTINCT messages, rotated through: 4,096 queries and 4,096
 * responses built from 4,096 different realistic host names (8,192 distinct
 * names in the responses), more than the encoder's and decoder's 1,024-entry
 * name caches hold. Each name comes back only after 4,095 others and misses
 * the caches (measured: every host name misses; the hits are the root name of
 * the OPT record and a few percent of names admitted to the decoder's
 * cache): these figures measure names not seen recently. Within one message
 * the repeated names use the per-message memos, as they would in any message.
 *
 * - a query: NAME A, no EDNS;
 * - a response: that question, CNAME to a second name + 2 A + AAAA answers
 *   and an OPT record.
 * Encoding: each library from its own object form of the same message (ours
 * compresses names, dns-packet does not). Decoding: both decode the same bytes
 * (our compressed encoding; dns-packet follows the backward pointers).
 */
import { figure, rate } from "@morgana/benchkit";
import dnsPacket from "dns-packet";
import { buildQuery, decodeMessage, encodeMessage, optRecord, type Message } from "../src/index.js";

const N = 4096;

// A deterministic generator (xorshift32), so every run uses the same names.
let seed = 0x2545f491;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}
const HOSTS = ["www", "api", "mail", "cdn", "static", "img", "login", "m", "app", "edge", "auth", "assets", "shop", "docs", "status", "blog"];
const SYL = ["ex", "am", "ple", "net", "work", "cloud", "data", "fast", "ly", "go", "ogle", "micro", "soft", "book", "face", "tube", "pay", "pal", "store", "hub", "git", "lab", "dev", "ops", "zon", "flix", "ber", "tor", "ent", "ia"];
const TLDS = ["com", "net", "org", "io", "de", "co.uk", "fr", "nl", "com.au", "jp"];
function domain(): string {
  let d = "";
  const k = 2 + rnd(3);
  for (let i = 0; i < k; i++) d += SYL[rnd(SYL.length)]!;
  if (rnd(4) === 0) d += "-" + SYL[rnd(SYL.length)]!;
  return d;
}
const names: string[] = [];
const targets: string[] = [];
const seen = new Set<string>();
while (names.length < N) {
  const d = domain();
  const tld = TLDS[rnd(TLDS.length)]!;
  const host = HOSTS[rnd(HOSTS.length)]! + (rnd(3) === 0 ? String(rnd(20)) : "");
  const name = `${host}.${d}.${tld}`;
  if (seen.has(name)) continue;
  seen.add(name);
  names.push(name);
  targets.push(`${HOSTS[rnd(HOSTS.length)]}-${rnd(100)}.edge.${domain()}.${TLDS[rnd(TLDS.length)]}`);
}
function ip4(i: number, k: number): string {
  return `${10 + (i & 0x7f)}.${(i >> 7) & 255}.${k}.${1 + (i % 250)}`;
}
function ip6(i: number): string {
  return `2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::${(i % 4000) + 1}`;
}

const queries: Message[] = [];
const responses: Message[] = [];
const dpQueries: dnsPacket.Packet[] = [];
const dpResponses: dnsPacket.Packet[] = [];
for (let i = 0; i < N; i++) {
  const name = names[i]!;
  const target = targets[i]!;
  const id = (i * 7919) & 0xffff;
  const q = buildQuery(name, "A", { id, edns: false });
  queries.push(q);
  responses.push({
    ...q,
    qr: true,
    ra: true,
    answers: [
      { name, type: "CNAME", class: 1, ttl: 300, data: target },
      { name: target, type: "A", class: 1, ttl: 60, data: ip4(i, 1) },
      { name: target, type: "A", class: 1, ttl: 60, data: ip4(i, 2) },
      { name: target, type: "AAAA", class: 1, ttl: 60, data: ip6(i) },
    ],
    additionals: [optRecord({ udpPayloadSize: 1232 })],
  });
  const dq: dnsPacket.Packet = { id, type: "query", flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: "A", class: "IN" }] };
  dpQueries.push(dq);
  dpResponses.push({
    id,
    type: "response",
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [{ name, type: "A", class: "IN" }],
    answers: [
      { name, type: "CNAME", class: "IN", ttl: 300, data: target },
      { name: target, type: "A", class: "IN", ttl: 60, data: ip4(i, 1) },
      { name: target, type: "A", class: "IN", ttl: 60, data: ip4(i, 2) },
      { name: target, type: "AAAA", class: "IN", ttl: 60, data: ip6(i) },
    ],
    additionals: [{ name: ".", type: "OPT", udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] } as unknown as dnsPacket.Answer],
  });
}

// The same bytes for both decoders (copied out of our encoder's pool).
const queryBytes = queries.map((m) => encodeMessage(m).slice());
const responseBytes = responses.map((m) => encodeMessage(m).slice());
const queryBufs = queryBytes.map((b) => Buffer.from(b));
const responseBufs = responseBytes.map((b) => Buffer.from(b));

// Both sides must produce and read the same messages.
for (let i = 0; i < N; i += 97) {
  const a = dnsPacket.decode(responseBufs[i]!);
  const ours = decodeMessage(responseBytes[i]!);
  if (a.answers?.length !== 4 || (a.answers[1] as { data: string }).data !== ((ours.answers[1] as { data: string }).data)) throw new Error("dns-packet does not read our response");
  if (dnsPacket.encode(dpQueries[i]!).length !== queryBytes[i]!.length) throw new Error("query sizes differ");
  if (decodeMessage(dnsPacket.encode(dpResponses[i]!)).answers.length !== 4) throw new Error("we do not read dns-packet's response");
}
const avg = (xs: Uint8Array[]) => Math.round(xs.reduce((s, x) => s + x.length, 0) / xs.length);
const avgQuery = avg(queryBytes);
const avgResponse = avg(responseBytes);
const avgDpResponse = Math.round(dpResponses.slice(0, 256).reduce((s, p) => s + dnsPacket.encode(p).length, 0) / 256);

const BATCH = 256;
let sink = 0;
let k1 = 0;
let k2 = 0;

function pair(ours: (i: number) => void, theirs: (i: number) => void, note: string) {
  return async () => ({
    unit: "messages/s",
    ours: await rate(() => {
      for (let j = 0; j < BATCH; j++) {
        ours(k1);
        k1 = (k1 + 1) & (N - 1);
      }
    }, BATCH),
    reference: "dns-packet 5.6.1",
    referenceValue: await rate(() => {
      for (let j = 0; j < BATCH; j++) {
        theirs(k2);
        k2 = (k2 + 1) & (N - 1);
      }
    }, BATCH),
    note,
  });
}

const DISTINCT = `${N} distinct messages rotated (host names miss the name caches)`;
figure(
  "dns",
  "encode-query",
  pair((i) => (sink += encodeMessage(queries[i]!).length), (i) => (sink += dnsPacket.encode(dpQueries[i]!).length), `A query, ${avgQuery} bytes on average; ${DISTINCT}`),
);
figure(
  "dns",
  "decode-query",
  pair((i) => (sink += decodeMessage(queryBytes[i]!).id), (i) => (sink += dnsPacket.decode(queryBufs[i]!).id!), `A query, ${avgQuery} bytes on average; ${DISTINCT}`),
);
figure(
  "dns",
  "encode-response",
  pair(
    (i) => (sink += encodeMessage(responses[i]!).length),
    (i) => (sink += dnsPacket.encode(dpResponses[i]!).length),
    `CNAME + 2 A + AAAA + OPT: ours ${avgResponse} bytes on average (compressed), dns-packet ${avgDpResponse} (uncompressed); ${DISTINCT}`,
  ),
);
figure(
  "dns",
  "decode-response",
  pair(
    (i) => (sink += decodeMessage(responseBytes[i]!).answers.length),
    (i) => (sink += dnsPacket.decode(responseBufs[i]!).answers!.length),
    `the same compressed responses, ${avgResponse} bytes on average; ${DISTINCT}`,
  ),
);

export const _sink = (): number => sink;
