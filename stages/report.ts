/**
 * The report stage (`aphex report`, the WorkflowTemplate's `onExit` handler; also
 * `deno run -A stages/report.ts`): reads the stage records of the workflow from the artifact
 * store, merges Argo's view (`{{workflow.status}}`, `{{workflow.failures}}`), assembles the
 * WorkflowMetadata and stores it as `<sha>/runs/<workflow>.json`, writes structured log events to
 * CloudWatch Logs, emits CloudWatch metrics, notifies (SNS, Slack-compatible webhook) and sets
 * GitHub commit statuses.
 *
 * The report never changes the pipeline's result: every side effect that fails is logged and the
 * stage still exits 0. Only invalid inputs (commit SHA, workflow name, status) exit non-zero (2).
 * With `--phase start` it only sets the pending GitHub statuses.
 *
 * Settings come from flags/env (the generated template passes them, so the report works even when
 * the commit's checkout or config is broken), falling back to the config file when one is
 * readable in the workspace.
 * @module
 */
import { join, resolve } from "node:path";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { SNSClient } from "@aws-sdk/client-sns";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import { toJsonText } from "../models/_codec.ts";
import { argoFailuresJson } from "../models/argo_values.ts";
import { INNER_STEP_NAMES } from "../templates/workflow_template.ts";
import type { AphexConfig } from "../models/config.ts";
import { DEFAULTS } from "../models/config.ts";
import { ExitCode, usageError } from "../models/errors.ts";
import {
  type StageMetadata,
  type WorkflowMetadata,
  WorkflowMetadataCodec,
} from "../models/metadata.ts";
import {
  type ArtifactStore,
  openArtifactStore,
  planKey,
  readText,
} from "../adapters/store/artifacts.ts";
import { type EnvironmentPlan, summarizePlan } from "../models/plan.ts";
import type { AwsClientOptions } from "../adapters/aws/clients.ts";
import { validateCommitSha } from "../adapters/git/checkout.ts";
import { makeRedactor, secretValuesFromEnv } from "../adapters/process/exec.ts";
import {
  DEFAULT_GITHUB_API_URL,
  finalStatuses,
  GITHUB_TOKEN_ENV,
  parseRepository,
  pendingStatuses,
  type Repository,
  setCommitStatuses,
  validationStatus,
} from "../adapters/monitoring/github_status.ts";
import {
  buildLogEvents,
  buildMetrics,
  putMetrics,
  type PutMetricsResult,
  writeLogEvents,
  type WriteLogsResult,
} from "../adapters/monitoring/cloudwatch.ts";
import {
  createCloudWatchClient,
  createCloudWatchLogsClient,
} from "../adapters/monitoring/clients.ts";
import {
  argoWorkflowUrl,
  boundSummary,
  createSnsClient,
  type DeliveryResult,
  type RunSummary,
  sendNotifications,
  shouldNotify,
  SLACK_WEBHOOK_ENV,
  snsTopicRegion,
  urlSecrets,
} from "../adapters/monitoring/notify.ts";
import { configPath, loadStageConfig, LOCAL_STORE_DIR } from "../command/stage_runtime.ts";
import {
  boundErrorMessage,
  createStageLogger,
  environmentOfStage,
  logFormatFromEnv,
  readStageRecords,
  type StageRecord,
  validateWorkflowName,
  writeRunRecord,
} from "../adapters/store/stage_records.ts";

/** Argo workflow phases an exit handler sees. */
export type ArgoWorkflowStatus = "Succeeded" | "Failed" | "Error";

/** One entry of Argo's `{{workflow.failures}}`. */
export interface ArgoFailure {
  /** Node display name (the DAG task name, e.g. `deploy-prod`). */
  displayName: string;
  /** Failure message (`Error (exit code 1)`…), possibly empty. */
  message: string;
  /** Template name (`deploy`). */
  templateName: string;
  /** Node phase (`Failed`, `Error`). */
  phase: string;
  /** Finish time, if Argo gave one. */
  finishedAt: Date | null;
}

/** Resolved inputs of {@linkcode runReport}. */
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

/** Injected dependencies of {@linkcode runReport}. */
export interface ReportDeps {
  /** Environment (webhook URL, GitHub token, AWS settings). */
  env: Record<string, string | undefined>;
  /** Log sink (one line per call). */
  log: (line: string) => void;
  /** Clock (completion time). */
  clock?: () => Date;
  /** Artifact store (default: opened from the inputs). */
  store?: ArtifactStore;
  /** AWS client settings for clients created here. */
  aws?: AwsClientOptions;
  /** CloudWatch client (default: created when needed). */
  cloudWatch?: CloudWatchClient;
  /** CloudWatch Logs client (default: created when needed). */
  cloudWatchLogs?: CloudWatchLogsClient;
  /** SNS client (default: created when a topic is configured). */
  sns?: SNSClient;
  /** fetch for the webhook and GitHub (default global fetch). */
  fetch?: typeof fetch;
  /** Sleep between retries (tests inject a recorder). */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source. */
  random?: () => number;
  /** Attempts per notification / status / AWS batch (default 3). */
  maxAttempts?: number;
}

/** What {@linkcode runReport} did. */
export interface ReportOutcome {
  /** Always 0: the report never fails the pipeline (invalid inputs throw before). */
  exitCode: number;
  /** The assembled run record (null in the start phase). */
  metadata: WorkflowMetadata | null;
  /** URI of the stored run record, if stored. */
  runUri: string | null;
  /** Stage records read. */
  records: StageRecord[];
  /** Notification deliveries. */
  notifications: DeliveryResult[];
  /** GitHub status deliveries. */
  statuses: DeliveryResult[];
  /** Metrics result, when CloudWatch is enabled. */
  metrics: PutMetricsResult | null;
  /** Log events result, when CloudWatch is enabled. */
  logs: WriteLogsResult | null;
  /** Everything that went wrong (already logged). */
  problems: string[];
}

const STATUSES: readonly ArgoWorkflowStatus[] = ["Succeeded", "Failed", "Error"];

/** Validates Argo's `{{workflow.status}}`; usage error otherwise. */
export function parseWorkflowStatus(text: string): ArgoWorkflowStatus {
  if (!STATUSES.includes(text as ArgoWorkflowStatus)) {
    throw usageError(
      `workflow status ${JSON.stringify(text.slice(0, 40))} is invalid: expected ${
        STATUSES.join(", ")
      } (Argo's {{workflow.status}})`,
    );
  }
  return text as ArgoWorkflowStatus;
}

/**
 * Parses Argo's `{{workflow.failures}}` in the form a pod receives it: a Go-quoted JSON string
 * holding the JSON array (see {@linkcode argoFailuresJson}); a bare array is accepted too. Empty,
 * `null` and an unsubstituted `{{…}}` mean no failures; anything unparseable is reported through
 * `warn` and ignored (the report must still go out).
 */
export function parseWorkflowFailures(
  text: string | undefined,
  options: { warn?: (message: string) => void } = {},
): ArgoFailure[] {
  const trimmed = argoFailuresJson(text);
  if (trimmed === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (e) {
    options.warn?.(`ignoring unparseable workflow failures: ${e instanceof Error ? e.message : e}`);
    return [];
  }
  if (!Array.isArray(value)) {
    options.warn?.("ignoring workflow failures: not a JSON array");
    return [];
  }
  const out: ArgoFailure[] = [];
  for (const item of value) {
    if (typeof item !== "object" || item === null) continue;
    const o = item as Record<string, unknown>;
    const s = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : "");
    const displayName = s("displayName").replace(/\(\d+\)$/, "").trim();
    if (!displayName) continue;
    const finished = Date.parse(s("finishedAt"));
    out.push({
      displayName: displayName.slice(0, 253),
      message: s("message"),
      templateName: s("templateName"),
      phase: s("phase"),
      finishedAt: Number.isNaN(finished) ? null : new Date(finished),
    });
  }
  return out;
}

/** Options of {@linkcode assembleWorkflowMetadata}. */
export interface AssembleOptions {
  /** Stage records from the store. */
  records: StageRecord[];
  /** Argo's failures. */
  failures: ArgoFailure[];
  /** Completion time. */
  now: Date;
}

/** The Workflow that took over this run, when its `pipeline-update` resubmitted the pipeline. */
export function supersedingWorkflow(records: readonly StageRecord[]): string | null {
  return records.find((r) => r.supersededBy !== null)?.supersededBy ?? null;
}

/**
 * Whether the run stopped itself as superseded (`executionMode: superseded`: a deploy stage
 * recorded `superseded` and ended the run with `shutdown: Stop`, so Argo reports it Failed):
 * neither success nor failure, unless a stage really failed.
 */
function stoppedAsSuperseded(records: readonly StageRecord[]): boolean {
  return records.some((r) => r.stage.status === "superseded" && r.supersededBy !== null) &&
    !records.some((r) => r.stage.status === "failed");
}

/**
 * Builds the run record: stages from the records (in start order), a stage still `running` is
 * marked failed, Argo's failures fill in stages that left no record or no error message, and the
 * overall status is Argo's (`Succeeded` → succeeded, `Failed`/`Error` → failed), except that a
 * run whose `pipeline-update` resubmitted the pipeline and then ended cleanly is `superseded`.
 */
export function assembleWorkflowMetadata(
  inputs: Pick<
    ReportInputs,
    "workflow" | "commitSha" | "branch" | "workflowStatus" | "createdAt"
  >,
  options: AssembleOptions,
): WorkflowMetadata {
  const failed = inputs.workflowStatus !== "Succeeded";
  const failureText = (f: ArgoFailure) =>
    f.message ? f.message : `${f.phase || "Failed"} (no message from Argo)`;
  const failures = new Map<string, ArgoFailure>();
  const inner: ArgoFailure[] = [];
  const environmentSteps: ArgoFailure[] = [];
  for (const f of options.failures) {
    if (f.displayName === inputs.workflow || f.templateName === "report") continue;
    // A step inside deploy-<env>'s or test-<env>'s own DAG: Argo names it `execute`, `run`, …
    if (INNER_STEP_NAMES.includes(f.displayName)) {
      inner.push(f);
      continue;
    }
    if (/^child '.*' (failed|errored)/.test(f.message)) {
      if (/^(deploy|test)-/.test(f.displayName)) environmentSteps.push(f);
      continue;
    }
    failures.set(f.displayName, f);
  }
  // An environment step failed because a step inside it did: unless a record of that environment
  // already says why, it is reported with the inner step's message (when it is unambiguous).
  for (const f of environmentSteps) {
    const env = environmentOfStage(f.displayName);
    const explained = options.records.some((r) =>
      r.environment === env && (r.stage.status === "failed" || r.stage.status === "running")
    );
    if (explained) continue;
    const message = environmentSteps.length === 1 && inner.length > 0
      ? inner.map((i) => `${i.displayName}: ${failureText(i)}`).join("; ")
      : "a step inside it failed before recording itself (details in the Argo UI)";
    failures.set(f.displayName, { ...f, message });
  }
  const stages: StageMetadata[] = options.records.map((r) => {
    const s = { ...r.stage };
    const f = failures.get(s.stageName);
    failures.delete(s.stageName);
    if (s.status === "running") {
      s.status = "failed";
      s.completedAt = f?.finishedAt ?? options.now;
      s.errorMessage = f
        ? failureText(f)
        : `stage did not record its end (workflow ${inputs.workflowStatus ?? "unknown"})`;
    } else if (f && s.status === "succeeded") {
      s.status = "failed";
      s.errorMessage = failureText(f);
    } else if (f && s.errorMessage === null) {
      s.errorMessage = failureText(f);
    }
    if (s.errorMessage !== null) s.errorMessage = boundErrorMessage(s.errorMessage);
    return s;
  });
  for (const f of failures.values()) {
    const at = f.finishedAt ?? options.now;
    stages.push({
      stageName: f.displayName,
      startedAt: at,
      completedAt: at,
      status: "failed",
      errorMessage: boundErrorMessage(failureText(f)),
    });
  }
  stages.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  const earliest = stages.reduce<Date | null>(
    (m, s) => (m === null || s.startedAt < m ? s.startedAt : m),
    null,
  );
  return {
    workflowId: inputs.workflow,
    commitSha: inputs.commitSha,
    branch: inputs.branch,
    triggeredAt: inputs.createdAt ?? earliest ?? options.now,
    completedAt: options.now,
    status: stoppedAsSuperseded(options.records)
      ? "superseded"
      : failed
      ? "failed"
      : supersedingWorkflow(options.records)
      ? "superseded"
      : "succeeded",
    stages,
  };
}

/** First failed stage of a run (by completion time), if any. */
export function firstFailedStage(run: WorkflowMetadata): StageMetadata | null {
  const failed = run.stages.filter((s) => s.status === "failed");
  failed.sort((a, b) =>
    (a.completedAt ?? a.startedAt).getTime() - (b.completedAt ?? b.startedAt).getTime()
  );
  return failed[0] ?? null;
}

/** The notification summary of a run. */
export function summarizeRun(
  run: WorkflowMetadata,
  options: {
    records: StageRecord[];
    argoLink: string | null;
    repository: Repository | null;
    /** `<env>: <plan summary>` of the environments planned in this run. */
    plans?: string[];
  },
): RunSummary {
  const failed = firstFailedStage(run);
  const record = failed
    ? options.records.find((r) => r.stage.stageName === failed.stageName)
    : null;
  const end = run.completedAt ?? run.triggeredAt;
  return {
    workflowId: run.workflowId,
    commitSha: run.commitSha,
    branch: run.branch,
    status: run.status === "running" ? "failed" : run.status,
    environment: failed ? (record?.environment ?? environmentOfStage(failed.stageName)) : null,
    failedStage: failed?.stageName ?? null,
    errorSummary: failed?.errorMessage ? boundSummary(failed.errorMessage) : null,
    argoLink: options.argoLink,
    durationSeconds: Math.max(0, (end.getTime() - run.triggeredAt.getTime()) / 1000),
    repository: options.repository
      ? `${options.repository.owner}/${options.repository.repo}`
      : null,
    supersededBy: run.status === "superseded" ? supersedingWorkflow(options.records) : null,
    ...(options.plans && options.plans.length > 0 ? { plans: options.plans } : {}),
  };
}

/**
 * `<env>: <summary>` of every environment whose plan stage ran in this run, from the stored plans
 * (`<sha>/plans/<env>.json`); unreadable plans are reported through `warn` and skipped.
 */
export async function planSummaries(
  store: ArtifactStore,
  commitSha: string,
  options: { records: readonly StageRecord[]; warn: (message: string) => void },
): Promise<string[]> {
  const out: string[] = [];
  for (const r of options.records) {
    const env = /^plan-(.+)$/.exec(r.stage.stageName)?.[1];
    if (env === undefined) continue;
    const key = planKey(commitSha, env);
    try {
      if (!(await store.exists(key))) continue;
      const plan = JSON.parse(await readText(store, key)) as EnvironmentPlan;
      out.push(`${env}: ${summarizePlan(plan)}`);
    } catch (e) {
      options.warn(`plan of ${env} not summarized: ${e instanceof Error ? e.message : e}`);
    }
  }
  return out;
}

/**
 * Runs the report. Never throws for side-effect failures (store, CloudWatch, notifications,
 * GitHub): they are logged and listed in `problems`; the exit code is always 0.
 */
export async function runReport(inputs: ReportInputs, deps: ReportDeps): Promise<ReportOutcome> {
  const clock = deps.clock ?? (() => new Date());
  const webhookUrl = deps.env[SLACK_WEBHOOK_ENV] || undefined;
  const token = deps.env[GITHUB_TOKEN_ENV] || undefined;
  const redact = makeRedactor([
    ...secretValuesFromEnv(deps.env),
    ...(webhookUrl ? urlSecrets(webhookUrl) : []),
    ...(token ? [token] : []),
  ]);
  const logger = createStageLogger("report", {
    format: logFormatFromEnv(deps.env),
    write: deps.log,
    redact,
    clock,
    context: { workflow: inputs.workflow, commitSha: inputs.commitSha },
  });
  const outcome: ReportOutcome = {
    exitCode: ExitCode.Ok,
    metadata: null,
    runUri: null,
    records: [],
    notifications: [],
    statuses: [],
    metrics: null,
    logs: null,
    problems: [],
  };
  const problem = (message: string) => {
    outcome.problems.push(redact(message));
    logger.warn(message);
  };
  const argoLink = inputs.argoUrl
    ? argoWorkflowUrl(inputs.argoUrl, { namespace: inputs.namespace, workflow: inputs.workflow })
    : null;
  const retry = {
    maxAttempts: deps.maxAttempts ?? 3,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  };
  const githubStatuses = async (statuses: ReturnType<typeof pendingStatuses>) => {
    if (!inputs.repository) return;
    if (!token) {
      logger.info(`no ${GITHUB_TOKEN_ENV}: commit statuses not set`);
      return;
    }
    outcome.statuses = await setCommitStatuses(statuses, {
      ...retry,
      repository: inputs.repository,
      commitSha: inputs.commitSha,
      token,
      apiUrl: inputs.githubApiUrl,
      log: problem,
    });
  };

  if (inputs.pullRequest) {
    // PR boundary: the run is the PR's code; only Argo's status of it is trusted.
    const status = inputs.phase === "start" ? null : inputs.workflowStatus;
    await githubStatuses([validationStatus(status, { targetUrl: argoLink })]);
    return outcome;
  }
  if (inputs.phase === "start") {
    await githubStatuses(pendingStatuses(inputs.environments, { targetUrl: argoLink }));
    return outcome;
  }

  // 1. stage records
  let store = deps.store;
  const ownStore = store === undefined;
  try {
    store ??= await openArtifactStore({
      localRoot: inputs.storeDir,
      ...(inputs.artifactBucket ? { bucket: inputs.artifactBucket } : {}),
      aws: { env: deps.env, ...deps.aws },
    });
  } catch (e) {
    problem(`cannot open the artifact store: ${e instanceof Error ? e.message : e}`);
  }
  const own: { destroy(): void }[] = [];
  try {
    if (store) {
      try {
        outcome.records = await readStageRecords(store, inputs.commitSha, {
          workflow: inputs.workflow,
          warn: problem,
        });
      } catch (e) {
        problem(`cannot read the stage records: ${e instanceof Error ? e.message : e}`);
      }
    }

    // 2. run record
    const run = assembleWorkflowMetadata(inputs, {
      records: outcome.records,
      failures: inputs.failures,
      now: clock(),
    });
    outcome.metadata = run;
    const failedStage = firstFailedStage(run);
    logger.info(
      `workflow ${run.workflowId} ${run.status}${
        failedStage ? ` at ${failedStage.stageName}` : ""
      }${
        run.status === "superseded" ? ` by ${supersedingWorkflow(outcome.records)}` : ""
      }; ${run.stages.length} stage(s)`,
    );
    if (store) {
      try {
        const key = await writeRunRecord(store, run);
        outcome.runUri = store.uriFor(key);
        logger.info(`run record stored at ${outcome.runUri}`);
      } catch (e) {
        problem(`cannot store the run record: ${e instanceof Error ? e.message : e}`);
      }
    }

    // 3. CloudWatch
    if (inputs.cloudwatch) {
      const aws: AwsClientOptions = { env: deps.env, ...deps.aws };
      const awsRetry = {
        maxAttempts: deps.maxAttempts ?? 4,
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
        ...(deps.random ? { random: deps.random } : {}),
      };
      try {
        let logsClient = deps.cloudWatchLogs;
        if (!logsClient) own.push(logsClient = await createCloudWatchLogsClient(aws));
        outcome.logs = await writeLogEvents(logsClient, buildLogEvents(run, { argoLink }), {
          ...awsRetry,
          logGroup: inputs.logGroup,
          logStream: inputs.workflow,
          log: problem,
        });
      } catch (e) {
        problem(`log events not written: ${e instanceof Error ? e.message : e}`);
      }
      try {
        let cw = deps.cloudWatch;
        if (!cw) own.push(cw = await createCloudWatchClient(aws));
        // Metrics use the assembled stage status (a stage killed mid-run counts as failed).
        const records = outcome.records.map((r) => ({
          ...r,
          stage: run.stages.find((s) => s.stageName === r.stage.stageName) ?? r.stage,
        }));
        outcome.metrics = await putMetrics(cw, buildMetrics(run, { records }), {
          ...awsRetry,
          log: problem,
        });
      } catch (e) {
        problem(`metrics not sent: ${e instanceof Error ? e.message : e}`);
      }
    }

    // 4. notifications
    if (shouldNotify(run.status, { onSuccess: inputs.notifyOnSuccess })) {
      const summary = summarizeRun(run, {
        records: outcome.records,
        argoLink,
        repository: inputs.repository,
        plans: store
          ? await planSummaries(store, inputs.commitSha, {
            records: outcome.records,
            warn: problem,
          })
          : [],
      });
      outcome.notifications = await sendNotifications(summary, {
        ...retry,
        ...(inputs.snsTopicArn ? { snsTopicArn: inputs.snsTopicArn } : {}),
        sns: deps.sns ?? (async () => {
          // Publish in the topic's own region, whatever the pod's AWS_REGION is.
          const region = inputs.snsTopicArn ? snsTopicRegion(inputs.snsTopicArn) : undefined;
          const c = await createSnsClient({
            env: deps.env,
            ...(region ? { region } : {}),
            ...deps.aws,
          });
          own.push(c);
          return c;
        }),
        ...(webhookUrl ? { webhookUrl } : {}),
        ...(deps.random ? { random: deps.random } : {}),
        log: problem,
      });
      for (const n of outcome.notifications.filter((n) => n.ok)) {
        logger.info(`notification sent via ${n.channel}`);
      }
    }

    // 5. GitHub
    await githubStatuses(
      finalStatuses(run, {
        environments: inputs.environments,
        targetUrl: argoLink,
        supersededBy: supersedingWorkflow(outcome.records),
      }),
    );
  } finally {
    for (const c of own) c.destroy();
    if (ownStore) store?.close();
  }
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// CLI

const OPTIONS: Command["spec"]["options"] = {
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

/** `aphex report`. */
export const command: Command = {
  spec: {
    name: "report",
    summary: "Record the run, write CloudWatch logs/metrics, notify and set GitHub statuses",
    description:
      "The WorkflowTemplate's onExit handler. Stores <sha>/runs/<workflow>.json and exits 0 even " +
      "when CloudWatch, notifications or GitHub fail (they are logged); exits 2 on invalid inputs. " +
      `The webhook URL is read from ${SLACK_WEBHOOK_ENV}, the GitHub token from ${GITHUB_TOKEN_ENV}.`,
    options: OPTIONS,
  },
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const inputs = await resolveReportInputs(values, ctx);
    inputs.failures = parseWorkflowFailures(str(values, "failures"), {
      warn: (m) => ctx.stderr(`[report] warning: ${m}\n`),
    });
    const outcome = await runReport(inputs, {
      env: ctx.env,
      log: (line) => ctx.stderr(line + "\n"),
    });
    if (values.json === true && outcome.metadata) {
      ctx.stdout(toJsonText(WorkflowMetadataCodec, outcome.metadata, true) + "\n");
    }
    return outcome.exitCode;
  },
};

if (import.meta.main) await runMain(command);
