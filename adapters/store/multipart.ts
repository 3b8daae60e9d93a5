/**
 * Bounded-memory upload of a file to S3: the file is read once, part by part, into buffers taken
 * from a fixed pool, and each part is sent as soon as it is read.
 *
 * Why not `@aws-sdk/lib-storage` for files: its stream chunker gathers the stream's chunks and
 * `Buffer.concat`s them into a fresh part buffer per part, so every part allocates (and later
 * frees) `partSize` bytes of off-heap memory on top of the stream's own chunks; V8 collects those
 * lazily and a 1 GiB upload peaked at ~240 MiB RSS (issue 18). Here the pool owns every part
 * buffer and they are reused, so memory is `pool size × part size` however many files upload at
 * once. In-memory bodies (strings, small JSON) still go through lib-storage.
 * @module
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { readFull } from "./hash.ts";

/** A fixed number of equally sized part buffers, shared by concurrent uploads. */
export class PartBufferPool {
  /** Size of each buffer in bytes. */
  readonly partSize: number;
  /** Most buffers ever allocated. */
  readonly capacity: number;
  #free: Uint8Array[] = [];
  #allocated = 0;
  #waiting: ((buffer: Uint8Array) => void)[] = [];

  /** A pool of at most `capacity` buffers of `partSize` bytes (allocated on first use). */
  constructor(partSize: number, capacity: number) {
    this.partSize = partSize;
    this.capacity = Math.max(1, capacity);
  }

  /** Buffers allocated so far (never more than {@linkcode capacity}). */
  get allocated(): number {
    return this.#allocated;
  }

  /** Takes a buffer, waiting for one to be released when all are in use. */
  acquire(): Promise<Uint8Array> {
    const free = this.#free.pop();
    if (free) return Promise.resolve(free);
    if (this.#allocated < this.capacity) {
      this.#allocated++;
      return Promise.resolve(new Uint8Array(this.partSize));
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Returns a buffer to the pool (or hands it to the longest waiter). */
  release(buffer: Uint8Array): void {
    const next = this.#waiting.shift();
    if (next) next(buffer);
    else this.#free.push(buffer);
  }
}

/** S3 has at most 10,000 parts per upload. */
export const MAX_PARTS = 10_000;

/** Options of {@linkcode uploadFile}. */
export interface UploadFileOptions {
  /** Target bucket. */
  bucket: string;
  /** Target key. */
  key: string;
  /** Part buffers (their size is the part size). */
  pool: PartBufferPool;
  /** Parts of this file in flight at once. */
  queueSize: number;
  /** `Content-Type`. */
  contentType?: string;
  /** User metadata (`x-amz-meta-*`). */
  metadata?: Record<string, string>;
  /** Bytes sent so far, after each part. */
  onProgress?: (loaded: number) => void;
}

/**
 * Uploads a file: one `PutObject` when it fits in one part, otherwise a multipart upload with up
 * to `queueSize` parts in flight (aborted on failure so no parts are left behind).
 */
export async function uploadFile(
  client: S3Client,
  path: string,
  options: UploadFileOptions,
): Promise<void> {
  const sdk = await import("@aws-sdk/client-s3");
  const { bucket: Bucket, key: Key, pool } = options;
  const extra = {
    ...(options.contentType ? { ContentType: options.contentType } : {}),
    ...(options.metadata ? { Metadata: options.metadata } : {}),
  };
  using file = await Deno.open(path, { read: true });
  const { size } = await file.stat();
  if (size <= pool.partSize) {
    const buffer = await pool.acquire();
    try {
      const n = readFull(file, buffer.subarray(0, size));
      await client.send(
        new sdk.PutObjectCommand({ Bucket, Key, Body: buffer.subarray(0, n), ...extra }),
      );
    } finally {
      pool.release(buffer);
    }
    options.onProgress?.(size);
    return;
  }
  if (Math.ceil(size / pool.partSize) > MAX_PARTS) {
    throw new Error(
      `${size} bytes need more than ${MAX_PARTS} parts of ${pool.partSize} bytes; raise the part size`,
    );
  }
  const { UploadId } = await client.send(
    new sdk.CreateMultipartUploadCommand({ Bucket, Key, ...extra }),
  );
  const parts: { PartNumber: number; ETag: string }[] = [];
  let nextPart = 1;
  let loaded = 0;
  let finished = false;
  let failed = false;
  const worker = async () => {
    while (!finished && !failed) {
      const buffer = await pool.acquire();
      try {
        if (finished || failed) return;
        // Synchronous read: parts are numbered in file order whatever the interleaving.
        const n = readFull(file, buffer);
        if (n < buffer.length) finished = true;
        if (n === 0) return;
        const PartNumber = nextPart++;
        const out = await client.send(
          new sdk.UploadPartCommand({
            Bucket,
            Key,
            UploadId,
            PartNumber,
            Body: buffer.subarray(0, n),
          }),
        );
        if (!out.ETag) throw new Error(`part ${PartNumber}: no ETag in the UploadPart response`);
        parts.push({ PartNumber, ETag: out.ETag });
        loaded += n;
        options.onProgress?.(loaded);
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        pool.release(buffer);
      }
    }
  };
  try {
    const results = await Promise.allSettled(
      Array.from({ length: Math.max(1, options.queueSize) }, worker),
    );
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (rejected) throw rejected.reason;
    parts.sort((a, b) => a.PartNumber - b.PartNumber);
    await client.send(
      new sdk.CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (e) {
    await client.send(new sdk.AbortMultipartUploadCommand({ Bucket, Key, UploadId }))
      .catch(() => {});
    throw e;
  }
}
