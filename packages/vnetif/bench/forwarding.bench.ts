/**
 * Forwarding throughput of the virtual network, against UDP over loopback.
 *
 * Ours: 1514-byte frames sent from one device to another (through a learning
 * VirtualSwitch, or over a point-to-point link), the sender keeping WINDOW
 * frames in flight and topping up from the receiver's handler; frames counted
 * on reception. Reference: 1514-byte datagrams over node:dgram on 127.0.0.1 in
 * the same process, pipelined the same way (WINDOW outstanding), counted on
 * reception.
 */
import dgram from "node:dgram";
import { figure } from "@morgana/benchkit";
import { writeMac, type Clock, type MacAddress, type Netif } from "@morgana/interfaces";
import { systemClock, VirtualClock } from "@morgana/sim";
import { createLink, VirtualSwitch } from "../src/index.js";

const FRAME = 1514;
const WINDOW = 64;
const WARMUP_MS = 200;
const MEASURE_MS = 1000;

function template(dst: number, src: number): Uint8Array {
  const t = new Uint8Array(FRAME);
  writeMac(t, 0, dst as MacAddress);
  writeMac(t, 6, src as MacAddress);
  t[12] = 0x88;
  t[13] = 0xb5;
  for (let i = 14; i < FRAME; i++) t[i] = i & 0xff;
  return t;
}

/** Frames per second from `tx` to `rx` with WINDOW in flight, over `ms` of wall time. */
function pump(tx: Netif, rx: Netif, ms: number): Promise<number> {
  const t = template(rx.mac, tx.mac);
  const fill = (b: Uint8Array) => {
    b.set(t);
    return FRAME;
  };
  return new Promise((resolve) => {
    let sent = 0;
    let received = 0;
    let stop = false;
    const start = performance.now();
    let end = start;
    const top = () => {
      while (!stop && sent - received < WINDOW) {
        if (!tx.transmit(FRAME, fill)) throw new Error("transmit refused");
        sent++;
      }
    };
    rx.listen(() => {
      received++;
      if ((received & 1023) === 0 && !stop && performance.now() - start >= ms) {
        stop = true;
        end = performance.now();
        resolve((received * 1000) / (end - start));
        return;
      }
      top();
    });
    top();
  });
}

async function virtualRate(make: () => [Netif, Netif]): Promise<number> {
  const [w1, w2] = make();
  await pump(w1, w2, WARMUP_MS);
  const [a, b] = make();
  return pump(a, b, MEASURE_MS);
}

/** Datagrams per second over UDP loopback, WINDOW outstanding; lost datagrams free their slot after a stall. */
async function udpRate(ms: number): Promise<number> {
  const rxSock = dgram.createSocket("udp4");
  const txSock = dgram.createSocket("udp4");
  await new Promise<void>((r) => rxSock.bind(0, "127.0.0.1", () => r()));
  await new Promise<void>((r) => txSock.bind(0, "127.0.0.1", () => r()));
  const port = rxSock.address().port;
  const payload = Buffer.alloc(FRAME, 0xab);
  let sent = 0;
  let received = 0;
  let stop = false;
  const top = () => {
    while (!stop && sent - received < WINDOW) {
      txSock.send(payload, port, "127.0.0.1");
      sent++;
    }
  };
  const result = await new Promise<number>((resolve) => {
    const start = performance.now();
    let lastSeen = 0;
    const watchdog = setInterval(() => {
      if (received === lastSeen && sent > received) sent = received; // treat the outstanding ones as lost
      lastSeen = received;
      top();
    }, 20);
    rxSock.on("message", () => {
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
  txSock.close();
  rxSock.close();
  return result;
}

async function reference(): Promise<number> {
  await udpRate(WARMUP_MS);
  return udpRate(MEASURE_MS);
}

function switchPair(clock: Clock): [Netif, Netif] {
  const sw = new VirtualSwitch({ clock });
  const a = sw.createPort();
  const b = sw.createPort();
  // Let the switch learn b's address so the measured frames are forwarded as known unicast.
  const hello = template(a.mac, b.mac).subarray(0, 60);
  b.transmit(60, (buf) => (buf.set(hello), 60));
  return [a, b];
}

figure("vnetif", "switch-forwarding", async () => {
  // With the system clock (performance.now() on every frame, for MAC learning), as a real-time deployment runs.
  const ours = await virtualRate(() => switchPair(systemClock));
  // With a VirtualClock, as simulations run.
  const simulated = await virtualRate(() => switchPair(new VirtualClock()));
  const referenceValue = await reference();
  return {
    unit: "frames/s",
    ours,
    reference: "node:dgram loopback",
    referenceValue,
    note:
      `${FRAME}-byte frames, learned unicast port to port, ${WINDOW} in flight, ~${MEASURE_MS} ms each, systemClock ` +
      `(${Math.round(simulated)} frames/s with a VirtualClock); reference: ${FRAME}-byte UDP datagrams on 127.0.0.1, ${WINDOW} outstanding`,
  };
});

figure("vnetif", "link-forwarding", async () => {
  const ours = await virtualRate(() => createLink({ clock: systemClock }));
  const referenceValue = await reference();
  return {
    unit: "frames/s",
    ours,
    reference: "node:dgram loopback",
    referenceValue,
    note: `${FRAME}-byte frames over a point-to-point link, ${WINDOW} in flight, ~${MEASURE_MS} ms each; reference as for switch-forwarding`,
  };
});
