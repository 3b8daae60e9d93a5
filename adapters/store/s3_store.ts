/**
 * The artifact store in an S3 bucket (production): objects carry their SHA-256 as
 * `x-amz-meta-sha256`, files are uploaded in bounded memory (`./multipart.ts`), and the AWS SDK
 * is loaded lazily (only when the store is used).
 * @module
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { AphexError } from "../../models/errors.ts";
import {
  type ArtifactBody,
  type ArtifactStore,
  type ObjectInfo,
  type PutOptions,
  validateKey,
} from "./artifact_store.ts";
import { PartBufferPool, uploadFile } from "./multipart.ts";

/** Options of {@linkcode S3ArtifactStore}. */
export interface S3StoreOptions {
  /** Multipart part size in bytes (default 8 MiB, minimum 5 MiB). */
  partSize?: number;
  /** Parts uploaded concurrently per object (default 4). */
  queueSize?: number;
  /**
   * Part buffers shared by all concurrent file uploads of the store (default 4): file uploads
   * hold at most `partBuffers × partSize` bytes of content in memory.
   */
  partBuffers?: number;
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === "NotFound" || err?.name === "NoSuchKey" ||
    err?.$metadata?.httpStatusCode === 404;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: string }).code;
    const msg = e.message || e.name;
    return code && !msg.includes(code) ? `${msg} (${code})` : msg;
  }
  return String(e);
}

/** A store in an S3 bucket; objects carry their SHA-256 as `x-amz-meta-sha256`. */
export class S3ArtifactStore implements ArtifactStore {
  /** The S3 client (owned: closed by {@linkcode close}). */
  readonly client: S3Client;
  /** Bucket name. */
  readonly bucket: string;
  readonly #options: S3StoreOptions;
  readonly #partSize: number;
  #pool?: PartBufferPool;
  #sdk?: Promise<typeof import("@aws-sdk/client-s3")>;

  /** Wraps a client and a bucket. */
  constructor(client: S3Client, bucket: string, options: S3StoreOptions = {}) {
    this.client = client;
    this.bucket = bucket;
    this.#options = options;
    this.#partSize = Math.max(options.partSize ?? 8 * 1024 * 1024, 5 * 1024 * 1024);
  }

  #s3(): Promise<typeof import("@aws-sdk/client-s3")> {
    return this.#sdk ??= import("@aws-sdk/client-s3");
  }

  /** `s3://bucket`. */
  get location(): string {
    return `s3://${this.bucket}`;
  }

  /** `s3://bucket/<key>`. */
  uriFor(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /**
   * Uploads a file in bounded memory (`./multipart.ts`), in-memory content with
   * `@aws-sdk/lib-storage` (multipart above the part size, parts in parallel).
   */
  async put(key: string, body: ArtifactBody, options: PutOptions = {}): Promise<void> {
    validateKey(key);
    try {
      if (typeof body === "object" && "path" in body) {
        await uploadFile(this.client, body.path, {
          bucket: this.bucket,
          key,
          pool: this.#pool ??= new PartBufferPool(this.#partSize, this.#options.partBuffers ?? 4),
          queueSize: this.#options.queueSize ?? 4,
          ...(options.contentType ? { contentType: options.contentType } : {}),
          ...(options.sha256 ? { metadata: { sha256: options.sha256 } } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        });
        return;
      }
      const { Upload } = await import("@aws-sdk/lib-storage");
      const upload = new Upload({
        client: this.client,
        partSize: this.#partSize,
        queueSize: this.#options.queueSize ?? 4,
        leavePartsOnError: false,
        params: {
          Bucket: this.bucket,
          Key: key,
          Body: typeof body === "string" ? new TextEncoder().encode(body) : body,
          ...(options.contentType ? { ContentType: options.contentType } : {}),
          ...(options.sha256 ? { Metadata: { sha256: options.sha256 } } : {}),
        },
      });
      if (options.onProgress) {
        const onProgress = options.onProgress;
        upload.on("httpUploadProgress", (p) => onProgress(p.loaded ?? 0));
      }
      await upload.done();
    } catch (e) {
      throw new AphexError(`upload of ${this.uriFor(key)} failed: ${describe(e)}`, { cause: e });
    }
  }

  /** Streams an object. */
  async get(key: string): Promise<ReadableStream<Uint8Array>> {
    const { GetObjectCommand } = await this.#s3();
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!out.Body) throw new AphexError(`${this.uriFor(key)}: empty response body`);
      return out.Body.transformToWebStream() as ReadableStream<Uint8Array>;
    } catch (e) {
      if (isNotFound(e)) throw new AphexError(`${this.uriFor(key)} not found`);
      if (e instanceof AphexError) throw e;
      throw new AphexError(`download of ${this.uriFor(key)} failed: ${describe(e)}`, { cause: e });
    }
  }

  /** HEAD of an object: size and `x-amz-meta-sha256`. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    const { HeadObjectCommand } = await this.#s3();
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const sha256 = out.Metadata?.sha256;
      return { key, size: out.ContentLength ?? 0, ...(sha256 ? { sha256 } : {}) };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new AphexError(`HEAD ${this.uriFor(key)} failed: ${describe(e)}`, { cause: e });
    }
  }

  /** Whether an object exists. */
  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  /** Lists objects under a prefix (all pages). */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const { ListObjectsV2Command } = await this.#s3();
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
        );
      } catch (e) {
        throw new AphexError(`listing ${this.uriFor(prefix)} failed: ${describe(e)}`, { cause: e });
      }
      for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Deletes an object. */
  async delete(key: string): Promise<void> {
    const { DeleteObjectCommand } = await this.#s3();
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      if (!isNotFound(e)) {
        throw new AphexError(`delete of ${this.uriFor(key)} failed: ${describe(e)}`, { cause: e });
      }
    }
  }

  /** Destroys the client's connection pool. */
  close(): void {
    this.client.destroy();
  }
}
