/**
 * The preflight stage (`aphex preflight [--env NAME]`, also `deno run -A stages/preflight.ts`):
 * the validation stage of the spec and the first step of pull-request validation. Every check runs
 * and every problem is reported together, each naming its environment/account/role:
 *
 * - the configuration is valid;
 * - the tools the commands need are on PATH and answer `--version` or `-v` (the first word of
 *   every build, hook and test command, plus `git`, `node`, `npx`);
 * - for each environment (or `--env`): credentials on the default AWS chain, and the account
 *   matches or the environment's role (default: the CDK deploy role) can be assumed;
 * - CDK bootstrap present: the SSM parameter `/cdk-bootstrap/<qualifier>/version` is readable
 *   and at least {@linkcode MIN_BOOTSTRAP_VERSION};
 * - every stack path leads to a CDK app (`cdk.json`), and the context keys named with `--require-context`
 *   are present and non-empty in that app's `cdk.json` / `cdk.context.json`.
 *
 * `--skip-aws` (`APHEX_SKIP_AWS`) skips the credential and bootstrap checks and says so.
 *
 * It is the first step of the push pipeline (before build) and of pull-request validation. In a
 * pipeline run (`APHEX_WORKFLOW_NAME` and a commit set) it records itself like every stage; a
 * failure records each problem, one per line, as the stage's error.
 * @module
 */
import { join, relative, resolve } from "node:path";
import type { SSMClient, SSMClientConfig } from "@aws-sdk/client-ssm";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import { checkConfigFile } from "../command/config_file.ts";
import type { AphexConfig, EnvironmentConfig } from "../models/config.ts";
import { shellWords } from "../models/shell_words.ts";
import { withDeadline } from "../adapters/retry.ts";
import { describeError, ExitCode, formatIssue } from "../models/errors.ts";
import { CDK_JSON, findCdkAppDir } from "../adapters/cdk/cli.ts";
import type { GitRunner } from "../adapters/git/checkout.ts";
// The AWS SDK is loaded only when the AWS checks run (not with --skip-aws, not for --help).
import type { AwsCredentials, StsClientFactory } from "../adapters/aws/credentials.ts";
import { makeRedactor, secretValuesFromEnv } from "../adapters/process/exec.ts";
import {
  GITHUB_TOKEN_ENV,
  LOCAL_STORE_DIR,
  selectEnvironment,
  STAGE_OPTIONS,
  type StageInputs,
  withStageRecording,
} from "../command/stage_runtime.ts";
import {
  checkoutIfRequested,
  resolveWorkspaceInputs,
  WORKSPACE_OPTIONS,
  type WorkspaceInputs,
} from "../command/workspace_inputs.ts";

/** Tools every pipeline needs whatever the commands are. */
export const BASE_TOOLS: readonly string[] = ["git", "node", "npx"];

/** Default bound of one `<tool> --version` / `<tool> -v` (ms). */
export const DEFAULT_TOOL_TIMEOUT_MS = 15_000;

/**
 * Oldest CDK bootstrap stack version a deployment works with: what aws-cdk-lib's
 * DefaultStackSynthesizer requires of the deploy role and asset publishing
 * (`MIN_BOOTSTRAP_STACK_VERSION`); older stacks fail the template's BootstrapVersion rule.
 */
export const MIN_BOOTSTRAP_VERSION = 6;

/** Default bound of the SSM bootstrap lookup (ms). */
export const DEFAULT_SSM_TIMEOUT_MS = 4000;

/** Which check found a problem. */
export type PreflightCheck =
  | "config"
  | "tool"
  | "credentials"
  | "bootstrap"
  | "cdk-app"
  | "context";

/** One problem found by preflight. */
export interface PreflightProblem {
  /** The check. */
  check: PreflightCheck;
  /** Environment concerned, if any. */
  environment?: string;
  /** Account concerned, if any. */
  account?: string;
  /** Role concerned (assumed or to assume), if any. */
  role?: string;
  /** What is wrong and what to do. */
  message: string;
}

/** Inputs of {@linkcode runPreflight}. */
export interface PreflightInputs extends WorkspaceInputs {
  /** Skip the credential and bootstrap checks (no AWS access, e.g. pull-request validation). */
  skipAws?: boolean;
  /** CDK context keys that must be present and non-empty in every CDK app involved. */
  contextKeys?: string[];
}

/** Creates the SSM client used for the bootstrap check (injected in tests). */
export type SsmClientFactory = (
  config: { region: string; credentials?: AwsCredentials },
) => SSMClient;

/** The default SSM client factory: regional, 2 attempts, short timeouts (loads the SDK). */
export async function loadSsmClientFactory(): Promise<SsmClientFactory> {
  const [{ SSMClient }, { STS_REQUEST_HANDLER }] = await Promise.all([
    import("@aws-sdk/client-ssm"),
    import("../adapters/aws/credentials.ts"),
  ]);
  return ({ region, credentials }) => {
    const config: SSMClientConfig = {
      region,
      maxAttempts: 2,
      requestHandler: { ...STS_REQUEST_HANDLER },
    };
    if (credentials) config.credentials = credentials;
    return new SSMClient(config);
  };
}

/** Injected dependencies of {@linkcode runPreflight}. */
export interface PreflightDeps {
  /** Environment (PATH for the tools, AWS chain variables…). */
  env: Record<string, string | undefined>;
  /** Log sink (stderr). */
  log: (line: string) => void;
  /** STS client factory (default: bounded clients on the default chain). */
  stsClient?: StsClientFactory;
  /** SSM client factory (default {@linkcode loadSsmClientFactory}). */
  ssmClient?: SsmClientFactory;
  /** Bound of one `--version` call in ms. */
  toolTimeoutMs?: number;
  /** Bound of the SSM lookup in ms. */
  ssmTimeoutMs?: number;
  /** Git runner (tests). */
  git?: GitRunner;
  /** Accept file:// repository URLs (tests only). */
  allowFileUrls?: boolean;
}

/** What preflight found. */
export interface PreflightReport {
  /** 0 no problem, 1 at least one problem. */
  exitCode: number;
  /** Every problem, grouped by check (config, tools, then per environment). */
  problems: PreflightProblem[];
  /** What passed, one line each. */
  passed: string[];
  /** Whether the AWS checks were skipped. */
  skippedAws: boolean;
}

const SHELL_WORDS = new Set([
  "!",
  ".",
  ":",
  "[",
  "[[",
  "alias",
  "case",
  "cd",
  "command",
  "echo",
  "env",
  "eval",
  "exec",
  "exit",
  "export",
  "false",
  "for",
  "if",
  "printf",
  "pushd",
  "popd",
  "read",
  "set",
  "source",
  "test",
  "time",
  "true",
  "ulimit",
  "umask",
  "unset",
  "until",
  "while",
  "{",
  "(",
]);

/**
 * The tool a command string starts with: its first word after `VAR=value` assignments; undefined
 * for shell builtins/keywords, paths (`./x`, `/bin/x`), expansions and quoted words.
 */
export function commandTool(command: string): string | undefined {
  // A quoted first word may name anything (the check would guess): skipped, like expansions.
  if (/^\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*["']/.test(command)) return undefined;
  const { words } = shellWords(command);
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!)) i++;
  const first = words[i];
  if (first === undefined || first === "") return undefined;
  if (SHELL_WORDS.has(first) || !/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(first)) return undefined;
  return first;
}

/**
 * Tools needed by the commands of the configuration (build, and the hooks and tests of the given
 * environments), after {@linkcode BASE_TOOLS}, each once, in order of first use.
 */
export function requiredTools(
  config: Pick<AphexConfig, "build">,
  environments: readonly EnvironmentConfig[],
): string[] {
  const commands = [
    ...config.build.commands,
    ...environments.flatMap((e) => [
      ...e.hooks.preDeploy,
      ...e.hooks.postDeploy,
      ...(e.tests?.commands ?? []),
    ]),
  ];
  const tools = [...BASE_TOOLS];
  for (const c of commands) {
    const tool = commandTool(c);
    if (tool && !tools.includes(tool)) tools.push(tool);
  }
  return tools;
}

/** Flags a tool may answer to with its version (the spec: `--version` or `-v`), tried in order. */
export const VERSION_FLAGS: readonly string[] = ["--version", "-v"];

interface VersionAnswer {
  ok: boolean;
  detail: string;
  /** The tool is not on PATH (no other flag is worth trying). */
  missing?: boolean;
  /** It did not answer in time (no other flag is tried: the bound would double). */
  timedOut?: boolean;
}

async function askVersion(
  tool: string,
  flag: string,
  options: { env: Record<string, string>; cwd: string; timeoutMs: number },
): Promise<VersionAnswer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    const out = await new Deno.Command(tool, {
      args: [flag],
      cwd: options.cwd,
      env: options.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim() ||
      new TextDecoder().decode(out.stderr).trim();
    const first = text.split("\n")[0]?.slice(0, 120) ?? "";
    if (controller.signal.aborted) {
      return {
        ok: false,
        timedOut: true,
        detail: `\`${tool} ${flag}\` did not answer within ${options.timeoutMs} ms`,
      };
    }
    if (!out.success) {
      return {
        ok: false,
        detail: `\`${tool} ${flag}\` exited with code ${out.code}${first ? `: ${first}` : ""}`,
      };
    }
    return { ok: true, detail: first };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { ok: false, missing: true, detail: `\`${tool}\` is not on PATH` };
    }
    return {
      ok: false,
      detail: `\`${tool} ${flag}\` could not run: ${e instanceof Error ? e.message : e}`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Asks a tool for its version (argv, no shell, bounded): `<tool> --version`, then `<tool> -v` when
 * the first is refused (tools that know only `-v`). Returns the version line, or a problem text
 * naming every attempt.
 */
export async function checkTool(
  tool: string,
  options: { env: Record<string, string>; cwd: string; timeoutMs?: number },
): Promise<{ ok: boolean; detail: string }> {
  const bounded = { ...options, timeoutMs: options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS };
  const failures: string[] = [];
  for (const flag of VERSION_FLAGS) {
    const answer = await askVersion(tool, flag, bounded);
    if (answer.ok) return { ok: true, detail: answer.detail };
    if (answer.missing || answer.timedOut) return { ok: false, detail: answer.detail };
    failures.push(answer.detail);
  }
  return { ok: false, detail: failures.join("; ") };
}

function withTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  return withDeadline(fn, ms, () => new Error(`no answer from ${what} within ${ms} ms`));
}

function isEmptyContextValue(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === "string") return value.trim() === "";
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === "object") return Object.keys(value).length === 0;
  return false;
}

/** Reads the context of a CDK app: `cdk.json` `context` overlaid with `cdk.context.json`. */
export async function readCdkContext(appDir: string): Promise<Record<string, unknown>> {
  const context: Record<string, unknown> = {};
  for (
    const [file, pick] of [
      [CDK_JSON, (doc: Record<string, unknown>) => doc.context],
      ["cdk.context.json", (doc: Record<string, unknown>) => doc],
    ] as const
  ) {
    let text: string;
    try {
      text = await Deno.readTextFile(join(appDir, file));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new Error(`${join(appDir, file)} is not valid JSON`);
    }
    const part = typeof doc === "object" && doc !== null
      ? pick(doc as Record<string, unknown>)
      : {};
    if (typeof part === "object" && part !== null) Object.assign(context, part);
  }
  return context;
}

async function checkEnvironmentAws(
  env: EnvironmentConfig,
  config: AphexConfig,
  deps: PreflightDeps,
): Promise<{ problems: PreflightProblem[]; passed: string[] }> {
  const [{ bootstrapDeployRoleArn, resolveDeployCredentials }, { GetParameterCommand }] =
    await Promise
      .all([import("../adapters/aws/credentials.ts"), import("@aws-sdk/client-ssm")]);
  const qualifier = config.pipeline.cdkQualifier;
  const role = env.role ?? bootstrapDeployRoleArn(env.account, env.region, { qualifier });
  const problems: PreflightProblem[] = [];
  const passed: string[] = [];
  let credentials;
  try {
    credentials = await resolveDeployCredentials(
      { name: env.name, account: env.account, region: env.region, ...(env.role ? { role } : {}) },
      { qualifier, ...(deps.stsClient ? { stsClient: deps.stsClient } : {}) },
    );
  } catch (e) {
    problems.push({
      check: "credentials",
      environment: env.name,
      account: env.account,
      role,
      message: `${describeError(e)} (CDK bootstrap not checked: no credentials for the account)`,
    });
    return { problems, passed };
  }
  passed.push(
    `environment ${env.name}: credentials for account ${env.account}` +
      (credentials.assumedRole ? ` through role ${credentials.assumedRole}` : " (same account)"),
  );
  const parameter = `/cdk-bootstrap/${qualifier}/version`;
  const ssm = (deps.ssmClient ?? await loadSsmClientFactory())({
    region: env.region,
    ...(credentials.credentials ? { credentials: credentials.credentials } : {}),
  });
  try {
    const out = await withTimeout(
      (abortSignal) => ssm.send(new GetParameterCommand({ Name: parameter }), { abortSignal }),
      deps.ssmTimeoutMs ?? DEFAULT_SSM_TIMEOUT_MS,
      "SSM",
    );
    const value = out.Parameter?.Value ?? "";
    const version = /^[0-9]{1,9}$/.test(value) ? Number(value) : undefined;
    if (version === undefined || version < MIN_BOOTSTRAP_VERSION) {
      problems.push({
        check: "bootstrap",
        environment: env.name,
        account: env.account,
        ...(credentials.assumedRole ? { role: credentials.assumedRole } : {}),
        message: `CDK bootstrap in aws://${env.account}/${env.region} is version ` +
          `${JSON.stringify(value.slice(0, 40))}; deployments need version ` +
          `${MIN_BOOTSTRAP_VERSION} or later: run \`npx cdk bootstrap ` +
          `aws://${env.account}/${env.region} --qualifier ${qualifier}\``,
      });
    } else {
      passed.push(
        `environment ${env.name}: CDK bootstrap version ${version} in ` +
          `aws://${env.account}/${env.region} (qualifier ${qualifier})`,
      );
    }
  } catch (e) {
    const missing = (e as { name?: unknown })?.name === "ParameterNotFound";
    const redact = makeRedactor(credentials.secrets);
    problems.push({
      check: "bootstrap",
      environment: env.name,
      account: env.account,
      ...(credentials.assumedRole ? { role: credentials.assumedRole } : {}),
      message: missing
        ? `CDK bootstrap not found in aws://${env.account}/${env.region}: SSM parameter ` +
          `${parameter} does not exist; run \`npx cdk bootstrap aws://${env.account}/${env.region}` +
          ` --qualifier ${qualifier}\``
        : `cannot read SSM parameter ${parameter} in aws://${env.account}/${env.region} ` +
          `(${redact(describeError(e))}); the CDK bootstrap could not be verified`,
    });
  } finally {
    ssm.destroy();
  }
  return { problems, passed };
}

/**
 * Runs every preflight check and returns all problems together. An unknown `--env` throws a usage
 * error (exit 2); everything else found is a problem (exit 1).
 */
export async function runPreflight(
  inputs: PreflightInputs,
  deps: PreflightDeps,
): Promise<PreflightReport> {
  const redact = makeRedactor(secretValuesFromEnv(deps.env));
  const log = (line: string) => deps.log(redact(line));
  const problems: PreflightProblem[] = [];
  const passed: string[] = [];
  const skippedAws = inputs.skipAws === true;
  await checkoutIfRequested(inputs, { ...deps, log: (l) => log(`[preflight] ${l}`) });

  // 1. configuration
  let config: AphexConfig | undefined;
  try {
    const checked = await checkConfigFile(inputs.configFile, { cwd: inputs.workspace });
    if (checked.ok) {
      config = checked.config;
      passed.push(`configuration ${inputs.configFile} is valid`);
    } else {
      for (const issue of checked.issues) {
        problems.push({ check: "config", message: formatIssue(issue) });
      }
    }
  } catch (e) {
    problems.push({ check: "config", message: describeError(e) });
  }
  const environments = config
    ? inputs.environment ? [selectEnvironment(config, inputs.environment)] : config.environments
    : [];

  // 2. tools
  const toolEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(deps.env)) if (v !== undefined) toolEnv[k] = v;
  delete toolEnv[GITHUB_TOKEN_ENV];
  const tools = config ? requiredTools(config, environments) : [...BASE_TOOLS];
  const toolResults = await Promise.all(tools.map((tool) =>
    checkTool(tool, {
      env: toolEnv,
      cwd: inputs.workspace,
      ...(deps.toolTimeoutMs ? { timeoutMs: deps.toolTimeoutMs } : {}),
    }).then((r) => ({ tool, ...r }))
  ));
  for (const r of toolResults) {
    if (r.ok) passed.push(`tool ${r.tool}: ${r.detail}`);
    else problems.push({ check: "tool", message: r.detail });
  }

  // 3. CDK apps and context keys
  const apps = new Map<string, string[]>();
  for (const env of environments) {
    for (const stack of env.stacks) {
      try {
        const dir = await findCdkAppDir(inputs.workspace, stack.path);
        const users = apps.get(dir) ?? [];
        if (!users.includes(env.name)) users.push(env.name);
        apps.set(dir, users);
      } catch (e) {
        problems.push({
          check: "cdk-app",
          environment: env.name,
          message: `stack ${stack.name}: ${describeError(e)}`,
        });
      }
    }
  }
  const keys = inputs.contextKeys ?? [];
  for (const [dir, users] of apps) {
    const app = relative(inputs.workspace, dir) || ".";
    let context: Record<string, unknown>;
    try {
      context = await readCdkContext(dir);
    } catch (e) {
      problems.push({ check: "context", environment: users.join(", "), message: describeError(e) });
      continue;
    }
    const empty = keys.filter((k) => isEmptyContextValue(context[k]));
    for (const key of empty) {
      problems.push({
        check: "context",
        environment: users.join(", "),
        message: `CDK context key "${key}" is missing or empty in ${app}/${CDK_JSON} ` +
          `(and ${app}/cdk.context.json)`,
      });
    }
    passed.push(
      `CDK app ${app}` +
        (keys.length > 0
          ? `: ${keys.length - empty.length}/${keys.length} context key(s) set`
          : ""),
    );
  }

  // 4. AWS: credentials/account/role and bootstrap, per environment
  if (skippedAws) {
    log(
      "[preflight] AWS checks SKIPPED (--skip-aws): credentials, accounts, roles and the CDK " +
        "bootstrap were NOT checked",
    );
  } else if (config) {
    const perEnv = await Promise.all(environments.map((e) => checkEnvironmentAws(e, config, deps)));
    for (const r of perEnv) {
      problems.push(...r.problems);
      passed.push(...r.passed);
    }
  }

  for (const line of passed) log(`[preflight] ok: ${line}`);
  for (const p of problems) log(`[preflight] problem: ${formatProblem(p)}`);
  log(
    `[preflight] ${problems.length === 0 ? "all checks passed" : `${problems.length} problem(s)`}` +
      (skippedAws ? " (AWS checks skipped)" : ""),
  );
  return {
    exitCode: problems.length === 0 ? ExitCode.Ok : ExitCode.Failed,
    problems: problems.map((p) => ({ ...p, message: redact(p.message) })),
    passed,
    skippedAws,
  };
}

/** `[check] environment E (account A, role R): message`. */
export function formatProblem(problem: PreflightProblem): string {
  const who = [
    problem.account ? `account ${problem.account}` : "",
    problem.role ? `role ${problem.role}` : "",
  ].filter(Boolean).join(", ");
  const where = problem.environment
    ? `environment ${problem.environment}${who ? ` (${who})` : ""}: `
    : who
    ? `${who}: `
    : "";
  return `[${problem.check}] ${where}${problem.message}`;
}

/**
 * What a failed preflight records as its stage error (and so what the run record, notifications
 * and commit statuses show): the count, then every problem on its own line.
 */
export function preflightErrorMessage(
  report: Pick<PreflightReport, "problems">,
): string | undefined {
  const n = report.problems.length;
  if (n === 0) return undefined;
  return [
    `preflight found ${n} problem${n === 1 ? "" : "s"}:`,
    ...report.problems.map(formatProblem),
  ]
    .join("\n");
}

/** `aphex preflight`. */
export const command: Command = {
  spec: {
    name: "preflight",
    summary: "Check config, tools, credentials/roles, CDK bootstrap and context before deploying",
    description:
      "Reports every problem at once, each naming its environment, account and role. The tools " +
      "checked are git, node, npx and the first word of every build, hook and test command. " +
      "--require-context KEY (repeatable) requires a non-empty CDK context value in each CDK app's " +
      "cdk.json or cdk.context.json. --skip-aws skips the credential and bootstrap checks " +
      "(pull-request validation without AWS access).",
    options: {
      ...WORKSPACE_OPTIONS,
      "skip-aws": {
        type: "boolean",
        description: "Skip the credential, account/role and CDK bootstrap checks",
        env: "APHEX_SKIP_AWS",
      },
      "require-context": {
        type: "string",
        description: "CDK context key that must be present and non-empty (not `cdk -c k=v`)",
        aliases: ["context"],
        multiple: true,
        valueName: "KEY",
      },
      "artifact-bucket": STAGE_OPTIONS["artifact-bucket"]!,
      "store-dir": STAGE_OPTIONS["store-dir"]!,
      json: { type: "boolean", description: "Print the report as JSON on stdout" },
    },
  },
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const inputs: PreflightInputs = resolveWorkspaceInputs(values, ctx);
    if (values["skip-aws"] === true) inputs.skipAws = true;
    const keys = values["require-context"];
    if (Array.isArray(keys) && keys.length > 0) inputs.contextKeys = keys;
    const body = () =>
      runPreflight(inputs, {
        env: ctx.env,
        log: (line) => ctx.stderr(line + "\n"),
      });
    // In a pipeline run (workflow name and commit known) preflight records itself like every
    // other stage, so the exit report names it and each problem; elsewhere nothing is recorded.
    const commitSha = inputs.commitSha;
    const report = commitSha === undefined ? await body() : await withStageRecording(
      recordingInputs(inputs, values, ctx, commitSha),
      {
        stage: "preflight",
        env: ctx.env,
        warn: (message) => ctx.stderr(`warning: ${message}\n`),
        body,
        describe: (r) => {
          const errorMessage = preflightErrorMessage(r);
          return { exitCode: r.exitCode, ...(errorMessage ? { errorMessage } : {}) };
        },
      },
    );
    if (values.json === true) ctx.stdout(JSON.stringify(report) + "\n");
    return report.exitCode;
  },
};

/** Where the stage record goes: the run's bucket, else the local store of the workspace. */
function recordingInputs(
  inputs: PreflightInputs,
  values: OptionValues,
  ctx: CommandContext,
  commitSha: string,
): StageInputs {
  const bucket = str(values, "artifact-bucket");
  return {
    workspace: inputs.workspace,
    commitSha,
    configFile: inputs.configFile,
    storeDir: resolve(ctx.cwd, str(values, "store-dir") ?? join(inputs.workspace, LOCAL_STORE_DIR)),
    outputsDir: "",
    ...(bucket ? { artifactBucket: bucket } : {}),
  };
}

if (import.meta.main) await runMain(command);
