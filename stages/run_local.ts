/**
 * `aphex run --local` (also `deno run -A stages/run_local.ts --local`): the WorkflowTemplate's
 * stage sequence on the local checkout, before anything is pushed.
 *
 * preflight → build (artifacts into the local store `<workspace>/.aphex/store`, commit = the
 * workspace's HEAD, a dirty tree is reported and still built) → pipeline-update (never: a local
 * run does not contact the cluster) → per selected environment, in configured order: synth and
 * what would be deployed (`cdk diff` against the account when AWS credentials exist, else the
 * synthesized stack list in deploy order) → with `--deploy` only: approval, deploy, tests.
 *
 * The steps after build come from `pipelineSteps`, the sequence the WorkflowTemplate's DAG is
 * generated from, so local and cluster runs cannot drift (the plan and the summary table:
 * `_run_local_plan.ts`; skipping after a failure, timing and progress lines: `_run_local_steps.ts`;
 * the `cdk diff`: `_run_local_diff.ts`). Each stage is the stage's own `run<Stage>` function;
 * nothing is uploaded to S3 (the local store is used even when the configuration names an
 * artifact bucket) and the cluster is never contacted.
 *
 * Exit code: that of the first failing stage (1 or 2), 0 when everything run succeeded, 130 (143)
 * when stopped by Ctrl-C (SIGTERM); usage and configuration errors found before any stage runs
 * exit 2.
 * @module
 */
import { join, resolve } from "node:path";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import { DEFAULT_CONFIG_FILE } from "../command/config_file.ts";
import { AphexError, ExitCode, firstLine, usageError } from "../models/errors.ts";
import { LocalArtifactStore } from "../adapters/store/local_store.ts";
import { metadataKey } from "../adapters/store/artifact_store.ts";
import { DEFAULT_CDK_COMMAND } from "../adapters/cdk/cli.ts";
import type { GitRunner } from "../adapters/git/checkout.ts";
// The AWS SDK and the deploy stage are loaded only when a step talks to AWS.
import type { StsClientFactory } from "../adapters/aws/credentials.ts";
import { makeRedactor, secretValuesFromEnv } from "../adapters/process/exec.ts";
import { askYesNo } from "../adapters/process/terminal.ts";
import {
  loadStageConfig,
  LOCAL_STORE_DIR,
  resolveWorkspace,
  selectEnvironment,
  type StageInputs,
  withTerminationSignal,
} from "../command/stage_runtime.ts";
import { type CredentialCheck, detectAwsCredentials } from "../adapters/aws/caller_identity.ts";
import { prepareWorkspace } from "../adapters/git/local_checkout.ts";
import { runBuild } from "./build.ts";
import { formatProblem, runPreflight } from "./preflight.ts";
import { parseCdkCommand } from "../adapters/cdk/app.ts";
import { formatSynthOutcome, runSynth, type SynthCache, synthCacheKey } from "./synth.ts";
import { runTests } from "./test.ts";
import { diffEnvironment } from "./_run_local_diff.ts";
import { spec } from "./run_local_spec.ts";
import { formatSummary, type LocalStepSummary, planLocalRun } from "./_run_local_plan.ts";
import { ABORTED, LocalStepRunner, untilAborted } from "./_run_local_steps.ts";

/** Inputs of {@linkcode runLocal}. */
export interface RunLocalInputs {
  /** Repository checkout (absolute; must be the top of a git work tree). */
  workspace: string;
  /** Config file, absolute or relative to the workspace (default `aphex-config.yaml`). */
  configFile?: string;
  /** Environments to run (default: all), run in configured order whatever the order given. */
  environments?: string[];
  /** Deploy and test (`--deploy`); without it the run stops at synth/diff. */
  deploy?: boolean;
  /** Approve every approval gate without asking (`--yes`). */
  yes?: boolean;
  /** Commit to check out first (locally; refused on a dirty tree). Default: the workspace as is. */
  commitSha?: string;
  /** Command running the project's CDK CLI (default `npx --no-install cdk`). */
  cdkCommand?: readonly string[];
}

export { type CredentialCheck, detectAwsCredentials, prepareWorkspace };

/** Injected dependencies of {@linkcode runLocal}. */
export interface RunLocalDeps {
  /** Environment of the stages (PATH, HOME, AWS settings…). */
  env: Record<string, string | undefined>;
  /** Stage output, one line per call (stderr). */
  log: (line: string) => void;
  /** Progress lines (`▶ build`, `✔ build 3.2s`); default {@linkcode RunLocalDeps.log}. */
  progress?: (line: string) => void;
  /** Credential detection (default {@linkcode detectAwsCredentials}); tests inject it. */
  detectCredentials?: (region: string) => Promise<CredentialCheck>;
  /** STS client factory for preflight, diff and deploy (default: bounded clients). */
  stsClient?: StsClientFactory;
  /**
   * Asks a yes/no question on the terminal; resolves undefined when stdin is not a terminal.
   * Default: no terminal (an approval gate then stops the run unless `yes`).
   */
  confirm?: (question: string) => Promise<boolean | undefined>;
  /** Aborts the running stage (SIGTERM/SIGINT); later stages are not started. */
  signal?: AbortSignal;
  /** Git runner (tests). */
  git?: GitRunner;
}

/** What {@linkcode runLocal} did. */
export interface RunLocalOutcome {
  /** Exit code of the first failing step, else 0. */
  exitCode: number;
  /** The commit run (the workspace's HEAD). */
  commitSha: string;
  /** Whether the work tree had uncommitted changes (`.aphex/` ignored). */
  dirty: boolean;
  /** Local artifact store directory. */
  store: string;
  /** Credential detection result. */
  credentials: CredentialCheck;
  /** Environments run, in order. */
  environments: string[];
  /** Every step in order, including the skipped ones. */
  steps: LocalStepSummary[];
}

/**
 * Runs the pipeline locally (see the module documentation). Every stage's output is streamed
 * through `deps.log`; progress lines through `deps.progress`. Stages after a failure are reported
 * as skipped ("not run: <stage> failed").
 *
 * @throws {AphexError} exit 2, before any stage runs, for an invalid configuration, an unknown
 * environment or a workspace that is not a git checkout.
 */
export async function runLocal(
  inputs: RunLocalInputs,
  deps: RunLocalDeps,
): Promise<RunLocalOutcome> {
  const log = deps.log;
  const progress = deps.progress ?? log;
  const workspace = resolve(inputs.workspace);
  const configFile = inputs.configFile ?? DEFAULT_CONFIG_FILE;
  const cdkCommand = inputs.cdkCommand ?? DEFAULT_CDK_COMMAND;
  const redact = makeRedactor(secretValuesFromEnv(deps.env));

  const { head, dirty, changes } = await prepareWorkspace(workspace, {
    env: deps.env,
    log,
    ...(inputs.commitSha ? { commitSha: inputs.commitSha } : {}),
    ...(deps.git ? { git: deps.git } : {}),
  });
  const config = await loadStageConfig({ workspace, configFile }, { checkPaths: true });
  const wanted = new Set(
    (inputs.environments ?? []).map((name) => selectEnvironment(config, name).name),
  );
  const selected = wanted.size === 0
    ? config.environments
    : config.environments.filter((e) => wanted.has(e.name));

  const storeDir = join(workspace, LOCAL_STORE_DIR);
  const store = new LocalArtifactStore(storeDir);
  const stageInputs: StageInputs = {
    workspace,
    commitSha: head,
    configFile,
    storeDir,
    outputsDir: join(workspace, ".aphex", "outputs"),
  };
  // What build, plan, deploy and test are given (plan and deploy also talk to AWS).
  const stageDeps = {
    env: deps.env,
    log,
    store,
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.git ? { git: deps.git } : {}),
  };
  const awsStageDeps = {
    ...stageDeps,
    cdkCommand,
    ...(deps.stsClient ? { stsClient: deps.stsClient } : {}),
  };
  log(
    `[run] local run of ${head}${
      dirty ? ` with ${changes} uncommitted change(s) (built as they are, stored under HEAD)` : ""
    }; environments: ${selected.map((e) => e.name).join(", ") || "(none)"}`,
  );
  log(`[run] artifact store: ${storeDir} (local only; nothing is uploaded to S3)`);
  if (config.pipeline.artifactBucket) {
    log(
      `[run] pipeline.artifactBucket ${config.pipeline.artifactBucket} is not used by a local ` +
        "run: artifacts stay in the local store",
    );
  }
  log("[run] the cluster is never contacted: pipeline-update does not run locally");

  log("[run] checking AWS credentials (sts:GetCallerIdentity on the default chain)");
  const region = selected[0]?.region ?? config.environments[0]?.region ?? "us-east-1";
  const credentials = await (deps.detectCredentials ??
    ((r: string) => detectAwsCredentials(r, deps.stsClient ? { stsClient: deps.stsClient } : {})))(
      region,
    );
  if (credentials.available) {
    log(`[run] AWS credentials: ${credentials.arn} (account ${credentials.account})`);
  } else {
    log(
      `[run] no AWS credentials (${redact(credentials.reason)}): the AWS checks of preflight, ` +
        "cdk diff" + (inputs.deploy ? ", deploy and tests" : "") + " are SKIPPED",
    );
    if (inputs.deploy) {
      // Deploying was asked for and cannot happen: refuse before any stage runs instead of
      // building, skipping the deployments and reporting success.
      store.close();
      throw new AphexError(
        `--deploy needs AWS credentials, and none were found (${redact(credentials.reason)}). ` +
          "Configure credentials (AWS_PROFILE, `aws sso login`, …) or run without --deploy to " +
          "build, synthesize and list what would be deployed.",
        { exitCode: ExitCode.Failed },
      );
    }
  }

  const cache: SynthCache = { assemblies: new Map(), dirs: [] };
  const plans = new Map<string, { approve: boolean; summary: string }>();
  const runner = new LocalStepRunner({
    log,
    progress,
    redact,
    ...(deps.signal ? { signal: deps.signal } : {}),
  });

  const awsSkipReason = (): string | undefined => {
    const reasons = [
      inputs.deploy ? "" : "no --deploy",
      credentials.available ? "" : "no AWS credentials",
    ].filter(Boolean);
    return reasons.length > 0 ? reasons.join("; ") : undefined;
  };

  try {
    for (const step of planLocalRun(config, selected)) {
      const env = step.env;
      switch (step.kind) {
        case "preflight":
          await runner.run(step, async () => {
            const skipAws = !credentials.available;
            const names = selected.length === config.environments.length
              ? [undefined]
              : selected.map((e) => e.name);
            const problems: string[] = [];
            let passed = 0;
            for (const environment of names) {
              const report = await runPreflight(
                { workspace, configFile, ...(environment ? { environment } : {}), skipAws },
                {
                  env: deps.env,
                  log,
                  ...(deps.stsClient ? { stsClient: deps.stsClient } : {}),
                  ...(deps.git ? { git: deps.git } : {}),
                },
              );
              passed += report.passed.length;
              problems.push(...report.problems.map(formatProblem));
            }
            const skipped = skipAws ? "; AWS checks skipped (no AWS credentials)" : "";
            if (problems.length > 0) {
              return {
                status: "failed",
                exitCode: ExitCode.Failed,
                note: `${problems.length} problem(s): ${problems[0]}${skipped}`,
              };
            }
            return { status: "ok", note: `${passed} check(s) passed${skipped}` };
          });
          break;
        case "build":
          await runner.run(step, async () => {
            const outcome = await runBuild(stageInputs, stageDeps);
            if (outcome.exitCode !== ExitCode.Ok) {
              return {
                status: "failed",
                exitCode: outcome.exitCode,
                note: outcome.failure ?? "build failed",
              };
            }
            return {
              status: "ok",
              note:
                `${outcome.artifacts.length} artifact(s); ${LOCAL_STORE_DIR}/${metadataKey(head)}` +
                (dirty ? " (uncommitted changes included)" : ""),
            };
          });
          break;
        case "pipeline-update":
          await runner.skip(step, "local run: the pipeline stack and the cluster are not touched");
          break;
        case "synth":
          await runner.run(step, async () => {
            const outcome = await runSynth(
              { workspace, configFile, environment: env!.name },
              { env: deps.env, log, cdkCommand, cache, commitSha: head },
            );
            const result = outcome.environments[0]!;
            if (outcome.exitCode !== ExitCode.Ok || result.error) {
              return {
                status: "failed",
                exitCode: outcome.exitCode === ExitCode.Ok ? ExitCode.Failed : outcome.exitCode,
                note: firstLine(result.error ?? "synth failed"),
              };
            }
            for (const line of formatSynthOutcome(outcome).trimEnd().split("\n")) {
              log(`[synth] ${line}`);
            }
            const stacks = result.stacks.map((s) => s.stackName);
            let diff: string;
            if (!credentials.available) {
              diff = "diff skipped: no AWS credentials";
              log(`[synth] ${env!.name}: ${diff}; would deploy, in order: ${stacks.join(", ")}`);
            } else {
              diff = await diffEnvironment(env!, {
                workspace,
                commitSha: head,
                qualifier: config.pipeline.cdkQualifier,
                cdkCommand,
                stacks: result.stacks,
                assembly: (appDir) =>
                  cache.assemblies.get(
                    synthCacheKey(appDir, {
                      environment: env!.name,
                      account: env!.account,
                      region: env!.region,
                    }),
                  ),
                env: deps.env,
                log,
                ...(deps.stsClient ? { stsClient: deps.stsClient } : {}),
              });
            }
            return {
              status: "ok",
              note: `${stacks.length} stack(s): ${stacks.join(", ")}; ${diff}`,
              stacks,
            };
          });
          break;
        case "plan":
          await runner.run(step, async () => {
            const { runPlan } = await import("./plan.ts");
            const outcome = await runPlan({ ...stageInputs, environment: env!.name }, awsStageDeps);
            if (outcome.exitCode !== ExitCode.Ok) {
              return {
                status: "failed",
                exitCode: outcome.exitCode,
                note: firstLine(outcome.failure ?? "plan failed"),
              };
            }
            plans.set(env!.name, { approve: outcome.approve, summary: outcome.summary });
            return { status: "ok", note: outcome.summary };
          }, { skip: awsSkipReason() });
          break;
        case "approval":
          await runner.run(step, async () => {
            const planned = plans.get(env!.name);
            if (planned && !planned.approve) {
              return { status: "ok", note: `not needed: ${planned.summary}` };
            }
            if (inputs.yes) return { status: "ok", note: "approved by --yes" };
            const asked = (deps.confirm ?? (() => Promise.resolve(undefined)))(
              `Deploy to ${env!.name} (aws://${env!.account}/${env!.region})${
                planned ? `: ${planned.summary}` : ""
              }? [y/N] `,
            );
            const answer = await untilAborted(asked, deps.signal);
            if (answer === ABORTED) {
              throw new AphexError(`cancelled by ${String(deps.signal?.reason ?? "signal")}`);
            }
            if (answer === true) return { status: "ok", note: "approved" };
            runner.stop(`not run: ${step.stage} not given`);
            return {
              status: "skipped",
              note: answer === false
                ? "declined; the run stops here"
                : "approval needed but stdin is not a terminal (pass --yes); the run stops here",
            };
          }, { skip: awsSkipReason() });
          break;
        case "deploy":
          await runner.run(step, async () => {
            const { runDeploy } = await import("./deploy.ts");
            // Exactly the change sets the plan step prepared (and the gate showed).
            const outcome = await runDeploy(
              { ...stageInputs, environment: env!.name, fromPlan: true },
              awsStageDeps,
            );
            if (outcome.exitCode !== ExitCode.Ok) {
              return {
                status: "failed",
                exitCode: outcome.exitCode,
                note: firstLine(outcome.failure ?? "deploy failed"),
              };
            }
            return {
              status: "ok",
              note: `${outcome.results.length} stack(s) deployed`,
            };
          }, { skip: awsSkipReason() });
          break;
        case "test":
          await runner.run(step, async () => {
            const outcome = await runTests({ ...stageInputs, environment: env!.name }, stageDeps);
            const r = outcome.document.result;
            const counts = `${r.passedCount}/${r.testCount} passed`;
            if (outcome.exitCode !== ExitCode.Ok) {
              return {
                status: "failed",
                exitCode: outcome.exitCode,
                note: `${counts}; ${firstLine(outcome.failure ?? "tests failed")}`,
              };
            }
            return { status: "ok", note: counts };
          }, { skip: awsSkipReason() });
          break;
      }
    }
  } finally {
    for (const dir of cache.dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    store.close();
  }
  // Stopped by Ctrl-C or SIGTERM: the summary says what the process exits with (130 / 143).
  const stopped = deps.signal?.aborted ? (deps.signal.reason === "SIGTERM" ? 143 : 130) : undefined;
  return {
    exitCode: stopped ?? runner.exitCode,
    commitSha: head,
    dirty,
    store: storeDir,
    credentials,
    environments: selected.map((e) => e.name),
    steps: runner.steps,
  };
}

/** Dependencies of {@linkcode createRunCommand} that tests replace. */
export type RunCommandOverrides = Pick<
  RunLocalDeps,
  "detectCredentials" | "stsClient" | "confirm" | "git"
>;

/** Builds the `aphex run` command; tests inject the credential check (never reaching AWS). */
export function createRunCommand(overrides: RunCommandOverrides = {}): Command {
  return {
    spec,
    async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
      if (values.local !== true) {
        throw usageError(
          "aphex run needs --local: it runs the pipeline on this checkout. Cluster runs are " +
            "started by the Sensor when you push, or with `argo submit --from " +
            "workflowtemplate/<pipeline>`.",
        );
      }
      const envs = Array.isArray(values.env) ? values.env : [];
      const inputs: RunLocalInputs = {
        workspace: resolveWorkspace(values, { cwd: ctx.cwd }),
        configFile: str(values, "config") ?? DEFAULT_CONFIG_FILE,
        environments: envs,
        deploy: values.deploy === true,
        yes: values.yes === true,
        cdkCommand: parseCdkCommand(str(values, "cdk-command")),
      };
      const sha = str(values, "commit-sha");
      if (sha) inputs.commitSha = sha;
      const confirm = overrides.confirm ??
        ((question: string) => askYesNo(question, { write: (text) => ctx.stderr(text) }));
      const outcome = await withTerminationSignal((signal) =>
        runLocal(inputs, {
          env: ctx.env,
          log: (line) => ctx.stderr(line + "\n"),
          signal,
          confirm,
          ...(overrides.detectCredentials
            ? { detectCredentials: overrides.detectCredentials }
            : {}),
          ...(overrides.stsClient ? { stsClient: overrides.stsClient } : {}),
          ...(overrides.git ? { git: overrides.git } : {}),
        })
      );
      ctx.stderr("\n" + formatSummary(outcome));
      if (values.json === true) ctx.stdout(JSON.stringify(outcome) + "\n");
      return outcome.exitCode;
    },
  };
}

/** `aphex run --local`. */
export const command: Command = createRunCommand();

if (import.meta.main) await runMain(command);
