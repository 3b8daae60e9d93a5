/**
 * The deploy stage (`aphex deploy --env NAME`, also `deno run -A stages/deploy.ts`): deploys one
 * environment's CDK stacks.
 *
 * checkout → download the build's artifacts into `build.artifacts`, checking each SHA-256 against
 * `<sha>/metadata.json` → credentials (caller identity, else the environment's role or the CDK
 * bootstrap deploy role; the account must match) → `preDeploy` hooks → just-in-time `cdk synth` of
 * every CDK app involved → stacks checked against the assembly → per stack, in configured order:
 * state check, `cdk deploy` from the assembly (live output), outputs from CloudFormation; the first
 * failure stops (its failed CloudFormation events are printed as a table) → `postDeploy` hooks →
 * outputs to the outputs dir (`stack-outputs`) and to the store (`<sha>/outputs/<env>.json`).
 *
 * Credentials and secret-looking environment values are redacted from every line logged.
 * @module
 */
import { relative } from "node:path";
import type { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import {
  childEnvironment,
  type CloudFormationFactory,
  createCloudFormationClient,
  downloadArtifacts,
} from "../command/deploy_context.ts";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import { AphexError, describeError, ExitCode } from "../models/errors.ts";
import type { DeploymentResult } from "../models/results.ts";
import {
  type ArtifactStore,
  logKey,
  openArtifactStore,
  outputsKey,
  planKey,
} from "../adapters/store/artifacts.ts";
import {
  createCdkRunner,
  DEFAULT_CDK_COMMAND,
  locateCdkApps,
  selectStacks,
  transitiveDependencies,
} from "../adapters/cdk/cli.ts";
import {
  deployStackStep,
  type DeployStep,
  type PlannedStack,
  readReviewedPlan,
} from "./_deploy_steps.ts";
import { runInDependencyOrder } from "../models/stack_schedule.ts";
import type { RetryOptions } from "../adapters/cloudformation/stacks.ts";
import { resolveDeployCredentials, type StsClientFactory } from "../adapters/aws/credentials.ts";
import {
  makeRedactor,
  type Redactor,
  runShellCommand,
  secretValuesFromEnv,
} from "../adapters/process/exec.ts";
import { freshArtifactsDir } from "../adapters/workspace/boundary.ts";
import { writeLastGood } from "../adapters/store/assemblies.ts";
import { summarizePlan } from "../models/plan.ts";
import { parseCdkCommand, synthesizeApp } from "../adapters/cdk/app.ts";
import { DEFAULT_HOOK_TIMEOUT_MS, spec } from "./deploy_spec.ts";
import { checkStaleDeploy, recordLiveCommit, type StaleVerdict } from "./_stale_check.ts";
import { findSuperseder, stopRun, type Superseder } from "./_supersede_check.ts";
import {
  createKubeClient,
  type KubeClient,
  loadKubeConfig,
} from "../adapters/kubernetes/client.ts";
import {
  checkoutStage,
  GITHUB_TOKEN_ENV,
  loadStageConfig,
  resolveBucket,
  resolveRepoUrl,
  resolveStageInputs,
  runStageCommand,
  secondsOption,
  selectEnvironment,
  type StageDeps,
  type StageInputs,
  writeOutputs,
} from "../command/stage_runtime.ts";

/**
 * Slack subtracted from the local clock when bounding the failure events of an operation: events
 * older than the deploy's start minus this are never read (tolerates clock skew with AWS).
 */
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

export {
  childEnvironment,
  type CloudFormationFactory,
  createCloudFormationClient,
  downloadArtifacts,
} from "../command/deploy_context.ts";

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

export { EVENT_CLOCK_SKEW_MS, eventRecord } from "./_deploy_steps.ts";

/**
 * Runs the deploy stage. Configuration errors (unknown environment, stack missing from the CDK
 * app, order contradicting dependencies) throw an AphexError with exit code 2, and a failed
 * checkout throws (exit 1), as in the build stage; every later failure (artifacts, credentials,
 * hooks, synth, a stack, storing the outputs) returns an outcome with exit code 1 and whatever
 * results were recorded (see {@linkcode writeDeployOutputs}).
 */
export async function runDeploy(inputs: DeployInputs, deps: DeployDeps): Promise<DeployOutcome> {
  const sha = inputs.commitSha;
  const clock = deps.clock ?? (() => new Date());
  const secrets = new Set(secretValuesFromEnv(deps.env));
  let redactor: Redactor = makeRedactor(secrets);
  const redact = (text: string) => redactor(text);
  const logFile = await Deno.makeTempFile({ prefix: "aphex-deploy-", suffix: ".log" });
  const logHandle = await Deno.open(logFile, { write: true, truncate: true });
  const encoder = new TextEncoder();
  const log = (line: string) => {
    const clean = redact(line);
    deps.log(clean);
    const bytes = encoder.encode(clean + "\n");
    for (let off = 0; off < bytes.length;) off += logHandle.writeSync(bytes.subarray(off));
  };
  const tempDirs: string[] = [];
  let store: ArtifactStore | undefined = deps.store;
  const ownStore = store === undefined;
  let cfn: CloudFormationClient | undefined;
  const outcome: DeployOutcome = {
    exitCode: ExitCode.Ok,
    environment: "",
    results: [],
    outputs: {},
    notDeployed: [],
  };
  const retry = deps.retry ?? {};

  const runHooks = async (
    kind: "preDeploy" | "postDeploy",
    commands: string[],
    env: Record<string, string>,
  ) => {
    for (const [i, command] of commands.entries()) {
      const label = `${kind}/${i + 1}`;
      log(`[${label}] $ ${command}`);
      const timeoutMs = deps.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
      const run = await runShellCommand(command, {
        cwd: inputs.workspace,
        env,
        label,
        log: (line) => log(line),
        redact,
        timeoutMs,
        ...(deps.signal ? { signal: deps.signal } : {}),
      });
      if (run.exitCode !== 0 || run.cancelled || run.timedOut) {
        const why = run.cancelled
          ? `was cancelled by ${String(deps.signal?.reason ?? "signal")}`
          : run.timedOut
          ? `timed out after ${timeoutMs} ms`
          : `exited with code ${run.exitCode}`;
        throw new AphexError(`${kind} hook #${i + 1} (${run.command}) ${why}`);
      }
    }
  };

  try {
    // 1. checkout and configuration
    const config = await checkoutStage(inputs, { ...deps, log: (line) => log(`[deploy] ${line}`) });
    const target = selectEnvironment(config, inputs.environment);
    outcome.environment = target.name;
    outcome.notDeployed = target.stacks.map((s) => s.name);
    // Workspace boundary (adapters/workspace/boundary.ts): artifacts are downloaded only into a directory this
    // stage creates fresh, so a committed link (`dist/sub -> /elsewhere`) is never written through.
    const artifactsDir = await freshArtifactsDir(inputs.workspace, config.build.artifacts, {
      storeDir: inputs.storeDir,
    });
    const inside = config.build.artifacts;
    const bucket = resolveBucket(inputs, config);
    store ??= await openArtifactStore({
      localRoot: inputs.storeDir,
      ...(bucket ? { bucket } : {}),
      aws: { env: deps.env, ...deps.aws },
    });
    const activeStore = store;
    const where = `environment ${target.name} (aws://${target.account}/${target.region})`;
    log(`[deploy] ${where}; commit ${sha}; artifact store ${activeStore.location}`);

    // 1a. superseded mode: stop here if a newer commit has a run waiting (stages/_supersede_check.ts)
    const supersededBy = supersedeCheck(config, inputs, deps, log, (s) => outcome.superseded = s);
    if (await supersededBy("reaching the environment")) return outcome;

    // 1b. never older over newer (stages/_stale_check.ts)
    const verdict = await checkStaleDeploy(target.name, {
      store: activeStore,
      workspace: inputs.workspace,
      sha,
      ...await repoOptions(inputs, deps),
      log: (line) => log(`[deploy] ${line}`),
    });
    log(`[deploy] ${verdict.message}`);
    if (!verdict.proceed) {
      outcome.stale = verdict;
      return outcome;
    }

    try {
      // 2. artifacts
      const download = await downloadArtifacts(activeStore, sha, artifactsDir);
      if (download.problems.length > 0) {
        throw new AphexError(
          `${download.problems.length} of ${download.count} artifact(s) of ${sha} failed ` +
            `verification; nothing was deployed:\n  ${download.problems.join("\n  ")}`,
        );
      }
      log(`[deploy] ${download.count} artifact(s) downloaded to ${inside} and verified (SHA-256)`);

      // 3. credentials
      const credentials = await resolveDeployCredentials(target, {
        qualifier: config.pipeline.cdkQualifier,
        stsClient: deps.stsClient,
      });
      for (const secret of credentials.secrets) secrets.add(secret);
      redactor = makeRedactor(secrets);
      log(
        `[deploy] acting in account ${credentials.account} as ${
          credentials.assumedRole ?? credentials.callerArn
        }`,
      );
      const childEnv = childEnvironment(deps.env, target, {
        credentials,
        commitSha: sha,
        workspace: inputs.workspace,
      });

      // 4. preDeploy hooks
      await runHooks("preDeploy", target.hooks.preDeploy, childEnv);

      // 5. just-in-time synth, stacks checked against the assembly — or, in the pipeline, the
      // reviewed plan: its change sets are executed by id, nothing is synthesized again.
      const runner = createCdkRunner({ redact, log });
      const cdkCommand = deps.cdkCommand ?? DEFAULT_CDK_COMMAND;
      const plan = new Map<string, PlannedStack>();
      let ordered: DeployStep[];
      if (inputs.fromPlan) {
        const reviewed = await readReviewedPlan(activeStore, sha, target);
        ordered = reviewed.stacks.map((s) => ({ name: s.stackName, reviewed: s }));
        log(
          `[deploy] executing the reviewed plan ${
            activeStore.uriFor(planKey(sha, target.name))
          }: ` +
            summarizePlan(reviewed),
        );
      } else {
        for (const app of await locateCdkApps(inputs.workspace, target.stacks)) {
          const outputDir = await Deno.makeTempDir({ prefix: "aphex-cdk-out-" });
          tempDirs.push(outputDir);
          log(`[deploy] cdk synth in ${relative(inputs.workspace, app.appDir) || "."}`);
          const assembly = await synthesizeApp(app.appDir, {
            account: target.account,
            region: target.region,
            environment: target.name,
            commitSha: sha,
            env: childEnv,
            outputDir,
            runner,
            cdkCommand,
            workspace: inputs.workspace,
          });
          const selected = selectStacks(assembly, app.stacks, {
            expectEnvironment: { account: target.account, region: target.region },
            context: `environment ${target.name}`,
          });
          app.stacks.forEach((name, i) =>
            plan.set(name, { assembly, stack: selected[i]!, appDir: app.appDir })
          );
        }
        ordered = target.stacks.map((s) => {
          const synthesized = plan.get(s.name)!;
          return { name: synthesized.stack.stackName, synthesized };
        });
      }
      outcome.notDeployed = ordered.map((p) => p.name);
      if (await supersededBy("right before deploying")) throw new SupersededSignal();

      // 6. stacks, in configured order; the first failure stops
      cfn = (deps.cloudFormation ?? createCloudFormationClient)({
        region: target.region,
        ...(credentials.credentials ? { credentials: credentials.credentials } : {}),
      });
      const outputsDir = await Deno.makeTempDir({ prefix: "aphex-cdk-outputs-" });
      tempDirs.push(outputsDir);
      // deploy.concurrency stacks at once, each after the stacks it depends on (models/stack_schedule.ts;
      // 1 = the configured order, one by one); the first failure starts nothing new.
      const stackCfn = cfn;
      const stackStep = (step: DeployStep, i: number) =>
        deployStackStep(step, i, {
          cfn: stackCfn,
          ordered,
          outcome,
          log,
          retry,
          recreateFailed: inputs.recreateFailed === true,
          ...(deps.signal ? { signal: deps.signal } : {}),
          clock,
          outputsDir,
          env: childEnv,
          runner,
          cdkCommand,
        });
      try {
        await runInDependencyOrder(ordered, stackStep, {
          concurrency: config.deploy.concurrency,
          key: (p) => p.name,
          // A reviewed plan carries no dependency graph: its stacks wait for every stack before
          // them (the configured order, one by one), never deploy side by side blindly.
          dependsOn: (p) =>
            p.synthesized
              ? transitiveDependencies(p.synthesized.assembly, p.synthesized.stack)
              : ordered.slice(0, ordered.indexOf(p)).map((q) => q.name),
        });
      } finally {
        // In configured order; stacks never started are the ones not deployed.
        const position = new Map(ordered.map((p, i) => [p.name, i]));
        outcome.results.sort((a, b) => position.get(a.stackName)! - position.get(b.stackName)!);
        const attempted = new Set(outcome.results.map((r) => r.stackName));
        outcome.notDeployed = ordered.map((p) => p.name).filter((n) => !attempted.has(n));
      }

      // 7. postDeploy hooks
      await runHooks("postDeploy", target.hooks.postDeploy, childEnv);

      // 8. a reviewed deploy of an environment without tests is good as soon as it succeeded (with
      // tests, the test stage records it once they pass)
      if (inputs.fromPlan && (target.tests?.commands.length ?? 0) === 0) {
        const uri = await writeLastGood(activeStore, target.name, {
          sha,
          time: clock().toISOString(),
          workflow: deps.env.APHEX_WORKFLOW_NAME ?? null,
          stacks: ordered.map((p) => p.name),
        });
        log(`[deploy] ${target.name} last good: ${sha} (${uri})`);
      }
    } catch (e) {
      if (e instanceof AphexError && e.exitCode === ExitCode.Usage) throw e;
      if (e instanceof SupersededSignal) return outcome;
      outcome.exitCode = ExitCode.Failed;
      outcome.failure = redact(describeError(e));
      log(`[deploy] FAILED: ${outcome.failure}`);
    }

    // 8. outputs for the test stage (whenever a stack was attempted)
    if (outcome.results.length > 0) {
      const key = outputsKey(sha, target.name);
      try {
        await activeStore.put(key, JSON.stringify(outcome.outputs, null, 2) + "\n", {
          contentType: "application/json",
        });
        outcome.outputsUri = activeStore.uriFor(key);
        log(`[deploy] stack outputs stored at ${outcome.outputsUri}`);
      } catch (e) {
        const message = `could not store the stack outputs: ${redact(describeError(e))}`;
        log(`[deploy] ${message}`);
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
        await activeStore.put(key, { path: logFile }, { contentType: "text/plain" });
        outcome.logUri = activeStore.uriFor(key);
        deps.log(`[deploy] log uploaded to ${outcome.logUri}`);
      } catch (e) {
        deps.log(`[deploy] could not upload the log: ${redact(describeError(e))}`);
      }
    } else {
      log(`[deploy] environment ${target.name}: ${outcome.results.length} stack(s) deployed`);
      try {
        outcome.currentUri = await recordLiveCommit(activeStore, target.name, {
          sha,
          time: clock(),
          workflow: deps.env.APHEX_WORKFLOW_NAME ?? null,
        });
        log(`[deploy] ${sha} recorded as live in ${outcome.currentUri}`);
      } catch (e) {
        // The stacks are deployed; without the record a later older run could not be refused.
        outcome.exitCode = ExitCode.Failed;
        outcome.failure = `deployed, but the live commit could not be recorded: ${
          redact(describeError(e))
        }`;
        log(`[deploy] ${outcome.failure}`);
      }
    }
    return outcome;
  } finally {
    cfn?.destroy();
    logHandle.close();
    await Deno.remove(logFile).catch(() => {});
    for (const dir of tempDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (ownStore) store?.close();
  }
}

/**
 * The superseded check of this deploy (a function called at each checkpoint): in `queued` mode,
 * or outside a workflow (no `APHEX_WORKFLOW_NAME`: nothing to stop), it never supersedes.
 */
function supersedeCheck(
  config: { pipeline: { executionMode: string; namespace: string; name: string } },
  inputs: DeployInputs,
  deps: DeployDeps,
  log: (line: string) => void,
  found: (s: Superseder) => void,
): (when: string) => Promise<boolean> {
  const workflow = deps.env.APHEX_WORKFLOW_NAME;
  let kube = deps.kube;
  return async (when) => {
    if (config.pipeline.executionMode !== "superseded" || !workflow) return false;
    kube ??= createKubeClient(await loadKubeConfig({ env: deps.env, cwd: inputs.workspace }));
    const by = await findSuperseder({
      kube,
      namespace: config.pipeline.namespace,
      pipeline: config.pipeline.name,
      workflow,
      ref: inputs.branch ?? "",
      sha: inputs.commitSha,
      workspace: inputs.workspace,
      git: await repoOptions(inputs, deps),
      log: (line) => log(`[deploy] ${line}`),
    });
    if (!by) {
      log(`[deploy] ${when}: no newer commit of ${inputs.branch ?? "the branch"} is waiting`);
      return false;
    }
    found(by);
    log(
      `[deploy] SUPERSEDED ${when}: commit ${by.sha} (run ${by.workflow}) is newer and waiting; ` +
        "this run stops here without deploying",
    );
    return true;
  };
}

/** Repository options of the stale check (the same remote and token as the checkout). */
async function repoOptions(inputs: DeployInputs, deps: DeployDeps) {
  const repoUrl = await resolveRepoUrl(inputs);
  const token = deps.env[GITHUB_TOKEN_ENV];
  return {
    ...(repoUrl ? { repoUrl } : {}),
    ...(inputs.branch ? { branch: inputs.branch } : {}),
    ...(token ? { token } : {}),
    ...(deps.allowFileUrls ? { allowFileUrls: true } : {}),
    ...(deps.git ? { git: deps.git } : {}),
    env: deps.env,
  };
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

export { DEFAULT_HOOK_TIMEOUT_MS };

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
