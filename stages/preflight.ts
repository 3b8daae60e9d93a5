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
import { withDeadline } from "../adapters/retry.ts";
import { describeError, ExitCode, formatIssue, usageError } from "../models/errors.ts";
import { CDK_JSON, findCdkAppDir } from "../adapters/cdk/app_dir.ts";
import { readCdkContext } from "../adapters/cdk/context.ts";
import { checkTool } from "../adapters/process/tool_version.ts";
import { BASE_TOOLS, requiredTools } from "../models/command_tools.ts";
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

function withTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  return withDeadline(fn, ms, () => new Error(`no answer from ${what} within ${ms} ms`));
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

function isEmptyContextValue(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === "string") return value.trim() === "";
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === "object") return Object.keys(value).length === 0;
  return false;
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
  for (const [dir, users] of apps) {
    const app = relative(inputs.workspace, dir) || ".";
    // `--require-context` keys, and each environment's own `requiredContext` for its apps.
    const keys = [
      ...new Set([
        ...inputs.contextKeys ?? [],
        ...environments.filter((e) => users.includes(e.name)).flatMap((e) =>
          e.requiredContext ?? []
        ),
      ]),
    ];
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
  if (bucket && values["local-store"] === true) {
    throw usageError("--local-store and --artifact-bucket exclude each other");
  }
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
