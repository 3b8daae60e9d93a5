/**
 * The deploy stage (`aphex deploy --env NAME`, also `deno run -A stages/deploy.ts`): deploys one
 * environment's CDK stacks.
 *
 * checkout → run order (a newer run waiting in `superseded` mode; never an older commit over the
 * live one) → download the build's artifacts into `build.artifacts`, checking each SHA-256 against
 * `<sha>/metadata.json` → credentials (caller identity, else the environment's role or the CDK
 * bootstrap deploy role; the account must match) → `preDeploy` hooks → just-in-time `cdk synth` of
 * every CDK app involved, stacks checked against the assembly (or, with `--from-plan`, the reviewed
 * plan's change sets) → the stacks, each after the stacks it depends on: state check, `cdk deploy`
 * (live output), outputs from CloudFormation; the first failure starts nothing new (its failed
 * CloudFormation events are printed as a table) → `postDeploy` hooks → outputs to the outputs dir
 * (`stack-outputs`) and to the store (`<sha>/outputs/<env>.json`), the new live commit recorded.
 *
 * Credentials and secret-looking environment values are redacted from every line logged.
 * @module
 */
import type { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import {
  loadStageConfig,
  resolveStageInputs,
  runStageCommand,
  secondsOption,
  type StageDeps,
  type StageInputs,
  writeOutputs,
} from "../command/stage_runtime.ts";
import { type EnvironmentStage, openEnvironmentStage } from "../command/environment_stage.ts";
import { AphexError, describeError, ExitCode } from "../models/errors.ts";
import type { DeploymentResult } from "../models/results.ts";
import { summarizePlan } from "../models/plan.ts";
import { runInDependencyOrder } from "../models/stack_schedule.ts";
import { logKey, planKey } from "../adapters/store/artifact_store.ts";
import { writeStackOutputs } from "../adapters/store/test_results.ts";
import { downloadArtifacts } from "../adapters/store/download.ts";
import { readReviewedPlan } from "../adapters/store/plans.ts";
import { writeLastGood } from "../adapters/store/assemblies.ts";
import { writeCurrentDeployment } from "../adapters/store/current.ts";
import { resolveDeployCredentials, type StsClientFactory } from "../adapters/aws/credentials.ts";
import {
  type CloudFormationFactory,
  createCloudFormationClient,
} from "../adapters/cloudformation/client.ts";
import type { RetryOptions } from "../adapters/cloudformation/throttling.ts";
import { createCdkRunner } from "../adapters/cdk/runner.ts";
import { DEFAULT_CDK_COMMAND } from "../adapters/cdk/cli.ts";
import { transitiveDependencies } from "../adapters/cdk/assembly.ts";
import { parseCdkCommand } from "../adapters/cdk/app.ts";
import { childEnvironment } from "../adapters/cdk/environment.ts";
import { synthesizeEnvironment } from "../adapters/cdk/synth_environment.ts";
import { secretValuesFromEnv } from "../adapters/process/exec.ts";
import { runHooks } from "../adapters/process/hooks.ts";
import { openStageLog } from "../adapters/process/stage_log.ts";
import {
  createKubeClient,
  type KubeClient,
  loadKubeConfig,
} from "../adapters/kubernetes/client.ts";
import { DEFAULT_HOOK_TIMEOUT_MS, spec } from "./deploy_spec.ts";
import { deployStackStep, type DeployStep, type StackStepContext } from "./_deploy_steps.ts";
import { checkStaleDeploy, type StaleVerdict } from "./_stale_check.ts";
import { stopRun, supersedeCheckpoint, type Superseder } from "./_supersede_check.ts";

/** Inputs of {@linkcode runDeploy}: the stage inputs plus the environment. */
export interface DeployInputs extends StageInputs {
  /** Environment to deploy (`--env`, `APHEX_ENV`); checked against the configuration. */
  environment?: string;
  /** Delete a stack whose creation failed (`ROLLBACK_COMPLETE`) before deploying it again. */
  recreateFailed?: boolean;
  /**
   * Execute exactly the change sets of the stored plan (`<sha>/plans/<env>.json`, made by the plan
   * step and passed by the review gate) instead of synthesizing and running `cdk deploy`.
   */
  fromPlan?: boolean;
}

/** Injected dependencies of {@linkcode runDeploy}. */
export interface DeployDeps extends StageDeps {
  /** Timeout of one hook command in ms (default 1 hour). */
  hookTimeoutMs?: number;
  /** STS client factory (default: bounded clients on the default chain). */
  stsClient?: StsClientFactory;
  /** CloudFormation client factory (default {@linkcode createCloudFormationClient}). */
  cloudFormation?: CloudFormationFactory;
  /** Command running the project's CDK CLI (default `npx --no-install cdk`). */
  cdkCommand?: readonly string[];
  /** Throttling retry policy of CloudFormation calls (tests inject `sleep`). */
  retry?: RetryOptions;
  /** Clock (bounds the failure events read after a failed deploy). */
  clock?: () => Date;
  /** Kubernetes client of the superseded check (default: from the pod's service account). */
  kube?: KubeClient;
}

/** What {@linkcode runDeploy} did. */
export interface DeployOutcome {
  /** Exit code for the stage: 0 ok, 1 failed. */
  exitCode: number;
  /** Environment name (empty when it could not be determined). */
  environment: string;
  /** One result per stack attempted, in deploy order (later stacks after a failure are absent). */
  results: DeploymentResult[];
  /** Outputs of the stacks deployed: `{stackName: {key: value}}`. */
  outputs: Record<string, Record<string, string>>;
  /** Stacks not attempted because an earlier step failed. */
  notDeployed: string[];
  /** Why the deploy failed. */
  failure?: string;
  /** Where the outputs were stored. */
  outputsUri?: string;
  /** URI of the uploaded log on failure (when the upload worked). */
  logUri?: string;
  /**
   * Set when the commit is an ancestor of the one live in the environment: nothing deployed,
   * exit code 0, recorded as `superseded` by the live commit (neither success nor failure).
   */
  stale?: StaleVerdict;
  /** Where the new live commit was recorded (`envs/<env>/current.json`) after a deploy. */
  currentUri?: string;
  /**
   * `executionMode: superseded`: the newer run that made this one stop before deploying (exit
   * code 0, recorded as `superseded`; the command then stops the run).
   */
  superseded?: Superseder;
}

/** Thrown inside the deploy when a newer run supersedes this one right before it deploys. */
class SupersededSignal extends Error {}

/**
 * Runs the deploy stage. Configuration errors (unknown environment, stack missing from the CDK
 * app, order contradicting dependencies) throw an AphexError with exit code 2, and a failed
 * checkout throws (exit 1), as in the build stage; every later failure (artifacts, credentials,
 * hooks, synth, a stack, storing the outputs) returns an outcome with exit code 1 and whatever
 * results were recorded (see {@linkcode writeDeployOutputs}).
 */
export async function runDeploy(inputs: DeployInputs, deps: DeployDeps): Promise<DeployOutcome> {
  const sha = inputs.commitSha;
  const workspace = inputs.workspace;
  const clock = deps.clock ?? (() => new Date());
  const outcome: DeployOutcome = {
    exitCode: ExitCode.Ok,
    environment: "",
    results: [],
    outputs: {},
    notDeployed: [],
  };
  const journal = await openStageLog("deploy", {
    sink: deps.log,
    secrets: secretValuesFromEnv(deps.env),
  });
  const log = journal.log;
  const redact = journal.redact;
  const say = (line: string) => log(`[deploy] ${line}`);
  const tempDirs: string[] = [];
  const tempDir = async (prefix: string) => {
    tempDirs.push(await Deno.makeTempDir({ prefix }));
    return tempDirs.at(-1)!;
  };
  let stage: EnvironmentStage | undefined;
  let cfn: CloudFormationClient | undefined;
  try {
    // 1. checkout, configuration, environment, a fresh artifacts directory, the artifact store
    stage = await openEnvironmentStage(inputs, { ...deps, log: say });
    const config = stage.config;
    const target = stage.target;
    const store = stage.store;
    outcome.environment = target.name;
    outcome.notDeployed = target.stacks.map((s) => s.name);
    say(
      `environment ${target.name} (aws://${target.account}/${target.region}); commit ${sha}; ` +
        `artifact store ${store.location}`,
    );

    // 2. run order: stop if a newer commit has a run waiting (superseded mode); never deploy an
    // older commit over the live one
    const checkpoint = supersedeCheckpoint({
      executionMode: config.pipeline.executionMode,
      namespace: config.pipeline.namespace,
      pipeline: config.pipeline.name,
      ...(deps.env.APHEX_WORKFLOW_NAME ? { workflow: deps.env.APHEX_WORKFLOW_NAME } : {}),
      ...(inputs.branch ? { branch: inputs.branch } : {}),
      sha,
      workspace,
      repo: stage.repo,
      ...(deps.kube ? { kube: deps.kube } : {}),
      env: deps.env,
      log: say,
    });
    const superseded = async (when: string) => {
      const by = await checkpoint(when);
      if (by) outcome.superseded = by;
      return by !== undefined;
    };
    if (await superseded("reaching the environment")) return outcome;
    const verdict = await checkStaleDeploy(target.name, {
      store,
      workspace,
      sha,
      repo: stage.repo,
      log: say,
    });
    say(verdict.message);
    if (!verdict.proceed) {
      outcome.stale = verdict;
      return outcome;
    }

    try {
      // 3. artifacts
      const download = await downloadArtifacts(store, sha, stage.artifactsDir);
      if (download.problems.length > 0) {
        throw new AphexError(
          `${download.problems.length} of ${download.count} artifact(s) of ${sha} failed ` +
            `verification; nothing was deployed:\n  ${download.problems.join("\n  ")}`,
        );
      }
      say(
        `${download.count} artifact(s) downloaded to ${config.build.artifacts} and verified ` +
          "(SHA-256)",
      );

      // 4. credentials, then the environment of hooks and the CDK CLI
      const credentials = await resolveDeployCredentials(target, {
        qualifier: config.pipeline.cdkQualifier,
        stsClient: deps.stsClient,
      });
      journal.addSecrets(credentials.secrets);
      say(
        `acting in account ${credentials.account} as ${
          credentials.assumedRole ?? credentials.callerArn
        }`,
      );
      const env = childEnvironment(deps.env, target, { credentials, commitSha: sha, workspace });
      const hooks = {
        cwd: workspace,
        env,
        log,
        redact,
        timeoutMs: deps.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
        ...(deps.signal ? { signal: deps.signal } : {}),
      };

      // 5. preDeploy hooks
      await runHooks("preDeploy", target.hooks.preDeploy, hooks);

      // 6. what to deploy: every CDK app synthesized just in time, stacks checked against the
      // assembly — or, in the pipeline, the reviewed plan: its change sets are executed by id,
      // nothing is synthesized again
      const runner = createCdkRunner({ redact, log });
      const cdkCommand = deps.cdkCommand ?? DEFAULT_CDK_COMMAND;
      let ordered: DeployStep[];
      if (!inputs.fromPlan) {
        const { stacks } = await synthesizeEnvironment(workspace, target, {
          commitSha: sha,
          env,
          runner,
          cdkCommand,
          makeOutputDir: () => tempDir("aphex-cdk-out-"),
          log: say,
        });
        ordered = target.stacks.map((s) => {
          const synthesized = stacks.get(s.name)!;
          const after = transitiveDependencies(synthesized.assembly, synthesized.stack);
          return { name: synthesized.stack.stackName, synthesized, after: [...after] };
        });
      } else {
        const reviewed = await readReviewedPlan(store, sha, target);
        say(
          `executing the reviewed plan ${store.uriFor(planKey(sha, target.name))}: ` +
            summarizePlan(reviewed),
        );
        // A reviewed plan carries no dependency graph: each stack waits for every stack before it
        // (the configured order, one by one), never deploys side by side blindly.
        ordered = reviewed.stacks.map((s, i) => ({
          name: s.stackName,
          reviewed: s,
          after: reviewed.stacks.slice(0, i).map((p) => p.stackName),
        }));
      }
      outcome.notDeployed = ordered.map((p) => p.name);
      if (await superseded("right before deploying")) throw new SupersededSignal();

      // 7. the stacks: deploy.concurrency at once, each after the stacks it depends on
      // (models/stack_schedule.ts; 1 = the configured order, one by one); the first failure
      // starts nothing new
      cfn = (deps.cloudFormation ?? createCloudFormationClient)({
        region: target.region,
        ...(credentials.credentials ? { credentials: credentials.credentials } : {}),
      });
      const stackStep: StackStepContext = {
        cfn,
        ordered,
        outcome,
        log,
        retry: deps.retry ?? {},
        recreateFailed: inputs.recreateFailed === true,
        ...(deps.signal ? { signal: deps.signal } : {}),
        clock,
        outputsDir: await tempDir("aphex-cdk-outputs-"),
        env,
        runner,
        cdkCommand,
      };
      try {
        await runInDependencyOrder(ordered, (step, i) => deployStackStep(step, i, stackStep), {
          concurrency: config.deploy.concurrency,
          key: (step) => step.name,
          dependsOn: (step) => step.after,
        });
      } finally {
        // Results in configured order; the stacks never started are the ones not deployed.
        const position = new Map(ordered.map((p, i) => [p.name, i]));
        outcome.results.sort((a, b) => position.get(a.stackName)! - position.get(b.stackName)!);
        const attempted = new Set(outcome.results.map((r) => r.stackName));
        outcome.notDeployed = ordered.map((p) => p.name).filter((n) => !attempted.has(n));
      }

      // 8. postDeploy hooks
      await runHooks("postDeploy", target.hooks.postDeploy, hooks);

      // 9. a reviewed deploy of an environment without tests is good as soon as it succeeded
      // (with tests, the test stage records it once they pass)
      if (inputs.fromPlan && (target.tests?.commands.length ?? 0) === 0) {
        const uri = await writeLastGood(store, target.name, {
          sha,
          time: clock().toISOString(),
          workflow: deps.env.APHEX_WORKFLOW_NAME ?? null,
          stacks: ordered.map((p) => p.name),
        });
        say(`${target.name} last good: ${sha} (${uri})`);
      }
    } catch (e) {
      if (e instanceof AphexError && e.exitCode === ExitCode.Usage) throw e;
      if (e instanceof SupersededSignal) return outcome;
      outcome.exitCode = ExitCode.Failed;
      outcome.failure = redact(describeError(e));
      say(`FAILED: ${outcome.failure}`);
    }

    // 10. the record: outputs for the test stage (whenever a stack was attempted), then the log
    // of a failure, or the new live commit
    if (outcome.results.length > 0) {
      try {
        outcome.outputsUri = await writeStackOutputs(store, sha, target.name, outcome.outputs);
        say(`stack outputs stored at ${outcome.outputsUri}`);
      } catch (e) {
        const message = `could not store the stack outputs: ${redact(describeError(e))}`;
        say(message);
        if (outcome.exitCode === ExitCode.Ok) {
          outcome.exitCode = ExitCode.Failed;
          outcome.failure = message;
        }
      }
    }
    if (outcome.superseded) return outcome;
    if (outcome.exitCode !== ExitCode.Ok) {
      const key = logKey(sha, `deploy-${target.name}`);
      try {
        await store.put(key, { path: journal.file }, { contentType: "text/plain" });
        outcome.logUri = store.uriFor(key);
        deps.log(`[deploy] log uploaded to ${outcome.logUri}`);
      } catch (e) {
        deps.log(`[deploy] could not upload the log: ${redact(describeError(e))}`);
      }
      return outcome;
    }
    say(`environment ${target.name}: ${outcome.results.length} stack(s) deployed`);
    try {
      outcome.currentUri = await writeCurrentDeployment(store, target.name, {
        sha,
        time: clock(),
        workflow: deps.env.APHEX_WORKFLOW_NAME ?? null,
      });
      say(`${sha} recorded as live in ${outcome.currentUri}`);
    } catch (e) {
      // The stacks are deployed; without the record a later older run could not be refused.
      outcome.exitCode = ExitCode.Failed;
      outcome.failure = `deployed, but the live commit could not be recorded: ${
        redact(describeError(e))
      }`;
      say(outcome.failure);
    }
    return outcome;
  } finally {
    cfn?.destroy();
    await journal.close();
    for (const dir of tempDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    stage?.close();
  }
}

/** What the deploy did, for output parameters and records: `deployed`, `stale` or `failed`. */
export function deployStatus(
  outcome: DeployOutcome,
): "deployed" | "stale" | "superseded" | "failed" {
  if (outcome.exitCode !== ExitCode.Ok) return "failed";
  return outcome.superseded ? "superseded" : outcome.stale ? "stale" : "deployed";
}

/** Writes the deploy stage's Argo output parameters (`stack-outputs` …) and result JSON. */
export async function writeDeployOutputs(dir: string, outcome: DeployOutcome): Promise<void> {
  await writeOutputs(dir, {
    parameters: {
      success: String(outcome.exitCode === ExitCode.Ok),
      "exit-code": String(outcome.exitCode),
      "stack-outputs": JSON.stringify(outcome.outputs),
      status: deployStatus(outcome),
    },
    result: {
      environment: outcome.environment,
      status: deployStatus(outcome),
      stale: outcome.stale
        ? { live: outcome.stale.live?.sha ?? null, message: outcome.stale.message }
        : null,
      success: outcome.exitCode === ExitCode.Ok,
      results: outcome.results,
      outputs: outcome.outputs,
      notDeployed: outcome.notDeployed,
      outputsUri: outcome.outputsUri ?? null,
      logUri: outcome.logUri ?? null,
      failure: outcome.failure ?? null,
    },
  });
}

/** `aphex deploy`. */
export const command: Command = {
  spec,
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const inputs: DeployInputs = resolveStageInputs(values, ctx);
    const environment = str(values, "env");
    if (environment) inputs.environment = environment;
    if (values["recreate-failed"] === true) inputs.recreateFailed = true;
    if (values["from-plan"] === true) inputs.fromPlan = true;
    const timeout = secondsOption(values, "hook-timeout");
    const outcome = await runStageCommand(inputs, {
      ctx,
      stage: environment ? `deploy-${environment}` : "deploy",
      describe: (o) => ({
        exitCode: o.exitCode,
        ...(o.failure ? { errorMessage: o.failure } : {}),
        deployments: o.results,
        // A stale deploy is neither success nor failure: superseded by the live commit.
        ...(o.stale?.live
          ? { supersededBy: `commit ${o.stale.live.sha}`, status: "superseded" as const }
          : {}),
        // Superseded mode: by the newer commit waiting (and its run).
        ...(o.superseded
          ? {
            supersededBy: `commit ${o.superseded.sha} (${o.superseded.workflow})`,
            status: "superseded" as const,
          }
          : {}),
      }),
      run: (signal: AbortSignal, log: (line: string) => void) =>
        runDeploy(inputs, {
          env: ctx.env,
          log,
          signal,
          hookTimeoutMs: timeout * 1000,
          cdkCommand: parseCdkCommand(str(values, "cdk-command")),
        }),
      failureParameters: { "stack-outputs": "{}" },
      failureResult: { environment: environment ?? "" },
    });
    await writeDeployOutputs(inputs.outputsDir, outcome);
    if (values.json === true) {
      ctx.stdout(
        JSON.stringify({
          environment: outcome.environment,
          status: deployStatus(outcome),
          success: outcome.exitCode === ExitCode.Ok,
          results: outcome.results,
          outputs: outcome.outputs,
        }) + "\n",
      );
    }
    if (outcome.stale) ctx.stderr(`aphex deploy: skipped as stale — ${outcome.stale.message}\n`);
    if (outcome.superseded) {
      // Recorded and outputs written: now end the run so its mutex goes to the newer run.
      const workflow = ctx.env.APHEX_WORKFLOW_NAME!;
      const config = await loadStageConfig(inputs);
      const kube = createKubeClient(await loadKubeConfig({ env: ctx.env, cwd: ctx.cwd }));
      await stopRun(kube, { namespace: config.pipeline.namespace, workflow });
      ctx.stderr(
        `aphex deploy: superseded by commit ${outcome.superseded.sha} ` +
          `(${outcome.superseded.workflow}); run ${workflow} stopped\n`,
      );
    }
    return outcome.exitCode;
  },
};

if (import.meta.main) await runMain(command);
