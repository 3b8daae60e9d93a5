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
 * The steps after build come from {@linkcode pipelineSteps}, the sequence the WorkflowTemplate's
 * DAG is generated from, so local and cluster runs cannot drift. Each stage is the stage's own
 * `run<Stage>` function; nothing is uploaded to S3 (the local store is used even when the
 * configuration names an artifact bucket) and the cluster is never contacted.
 *
 * Exit code: that of the first failing stage (1 or 2), 0 when everything run succeeded, 130 (143)
 * when stopped by Ctrl-C (SIGTERM); usage
 * and configuration errors found before any stage runs exit 2.
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
import type { AphexConfig, EnvironmentConfig } from "../models/config.ts";
import { AphexError, describeError, ExitCode, usageError } from "../models/errors.ts";
import { buildTopology, pipelineSteps, type StepKind } from "../templates/topology.ts";
import { LocalArtifactStore, metadataKey } from "../adapters/store/artifacts.ts";
import { createCdkRunner, DEFAULT_CDK_COMMAND } from "../adapters/cdk/cli.ts";
import type { GitRunner } from "../adapters/git/checkout.ts";
// The AWS SDK and the deploy stage are loaded only when a step talks to AWS.
import type { StsClientFactory } from "../adapters/aws/credentials.ts";
import { makeRedactor, secretValuesFromEnv } from "../adapters/process/exec.ts";
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
import { CDK_COMMAND_OPTION } from "../command/workspace_inputs.ts";
import {
  formatSynthOutcome,
  runSynth,
  type SynthCache,
  synthCacheKey,
  type SynthEnvironment,
} from "./synth.ts";
import { runTests } from "./test.ts";

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

/** Status of one step in the summary. */
export type LocalStepStatus = "ok" | "failed" | "skipped";

/** One row of the summary. */
export interface LocalStepSummary {
  /** Step name: `preflight`, `build`, `pipeline-update`, `synth-<env>`, `approve-<env>`, … */
  stage: string;
  /** Kind of step. */
  kind: "preflight" | "synth" | StepKind;
  /** Environment of per-environment steps. */
  environment?: string;
  /** What happened. */
  status: LocalStepStatus;
  /** Exit code of a failed step (1 or 2). */
  exitCode?: number;
  /** Wall time in milliseconds (0 for skipped steps). */
  durationMs: number;
  /** Why it failed or was skipped, or what it did. */
  note: string;
  /** Synth steps: CloudFormation stack names in deploy order. */
  stacks?: string[];
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

interface PlannedStep {
  stage: string;
  kind: LocalStepSummary["kind"];
  env?: EnvironmentConfig;
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.trim();
}

const ABORTED = Symbol("aborted");

/** `promise`, or {@linkcode ABORTED} as soon as `signal` fires (a prompt must not block Ctrl-C). */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T | typeof ABORTED> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.resolve(ABORTED);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() =>
    signal.removeEventListener("abort", onAbort!)
  );
}

/** Formats a duration as `3.2s`. */
export function formatDuration(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Renders the summary table (stage, status, duration, note) shown at the end of a run. */
export function formatSummary(outcome: Pick<RunLocalOutcome, "steps" | "exitCode">): string {
  const header = ["stage", "status", "duration", "note"];
  const rows = outcome.steps.map((s) => [
    s.stage,
    s.status,
    s.status === "skipped" ? "-" : formatDuration(s.durationMs),
    s.note,
  ]);
  const widths = [0, 1, 2].map((i) =>
    Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length))
  );
  const line = (r: string[]) =>
    r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join("  ").trimEnd();
  return [
    line(header),
    line(widths.map((w) => "-".repeat(w)).concat("----")),
    ...rows.map(line),
    "",
    `exit code ${outcome.exitCode}`,
    "",
  ].join("\n");
}

function plan(config: AphexConfig, selected: EnvironmentConfig[]): PlannedStep[] {
  const byName = new Map(selected.map((e) => [e.name, e]));
  const steps: PlannedStep[] = [{ stage: "preflight", kind: "preflight" }];
  const topology = buildTopology({ ...config, environments: selected });
  const synthesized = new Set<string>();
  for (const step of pipelineSteps(topology)) {
    // A local run stops at the first failure: the pipeline's rollback after failed tests is
    // `aphex rollback` here.
    if (step.kind === "rollback") continue;
    const env = step.env === undefined ? undefined : byName.get(step.env);
    if (env && !synthesized.has(env.name)) {
      synthesized.add(env.name);
      steps.push({ stage: `synth-${env.name}`, kind: "synth", env });
    }
    steps.push({ stage: step.name, kind: step.kind, ...(env ? { env } : {}) });
  }
  return steps;
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
  const synthResults = new Map<string, SynthEnvironment>();
  const steps: LocalStepSummary[] = [];
  let exitCode: number = ExitCode.Ok;
  let stopReason: string | undefined;
  const plans = new Map<string, { approve: boolean; summary: string }>();

  const runStep = async (
    planned: PlannedStep,
    skip: string | undefined,
    body?: () => Promise<
      { status: LocalStepStatus; note: string; exitCode?: number; stacks?: string[] }
    >,
  ) => {
    const base = {
      stage: planned.stage,
      kind: planned.kind,
      ...(planned.env ? { environment: planned.env.name } : {}),
    };
    if (stopReason === undefined && deps.signal?.aborted) {
      stopReason = `not run: cancelled by ${String(deps.signal.reason ?? "signal")}`;
      if (exitCode === ExitCode.Ok) exitCode = ExitCode.Failed;
    }
    const skipped = stopReason ?? skip;
    if (skipped !== undefined || body === undefined) {
      steps.push({ ...base, status: "skipped", durationMs: 0, note: skipped ?? "" });
      progress(`○ ${planned.stage} skipped: ${skipped ?? ""}`);
      return;
    }
    progress(`▶ ${planned.stage}`);
    const t0 = performance.now();
    let result;
    try {
      result = await body();
    } catch (e) {
      result = {
        status: "failed" as const,
        note: redact(firstLine(describeError(e))),
        exitCode: e instanceof AphexError ? e.exitCode : ExitCode.Failed,
      };
      if (!(e instanceof AphexError)) {
        log(`[run] ${redact(e instanceof Error ? e.stack ?? "" : "")}`);
      }
    }
    const durationMs = result.status === "skipped" ? 0 : Math.round(performance.now() - t0);
    const summary: LocalStepSummary = { ...base, ...result, durationMs };
    steps.push(summary);
    if (result.status === "failed") {
      const code = result.exitCode === ExitCode.Usage ? ExitCode.Usage : ExitCode.Failed;
      summary.exitCode = code;
      if (exitCode === ExitCode.Ok) exitCode = code;
      stopReason = `not run: ${planned.stage} failed`;
      progress(`✖ ${planned.stage} ${formatDuration(durationMs)}: ${result.note}`);
    } else if (result.status === "skipped") {
      progress(`○ ${planned.stage} skipped: ${result.note}`);
    } else {
      progress(`✔ ${planned.stage} ${formatDuration(durationMs)}`);
    }
  };

  const awsSkipReason = (): string | undefined => {
    const reasons = [
      inputs.deploy ? "" : "no --deploy",
      credentials.available ? "" : "no AWS credentials",
    ].filter(Boolean);
    return reasons.length > 0 ? reasons.join("; ") : undefined;
  };

  try {
    for (const step of plan(config, selected)) {
      const env = step.env;
      switch (step.kind) {
        case "preflight":
          await runStep(step, undefined, async () => {
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
          await runStep(step, undefined, async () => {
            const outcome = await runBuild(stageInputs, {
              env: deps.env,
              log,
              store,
              ...(deps.signal ? { signal: deps.signal } : {}),
              ...(deps.git ? { git: deps.git } : {}),
            });
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
          await runStep(step, "local run: the pipeline stack and the cluster are not touched");
          break;
        case "synth":
          await runStep(step, undefined, async () => {
            const outcome = await runSynth(
              { workspace, configFile, environment: env!.name },
              { env: deps.env, log, cdkCommand, cache, commitSha: head },
            );
            const result = outcome.environments[0]!;
            synthResults.set(env!.name, result);
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
              diff = await diffEnvironment(env!, result, {
                workspace,
                config,
                commitSha: head,
                cdkCommand,
                cache,
                deps,
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
          await runStep(step, awsSkipReason(), async () => {
            const { runPlan } = await import("./plan.ts");
            const outcome = await runPlan({ ...stageInputs, environment: env!.name }, {
              env: deps.env,
              log,
              store,
              cdkCommand,
              ...(deps.stsClient ? { stsClient: deps.stsClient } : {}),
              ...(deps.signal ? { signal: deps.signal } : {}),
              ...(deps.git ? { git: deps.git } : {}),
            });
            if (outcome.exitCode !== ExitCode.Ok) {
              return {
                status: "failed",
                exitCode: outcome.exitCode,
                note: firstLine(outcome.failure ?? "plan failed"),
              };
            }
            plans.set(env!.name, { approve: outcome.approve, summary: outcome.summary });
            return { status: "ok", note: outcome.summary };
          });
          break;
        case "approval":
          await runStep(step, awsSkipReason(), async () => {
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
            stopReason = `not run: ${step.stage} not given`;
            return {
              status: "skipped",
              note: answer === false
                ? "declined; the run stops here"
                : "approval needed but stdin is not a terminal (pass --yes); the run stops here",
            };
          });
          break;
        case "deploy":
          await runStep(step, awsSkipReason(), async () => {
            const { runDeploy } = await import("./deploy.ts");
            // Exactly the change sets the plan step prepared (and the gate showed).
            const outcome = await runDeploy({
              ...stageInputs,
              environment: env!.name,
              fromPlan: true,
            }, {
              env: deps.env,
              log,
              store,
              cdkCommand,
              ...(deps.stsClient ? { stsClient: deps.stsClient } : {}),
              ...(deps.signal ? { signal: deps.signal } : {}),
              ...(deps.git ? { git: deps.git } : {}),
            });
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
          });
          break;
        case "test":
          await runStep(step, awsSkipReason(), async () => {
            const outcome = await runTests({ ...stageInputs, environment: env!.name }, {
              env: deps.env,
              log,
              store,
              ...(deps.signal ? { signal: deps.signal } : {}),
              ...(deps.git ? { git: deps.git } : {}),
            });
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
          });
          break;
      }
    }
  } finally {
    for (const dir of cache.dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    store.close();
  }
  if (deps.signal?.aborted) {
    // Stopped by Ctrl-C or SIGTERM: the summary says what the process exits with (130 / 143).
    exitCode = deps.signal.reason === "SIGTERM" ? 143 : 130;
  }
  return {
    exitCode,
    commitSha: head,
    dirty,
    store: storeDir,
    credentials,
    environments: selected.map((e) => e.name),
    steps,
  };
}

/**
 * `cdk diff` of an environment's configured stacks against its account, from the assemblies the
 * synth step produced (no second synth). Returns the summary note; a failure to diff is reported
 * in the note (the diff is informational, the deploy stage checks again).
 */
async function diffEnvironment(
  env: EnvironmentConfig,
  synth: SynthEnvironment,
  ctx: {
    workspace: string;
    config: AphexConfig;
    commitSha: string;
    cdkCommand: readonly string[];
    cache: SynthCache;
    deps: RunLocalDeps;
  },
): Promise<string> {
  const { deps } = ctx;
  const [{ resolveDeployCredentials }, { childEnvironment }] = await Promise.all([
    import("../adapters/aws/credentials.ts"),
    import("../adapters/cdk/environment.ts"),
  ]);
  let credentials;
  try {
    credentials = await resolveDeployCredentials(env, {
      qualifier: ctx.config.pipeline.cdkQualifier,
      stsClient: deps.stsClient,
    });
  } catch (e) {
    const why = firstLine(describeError(e));
    deps.log(`[diff] ${env.name}: skipped: ${why}`);
    return `diff skipped: ${why}`;
  }
  const redact = makeRedactor([...secretValuesFromEnv(deps.env), ...credentials.secrets]);
  const runner = createCdkRunner({ redact, log: deps.log });
  const childEnv = childEnvironment(deps.env, env, {
    credentials,
    commitSha: ctx.commitSha,
    workspace: ctx.workspace,
  });
  const [bin, ...prefix] = ctx.cdkCommand;
  const apps = new Map<string, string[]>();
  for (const s of synth.stacks) apps.set(s.app, [...(apps.get(s.app) ?? []), s.displayName]);
  const failures: string[] = [];
  for (const [app, names] of apps) {
    const appDir = resolve(ctx.workspace, app);
    const assembly = await ctx.cache.assemblies.get(
      synthCacheKey(appDir, { environment: env.name, account: env.account, region: env.region }),
    );
    if (!assembly) {
      failures.push(`${app}: no assembly`);
      continue;
    }
    const result = await runner({
      bin: bin!,
      args: [
        ...prefix,
        "diff",
        "--app",
        assembly.dir,
        "--exclusively",
        "--no-notices",
        ...names,
      ],
      cwd: appDir,
      env: childEnv,
      label: `diff/${env.name}`,
    });
    if (result.exitCode !== 0) failures.push(`${app}: cdk diff exited with ${result.exitCode}`);
  }
  return failures.length > 0
    ? `diff failed (${failures.join("; ")}); see the output above`
    : `diffed against aws://${env.account}/${env.region}`;
}

/** Reads one line from the terminal's stdin (the approval prompt). */
async function readTerminalLine(): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(256);
  let text = "";
  while (!text.includes("\n")) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return text.trim();
}

/** Dependencies of {@linkcode createRunCommand} that tests replace. */
export type RunCommandOverrides = Pick<
  RunLocalDeps,
  "detectCredentials" | "stsClient" | "confirm" | "git"
>;

/** Builds the `aphex run` command; tests inject the credential check (never reaching AWS). */
export function createRunCommand(overrides: RunCommandOverrides = {}): Command {
  return {
    spec: {
      name: "run",
      summary:
        "Run the pipeline's stages on the local checkout (--local): build, synth/diff, deploy",
      description:
        "Runs the WorkflowTemplate's stage sequence on the local checkout: preflight, build " +
        `(artifacts into <workspace>/${LOCAL_STORE_DIR}; the commit is HEAD; a dirty tree is ` +
        "built as it is), then per environment synth and what would be deployed (cdk diff when " +
        "AWS credentials exist, else the stack list), and with --deploy the approval gates, " +
        "deploy and tests. Without AWS credentials build and synth still run and the summary " +
        "says what was skipped. Never contacts the cluster, never uploads to S3. Cluster runs " +
        "are started by the Sensor (a push) or `argo submit`. Exit code: the first failing " +
        "stage's (1 or 2), else 0.",
      options: {
        local: {
          type: "boolean",
          description: "Run locally (required; cluster runs are started by the Sensor)",
        },
        env: {
          type: "string",
          description: "Environment to run (default: all, in configured order)",
          multiple: true,
          valueName: "NAME",
        },
        deploy: {
          type: "boolean",
          description: "Also deploy and test (needs AWS credentials); default: stop at synth/diff",
        },
        yes: {
          type: "boolean",
          short: "y",
          description: "Approve approval gates without asking (needed when stdin is no terminal)",
        },
        workspace: {
          type: "string",
          description: "Repository checkout (top of the git work tree; default: the enclosing " +
            "git repository's top level)",
          env: "APHEX_WORKSPACE",
          valueName: "DIR",
        },
        config: {
          type: "string",
          description: "Configuration file, relative to the workspace",
          env: "APHEX_CONFIG",
          default: DEFAULT_CONFIG_FILE,
          valueName: "FILE",
        },
        "commit-sha": {
          type: "string",
          description: "Check this (local) commit out first; default: the workspace as it is",
          valueName: "SHA",
        },
        "cdk-command": CDK_COMMAND_OPTION,
        json: { type: "boolean", description: "Print the summary as JSON on stdout" },
      },
    },
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
      const confirm = overrides.confirm ?? (async (question: string) => {
        if (!Deno.stdin.isTerminal()) return undefined;
        ctx.stderr(question);
        return /^y(es)?$/i.test(await readTerminalLine());
      });
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
