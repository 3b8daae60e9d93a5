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
import { ExitCode } from "../models/errors.ts";
import { type WorkflowMetadata, WorkflowMetadataCodec } from "../models/metadata.ts";
import type { ArtifactStore } from "../adapters/store/artifact_store.ts";
import { openArtifactStore } from "../adapters/store/artifacts.ts";
import type { AwsClientOptions } from "../adapters/aws/clients.ts";
import { makeRedactor, secretValuesFromEnv } from "../adapters/process/exec.ts";
import {
  finalStatuses,
  GITHUB_TOKEN_ENV,
  pendingStatuses,
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
  createSnsClient,
  type DeliveryResult,
  sendNotifications,
  shouldNotify,
  SLACK_WEBHOOK_ENV,
  snsTopicRegion,
  urlSecrets,
} from "../adapters/monitoring/notify.ts";
import {
  assembleWorkflowMetadata,
  firstFailedStage,
  parseWorkflowFailures,
  planSummaries,
  summarizeRun,
  supersedingWorkflow,
} from "./_run_record.ts";
import { spec } from "./report_spec.ts";
import { type ReportInputs, resolveReportInputs } from "./_report_inputs.ts";

export type { ReportInputs } from "./_report_inputs.ts";
import {
  createStageLogger,
  logFormatFromEnv,
  readStageRecords,
  type StageRecord,
  writeRunRecord,
} from "../adapters/store/stage_records.ts";

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
    // The deployment plans of the run (one line per environment) go into the run record and the
    // notification.
    const plans = store
      ? await planSummaries(store, inputs.commitSha, { records: outcome.records, warn: problem })
      : {};
    if (Object.keys(plans).length > 0) run.plans = plans;
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
        plans: Object.entries(plans).map(([env, summary]) => `${env}: ${summary}`),
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

/** `aphex report`. */
export const command: Command = {
  spec,
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
