/**
 * `pipeline.executionMode: superseded`: the deploy stage's check, when a run reaches an
 * environment and again right before it deploys, whether a newer commit of the same branch has a
 * run waiting or running (Workflows listed with the pipeline's labels through the Kubernetes API;
 * "newer" by git ancestry: this run's commit is an ancestor of theirs), and the stop of this run
 * once it recorded itself as superseded (`spec.shutdown: Stop`, so the mutex is released and the
 * exit handler still reports). A helper of the deploy stage (not a stage of its own).
 * @module
 */
import { commitRelation } from "../adapters/git/ancestry.ts";
import type { GitRunner } from "../adapters/git/checkout.ts";
import type { KubeClient } from "../adapters/kubernetes/client.ts";
import { runSummaryOf, supersedingCandidates } from "../models/run_order.ts";
import { AphexError } from "../models/errors.ts";
import { COMPONENT_LABEL, NAME_LABEL } from "../templates/_common.ts";

/** The run that supersedes this one. */
export interface Superseder {
  /** Its commit. */
  sha: string;
  /** Its Workflow. */
  workflow: string;
}

/** Inputs of {@linkcode findSuperseder}. */
export interface SupersedeCheckOptions {
  /** Kubernetes client (needs `list` on workflows). */
  kube: KubeClient;
  /** Namespace of the pipeline's Workflows. */
  namespace: string;
  /** `pipeline.name` (the `app.kubernetes.io/name` label of its runs). */
  pipeline: string;
  /** This run's Workflow. */
  workflow: string;
  /** This run's ref (`refs/heads/main`). */
  ref: string;
  /** This run's commit. */
  sha: string;
  /** The stage's checkout (for git ancestry). */
  workspace: string;
  /** Repository options of the ancestry check. */
  git?: {
    repoUrl?: string;
    branch?: string;
    token?: string;
    allowFileUrls?: boolean;
    env?: Record<string, string | undefined>;
    git?: GitRunner;
  };
  /** Progress messages. */
  log?: (line: string) => void;
}

/**
 * The newest unfinished run of this branch whose commit descends from this run's commit, or
 * undefined. Runs whose commit is older or unrelated (a force-push) never supersede this one.
 */
export async function findSuperseder(
  options: SupersedeCheckOptions,
): Promise<Superseder | undefined> {
  if (!options.kube.list) throw new AphexError("the Kubernetes client cannot list objects");
  const objects = await options.kube.list(
    { apiVersion: "argoproj.io/v1alpha1", kind: "Workflow", namespace: options.namespace },
    { labelSelector: `${NAME_LABEL}=${options.pipeline},${COMPONENT_LABEL}=pipeline-run` },
  );
  const runs = objects.map(runSummaryOf).filter((r) => r !== undefined);
  const candidates = supersedingCandidates(runs, options);
  for (const run of candidates) {
    const { relation } = await commitRelation(options.workspace, {
      live: options.sha,
      candidate: run.sha,
    }, { ...options.git, ...(options.log ? { log: options.log } : {}) });
    if (relation === "newer") return { sha: run.sha, workflow: run.name };
    options.log?.(`run ${run.name} (${run.sha}) is ${relation} than this commit: not superseding`);
  }
  return undefined;
}

/**
 * Stops this run (`spec.shutdown: Stop`): Argo starts no further step, runs the exit handler, and
 * the run's mutex goes to the next waiting run. Called after the stage recorded itself.
 */
export async function stopRun(
  kube: KubeClient,
  run: { namespace: string; workflow: string },
): Promise<void> {
  if (!kube.mergePatch) throw new AphexError("the Kubernetes client cannot patch objects");
  await kube.mergePatch({
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Workflow",
    name: run.workflow,
    namespace: run.namespace,
  }, { spec: { shutdown: "Stop" } });
}
