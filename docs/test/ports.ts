import { createSocket } from "node:dgram";
import { createServer } from "node:net";

/** A TCP port free on 127.0.0.1 right now (bound, read, released). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `n` distinct UDP ports free on 127.0.0.1 right now. */
export async function freeUdpPorts(n: number): Promise<number[]> {
  const sockets = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createSocket>>((resolve) => {
      const s = createSocket("udp4");
      s.bind(0, "127.0.0.1", () => resolve(s));
    })),
  );
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}
