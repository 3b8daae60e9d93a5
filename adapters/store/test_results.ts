/**
 * The test stage's documents in the artifact store:
 *
 * - `<sha>/outputs/<env>.json`: the environment's stack outputs, written by the deploy stage
 *   (even when the stacks have no outputs) and read back by the tests;
 * - `<sha>/tests/<env>/result.json`: the results of an environment's test commands;
 * - `<sha>/tests/<env>/<n>.log`: the log of test command `n` (1-based).
 * @module
 */
import { type Codec, fromJsonText, record, string } from "../../models/_codec.ts";
import { AphexError } from "../../models/errors.ts";
import { type ArtifactStore, outputsKey, readText, validateKey } from "./artifact_store.ts";

/** Stack outputs of one environment: stack name → output key → value. */
export type StackOutputs = Record<string, Record<string, string>>;

/** JSON codec of {@linkcode StackOutputs} (`<sha>/outputs/<env>.json`). */
export const StackOutputsCodec: Codec<StackOutputs> = record(record(string));

/** Key of an environment's test results: `<sha>/tests/<env>/result.json`. */
export function testResultKey(commitSha: string, environment: string): string {
  return validateKey(`${commitSha}/tests/${environment}/result.json`);
}

/** Key of the log of test command `n` (1-based): `<sha>/tests/<env>/<n>.log`. */
export function testLogKey(commitSha: string, environment: string, n: number): string {
  return validateKey(`${commitSha}/tests/${environment}/${n}.log`);
}

/** Writes `<sha>/outputs/<env>.json` (the deploy stage, whenever a stack was attempted); its URI. */
export async function writeStackOutputs(
  store: ArtifactStore,
  commitSha: string,
  environment: string,
  outputs: StackOutputs,
): Promise<string> {
  const key = outputsKey(commitSha, environment);
  await store.put(key, JSON.stringify(outputs, null, 2) + "\n", {
    contentType: "application/json",
  });
  return store.uriFor(key);
}

/** Reads and validates `<sha>/outputs/<env>.json`; exit-1 error when deploy did not write it. */
export async function readStackOutputs(
  store: ArtifactStore,
  commitSha: string,
  environment: string,
): Promise<StackOutputs> {
  const key = outputsKey(commitSha, environment);
  if (!(await store.exists(key))) {
    throw new AphexError(
      `${store.uriFor(key)} not found: no deployment of ${environment} was recorded for commit ` +
        `${commitSha} (the deploy stage writes it, even when the stacks have no outputs); ` +
        `run aphex deploy --env ${environment} first`,
    );
  }
  return fromJsonText(StackOutputsCodec, await readText(store, key), store.uriFor(key));
}
