/** Block storage (a disk), as MirageOS's BLOCK. */

export interface BlockInfo {
  /** Bytes per sector, a power of two, usually 512 or 4096. */
  readonly sectorSize: number;
  /** The device size in sectors. */
  readonly sizeSectors: number;
  readonly readWrite: boolean;
  /** Whether `discard` is supported. */
  readonly discard: boolean;
}

/**
 * A block device.
 *
 * Contract:
 * - `read(sector, buffers)` fills the buffers, in order, from consecutive
 *   sectors starting at `sector`; `write` stores them. Each buffer's length is
 *   a multiple of `sectorSize`. Misaligned buffers, or a range beyond the
 *   device, reject with `EINVAL`; `write` on a read-only device with `EROFS`;
 *   device failures with `EIO`.
 * - A write that resolved is durable only after a later `flush()` resolves.
 * - `discard` marks sectors unused (their contents become unspecified);
 *   `ENOTSUP` where `info.discard` is false.
 * - After `close()` every operation rejects with `EBADF`; `close()` is idempotent.
 */
export interface Block {
  readonly info: BlockInfo;
  read(sector: number, buffers: readonly Uint8Array[]): Promise<void>;
  write(sector: number, buffers: readonly Uint8Array[]): Promise<void>;
  flush(): Promise<void>;
  discard(sector: number, count: number): Promise<void>;
  close(): Promise<void>;
}
