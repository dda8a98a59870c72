/**
 * @morgana/dgram-netif — a {@link Netif} whose Ethernet frames travel one per
 * UDP datagram over `node:dgram`. This is how a Morgana stack meets a real
 * Linux kernel (a TAP device bridged by socat) or a virtual machine (QEMU's
 * `-netdev dgram`). Node.js only.
 */
import { randomBytes } from "node:crypto";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIP } from "node:net";
import {
  DropCounters,
  ETHERNET_HEADER_LENGTH,
  ETHERTYPE_VLAN,
  MorganaError,
  VLAN_TAG_LENGTH,
  localMac,
  type ErrorCode,
  type Fill,
  type FrameHandler,
  type LayerStats,
  type MacAddress,
  type Netif,
  type Random,
} from "@morgana/interfaces";

/** Default MTU (the largest Ethernet payload): 1500 bytes, standard Ethernet. */
export const DEFAULT_MTU = 1500;
/**
 * The largest MTU accepted: a full 802.1Q-tagged frame (`mtu + 18` bytes) must
 * fit in one UDP datagram over IPv4 (65507 bytes), so 65489.
 */
export const MAX_MTU = 65507 - ETHERNET_HEADER_LENGTH - VLAN_TAG_LENGTH;
/** Default bound on datagrams handed to the socket whose send has not completed yet. */
export const DEFAULT_MAX_PENDING_SENDS = 1024;

export interface DgramNetifOptions {
  /** The UDP port to bind; 0 picks a free port (see {@link DgramNetif.localPort}). */
  localPort: number;
  /** The address to bind, an IP literal. Default `127.0.0.1`. */
  localAddress?: string;
  /** Where frames are sent: the peer's UDP port (socat's, QEMU's). */
  remotePort: number;
  /** The peer's address, an IP literal of the same family as `localAddress`. Default `127.0.0.1`. */
  remoteAddress?: string;
  /** The device's MAC; default a random locally administered unicast MAC (from `random`, else crypto). */
  mac?: MacAddress | number;
  /** The largest Ethernet payload, default 1500, at most {@link MAX_MTU}. */
  mtu?: number;
  /** Source of the default MAC. */
  random?: Random;
  /**
   * Deliver datagrams from any source. Default false: only datagrams from
   * `remoteAddress:remotePort` are frames; others are dropped (`foreign-source`).
   */
  acceptAnySource?: boolean;
  /**
   * Bound on sends handed to the socket and not yet completed (each holds its
   * frame's buffer). Above it `transmit` returns false (`queue-full`).
   * Default {@link DEFAULT_MAX_PENDING_SENDS}.
   */
  maxPendingSends?: number;
  /** SO_RCVBUF in bytes (the kernel caps it at net.core.rmem_max); default the system's. */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes (capped at net.core.wmem_max); default the system's. */
  sendBufferSize?: number;
  /** Do not keep the Node.js process alive for this socket (like `socket.unref()`). Default false. */
  unref?: boolean;
  /** Called with each exception a receive handler throws (it is counted as `handlerErrors` either way). */
  onHandlerError?: (error: unknown, frame: Uint8Array) => void;
}

/** A {@link Netif} over a UDP socket. */
export interface DgramNetif extends Netif {
  /** The bound port (the one the system picked when `localPort` was 0). */
  readonly localPort: number;
  readonly localAddress: string;
  readonly remotePort: number;
  readonly remoteAddress: string;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** Sends handed to the socket and not completed yet. */
  readonly pendingSends: number;
}

function einval(message: string): never {
  throw new MorganaError("EINVAL", `createDgramNetif: ${message}`);
}

function checkPort(name: string, x: unknown, min: number): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < min || x > 65535) {
    einval(`${name} must be an integer in [${min}, 65535], got ${String(x)}`);
  }
  return x;
}

function checkInt(name: string, x: unknown, min: number, max: number): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < min || x > max) {
    einval(`${name} must be an integer in [${min}, ${max}], got ${String(x)}`);
  }
  return x;
}

/** Canonical text of an IP literal, so it compares equal to what `rinfo.address` reports. */
function canonicalIp(name: string, x: unknown): { text: string; family: 4 | 6 } {
  if (typeof x !== "string") einval(`${name} must be an IP address string, got ${String(x)}`);
  const family = isIP(x);
  if (family === 4) return { text: x, family };
  if (family === 6) {
    // The URL parser writes IPv6 in the compressed, lowercase form Node uses in rinfo.
    const host = new URL(`http://[${x.replace(/%.*$/, "")}]/`).hostname.slice(1, -1);
    return { text: x.includes("%") ? `${host}${x.slice(x.indexOf("%"))}` : host, family };
  }
  einval(`${name} must be an IP address literal (no host names), got ${JSON.stringify(x)}`);
}

/** The process's cryptographic randomness, as a {@link Random}. */
const cryptoRandom: Random = {
  fill(bytes: Uint8Array): void {
    bytes.set(randomBytes(bytes.length));
  },
  uint32(): number {
    return randomBytes(4).readUInt32BE(0);
  },
};

function toMorganaError(err: unknown, syscall: string, address: string, port: number): MorganaError {
  const e = err as NodeJS.ErrnoException;
  const code = (typeof e?.code === "string" && /^E[A-Z]+$/.test(e.code) ? e.code : "EIO") as ErrorCode;
  return new MorganaError(code, undefined, { syscall, address, port, cause: err });
}

/**
 * Creates the socket, binds it and resolves with the device. Throws `EINVAL`
 * for bad options; rejects with the bind error (`EADDRINUSE`,
 * `EADDRNOTAVAIL`, `EACCES`, ...) as a {@link MorganaError} with Node's code.
 */
export async function createDgramNetif(opts: DgramNetifOptions): Promise<DgramNetif> {
  if (typeof opts !== "object" || opts === null) einval("options must be an object");
  const localPort = checkPort("localPort", opts.localPort, 0);
  const remotePort = checkPort("remotePort", opts.remotePort, 1);
  const local = canonicalIp("localAddress", opts.localAddress ?? "127.0.0.1");
  const remote = canonicalIp("remoteAddress", opts.remoteAddress ?? "127.0.0.1");
  if (local.family !== remote.family) einval("localAddress and remoteAddress must be of the same family");
  const mtu = checkInt("mtu", opts.mtu ?? DEFAULT_MTU, 1, MAX_MTU);
  const maxPendingSends = checkInt("maxPendingSends", opts.maxPendingSends ?? DEFAULT_MAX_PENDING_SENDS, 1, 1 << 20);
  if (opts.random !== undefined && (typeof opts.random !== "object" || typeof opts.random.uint32 !== "function")) {
    einval("random must be a Random (uint32, fill)");
  }
  let mac: MacAddress;
  if (opts.mac !== undefined) {
    if (typeof opts.mac !== "number" || !Number.isInteger(opts.mac) || opts.mac < 0 || opts.mac > 0xffff_ffff_ffff) {
      einval(`mac must be a MAC address (an integer in 0..2^48-1), got ${String(opts.mac)}`);
    }
    mac = opts.mac as MacAddress;
  } else {
    mac = localMac(opts.random ?? cryptoRandom);
  }
  const recvBufferSize = opts.recvBufferSize === undefined ? undefined : checkInt("recvBufferSize", opts.recvBufferSize, 1, 2 ** 31 - 1);
  const sendBufferSize = opts.sendBufferSize === undefined ? undefined : checkInt("sendBufferSize", opts.sendBufferSize, 1, 2 ** 31 - 1);
  if (opts.onHandlerError !== undefined && typeof opts.onHandlerError !== "function") einval("onHandlerError must be a function");

  const socket = createSocket({
    type: local.family === 4 ? "udp4" : "udp6",
    ...(recvBufferSize !== undefined ? { recvBufferSize } : {}),
    ...(sendBufferSize !== undefined ? { sendBufferSize } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.removeListener("listening", onListening);
      socket.close();
      reject(toMorganaError(err, "bind", local.text, localPort));
    };
    const onListening = (): void => {
      socket.removeListener("error", onError);
      resolve();
    };
    socket.once("error", onError);
    socket.once("listening", onListening);
    socket.bind({ port: localPort, address: local.text, exclusive: true });
  });
  if (opts.unref === true) socket.unref();
  return new UdpNetif({
    socket,
    mac,
    mtu,
    localAddress: local.text,
    localPort: socket.address().port,
    remoteAddress: remote.text,
    remotePort,
    acceptAnySource: opts.acceptAnySource === true,
    maxPendingSends,
    onHandlerError: opts.onHandlerError,
  });
}

interface UdpNetifInit {
  socket: Socket;
  mac: MacAddress;
  mtu: number;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  acceptAnySource: boolean;
  maxPendingSends: number;
  onHandlerError: ((error: unknown, frame: Uint8Array) => void) | undefined;
}

class UdpNetif implements DgramNetif {
  readonly mac: MacAddress;
  readonly mtu: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  private readonly socket: Socket;
  private readonly acceptAnySource: boolean;
  private readonly maxPendingSends: number;
  private readonly maxFrame: number;
  private readonly onHandlerError: ((error: unknown, frame: Uint8Array) => void) | undefined;
  private readonly drops = new DropCounters();
  private handler: FrameHandler | undefined;
  private pending = 0;
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private rxFrames = 0;
  private rxBytes = 0;
  private txFrames = 0;
  private txBytes = 0;
  private handlerErrors = 0;
  private socketErrors = 0;

  constructor(init: UdpNetifInit) {
    this.socket = init.socket;
    this.mac = init.mac;
    this.mtu = init.mtu;
    this.localAddress = init.localAddress;
    this.localPort = init.localPort;
    this.remoteAddress = init.remoteAddress;
    this.remotePort = init.remotePort;
    this.acceptAnySource = init.acceptAnySource;
    this.maxPendingSends = init.maxPendingSends;
    this.maxFrame = init.mtu + ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
    this.onHandlerError = init.onHandlerError;
    this.socket.on("message", this.onMessage);
    // An asynchronous socket error (rare for UDP) is counted, never thrown.
    this.socket.on("error", () => {
      this.socketErrors++;
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get pendingSends(): number {
    return this.pending;
  }

  transmit(size: number, fill: Fill): boolean {
    if (this.isClosed) return this.drops.drop("closed");
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) return this.drops.drop("bad-size");
    if (size > this.maxFrame) return this.drops.drop("oversize");
    if (this.pending >= this.maxPendingSends) return this.drops.drop("queue-full");
    // Zeroed memory: bytes fill claims but does not write are zeros, never stale heap.
    const buf = new Uint8Array(size);
    let n: unknown;
    try {
      n = fill(buf);
    } catch {
      return this.drops.drop("fill-error");
    }
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > size) return this.drops.drop("fill-length");
    if (n < ETHERNET_HEADER_LENGTH) return this.drops.drop("short");
    if (n > this.mtu + ETHERNET_HEADER_LENGTH && !isVlanTagged(buf)) return this.drops.drop("oversize");
    if (this.isClosed) return this.drops.drop("closed"); // fill may have closed the device
    const frame = n === size ? buf : buf.subarray(0, n);
    this.pending++;
    try {
      this.socket.send(frame, this.remotePort, this.remoteAddress, (err) => this.onSent(err, n as number));
    } catch {
      // Only when the socket is already closed (ERR_SOCKET_DGRAM_NOT_RUNNING).
      this.pending--;
      return this.drops.drop("send-error");
    }
    return true;
  }

  private onSent(err: Error | null, bytes: number): void {
    this.pending--;
    if (err === null) {
      this.txFrames++;
      this.txBytes += bytes;
    } else {
      this.drops.drop(this.isClosed ? "closed" : "send-error");
    }
  }

  listen(handler: FrameHandler): void {
    this.handler = handler;
  }

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.isClosed) {
      this.drops.drop("closed");
      return;
    }
    if (!this.acceptAnySource && (rinfo.port !== this.remotePort || rinfo.address !== this.remoteAddress)) {
      this.drops.drop("foreign-source");
      return;
    }
    const len = msg.length;
    if (len < ETHERNET_HEADER_LENGTH) {
      this.drops.drop("short");
      return;
    }
    if (len > this.maxFrame) {
      this.drops.drop("oversize");
      return;
    }
    const handler = this.handler;
    if (handler === undefined) {
      this.drops.drop("no-listener");
      return;
    }
    // A plain Uint8Array view of the datagram's own memory (Buffer's slice() is a view, Uint8Array's a copy).
    const frame = new Uint8Array(msg.buffer, msg.byteOffset, len);
    this.rxFrames++;
    this.rxBytes += len;
    try {
      handler(frame);
    } catch (e) {
      this.handlerErrors++;
      if (this.onHandlerError !== undefined) {
        try {
          this.onHandlerError(e, frame);
        } catch {
          // The error hook's own failure is not allowed to escape into the event loop either.
        }
      }
    }
  };

  stats(): LayerStats {
    return {
      counters: {
        rxFrames: this.rxFrames,
        rxBytes: this.rxBytes,
        txFrames: this.txFrames,
        txBytes: this.txBytes,
        pendingSends: this.pending,
        handlerErrors: this.handlerErrors,
        socketErrors: this.socketErrors,
      },
      drops: this.drops.snapshot(),
    };
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.isClosed = true;
    this.handler = undefined;
    this.closing = new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // already closed underneath us
      }
    });
    return this.closing;
  }
}

/** True when bytes 12-13 hold the 802.1Q TPID 0x8100. */
function isVlanTagged(frame: Uint8Array): boolean {
  return frame[12] === ETHERTYPE_VLAN >>> 8 && frame[13] === (ETHERTYPE_VLAN & 0xff);
}
