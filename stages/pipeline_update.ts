/**
 * The self-update stage (`aphex pipeline-update`, also `deno run -A stages/pipeline_update.ts`):
 *
 * 1. check out the exact commit;
 * 2. regenerate the WorkflowTemplates, EventSource and Sensor from the commit's configuration
 *    (and load the cluster configuration), so configuration errors stop the stage early;
 * 3. deploy `pipeline.pipelineStack` just-in-time with the CDK helpers, if configured
 *    ("no changes" is success; `adapters/cdk/pipeline_stack.ts`);
 * 4. read the live objects, print a readable diff, and apply the changed ones with server-side
 *    apply (field manager `aphex`, no force unless `--force-conflicts`); unchanged objects are
 *    not written at all;
 * 5. when the topology hash of the template this run started from differs from the new one,
 *    submit a new Workflow for the same commit from the updated template (deterministic name, so
 *    a retry gets AlreadyExists instead of a duplicate; `templates/superseding_workflow.ts`) and
 *    end successfully as "superseded".
 *
 * The RBAC objects are deliberately not applied here: a pipeline that could rewrite its own Role
 * could grant itself anything. `aphex apply` (run by an admin) installs them.
 *
 * Argo output parameters (files in `--outputs-dir`): `superseded` (`true`/`false`),
 * `superseded-by` (Workflow name or empty), `topology-hash`, `changed` (objects written). Later
 * DAG tasks skip a superseded run with
 * `when: "{{tasks.pipeline-update.outputs.parameters.superseded}} != true"`.
 *
 * The topology hash of the template the running Workflow started from is taken, in order, from
 * `APHEX_TOPOLOGY_HASH` (a literal the template passes to this step: frozen with the run's stored
 * template spec, so it survives step retries), the running Workflow's `aphex.dev/topology-hash`
 * annotation (set on resubmitted runs), or the live WorkflowTemplate read before applying.
 * @module
 */
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import type { AphexConfig } from "../models/config.ts";
import { AphexError, ExitCode, usageError } from "../models/errors.ts";
import { generateManifests } from "../templates/generate.ts";
import type { Manifest } from "../templates/types.ts";
import {
  COMMIT_LABEL,
  RESUBMITTED_LABEL,
  supersedingWorkflow,
  workflowParameter,
} from "../templates/superseding_workflow.ts";
import {
  COMMIT_SHA_PARAMETER,
  REF_PARAMETER,
  TOPOLOGY_HASH_ANNOTATION,
} from "../templates/workflow_template.ts";
import {
  deployPipelineStackWithCdk,
  type PipelineStackDeployer,
} from "../adapters/cdk/pipeline_stack.ts";
import { spec } from "./pipeline_update_spec.ts";
import { makeRedactor, secretValuesFromEnv } from "../adapters/process/exec.ts";
import {
  applyPlans,
  createIfAbsent,
  type ObjectPlan,
  planObjects,
  renderPlans,
} from "../adapters/kubernetes/apply.ts";
import {
  createKubeClient,
  describeRef,
  type KubeClient,
  type KubeObject,
  loadKubeConfig,
} from "../adapters/kubernetes/client.ts";
import {
  checkoutStage,
  loadStageConfig,
  resolveStageInputs,
  type StageDeps,
  type StageInputs,
  withStageRecording,
  withTerminationSignal,
  writeOutputs,
} from "../command/stage_runtime.ts";

/** Generated files the pipeline applies to itself (RBAC is left to `aphex apply`). */
export const SELF_APPLIED_KINDS: readonly string[] = ["WorkflowTemplate", "EventSource", "Sensor"];

/** Inputs of {@linkcode runPipelineUpdate}. */
export interface PipelineUpdateInputs extends Omit<StageInputs, "commitSha"> {
  /** Commit to check out; without it (dry runs only) the workspace is used as it is. */
  commitSha?: string;
  /** Print the diff, write nothing (no apply, no Workflow, no CDK deploy, no outputs). */
  dryRun: boolean;
  /** Server-side apply with `force=true` (take over fields other managers own). */
  forceConflicts: boolean;
  /** Name of the running Workflow (`APHEX_WORKFLOW_NAME`). */
  workflowName?: string;
  /** Topology hash of the template this run started from (`APHEX_TOPOLOGY_HASH`), if known. */
  runningTopologyHash?: string;
}

/** Injected dependencies of {@linkcode runPipelineUpdate}. */
export interface PipelineUpdateDeps
  extends Pick<StageDeps, "env" | "log" | "git" | "allowFileUrls"> {
  /** Working directory (relative `--kubeconfig`). */
  cwd: string;
  /** Data sink (stdout): the plan and the diff. */
  out: (text: string) => void;
  /** Kubernetes client; default: {@linkcode createKubeClient} from {@linkcode loadKubeConfig}. */
  kube?: KubeClient;
  /** Explicit kubeconfig file (`--kubeconfig`). */
  kubeconfig?: string;
  /** Pipeline stack deployer (default {@linkcode deployPipelineStackWithCdk}). */
  deployPipelineStack?: PipelineStackDeployer;
}

/** Where the running template's topology hash came from. */
export type HashSource = "parameter" | "workflow" | "live-template" | "none";

/** What {@linkcode runPipelineUpdate} did. */
export interface PipelineUpdateOutcome {
  /** 0 ok (also when superseded); failures throw. */
  exitCode: number;
  /** Whether nothing was written. */
  dryRun: boolean;
  /** Plan of every self-applied object. */
  plans: ObjectPlan[];
  /** Objects written (create or update), as `Kind namespace/name`. */
  applied: string[];
  /** Topology hash of the regenerated template. */
  topologyHash: string;
  /** Topology hash of the template the running Workflow started from, if known. */
  runningTopologyHash?: string;
  /** Where `runningTopologyHash` came from. */
  hashSource: HashSource;
  /** Whether this run ends here because a new Workflow takes over. */
  superseded: boolean;
  /** The Workflow that takes over. */
  supersededBy?: string;
  /** Whether this run created it (false: an earlier attempt already had). */
  submitted?: boolean;
  /** Why a topology change did not resubmit (loop guard), if so. */
  guard?: string;
  /** The pipeline stack deployment, if one is configured and this was not a dry run. */
  pipelineStack?: { stackName: string; noChanges: boolean };
}

/** The pipeline WorkflowTemplate among generated manifests. */
function pipelineTemplate(config: AphexConfig, objects: readonly KubeObject[]): KubeObject {
  const found =
    objects.find((o) =>
      o.kind === "WorkflowTemplate" && o.metadata.name === config.pipeline.name
    ) ?? objects.find((o) => o.kind === "WorkflowTemplate");
  if (!found) throw new AphexError("the generator produced no WorkflowTemplate");
  return found;
}

/**
 * Runs the self-update stage (see the module documentation). Failures throw an
 * {@linkcode AphexError}: exit 2 for configuration problems, exit 1 for a failed checkout,
 * deployment, API call or apply (the API server's message included; objects not yet applied are
 * left as they were).
 */
export async function runPipelineUpdate(
  inputs: PipelineUpdateInputs,
  deps: PipelineUpdateDeps,
): Promise<PipelineUpdateOutcome> {
  const redact = makeRedactor(secretValuesFromEnv(deps.env));
  const log = (line: string) => deps.log(redact(`[pipeline-update] ${line}`));

  // 1. checkout
  let config;
  if (inputs.commitSha !== undefined) {
    config = await checkoutStage({ ...inputs, commitSha: inputs.commitSha }, { ...deps, log });
  } else if (inputs.dryRun) {
    log(`no commit given: using the workspace ${inputs.workspace} as it is`);
    config = await loadStageConfig(inputs);
  } else {
    throw usageError("--commit-sha (or APHEX_COMMIT_SHA) is required unless --dry-run is given");
  }

  // 2. regenerate (configuration problems surface before anything is deployed)
  const generated = generateManifests(config).flatMap((f) => f.documents) as KubeObject[];
  const desired = generated.filter((o) => SELF_APPLIED_KINDS.includes(o.kind));
  const skipped = generated.length - desired.length;
  if (skipped > 0) {
    log(
      `${skipped} RBAC object(s) are not applied by the pipeline (it must not grant itself ` +
        "permissions); an admin applies rbac.yaml with `aphex apply`",
    );
  }
  const template = pipelineTemplate(config, desired);
  const newHash = template.metadata.annotations?.[TOPOLOGY_HASH_ANNOTATION] ?? "";

  // 3. the cluster's configuration (a missing kubeconfig is reported before any deployment)
  const kube = deps.kube ?? createKubeClient(
    await loadKubeConfig({
      ...(deps.kubeconfig ? { kubeconfig: deps.kubeconfig } : {}),
      env: deps.env,
      cwd: deps.cwd,
    }),
  );
  // 4. the pipeline's own CDK stack
  let pipelineStack: PipelineUpdateOutcome["pipelineStack"];
  const stack = config.pipeline.pipelineStack;
  if (stack !== undefined) {
    if (inputs.dryRun) {
      log(`dry run: pipeline stack ${stack.name} would be synthesized and deployed`);
    } else {
      log(`deploying the pipeline stack ${stack.name} (${stack.path})`);
      const deploy = deps.deployPipelineStack ?? deployPipelineStackWithCdk;
      pipelineStack = await deploy({ workspace: inputs.workspace, stack, env: deps.env, log });
      log(
        `pipeline stack ${pipelineStack.stackName}: ${
          pipelineStack.noChanges ? "no changes" : "deployed"
        }`,
      );
    }
  }

  // 5. live state, diff
  let running: KubeObject | undefined;
  if (inputs.workflowName) {
    running = await kube.get({
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Workflow",
      name: inputs.workflowName,
      namespace: config.pipeline.namespace,
    });
    if (!running) {
      log(`warning: the running Workflow ${inputs.workflowName} was not found`);
    }
  }
  const plans = await planObjects(kube, desired);
  deps.out(renderPlans(plans));

  // The topology hash of the template this run started from (before anything is applied).
  let runningHash: string | undefined;
  let hashSource: HashSource = "none";
  const liveTemplate = plans.find((p) =>
    p.ref.kind === "WorkflowTemplate" && p.ref.name === template.metadata.name
  )?.live;
  const fromWorkflow = running?.metadata.annotations?.[TOPOLOGY_HASH_ANNOTATION];
  if (inputs.runningTopologyHash) {
    runningHash = inputs.runningTopologyHash;
    hashSource = "parameter";
  } else if (fromWorkflow) {
    runningHash = fromWorkflow;
    hashSource = "workflow";
  } else if (
    inputs.workflowName && liveTemplate?.metadata.annotations?.[TOPOLOGY_HASH_ANNOTATION]
  ) {
    runningHash = liveTemplate.metadata.annotations[TOPOLOGY_HASH_ANNOTATION];
    hashSource = "live-template";
  }

  const changed = plans.filter((p) => p.action !== "unchanged");
  const outcome: PipelineUpdateOutcome = {
    exitCode: ExitCode.Ok,
    dryRun: inputs.dryRun,
    plans,
    applied: [],
    topologyHash: newHash,
    ...(runningHash ? { runningTopologyHash: runningHash } : {}),
    hashSource,
    superseded: false,
    ...(pipelineStack ? { pipelineStack } : {}),
  };
  if (inputs.dryRun) {
    log(
      `dry run: ${changed.length} of ${plans.length} object(s) would change; nothing was written`,
    );
    if (runningHash && runningHash !== newHash) {
      log(`dry run: the topology changed (${runningHash} → ${newHash}); a run would resubmit`);
    }
    return outcome;
  }

  // 6. apply (unchanged objects are not sent)
  if (changed.length === 0) {
    log(`all ${plans.length} object(s) are up to date; nothing to apply`);
  } else {
    await applyPlans(kube, plans, { force: inputs.forceConflicts, log });
    outcome.applied = changed.map((p) => describeRef(p.ref));
  }

  // 7. take effect in this run: resubmit when the topology changed
  if (!inputs.workflowName) {
    log("not running in a Workflow (APHEX_WORKFLOW_NAME unset): no resubmission check");
    return outcome;
  }
  if (runningHash === undefined) {
    log(
      "warning: the topology hash of the running template is unknown (set APHEX_TOPOLOGY_HASH); " +
        "continuing without resubmission",
    );
    return outcome;
  }
  if (hashSource === "live-template") {
    log(
      "note: the running template's hash was read from the live WorkflowTemplate before the apply; " +
        "pass APHEX_TOPOLOGY_HASH from the template so a retried step still detects the change",
    );
  }
  if (runningHash === newHash) {
    log(`topology unchanged (${newHash}): this run continues`);
    return outcome;
  }
  const sha = inputs.commitSha ?? workflowParameter(running, COMMIT_SHA_PARAMETER);
  if (!sha) throw usageError("cannot resubmit: the commit SHA is unknown");
  if (
    running?.metadata.labels?.[RESUBMITTED_LABEL] === "true" &&
    running.metadata.labels?.[COMMIT_LABEL] === sha
  ) {
    outcome.guard = `${inputs.workflowName} was already resubmitted for commit ${sha}; ` +
      "it never resubmits again (loop guard)";
    log(`warning: topology hash ${runningHash} ≠ ${newHash}, but ${outcome.guard}; continuing`);
    return outcome;
  }
  const ref = workflowParameter(running, REF_PARAMETER) ?? inputs.branch ?? "";
  const workflow = supersedingWorkflow(config, {
    commitSha: sha,
    ref,
    topologyHash: newHash,
    template: template.metadata.name,
    supersedes: inputs.workflowName,
  });
  const { created } = await createIfAbsent(kube, workflow as Manifest as KubeObject);
  outcome.superseded = true;
  outcome.supersededBy = workflow.metadata.name;
  outcome.submitted = created;
  log(
    `topology changed (${runningHash} → ${newHash}): ${
      created ? "submitted" : "an earlier attempt already submitted"
    } Workflow ${workflow.metadata.name} for commit ${sha}`,
  );
  log(`superseded by ${workflow.metadata.name}`);
  return outcome;
}

/** Writes the stage's Argo output parameters and `result.json`. */
export async function writePipelineUpdateOutputs(
  dir: string,
  outcome: PipelineUpdateOutcome,
): Promise<void> {
  await writeOutputs(dir, {
    parameters: {
      superseded: String(outcome.superseded),
      "superseded-by": outcome.supersededBy ?? "",
      "topology-hash": outcome.topologyHash,
      changed: String(outcome.applied.length),
    },
    result: summary(outcome),
  });
}

function summary(outcome: PipelineUpdateOutcome) {
  return {
    superseded: outcome.superseded,
    supersededBy: outcome.supersededBy ?? null,
    submitted: outcome.submitted ?? null,
    topologyHash: outcome.topologyHash,
    runningTopologyHash: outcome.runningTopologyHash ?? null,
    hashSource: outcome.hashSource,
    guard: outcome.guard ?? null,
    dryRun: outcome.dryRun,
    applied: outcome.applied,
    objects: outcome.plans.map((p) => ({ object: describeRef(p.ref), action: p.action })),
    pipelineStack: outcome.pipelineStack ?? null,
  };
}

/** `aphex pipeline-update`. */
export const command: Command = {
  spec,
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const dryRun = values["dry-run"] === true;
    const json = values.json === true;
    let inputs: PipelineUpdateInputs;
    if (!str(values, "commit-sha") && dryRun) {
      // A dry run from a laptop may skip the checkout: resolve the other inputs as usual.
      const { commitSha: _unused, ...rest } = resolveStageInputs(
        { ...values, "commit-sha": "0".repeat(40) },
        ctx,
      );
      inputs = { ...rest, dryRun, forceConflicts: false };
    } else {
      inputs = {
        ...resolveStageInputs(values, ctx),
        dryRun,
        forceConflicts: values["force-conflicts"] === true,
      };
    }
    const workflowName = str(values, "workflow");
    if (workflowName) inputs.workflowName = workflowName;
    const hash = str(values, "topology-hash");
    if (hash) inputs.runningTopologyHash = hash;
    const kubeconfig = str(values, "kubeconfig");
    const work = () =>
      withTerminationSignal(() =>
        runPipelineUpdate(inputs, {
          env: ctx.env,
          cwd: ctx.cwd,
          log: (line) => ctx.stderr(line + "\n"),
          out: (text) => {
            if (!json) ctx.stdout(text);
          },
          ...(kubeconfig ? { kubeconfig } : {}),
        }).catch(async (e) => {
          if (!dryRun) {
            await writeOutputs(inputs.outputsDir, {
              parameters: {
                superseded: "false",
                "superseded-by": "",
                "topology-hash": "",
                changed: "0",
              },
              result: { failure: e instanceof Error ? e.message : String(e) },
            }).catch(() => {});
          }
          throw e;
        })
      );
    // Dry runs (laptops) are not pipeline runs: nothing to record.
    const outcome = dryRun || inputs.commitSha === undefined
      ? await work()
      : await withStageRecording(
        { ...inputs, commitSha: inputs.commitSha },
        {
          stage: "pipeline-update",
          env: ctx.env,
          warn: (message) => ctx.stderr(`warning: ${message}\n`),
          describe: (o) => ({
            exitCode: o.exitCode,
            ...(o.superseded && o.supersededBy ? { supersededBy: o.supersededBy } : {}),
          }),
          body: work,
        },
      );
    if (!dryRun) await writePipelineUpdateOutputs(inputs.outputsDir, outcome);
    if (json) ctx.stdout(JSON.stringify(summary(outcome)) + "\n");
    else if (outcome.superseded) ctx.stdout(`superseded by ${outcome.supersededBy}\n`);
    return outcome.exitCode;
  },
};

if (import.meta.main) await runMain(command);
