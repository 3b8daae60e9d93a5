/**
 * The plan stage (`aphex plan --env NAME`, also the `plan-<env>` step before each deploy): what
 * the deployment of one environment would change, prepared but not executed (issue 14).
 *
 * checkout → the build's artifacts (verified) → credentials (as deploy) → just-in-time `cdk synth`
 * → per configured stack, in deploy order: the deployed template (GetTemplate), a change set
 * prepared by the project's CDK CLI (`cdk deploy --method=prepare-change-set --change-set-name
 * aphex-<env>-<sha12>`), described with every page, compared for IAM/security-group broadening
 * with the synthesized template → `<sha>/plans/<env>.json`, a table on the log, and the output
 * parameters `approve` (the environment's review gate) and `summary`.
 *
 * Why the CDK CLI creates the change sets: `prepare-change-set` publishes the stack's file and
 * image assets and uploads large templates before creating the change set, exactly as `cdk
 * deploy` would; creating it from the template with the SDK would skip the assets and deploy
 * references to objects that were never uploaded. The SDK only reads (DescribeChangeSet,
 * GetTemplate) and removes empty change sets.
 *
 * No hooks run: `preDeploy` hooks belong to the deployment, a plan must not change anything.
 * @module
 */
import { join } from "node:path";
import type { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import { AphexError, describeError, ExitCode } from "../models/errors.ts";
import { reviewPolicy } from "../models/config.ts";
import {
  type EnvironmentPlan,
  formatPlanTable,
  needsApproval,
  plannedChanges,
  planRisks,
  type Risk,
  securityBroadening,
  type StackPlan,
  summarizePlan,
  type TemplateDocument,
} from "../models/plan.ts";
import { type ArtifactStore, planKey } from "../adapters/store/artifact_store.ts";
import type { AssemblyStack, CloudAssembly } from "../adapters/cdk/assembly.ts";
import { DEFAULT_CDK_COMMAND, deployStack } from "../adapters/cdk/cli.ts";
import { createCdkRunner } from "../adapters/cdk/runner.ts";
import { synthesizeEnvironment } from "../adapters/cdk/synth_environment.ts";
import { childEnvironment } from "../adapters/cdk/environment.ts";
import { downloadArtifacts } from "../adapters/store/download.ts";
import {
  type CloudFormationFactory,
  createCloudFormationClient,
} from "../adapters/cloudformation/client.ts";
import { fetchAssemblies, storeAssemblies } from "../adapters/store/assemblies.ts";
import type { RetryOptions } from "../adapters/cloudformation/throttling.ts";
import {
  deleteChangeSet,
  describeChangeSet,
  getDeployedTemplate,
  isEmptyChangeSet,
} from "../adapters/cloudformation/change_sets.ts";
import { resolveDeployCredentials, type StsClientFactory } from "../adapters/aws/credentials.ts";
import { makeRedactor, type Redactor, secretValuesFromEnv } from "../adapters/process/exec.ts";
import { parseCdkCommand } from "../adapters/cdk/app.ts";
import { spec } from "./plan_spec.ts";
import { environmentContext, setCommitStatuses } from "../adapters/monitoring/github_status.ts";
import {
  GITHUB_TOKEN_ENV,
  resolveStageInputs,
  runStageCommand,
  type StageDeps,
  type StageInputs,
  writeOutputs,
} from "../command/stage_runtime.ts";
import { type EnvironmentStage, openEnvironmentStage } from "../command/environment_stage.ts";

/** Inputs of {@linkcode runPlan}. */
export interface PlanInputs extends StageInputs {
  /** Environment to plan (`--env`, `APHEX_ENV`). */
  environment?: string;
  /**
   * Plan the cloud assembly stored for this commit and environment (`<sha>/assemblies/<env>/`)
   * instead of downloading artifacts and synthesizing: what `aphex rollback` redeploys.
   */
  storedAssembly?: boolean;
}

/** Injected dependencies of {@linkcode runPlan}. */
export interface PlanDeps extends StageDeps {
  /** STS client factory. */
  stsClient?: StsClientFactory;
  /** CloudFormation client factory (default {@linkcode createCloudFormationClient}). */
  cloudFormation?: CloudFormationFactory;
  /** Command running the project's CDK CLI. */
  cdkCommand?: readonly string[];
  /** Throttling retry policy of CloudFormation calls. */
  retry?: RetryOptions;
  /** Clock (the plan's `createdAt`). */
  clock?: () => Date;
  /** fetch of the GitHub commit status (tests). */
  fetch?: typeof fetch;
}

/** What {@linkcode runPlan} did. */
export interface PlanOutcome {
  /** 0 ok, 1 failed. */
  exitCode: number;
  /** Environment name. */
  environment: string;
  /** The plan, when every stack was planned. */
  plan?: EnvironmentPlan;
  /** Whether the environment's review gate stops the run for this plan. */
  approve: boolean;
  /** Risks of the plan that the review gate counts. */
  risks: Risk[];
  /** One-line summary (run record, notification, GitHub status). */
  summary: string;
  /** Where the plan was stored. */
  planUri?: string;
  /** Why planning failed (what was skipped). */
  failure?: string;
}

/** Name of the change set of `environment` for `commitSha` (re-planning replaces it). */
export function changeSetName(environment: string, commitSha: string): string {
  return `aphex-${environment}-${commitSha.slice(0, 12)}`;
}

async function fetchStored(
  store: ArtifactStore,
  target: { commitSha: string; environment: string },
  tempDirs: string[],
) {
  const dir = await Deno.makeTempDir({ prefix: "aphex-stored-assembly-" });
  tempDirs.push(dir);
  return await fetchAssemblies(store, target, dir);
}

async function readTemplate(assembly: CloudAssembly, stack: AssemblyStack) {
  if (!stack.templateFile) return {} as TemplateDocument;
  return JSON.parse(
    await Deno.readTextFile(join(assembly.dir, stack.templateFile)),
  ) as TemplateDocument;
}

/**
 * Runs the plan stage. Configuration errors throw (exit 2); every later failure returns an
 * outcome with exit code 1 saying what was skipped.
 */
export async function runPlan(inputs: PlanInputs, deps: PlanDeps): Promise<PlanOutcome> {
  const sha = inputs.commitSha;
  const clock = deps.clock ?? (() => new Date());
  const secrets = new Set(secretValuesFromEnv(deps.env));
  let redactor: Redactor = makeRedactor(secrets);
  const redact = (text: string) => redactor(text);
  const log = (line: string) => deps.log(redact(line));
  const retry = deps.retry ?? {};
  const tempDirs: string[] = [];
  let opened: EnvironmentStage | undefined;
  let cfn: CloudFormationClient | undefined;
  const outcome: PlanOutcome = {
    exitCode: ExitCode.Ok,
    environment: "",
    approve: false,
    risks: [],
    summary: "",
  };
  try {
    opened = await openEnvironmentStage(inputs, { ...deps, log: (l) => log(`[plan] ${l}`) });
    const { config, target, artifactsDir, store: activeStore } = opened;
    outcome.environment = target.name;
    const policy = reviewPolicy(target);
    log(`[plan] environment ${target.name} (aws://${target.account}/${target.region}); ${sha}`);
    const stage = { step: "artifacts" };
    try {
      if (!inputs.storedAssembly) {
        const download = await downloadArtifacts(activeStore, sha, artifactsDir);
        if (download.problems.length > 0) {
          throw new AphexError(
            `${download.problems.length} of ${download.count} artifact(s) failed verification:` +
              `\n  ${download.problems.join("\n  ")}`,
          );
        }
      }
      stage.step = "credentials";
      const credentials = await resolveDeployCredentials(target, {
        qualifier: config.pipeline.cdkQualifier,
        stsClient: deps.stsClient,
      });
      for (const secret of credentials.secrets) secrets.add(secret);
      redactor = makeRedactor(secrets);
      const childEnv = childEnvironment(deps.env, target, {
        credentials,
        commitSha: sha,
        workspace: inputs.workspace,
      });
      stage.step = "synth";
      const runner = createCdkRunner({ redact, log });
      const cdkCommand = deps.cdkCommand ?? DEFAULT_CDK_COMMAND;
      const stored = inputs.storedAssembly
        ? await fetchStored(activeStore, { commitSha: sha, environment: target.name }, tempDirs)
        : undefined;
      const { stacks: byName, assemblies: synthesized } = await synthesizeEnvironment(
        inputs.workspace,
        target,
        {
          commitSha: sha,
          env: childEnv,
          runner,
          cdkCommand,
          makeOutputDir: async () => {
            tempDirs.push(await Deno.makeTempDir({ prefix: "aphex-plan-out-" }));
            return tempDirs.at(-1)!;
          },
          ...(stored ? { stored } : {}),
          log: (l) => log(`[plan] ${l}`),
        },
      );
      stage.step = "change sets";
      cfn = (deps.cloudFormation ?? createCloudFormationClient)({
        region: target.region,
        ...(credentials.credentials ? { credentials: credentials.credentials } : {}),
      });
      const name = changeSetName(target.name, sha);
      const stacks: StackPlan[] = [];
      const outputsDir = await Deno.makeTempDir({ prefix: "aphex-plan-outputs-" });
      tempDirs.push(outputsDir);
      for (const [i, configured] of target.stacks.entries()) {
        const { assembly, stack, appDir: app } = byName.get(configured.name)!;
        const stackName = stack.stackName;
        const deployed = await getDeployedTemplate(cfn, stackName, retry);
        const prepared = await deployStack(assembly, stack, {
          appDir: app,
          outputsFile: join(outputsDir, `${i + 1}.json`),
          env: childEnv,
          runner,
          cdkCommand,
          extraArgs: ["--method=prepare-change-set", "--change-set-name", name],
        });
        if (!prepared.ok) {
          throw new AphexError(
            `preparing the change set of stack "${stackName}" failed (cdk exit ${prepared.exitCode})`,
          );
        }
        const described = await describeChangeSet(cfn, { stackName, changeSetName: name }, retry);
        const broadening = securityBroadening(deployed, await readTemplate(assembly, stack));
        const plan: StackPlan = {
          stackName,
          status: "changes",
          newStack: deployed === undefined,
          changes: [],
          broadening,
        };
        if (!described || isEmptyChangeSet(described.status, described.statusReason)) {
          plan.status = "no-op";
          plan.broadening = [];
          if (described) await deleteChangeSet(cfn, { stackName, changeSetName: name }, retry);
        } else if (described.status !== "CREATE_COMPLETE") {
          throw new AphexError(
            `change set ${name} of stack "${stackName}" is ${described.status}` +
              (described.statusReason ? `: ${described.statusReason}` : ""),
          );
        } else {
          plan.changeSetId = described.changeSetId;
          plan.changeSetName = described.changeSetName;
          plan.changes = plannedChanges(described.changes);
        }
        stacks.push(plan);
        log(`[plan] stack ${i + 1}/${target.stacks.length}: ${stackName}: ${plan.status}`);
      }
      if (!inputs.storedAssembly) {
        // The assembly these change sets come from, for `aphex rollback` and automatic rollback.
        const uri = await storeAssemblies(activeStore, {
          commitSha: sha,
          environment: target.name,
        }, synthesized);
        log(`[plan] cloud assembly stored: ${uri}`);
      }
      const plan: EnvironmentPlan = {
        version: 1,
        environment: target.name,
        commitSha: sha,
        createdAt: clock().toISOString(),
        stacks,
      };
      outcome.plan = plan;
      outcome.risks = planRisks(plan, policy.risk);
      outcome.approve = needsApproval(plan, policy);
      outcome.summary = summarizePlan(plan, policy.risk);
      const key = planKey(sha, target.name);
      await activeStore.put(key, JSON.stringify(plan, null, 2) + "\n", {
        contentType: "application/json",
      });
      outcome.planUri = activeStore.uriFor(key);
      for (const line of formatPlanTable(plan).split("\n")) log(`[plan] ${line}`);
      // The environment's commit status says what is about to happen (counts and risk kinds
      // only: statuses are as visible as the repository).
      const github = config.pipeline.github;
      const token = deps.env[GITHUB_TOKEN_ENV];
      if (github && token) {
        await setCommitStatuses([{
          context: environmentContext(target.name),
          state: "pending",
          description: (outcome.approve ? "Waiting for approval: " : "Deploying: ") +
            outcome.summary,
          targetUrl: null,
        }], {
          repository: { owner: github.owner, repo: github.repo },
          commitSha: sha,
          token,
          maxAttempts: 2,
          log: (line) => log(`[plan] ${line}`),
          ...(deps.fetch ? { fetch: deps.fetch } : {}),
        });
      }
      log(
        `[plan] ${outcome.summary}; review ${policy.approve}: ${
          outcome.approve ? "approval required" : "no approval needed"
        }; stored at ${outcome.planUri}`,
      );
    } catch (e) {
      if (e instanceof AphexError && e.exitCode === ExitCode.Usage) throw e;
      outcome.exitCode = ExitCode.Failed;
      const skipped = stage.step === "credentials"
        ? `no usable AWS credentials for aws://${target.account}/${target.region}; skipped: ` +
          `synth, change sets and the plan (${describeError(e)})`
        : `planning failed at ${stage.step}: ${describeError(e)}`;
      outcome.failure = redact(skipped);
      outcome.summary = `plan failed: ${outcome.failure}`.slice(0, 140);
      log(`[plan] FAILED: ${outcome.failure}`);
    }
    return outcome;
  } finally {
    cfn?.destroy();
    for (const dir of tempDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    opened?.close();
  }
}

/** Writes the plan stage's Argo output parameters (`approve`, `summary`) and result JSON. */
export async function writePlanOutputs(dir: string, outcome: PlanOutcome): Promise<void> {
  await writeOutputs(dir, {
    parameters: {
      success: String(outcome.exitCode === ExitCode.Ok),
      "exit-code": String(outcome.exitCode),
      approve: String(outcome.approve),
      summary: outcome.summary,
      risks: outcome.risks.map((r) => `${r.kind}: ${r.stackName}: ${r.detail}`).join("\n"),
    },
    result: {
      environment: outcome.environment,
      success: outcome.exitCode === ExitCode.Ok,
      approve: outcome.approve,
      summary: outcome.summary,
      planUri: outcome.planUri ?? null,
      plan: outcome.plan ?? null,
      failure: outcome.failure ?? null,
    },
  });
}

/** `aphex plan`. */
export const command: Command = {
  spec,
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const inputs: PlanInputs = resolveStageInputs(values, ctx);
    const environment = str(values, "env");
    if (environment) inputs.environment = environment;
    if (values["stored-assembly"] === true) inputs.storedAssembly = true;
    const outcome = await runStageCommand(inputs, {
      ctx,
      stage: environment ? `plan-${environment}` : "plan",
      describe: (o) => ({
        exitCode: o.exitCode,
        ...(o.failure ? { errorMessage: o.failure } : {}),
      }),
      run: (signal: AbortSignal, log: (line: string) => void) =>
        runPlan(inputs, {
          env: ctx.env,
          log,
          signal,
          cdkCommand: parseCdkCommand(str(values, "cdk-command")),
        }),
      failureParameters: { approve: "false", summary: "plan failed", risks: "" },
      failureResult: { environment: environment ?? "" },
    });
    await writePlanOutputs(inputs.outputsDir, outcome);
    if (values.json === true) ctx.stdout(JSON.stringify(outcome.plan ?? null) + "\n");
    else if (outcome.plan) ctx.stdout(formatPlanTable(outcome.plan) + "\n");
    return outcome.exitCode;
  },
};

if (import.meta.main) await runMain(command);
