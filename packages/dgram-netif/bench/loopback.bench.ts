/**
 * Frame throughput of two dgram-netifs on loopback, against raw node:dgram.
 *
 * Ours: 1514-byte frames from one dgram-netif to another on 127.0.0.1, the
 * sender keeping WINDOW frames in flight and topping up from the receiver's
 * handler (transmit + fill, the receive-side source check and the handler
 * call included). Reference: the same pattern with plain node:dgram sockets
 * sending a ready Buffer. Frames lost to a full socket buffer free their
 * window slot after a 20 ms stall, in both.
 */
import dgram from "node:dgram";
import { figure } from "@morgana/benchkit";
import { writeMac, type MacAddress } from "@morgana/interfaces";
import { createDgramNetif, type DgramNetif } from "../src/index.js";

const FRAME = 1514;
const WINDOW = 64;
const WARMUP_MS = 200;
const MEASURE_MS = 1000;

interface Endpoint {
  send(): void;
  onReceive(cb: () => void): void;
  close(): Promise<void>;
}

/** Frames per second from `tx` to `rx` with WINDOW outstanding, over `ms` of wall time. */
function pump(tx: Endpoint, rx: Endpoint, ms: number): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let received = 0;
    let stop = false;
    const start = performance.now();
    const top = (): void => {
      while (!stop && sent - received < WINDOW) {
        tx.send();
        sent++;
      }
    };
    let lastSeen = 0;
    const watchdog = setInterval(() => {
      if (received === lastSeen && sent > received) sent = received;
      lastSeen = received;
      top();
    }, 20);
    rx.onReceive(() => {
      received++;
      if (!stop && performance.now() - start >= ms) {
        stop = true;
        clearInterval(watchdog);
        resolve((received * 1000) / (performance.now() - start));
        return;
      }
      top();
    });
    top();
  });
}

async function netifPair(): Promise<[Endpoint, Endpoint]> {
  const a0 = await createDgramNetif({ localPort: 0, remotePort: 9 });
  const b = await createDgramNetif({ localPort: 0, remotePort: a0.localPort });
  const port = a0.localPort;
  await a0.close();
  const a = await createDgramNetif({ localPort: port, remotePort: b.localPort });
  const t = new Uint8Array(FRAME);
  writeMac(t, 0, b.mac);
  writeMac(t, 6, a.mac as MacAddress);
  t[12] = 0x88;
  t[13] = 0xb5;
  for (let i = 14; i < FRAME; i++) t[i] = i & 0xff;
  const fill = (buf: Uint8Array): number => (buf.set(t), FRAME);
  const ep = (n: DgramNetif): Endpoint => ({
    send: () => void n.transmit(FRAME, fill),
    onReceive: (cb) => n.listen(cb),
    close: () => n.close(),
  });
  return [ep(a), ep(b)];
}

async function socketPair(): Promise<[Endpoint, Endpoint]> {
  const rx = dgram.createSocket("udp4");
  const tx = dgram.createSocket("udp4");
  await new Promise<void>((r) => rx.bind(0, "127.0.0.1", () => r()));
  await new Promise<void>((r) => tx.bind(0, "127.0.0.1", () => r()));
  const port = rx.address().port;
  const payload = Buffer.alloc(FRAME, 0xab);
  const close = (s: dgram.Socket) => () => new Promise<void>((r) => s.close(() => r()));
  return [
    { send: () => tx.send(payload, port, "127.0.0.1"), onReceive: () => {}, close: close(tx) },
    { send: () => {}, onReceive: (cb) => rx.on("message", cb), close: close(rx) },
  ];
}

async function measure(make: () => Promise<[Endpoint, Endpoint]>): Promise<number> {
  const [w1, w2] = await make();
  await pump(w1, w2, WARMUP_MS);
  await w1.close();
  await w2.close();
  const [a, b] = await make();
  const r = await pump(a, b, MEASURE_MS);
  await a.close();
  await b.close();
  return r;
}

figure("dgram-netif", "loopback-frames", async () => {
  const ours = await measure(netifPair);
  const referenceValue = await measure(socketPair);
  return {
    unit: "frames/s",
    ours,
    reference: "node:dgram loopback",
    referenceValue,
    note: `${FRAME}-byte frames between two dgram-netifs on 127.0.0.1, ${WINDOW} in flight, ~${MEASURE_MS} ms; reference: ${FRAME}-byte datagrams between plain node:dgram sockets, same window`,
  };
});
