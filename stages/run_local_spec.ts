/**
 * The option table and help of `aphex run --local`, apart from the run itself (which composes the
 * stages).
 * @module
 */
import type { CommandSpec } from "../command/contract.ts";
import { LOCAL_STORE_DIR, STAGE_OPTIONS } from "../command/stage_runtime.ts";
import { CDK_COMMAND_OPTION } from "../command/workspace_inputs.ts";

/** `aphex run`: name, help and options. */
export const spec: CommandSpec = {
  name: "run",
  summary: "Run the pipeline's stages on the local checkout (--local): build, synth/diff, deploy",
  description:
    "Runs the WorkflowTemplate's stage sequence on the local checkout: preflight, build " +
    `(artifacts into <workspace>/${LOCAL_STORE_DIR}; the commit is HEAD; a dirty tree is ` +
    "built as it is), then per environment synth and what would be deployed (cdk diff when " +
    "AWS credentials exist, else the stack list), and with --deploy the approval gates, " +
    "deploy and tests. Without AWS credentials build and synth still run and the summary " +
    "says what was skipped. Never contacts the cluster, never uploads to S3. Cluster runs " +
    "are started by the Sensor (a push) or `argo submit`. Exit code: the first failing " +
    "stage's (1 or 2), else 0.",
  options: {
    local: {
      type: "boolean",
      description: "Run locally (required; cluster runs are started by the Sensor)",
    },
    env: {
      type: "string",
      description: "Environment to run (default: all, in configured order)",
      multiple: true,
      valueName: "NAME",
    },
    deploy: {
      type: "boolean",
      description: "Also deploy and test (needs AWS credentials); default: stop at synth/diff",
    },
    yes: {
      type: "boolean",
      short: "y",
      description: "Approve approval gates without asking (needed when stdin is no terminal)",
    },
    workspace: {
      type: "string",
      description: "Repository checkout (top of the git work tree; default: the enclosing " +
        "git repository's top level)",
      env: "APHEX_WORKSPACE",
      valueName: "DIR",
    },
    config: STAGE_OPTIONS.config!,
    "commit-sha": {
      type: "string",
      description: "Check this (local) commit out first; default: the workspace as it is",
      valueName: "SHA",
    },
    "cdk-command": CDK_COMMAND_OPTION,
    json: { type: "boolean", description: "Print the summary as JSON on stdout" },
  },
};
