/**
 * The option table and help of `aphex rollback`, apart from the command so that `--help` is
 * printed without loading the stages and the AWS SDK they import.
 * @module
 */
import type { CommandSpec } from "../command/contract.ts";
import { STAGE_OPTIONS } from "../command/stage_runtime.ts";
import { CDK_COMMAND_OPTION } from "../command/workspace_inputs.ts";

const { "commit-sha": commitSha, ...stageOptions } = STAGE_OPTIONS;

/** `aphex rollback`: name, help and options. */
export const spec: CommandSpec = {
  name: "rollback",
  summary: "Redeploy an environment's stored cloud assembly (default: its last good commit)",
  description: "Plans the cloud assembly stored for the commit (<sha>/assemblies/<env>/, no " +
    "rebuild, no synth) like `aphex plan`, stops when the environment's review gate finds the " +
    "plan risky (unless --approve), then executes exactly the planned change sets. Stacks that " +
    "only the newer version has are reported, never deleted.",
  options: {
    ...stageOptions,
    "commit-sha": {
      ...commitSha!,
      description: "Commit being rolled back from (optional; the pipeline passes the run's commit)",
    },
    env: {
      type: "string",
      description: "Environment to roll back (required)",
      env: "APHEX_ENV",
      valueName: "NAME",
    },
    to: {
      type: "string",
      description: "Commit to redeploy (default: the last good one)",
      valueName: "SHA",
    },
    approve: { type: "boolean", description: "Execute the rollback plan even when it is risky" },
    "after-test-failure": {
      type: "boolean",
      description: "Automatic rollback (the pipeline's step after failed tests): only when the " +
        "commit's config sets rollback.onTestFailure; re-runs the tests and exits 1",
      env: "APHEX_AFTER_TEST_FAILURE",
    },
    "cdk-command": CDK_COMMAND_OPTION,
    json: { type: "boolean", description: "Print the outcome as JSON" },
  },
};
