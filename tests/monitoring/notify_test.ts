import assert from "node:assert/strict";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import {
  argoWorkflowUrl,
  escapeSlack,
  formatSubject,
  postWebhook,
  type RunSummary,
  sendNotifications,
  shouldNotify,
  slackPayload,
  snsTopicRegion,
} from "../../adapters/monitoring/notify.ts";
import { awsError, closedPortUrl, recordingSleep, SHA, startLoopback } from "./_helpers.ts";

const WEBHOOK_PATH = "/services/T000/B000/XXXXSECRETXXXX";

function summary(overrides: Partial<RunSummary> = {}): RunSummary {
  return {
    workflowId: "webshop-abc12",
    commitSha: SHA,
    branch: "main",
    status: "failed",
    environment: "dev",
    failedStage: "deploy-dev",
    errorSummary: "stack Api failed: <CREATE_FAILED> & rolled back",
    argoLink: "https://argo.example.com/workflows/argo/webshop-abc12",
    durationSeconds: 750,
    repository: "example-org/webshop",
    ...overrides,
  };
}

const EXPECTED_SLACK_TEXT = [
  ":x: *Aphex pipeline failed at deploy-dev*: <https://argo.example.com/workflows/argo/webshop-abc12|webshop-abc12>",
  "*Commit:* `0123456789ab` on `main` (example-org/webshop)",
  "*Duration:* 12m 30s",
  "*Environment:* dev",
  "*Failed stage:* deploy-dev",
  "*Error:*\n```stack Api failed: &lt;CREATE_FAILED&gt; &amp; rolled back```",
  "<https://argo.example.com/workflows/argo/webshop-abc12|Open in Argo>",
].join("\n");

Deno.test("argoWorkflowUrl joins base, namespace and workflow", () => {
  assert.equal(
    argoWorkflowUrl("https://argo.example.com/", { namespace: "argo", workflow: "w-1" }),
    "https://argo.example.com/workflows/argo/w-1",
  );
  assert.equal(
    argoWorkflowUrl("https://x.example.com/argo//", { namespace: "ci ns", workflow: "w" }),
    "https://x.example.com/argo/workflows/ci%20ns/w",
  );
});

Deno.test("Slack webhook receives the exact payload on the loopback server", async () => {
  const server = startLoopback(() => 200);
  try {
    const result = await postWebhook(`${server.url}${WEBHOOK_PATH}`, summary(), {
      sleep: recordingSleep().sleep,
    });
    assert.deepEqual(result, { channel: "webhook", ok: true, attempts: 1 });
    assert.equal(server.requests.length, 1);
    const req = server.requests[0]!;
    assert.equal(req.method, "POST");
    assert.equal(req.path, WEBHOOK_PATH);
    assert.equal(req.headers["content-type"], "application/json");
    assert.equal(req.body, JSON.stringify({ text: EXPECTED_SLACK_TEXT }));
  } finally {
    await server.close();
  }
});

Deno.test("webhook answering HTTP 500: bounded retries with backoff, error logged, URL never shown", async () => {
  const server = startLoopback(() => 500);
  try {
    const { sleep, delays } = recordingSleep();
    const logs: string[] = [];
    const results = await sendNotifications(summary(), {
      webhookUrl: `${server.url}${WEBHOOK_PATH}`,
      sleep,
      log: (l) => logs.push(l),
    });
    assert.deepEqual(results, [{
      channel: "webhook",
      ok: false,
      attempts: 3,
      error: "HTTP 500: server says no",
    }]);
    assert.equal(server.requests.length, 3);
    assert.deepEqual(delays, [1000, 2000]);
    assert.deepEqual(logs, [
      "notification via webhook failed after 3 attempt(s): HTTP 500: server says no",
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("webhook connection refused: bounded retries, logged without the secret URL", async () => {
  const url = `${await closedPortUrl()}${WEBHOOK_PATH}`;
  const { sleep, delays } = recordingSleep();
  const logs: string[] = [];
  const results = await sendNotifications(summary(), {
    webhookUrl: url,
    sleep,
    maxAttempts: 4,
    log: (l) => logs.push(l),
  });
  assert.equal(results.length, 1);
  assert.equal(results[0]!.ok, false);
  assert.equal(results[0]!.attempts, 4);
  assert.deepEqual(delays, [1000, 2000, 4000]);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /^notification via webhook failed after 4 attempt\(s\): /);
  assert.match(logs[0]!, /Connection refused/);
  assert.match(logs[0]!, /\*\*\*/); // the URL was there and is redacted
  assert.ok(!logs[0]!.includes("XXXXSECRETXXXX"), logs[0]!);
  assert.ok(!logs[0]!.includes(WEBHOOK_PATH), logs[0]!);
});

Deno.test("webhook answering HTTP 404 is not retried", async () => {
  const server = startLoopback(() => 404);
  try {
    const { sleep, delays } = recordingSleep();
    const result = await postWebhook(`${server.url}${WEBHOOK_PATH}`, summary(), { sleep });
    assert.equal(result.attempts, 1);
    assert.equal(result.ok, false);
    assert.deepEqual(delays, []);
  } finally {
    await server.close();
  }
});

Deno.test("webhook URL that is not http(s) is refused without showing it", async () => {
  const result = await postWebhook("ftp://hooks.example.com/T/B/SECRETVALUE", summary());
  assert.deepEqual(result, {
    channel: "webhook",
    ok: false,
    attempts: 0,
    error: "APHEX_SLACK_WEBHOOK_URL is not an http(s) URL (value not shown)",
  });
});

Deno.test("SNS publish: exact PublishCommand input; throttling retried", async () => {
  const mock = mockClient(SNSClient);
  const client = new SNSClient({
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
  });
  try {
    mock.on(PublishCommand).rejectsOnce(awsError("Throttling", "Rate exceeded")).resolves({
      MessageId: "m-1",
    });
    const { sleep, delays } = recordingSleep();
    const topic = "arn:aws:sns:us-east-1:111111111111:aphex-alerts";
    const results = await sendNotifications(summary(), {
      snsTopicArn: topic,
      sns: client,
      sleep,
      random: () => 1,
    });
    assert.deepEqual(results, [{ channel: "sns", ok: true, attempts: 2 }]);
    assert.deepEqual(delays, [1000]);
    const calls = mock.commandCalls(PublishCommand);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1]!.args[0].input, {
      TopicArn: topic,
      Subject: "[Aphex] FAILED at deploy-dev: webshop-abc12",
      Message: [
        "Aphex pipeline failed at deploy-dev: webshop-abc12",
        "",
        "Workflow:     webshop-abc12",
        "Repository:   example-org/webshop",
        `Commit:       ${SHA}`,
        "Branch:       main",
        "Status:       failed",
        "Duration:     12m 30s",
        "Environment:  dev",
        "Failed stage: deploy-dev",
        "Argo UI:      https://argo.example.com/workflows/argo/webshop-abc12",
        "",
        "Error:",
        "stack Api failed: <CREATE_FAILED> & rolled back",
        "",
      ].join("\n"),
      MessageAttributes: {
        status: { DataType: "String", StringValue: "failed" },
        workflow: { DataType: "String", StringValue: "webshop-abc12" },
      },
    });
  } finally {
    mock.restore();
    client.destroy();
  }
});

Deno.test("SNS failure is returned and logged, never thrown", async () => {
  const mock = mockClient(SNSClient);
  const client = new SNSClient({
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
  });
  try {
    mock.on(PublishCommand).rejects(awsError("AuthorizationError", "not allowed"));
    const logs: string[] = [];
    const results = await sendNotifications(summary(), {
      snsTopicArn: "arn:aws:sns:us-east-1:111111111111:t",
      sns: client,
      log: (l) => logs.push(l),
    });
    assert.deepEqual(results, [{
      channel: "sns",
      ok: false,
      attempts: 1,
      error: "AuthorizationError: not allowed",
    }]);
    assert.deepEqual(logs, [
      "notification via sns failed after 1 attempt(s): AuthorizationError: not allowed",
    ]);
  } finally {
    mock.restore();
    client.destroy();
  }
});

Deno.test("subject is printable ASCII and at most 100 characters (property)", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300 }), (wf, stage) => {
      const s = formatSubject(summary({ workflowId: wf, failedStage: stage || null }));
      assert.ok(s.length <= 100);
      assert.match(s, /^[\x20-\x7e]*$/);
    }),
  );
});

Deno.test("escapeSlack leaves no raw <, > and round-trips (property)", () => {
  fc.assert(
    fc.property(fc.string(), (text) => {
      const escaped = escapeSlack(text);
      assert.ok(!/[<>]/.test(escaped));
      assert.equal(
        escaped.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"),
        text,
      );
    }),
  );
  const payload = slackPayload(summary({ errorSummary: "<!channel> ping", branch: "<@U1>" }));
  assert.ok(!payload.text.includes("<!channel>"));
  assert.ok(!payload.text.includes("<@U1>"));
});

Deno.test("shouldNotify: failures always, successes only when asked", () => {
  assert.equal(shouldNotify("failed", { onSuccess: false }), true);
  assert.equal(shouldNotify("succeeded", { onSuccess: false }), false);
  assert.equal(shouldNotify("succeeded", { onSuccess: true }), true);
  assert.equal(shouldNotify("running", { onSuccess: true }), false);
});

Deno.test("snsTopicRegion reads the region of a topic ARN", () => {
  assert.equal(snsTopicRegion("arn:aws:sns:eu-west-1:111111111111:alerts"), "eu-west-1");
  assert.equal(
    snsTopicRegion("arn:aws-us-gov:sns:us-gov-west-1:111111111111:a.fifo"),
    "us-gov-west-1",
  );
  assert.equal(snsTopicRegion("not-an-arn"), undefined);
});
