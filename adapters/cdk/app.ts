/**
 * The CDK app as Aphex runs it: the project's own CDK CLI command (`--cdk-command`, split into
 * argv), a frozen install of the app's dependencies on a fresh checkout, and just-in-time synth
 * with a hint when no CDK CLI can be found. Used by synth, deploy, preflight, pipeline-update and
 * `run --local` alike.
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { AphexError, ExitCode, usageError } from "../../models/errors.ts";
import { shellWords } from "../../models/shell_words.ts";
import type { CloudAssembly } from "./assembly.ts";
import { DEFAULT_CDK_COMMAND, synthesize, type SynthOptions } from "./cli.ts";
import type { CdkRunner } from "./runner.ts";

/**
 * Splits `--cdk-command` into argv with shell quoting rules (`shell-quote`), so a quoted path with
 * spaces stays one word; no shell runs it. Operators, globs and comments are refused (usage
 * error): the text is argv, never a pipeline.
 */
export function parseCdkCommand(text: string | undefined): readonly string[] {
  if (text === undefined || text.trim() === "") return DEFAULT_CDK_COMMAND;
  const { words, complete } = shellWords(text);
  if (!complete) {
    throw usageError(
      `--cdk-command ${JSON.stringify(text.slice(0, 80))} must be a plain command and its ` +
        "arguments (no shell operators, globs or comments)",
    );
  }
  return words;
}

async function hasLocalCdkCli(appDir: string): Promise<boolean> {
  for (let dir = resolve(appDir);; dir = dirname(dir)) {
    try {
      await Deno.stat(join(dir, "node_modules", ".bin", "cdk"));
      return true;
    } catch {
      // keep looking upwards, like npx does
    }
    if (dirname(dir) === dir) return false;
  }
}

/** Lockfile → the package manager's install that never changes the lockfile, as argv. */
const LOCKFILE_INSTALLS: readonly [string, string, readonly string[]][] = [
  ["package-lock.json", "npm", ["ci", "--no-audit", "--no-fund"]],
  ["npm-shrinkwrap.json", "npm", ["ci", "--no-audit", "--no-fund"]],
  ["pnpm-lock.yaml", "pnpm", ["install", "--frozen-lockfile"]],
  ["yarn.lock", "yarn", ["install", "--frozen-lockfile"]],
];

/**
 * Every stage pod starts from a fresh checkout, so the CDK app's dependencies (its own CDK CLI
 * among them) are not installed yet. When no `node_modules/.bin/cdk` is found from the app
 * directory up to the workspace, the nearest lockfile's frozen install runs there (argv, through
 * the stage's redacting runner). Returns what was run, or undefined when nothing was needed.
 */
export async function installCdkDependencies(
  appDir: string,
  options: { workspace: string; env: Record<string, string>; runner: CdkRunner },
): Promise<string | undefined> {
  if (await hasLocalCdkCli(appDir)) return undefined;
  const top = resolve(options.workspace);
  for (let dir = resolve(appDir);; dir = dirname(dir)) {
    for (const [lockfile, bin, args] of LOCKFILE_INSTALLS) {
      if (!(await exists(join(dir, lockfile)))) continue;
      const result = await options.runner({
        bin,
        args: [...args],
        cwd: dir,
        env: options.env,
        label: "install",
      });
      const what = `${bin} ${args.join(" ")} in ${dir}`;
      if (result.exitCode !== 0) {
        throw new AphexError(
          `installing the CDK app's dependencies failed (${what}, exit ${result.exitCode})`,
        );
      }
      return what;
    }
    if (dir === top || dirname(dir) === dir || !dir.startsWith(top)) return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * {@linkcode synthesize}, after installing the app's dependencies when a fresh checkout lacks them
 * ({@linkcode installCdkDependencies}), with a hint when the default command
 * (`npx --no-install cdk`) still finds no CDK CLI: `aws-cdk` must be a devDependency of the app.
 */
export async function synthesizeApp(
  appDir: string,
  options: SynthOptions & { cdkCommand: readonly string[]; workspace?: string },
): Promise<CloudAssembly> {
  if (options.workspace !== undefined && options.runner !== undefined) {
    await installCdkDependencies(appDir, {
      workspace: options.workspace,
      env: options.env,
      runner: options.runner,
    });
  }
  try {
    return await synthesize(appDir, options);
  } catch (e) {
    if (
      e instanceof AphexError && e.exitCode === ExitCode.Failed &&
      options.cdkCommand.join(" ") === DEFAULT_CDK_COMMAND.join(" ") &&
      !(await hasLocalCdkCli(appDir))
    ) {
      throw new AphexError(
        `${e.message}\nhint: the project's CDK CLI is not installed (no node_modules/.bin/cdk in ` +
          `${appDir} or above, and no lockfile to install from); add aws-cdk as a devDependency of ` +
          `the app and commit its lockfile, or install it with a preDeploy hook`,
        { cause: e },
      );
    }
    throw e;
  }
}
