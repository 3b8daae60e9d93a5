/**
 * The artifact store every stage shares, with two implementations: S3 (production) and a local
 * directory (`.aphex/store/`, local runs and tests). Layout (DESIGN.md):
 *
 * ```
 * <sha>/artifacts/...   build artifacts, each carrying its SHA-256
 * <sha>/metadata.json   ArtifactMetadata[] + BuildResult, written last
 * <sha>/logs/<stage>.log
 * ```
 *
 * The S3 implementation loads the AWS SDK lazily (only when an S3 store is opened).
 * @module
 */
import { dirname, join, resolve } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  array,
  type Codec,
  fromJsonText,
  object,
  string,
  toJsonText,
} from "../../models/_codec.ts";
import { AphexError } from "../../models/errors.ts";
import { type ArtifactMetadata, ArtifactMetadataCodec } from "../../models/metadata.ts";
import { type BuildResult, BuildResultCodec } from "../../models/results.ts";
import type { AwsClientOptions } from "../aws/clients.ts";
import { sha256Stream } from "./hash.ts";
import { PartBufferPool, uploadFile } from "./multipart.ts";

/** Content to store: bytes, text, or a file streamed from disk. */
export type ArtifactBody = Uint8Array | string | { path: string };

/** Options of {@linkcode ArtifactStore.put}. */
export interface PutOptions {
  /** Lowercase hex SHA-256 of the content, stored with the object (`x-amz-meta-sha256` on S3). */
  sha256?: string;
  /** MIME type. */
  contentType?: string;
  /** Upload progress: bytes sent so far. */
  onProgress?: (loaded: number) => void;
}

/** One stored object. */
export interface ObjectInfo {
  /** Key inside the store. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** SHA-256 stored with the object, when the store keeps it. */
  sha256?: string;
}

/** Where artifacts and run records live. */
export interface ArtifactStore {
  /** Human-readable location, e.g. `s3://bucket` or `/workspace/.aphex/store`. */
  readonly location: string;
  /** URI of a key, e.g. `s3://bucket/<key>`. */
  uriFor(key: string): string;
  /** Stores content under a key (replacing it). */
  put(key: string, body: ArtifactBody, options?: PutOptions): Promise<void>;
  /** Streams an object's content; AphexError when missing. */
  get(key: string): Promise<ReadableStream<Uint8Array>>;
  /** Size and stored SHA-256 of an object, or undefined when missing. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Whether an object exists. */
  exists(key: string): Promise<boolean>;
  /** Objects whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Deletes an object (no error when missing). */
  delete(key: string): Promise<void>;
  /** Releases network resources. */
  close(): void;
}

/** Throws unless `key` is a safe relative key (no empty, `.` or `..` segments, no NUL or `\`). */
export function validateKey(key: string): string {
  const segments = key.split("/");
  if (
    key.length === 0 || key.length > 1024 || key.includes("\u0000") || key.includes("\\") ||
    segments.some((s) => s === "" || s === "." || s === "..") || segments[0] === ".tmp"
  ) {
    throw new AphexError(`invalid artifact store key ${JSON.stringify(key.slice(0, 200))}`);
  }
  return key;
}

/** Key of an artifact: `<sha>/artifacts/<relative path>`. */
export function artifactKey(commitSha: string, relPath: string): string {
  return validateKey(`${commitSha}/artifacts/${relPath}`);
}

/** Key of the build metadata document: `<sha>/metadata.json`. */
export function metadataKey(commitSha: string): string {
  return `${commitSha}/metadata.json`;
}

/** Key of a stage's log: `<sha>/logs/<stage>.log`. */
export function logKey(commitSha: string, stage: string): string {
  return validateKey(`${commitSha}/logs/${stage}.log`);
}

/** Key of an environment's stack outputs (`{stackName: {key: value}}`): `<sha>/outputs/<env>.json`. */
export function outputsKey(commitSha: string, environment: string): string {
  return validateKey(`${commitSha}/outputs/${environment}.json`);
}

/** Key of an environment's deployment plan (issue 14): `<sha>/plans/<env>.json`. */
export function planKey(commitSha: string, environment: string): string {
  return validateKey(`${commitSha}/plans/${environment}.json`);
}

/** Contents of `<sha>/metadata.json`. */
export interface BuildMetadataDocument {
  /** Commit the build ran on. */
  commitSha: string;
  /** One entry per stored artifact. */
  artifacts: ArtifactMetadata[];
  /** The build's result. */
  build: BuildResult;
}

/** JSON codec of {@linkcode BuildMetadataDocument}. */
export const BuildMetadataDocumentCodec: Codec<BuildMetadataDocument> = object<
  BuildMetadataDocument
>({
  commitSha: string,
  artifacts: array(ArtifactMetadataCodec),
  build: BuildResultCodec,
});

/** Reads a whole (small) object as text. */
export async function readText(store: ArtifactStore, key: string): Promise<string> {
  return await new Response(await store.get(key)).text();
}

/** Reads and decodes `<sha>/metadata.json`; AphexError when missing or invalid. */
export async function readBuildMetadata(
  store: ArtifactStore,
  commitSha: string,
): Promise<BuildMetadataDocument> {
  const key = metadataKey(commitSha);
  if (!(await store.exists(key))) {
    throw new AphexError(
      `${
        store.uriFor(key)
      } not found: commit ${commitSha} has no complete build in ${store.location}`,
    );
  }
  return fromJsonText(BuildMetadataDocumentCodec, await readText(store, key), store.uriFor(key));
}

/** Serializes the metadata document (pretty JSON). */
export function encodeBuildMetadata(doc: BuildMetadataDocument): string {
  return toJsonText(BuildMetadataDocumentCodec, doc, true) + "\n";
}

// ---------------------------------------------------------------------------------------------
// Local directory store

/** A store in a local directory; writes are atomic (temp file + rename). */
export class LocalArtifactStore implements ArtifactStore {
  /** Absolute root directory. */
  readonly root: string;

  /** Opens (lazily creates) a store rooted at `root`. */
  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The root directory. */
  get location(): string {
    return this.root;
  }

  /** `file://` URI of a key. */
  uriFor(key: string): string {
    return `file://${join(this.root, validateKey(key))}`;
  }

  #path(key: string): string {
    return join(this.root, validateKey(key));
  }

  /** Stores content atomically. */
  async put(key: string, body: ArtifactBody, options: PutOptions = {}): Promise<void> {
    const target = this.#path(key);
    const tmpDir = join(this.root, ".tmp");
    await Deno.mkdir(tmpDir, { recursive: true });
    await Deno.mkdir(dirname(target), { recursive: true });
    const tmp = join(tmpDir, crypto.randomUUID());
    try {
      if (typeof body === "string" || body instanceof Uint8Array) {
        await Deno.writeFile(tmp, typeof body === "string" ? new TextEncoder().encode(body) : body);
      } else {
        await Deno.copyFile(body.path, tmp);
      }
      await Deno.rename(tmp, target);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw new AphexError(
        `cannot store ${this.uriFor(key)}: ${e instanceof Error ? e.message : e}`,
      );
    }
    if (options.onProgress) options.onProgress((await Deno.stat(target)).size);
  }

  /** Streams a stored file. */
  async get(key: string): Promise<ReadableStream<Uint8Array>> {
    try {
      return (await Deno.open(this.#path(key), { read: true })).readable;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new AphexError(`${this.uriFor(key)} not found`);
      throw e;
    }
  }

  /** Size of a stored file (the local store keeps no per-object checksum). */
  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const stat = await Deno.stat(this.#path(key));
      return stat.isFile ? { key, size: stat.size } : undefined;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  /** Whether a file exists under the key. */
  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  /** Lists stored files under a prefix. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await Array.fromAsync(Deno.readDir(dir));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return;
        throw e;
      }
      for (const entry of entries) {
        const key = rel ? `${rel}/${entry.name}` : entry.name;
        if (!rel && entry.name === ".tmp") continue;
        if (entry.isDirectory) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) {
            await walk(join(dir, entry.name), key);
          }
        } else if (entry.isFile && key.startsWith(prefix)) {
          out.push({ key, size: (await Deno.stat(join(dir, entry.name))).size });
        }
      }
    };
    await walk(this.root, "");
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Deletes a stored file. */
  async delete(key: string): Promise<void> {
    await Deno.remove(this.#path(key)).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }

  /** Nothing to release. */
  close(): void {}
}

// ---------------------------------------------------------------------------------------------
// S3 store

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

/** Options of {@linkcode openArtifactStore}. */
export interface OpenStoreOptions {
  /** S3 bucket; unset means the local store. */
  bucket?: string;
  /** Root of the local store (used when no bucket is set). */
  localRoot: string;
  /** S3 client settings (env, endpoint, credentials…). */
  aws?: AwsClientOptions;
  /** Multipart settings. */
  s3?: S3StoreOptions;
}

/** Opens the S3 store for a bucket, or the local store when no bucket is configured. */
export async function openArtifactStore(options: OpenStoreOptions): Promise<ArtifactStore> {
  if (!options.bucket) return new LocalArtifactStore(options.localRoot);
  const { createS3Client } = await import("../aws/clients.ts");
  return new S3ArtifactStore(await createS3Client(options.aws ?? {}), options.bucket, options.s3);
}

// ---------------------------------------------------------------------------------------------
// Verification

/** One verification failure. */
export interface VerifyProblem {
  /** Artifact path relative to the artifacts directory. */
  path: string;
  /** What is wrong. */
  problem: string;
}

/** Outcome of {@linkcode verifyArtifacts}. */
export interface VerifyReport {
  /** Commit verified. */
  commitSha: string;
  /** Number of artifacts checked. */
  checked: number;
  /** Failures (empty when everything matches). */
  problems: VerifyProblem[];
}

/** Relative artifact path of a metadata entry (from its store URI). */
export function artifactPathOf(meta: ArtifactMetadata): string {
  const marker = `/${meta.commitSha}/artifacts/`;
  const at = meta.s3Path.indexOf(marker);
  if (at < 0) throw new AphexError(`metadata entry ${meta.s3Path} is not under ${marker}`);
  return meta.s3Path.slice(at + marker.length);
}

/**
 * Downloads every artifact listed in `<sha>/metadata.json` and re-hashes it (streaming), comparing
 * SHA-256 and size with the metadata.
 */
export async function verifyArtifacts(
  store: ArtifactStore,
  commitSha: string,
  options: { concurrency?: number; onFile?: (path: string, ok: boolean) => void } = {},
): Promise<VerifyReport> {
  const doc = await readBuildMetadata(store, commitSha);
  const problems: VerifyProblem[] = [];
  const queue = [...doc.artifacts];
  const worker = async () => {
    for (let meta = queue.shift(); meta; meta = queue.shift()) {
      const path = artifactPathOf(meta);
      let problem: string | undefined;
      try {
        const digest = await sha256Stream(await store.get(artifactKey(commitSha, path)));
        if (digest.sha256 !== meta.checksum) {
          problem = `SHA-256 mismatch: expected ${meta.checksum}, got ${digest.sha256}`;
        } else if (digest.size !== meta.sizeBytes) {
          problem = `size mismatch: expected ${meta.sizeBytes} bytes, got ${digest.size}`;
        }
      } catch (e) {
        problem = e instanceof Error ? e.message : String(e);
      }
      if (problem) problems.push({ path, problem });
      options.onFile?.(path, problem === undefined);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { commitSha, checked: doc.artifacts.length, problems };
}
