import assert from "node:assert/strict";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { captureContext, execute, parseCommandArgs } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { fromJsonText, toJsonText } from "../../models/_codec.ts";
import { type WorkflowMetadata, WorkflowMetadataCodec } from "../../models/metadata.ts";
import { readText } from "../../adapters/store/artifact_store.ts";
import { LocalArtifactStore } from "../../adapters/store/local_store.ts";
import {
  recordStageEnd,
  recordStageStart,
  runIndexKey,
  runRecordKey,
} from "../../adapters/store/stage_records.ts";
import { assembleWorkflowMetadata, parseWorkflowFailures } from "../../stages/_run_record.ts";
import { command, type ReportDeps, runReport } from "../../stages/report.ts";
import { type ReportInputs, resolveReportInputs } from "../../stages/_report_inputs.ts";
import {
  awsError,
  closedPortUrl,
  type LoopbackServer,
  recordingSleep,
  SHA,
  startLoopback,
  withTempStore,
} from "./_helpers.ts";

const WORKFLOW = "webshop-abc12";
const TOKEN = "ghp_REPORTTESTTOKEN0123456789";
const HOOK_PATH = "/services/T9/B9/HOOKSECRET0123";
const TOPIC = "arn:aws:sns:eu-west-1:111111111111:aphex";
const CREDENTIALS = { accessKeyId: "AKIDTEST", secretAccessKey: "secret-test" };

const FAILURES_JSON = JSON.stringify([
  {
    displayName: "deploy-dev",
    message: "OOMKilled (exit code 137)",
    templateName: "deploy",
    phase: "Failed",
    podName: "webshop-abc12-deploy-1234",
    finishedAt: "2026-11-25T10:12:00Z",
  },
  {
    displayName: WORKFLOW,
    message: "child 'webshop-abc12-999' failed",
    templateName: "pipeline",
    phase: "Failed",
    podName: WORKFLOW,
    finishedAt: "2026-11-25T10:12:01Z",
  },
]);

const at = (iso: string) => () => new Date(iso);

/** build and pipeline-update succeeded; deploy-dev started and was killed (no end record). */
async function seedRecords(store: LocalArtifactStore): Promise<void> {
  const target = { commitSha: SHA, workflow: WORKFLOW };
  const build = await recordStageStart(store, { ...target, stage: "build" }, {
    clock: at("2026-11-25T10:00:05.000Z"),
  });
  await recordStageEnd(store, build, {
    status: "succeeded",
    clock: at("2026-11-25T10:03:00.000Z"),
  });
  const update = await recordStageStart(store, { ...target, stage: "pipeline-update" }, {
    clock: at("2026-11-25T10:03:10.000Z"),
  });
  await recordStageEnd(store, update, {
    status: "succeeded",
    clock: at("2026-11-25T10:04:00.000Z"),
  });
  await recordStageStart(store, { ...target, stage: "deploy-dev" }, {
    clock: at("2026-11-25T10:05:00.000Z"),
  });
}

const EXPECTED: WorkflowMetadata = {
  workflowId: WORKFLOW,
  commitSha: SHA,
  branch: "main",
  triggeredAt: new Date("2026-11-25T10:00:00.000Z"),
  completedAt: new Date("2026-11-25T10:12:30.000Z"),
  status: "failed",
  stages: [
    {
      stageName: "build",
      startedAt: new Date("2026-11-25T10:00:05.000Z"),
      completedAt: new Date("2026-11-25T10:03:00.000Z"),
      status: "succeeded",
      errorMessage: null,
    },
    {
      stageName: "pipeline-update",
      startedAt: new Date("2026-11-25T10:03:10.000Z"),
      completedAt: new Date("2026-11-25T10:04:00.000Z"),
      status: "succeeded",
      errorMessage: null,
    },
    {
      stageName: "deploy-dev",
      startedAt: new Date("2026-11-25T10:05:00.000Z"),
      completedAt: new Date("2026-11-25T10:12:00.000Z"),
      status: "failed",
      errorMessage: "OOMKilled (exit code 137)",
    },
  ],
};

function inputs(dir: string, server: { url: string }): ReportInputs {
  return {
    phase: "exit",
    commitSha: SHA,
    branch: "main",
    workflow: WORKFLOW,
    workflowStatus: "Failed",
    failures: parseWorkflowFailures(FAILURES_JSON),
    createdAt: new Date("2026-11-25T10:00:00.000Z"),
    namespace: "argo",
    argoUrl: "https://argo.example.com",
    logGroup: "/aws/eks/aphex-pipeline/workflows",
    snsTopicArn: TOPIC,
    notifyOnSuccess: false,
    repository: { owner: "example-org", repo: "webshop" },
    githubApiUrl: server.url,
    environments: ["dev", "prod"],
    cloudwatch: true,
    artifactBucket: null,
    storeDir: `${dir}/store`,
  };
}

interface Mocks {
  cw: ReturnType<typeof mockClient>;
  logs: ReturnType<typeof mockClient>;
  sns: ReturnType<typeof mockClient>;
  clients: { cloudWatch: CloudWatchClient; cloudWatchLogs: CloudWatchLogsClient; sns: SNSClient };
}

async function withMocks(fn: (m: Mocks) => Promise<void>): Promise<void> {
  const cw = mockClient(CloudWatchClient);
  const logs = mockClient(CloudWatchLogsClient);
  const sns = mockClient(SNSClient);
  const clients = {
    cloudWatch: new CloudWatchClient({ region: "eu-west-1", credentials: CREDENTIALS }),
    cloudWatchLogs: new CloudWatchLogsClient({ region: "eu-west-1", credentials: CREDENTIALS }),
    sns: new SNSClient({ region: "eu-west-1", credentials: CREDENTIALS }),
  };
  try {
    await fn({ cw, logs, sns, clients });
  } finally {
    cw.restore();
    logs.restore();
    sns.restore();
    clients.cloudWatch.destroy();
    clients.cloudWatchLogs.destroy();
    clients.sns.destroy();
  }
}

function deps(
  store: LocalArtifactStore,
  m: Mocks,
  env: Record<string, string>,
  log: string[],
  sleep: (ms: number) => Promise<void>,
): ReportDeps {
  return {
    env,
    log: (l) => log.push(l),
    clock: at("2026-11-25T10:12:30.000Z"),
    store,
    ...m.clients,
    sleep,
    random: () => 0,
  };
}

Deno.test("aphex report on a failed run: record, CloudWatch, SNS, Slack and GitHub, exact payloads", async () => {
  const server: LoopbackServer = startLoopback(() => 201);
  try {
    await withTempStore((store, dir) =>
      withMocks(async (m) => {
        await seedRecords(store);
        m.cw.on(PutMetricDataCommand).resolves({});
        m.logs.on(CreateLogStreamCommand).resolves({});
        m.logs.on(PutLogEventsCommand).resolves({});
        m.sns.on(PublishCommand).resolves({ MessageId: "1" });
        const log: string[] = [];
        const outcome = await runReport(
          inputs(dir, server),
          deps(
            store,
            m,
            {
              APHEX_SLACK_WEBHOOK_URL: `${server.url}${HOOK_PATH}`,
              APHEX_GITHUB_TOKEN: TOKEN,
            },
            log,
            recordingSleep().sleep,
          ),
        );
        assert.equal(outcome.exitCode, 0);
        assert.deepEqual(outcome.problems, []);
        assert.deepEqual(outcome.metadata, EXPECTED);

        // The stored record round-trips exactly through the model codec.
        const key = runRecordKey(SHA, WORKFLOW);
        const text = await readText(store, key);
        const decoded = fromJsonText(WorkflowMetadataCodec, text, key);
        assert.deepEqual(decoded, EXPECTED);
        assert.equal(toJsonText(WorkflowMetadataCodec, decoded, true) + "\n", text);
        assert.equal(
          await readText(store, runIndexKey(EXPECTED.triggeredAt, WORKFLOW)),
          text,
        );
        assert.equal(outcome.runUri, store.uriFor(key));

        // CloudWatch metrics: the killed deploy stage counts as a failed dev deployment.
        const metricCalls = m.cw.commandCalls(PutMetricDataCommand);
        assert.equal(metricCalls.length, 1);
        const end = new Date("2026-11-25T10:12:00.000Z");
        assert.deepEqual(metricCalls[0]!.args[0].input, {
          Namespace: "AphexPipeline",
          MetricData: [
            {
              MetricName: "DeploymentCount",
              Value: 1,
              Unit: "Count",
              Timestamp: end,
              Dimensions: [{ Name: "Environment", Value: "dev" }, {
                Name: "Status",
                Value: "Failed",
              }],
            },
            {
              MetricName: "DeploymentDuration",
              Value: 420,
              Unit: "Seconds",
              Timestamp: end,
              Dimensions: [{ Name: "Environment", Value: "dev" }, {
                Name: "Status",
                Value: "Failed",
              }],
            },
            {
              MetricName: "WorkflowDuration",
              Value: 750,
              Unit: "Seconds",
              Timestamp: EXPECTED.completedAt,
              Dimensions: [{ Name: "Status", Value: "Failed" }],
            },
          ],
        });

        // CloudWatch Logs: one stream per workflow, one event per stage + the workflow event.
        assert.deepEqual(m.logs.commandCalls(CreateLogStreamCommand)[0]!.args[0].input, {
          logGroupName: "/aws/eks/aphex-pipeline/workflows",
          logStreamName: WORKFLOW,
        });
        assert.equal(m.logs.commandCalls(CreateLogGroupCommand).length, 0);
        const put = m.logs.commandCalls(PutLogEventsCommand)[0]!.args[0].input;
        assert.equal(put.logEvents!.length, 4);
        const last = JSON.parse(put.logEvents![3]!.message!);
        assert.equal(last.argoUrl, `https://argo.example.com/workflows/argo/${WORKFLOW}`);
        assert.deepEqual(
          fromJsonText(WorkflowMetadataCodec, JSON.stringify(last.workflow), "event"),
          EXPECTED,
        );

        // SNS.
        const publish = m.sns.commandCalls(PublishCommand);
        assert.equal(publish.length, 1);
        assert.equal(publish[0]!.args[0].input.TopicArn, TOPIC);
        assert.equal(
          publish[0]!.args[0].input.Subject,
          `[Aphex] FAILED at deploy-dev: ${WORKFLOW}`,
        );
        assert.equal(
          publish[0]!.args[0].input.Message,
          [
            `Aphex pipeline failed at deploy-dev: ${WORKFLOW}`,
            "",
            `Workflow:     ${WORKFLOW}`,
            "Repository:   example-org/webshop",
            `Commit:       ${SHA}`,
            "Branch:       main",
            "Status:       failed",
            "Duration:     12m 30s",
            "Environment:  dev",
            "Failed stage: deploy-dev",
            `Argo UI:      https://argo.example.com/workflows/argo/${WORKFLOW}`,
            "",
            "Error:",
            "OOMKilled (exit code 137)",
            "",
          ].join("\n"),
        );

        // Slack and GitHub on the loopback server.
        const slack = server.requests.filter((r) => r.path === HOOK_PATH);
        assert.equal(slack.length, 1);
        const link = `https://argo.example.com/workflows/argo/${WORKFLOW}`;
        assert.equal(
          slack[0]!.body,
          JSON.stringify({
            text: [
              `:x: *Aphex pipeline failed at deploy-dev*: <${link}|${WORKFLOW}>`,
              "*Commit:* `0123456789ab` on `main` (example-org/webshop)",
              "*Duration:* 12m 30s",
              "*Environment:* dev",
              "*Failed stage:* deploy-dev",
              "*Error:*\n```OOMKilled (exit code 137)```",
              `<${link}|Open in Argo>`,
            ].join("\n"),
          }),
        );
        const github = server.requests.filter((r) => r.path.startsWith("/repos/"));
        assert.deepEqual(github.map((r) => [r.path, JSON.parse(r.body)]), [
          [`/repos/example-org/webshop/statuses/${SHA}`, {
            state: "failure",
            target_url: link,
            description: "Aphex pipeline failed at deploy-dev",
            context: "aphex/pipeline",
          }],
          [`/repos/example-org/webshop/statuses/${SHA}`, {
            state: "failure",
            target_url: link,
            description: "deploy-dev failed; details in the Argo UI",
            context: "aphex/dev",
          }],
          [`/repos/example-org/webshop/statuses/${SHA}`, {
            state: "error",
            target_url: link,
            description: "Not deployed to prod: the pipeline stopped earlier",
            context: "aphex/prod",
          }],
        ]);
        assert.ok(github.every((r) => r.headers["authorization"] === `Bearer ${TOKEN}`));
        const output = log.join("\n");
        assert.ok(!output.includes(TOKEN));
        assert.ok(!output.includes("HOOKSECRET0123"));
        assert.match(
          output,
          /\[report\] workflow webshop-abc12 failed at deploy-dev; 3 stage\(s\)/,
        );
      })
    );
  } finally {
    await server.close();
  }
});

Deno.test("every endpoint down: exit 0, record stored, errors logged, bounded retries, no secrets", async () => {
  const github = startLoopback(() => 500);
  const deadHook = `${await closedPortUrl()}${HOOK_PATH}`;
  try {
    await withTempStore((store, dir) =>
      withMocks(async (m) => {
        await seedRecords(store);
        m.cw.on(PutMetricDataCommand).rejects(awsError("Throttling", "Rate exceeded"));
        m.logs.on(CreateLogStreamCommand).rejects(awsError("AccessDeniedException", "denied"));
        m.sns.on(PublishCommand).rejects(awsError("InternalError", "boom"));
        const log: string[] = [];
        const { sleep, delays } = recordingSleep();
        const outcome = await runReport(
          inputs(dir, github),
          {
            ...deps(
              store,
              m,
              {
                APHEX_SLACK_WEBHOOK_URL: deadHook,
                APHEX_GITHUB_TOKEN: TOKEN,
                APHEX_LOG_FORMAT: "json",
              },
              log,
              sleep,
            ),
            maxAttempts: 2,
          },
        );
        assert.equal(outcome.exitCode, 0);
        assert.deepEqual(outcome.metadata, EXPECTED);
        assert.equal(await store.exists(runRecordKey(SHA, WORKFLOW)), true);
        assert.equal(m.cw.commandCalls(PutMetricDataCommand).length, 2);
        assert.equal(m.logs.commandCalls(PutLogEventsCommand).length, 0);
        assert.deepEqual(outcome.notifications.map((n) => [n.channel, n.ok, n.attempts]), [
          ["sns", false, 1],
          ["webhook", false, 2],
        ]);
        assert.deepEqual(outcome.statuses.map((s) => [s.channel, s.ok, s.attempts]), [
          ["github aphex/pipeline", false, 2],
          ["github aphex/dev", false, 2],
          ["github aphex/prod", false, 2],
        ]);
        assert.equal(github.requests.length, 6);
        assert.ok(delays.length > 0 && delays.length <= 6);
        assert.equal(outcome.problems.length, 7); // logs, metrics, sns, webhook, 3 statuses
        // Logs are JSON lines (APHEX_LOG_FORMAT=json), warnings carry each failure, no secrets.
        const lines = log.map((l) => JSON.parse(l));
        assert.ok(lines.every((l) => l.stage === "report" && l.workflow === WORKFLOW));
        const warnings = lines.filter((l) => l.level === "warn").map((l) => l.msg as string);
        assert.equal(warnings.length, 7);
        assert.ok(warnings.some((w) => w.startsWith("metrics batch 1/1 (3 data points) not sent")));
        assert.ok(warnings.some((w) => w.startsWith("notification via webhook failed after 2")));
        assert.ok(warnings.some((w) => w.includes("Connection refused")));
        const all = log.join("\n");
        assert.ok(!all.includes(TOKEN));
        assert.ok(!all.includes("HOOKSECRET0123"));
      })
    );
  } finally {
    await github.close();
  }
});

Deno.test("assembleWorkflowMetadata: Argo failures fill stages without records; success stays success", () => {
  const now = new Date("2026-11-25T11:00:00.000Z");
  const base = { workflow: "w", commitSha: SHA, branch: "main", createdAt: null };
  const run = assembleWorkflowMetadata({ ...base, workflowStatus: "Error" }, {
    records: [],
    failures: parseWorkflowFailures(JSON.stringify([
      { displayName: "build(0)", message: "", phase: "Error", templateName: "build" },
      { displayName: "w.onExit", message: "x", phase: "Failed", templateName: "report" },
    ])),
    now,
  });
  assert.deepEqual(run, {
    workflowId: "w",
    commitSha: SHA,
    branch: "main",
    triggeredAt: now,
    completedAt: now,
    status: "failed",
    stages: [{
      stageName: "build",
      startedAt: now,
      completedAt: now,
      status: "failed",
      errorMessage: "Error (no message from Argo)",
    }],
  });
  const ok = assembleWorkflowMetadata({ ...base, workflowStatus: "Succeeded" }, {
    records: [],
    failures: [],
    now,
  });
  assert.equal(ok.status, "succeeded");
  assert.deepEqual(ok.stages, []);
});

Deno.test("parseWorkflowFailures: absent, unsubstituted and garbage values mean no failures", () => {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  assert.deepEqual(parseWorkflowFailures(undefined, { warn }), []);
  assert.deepEqual(parseWorkflowFailures("", { warn }), []);
  assert.deepEqual(parseWorkflowFailures("null", { warn }), []);
  assert.deepEqual(parseWorkflowFailures("{{workflow.failures}}", { warn }), []);
  assert.deepEqual(warnings, []);
  assert.deepEqual(parseWorkflowFailures("[{oops", { warn }), []);
  assert.deepEqual(parseWorkflowFailures('{"a":1}', { warn }), []);
  assert.equal(warnings.length, 2);
  assert.deepEqual(parseWorkflowFailures(FAILURES_JSON)[0], {
    displayName: "deploy-dev",
    message: "OOMKilled (exit code 137)",
    templateName: "deploy",
    phase: "Failed",
    finishedAt: new Date("2026-11-25T10:12:00.000Z"),
  });
});

Deno.test("aphex report CLI: --json prints WorkflowMetadata that round-trips; exit 0", async () => {
  await withTempStore(async (store, dir) => {
    await seedRecords(store);
    const ctx = captureContext(["--json", "--skip-cloudwatch"], {
      cwd: dir,
      env: {
        APHEX_WORKSPACE: dir,
        APHEX_STORE_DIR: `${dir}/store`,
        APHEX_COMMIT_SHA: SHA,
        APHEX_BRANCH: "refs/heads/main",
        APHEX_WORKFLOW_NAME: WORKFLOW,
        APHEX_WORKFLOW_STATUS: "Failed",
        APHEX_WORKFLOW_FAILURES: FAILURES_JSON,
        APHEX_WORKFLOW_CREATED_AT: "2026-11-25T10:00:00Z",
      },
    });
    assert.equal(await execute(command, ctx), 0);
    const text = ctx.out.join("");
    const run = fromJsonText(WorkflowMetadataCodec, text, "stdout");
    assert.equal(toJsonText(WorkflowMetadataCodec, run, true) + "\n", text);
    assert.equal(run.status, "failed");
    assert.equal(run.branch, "main");
    assert.deepEqual(run.stages.map((s) => [s.stageName, s.status]), [
      ["build", "succeeded"],
      ["pipeline-update", "succeeded"],
      ["deploy-dev", "failed"],
    ]);
    assert.equal(run.stages[2]!.errorMessage, "OOMKilled (exit code 137)");
    assert.deepEqual(
      fromJsonText(WorkflowMetadataCodec, await readText(store, runRecordKey(SHA, WORKFLOW)), "x"),
      run,
    );
  });
});

Deno.test("aphex report CLI: invalid inputs exit 2 with an actionable message", async () => {
  const env = {
    APHEX_COMMIT_SHA: SHA,
    APHEX_WORKFLOW_NAME: WORKFLOW,
    APHEX_WORKFLOW_STATUS: "Failed",
    APHEX_SKIP_CLOUDWATCH: "true",
    APHEX_WORKSPACE: "/nonexistent-aphex-workspace",
    APHEX_STORE_DIR: "/nonexistent-aphex-workspace/store",
  };
  const cases: [Record<string, string>, RegExp][] = [
    [{ ...env, APHEX_WORKFLOW_STATUS: "Running" }, /workflow status "Running" is invalid/],
    [{ ...env, APHEX_WORKFLOW_STATUS: "" }, /--status \(or APHEX_WORKFLOW_STATUS\) is required/],
    [{ ...env, APHEX_COMMIT_SHA: "abc" }, /commit SHA "abc" is invalid/],
    [{ ...env, APHEX_WORKFLOW_NAME: "../etc" }, /workflow name "..\/etc" is invalid/],
    [{ ...env, APHEX_ARGO_URL: "javascript:alert(1)" }, /is not an http\(s\) URL/],
  ];
  for (const [caseEnv, message] of cases) {
    const ctx = captureContext([], { env: caseEnv });
    assert.equal(await execute(command, ctx), 2, JSON.stringify(caseEnv));
    assert.match(ctx.err.join(""), message);
  }
});

Deno.test("aphex report --phase start sets pending statuses (via the main dispatcher)", async () => {
  const server = startLoopback(() => 201);
  try {
    const ctx = captureContext(["report", "--phase", "start"], {
      env: {
        APHEX_COMMIT_SHA: SHA,
        APHEX_WORKFLOW_NAME: WORKFLOW,
        APHEX_WORKSPACE: "/nonexistent-aphex-workspace",
        APHEX_GITHUB_TOKEN: TOKEN,
        APHEX_GITHUB_REPOSITORY: "example-org/webshop",
        APHEX_GITHUB_API_URL: server.url,
        APHEX_ENVIRONMENTS: "dev, prod",
        APHEX_ARGO_URL: "https://argo.example.com",
      },
    });
    assert.equal(await main(ctx), 0);
    assert.deepEqual(
      server.requests.map((r) => JSON.parse(r.body)),
      [
        ["aphex/pipeline", "Aphex pipeline running"],
        ["aphex/dev", "Waiting to deploy dev"],
        ["aphex/prod", "Waiting to deploy prod"],
      ].map(([context, description]) => ({
        state: "pending",
        target_url: `https://argo.example.com/workflows/argo/${WORKFLOW}`,
        description,
        context,
      })),
    );
    assert.ok(!ctx.err.join("").includes(TOKEN));
  } finally {
    await server.close();
  }
});

Deno.test("successful run without onSuccess: no notification, success statuses", async () => {
  const server = startLoopback(() => 201);
  try {
    await withTempStore((store, dir) =>
      withMocks(async (m) => {
        const target = { commitSha: SHA, workflow: WORKFLOW };
        const build = await recordStageStart(store, { ...target, stage: "build" });
        await recordStageEnd(store, build, { status: "succeeded" });
        m.sns.on(PublishCommand).resolves({});
        const log: string[] = [];
        const outcome = await runReport(
          { ...inputs(dir, server), workflowStatus: "Succeeded", failures: [], cloudwatch: false },
          deps(
            store,
            m,
            {
              APHEX_SLACK_WEBHOOK_URL: `${server.url}${HOOK_PATH}`,
              APHEX_GITHUB_TOKEN: TOKEN,
            },
            log,
            recordingSleep().sleep,
          ),
        );
        assert.equal(outcome.metadata?.status, "succeeded");
        assert.deepEqual(outcome.notifications, []);
        assert.equal(m.sns.commandCalls(PublishCommand).length, 0);
        assert.equal(server.requests.filter((r) => r.path === HOOK_PATH).length, 0);
        assert.deepEqual(
          server.requests.map((r) => [JSON.parse(r.body).context, JSON.parse(r.body).state]),
          [["aphex/pipeline", "success"], ["aphex/dev", "error"], ["aphex/prod", "error"]],
        );
      })
    );
  } finally {
    await server.close();
  }
});

const CONFIG = `version: "1.0"
pipeline:
  namespace: ci
  github:
    owner: example-org
    repo: webshop
    branch: main
    webhookSecret: { name: gh, key: secret }
  webhook:
    url: https://aphex.example.com
  argoUrl: https://argo.example.com/
  logGroup: /custom/group
  notifications:
    snsTopicArn: arn:aws:sns:us-east-1:111111111111:t
    onSuccess: true
build:
  commands: [make]
environments:
  - name: dev
    region: us-east-1
    account: "111111111111"
    stacks: [{ name: App-dev, path: app.ts }]
  - name: prod
    region: eu-west-1
    account: "222222222222"
    stacks: [{ name: App-prod, path: app.ts }]
`;

Deno.test("report inputs: config in the workspace fills what flags/env leave unset", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aphex-report-config-" });
  try {
    await Deno.writeTextFile(`${dir}/aphex-config.yaml`, CONFIG);
    const ctx = captureContext([], {});
    const parsed = parseCommandArgs(command.spec, {
      args: ["--workspace", dir, "--status", "Succeeded", "--log-group", "/from/flag"],
      env: { APHEX_COMMIT_SHA: SHA, APHEX_WORKFLOW_NAME: WORKFLOW },
    });
    const resolved = await resolveReportInputs(parsed.values, { cwd: dir, stderr: ctx.stderr });
    assert.equal(resolved.namespace, "ci");
    assert.equal(resolved.argoUrl, "https://argo.example.com/");
    assert.equal(resolved.logGroup, "/from/flag");
    assert.equal(resolved.snsTopicArn, "arn:aws:sns:us-east-1:111111111111:t");
    assert.equal(resolved.notifyOnSuccess, true);
    assert.deepEqual(resolved.repository, { owner: "example-org", repo: "webshop" });
    assert.deepEqual(resolved.environments, ["dev", "prod"]);
    assert.equal(resolved.storeDir, `${dir}/.aphex/store`);
    assert.deepEqual(ctx.err, []);

    // A broken config is only a warning: the report still runs and exits 0.
    await Deno.writeTextFile(`${dir}/aphex-config.yaml`, "version: [");
    const run = captureContext(["--skip-cloudwatch", "--workspace", dir], {
      cwd: dir,
      env: { APHEX_COMMIT_SHA: SHA, APHEX_WORKFLOW_NAME: WORKFLOW, APHEX_WORKFLOW_STATUS: "Error" },
    });
    assert.equal(await execute(command, run), 0);
    assert.match(run.err.join(""), /\[report\] warning: ignoring aphex-config\.yaml: /);
    const local = new LocalArtifactStore(`${dir}/.aphex/store`);
    assert.equal(await local.exists(runRecordKey(SHA, WORKFLOW)), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
