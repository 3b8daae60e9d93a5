import assert from "node:assert/strict";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { fromJsonText } from "../../models/_codec.ts";
import { WorkflowMetadataCodec } from "../../models/metadata.ts";
import {
  batchLogEvents,
  batchMetrics,
  buildLogEvents,
  buildMetrics,
  type LogEvent,
  type MetricPoint,
  putMetrics,
  writeLogEvents,
} from "../../adapters/monitoring/cloudwatch.ts";
import { isRetryableAwsError } from "../../adapters/aws/retry_policy.ts";
import type { StageRecord } from "../../adapters/store/stage_records.ts";
import { awsError, failedRun, recordingSleep, SHA } from "./_helpers.ts";

const CREDENTIALS = { accessKeyId: "AKIDTEST", secretAccessKey: "secret-test" };
const AT = new Date("2026-11-25T10:00:00.000Z");

function points(n: number): MetricPoint[] {
  return Array.from({ length: n }, (_, i) => ({
    name: "DeploymentCount" as const,
    value: 1,
    unit: "Count" as const,
    timestamp: AT,
    dimensions: [["Environment", `env-${i}`], ["Stack", "Api"], ["Status", "Succeeded"]] as [
      string,
      string,
    ][],
  }));
}

function withCloudWatch(
  fn: (client: CloudWatchClient, mock: ReturnType<typeof mockClient>) => Promise<void>,
) {
  return async () => {
    const mock = mockClient(CloudWatchClient);
    const client = new CloudWatchClient({ region: "us-east-1", credentials: CREDENTIALS });
    try {
      await fn(client, mock);
    } finally {
      mock.restore();
      client.destroy();
    }
  };
}

Deno.test(
  "putMetrics sends 2,500 data points in 3 PutMetricData calls (1000, 1000, 500) with exact data",
  withCloudWatch(async (client, mock) => {
    mock.on(PutMetricDataCommand).resolves({});
    const result = await putMetrics(client, points(2500), { sleep: recordingSleep().sleep });
    assert.deepEqual(result, { sent: 2500, failed: 0, requests: 3, errors: [] });
    const calls = mock.commandCalls(PutMetricDataCommand);
    assert.deepEqual(calls.map((c) => c.args[0].input.MetricData?.length), [1000, 1000, 500]);
    assert.deepEqual(calls[0]!.args[0].input.MetricData![0], {
      MetricName: "DeploymentCount",
      Value: 1,
      Unit: "Count",
      Timestamp: AT,
      Dimensions: [
        { Name: "Environment", Value: "env-0" },
        { Name: "Stack", Value: "Api" },
        { Name: "Status", Value: "Succeeded" },
      ],
    });
    assert.equal(calls[2]!.args[0].input.Namespace, "AphexPipeline");
    const envs = calls.flatMap((c) =>
      c.args[0].input.MetricData!.map((d) => d.Dimensions![0]!.Value)
    );
    assert.deepEqual(envs, Array.from({ length: 2500 }, (_, i) => `env-${i}`));
  }),
);

Deno.test(
  "throttled PutMetricData is retried with backoff, then succeeds",
  withCloudWatch(async (client, mock) => {
    mock.on(PutMetricDataCommand)
      .rejectsOnce(awsError("Throttling", "Rate exceeded"))
      .rejectsOnce(awsError("ThrottlingException", "Rate exceeded"))
      .resolves({});
    const { sleep, delays } = recordingSleep();
    const logs: string[] = [];
    const result = await putMetrics(client, points(3), {
      sleep,
      random: () => 0,
      log: (l) => logs.push(l),
    });
    assert.deepEqual(result, { sent: 3, failed: 0, requests: 3, errors: [] });
    assert.deepEqual(delays, [250, 500]);
    assert.deepEqual(logs, []);
    const calls = mock.commandCalls(PutMetricDataCommand);
    assert.equal(calls.length, 3);
    assert.deepEqual(calls[2]!.args[0].input, calls[0]!.args[0].input);
  }),
);

Deno.test(
  "PutMetricData throttled every time: bounded attempts, logged, never throws",
  withCloudWatch(async (client, mock) => {
    mock.on(PutMetricDataCommand).rejects(awsError("Throttling", "Rate exceeded"));
    const { sleep, delays } = recordingSleep();
    const logs: string[] = [];
    const result = await putMetrics(client, points(1200), {
      sleep,
      maxAttempts: 3,
      log: (l) => logs.push(l),
    });
    assert.equal(result.sent, 0);
    assert.equal(result.failed, 1200);
    assert.equal(result.requests, 6);
    assert.equal(mock.commandCalls(PutMetricDataCommand).length, 6);
    assert.equal(delays.length, 4);
    assert.deepEqual(logs, [
      "metrics batch 1/2 (1000 data points) not sent after 3 attempt(s): Throttling: Rate exceeded",
      "metrics batch 2/2 (200 data points) not sent after 3 attempt(s): Throttling: Rate exceeded",
    ]);
  }),
);

Deno.test(
  "PutMetricData access denied is not retried",
  withCloudWatch(async (client, mock) => {
    mock.on(PutMetricDataCommand).rejects(awsError("AccessDenied", "not authorized"));
    const { sleep, delays } = recordingSleep();
    const result = await putMetrics(client, points(2), { sleep });
    assert.equal(result.requests, 1);
    assert.equal(result.failed, 2);
    assert.deepEqual(delays, []);
  }),
);

Deno.test("isRetryableAwsError: throttling, 5xx and network errors only", () => {
  assert.equal(isRetryableAwsError(awsError("Throttling")), true);
  assert.equal(isRetryableAwsError(awsError("TooManyRequestsException")), true);
  assert.equal(
    isRetryableAwsError(Object.assign(awsError("X"), { $metadata: { httpStatusCode: 503 } })),
    true,
  );
  assert.equal(
    isRetryableAwsError(Object.assign(new Error("reset"), { code: "ECONNRESET" })),
    true,
  );
  assert.equal(isRetryableAwsError(awsError("AccessDenied")), false);
  assert.equal(isRetryableAwsError(awsError("InvalidParameterValue")), false);
  assert.equal(isRetryableAwsError("Throttling"), false);
});

function deployRecord(): StageRecord {
  const run = failedRun();
  return {
    workflowId: run.workflowId,
    commitSha: SHA,
    environment: "dev",
    stage: run.stages[1]!,
    supersededBy: null,
    deployments: [
      {
        success: true,
        stackName: "Db",
        stackOutputs: {},
        duration: 120.5,
        cloudformationEvents: [],
      },
      {
        success: false,
        stackName: "Api",
        stackOutputs: {},
        duration: 30,
        cloudformationEvents: [],
      },
    ],
  };
}

Deno.test("buildMetrics: per stack, per environment and workflow data points", () => {
  const run = failedRun();
  const end = new Date("2026-11-25T10:12:00.000Z");
  const dims = (...d: [string, string][]) => d;
  assert.deepEqual(buildMetrics(run, { records: [deployRecord()] }), [
    {
      name: "DeploymentCount",
      value: 1,
      unit: "Count",
      timestamp: end,
      dimensions: dims(["Environment", "dev"], ["Stack", "Db"], ["Status", "Succeeded"]),
    },
    {
      name: "DeploymentDuration",
      value: 120.5,
      unit: "Seconds",
      timestamp: end,
      dimensions: dims(["Environment", "dev"], ["Stack", "Db"], ["Status", "Succeeded"]),
    },
    {
      name: "DeploymentCount",
      value: 1,
      unit: "Count",
      timestamp: end,
      dimensions: dims(["Environment", "dev"], ["Stack", "Api"], ["Status", "Failed"]),
    },
    {
      name: "DeploymentDuration",
      value: 30,
      unit: "Seconds",
      timestamp: end,
      dimensions: dims(["Environment", "dev"], ["Stack", "Api"], ["Status", "Failed"]),
    },
    {
      name: "DeploymentCount",
      value: 1,
      unit: "Count",
      timestamp: end,
      dimensions: dims(["Environment", "dev"], ["Status", "Failed"]),
    },
    {
      name: "DeploymentDuration",
      value: 420,
      unit: "Seconds",
      timestamp: end,
      dimensions: dims(["Environment", "dev"], ["Status", "Failed"]),
    },
    {
      name: "WorkflowDuration",
      value: 750,
      unit: "Seconds",
      timestamp: run.completedAt!,
      dimensions: dims(["Status", "Failed"]),
    },
  ]);
  // Without records, a failed deploy stage is still counted (no duration known).
  assert.deepEqual(buildMetrics(run).map((p) => [p.name, p.dimensions]), [
    ["DeploymentCount", [["Environment", "dev"], ["Status", "Failed"]]],
    ["WorkflowDuration", [["Status", "Failed"]]],
  ]);
});

Deno.test("batchMetrics keeps order and never exceeds the per-request limit (property)", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 3500 }), fc.integer({ min: 1, max: 1000 }), (n, max) => {
      const input = points(n);
      const batches = batchMetrics(input, { maxPerRequest: max });
      assert.deepEqual(batches.flat(), input);
      assert.ok(batches.every((b) => b.length >= 1 && b.length <= max));
      assert.equal(batches.length, Math.ceil(n / max));
    }),
    { numRuns: 50 },
  );
});

function withLogs(
  fn: (client: CloudWatchLogsClient, mock: ReturnType<typeof mockClient>) => Promise<void>,
) {
  return async () => {
    const mock = mockClient(CloudWatchLogsClient);
    const client = new CloudWatchLogsClient({ region: "us-east-1", credentials: CREDENTIALS });
    try {
      await fn(client, mock);
    } finally {
      mock.restore();
      client.destroy();
    }
  };
}

const GROUP = "/aws/eks/aphex-pipeline/workflows";

Deno.test(
  "writeLogEvents creates a missing group and stream, then puts the structured events",
  withLogs(async (client, mock) => {
    mock.on(CreateLogStreamCommand)
      .rejectsOnce(awsError("ResourceNotFoundException", "The specified log group does not exist."))
      .resolves({});
    mock.on(CreateLogGroupCommand).resolves({});
    mock.on(PutLogEventsCommand).resolves({});
    const run = failedRun();
    const events = buildLogEvents(run, { argoLink: "https://argo.example.com/workflows/argo/w" });
    const result = await writeLogEvents(client, events, {
      logGroup: GROUP,
      logStream: run.workflowId,
      sleep: recordingSleep().sleep,
    });
    assert.deepEqual(result, { written: 3, failed: 0, errors: [] });
    assert.deepEqual(
      mock.calls().map((c) => [c.args[0].constructor.name, c.args[0].input]),
      [
        ["CreateLogStreamCommand", { logGroupName: GROUP, logStreamName: "webshop-abc12" }],
        ["CreateLogGroupCommand", { logGroupName: GROUP }],
        ["CreateLogStreamCommand", { logGroupName: GROUP, logStreamName: "webshop-abc12" }],
        [
          "PutLogEventsCommand",
          {
            logGroupName: GROUP,
            logStreamName: "webshop-abc12",
            logEvents: [
              {
                timestamp: Date.parse("2026-11-25T10:03:00.000Z"),
                message: JSON.stringify({
                  event: "stage",
                  workflowId: "webshop-abc12",
                  commitSha: SHA,
                  branch: "main",
                  stage: {
                    stageName: "build",
                    startedAt: "2026-11-25T10:00:05.000Z",
                    completedAt: "2026-11-25T10:03:00.000Z",
                    status: "succeeded",
                    errorMessage: null,
                  },
                }),
              },
              {
                timestamp: Date.parse("2026-11-25T10:12:00.000Z"),
                message: JSON.stringify({
                  event: "stage",
                  workflowId: "webshop-abc12",
                  commitSha: SHA,
                  branch: "main",
                  stage: {
                    stageName: "deploy-dev",
                    startedAt: "2026-11-25T10:05:00.000Z",
                    completedAt: "2026-11-25T10:12:00.000Z",
                    status: "failed",
                    errorMessage: "stack Api failed: CREATE_FAILED Bucket (already exists)",
                  },
                }),
              },
              {
                timestamp: Date.parse("2026-11-25T10:12:30.000Z"),
                message: events[2]!.message,
              },
            ],
          },
        ],
      ],
    );
    // The workflow event carries the WorkflowMetadata, which decodes with the model codec.
    const parsed = JSON.parse(events[2]!.message);
    assert.equal(parsed.event, "workflow");
    assert.equal(parsed.argoUrl, "https://argo.example.com/workflows/argo/w");
    assert.deepEqual(
      fromJsonText(WorkflowMetadataCodec, JSON.stringify(parsed.workflow), "event"),
      run,
    );
  }),
);

Deno.test(
  "writeLogEvents tolerates ResourceAlreadyExistsException and retries a throttled put",
  withLogs(async (client, mock) => {
    mock.on(CreateLogStreamCommand).rejects(awsError("ResourceAlreadyExistsException"));
    mock.on(PutLogEventsCommand).rejectsOnce(awsError("ThrottlingException")).resolves({});
    const { sleep, delays } = recordingSleep();
    const result = await writeLogEvents(client, [{ timestamp: 1, message: "{}" }], {
      logGroup: GROUP,
      logStream: "w",
      sleep,
    });
    assert.deepEqual(result, { written: 1, failed: 0, errors: [] });
    assert.equal(mock.commandCalls(CreateLogGroupCommand).length, 0);
    assert.equal(mock.commandCalls(PutLogEventsCommand).length, 2);
    assert.equal(delays.length, 1);
  }),
);

Deno.test(
  "writeLogEvents: access denied is logged and never thrown",
  withLogs(async (client, mock) => {
    mock.on(CreateLogStreamCommand).rejects(awsError("AccessDeniedException", "no"));
    const logs: string[] = [];
    const result = await writeLogEvents(client, [{ timestamp: 1, message: "{}" }], {
      logGroup: GROUP,
      logStream: "w",
      log: (l) => logs.push(l),
    });
    assert.equal(result.written, 0);
    assert.equal(result.failed, 1);
    assert.deepEqual(logs, [
      `log events not written: cannot create log stream ${GROUP}:w: AccessDeniedException: no`,
    ]);
    assert.equal(mock.commandCalls(PutLogEventsCommand).length, 0);
  }),
);

Deno.test("batchLogEvents splits on count and on the 24-hour span", () => {
  const many: LogEvent[] = Array.from(
    { length: 10_001 },
    (_, i) => ({ timestamp: i, message: "x" }),
  );
  assert.deepEqual(batchLogEvents(many).map((b) => b.length), [10_000, 1]);
  const day = 24 * 3600 * 1000;
  const spread: LogEvent[] = [0, 1000, day - 1, day, day + 5, 3 * day].map((t) => ({
    timestamp: t,
    message: "{}",
  }));
  assert.deepEqual(batchLogEvents(spread).map((b) => b.map((e) => e.timestamp)), [
    [0, 1000, day - 1],
    [day, day + 5],
    [3 * day],
  ]);
  const big = "y".repeat(200_000);
  const heavy: LogEvent[] = Array.from({ length: 6 }, (_, i) => ({ timestamp: i, message: big }));
  assert.deepEqual(batchLogEvents(heavy).map((b) => b.length), [5, 1]);
});
