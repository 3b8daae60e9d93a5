/**
 * The option table and help of `aphex report`, apart from the stage so that `aphex report --help`
 * is printed without loading the stage and the AWS SDK clients it may create.
 * @module
 */
import type { CommandSpec } from "../command/contract.ts";
import { DEFAULTS } from "../models/config.ts";
import { LOCAL_STORE_DIR } from "../command/stage_runtime.ts";
import { DEFAULT_GITHUB_API_URL, GITHUB_TOKEN_ENV } from "../adapters/monitoring/github_status.ts";
import { SLACK_WEBHOOK_ENV } from "../adapters/monitoring/notify.ts";

const OPTIONS: CommandSpec["options"] = {
  phase: {
    type: "string",
    description: "exit (onExit handler) or start (pending GitHub statuses only)",
    env: "APHEX_REPORT_PHASE",
    default: "exit",
    valueName: "PHASE",
  },
  workspace: {
    type: "string",
    description: "Directory where a config file is looked for",
    env: "APHEX_WORKSPACE",
    default: "/workspace",
    valueName: "DIR",
  },
  config: {
    type: "string",
    description: "Config file relative to the workspace (optional: flags/env win)",
    env: "APHEX_CONFIG",
    default: "aphex-config.yaml",
    valueName: "FILE",
  },
  "commit-sha": {
    type: "string",
    description: "Commit of the run (required)",
    env: "APHEX_COMMIT_SHA",
    valueName: "SHA",
  },
  branch: {
    type: "string",
    description: "Branch or ref of the run",
    env: "APHEX_BRANCH",
    valueName: "REF",
  },
  workflow: {
    type: "string",
    description: "Workflow name, {{workflow.name}} (required)",
    env: "APHEX_WORKFLOW_NAME",
    valueName: "NAME",
  },
  status: {
    type: "string",
    description: "{{workflow.status}}: Succeeded, Failed or Error (required for --phase exit)",
    env: "APHEX_WORKFLOW_STATUS",
    valueName: "STATUS",
  },
  failures: {
    type: "string",
    description: "{{workflow.failures}} JSON",
    env: "APHEX_WORKFLOW_FAILURES",
    valueName: "JSON",
  },
  "created-at": {
    type: "string",
    description: "{{workflow.creationTimestamp}} (default: first stage start)",
    env: "APHEX_WORKFLOW_CREATED_AT",
    valueName: "TIME",
  },
  namespace: {
    type: "string",
    description: "Workflow namespace, {{workflow.namespace}} (default pipeline.namespace)",
    env: "APHEX_NAMESPACE",
    valueName: "NS",
  },
  "argo-url": {
    type: "string",
    description: "Argo UI base URL (default pipeline.argoUrl)",
    env: "APHEX_ARGO_URL",
    valueName: "URL",
  },
  "log-group": {
    type: "string",
    description:
      `CloudWatch Logs group (default pipeline.logGroup, else ${DEFAULTS.pipeline.logGroup})`,
    env: "APHEX_LOG_GROUP",
    valueName: "GROUP",
  },
  "sns-topic-arn": {
    type: "string",
    description: "SNS topic to notify (default pipeline.notifications.snsTopicArn)",
    env: "APHEX_SNS_TOPIC_ARN",
    valueName: "ARN",
  },
  "notify-on-success": {
    type: "boolean",
    description: "Also notify on success (default pipeline.notifications.onSuccess)",
    env: "APHEX_NOTIFY_ON_SUCCESS",
  },
  "github-repository": {
    type: "string",
    description: "owner/repo for commit statuses (default pipeline.github)",
    env: "APHEX_GITHUB_REPOSITORY",
    valueName: "OWNER/REPO",
  },
  "github-api-url": {
    type: "string",
    description: "GitHub REST API base URL",
    env: "APHEX_GITHUB_API_URL",
    default: DEFAULT_GITHUB_API_URL,
    valueName: "URL",
  },
  environments: {
    type: "string",
    description: "Comma-separated environments in order (default from the config)",
    env: "APHEX_ENVIRONMENTS",
    valueName: "LIST",
  },
  "skip-cloudwatch": {
    type: "boolean",
    description: "Do not write CloudWatch logs and metrics",
    env: "APHEX_SKIP_CLOUDWATCH",
  },
  "artifact-bucket": {
    type: "string",
    description: "S3 bucket of the artifact store (default pipeline.artifactBucket, else local)",
    env: "APHEX_ARTIFACT_BUCKET",
    valueName: "BUCKET",
  },
  "store-dir": {
    type: "string",
    description: `Local artifact store (default <workspace>/${LOCAL_STORE_DIR})`,
    env: "APHEX_STORE_DIR",
    valueName: "DIR",
  },
  "pull-request": {
    type: "boolean",
    description:
      "Pull-request validation run: set only aphex/validate; no store, CloudWatch or notification; " +
      "the workspace's (the pull request's) config is never read",
    env: "APHEX_PULL_REQUEST",
  },
  json: { type: "boolean", description: "Print the WorkflowMetadata JSON on stdout" },
};

/** `aphex report`: name, help and options. */
export const spec: CommandSpec = {
  name: "report",
  summary: "Record the run, write CloudWatch logs/metrics, notify and set GitHub statuses",
  description:
    "The WorkflowTemplate's onExit handler. Stores <sha>/runs/<workflow>.json and exits 0 even " +
    "when CloudWatch, notifications or GitHub fail (they are logged); exits 2 on invalid inputs. " +
    `The webhook URL is read from ${SLACK_WEBHOOK_ENV}, the GitHub token from ${GITHUB_TOKEN_ENV}.`,
  options: OPTIONS,
};
