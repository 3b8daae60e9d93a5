/**
 * Running the project's own CDK CLI: the CDK-app contract ({@linkcode cdkEnvironment}, the
 * environment every CDK app process receives), just-in-time synth into a fresh cloud assembly,
 * and the deploy of one stack from an assembly (`cdk deploy --app <dir>`, no re-synth).
 *
 * Every subprocess runs through an injected {@linkcode CdkRunner} (`./runner.ts`); reading and
 * selecting the stacks of an assembly is `./assembly.ts`, finding a stack's app `./app_dir.ts`.
 * @module
 */
import { resolve } from "node:path";
import { AphexError, usageError } from "../../models/errors.ts";
import { asRecord, type AssemblyStack, type CloudAssembly, readCloudAssembly } from "./assembly.ts";
import { type CdkRunner, denoCdkRunner } from "./runner.ts";

/** Default command that runs the project's own CDK CLI (never downloads one). */
export const DEFAULT_CDK_COMMAND: readonly string[] = ["npx", "--no-install", "cdk"];

/**
 * What a CDK app is run for: the target of {@linkcode cdkEnvironment}, the one CDK-app contract
 * of synth, deploy, run --local and pull-request validation.
 */
export interface CdkAppTarget {
  /** AWS account of the environment (`CDK_DEFAULT_ACCOUNT`). */
  account: string;
  /** AWS region of the environment (`CDK_DEFAULT_REGION`, `AWS_REGION`, `AWS_DEFAULT_REGION`). */
  region: string;
  /** Aphex environment name (`APHEX_ENV`); unset only for the pipeline stack. */
  environment?: string;
  /** Commit being synthesized or deployed (`APHEX_COMMIT_SHA`), when known. */
  commitSha?: string;
  /** Repository checkout (`APHEX_WORKSPACE`), when known. */
  workspace?: string;
}

/** Options of {@linkcode synthesize}. */
export interface SynthOptions extends CdkAppTarget {
  /** Base environment of the CDK process (PATH, HOME, credentials…); nothing else is inherited. */
  env: Record<string, string>;
  /** Fresh output directory; it must not exist or be empty (default: a new temp dir). */
  outputDir?: string;
  /** Runner (default {@linkcode denoCdkRunner}). */
  runner?: CdkRunner;
  /** Command running the CDK CLI (default {@linkcode DEFAULT_CDK_COMMAND}). */
  cdkCommand?: readonly string[];
  /** Extra `cdk synth` arguments, e.g. `["--context", "k=v"]`. */
  extraArgs?: string[];
}

/**
 * The CDK-app contract: the environment variables a CDK app receives, the same whether Aphex
 * synthesizes it (`aphex synth`, `run --local`, pull-request validation) or deploys it (`aphex
 * deploy`, the pipeline stack): `CDK_DEFAULT_ACCOUNT`, `CDK_DEFAULT_REGION`, `AWS_REGION` and
 * `AWS_DEFAULT_REGION` from the environment's account and region, `APHEX_ENV` (the environment's
 * name), `APHEX_COMMIT_SHA` and `APHEX_WORKSPACE` when known; everything else comes from `base`.
 * No CDK context (`-c`) is added: the app reads `cdk.json` / `cdk.context.json` as `cdk` does.
 */
export function cdkEnvironment(
  base: Record<string, string>,
  target: CdkAppTarget,
): Record<string, string> {
  return {
    ...base,
    CDK_DEFAULT_ACCOUNT: target.account,
    CDK_DEFAULT_REGION: target.region,
    AWS_REGION: target.region,
    AWS_DEFAULT_REGION: target.region,
    ...(target.environment !== undefined ? { APHEX_ENV: target.environment } : {}),
    ...(target.commitSha !== undefined ? { APHEX_COMMIT_SHA: target.commitSha } : {}),
    ...(target.workspace !== undefined ? { APHEX_WORKSPACE: target.workspace } : {}),
  };
}

function splitCommand(command: readonly string[] | undefined): [string, string[]] {
  const [bin, ...rest] = command ?? DEFAULT_CDK_COMMAND;
  if (bin === undefined || bin === "") throw usageError("empty CDK command");
  return [bin, rest];
}

async function freshDir(path: string | undefined): Promise<string> {
  if (path === undefined) return await Deno.makeTempDir({ prefix: "aphex-cdk-out-" });
  const dir = resolve(path);
  await Deno.mkdir(dir, { recursive: true });
  for await (const _ of Deno.readDir(dir)) {
    throw new AphexError(`CDK output directory ${dir} is not empty; synth needs a fresh directory`);
  }
  return dir;
}

/**
 * Synthesizes the CDK app in `appDir` just-in-time with the project's own CDK CLI
 * (`npx --no-install cdk synth --output <fresh dir> --quiet`) for the given account/region, then
 * reads the cloud assembly it wrote.
 *
 * @throws {AphexError} exit 1 when synth fails (the output tail is part of the message).
 */
export async function synthesize(appDir: string, options: SynthOptions): Promise<CloudAssembly> {
  const outputDir = await freshDir(options.outputDir);
  const [bin, prefix] = splitCommand(options.cdkCommand);
  const args = [
    ...prefix,
    "synth",
    "--output",
    outputDir,
    "--quiet",
    "--no-notices",
    ...(options.extraArgs ?? []),
  ];
  const result = await (options.runner ?? denoCdkRunner)({
    bin,
    args,
    cwd: resolve(appDir),
    env: cdkEnvironment(options.env, options),
    label: "synth",
  });
  if (result.exitCode !== 0) {
    throw new AphexError(
      `cdk synth failed in ${appDir} (exit ${result.exitCode})${tailSuffix(result.output)}`,
    );
  }
  return await readCloudAssembly(outputDir);
}

function tailSuffix(output: string, lines = 20): string {
  const tail = output.trimEnd().split("\n").slice(-lines).join("\n");
  return tail ? `:\n${tail}` : "";
}

/** Options of {@linkcode deployStack}. */
export interface DeployStackOptions {
  /** CDK app directory (working directory of `cdk`, where the project's CLI is installed). */
  appDir: string;
  /** File CDK writes the stack outputs to (`--outputs-file`). */
  outputsFile: string;
  /** Complete environment of the `cdk` process (credentials, region…). */
  env: Record<string, string>;
  /** Runner (default {@linkcode denoCdkRunner}). */
  runner?: CdkRunner;
  /** Command running the CDK CLI (default {@linkcode DEFAULT_CDK_COMMAND}). */
  cdkCommand?: readonly string[];
  /** Extra `cdk deploy` arguments, appended last (e.g. `["--progress", "events"]`). */
  extraArgs?: string[];
}

/** Outcome of one `cdk deploy`. */
export interface DeployStackOutcome {
  /** CloudFormation stack name. */
  stackName: string;
  /** Whether `cdk deploy` exited 0. */
  ok: boolean;
  /** Exit code of `cdk deploy`. */
  exitCode: number;
  /** Whether CDK reported "(no changes)" (still a success). */
  noChanges: boolean;
  /** Outputs of this stack from the outputs file, if CDK wrote it (`{}` otherwise). */
  outputs: Record<string, string>;
  /** Tail of the CDK output. */
  output: string;
}

/**
 * The argv of `cdk deploy` for one stack of an already synthesized assembly: selected by its
 * display name, `--exclusively` (no dependency stacks), `--app <assembly>` (no re-synth).
 */
export function deployArgs(
  assembly: CloudAssembly,
  stack: AssemblyStack,
  options: { outputsFile: string; extraArgs?: string[] },
): string[] {
  return [
    "deploy",
    stack.displayName,
    "--app",
    assembly.dir,
    "--exclusively",
    "--require-approval",
    "never",
    "--outputs-file",
    resolve(options.outputsFile),
    ...(options.extraArgs ?? []),
  ];
}

/** Whether CDK output says the stack was unchanged. */
export function isNoChanges(output: string): boolean {
  return /\(no changes\)/.test(output);
}

async function readOutputsFile(file: string, stackName: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    throw error;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return {};
  }
  const outputs = asRecord(asRecord(doc)?.[stackName]) ?? {};
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(outputs)) {
    result[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return result;
}

/**
 * Deploys one stack of an assembly with the project's CDK CLI (see {@linkcode deployArgs}). A
 * failed deploy is returned (`ok: false`), not thrown, so the caller can read the CloudFormation
 * failure events.
 */
export async function deployStack(
  assembly: CloudAssembly,
  stack: AssemblyStack,
  options: DeployStackOptions,
): Promise<DeployStackOutcome> {
  const [bin, prefix] = splitCommand(options.cdkCommand);
  const args = [...prefix, ...deployArgs(assembly, stack, options)];
  const result = await (options.runner ?? denoCdkRunner)({
    bin,
    args,
    cwd: resolve(options.appDir),
    env: options.env,
    label: `deploy/${stack.stackName}`,
  });
  const ok = result.exitCode === 0;
  return {
    stackName: stack.stackName,
    ok,
    exitCode: result.exitCode,
    noChanges: ok && isNoChanges(result.output),
    outputs: ok ? await readOutputsFile(resolve(options.outputsFile), stack.stackName) : {},
    output: result.output,
  };
}
