/**
 * Wire codec throughput against dns-packet 5.6.1 on the same messages, in the
 * same process:
 * - a query: `www.example.com` A, no EDNS (33 bytes);
 * - a response: that question, CNAME + 2 A + AAAA answers and an OPT record.
 * Encoding: each library from its own object form (ours compresses names,
 * dns-packet does not). Decoding: both decode the same bytes (our compressed
 * encoding; dns-packet follows the backward pointers).
 */
import { figure, rate } from "@morgana/benchkit";
import dnsPacket from "dns-packet";
import { buildQuery, decodeMessage, encodeMessage, optRecord, type Message } from "../src/index.js";

const query: Message = buildQuery("www.example.com", "A", { id: 0x1234, edns: false });
const response: Message = {
  ...query,
  qr: true,
  aa: true,
  answers: [
    { name: "www.example.com", type: "CNAME", class: 1, ttl: 300, data: "web.example.com" },
    { name: "web.example.com", type: "A", class: 1, ttl: 300, data: "93.184.216.34" },
    { name: "web.example.com", type: "A", class: 1, ttl: 300, data: "93.184.216.35" },
    { name: "web.example.com", type: "AAAA", class: 1, ttl: 300, data: "2606:2800:220:1:248:1893:25c8:1946" },
  ],
  additionals: [optRecord({ udpPayloadSize: 1232 })],
};

const dpQuery: dnsPacket.Packet = {
  id: 0x1234,
  type: "query",
  flags: dnsPacket.RECURSION_DESIRED,
  questions: [{ name: "www.example.com", type: "A", class: "IN" }],
};
const dpResponse: dnsPacket.Packet = {
  id: 0x1234,
  type: "response",
  flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHORITATIVE_ANSWER,
  questions: [{ name: "www.example.com", type: "A", class: "IN" }],
  answers: [
    { name: "www.example.com", type: "CNAME", class: "IN", ttl: 300, data: "web.example.com" },
    { name: "web.example.com", type: "A", class: "IN", ttl: 300, data: "93.184.216.34" },
    { name: "web.example.com", type: "A", class: "IN", ttl: 300, data: "93.184.216.35" },
    { name: "web.example.com", type: "AAAA", class: "IN", ttl: 300, data: "2606:2800:220:1:248:1893:25c8:1946" },
  ],
  additionals: [{ name: ".", type: "OPT", udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] } as unknown as dnsPacket.Answer],
};

const queryBytes = encodeMessage(query);
const responseBytes = encodeMessage(response);
const queryBuf = Buffer.from(queryBytes);
const responseBuf = Buffer.from(responseBytes);
const dpResponseLength = dnsPacket.encode(dpResponse).length;
if (queryBytes.length !== 33 || dnsPacket.encode(dpQuery).length !== 33) throw new Error("the query should be 33 bytes");
if (dnsPacket.decode(responseBuf).answers?.length !== 4) throw new Error("dns-packet does not read our response");

const BATCH = 100;
let sink = 0;

function pair(ours: () => void, theirs: () => void, note: string) {
  return async () => ({
    unit: "messages/s",
    ours: await rate(() => {
      for (let i = 0; i < BATCH; i++) ours();
    }, BATCH),
    reference: "dns-packet 5.6.1",
    referenceValue: await rate(() => {
      for (let i = 0; i < BATCH; i++) theirs();
    }, BATCH),
    note,
  });
}

figure("dns", "encode-query", pair(() => (sink += encodeMessage(query).length), () => (sink += dnsPacket.encode(dpQuery).length), "33-byte A query"));
figure("dns", "decode-query", pair(() => (sink += decodeMessage(queryBytes).id), () => (sink += dnsPacket.decode(queryBuf).id!), "33-byte A query"));
figure(
  "dns",
  "encode-response",
  pair(
    () => (sink += encodeMessage(response).length),
    () => (sink += dnsPacket.encode(dpResponse).length),
    `CNAME + 2 A + AAAA + OPT: ours ${responseBytes.length} bytes (compressed), dns-packet ${dpResponseLength} (uncompressed)`,
  ),
);
figure(
  "dns",
  "decode-response",
  pair(() => (sink += decodeMessage(responseBytes).answers.length), () => (sink += dnsPacket.decode(responseBuf).answers!.length), `the same ${responseBytes.length}-byte compressed response`),
);

export const _sink = (): number => sink;
