/**
 * The reviewed plan of a deployment in the artifact store (`<sha>/plans/<env>.json`): written by
 * the plan step, read back by the reviewed deploy, which executes exactly its change sets.
 * @module
 */
import { AphexError } from "../../models/errors.ts";
import type { EnvironmentPlan } from "../../models/plan.ts";
import { type ArtifactStore, planKey, readText } from "./artifact_store.ts";

/**
 * Reads the plan the plan step stored for this commit and environment (`<sha>/plans/<env>.json`).
 *
 * @throws {AphexError} exit 1 when it is missing, or made for another commit or environment.
 */
export async function readReviewedPlan(
  store: ArtifactStore,
  sha: string,
  target: { name: string; stacks: { name: string }[] },
): Promise<EnvironmentPlan> {
  const key = planKey(sha, target.name);
  if (!(await store.exists(key))) {
    throw new AphexError(
      `no plan for ${target.name} at ${
        store.uriFor(key)
      }: run \`aphex plan --env ${target.name}\` first`,
    );
  }
  const plan = JSON.parse(await readText(store, key)) as EnvironmentPlan;
  if (
    plan.commitSha !== sha || plan.environment !== target.name ||
    plan.stacks.length !== target.stacks.length
  ) {
    throw new AphexError(
      `the plan at ${store.uriFor(key)} is not a plan of ${target.name} at ${sha} with ` +
        `${target.stacks.length} stack(s); run the plan again`,
    );
  }
  return plan;
}
