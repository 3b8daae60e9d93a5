/**
 * The pipeline's own CDK stack (`pipeline.pipelineStack`), deployed just-in-time by the
 * self-update stage: `cdk synth` of the stack's CDK app into a fresh assembly, then `cdk deploy`
 * of that one stack from it, in the pipeline's own account and region. The CDK app runs
 * repository code, so it never sees the git token.
 * @module
 */
import { join } from "node:path";
import { GITHUB_TOKEN_ENV, type StackConfig } from "../../models/config.ts";
import { AphexError, usageError } from "../../models/errors.ts";
import { callerAccount } from "../aws/caller_identity.ts";
import { makeRedactor, secretValuesFromEnv } from "../process/exec.ts";
import { synthesizeApp } from "./app.ts";
import { cdkEnvironment, DEFAULT_CDK_COMMAND, deployStack } from "./cli.ts";
import { type CdkRunner, createCdkRunner } from "./runner.ts";
import { findCdkAppDir } from "./app_dir.ts";
import { selectStacks } from "./assembly.ts";

/** Deploys the pipeline's own CDK stack; returns whether CDK reported "no changes". */
export type PipelineStackDeployer = (request: {
  /** Checked-out repository. */
  workspace: string;
  /** The configured `pipeline.pipelineStack`. */
  stack: StackConfig;
  /** Environment of the stage. */
  env: Record<string, string | undefined>;
  /** Log sink. */
  log: (line: string) => void;
}) => Promise<{ stackName: string; noChanges: boolean }>;

/** Options of {@linkcode createCdkPipelineStackDeployer}. */
export interface CdkPipelineStackOptions {
  /** Runs `cdk` (default: `createCdkRunner` streaming redacted lines to the stage log). */
  runner?: CdkRunner;
  /** Command running the CDK CLI (default `npx --no-install cdk`). */
  cdkCommand?: readonly string[];
}

/** Variables never passed to the CDK app (it runs repository code). */
const WITHHELD_FROM_CDK = [GITHUB_TOKEN_ENV];

/**
 * A {@linkcode PipelineStackDeployer} on the CDK helpers: synthesizes the stack's CDK app
 * just-in-time (`cdk synth` into a fresh directory) and deploys that one stack from the assembly
 * (`cdk deploy --exclusively --app <assembly>`), in the pipeline's own account (`CDK_DEFAULT_ACCOUNT`,
 * else the STS caller identity) and region (`AWS_REGION` / `AWS_DEFAULT_REGION`). "No changes"
 * is success; a failed synth or deploy throws (exit 1) with the output tail.
 */
export function createCdkPipelineStackDeployer(
  options: CdkPipelineStackOptions = {},
): PipelineStackDeployer {
  return async (request) => {
    const env = request.env;
    const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) {
      throw usageError(
        "deploying pipeline.pipelineStack needs AWS_REGION (or AWS_DEFAULT_REGION) in the environment",
      );
    }
    const account = env.CDK_DEFAULT_ACCOUNT ?? await callerAccount(region);
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) {
      if (v !== undefined && !WITHHELD_FROM_CDK.includes(k)) base[k] = v;
    }
    const runner = options.runner ??
      createCdkRunner({ redact: makeRedactor(secretValuesFromEnv(env)), log: request.log });
    const appDir = await findCdkAppDir(request.workspace, request.stack.path);
    // A fresh checkout: install the app's dependencies (its own CDK CLI) first, as deploy does.
    const assembly = await synthesizeApp(appDir, {
      account,
      region,
      env: base,
      runner,
      cdkCommand: options.cdkCommand ?? DEFAULT_CDK_COMMAND,
      workspace: request.workspace,
    });
    const outputsDir = await Deno.makeTempDir({ prefix: "aphex-pipeline-stack-" });
    try {
      const [target] = selectStacks(assembly, [request.stack.name], {
        context: "pipeline.pipelineStack",
        expectEnvironment: { account, region },
      });
      const outcome = await deployStack(assembly, target!, {
        appDir,
        outputsFile: join(outputsDir, "outputs.json"),
        env: cdkEnvironment(base, { account, region }),
        runner,
        cdkCommand: options.cdkCommand ?? DEFAULT_CDK_COMMAND,
      });
      if (!outcome.ok) {
        const tail = outcome.output.trimEnd().split("\n").slice(-20).join("\n");
        throw new AphexError(
          `cdk deploy of the pipeline stack ${outcome.stackName} failed (exit ${outcome.exitCode})` +
            (tail ? `:\n${tail}` : ""),
        );
      }
      return { stackName: outcome.stackName, noChanges: outcome.noChanges };
    } finally {
      await Deno.remove(outputsDir, { recursive: true }).catch(() => {});
      await Deno.remove(assembly.dir, { recursive: true }).catch(() => {});
    }
  };
}

/** The default {@linkcode PipelineStackDeployer}: {@linkcode createCdkPipelineStackDeployer}. */
export const deployPipelineStackWithCdk: PipelineStackDeployer = createCdkPipelineStackDeployer();
