/**
 * The stage runtime: the shared option table (flags with `APHEX_*` env fallbacks, DESIGN.md "Stage
 * contract"), input resolution and validation, config loading from the workspace, Argo output
 * parameter files, and SIGTERM/SIGINT handling for the CLI entry.
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { CommandContext, OptionSpec, OptionValues } from "./contract.ts";
import { noteTerminationSignal, str } from "./contract.ts";
import { DEFAULT_CONFIG_FILE, loadConfigFile } from "./config_file.ts";
import { type AphexConfig, type EnvironmentConfig, findEnvironment } from "../models/config.ts";
import { AphexError, usageError } from "../models/errors.ts";
import {
  checkoutCommit,
  type GitRemoteOptions,
  type GitRunner,
  validateCommitSha,
} from "../adapters/git/checkout.ts";
import type { ArtifactStore } from "../adapters/store/artifact_store.ts";
import type { AwsClientOptions } from "../adapters/aws/clients.ts";
import { openArtifactStore } from "../adapters/store/artifacts.ts";
import {
  logFormatFromEnv,
  type StageBodyOutcome,
  withStageRecord,
} from "../adapters/store/stage_records.ts";
import { assertWritableDir } from "../adapters/workspace/boundary.ts";

/** Default workspace inside the workflow pod. */
export const DEFAULT_WORKSPACE = "/workspace";

/** Help text of the workspace default, shared by every command with `--workspace`. */
export const WORKSPACE_DEFAULT_HELP =
  `${DEFAULT_WORKSPACE} in a pod, else the enclosing git repository's top level`;

/**
 * The top of the git work tree holding `dir` (the nearest ancestor with a `.git` entry), else
 * undefined. Reads the file system only; no git process.
 */
export function gitTopLevel(dir: string): string | undefined {
  for (let d = resolve(dir);; d = dirname(d)) {
    if (existsSync(join(d, ".git"))) return d;
    if (dirname(d) === d) return undefined;
  }
}

/**
 * The workspace when neither `--workspace` nor `APHEX_WORKSPACE` is given: {@linkcode
 * DEFAULT_WORKSPACE} inside a Kubernetes pod (`KUBERNETES_SERVICE_HOST` set), else, on a laptop,
 * the enclosing git repository's top level (else the current directory), so commands run from
 * any folder of the repository find its configuration and local store.
 */
export function defaultWorkspace(
  ctx: { cwd: string; env?: Record<string, string | undefined> },
): string {
  if (ctx.env?.KUBERNETES_SERVICE_HOST) return DEFAULT_WORKSPACE;
  return gitTopLevel(ctx.cwd) ?? resolve(ctx.cwd);
}

/** `--workspace` value, else {@linkcode defaultWorkspace}; absolute. */
export function resolveWorkspace(
  values: OptionValues,
  ctx: { cwd: string; env?: Record<string, string | undefined> },
): string {
  const given = str(values, "workspace");
  return given === undefined ? defaultWorkspace(ctx) : resolve(ctx.cwd, given);
}
/** Default directory of Argo output-parameter files. */
export const DEFAULT_OUTPUTS_DIR = "/tmp/aphex/outputs";
/** Local artifact store directory, relative to the workspace. */
export const LOCAL_STORE_DIR = ".aphex/store";
import { GITHUB_TOKEN_ENV } from "../models/config.ts";
export { GITHUB_TOKEN_ENV };

/** The options every stage accepts (spread into a stage's `spec.options`). */
export const STAGE_OPTIONS: Record<string, OptionSpec> = {
  workspace: {
    type: "string",
    description: `Repository checkout directory (default ${WORKSPACE_DEFAULT_HELP})`,
    env: "APHEX_WORKSPACE",
    valueName: "DIR",
  },
  "commit-sha": {
    type: "string",
    description: "Commit to work on (40 lowercase hex characters; required)",
    env: "APHEX_COMMIT_SHA",
    valueName: "SHA",
  },
  branch: {
    type: "string",
    description: "Branch (git ref) the commit belongs to",
    env: "APHEX_BRANCH",
    valueName: "REF",
  },
  "repo-url": {
    type: "string",
    description: "Repository URL, https or ssh (default from config pipeline.github)",
    env: "APHEX_REPO_URL",
    valueName: "URL",
  },
  config: {
    type: "string",
    description: "Configuration file, relative to the workspace",
    env: "APHEX_CONFIG",
    default: DEFAULT_CONFIG_FILE,
    valueName: "FILE",
  },
  "artifact-bucket": {
    type: "string",
    description:
      "S3 bucket of the artifact store (default pipeline.artifactBucket, else the local store)",
    env: "APHEX_ARTIFACT_BUCKET",
    valueName: "BUCKET",
  },
  "store-dir": {
    type: "string",
    description:
      `Local artifact store used when no bucket is set (default <workspace>/${LOCAL_STORE_DIR})`,
    env: "APHEX_STORE_DIR",
    valueName: "DIR",
  },
  "outputs-dir": {
    type: "string",
    description: "Where Argo output-parameter files are written",
    env: "APHEX_OUTPUTS_DIR",
    default: DEFAULT_OUTPUTS_DIR,
    valueName: "DIR",
  },
  "local-store": {
    type: "boolean",
    description:
      "Use only the local store, never a bucket, whatever the config says (pull-request runs)",
    env: "APHEX_LOCAL_STORE",
  },
};

/** Resolved inputs of a stage. */
export interface StageInputs {
  /** Absolute workspace directory. */
  workspace: string;
  /** Validated commit SHA. */
  commitSha: string;
  /** Branch, if given. */
  branch?: string;
  /** Repository URL from flag/env, if given (validated at checkout). */
  repoUrl?: string;
  /** Config file path (absolute, or relative to the workspace). */
  configFile: string;
  /** Bucket from flag/env, if given. */
  artifactBucket?: string;
  /** Local store root (absolute). */
  storeDir: string;
  /** Absolute outputs directory. */
  outputsDir: string;
  /** Never use a bucket, not even `pipeline.artifactBucket` (pull-request runs). */
  localStore?: boolean;
}

/** Resolves and validates the stage inputs from parsed options (usage error when invalid). */
export function resolveStageInputs(
  values: OptionValues,
  ctx: Pick<CommandContext, "cwd"> & { env?: Record<string, string | undefined> },
): StageInputs {
  const sha = str(values, "commit-sha");
  if (!sha) throw usageError("--commit-sha (or APHEX_COMMIT_SHA) is required");
  const workspace = resolveWorkspace(values, ctx);
  const inputs: StageInputs = {
    workspace,
    commitSha: validateCommitSha(sha),
    configFile: str(values, "config") ?? DEFAULT_CONFIG_FILE,
    storeDir: resolve(ctx.cwd, str(values, "store-dir") ?? join(workspace, LOCAL_STORE_DIR)),
    outputsDir: resolve(ctx.cwd, str(values, "outputs-dir") ?? DEFAULT_OUTPUTS_DIR),
  };
  const branch = str(values, "branch");
  if (branch) inputs.branch = branch;
  const repoUrl = str(values, "repo-url");
  if (repoUrl) inputs.repoUrl = repoUrl;
  const bucket = str(values, "artifact-bucket");
  if (bucket) inputs.artifactBucket = bucket;
  if (values["local-store"] === true) {
    if (bucket) throw usageError("--local-store and --artifact-bucket exclude each other");
    inputs.localStore = true;
  }
  return inputs;
}

/** Absolute path of the config file of a stage. */
export function configPath(inputs: Pick<StageInputs, "workspace" | "configFile">): string {
  return isAbsolute(inputs.configFile)
    ? inputs.configFile
    : join(inputs.workspace, inputs.configFile);
}

/** Loads the configuration from the workspace (usage error, exit 2, when missing or invalid). */
export async function loadStageConfig(
  inputs: Pick<StageInputs, "workspace" | "configFile">,
  options: { checkPaths?: boolean } = {},
): Promise<AphexConfig> {
  return await loadConfigFile(inputs.configFile, {
    cwd: inputs.workspace,
    // Stack paths are relative to the repository root: the workspace.
    ...(options.checkPaths ? { checkPaths: inputs.workspace } : {}),
  });
}

/** `https://github.com/<owner>/<repo>.git` from `pipeline.github`, if configured. */
export function repoUrlFromConfig(config: AphexConfig): string | undefined {
  const gh = config.pipeline.github;
  return gh ? `https://github.com/${gh.owner}/${gh.repo}.git` : undefined;
}

/**
 * The repository URL to clone: flag/env first, else `pipeline.github` of a config already readable
 * (e.g. a previous checkout of the workspace or a config outside it), else undefined.
 */
export async function resolveRepoUrl(inputs: StageInputs): Promise<string | undefined> {
  if (inputs.repoUrl) return inputs.repoUrl;
  try {
    await Deno.stat(configPath(inputs));
  } catch {
    return undefined;
  }
  return repoUrlFromConfig(await loadStageConfig(inputs));
}

/**
 * Bucket of the stage: flag/env, else `pipeline.artifactBucket`, else undefined (local store).
 * With `localStore` (PR boundary) always undefined: in a pull-request run the config is the PR's,
 * and PR code must not choose a bucket the stage then writes to and deletes from.
 */
export function resolveBucket(inputs: StageInputs, config?: AphexConfig): string | undefined {
  if (inputs.localStore) return undefined;
  return inputs.artifactBucket ?? config?.pipeline.artifactBucket;
}

/**
 * Writes one file per Argo output parameter (`<dir>/<name>`, text) and the whole result as
 * `<dir>/result.json`. Files are written atomically (temp file + rename).
 */
export async function writeOutputs(
  dir: string,
  outputs: { parameters: Record<string, string>; result: unknown },
): Promise<void> {
  const { parameters, result } = outputs;
  await Deno.mkdir(dir, { recursive: true });
  const write = async (name: string, text: string) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`bad output name ${name}`);
    const tmp = join(dir, `.${name}.${crypto.randomUUID()}.tmp`);
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, join(dir, name));
  };
  for (const [name, value] of Object.entries(parameters)) await write(name, value);
  await write("result.json", JSON.stringify(result, null, 2) + "\n");
}

/**
 * Runs `fn` with an AbortSignal that fires on SIGTERM or SIGINT (Argo pod deletion, Ctrl-C); the
 * abort reason is the signal name. Listeners are removed afterwards. For CLI entries only.
 */
export async function withTerminationSignal<T>(
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const handlers: [Deno.Signal, () => void][] = (["SIGTERM", "SIGINT"] as const).map((sig) => [
    sig,
    () => {
      noteTerminationSignal(sig);
      controller.abort(sig);
    },
  ]);
  for (const [sig, handler] of handlers) Deno.addSignalListener(sig, handler);
  try {
    return await fn(controller.signal);
  } finally {
    for (const [sig, handler] of handlers) Deno.removeSignalListener(sig, handler);
  }
}

/** Options of {@linkcode withStageRecording}. */
export interface StageRecordingOptions<T> {
  /** Stage name as the run record shows it: `build`, `pipeline-update`, `deploy-<env>`, `test-<env>`. */
  stage: string;
  /** Process environment (`APHEX_WORKFLOW_NAME`, AWS settings for the store). */
  env: Record<string, string | undefined>;
  /** Receives recording problems (they never change the stage's result). */
  warn: (message: string) => void;
  /** The stage's work. */
  body: () => Promise<T>;
  /** What to record of the body's result: exit code, error summary, per-stack results. */
  describe: (result: T) => StageBodyOutcome;
}

/**
 * Runs a stage body and, inside a workflow (`APHEX_WORKFLOW_NAME` set), records its StageMetadata
 * (start, end, status, error) in the artifact store for `aphex report`. Outside a workflow (a
 * laptop, `aphex run --local`) nothing is recorded. Recording never changes the stage's result;
 * a body that throws is recorded as failed and the error is rethrown.
 */
export async function withStageRecording<T>(
  inputs: StageInputs,
  options: StageRecordingOptions<T>,
): Promise<T> {
  const workflow = options.env.APHEX_WORKFLOW_NAME;
  if (!workflow) return await options.body();
  let store;
  try {
    store = await openArtifactStore({
      ...(inputs.artifactBucket ? { bucket: inputs.artifactBucket } : {}),
      localRoot: inputs.storeDir,
      aws: { env: options.env },
    });
  } catch (e) {
    options.warn(`stage not recorded: ${e instanceof Error ? e.message : e}`);
    return await options.body();
  }
  let result: T | undefined;
  try {
    await withStageRecord(store, {
      commitSha: inputs.commitSha,
      workflow,
      stage: options.stage,
      body: async () => options.describe(result = await options.body()),
    }, { warn: options.warn });
  } finally {
    store.close();
  }
  return result as T;
}

/** Dependencies of every stage that works on a checkout (tests inject them). */
export interface StageDeps {
  /** Environment of the stage (user commands inherit it, minus the GitHub token). */
  env: Record<string, string | undefined>;
  /** Log sink (one line per call, no trailing newline). */
  log: (line: string) => void;
  /** Artifact store to use instead of opening one from the inputs/config. */
  store?: ArtifactStore;
  /** S3 client settings when the store is opened by the stage. */
  aws?: AwsClientOptions;
  /** Git runner (tests). */
  git?: GitRunner;
  /** Accept file:// repository URLs (tests only). */
  allowFileUrls?: boolean;
  /** Aborts the running work (SIGTERM/SIGINT); the reason names the signal. */
  signal?: AbortSignal;
}

/**
 * How the stage reaches its repository, for the checkout and every later fetch of it (the stale
 * and superseded checks): the URL ({@linkcode resolveRepoUrl}), the branch, the token from
 * {@linkcode GITHUB_TOKEN_ENV} and the test-only settings.
 */
export async function repoAccess(
  inputs: StageInputs,
  deps: Pick<StageDeps, "env" | "git" | "allowFileUrls"> & {
    /** The workspace's configuration when already loaded (not read again for the URL). */
    config?: AphexConfig;
  },
): Promise<GitRemoteOptions> {
  const repoUrl = deps.config
    ? inputs.repoUrl ?? repoUrlFromConfig(deps.config)
    : await resolveRepoUrl(inputs);
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

/**
 * Checks out the stage's commit into the workspace (repository URL from the inputs or the config,
 * the token from {@linkcode GITHUB_TOKEN_ENV}) and loads the configuration of that commit.
 * `deps.log` receives git's progress lines.
 */
export async function checkoutStage(
  inputs: StageInputs,
  deps: Pick<StageDeps, "env" | "log" | "git" | "allowFileUrls">,
): Promise<AphexConfig> {
  const repo = await repoAccess(inputs, deps);
  await checkoutCommit({
    ...repo,
    workspace: inputs.workspace,
    commitSha: inputs.commitSha,
    log: deps.log,
  });
  return await loadStageConfig(inputs);
}

/**
 * The environment a stage works on (`--env`, `APHEX_ENV`): usage error (exit 2) naming the valid
 * environments when it is missing or unknown.
 */
export function selectEnvironment(
  config: AphexConfig,
  name: string | undefined,
): EnvironmentConfig {
  const names = config.environments.map((e) => e.name);
  const valid = `valid environments: ${names.length > 0 ? names.join(", ") : "(none configured)"}`;
  if (name === undefined || name === "") {
    throw usageError(`--env (or APHEX_ENV) is required; ${valid}`);
  }
  const env = findEnvironment(config, name);
  if (!env) {
    throw usageError(
      `environment ${JSON.stringify(name.slice(0, 80))} is not in the configuration; ${valid}`,
    );
  }
  return env;
}

/** Reads a positive number of seconds from a string option; usage error otherwise. */
export function secondsOption(values: OptionValues, name: string): number {
  const seconds = Number(str(values, name));
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw usageError(`--${name} must be a positive number of seconds`);
  }
  return seconds;
}

/** Options of {@linkcode runStageCommand}. */
export interface StageCommandOptions<T> {
  /** Stage name in the run record (`deploy-dev`). */
  stage: string;
  /**
   * The stage's work; `signal` aborts on SIGTERM/SIGINT; `log` writes one line to stderr — as a
   * JSON object (`time, level, stage, workflow, commitSha, msg`) when `APHEX_LOG_FORMAT=json`.
   */
  run: (signal: AbortSignal, log: (line: string) => void) => Promise<T>;
  /** Clock of JSON log lines (tests). */
  clock?: () => Date;
  /** What to record of the result. */
  describe: (result: T) => StageBodyOutcome;
  /** Argo output parameters for a stage that could not even start (checkout, config). */
  failureParameters: Record<string, string>;
  /** Extra fields of `result.json` in that case. */
  failureResult?: Record<string, unknown>;
}

/**
 * The CLI side every pipeline stage shares: runs the stage under SIGTERM/SIGINT handling, records
 * it for `aphex report`, and when it cannot start at all still writes its Argo output parameters
 * (`success=false`, the exit code) before the error propagates.
 */
export async function runStageCommand<T>(
  inputs: StageInputs,
  options: StageCommandOptions<T> & { ctx: Pick<CommandContext, "env" | "stderr"> },
): Promise<T> {
  // Every precondition is checked before the first side effect (the stage record, the store):
  // a stage must never publish and then fail to write its own outputs (workspace boundary).
  await assertWritableDir(inputs.outputsDir);
  const { ctx } = options;
  const clock = options.clock ?? (() => new Date());
  const context = {
    stage: options.stage,
    workflow: ctx.env.APHEX_WORKFLOW_NAME ?? null,
    commitSha: inputs.commitSha,
  };
  const log = logFormatFromEnv(ctx.env) === "json"
    ? (line: string) =>
      ctx.stderr(
        JSON.stringify({ time: clock().toISOString(), level: "info", ...context, msg: line }) +
          "\n",
      )
    : (line: string) => ctx.stderr(line + "\n");
  return withStageRecording(inputs, {
    stage: options.stage,
    env: ctx.env,
    warn: (message) => ctx.stderr(`warning: ${message}\n`),
    describe: options.describe,
    body: () =>
      withTerminationSignal((signal) =>
        options.run(signal, log).catch(async (e) => {
          await writeOutputs(inputs.outputsDir, {
            parameters: {
              ...options.failureParameters,
              success: "false",
              "exit-code": String(e instanceof AphexError ? e.exitCode : 1),
            },
            result: {
              ...options.failureResult,
              failure: e instanceof Error ? e.message : String(e),
            },
          }).catch(() => {});
          throw e;
        })
      ),
  });
}
