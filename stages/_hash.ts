/**
 * Streaming SHA-256 of files and streams: content flows through `node:crypto` chunk by chunk, so
 * memory stays bounded whatever the file size.
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

/** Hashes a file by streaming it from disk (never the whole file in memory). */
export async function sha256File(path: string): Promise<Sha256Digest> {
  const file = await Deno.open(path, { read: true });
  return await sha256Stream(file.readable);
}

/** Hashes bytes or text held in memory. */
export function sha256Bytes(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}
