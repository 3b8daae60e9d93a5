/**
 * The CDK side of a deployment: find a stack's CDK app, synthesize it just-in-time with the
 * project's own CDK CLI into a fresh cloud assembly, read that assembly (`manifest.json`), check the
 * configured stacks against it, and deploy one stack from the assembly (`cdk deploy --app <dir>`,
 * no re-synth).
 *
 * Every subprocess runs through an injected {@linkcode CdkRunner} (argv, no shell), so the deploy
 * stage can plug in its live-streaming runner and tests can prove the exact argv.
 * @module
 */
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { AphexError, usageError } from "../../models/errors.ts";

/** File that marks the root of a CDK app. */
export const CDK_JSON = "cdk.json";

/** Artifact type of a CloudFormation stack in a cloud assembly. */
export const STACK_ARTIFACT_TYPE = "aws:cloudformation:stack";

/** Default command that runs the project's own CDK CLI (never downloads one). */
export const DEFAULT_CDK_COMMAND: readonly string[] = ["npx", "--no-install", "cdk"];

/** One subprocess to run (argv form; nothing goes through a shell). */
export interface CdkRunRequest {
  /** Program, e.g. `npx`. */
  bin: string;
  /** Arguments. */
  args: string[];
  /** Working directory (the CDK app dir). */
  cwd: string;
  /** Complete environment of the process (nothing else is inherited). */
  env: Record<string, string>;
  /** Short label for log prefixes, e.g. `synth` or `deploy/aphex-app`. */
  label: string;
}

/** What a finished subprocess reports. */
export interface CdkRunResult {
  /** Exit code (non-zero on failure or signal). */
  exitCode: number;
  /** Tail of the combined output (stdout and stderr), already redacted by the runner. */
  output: string;
}

/** Runs a subprocess, streaming its output live; injected by the deploy stage and by tests. */
export type CdkRunner = (request: CdkRunRequest) => Promise<CdkRunResult>;

/** Characters of output the default runner keeps in memory. */
const DEFAULT_RUNNER_TAIL = 64 * 1024;

/** Options of {@linkcode createCdkRunner}. */
export interface CdkRunnerOptions {
  /** Redacts secrets from every line before it is logged or kept (default: identity). */
  redact?: (text: string) => string;
  /** Receives every output line, already prefixed `[label] ` (default: written to stderr). */
  log?: (line: string) => void;
  /** Characters of output kept for the result (default 64 KiB). */
  tailChars?: number;
}

/**
 * Builds a runner on `new Deno.Command(bin, { args })` (no shell): output is streamed line by line
 * with a `[label]` prefix while a bounded, redacted tail is kept for the result.
 */
export function createCdkRunner(options: CdkRunnerOptions = {}): CdkRunner {
  const redact = options.redact ?? ((text: string) => text);
  const encoder = new TextEncoder();
  const log = options.log ?? ((line: string) => Deno.stderr.writeSync(encoder.encode(`${line}\n`)));
  const limit = options.tailChars ?? DEFAULT_RUNNER_TAIL;
  return async (request) => {
    const child = new Deno.Command(request.bin, {
      args: request.args,
      cwd: request.cwd,
      env: request.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let tail = "";
    const emit = (raw: string) => {
      const line = redact(raw);
      log(`[${request.label}] ${line}`);
      tail = (tail + line + "\n").slice(-limit);
    };
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      let pending = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          emit(pending.slice(0, nl).replace(/\r$/, ""));
          pending = pending.slice(nl + 1);
        }
      }
      if (pending.length > 0) emit(pending);
    };
    const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
    return { exitCode: status.code, output: tail };
  };
}

/** The default runner: {@linkcode createCdkRunner} logging to stderr, without redaction. */
export const denoCdkRunner: CdkRunner = createCdkRunner();

function isInside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Finds the CDK app directory of a stack: the nearest directory containing `cdk.json`, walking up
 * from the stack's `path` (relative to the workspace; a file's search starts at its directory),
 * never above the workspace root. Returns the absolute directory.
 *
 * @throws {AphexError} exit 2 when the path leaves the workspace or no `cdk.json` is found.
 */
export async function findCdkAppDir(workspace: string, stackPath: string): Promise<string> {
  const root = resolve(workspace);
  const target = resolve(root, stackPath);
  if (!isInside(root, target)) {
    throw usageError(`stack path "${stackPath}" is outside the workspace ${root}`);
  }
  let dir = (await isDirectory(target)) ? target : dirname(target);
  const searched: string[] = [];
  while (isInside(root, dir)) {
    searched.push(dir);
    if (await isFile(join(dir, CDK_JSON))) return dir;
    if (dir === root) break;
    dir = dirname(dir);
  }
  throw usageError(
    `no ${CDK_JSON} found for stack path "${stackPath}": looked in ${
      searched.map((d) => relative(root, d) || ".").join(", ")
    } (the CDK app must be inside the repository)`,
  );
}

/** Stacks that live in one CDK app. */
export interface CdkAppStacks {
  /** Absolute CDK app directory. */
  appDir: string;
  /** Configured stack names of this app, in configured order. */
  stacks: string[];
}

/**
 * Groups configured stacks by their CDK app ({@linkcode findCdkAppDir} of each `path`), apps in
 * order of first appearance: each app is synthesized once.
 */
export async function locateCdkApps(
  workspace: string,
  stacks: readonly { name: string; path: string }[],
): Promise<CdkAppStacks[]> {
  const apps: CdkAppStacks[] = [];
  for (const stack of stacks) {
    const appDir = await findCdkAppDir(workspace, stack.path);
    const app = apps.find((a) => a.appDir === appDir);
    if (app) app.stacks.push(stack.name);
    else apps.push({ appDir, stacks: [stack.name] });
  }
  return apps;
}

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

/** Account and region of a stack artifact (`aws://account/region`). */
export interface StackEnvironment {
  /** Account id, or `unknown-account` for an environment-agnostic stack. */
  account: string;
  /** Region, or `unknown-region`. */
  region: string;
}

/** One stack of a cloud assembly. */
export interface AssemblyStack {
  /** Artifact id in `manifest.json`. */
  artifactId: string;
  /** Hierarchical id (`displayName`): what `cdk deploy` selects stacks by. */
  displayName: string;
  /** CloudFormation stack name (`properties.stackName`, default the artifact id). */
  stackName: string;
  /** Target environment, when the artifact declares one. */
  environment?: StackEnvironment;
  /** CloudFormation stack names this stack depends on (asset manifests etc. are left out). */
  dependencies: string[];
  /** Template file, relative to the assembly directory. */
  templateFile?: string;
}

/** A parsed cloud assembly. */
export interface CloudAssembly {
  /** Absolute assembly directory (what `cdk deploy --app` takes). */
  dir: string;
  /** Cloud assembly schema version. */
  version: string;
  /** Stack artifacts in manifest order. */
  stacks: AssemblyStack[];
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : undefined;
}

/** Parses `aws://account/region`. */
export function parseEnvironmentUri(uri: string): StackEnvironment | undefined {
  const match = /^aws:\/\/([^/]+)\/([^/]+)$/.exec(uri);
  return match ? { account: match[1]!, region: match[2]! } : undefined;
}

/**
 * Parses the text of a cloud assembly `manifest.json` (no I/O); `dir` is recorded as the
 * assembly directory.
 *
 * @throws {AphexError} when the manifest is not a cloud assembly manifest.
 */
export function parseAssemblyManifest(text: string, dir: string): CloudAssembly {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new AphexError(`${join(dir, "manifest.json")} is not valid JSON`, { cause: error });
  }
  const manifest = asRecord(doc);
  const artifacts = asRecord(manifest?.artifacts);
  if (!manifest || typeof manifest.version !== "string") {
    throw new AphexError(`${join(dir, "manifest.json")} is not a cloud assembly manifest`);
  }
  const entries = Object.entries(artifacts ?? {});
  const stackIds = new Map<string, string>();
  for (const [id, raw] of entries) {
    const artifact = asRecord(raw);
    if (artifact?.type !== STACK_ARTIFACT_TYPE) continue;
    const stackName = asRecord(artifact.properties)?.stackName;
    stackIds.set(id, typeof stackName === "string" ? stackName : id);
  }
  const stacks: AssemblyStack[] = [];
  for (const [id, raw] of entries) {
    const artifact = asRecord(raw);
    if (!artifact || artifact.type !== STACK_ARTIFACT_TYPE) continue;
    const properties = asRecord(artifact.properties);
    const deps = Array.isArray(artifact.dependencies) ? artifact.dependencies : [];
    const stack: AssemblyStack = {
      artifactId: id,
      displayName: typeof artifact.displayName === "string" ? artifact.displayName : id,
      stackName: stackIds.get(id)!,
      dependencies: deps.flatMap((d) =>
        typeof d === "string" && stackIds.has(d) ? [stackIds.get(d)!] : []
      ),
    };
    const env = typeof artifact.environment === "string"
      ? parseEnvironmentUri(artifact.environment)
      : undefined;
    if (env) stack.environment = env;
    if (typeof properties?.templateFile === "string") stack.templateFile = properties.templateFile;
    stacks.push(stack);
  }
  return { dir: resolve(dir), version: manifest.version, stacks };
}

/** Reads the cloud assembly in `dir` (its `manifest.json`). */
export async function readCloudAssembly(dir: string): Promise<CloudAssembly> {
  const file = join(dir, "manifest.json");
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new AphexError(`no cloud assembly in ${dir}: ${file} is missing`);
    }
    throw error;
  }
  return parseAssemblyManifest(text, dir);
}

/** Options of {@linkcode selectStacks}. */
export interface SelectStacksOptions {
  /** When set, a stack whose declared account/region differs from it is an error. */
  expectEnvironment?: { account: string; region: string };
  /** Name used in messages, e.g. the environment name. */
  context?: string;
}

function findStack(assembly: CloudAssembly, name: string): AssemblyStack | undefined {
  return assembly.stacks.find((s) => s.stackName === name) ??
    assembly.stacks.find((s) => s.displayName === name || s.artifactId === name);
}

/** CloudFormation names of every stack `stack` depends on in its assembly, directly or not. */
export function transitiveDependencies(
  assembly: CloudAssembly,
  stack: AssemblyStack,
): Set<string> {
  const byName = new Map(assembly.stacks.map((s) => [s.stackName, s]));
  const seen = new Set<string>();
  const todo = [...stack.dependencies];
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    todo.push(...(byName.get(name)?.dependencies ?? []));
  }
  return seen;
}

/**
 * Resolves configured stack names (CloudFormation stack name, or the CDK display name/artifact id)
 * against the assembly, in the configured order, and checks that order against the assembly's
 * (transitive) stack dependencies.
 *
 * @throws {AphexError} exit 2 naming the missing stacks and listing the ones that exist; naming
 * both stacks when a stack is configured before one it depends on; when a stack targets another
 * account/region than `expectEnvironment`.
 */
export function selectStacks(
  assembly: CloudAssembly,
  names: readonly string[],
  options: SelectStacksOptions = {},
): AssemblyStack[] {
  const where = options.context ? ` (${options.context})` : "";
  const missing = names.filter((n) => findStack(assembly, n) === undefined);
  if (missing.length > 0) {
    const existing = assembly.stacks.map((s) =>
      s.displayName === s.stackName ? s.stackName : `${s.stackName} (${s.displayName})`
    );
    throw usageError(
      `stack${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")}${where} ` +
        `not found in the CDK app; stacks it defines: ${
          existing.length > 0 ? existing.join(", ") : "(none)"
        }`,
    );
  }
  const selected = names.map((n) => findStack(assembly, n)!);
  const position = new Map(selected.map((s, i) => [s.stackName, i]));
  for (const [i, stack] of selected.entries()) {
    for (const dep of transitiveDependencies(assembly, stack)) {
      const j = position.get(dep);
      if (j !== undefined && j > i) {
        throw usageError(
          `stack order${where} contradicts the CDK app: "${stack.stackName}" is configured before ` +
            `"${dep}" but depends on it; deploy "${dep}" first`,
        );
      }
    }
  }
  const expected = options.expectEnvironment;
  if (expected) {
    for (const stack of selected) {
      const env = stack.environment;
      if (!env) continue;
      const accountOk = env.account === expected.account || env.account === "unknown-account";
      const regionOk = env.region === expected.region || env.region === "unknown-region";
      if (!accountOk || !regionOk) {
        throw usageError(
          `stack "${stack.stackName}"${where} targets aws://${env.account}/${env.region} but the ` +
            `environment is aws://${expected.account}/${expected.region}`,
        );
      }
    }
  }
  return selected;
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
