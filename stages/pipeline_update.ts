/**
 * The self-update stage (`aphex pipeline-update`, also `deno run -A stages/pipeline_update.ts`):
 *
 * 1. check out the exact commit;
 * 2. regenerate the WorkflowTemplates, EventSource and Sensor from the commit's configuration
 *    (and load the cluster configuration), so configuration errors stop the stage early;
 * 3. deploy `pipeline.pipelineStack` just-in-time with the CDK helpers, if configured
 *    ("no changes" is success);
 * 4. read the live objects, print a readable diff, and apply the changed ones with server-side
 *    apply (field manager `aphex`, no force unless `--force-conflicts`); unchanged objects are
 *    not written at all;
 * 5. when the topology hash of the template this run started from differs from the new one,
 *    submit a new Workflow for the same commit from the updated template (deterministic name, so
 *    a retry gets AlreadyExists instead of a duplicate) and end successfully as "superseded".
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
import { join } from "node:path";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import type { AphexConfig, StackConfig } from "../models/config.ts";
import { AphexError, ExitCode, usageError } from "../models/errors.ts";
import { generateManifests } from "../templates/generate.ts";
import { workflowNamePrefix } from "../templates/sensor.ts";
import {
  COMMIT_SHA_PARAMETER,
  LABEL_KEYS,
  REF_PARAMETER,
  TOPOLOGY_HASH_ANNOTATION,
} from "../templates/workflow_template.ts";
import {
  cdkEnvironment,
  type CdkRunner,
  createCdkRunner,
  DEFAULT_CDK_COMMAND,
  deployStack,
  findCdkAppDir,
  selectStacks,
} from "../adapters/cdk/cli.ts";
import { synthesizeApp } from "../adapters/cdk/app.ts";
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
  GITHUB_TOKEN_ENV,
  loadStageConfig,
  resolveStageInputs,
  type StageDeps,
  type StageInputs,
  withStageRecording,
  withTerminationSignal,
  writeOutputs,
} from "../command/stage_runtime.ts";

/** Label marking a Workflow submitted by the self-update stage. */
export const RESUBMITTED_LABEL = "aphex.dev/resubmitted";
/** Label holding the commit a resubmitted Workflow runs. */
export const COMMIT_LABEL = "aphex.dev/commit-sha";
/** Annotation naming the Workflow a resubmitted one supersedes. */
export const SUPERSEDES_ANNOTATION = "aphex.dev/supersedes";
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

/** Deploys the pipeline's own CDK stack; returns whether CDK reported "no changes". */
export type PipelineStackDeployer = (request: {
  /** Checked-out repository. */
  workspace: string;
  /** The configured `pipeline.pipelineStack`. */
  stack: StackConfig;
  /** Environment of the stage. */
  env: Record<string, string | undefined>;
  /** Log sink. */
  log: (line: string) => void;
}) => Promise<{ stackName: string; noChanges: boolean }>;

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

/**
 * Name of the Workflow that supersedes a run: `<pipeline prefix><first 31 hex of the commit>-<first
 * 8 hex of the new topology hash>` (at most 63 characters, like the Sensor's `<prefix><sha>`).
 * Deterministic, so a second attempt gets AlreadyExists instead of starting a duplicate.
 */
export function resubmitWorkflowName(
  pipeline: string,
  options: { commitSha: string; topologyHash: string },
): string {
  const { commitSha } = options;
  const hex = options.topologyHash.replace(/^sha256:/, "");
  return `${workflowNamePrefix(pipeline)}${commitSha.slice(0, 31)}-${hex.slice(0, 8)}`;
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

/** Builds the Workflow that re-runs `commitSha` from the updated template. */
export function supersedingWorkflow(
  config: AphexConfig,
  options: {
    commitSha: string;
    ref: string;
    topologyHash: string;
    template: string;
    supersedes?: string;
  },
): KubeObject {
  const p = config.pipeline;
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Workflow",
    metadata: {
      name: resubmitWorkflowName(p.name, options),
      namespace: p.namespace,
      labels: {
        [LABEL_KEYS.name]: p.name,
        [LABEL_KEYS.managedBy]: "aphex",
        [LABEL_KEYS.component]: "pipeline-run",
        [RESUBMITTED_LABEL]: "true",
        [COMMIT_LABEL]: options.commitSha,
      },
      annotations: {
        [TOPOLOGY_HASH_ANNOTATION]: options.topologyHash,
        ...(options.supersedes ? { [SUPERSEDES_ANNOTATION]: options.supersedes } : {}),
      },
    },
    spec: {
      workflowTemplateRef: { name: options.template },
      arguments: {
        parameters: [
          { name: COMMIT_SHA_PARAMETER, value: options.commitSha },
          { name: REF_PARAMETER, value: options.ref },
        ],
      },
    },
  };
}

function parameterOf(workflow: KubeObject | undefined, name: string): string | undefined {
  const spec = workflow?.spec as
    | { arguments?: { parameters?: { name?: string; value?: unknown }[] } }
    | undefined;
  const value = spec?.arguments?.parameters?.find((p) => p.name === name)?.value;
  return typeof value === "string" && value !== "" ? value : undefined;
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
  const sha = inputs.commitSha ?? parameterOf(running, COMMIT_SHA_PARAMETER);
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
  const ref = parameterOf(running, REF_PARAMETER) ?? inputs.branch ?? "";
  const workflow = supersedingWorkflow(config, {
    commitSha: sha,
    ref,
    topologyHash: newHash,
    template: template.metadata.name,
    supersedes: inputs.workflowName,
  });
  const { created } = await createIfAbsent(kube, workflow);
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

/** Options of {@linkcode createCdkPipelineStackDeployer}. */
export interface CdkPipelineStackOptions {
  /** Runs `cdk` (default: `createCdkRunner` streaming redacted lines to the stage log). */
  runner?: CdkRunner;
  /** Command running the CDK CLI (default `npx --no-install cdk`). */
  cdkCommand?: readonly string[];
}

/**
 * A {@linkcode PipelineStackDeployer} on the CDK helpers: synthesizes the stack's CDK app
 * just-in-time (`cdk synth` into a fresh directory) and deploys that one stack from the assembly
 * (`cdk deploy --exclusively --app <assembly>`), in the pipeline's own account (`CDK_DEFAULT_ACCOUNT`,
 * else the STS caller identity) and region (`AWS_REGION` / `AWS_DEFAULT_REGION`). "No changes"
 * is success; a failed synth or deploy throws (exit 1) with the output tail.
 */
export function createCdkPipelineStackDeployer(
  options: CdkPipelineStackOptions = {},
): PipelineStackDeployer {
  return async (request) => {
    const env = request.env;
    const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) {
      throw usageError(
        "deploying pipeline.pipelineStack needs AWS_REGION (or AWS_DEFAULT_REGION) in the environment",
      );
    }
    const account = env.CDK_DEFAULT_ACCOUNT ?? await callerAccount(region);
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) {
      if (v !== undefined && !WITHHELD_FROM_CDK.includes(k)) base[k] = v;
    }
    const runner = options.runner ??
      createCdkRunner({ redact: makeRedactor(secretValuesFromEnv(env)), log: request.log });
    const appDir = await findCdkAppDir(request.workspace, request.stack.path);
    // A fresh checkout: install the app's dependencies (its own CDK CLI) first, as deploy does.
    const assembly = await synthesizeApp(appDir, {
      account,
      region,
      env: base,
      runner,
      cdkCommand: options.cdkCommand ?? DEFAULT_CDK_COMMAND,
      workspace: request.workspace,
    });
    const outputsDir = await Deno.makeTempDir({ prefix: "aphex-pipeline-stack-" });
    try {
      const [target] = selectStacks(assembly, [request.stack.name], {
        context: "pipeline.pipelineStack",
        expectEnvironment: { account, region },
      });
      const outcome = await deployStack(assembly, target!, {
        appDir,
        outputsFile: join(outputsDir, "outputs.json"),
        env: cdkEnvironment(base, { account, region }),
        runner,
        cdkCommand: options.cdkCommand ?? DEFAULT_CDK_COMMAND,
      });
      if (!outcome.ok) {
        const tail = outcome.output.trimEnd().split("\n").slice(-20).join("\n");
        throw new AphexError(
          `cdk deploy of the pipeline stack ${outcome.stackName} failed (exit ${outcome.exitCode})` +
            (tail ? `:\n${tail}` : ""),
        );
      }
      return { stackName: outcome.stackName, noChanges: outcome.noChanges };
    } finally {
      await Deno.remove(outputsDir, { recursive: true }).catch(() => {});
      await Deno.remove(assembly.dir, { recursive: true }).catch(() => {});
    }
  };
}

/** Variables never passed to the CDK app (it runs repository code). */
const WITHHELD_FROM_CDK = [GITHUB_TOKEN_ENV];

async function callerAccount(region: string): Promise<string> {
  const { createStsClient } = await import("../adapters/aws/credentials.ts");
  const { GetCallerIdentityCommand } = await import("@aws-sdk/client-sts");
  const sts = createStsClient({ region });
  try {
    const account = (await sts.send(new GetCallerIdentityCommand({}))).Account;
    if (!account) throw new Error("no account in the answer");
    return account;
  } catch (e) {
    throw new AphexError(
      `cannot determine the pipeline's AWS account (sts:GetCallerIdentity; set CDK_DEFAULT_ACCOUNT ` +
        `to skip it): ${e instanceof Error ? e.message : e}`,
    );
  } finally {
    sts.destroy();
  }
}

/** The default {@linkcode PipelineStackDeployer}: {@linkcode createCdkPipelineStackDeployer}. */
export const deployPipelineStackWithCdk: PipelineStackDeployer = createCdkPipelineStackDeployer();

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
