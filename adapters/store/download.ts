/**
 * The build's artifacts downloaded for a stage that acts on an environment (deploy, plan): every
 * file listed in `<sha>/metadata.json`, hashed while written and kept only when its SHA-256 and size
 * match, written only below the directory the stage created fresh (the workspace boundary).
 * @module
 */
import { resolve } from "node:path";
import { AphexError, describeError } from "../../models/errors.ts";
import { artifactKey, type ArtifactStore, metadataKey } from "./artifact_store.ts";
import { artifactPathOf, readBuildMetadata } from "./artifacts.ts";
import { prepareDownloadTarget } from "../workspace/boundary.ts";
import { sha256Stream } from "./hash.ts";

/**
 * Downloads every artifact listed in `<sha>/metadata.json` into `destDir`, hashing while writing;
 * a file whose SHA-256 or size differs from the metadata is not kept. Returns the problems.
 *
 * @throws {AphexError} exit 1 "no complete build" when metadata.json is missing.
 */
export async function downloadArtifacts(
  store: ArtifactStore,
  commitSha: string,
  destDir: string,
  options: { concurrency?: number } = {},
): Promise<{ count: number; problems: string[] }> {
  if (!(await store.exists(metadataKey(commitSha)))) {
    throw new AphexError(
      `no complete build for ${commitSha}: ${
        store.uriFor(metadataKey(commitSha))
      } not found (the build stage publishes it last; run or re-run the build first)`,
    );
  }
  const doc = await readBuildMetadata(store, commitSha);
  const root = resolve(destDir);
  const problems: string[] = [];
  const queue = [...doc.artifacts];
  const worker = async () => {
    for (let meta = queue.shift(); meta; meta = queue.shift()) {
      let rel = meta.s3Path;
      try {
        rel = artifactPathOf(meta);
        // Workspace boundary (adapters/workspace/boundary.ts): segment-checked path, no link on the way.
        const target = await prepareDownloadTarget(root, rel);
        const tmp = `${target}.aphex-${crypto.randomUUID()}.part`;
        try {
          const [forHash, forFile] = (await store.get(artifactKey(commitSha, rel))).tee();
          const file = await Deno.open(tmp, { write: true, createNew: true });
          const [digest] = await Promise.all([
            sha256Stream(forHash),
            forFile.pipeTo(file.writable),
          ]);
          if (digest.sha256 !== meta.checksum) {
            throw new Error(`SHA-256 mismatch: expected ${meta.checksum}, got ${digest.sha256}`);
          }
          if (digest.size !== meta.sizeBytes) {
            throw new Error(`size mismatch: expected ${meta.sizeBytes} bytes, got ${digest.size}`);
          }
          await Deno.rename(tmp, target);
        } finally {
          await Deno.remove(tmp).catch(() => {});
        }
      } catch (e) {
        problems.push(`${rel}: ${describeError(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  return { count: doc.artifacts.length, problems: problems.sort() };
}
