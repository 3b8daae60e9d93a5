/**
 * A cloud assembly as CDK writes it: parsing its `manifest.json` into the stacks it defines
 * (names, environments, dependencies), and selecting the configured stacks from it, checked
 * against the assembly's stack dependencies and the target environment. No subprocess runs here.
 * @module
 */
import { join, resolve } from "node:path";
import { AphexError, usageError } from "../../models/errors.ts";

/** Artifact type of a CloudFormation stack in a cloud assembly. */
export const STACK_ARTIFACT_TYPE = "aws:cloudformation:stack";

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

/** `value` as a JSON object (not null, not an array), else undefined. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
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
