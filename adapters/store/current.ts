/**
 * The commit live in each environment: `envs/<env>/current.json` (`{sha, time, workflow}`),
 * written after a successful deploy and read before the next one (stale-deploy refusal).
 *
 * Atomicity: the local store writes a temporary file and renames it over the key (atomic on one
 * file system); on S3 a PutObject replaces the whole object at once — readers see either the old
 * or the new document, never a mix, and S3 is strongly read-after-write consistent. Writers of one
 * environment are serialized by the pipeline's mutex, so last-writer-wins is the deploy order.
 * @module
 */
import {
  type Codec,
  date,
  fromJsonText,
  nullable,
  object,
  string,
  toJsonText,
} from "../../models/_codec.ts";
import { COMMIT_SHA_PATTERN } from "../../models/event.ts";
import { AphexError } from "../../models/errors.ts";
import { type ArtifactStore, readText, validateKey } from "./artifact_store.ts";

/** What is live in an environment. */
export interface CurrentDeployment {
  /** Commit deployed last (successfully). */
  sha: string;
  /** When that deploy finished. */
  time: Date;
  /** Workflow that deployed it (null outside a workflow, e.g. a laptop). */
  workflow: string | null;
}

/** JSON codec of {@linkcode CurrentDeployment}. */
export const CurrentDeploymentCodec: Codec<CurrentDeployment> = object<CurrentDeployment>({
  sha: string,
  time: date,
  workflow: nullable(string),
});

/** Key of an environment's live-commit record: `envs/<env>/current.json`. */
export function currentKey(environment: string): string {
  return validateKey(`envs/${environment}/current.json`);
}

/** Reads what is live in `environment`, or undefined when nothing was deployed by Aphex yet. */
export async function readCurrentDeployment(
  store: ArtifactStore,
  environment: string,
): Promise<CurrentDeployment | undefined> {
  const key = currentKey(environment);
  if (!(await store.exists(key))) return undefined;
  const doc = fromJsonText(CurrentDeploymentCodec, await readText(store, key), store.uriFor(key));
  if (!COMMIT_SHA_PATTERN.test(doc.sha)) {
    throw new AphexError(
      `${store.uriFor(key)}: sha ${JSON.stringify(doc.sha)} is not a commit SHA`,
    );
  }
  return doc;
}

/** Records `current` as live in `environment` (one atomic object write, see the module doc). */
export async function writeCurrentDeployment(
  store: ArtifactStore,
  environment: string,
  current: CurrentDeployment,
): Promise<string> {
  const key = currentKey(environment);
  await store.put(key, toJsonText(CurrentDeploymentCodec, current, true) + "\n", {
    contentType: "application/json",
  });
  return store.uriFor(key);
}
