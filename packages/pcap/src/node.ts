/**
 * @morgana/pcap/node — capture files on disk, for Node.js only.
 */
import { close, fsync, openSync, readFileSync, writev } from "node:fs";
import { readFile } from "node:fs/promises";
import { MorganaError } from "@morgana/interfaces";
import { readCapture, type Capture, type ReadCaptureOptions } from "./read.js";
import { PcapWriter, type PcapWriterOptions } from "./write.js";

/** Reads and parses a capture file (pcap or pcapng); see `readCapture`. */
export async function readCaptureFile(path: string | URL, opts: ReadCaptureOptions = {}): Promise<Capture> {
  return readCapture(await readFile(path), opts);
}

/** The synchronous form of {@link readCaptureFile}. */
export function readCaptureFileSync(path: string | URL, opts: ReadCaptureOptions = {}): Capture {
  return readCapture(readFileSync(path), opts);
}

export type PcapFileWriterOptions = Omit<PcapWriterOptions, "sink">;

// At most this many chunks per writev call (below every platform's IOV_MAX).
const MAX_IOV = 512;

/** The file side of a {@link PcapFileWriter}: a queue of chunks drained by one write at a time. */
class FileSink {
  private readonly queue: Uint8Array[] = [];
  private writing = false;
  private failure: Error | undefined;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  closed = false;

  constructor(readonly fd: number) {}

  push(chunk: Uint8Array): void {
    if (this.closed) throw new MorganaError("EBADF", "pcap file writer is closed", { syscall: "write" });
    if (this.failure !== undefined) throw this.failure;
    this.queue.push(chunk);
    this.drain();
  }

  private drain(): void {
    if (this.writing || this.failure !== undefined) return;
    if (this.queue.length === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const x of w) x.resolve();
      return;
    }
    const batch = this.queue.splice(0, MAX_IOV);
    this.writing = true;
    writev(this.fd, batch, (err, written) => {
      this.writing = false;
      if (err !== null) {
        this.fail(err);
        return;
      }
      // A short write: put the unwritten rest back in front of the queue.
      let n = written;
      let i = 0;
      while (i < batch.length && n >= batch[i]!.length) n -= batch[i++]!.length;
      if (i < batch.length) this.queue.unshift(batch[i]!.subarray(n), ...batch.slice(i + 1));
      this.drain();
    });
  }

  private fail(err: Error): void {
    this.failure = err;
    this.queue.length = 0;
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.reject(err);
  }

  /** Resolves once every queued chunk is written and synced. */
  async flush(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure);
      this.waiters.push({ resolve, reject });
      this.drain();
    });
    await new Promise<void>((resolve, reject) => fsync(this.fd, (err) => (err !== null ? reject(err) : resolve())));
  }
}

/**
 * A {@link PcapWriter} whose output goes to a file. Records are queued and
 * written in the background, in order; the device path never waits for the
 * disk (and the queue grows while the disk is slower than the traffic).
 */
export class PcapFileWriter extends PcapWriter {
  readonly path: string | URL;
  private readonly file: FileSink;
  private closing: Promise<void> | undefined;

  /** Opens (creating or truncating) `path` synchronously: a bad path throws here. */
  constructor(path: string | URL, opts: PcapFileWriterOptions = {}) {
    new PcapWriter(opts); // checks the options before the file is created
    const file = new FileSink(openSync(path, "w"));
    super({ ...opts, sink: (chunk) => file.push(chunk) });
    this.file = file;
    this.path = path;
  }

  /**
   * Resolves when everything written so far is in the file and synced to
   * disk; rejects with the write error if one happened (after which every
   * write throws it too).
   */
  flush(): Promise<void> {
    return this.file.flush();
  }

  /**
   * Flushes, then closes the file. Later writes throw `EBADF`. Idempotent:
   * every call returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.file.closed = true;
      try {
        await this.file.flush();
      } finally {
        await new Promise<void>((resolve, reject) => close(this.file.fd, (err) => (err !== null ? reject(err) : resolve())));
      }
    })();
    return this.closing;
  }
}

/** Creates (or truncates) a classic pcap file at `path` and returns its writer; see {@link PcapFileWriter}. */
export function createPcapFileWriter(path: string | URL, opts: PcapFileWriterOptions = {}): PcapFileWriter {
  return new PcapFileWriter(path, opts);
}
