/**
 * Opening the artifact store (S3 when a bucket is configured, else a local directory) and the
 * build's artifacts in it: the `<sha>/metadata.json` document and the verification of every
 * stored artifact against it.
 *
 * The store contract and key layout are `./artifact_store.ts`; the implementations
 * `./local_store.ts` and `./s3_store.ts`.
 * @module
 */
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
import { artifactKey, type ArtifactStore, metadataKey, readText } from "./artifact_store.ts";
import { sha256Stream } from "./hash.ts";
import { LocalArtifactStore } from "./local_store.ts";
import { S3ArtifactStore, type S3StoreOptions } from "./s3_store.ts";

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
