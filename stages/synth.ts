/**
 * The synth stage (`aphex synth [--env NAME]`, also `deno run -A stages/synth.ts`): the last step
 * of pull-request validation. Checks out the commit (when one is given), synthesizes each selected
 * environment's CDK apps just-in-time with the project's own CDK CLI (`CDK_DEFAULT_ACCOUNT`/
 * `CDK_DEFAULT_REGION` from the configuration; no AWS credentials needed), checks that every
 * configured stack exists and that the configured order respects the stack dependencies, and
 * prints the stack list per environment. Nothing is deployed.
 *
 * Exit codes: 0 ok; 1 a synth failed; 2 the configuration does not match the CDK app (missing
 * stack, order against dependencies, no `cdk.json`) or another usage error.
 * @module
 */
import { join, relative, resolve } from "node:path";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import type { EnvironmentConfig } from "../models/config.ts";
import { AphexError, ExitCode } from "../models/errors.ts";
import { locateCdkApps } from "../adapters/cdk/app_dir.ts";
import { type CloudAssembly, selectStacks } from "../adapters/cdk/assembly.ts";
import { DEFAULT_CDK_COMMAND } from "../adapters/cdk/cli.ts";
import { createCdkRunner } from "../adapters/cdk/runner.ts";
import { parseCdkCommand, synthesizeApp } from "../adapters/cdk/app.ts";
import type { GitRunner } from "../adapters/git/checkout.ts";
import { makeRedactor, secretValuesFromEnv } from "../adapters/process/exec.ts";
import { GITHUB_TOKEN_ENV, loadStageConfig, selectEnvironment } from "../command/stage_runtime.ts";
import {
  CDK_COMMAND_OPTION,
  checkoutIfRequested,
  resolveWorkspaceInputs,
  WORKSPACE_OPTIONS,
  type WorkspaceInputs,
} from "../command/workspace_inputs.ts";

/** Injected dependencies of {@linkcode runSynth}. */
export interface SynthDeps {
  /** Environment of the stage (the CDK CLI inherits it, minus the git token). */
  env: Record<string, string | undefined>;
  /** Log sink (redacted lines, stderr). */
  log: (line: string) => void;
  /** Command running the project's CDK CLI (default `npx --no-install cdk`). */
  cdkCommand?: readonly string[];
  /** Git runner (tests). */
  git?: GitRunner;
  /** Accept file:// repository URLs (tests only). */
  allowFileUrls?: boolean;
  /** Commit the workspace is at (`APHEX_COMMIT_SHA` for the app) when no checkout is asked. */
  commitSha?: string;
  /**
   * Assemblies shared across calls (`aphex run --local` synthesizes one environment per call):
   * an app already synthesized for the same account/region is reused. With a cache the caller
   * removes `cache.dirs` when done; without one they are removed before returning.
   */
  cache?: SynthCache;
}

/** Cloud assemblies shared across {@linkcode runSynth} calls, keyed by {@linkcode synthCacheKey}. */
export interface SynthCache {
  /** Assembly (being) synthesized per app/account/region. */
  assemblies: Map<string, Promise<CloudAssembly>>;
  /** Assembly directories to remove when the cache is discarded. */
  dirs: string[];
}

/**
 * Cache key of the assembly of `appDir` (absolute) synthesized for an environment: the app sees
 * the environment's name (`APHEX_ENV`), so environments never share an assembly.
 */
export function synthCacheKey(
  appDir: string,
  target: { environment: string; account: string; region: string },
): string {
  return JSON.stringify([appDir, target.environment, target.account, target.region]);
}

/** One stack of a synthesized environment. */
export interface SynthStack {
  /** CloudFormation stack name. */
  stackName: string;
  /** CDK display name (what `cdk deploy` selects). */
  displayName: string;
  /** CDK app directory, relative to the workspace (`.` for the root). */
  app: string;
  /** CloudFormation names of the stacks it depends on. */
  dependencies: string[];
}

/** Synth result of one environment. */
export interface SynthEnvironment {
  /** Environment name. */
  name: string;
  /** Account. */
  account: string;
  /** Region. */
  region: string;
  /** Stacks in configured (deploy) order; empty when `error` is set. */
  stacks: SynthStack[];
  /** What went wrong for this environment. */
  error?: string;
  /** `synth` when the CDK CLI failed, `config` when the configuration does not match the app. */
  errorKind?: "synth" | "config";
}

/** What {@linkcode runSynth} did. */
export interface SynthOutcome {
  /** 0 ok, 1 a synth failed, 2 configuration mismatch. */
  exitCode: number;
  /** One entry per selected environment, in configured order. */
  environments: SynthEnvironment[];
}

/**
 * Synthesizes every selected environment (each CDK app once per account/region) and checks the
 * configured stacks against the assemblies. Problems of one environment do not stop the others;
 * they are all returned. An unknown `--env` or an invalid configuration throws (exit 2).
 */
export async function runSynth(inputs: WorkspaceInputs, deps: SynthDeps): Promise<SynthOutcome> {
  const redact = makeRedactor(secretValuesFromEnv(deps.env));
  const log = (line: string) => deps.log(redact(line));
  await checkoutIfRequested(inputs, { ...deps, log: (l) => log(`[synth] ${l}`) });
  const config = await loadStageConfig(inputs, { checkPaths: true });
  const commitSha = inputs.commitSha ?? deps.commitSha;
  const selected: EnvironmentConfig[] = inputs.environment
    ? [selectEnvironment(config, inputs.environment)]
    : config.environments;
  const baseEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(deps.env)) if (v !== undefined) baseEnv[k] = v;
  delete baseEnv[GITHUB_TOKEN_ENV];
  // The CDK CLI names the folder it wrote; a temporary one is gone when this stage returns.
  const runner = createCdkRunner({
    redact,
    log: (line) => {
      const temp = tempDirs.find((dir) => line.includes(dir));
      log(
        temp === undefined ? line : line.replace(
          temp,
          "a temporary folder (removed after synth; keep the assembly with --output DIR)",
        ),
      );
    },
  });
  const cdkCommand = deps.cdkCommand ?? DEFAULT_CDK_COMMAND;
  const assemblies = deps.cache?.assemblies ?? new Map<string, Promise<CloudAssembly>>();
  const tempDirs: string[] = deps.cache?.dirs ?? [];
  const environments: SynthEnvironment[] = [];
  try {
    for (const env of selected) {
      const result: SynthEnvironment = {
        name: env.name,
        account: env.account,
        region: env.region,
        stacks: [],
      };
      environments.push(result);
      try {
        const stacks: SynthStack[] = [];
        const byName = new Map<string, SynthStack>();
        for (const app of await locateCdkApps(inputs.workspace, env.stacks)) {
          const key = synthCacheKey(app.appDir, {
            environment: env.name,
            account: env.account,
            region: env.region,
          });
          let pending = assemblies.get(key);
          if (!pending) {
            const appName = relative(inputs.workspace, app.appDir) || ".";
            log(`[synth] cdk synth of ${appName} for aws://${env.account}/${env.region}`);
            const kept = inputs.outputDir === undefined ? undefined : join(
              resolve(inputs.workspace, inputs.outputDir),
              `${env.account}-${env.region}`,
              appName === "." ? "" : appName.replaceAll("/", "_"),
            );
            const made = kept === undefined
              ? Deno.makeTempDir({ prefix: "aphex-synth-" }).then((dir) => {
                tempDirs.push(dir);
                return dir;
              })
              : Promise.resolve(kept);
            pending = made.then((outputDir) => {
              return synthesizeApp(app.appDir, {
                account: env.account,
                region: env.region,
                environment: env.name,
                ...(commitSha ? { commitSha } : {}),
                env: baseEnv,
                outputDir,
                runner,
                cdkCommand,
                workspace: inputs.workspace,
              });
            });
            assemblies.set(key, pending);
          }
          const assembly = await pending;
          const chosen = selectStacks(assembly, app.stacks, {
            expectEnvironment: { account: env.account, region: env.region },
            context: `environment ${env.name}`,
          });
          app.stacks.forEach((name, i) => {
            const s = chosen[i]!;
            byName.set(name, {
              stackName: s.stackName,
              displayName: s.displayName,
              app: relative(inputs.workspace, app.appDir) || ".",
              dependencies: [...s.dependencies],
            });
          });
        }
        for (const s of env.stacks) stacks.push(byName.get(s.name)!);
        result.stacks = stacks;
      } catch (e) {
        if (!(e instanceof AphexError)) throw e;
        result.error = redact(e.message);
        result.errorKind = e.exitCode === ExitCode.Usage ? "config" : "synth";
        log(`[synth] environment ${env.name}: ${result.error}`);
      }
    }
  } finally {
    if (!deps.cache) {
      for (const dir of tempDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
  const kinds = new Set(environments.map((e) => e.errorKind));
  const exitCode = kinds.has("synth")
    ? ExitCode.Failed
    : kinds.has("config")
    ? ExitCode.Usage
    : ExitCode.Ok;
  return { exitCode, environments };
}

/** Renders the stack list of each environment (what `aphex synth` prints on stdout). */
export function formatSynthOutcome(outcome: SynthOutcome): string {
  const lines: string[] = [];
  for (const env of outcome.environments) {
    lines.push(`${env.name} (aws://${env.account}/${env.region})`);
    if (env.error) {
      lines.push(`  ${env.errorKind === "synth" ? "synth failed" : "configuration mismatch"}`);
      continue;
    }
    const width = Math.max(...env.stacks.map((s) => s.stackName.length));
    for (const [i, s] of env.stacks.entries()) {
      const extra = [
        s.displayName !== s.stackName ? `[${s.displayName}]` : "",
        `app ${s.app}`,
        s.dependencies.length > 0 ? `depends on ${s.dependencies.join(", ")}` : "",
      ].filter(Boolean).join("  ");
      lines.push(`  ${i + 1}. ${s.stackName.padEnd(width)}  ${extra}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** `aphex synth`. */
export const command: Command = {
  spec: {
    name: "synth",
    summary: "Synthesize each environment's CDK apps and check the configured stacks and order",
    description:
      "Runs the project's own CDK CLI (cdk synth) with CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION " +
      "from the configuration; needs no AWS credentials and deploys nothing. Prints the stacks " +
      "of each environment in deploy order. Exit 1 when a synth fails, 2 when a configured stack " +
      "is missing from the app or the order contradicts the stack dependencies.",
    options: {
      ...WORKSPACE_OPTIONS,
      "cdk-command": CDK_COMMAND_OPTION,
      output: {
        type: "string",
        short: "o",
        description:
          "Keep the cloud assemblies in DIR/<account>-<region>[/<app>] (must be empty); " +
          "default: temporary folders, removed after synth",
        valueName: "DIR",
      },
      json: { type: "boolean", description: "Print the environments and stacks as JSON" },
    },
  },
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const outcome = await runSynth(resolveWorkspaceInputs(values, ctx), {
      env: ctx.env,
      log: (line) => ctx.stderr(line + "\n"),
      cdkCommand: parseCdkCommand(str(values, "cdk-command")),
    });
    if (values.json === true) ctx.stdout(JSON.stringify(outcome) + "\n");
    else ctx.stdout(formatSynthOutcome(outcome));
    return outcome.exitCode;
  },
};

if (import.meta.main) await runMain(command);
