/**
 * `cdk diff` of stacks of an already synthesized cloud assembly against their account
 * (`--app <assembly> --exclusively`, no re-synth): what a deployment would change, shown before
 * anything is deployed. The output is streamed by the {@linkcode CdkRunner}.
 * @module
 */
import type { CdkRunner, CdkRunResult } from "./runner.ts";

/** Options of {@linkcode diffStacks}. */
export interface DiffStacksOptions {
  /** CDK app directory (working directory of `cdk`, where the project's CLI is installed). */
  appDir: string;
  /** Display names of the stacks to diff. */
  stacks: readonly string[];
  /** Complete environment of the `cdk` process (credentials, region…). */
  env: Record<string, string>;
  /** Runs `cdk`. */
  runner: CdkRunner;
  /** Command running the CDK CLI, e.g. `["npx", "--no-install", "cdk"]`. */
  cdkCommand: readonly string[];
  /** Log prefix label, e.g. `diff/dev`. */
  label: string;
}

/** The argv of `cdk diff` (after the CDK command) for `stacks` of the assembly in `assemblyDir`. */
export function diffArgs(assemblyDir: string, stacks: readonly string[]): string[] {
  return ["diff", "--app", assemblyDir, "--exclusively", "--no-notices", ...stacks];
}

/** Runs `cdk diff` of stacks of the assembly in `assemblyDir`; a non-zero exit is returned. */
export async function diffStacks(
  assemblyDir: string,
  options: DiffStacksOptions,
): Promise<CdkRunResult> {
  const [bin, ...prefix] = options.cdkCommand;
  return await options.runner({
    bin: bin!,
    args: [...prefix, ...diffArgs(assemblyDir, options.stacks)],
    cwd: options.appDir,
    env: options.env,
    label: options.label,
  });
}
