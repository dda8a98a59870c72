import { createSocket, type Socket } from "node:dgram";

/** Polls `cond` every millisecond until it holds; throws after `timeoutMs` with `what` in the message. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Lets pending I/O callbacks (send completions, received datagrams) run. */
export function ioTurn(ms = 20): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A plain UDP socket on 127.0.0.1 (port 0 = any), for sending raw datagrams at a netif. */
export async function rawSocket(port = 0): Promise<Socket & { port: number; received: Buffer[] }> {
  const s = createSocket("udp4") as Socket & { port: number; received: Buffer[] };
  s.received = [];
  s.on("message", (m) => s.received.push(m));
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.bind({ port, address: "127.0.0.1" }, () => resolve());
  });
  s.port = s.address().port;
  return s;
}

export function sendRaw(s: Socket, data: Uint8Array, port: number, address = "127.0.0.1"): Promise<void> {
  return new Promise((resolve, reject) => s.send(data, port, address, (err) => (err ? reject(err) : resolve())));
}

export function closeSocket(s: Socket): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

/** A frame of `length` bytes: broadcast destination, the given source MAC bytes, EtherType 0x88b5, a tag and a counter. */
export function makeFrame(length: number, tag: number, seq: number, fillByte = 0): Uint8Array {
  const f = new Uint8Array(length).fill(fillByte);
  f.fill(0xff, 0, 6);
  f.set([0x02, 0, 0, 0, 0, tag & 0xff], 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  if (length >= 18) new DataView(f.buffer).setUint32(14, seq);
  return f;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
