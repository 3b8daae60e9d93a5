/**
 * The artifact store contract every stage shares: the {@linkcode ArtifactStore} interface that
 * both implementations satisfy (S3, `./s3_store.ts`; a local directory, `./local_store.ts`), key
 * validation, and the key layout (DESIGN.md):
 *
 * ```
 * <sha>/artifacts/...       build artifacts, each carrying its SHA-256
 * <sha>/metadata.json       ArtifactMetadata[] + BuildResult, written last
 * <sha>/logs/<stage>.log
 * <sha>/outputs/<env>.json  stack outputs of an environment
 * <sha>/plans/<env>.json    deployment plan of an environment
 * ```
 * @module
 */
import { AphexError } from "../../models/errors.ts";

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

/** Reads a whole (small) object as text. */
export async function readText(store: ArtifactStore, key: string): Promise<string> {
  return await new Response(await store.get(key)).text();
}
