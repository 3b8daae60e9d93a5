/**
 * Never older over newer: the deploy stage's check, before anything deploys, that the commit it
 * is about to deploy is not an ancestor of the commit live in the environment
 * (`envs/<env>/current.json`; the deploy records the new live commit there after it succeeded).
 * A helper of the deploy stage (not a stage of its own).
 * @module
 */
import { type CommitRelation, commitRelation } from "../adapters/git/ancestry.ts";
import { type CurrentDeployment, readCurrentDeployment } from "../adapters/store/current.ts";
import type { ArtifactStore } from "../adapters/store/artifact_store.ts";
import type { GitRemoteOptions } from "../adapters/git/checkout.ts";

/** The verdict of {@linkcode checkStaleDeploy}. */
export interface StaleVerdict {
  /** Whether the deploy goes ahead (false: the commit is older than the live one). */
  proceed: boolean;
  /** What is live in the environment (undefined: nothing recorded yet). */
  live?: CurrentDeployment;
  /** How the commit relates to the live one (`none` when nothing is live). */
  relation: CommitRelation | "none";
  /** One line saying what was decided and why. */
  message: string;
}

/** Inputs of {@linkcode checkStaleDeploy}. */
export interface StaleCheckOptions {
  /** Store holding `envs/<env>/current.json`. */
  store: ArtifactStore;
  /** The stage's checkout (at `sha`). */
  workspace: string;
  /** Commit about to deploy. */
  sha: string;
  /** How to fetch the live commit (the checkout's remote, branch and token). */
  repo: GitRemoteOptions;
  /** Progress messages. */
  log?: (line: string) => void;
}

/**
 * Decides whether deploying `sha` to `environment` may go ahead: yes when nothing is live, when
 * it is the live commit (a re-deploy), a descendant of it, or neither ancestor nor descendant (a
 * force-push: allowed and said so); no when it is an ancestor of the live commit (stale).
 */
export async function checkStaleDeploy(
  environment: string,
  options: StaleCheckOptions,
): Promise<StaleVerdict> {
  const live = await readCurrentDeployment(options.store, environment);
  if (!live) {
    return {
      proceed: true,
      relation: "none",
      message: `no deploy of ${environment} recorded yet; deploying ${options.sha}`,
    };
  }
  const { relation, note } = await commitRelation(options.workspace, {
    live: live.sha,
    candidate: options.sha,
  }, { ...options.repo, ...(options.log ? { log: options.log } : {}) });
  const by = `${live.sha} (deployed ${live.time.toISOString()}${
    live.workflow ? ` by ${live.workflow}` : ""
  })`;
  switch (relation) {
    case "same":
      return {
        proceed: true,
        live,
        relation,
        message: `${options.sha} is already live; re-deploying`,
      };
    case "newer":
      return {
        proceed: true,
        live,
        relation,
        message: `${options.sha} is newer than the live ${by}; deploying`,
      };
    case "diverged":
      return {
        proceed: true,
        live,
        relation,
        message:
          `FORCE-PUSH: ${options.sha} is neither an ancestor nor a descendant of the live ${by}` +
          `${note ? ` — ${note}` : ""}; deploying it anyway`,
      };
    case "older":
      return {
        proceed: false,
        live,
        relation,
        message: `STALE: ${options.sha} is an ancestor of the live ${by}; not deploying an older ` +
          `commit over a newer one (nothing was deployed to ${environment})`,
      };
  }
}
