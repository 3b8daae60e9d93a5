/**
 * The report stage's inputs (`aphex report`): flags and `APHEX_*` env first (the generated
 * template passes them, so the report goes out even when the run's config is what broke it), then
 * the workspace's config when it is readable — never in a pull-request run (PR boundary: the
 * workspace holds the PR's config).
 * @module
 */
import { join, resolve } from "node:path";
import { type CommandContext, type OptionValues, str } from "../command/contract.ts";
import { configPath, loadStageConfig, LOCAL_STORE_DIR } from "../command/stage_runtime.ts";
import { type AphexConfig, DEFAULTS } from "../models/config.ts";
import { usageError } from "../models/errors.ts";
import { validateCommitSha } from "../adapters/git/checkout.ts";
import {
  DEFAULT_GITHUB_API_URL,
  parseRepository,
  type Repository,
} from "../adapters/monitoring/github_status.ts";
import { validateWorkflowName } from "../adapters/store/stage_records.ts";
import { type ArgoFailure, type ArgoWorkflowStatus, parseWorkflowStatus } from "./_run_record.ts";

/** Resolved inputs of the report stage (`runReport` in `report.ts`). */
export interface ReportInputs {
  /** `exit` (onExit handler, the default) or `start` (pending GitHub statuses only). */
  phase: "exit" | "start";
  /** Commit SHA (validated). */
  commitSha: string;
  /** Branch (a `refs/heads/` prefix is removed). */
  branch: string;
  /** Workflow name (validated). */
  workflow: string;
  /** Argo's `{{workflow.status}}` (required for the exit phase). */
  workflowStatus: ArgoWorkflowStatus | null;
  /** Argo's `{{workflow.failures}}`, parsed. */
  failures: ArgoFailure[];
  /** Argo's `{{workflow.creationTimestamp}}`, if given. */
  createdAt: Date | null;
  /** Namespace of the workflow (Argo link). */
  namespace: string;
  /** Argo UI base URL, if any. */
  argoUrl: string | null;
  /** CloudWatch Logs group. */
  logGroup: string;
  /** SNS topic, if any. */
  snsTopicArn: string | null;
  /** Notify on success too. */
  notifyOnSuccess: boolean;
  /** GitHub repository for commit statuses, if any. */
  repository: Repository | null;
  /** GitHub API base URL. */
  githubApiUrl: string;
  /** Environments of the pipeline, in order (statuses for environments not reached). */
  environments: string[];
  /** Whether to write CloudWatch logs and metrics. */
  cloudwatch: boolean;
  /** Artifact bucket, if any (else the local store). */
  artifactBucket: string | null;
  /** Local store root. */
  storeDir: string;
  /**
   * A pull-request validation run (PR boundary): one `aphex/validate` status from Argo's view of
   * the run; no store, no CloudWatch, no notification; nothing read from the PR's config.
   */
  pullRequest?: boolean;
}

/**
 * The config file, when one is readable in the workspace. It is only a fallback for settings not
 * given as flags/env, so a broken config is reported through `warn` and ignored: the report of a
 * run must go out even when the run's config is what broke it.
 */
async function optionalConfig(
  workspace: string,
  options: { configFile: string; warn: (message: string) => void },
): Promise<AphexConfig | undefined> {
  const { configFile } = options;
  try {
    await Deno.stat(configPath({ workspace, configFile }));
  } catch {
    return undefined;
  }
  try {
    return await loadStageConfig({ workspace, configFile });
  } catch (e) {
    options.warn(`ignoring ${configFile}: ${e instanceof Error ? e.message.split("\n")[0] : e}`);
    return undefined;
  }
}

/** Resolves the report inputs from options (flags/env first, then the config if readable). */
export async function resolveReportInputs(
  values: OptionValues,
  ctx: Pick<CommandContext, "cwd" | "stderr">,
): Promise<ReportInputs> {
  const phase = str(values, "phase") ?? "exit";
  if (phase !== "exit" && phase !== "start") {
    throw usageError(`--phase must be exit or start, got ${JSON.stringify(phase.slice(0, 40))}`);
  }
  const sha = str(values, "commit-sha");
  if (!sha) throw usageError("aphex report: --commit-sha (or APHEX_COMMIT_SHA) is required");
  const workflow = str(values, "workflow");
  if (!workflow) throw usageError("aphex report: --workflow (or APHEX_WORKFLOW_NAME) is required");
  const statusText = str(values, "status");
  if (phase === "exit" && !statusText) {
    throw usageError("aphex report: --status (or APHEX_WORKFLOW_STATUS) is required");
  }
  const createdText = str(values, "created-at");
  let createdAt: Date | null = null;
  if (createdText && !createdText.startsWith("{{")) {
    const t = Date.parse(createdText);
    if (Number.isNaN(t)) {
      throw usageError(`--created-at ${JSON.stringify(createdText)} is not a time`);
    }
    createdAt = new Date(t);
  }
  const workspace = resolve(ctx.cwd, str(values, "workspace") ?? "/workspace");
  // PR boundary: in a pull-request run the workspace holds the PR's config; never read it.
  const pullRequest = values["pull-request"] === true;
  const config = pullRequest ? undefined : await optionalConfig(workspace, {
    configFile: str(values, "config") ?? "aphex-config.yaml",
    warn: (m) => ctx.stderr(`[report] warning: ${m}\n`),
  });
  const p = config?.pipeline;
  const repoText = str(values, "github-repository");
  const envText = str(values, "environments");
  const argoUrl = str(values, "argo-url") ?? p?.argoUrl ?? null;
  if (argoUrl !== null && !/^https?:\/\/[^\s]+$/.test(argoUrl)) {
    throw usageError(`--argo-url ${JSON.stringify(argoUrl.slice(0, 80))} is not an http(s) URL`);
  }
  return {
    phase,
    commitSha: validateCommitSha(sha),
    branch: (str(values, "branch") ?? "").replace(/^refs\/heads\//, ""),
    workflow: validateWorkflowName(workflow),
    workflowStatus: statusText ? parseWorkflowStatus(statusText) : null,
    failures: [],
    createdAt,
    namespace: str(values, "namespace") ?? p?.namespace ?? DEFAULTS.pipeline.namespace,
    argoUrl,
    logGroup: str(values, "log-group") ?? p?.logGroup ?? DEFAULTS.pipeline.logGroup,
    snsTopicArn: str(values, "sns-topic-arn") ?? p?.notifications.snsTopicArn ?? null,
    notifyOnSuccess: typeof values["notify-on-success"] === "boolean"
      ? values["notify-on-success"]
      : p?.notifications.onSuccess ?? false,
    repository: repoText
      ? parseRepository(repoText)
      : p?.github
      ? { owner: p.github.owner, repo: p.github.repo }
      : null,
    githubApiUrl: str(values, "github-api-url") ?? DEFAULT_GITHUB_API_URL,
    environments: envText
      ? envText.split(",").map((e) => e.trim()).filter(Boolean)
      : config?.environments.map((e) => e.name) ?? [],
    cloudwatch: values["skip-cloudwatch"] !== true,
    artifactBucket: str(values, "artifact-bucket") ?? p?.artifactBucket ?? null,
    storeDir: resolve(ctx.cwd, str(values, "store-dir") ?? join(workspace, LOCAL_STORE_DIR)),
    ...(pullRequest
      ? {
        pullRequest,
        snsTopicArn: null,
        environments: [],
        cloudwatch: false,
        artifactBucket: null,
        notifyOnSuccess: false,
      }
      : {}),
  };
}
