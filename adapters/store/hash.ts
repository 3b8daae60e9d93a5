/**
 * Streaming SHA-256 of files and streams: content flows through `node:crypto` chunk by chunk, so
 * memory stays bounded whatever the file size.
 *
 * Files are read synchronously into one reused buffer: `node:crypto` hashes at SHA-NI speed, and
 * the profile of the earlier `Deno.open(...).readable` loop showed the time going to ~16 k async
 * 64 KiB reads (a fresh buffer and a promise each), not to hashing. A synchronous 1 MiB read
 * costs a fraction of a millisecond; the loop yields to the event loop every
 * {@linkcode YIELD_EVERY} bytes so signals and timers still run during a large file.
 * @module
 */
import { createHash } from "node:crypto";

/** Digest and size of hashed content. */
export interface Sha256Digest {
  /** Lowercase hex SHA-256. */
  sha256: string;
  /** Number of bytes hashed. */
  size: number;
}

/** Size of the reused read buffer of {@linkcode sha256File}. */
export const READ_BUFFER_BYTES = 1024 * 1024;
/** {@linkcode sha256File} lets the event loop run after this many bytes. */
export const YIELD_EVERY = 64 * 1024 * 1024;

/** Hashes a byte stream to the end (the stream is consumed). */
export async function sha256Stream(stream: ReadableStream<Uint8Array>): Promise<Sha256Digest> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { sha256: hash.digest("hex"), size };
}

/** A macrotask boundary: lets pending signals, timers and I/O callbacks run. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Reads `buffer.length` bytes (fewer only at end of file) from `file` into `buffer`; returns the
 * number read (0 at end of file).
 */
export function readFull(file: Deno.FsFile, buffer: Uint8Array): number {
  let filled = 0;
  while (filled < buffer.length) {
    const n = file.readSync(filled === 0 ? buffer : buffer.subarray(filled));
    if (n === null || n === 0) break;
    filled += n;
  }
  return filled;
}

/** Hashes a file from disk through one reused buffer (never the whole file in memory). */
export async function sha256File(path: string): Promise<Sha256Digest> {
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  const hash = createHash("sha256");
  let size = 0;
  let sinceYield = 0;
  for (;;) {
    const n = readFull(file, buffer);
    if (n === 0) break;
    hash.update(n === buffer.length ? buffer : buffer.subarray(0, n));
    size += n;
    sinceYield += n;
    if (n < buffer.length) break;
    if (sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      await yieldToEventLoop();
    }
  }
  return { sha256: hash.digest("hex"), size };
}

/** Hashes bytes or text held in memory. */
export function sha256Bytes(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}
