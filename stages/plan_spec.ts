/**
 * The option table and help of `aphex plan`, apart from the stage so that `aphex plan --help` is
 * printed without loading the stage and the AWS SDK it imports.
 * @module
 */
import type { CommandSpec } from "../command/contract.ts";
import { STAGE_OPTIONS } from "../command/stage_runtime.ts";
import { CDK_COMMAND_OPTION } from "../command/workspace_inputs.ts";

/** `aphex plan`: name, help and options. */
export const spec: CommandSpec = {
  name: "plan",
  summary:
    "Prepare and describe one environment's CloudFormation change sets without executing them",
  description: "Downloads and verifies the build's artifacts, resolves credentials like deploy, " +
    "synthesizes with the project's CDK CLI, creates one change set per configured stack " +
    "(`cdk deploy --method=prepare-change-set`, which also publishes the assets) without " +
    "executing it, describes every change set (all pages) and compares the deployed template " +
    "with the synthesized one for IAM and security-group broadening. Prints the plan as a " +
    "table and stores it at <sha>/plans/<env>.json; the output parameter `approve` says whether " +
    "the environment's review gate (`review:`) stops the run. Exit 1 when a change set could not " +
    "be prepared or no AWS credentials were found (the plan says what it skipped).",
  options: {
    ...STAGE_OPTIONS,
    env: {
      type: "string",
      description: "Environment to plan (required)",
      env: "APHEX_ENV",
      valueName: "NAME",
    },
    "stored-assembly": {
      type: "boolean",
      description: "Plan the cloud assembly stored for the commit (<sha>/assemblies/<env>/) " +
        "instead of building and synthesizing (what `aphex rollback` redeploys)",
      env: "APHEX_STORED_ASSEMBLY",
    },
    "cdk-command": CDK_COMMAND_OPTION,
    json: { type: "boolean", description: "Print the plan as JSON" },
  },
};
