/**
 * The option table and help of `aphex deploy`, apart from the stage so that `aphex deploy --help`
 * is printed without loading the stage and the AWS SDK it imports (issue 18).
 * @module
 */
import type { CommandSpec } from "../command/contract.ts";
import { STAGE_OPTIONS } from "../command/stage_runtime.ts";
import { CDK_COMMAND_OPTION } from "../command/workspace_inputs.ts";

/** Default timeout of one hook command (1 hour). */
export const DEFAULT_HOOK_TIMEOUT_MS = 60 * 60 * 1000;

/** `aphex deploy`: name, help and options. */
export const spec: CommandSpec = {
  name: "deploy",
  summary: "Deploy one environment's CDK stacks in order (synth just-in-time, outputs, events)",
  description: "Downloads and verifies the build's artifacts, resolves credentials (assuming the " +
    "environment's role or the CDK deploy role when the account differs), runs preDeploy hooks, " +
    "synthesizes with the project's CDK CLI, deploys the configured stacks one by one (the first " +
    "failure stops and prints its failed CloudFormation events), runs postDeploy hooks and " +
    "writes the stack outputs to <outputs-dir>/stack-outputs and <sha>/outputs/<env>.json.",
  options: {
    ...STAGE_OPTIONS,
    env: {
      type: "string",
      description: "Environment to deploy (required)",
      env: "APHEX_ENV",
      valueName: "NAME",
    },
    "recreate-failed": {
      type: "boolean",
      description: "Delete a stack left in ROLLBACK_COMPLETE by a failed creation, then deploy it",
      env: "APHEX_RECREATE_FAILED",
    },
    "from-plan": {
      type: "boolean",
      description: "Execute exactly the change sets of the stored plan (<sha>/plans/<env>.json, " +
        "from `aphex plan`) instead of synthesizing; refused when a stack changed since the plan",
      env: "APHEX_FROM_PLAN",
    },
    "hook-timeout": {
      type: "string",
      description: "Timeout of one preDeploy/postDeploy command in seconds",
      env: "APHEX_HOOK_TIMEOUT",
      default: String(DEFAULT_HOOK_TIMEOUT_MS / 1000),
      valueName: "SECONDS",
    },
    "cdk-command": CDK_COMMAND_OPTION,
    json: { type: "boolean", description: "Print the DeploymentResults and outputs as JSON" },
  },
};
