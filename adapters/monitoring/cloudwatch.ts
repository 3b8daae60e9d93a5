/**
 * CloudWatch output of a run: structured JSON log events (one log stream per workflow in the
 * pipeline's log group, group and stream created when missing) and metrics in the `AphexPipeline`
 * namespace (DeploymentCount, DeploymentDuration, WorkflowDuration with Environment, Stack and
 * Status dimensions).
 *
 * Building events and metric data is pure; sending is batched within the API limits and retried
 * (bounded, jittered exponential backoff, injected sleep) on throttling and transient errors.
 * Sending never throws: failures are logged and reported in the result, so monitoring can never
 * fail a deployment. The AWS SDK modules are imported lazily, when something is sent.
 * @module
 */
import type { CloudWatchClient, MetricDatum } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchLogsClient, InputLogEvent } from "@aws-sdk/client-cloudwatch-logs";
import {
  StageMetadataCodec,
  type WorkflowMetadata,
  WorkflowMetadataCodec,
} from "../../models/metadata.ts";
import { type AwsRetryOptions, describeAwsError, withAwsRetry } from "../aws/retry_policy.ts";
import type { StageRecord } from "../store/stage_records.ts";

/** CloudWatch metrics namespace. */
export const METRIC_NAMESPACE = "AphexPipeline";

/** Most metric data per PutMetricData request (the API's documented limit). */
export const MAX_METRICS_PER_REQUEST = 1000;

/** Request payload budget kept under PutMetricData's 1 MB limit (bytes, estimated). */
export const MAX_METRICS_PAYLOAD_BYTES = 900 * 1024;

/** PutLogEvents limits: events per call, bytes per call (message UTF-8 + 26 each), span. */
export const LOG_BATCH_LIMITS = {
  maxEvents: 10_000,
  maxBytes: 1_048_576,
  eventOverheadBytes: 26,
  maxSpanMs: 24 * 3600 * 1000,
  maxEventBytes: 256 * 1024,
} as const;

/** Metric names. */
export type MetricName = "DeploymentCount" | "DeploymentDuration" | "WorkflowDuration";

/** One metric data point, SDK-independent. */
export interface MetricPoint {
  /** Metric name. */
  name: MetricName;
  /** Value (count, or seconds). */
  value: number;
  /** Unit. */
  unit: "Count" | "Seconds";
  /** When it happened. */
  timestamp: Date;
  /** Dimensions in a fixed order (Environment, Stack, Status). */
  dimensions: [string, string][];
}

/** Status dimension value of a run or stage status. */
function statusValue(ok: boolean): string {
  return ok ? "Succeeded" : "Failed";
}

const seconds = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000);

/**
 * The metrics of a finished run:
 * - per deployed stack: DeploymentCount (1) and DeploymentDuration with {Environment, Stack, Status};
 * - per environment deploy stage: the same two with {Environment, Status} (duration = stage time);
 * - WorkflowDuration with {Status}.
 */
export function buildMetrics(
  run: WorkflowMetadata,
  options: { records?: StageRecord[] } = {},
): MetricPoint[] {
  const points: MetricPoint[] = [];
  const end = run.completedAt ?? run.triggeredAt;
  const seen = new Set<string>();
  for (const record of options.records ?? []) {
    const env = record.environment;
    const stage = record.stage;
    if (env === null || !stage.stageName.startsWith("deploy") || stage.status === "running") {
      continue;
    }
    const at = stage.completedAt ?? end;
    seen.add(stage.stageName);
    for (const d of record.deployments) {
      const dims: [string, string][] = [
        ["Environment", env],
        ["Stack", d.stackName],
        ["Status", statusValue(d.success)],
      ];
      points.push({
        name: "DeploymentCount",
        value: 1,
        unit: "Count",
        timestamp: at,
        dimensions: dims,
      });
      points.push({
        name: "DeploymentDuration",
        value: d.duration,
        unit: "Seconds",
        timestamp: at,
        dimensions: dims,
      });
    }
    const dims: [string, string][] = [
      ["Environment", env],
      ["Status", statusValue(stage.status === "succeeded")],
    ];
    points.push({
      name: "DeploymentCount",
      value: 1,
      unit: "Count",
      timestamp: at,
      dimensions: dims,
    });
    points.push({
      name: "DeploymentDuration",
      value: seconds(stage.startedAt, at),
      unit: "Seconds",
      timestamp: at,
      dimensions: dims,
    });
  }
  // Deploy stages known only from the run (no record): count the failure, duration unknown.
  for (const stage of run.stages) {
    const m = /^deploy-(.+)$/.exec(stage.stageName);
    if (!m || seen.has(stage.stageName) || stage.status === "running") continue;
    points.push({
      name: "DeploymentCount",
      value: 1,
      unit: "Count",
      timestamp: stage.completedAt ?? end,
      dimensions: [["Environment", m[1]!], ["Status", statusValue(stage.status === "succeeded")]],
    });
  }
  points.push({
    name: "WorkflowDuration",
    value: seconds(run.triggeredAt, end),
    unit: "Seconds",
    timestamp: end,
    dimensions: [[
      "Status",
      run.status === "superseded" ? "Superseded" : statusValue(run.status === "succeeded"),
    ]],
  });
  return points;
}

/** SDK form of a metric point. */
export function toMetricDatum(point: MetricPoint): MetricDatum {
  return {
    MetricName: point.name,
    Value: point.value,
    Unit: point.unit,
    Timestamp: point.timestamp,
    Dimensions: point.dimensions.map(([Name, Value]) => ({ Name, Value })),
  };
}

function estimateDatumBytes(point: MetricPoint): number {
  // Generous estimate of the wire size of one datum (query or JSON protocol).
  return 200 + point.name.length +
    point.dimensions.reduce((n, [k, v]) => n + 60 + k.length * 2 + v.length * 2, 0);
}

/** Splits metric points into PutMetricData batches (count and estimated payload limits). */
export function batchMetrics(
  points: MetricPoint[],
  options: { maxPerRequest?: number; maxBytes?: number } = {},
): MetricPoint[][] {
  const maxCount = options.maxPerRequest ?? MAX_METRICS_PER_REQUEST;
  const maxBytes = options.maxBytes ?? MAX_METRICS_PAYLOAD_BYTES;
  return splitBatches(
    points,
    estimateDatumBytes,
    (batch, bytes) => batch.length >= maxCount || bytes > maxBytes,
  );
}

/**
 * Splits items, in order, into consecutive non-empty batches: an item starts a new batch when
 * `over(current batch, its bytes plus the item's size, item)` is true.
 */
function splitBatches<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  over: (batch: readonly T[], bytes: number, next: T) => boolean,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && over(current, bytes + size, item)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

// ---------------------------------------------------------------------------------------------
// Metrics

/** Outcome of {@linkcode putMetrics}. */
export interface PutMetricsResult {
  /** Data points accepted. */
  sent: number;
  /** Data points that could not be sent. */
  failed: number;
  /** PutMetricData requests made (retries included). */
  requests: number;
  /** One message per failed batch. */
  errors: string[];
}

/** Options of {@linkcode putMetrics}. */
export interface PutMetricsOptions extends AwsRetryOptions {
  /** Namespace (default {@linkcode METRIC_NAMESPACE}). */
  namespace?: string;
  /** Log sink for failures. */
  log?: (line: string) => void;
  /** Batch size (default {@linkcode MAX_METRICS_PER_REQUEST}). */
  maxPerRequest?: number;
}

/**
 * Sends metric points with PutMetricData in batches, retrying throttling and transient errors.
 * Never throws: failed batches are logged and counted.
 */
export async function putMetrics(
  client: CloudWatchClient,
  points: MetricPoint[],
  options: PutMetricsOptions = {},
): Promise<PutMetricsResult> {
  const result: PutMetricsResult = { sent: 0, failed: 0, requests: 0, errors: [] };
  if (points.length === 0) return result;
  let PutMetricDataCommand;
  try {
    ({ PutMetricDataCommand } = await import("@aws-sdk/client-cloudwatch"));
  } catch (e) {
    const message = `metrics not sent: cannot load the CloudWatch client: ${describeAwsError(e)}`;
    options.log?.(message);
    return { ...result, failed: points.length, errors: [message] };
  }
  const Command = PutMetricDataCommand;
  const batches = batchMetrics(
    points,
    options.maxPerRequest ? { maxPerRequest: options.maxPerRequest } : {},
  );
  for (const [i, batch] of batches.entries()) {
    let attempts = 0;
    try {
      const out = await withAwsRetry(() => {
        attempts++;
        return client.send(
          new Command({
            Namespace: options.namespace ?? METRIC_NAMESPACE,
            MetricData: batch.map(toMetricDatum),
          }),
        );
      }, options);
      result.requests += out.attempts;
      result.sent += batch.length;
    } catch (e) {
      result.requests += attempts;
      result.failed += batch.length;
      const message = `metrics batch ${i + 1}/${batches.length} (${batch.length} data points) ` +
        `not sent after ${attempts} attempt(s): ${describeAwsError(e)}`;
      result.errors.push(message);
      options.log?.(message);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Logs

/** One log event, SDK-independent. */
export interface LogEvent {
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** JSON message. */
  message: string;
}

const utf8Length = (s: string) => new TextEncoder().encode(s).length;

function boundEvent(event: LogEvent): LogEvent {
  const max = LOG_BATCH_LIMITS.maxEventBytes - LOG_BATCH_LIMITS.eventOverheadBytes;
  if (utf8Length(event.message) <= max) return event;
  return {
    timestamp: event.timestamp,
    message: JSON.stringify({
      event: "truncated",
      bytes: utf8Length(event.message),
      head: event.message.slice(0, 64 * 1024),
    }),
  };
}

/**
 * The structured log events of a run, in chronological order: one `{"event":"stage",…}` per stage
 * (at its completion, or start while running) and one `{"event":"workflow","workflow":<WorkflowMetadata>}`
 * at the run's completion. Messages are JSON; the workflow event decodes with
 * `WorkflowMetadataCodec`.
 */
export function buildLogEvents(
  run: WorkflowMetadata,
  options: { argoLink?: string | null } = {},
): LogEvent[] {
  const end = run.completedAt ?? run.triggeredAt;
  const events: LogEvent[] = run.stages.map((stage) => ({
    timestamp: (stage.completedAt ?? stage.startedAt).getTime(),
    message: JSON.stringify({
      event: "stage",
      workflowId: run.workflowId,
      commitSha: run.commitSha,
      branch: run.branch,
      stage: StageMetadataCodec.encode(stage),
    }),
  }));
  events.push({
    timestamp: end.getTime(),
    message: JSON.stringify({
      event: "workflow",
      ...(options.argoLink ? { argoUrl: options.argoLink } : {}),
      workflow: WorkflowMetadataCodec.encode(run),
    }),
  });
  // Stable sort: stages keep their order on equal timestamps, the workflow event stays last.
  return events.map(boundEvent).map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.timestamp - b.e.timestamp || a.i - b.i).map(({ e }) => e);
}

/** Splits chronologically ordered events into PutLogEvents batches (count, bytes, 24 h span). */
export function batchLogEvents(events: LogEvent[]): LogEvent[][] {
  return splitBatches(
    events,
    (event) => utf8Length(event.message) + LOG_BATCH_LIMITS.eventOverheadBytes,
    (batch, bytes, next) =>
      batch.length >= LOG_BATCH_LIMITS.maxEvents || bytes > LOG_BATCH_LIMITS.maxBytes ||
      next.timestamp - batch[0]!.timestamp >= LOG_BATCH_LIMITS.maxSpanMs,
  );
}

/** Outcome of {@linkcode writeLogEvents}. */
export interface WriteLogsResult {
  /** Events written. */
  written: number;
  /** Events not written. */
  failed: number;
  /** Failure messages. */
  errors: string[];
}

/** Options of {@linkcode writeLogEvents}. */
export interface WriteLogsOptions extends AwsRetryOptions {
  /** Log group, e.g. `/aws/eks/aphex-pipeline/workflows`. */
  logGroup: string;
  /** Log stream (one per workflow: the workflow name). */
  logStream: string;
  /** Log sink for failures. */
  log?: (line: string) => void;
}

function errorName(e: unknown): string {
  return typeof e === "object" && e !== null && typeof (e as { name?: unknown }).name === "string"
    ? (e as { name: string }).name
    : "";
}

/**
 * Writes events to a log stream: creates the stream (and the group when the stream's creation
 * reports it missing; `ResourceAlreadyExistsException` is fine for both), then PutLogEvents in
 * batches. Never throws.
 */
export async function writeLogEvents(
  client: CloudWatchLogsClient,
  events: LogEvent[],
  options: WriteLogsOptions,
): Promise<WriteLogsResult> {
  const result: WriteLogsResult = { written: 0, failed: 0, errors: [] };
  if (events.length === 0) return result;
  const fail = (message: string): WriteLogsResult => {
    options.log?.(message);
    result.errors.push(message);
    result.failed = events.length - result.written;
    return result;
  };
  let sdk: typeof import("@aws-sdk/client-cloudwatch-logs");
  try {
    sdk = await import("@aws-sdk/client-cloudwatch-logs");
  } catch (e) {
    return fail(
      `log events not written: cannot load the CloudWatch Logs client: ${describeAwsError(e)}`,
    );
  }
  const { logGroup: logGroupName, logStream: logStreamName } = options;
  const tolerateExists = async (op: () => Promise<unknown>) => {
    try {
      await withAwsRetry(op, options);
    } catch (e) {
      if (errorName(e) !== "ResourceAlreadyExistsException") throw e;
    }
  };
  const createStream = () =>
    tolerateExists(() =>
      client.send(new sdk.CreateLogStreamCommand({ logGroupName, logStreamName }))
    );
  try {
    try {
      await createStream();
    } catch (e) {
      if (errorName(e) !== "ResourceNotFoundException") throw e;
      await tolerateExists(() => client.send(new sdk.CreateLogGroupCommand({ logGroupName })));
      await createStream();
    }
  } catch (e) {
    return fail(
      `log events not written: cannot create log stream ${logGroupName}:${logStreamName}: ${
        describeAwsError(e)
      }`,
    );
  }
  const batches = batchLogEvents(events);
  for (const [i, batch] of batches.entries()) {
    const logEvents: InputLogEvent[] = batch.map((e) => ({
      timestamp: e.timestamp,
      message: e.message,
    }));
    try {
      const out = await withAwsRetry(
        () => client.send(new sdk.PutLogEventsCommand({ logGroupName, logStreamName, logEvents })),
        options,
      );
      const rejected = out.value.rejectedLogEventsInfo;
      if (rejected && Object.keys(rejected).length > 0) {
        const message = `log batch ${i + 1}/${batches.length}: some events rejected: ${
          JSON.stringify(rejected)
        }`;
        options.log?.(message);
        result.errors.push(message);
      }
      result.written += batch.length;
    } catch (e) {
      const message = `log batch ${i + 1}/${batches.length} (${batch.length} events) not written: ${
        describeAwsError(e)
      }`;
      options.log?.(message);
      result.errors.push(message);
      result.failed += batch.length;
    }
  }
  return result;
}
