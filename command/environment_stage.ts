/**
 * Where every stage that acts on one environment starts (deploy, plan): the commit checked out,
 * its configuration, the environment, the build's artifacts directory created fresh, and the
 * artifact store opened — plus the repository access that later fetches reuse.
 * @module
 */
import type { AphexConfig, EnvironmentConfig } from "../models/config.ts";
import type { GitRemoteOptions } from "../adapters/git/checkout.ts";
import type { ArtifactStore } from "../adapters/store/artifact_store.ts";
import { openArtifactStore } from "../adapters/store/artifacts.ts";
import { freshArtifactsDir } from "../adapters/workspace/boundary.ts";
import {
  checkoutStage,
  repoAccess,
  resolveBucket,
  selectEnvironment,
  type StageDeps,
  type StageInputs,
} from "./stage_runtime.ts";

/** A stage opened on one environment (see {@linkcode openEnvironmentStage}). */
export interface EnvironmentStage {
  /** The configuration of the checked-out commit. */
  config: AphexConfig;
  /** The environment the stage acts on. */
  target: EnvironmentConfig;
  /** `build.artifacts` in the workspace, created empty by the stage. */
  artifactsDir: string;
  /** The artifact store (the injected one, or opened from the inputs and the configuration). */
  store: ArtifactStore;
  /** How the stage reaches its repository (the checkout's remote, branch and token). */
  repo: GitRemoteOptions;
  /** Closes the store when the stage opened it. */
  close(): void;
}

/**
 * Checks out the stage's commit, loads its configuration, selects the environment (`--env`),
 * creates `build.artifacts` fresh and opens the artifact store.
 *
 * @throws {AphexError} exit 2 for a missing or unknown environment, an invalid configuration or
 * artifacts setting; exit 1 when the checkout fails.
 */
export async function openEnvironmentStage(
  inputs: StageInputs & { environment?: string },
  deps: StageDeps,
): Promise<EnvironmentStage> {
  const config = await checkoutStage(inputs, deps);
  // Later fetches (stale and superseded checks) reach the repository as the checked-out commit's
  // configuration says.
  const repo = await repoAccess(inputs, { ...deps, config });
  const target = selectEnvironment(config, inputs.environment);
  const bucket = resolveBucket(inputs, config);
  // Workspace boundary (adapters/workspace/boundary.ts): artifacts are downloaded only into a
  // directory the stage creates fresh, so a committed link (`dist/sub -> /elsewhere`) is never
  // written through.
  const artifactsDir = await freshArtifactsDir(inputs.workspace, config.build.artifacts, {
    storeDir: inputs.storeDir,
  });
  const store = deps.store ?? await openArtifactStore({
    localRoot: inputs.storeDir,
    ...(bucket ? { bucket } : {}),
    aws: { env: deps.env, ...deps.aws },
  });
  return {
    config,
    target,
    artifactsDir,
    store,
    repo,
    close: () => {
      if (!deps.store) store.close();
    },
  };
}
