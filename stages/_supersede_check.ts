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
import type { GitRemoteOptions } from "../adapters/git/checkout.ts";
import {
  createKubeClient,
  type KubeClient,
  loadKubeConfig,
} from "../adapters/kubernetes/client.ts";
import { runSummaryOf, supersedingCandidates } from "../models/run_order.ts";
import { AphexError } from "../models/errors.ts";
import { COMPONENT_LABEL, NAME_LABEL } from "../templates/labels.ts";

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
  /** How to fetch the other runs' commits (the checkout's remote, branch and token). */
  git?: GitRemoteOptions;
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

/** What {@linkcode supersedeCheckpoint} checks for. */
export interface CheckpointOptions {
  /** `pipeline.executionMode`; only `superseded` ever supersedes. */
  executionMode: string;
  /** Namespace of the pipeline's Workflows. */
  namespace: string;
  /** `pipeline.name`. */
  pipeline: string;
  /** This run's Workflow (`APHEX_WORKFLOW_NAME`); outside a workflow nothing is superseded. */
  workflow?: string;
  /** This run's branch (ref). */
  branch?: string;
  /** This run's commit. */
  sha: string;
  /** The stage's checkout. */
  workspace: string;
  /** How to fetch the other runs' commits. */
  repo: GitRemoteOptions;
  /** Kubernetes client (default: from the pod's service account, made on first use). */
  kube?: KubeClient;
  /** Environment of the Kubernetes client's configuration (`KUBECONFIG`…). */
  env: Record<string, string | undefined>;
  /** Progress messages. */
  log: (line: string) => void;
}

/**
 * The superseded check of a deploy, as a function called at each checkpoint ("reaching the
 * environment", "right before deploying"): resolves to the newer run when one supersedes this
 * one, else undefined. In `queued` mode, or outside a workflow (nothing to stop), it never
 * supersedes and never talks to Kubernetes.
 */
export function supersedeCheckpoint(
  options: CheckpointOptions,
): (when: string) => Promise<Superseder | undefined> {
  let kube = options.kube;
  return async (when) => {
    const workflow = options.workflow;
    if (options.executionMode !== "superseded" || !workflow) return undefined;
    const by = await findSuperseder({
      kube: kube ??= createKubeClient(
        await loadKubeConfig({ env: options.env, cwd: options.workspace }),
      ),
      namespace: options.namespace,
      pipeline: options.pipeline,
      workflow,
      ref: options.branch ?? "",
      sha: options.sha,
      workspace: options.workspace,
      git: options.repo,
      log: options.log,
    });
    if (!by) {
      options.log(`${when}: no newer commit of ${options.branch ?? "the branch"} is waiting`);
      return undefined;
    }
    options.log(
      `SUPERSEDED ${when}: commit ${by.sha} (run ${by.workflow}) is newer and waiting; ` +
        "this run stops here without deploying",
    );
    return by;
  };
}
