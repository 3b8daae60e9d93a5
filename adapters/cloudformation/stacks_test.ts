import assert from "node:assert/strict";
import {
  CloudFormationClient,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  type ResourceStatus,
  type StackEvent,
} from "@aws-sdk/client-cloudformation";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { AphexError } from "../../models/errors.ts";
import {
  assertStackDeployable,
  classifyStackStatus,
  deleteStackAndWait,
  diagnoseStack,
  formatFailureTable,
  getStackOutputs,
  getStackState,
  readFailureEvents,
} from "./stacks.ts";
import { backoffDelay, isThrottlingError, withThrottlingRetry } from "./throttling.ts";

const STACK = "aphex-fixture-app";

function throttling(): Error {
  const error = new Error("Rate exceeded");
  error.name = "Throttling";
  return error;
}

function missing(name = STACK): Error {
  const error = new Error(`Stack with id ${name} does not exist`);
  error.name = "ValidationError";
  return error;
}

/** A fake sleep that records the delays and returns at once. */
function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return { delays, sleep: (ms) => (delays.push(ms), Promise.resolve()) };
}

let clock = Date.UTC(2026, 10, 25, 12, 0, 0);
function event(
  logicalId: string,
  status: string,
  reason = "",
  type = "AWS::SQS::Queue",
): StackEvent {
  clock -= 1000; // events are built newest first
  return {
    StackId: `arn:aws:cloudformation:us-east-1:111111111111:stack/${STACK}/1`,
    EventId: crypto.randomUUID(),
    StackName: STACK,
    LogicalResourceId: logicalId,
    ResourceType: type,
    ResourceStatus: status as ResourceStatus,
    ResourceStatusReason: reason,
    Timestamp: new Date(clock),
  };
}
const STACK_TYPE = "AWS::CloudFormation::Stack";

function aphexError(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof AphexError, `expected AphexError, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  };
}

Deno.test("getStackOutputs reads DescribeStacks outputs as a map", async () => {
  const cfn = mockClient(CloudFormationClient);
  try {
    cfn.on(DescribeStacksCommand, { StackName: STACK }).resolves({
      Stacks: [{
        StackName: STACK,
        StackStatus: "UPDATE_COMPLETE",
        CreationTime: new Date(0),
        Outputs: [
          { OutputKey: "QueueUrl", OutputValue: "https://sqs.us-east-1.amazonaws.com/1/q" },
          { OutputKey: "Empty" },
        ],
      }],
    });
    cfn.on(DescribeStacksCommand, { StackName: "gone" }).rejects(missing("gone"));
    cfn.on(DescribeStackEventsCommand, { StackName: "gone" }).rejects(missing("gone"));
    const client = new CloudFormationClient({ region: "us-east-1" });
    assert.deepEqual(await getStackOutputs(client, STACK), {
      QueueUrl: "https://sqs.us-east-1.amazonaws.com/1/q",
      Empty: "",
    });
    await assert.rejects(getStackOutputs(client, "gone"), aphexError(/"gone": it does not exist/));
    assert.deepEqual(await getStackState(client, "gone"), { exists: false });
    assert.deepEqual(await readFailureEvents(client, "gone"), []);
    const diagnosis = await diagnoseStack(client, "gone");
    assert.equal(diagnosis.condition, "absent");
    assert.match(diagnosis.message, /"gone" does not exist/);
  } finally {
    cfn.restore();
  }
});

Deno.test("readFailureEvents follows NextToken and stops at the operation's start", async () => {
  const cfn = mockClient(CloudFormationClient);
  try {
    const page1 = [
      event(STACK, "UPDATE_ROLLBACK_COMPLETE", "", STACK_TYPE),
      event("Work", "UPDATE_COMPLETE"),
      event(
        STACK,
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to update: [Work]",
        STACK_TYPE,
      ),
    ];
    const page2 = [
      event("Work", "UPDATE_FAILED", 'Resource handler returned message: "Invalid\n value"'),
      event("Alarm", "UPDATE_FAILED", "Resource update cancelled"),
      event("Work", "UPDATE_IN_PROGRESS"),
      event(STACK, "UPDATE_IN_PROGRESS", "User Initiated", STACK_TYPE),
    ];
    const previous = [
      event("Old", "CREATE_FAILED", "from an older operation"),
      event(STACK, "CREATE_IN_PROGRESS", "User Initiated", STACK_TYPE),
    ];
    cfn.on(DescribeStackEventsCommand, { StackName: STACK, NextToken: undefined }).resolves({
      StackEvents: page1,
      NextToken: "t2",
    });
    cfn.on(DescribeStackEventsCommand, { StackName: STACK, NextToken: "t2" }).resolves({
      StackEvents: page2,
      NextToken: "t3",
    });
    cfn.on(DescribeStackEventsCommand, { StackName: STACK, NextToken: "t3" }).resolves({
      StackEvents: previous,
    });
    const client = new CloudFormationClient({ region: "us-east-1" });
    const events = await readFailureEvents(client, STACK);
    assert.deepEqual(events.map((e) => [e.logicalId, e.status]), [
      ["Alarm", "UPDATE_FAILED"],
      ["Work", "UPDATE_FAILED"],
    ]);
    assert.equal(cfn.commandCalls(DescribeStackEventsCommand).length, 2);

    const table = formatFailureTable(events).split("\n");
    assert.equal(table.length, 3);
    assert.match(table[0]!, /^TIME \(UTC\)\s+RESOURCE\s+TYPE\s+STATUS\s+REASON$/);
    assert.match(
      table[2]!,
      /^\d\d:\d\d:\d\d\s+Work\s+AWS::SQS::Queue {2}UPDATE_FAILED {2}Resource handler returned message: "Invalid value"$/,
    );
    // Columns are aligned: the STATUS column starts at the same offset on every line.
    const offsets = table.map((l) => l.search(/STATUS|UPDATE_FAILED/));
    assert.equal(new Set(offsets).size, 1);

    // A caller-given start time stops earlier (inside page 2).
    cfn.resetHistory();
    const since = page2[1]!.Timestamp!;
    const recent = await readFailureEvents(client, STACK, { since });
    assert.deepEqual(recent.map((e) => e.logicalId), ["Alarm", "Work"]);
    const sinceLater = page2[0]!.Timestamp!;
    assert.deepEqual(
      (await readFailureEvents(client, STACK, { since: sinceLater })).map((e) => e.logicalId),
      ["Work"],
    );
  } finally {
    cfn.restore();
  }
});

Deno.test("formatFailureTable cuts long reasons and says when there is nothing", () => {
  assert.equal(formatFailureTable([]), "(no failed events recorded for this operation)");
  const table = formatFailureTable([{
    timestamp: new Date(Date.UTC(2026, 0, 1, 1, 2, 3)),
    logicalId: "Q",
    resourceType: "AWS::SQS::Queue",
    status: "CREATE_FAILED",
    reason: "x".repeat(500),
  }], { maxReason: 20 });
  assert.equal(
    table.split("\n")[1],
    `01:02:03    Q         AWS::SQS::Queue  CREATE_FAILED  ${"x".repeat(19)}…`,
  );
});

Deno.test("classifyStackStatus", () => {
  assert.equal(classifyStackStatus(undefined), "absent");
  assert.equal(classifyStackStatus("DELETE_COMPLETE"), "absent");
  assert.equal(classifyStackStatus("ROLLBACK_COMPLETE"), "needs-delete");
  assert.equal(classifyStackStatus("UPDATE_ROLLBACK_FAILED"), "rollback-failed");
  assert.equal(classifyStackStatus("UPDATE_ROLLBACK_COMPLETE"), "deployable");
  assert.equal(classifyStackStatus("CREATE_COMPLETE"), "deployable");
  assert.equal(classifyStackStatus("UPDATE_IN_PROGRESS"), "in-progress");
  assert.equal(classifyStackStatus("DELETE_FAILED"), "blocked");
});

Deno.test("ROLLBACK_COMPLETE is explained; --recreate-failed deletes and waits", async () => {
  const cfn = mockClient(CloudFormationClient);
  try {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: STACK, StackStatus: "ROLLBACK_COMPLETE", CreationTime: new Date(0) }],
    });
    cfn.on(DescribeStackEventsCommand).resolves({
      StackEvents: [
        event(STACK, "ROLLBACK_COMPLETE", "", STACK_TYPE),
        event("Work", "CREATE_FAILED", "Queue name already exists"),
        event(STACK, "CREATE_IN_PROGRESS", "User Initiated", STACK_TYPE),
      ],
    });
    const client = new CloudFormationClient({ region: "us-east-1" });
    await assert.rejects(
      assertStackDeployable(client, STACK),
      aphexError(
        /"aphex-fixture-app" is ROLLBACK_COMPLETE: it never deployed successfully .* must be deleted .* --recreate-failed/,
      ),
    );
    const diagnosis = await diagnoseStack(client, STACK);
    assert.equal(diagnosis.condition, "needs-delete");
    assert.equal(diagnosis.status, "ROLLBACK_COMPLETE");
    assert.deepEqual(diagnosis.events.map((e) => e.reason), ["Queue name already exists"]);
    assert.match(
      diagnosis.table,
      /Work\s+AWS::SQS::Queue\s+CREATE_FAILED\s+Queue name already exists/,
    );

    // Recreate: DeleteStack, then polls until the stack is gone.
    cfn.reset();
    cfn.on(DescribeStacksCommand)
      .resolvesOnce({
        Stacks: [{ StackName: STACK, StackStatus: "ROLLBACK_COMPLETE", CreationTime: new Date(0) }],
      })
      .resolvesOnce({
        Stacks: [{
          StackName: STACK,
          StackStatus: "DELETE_IN_PROGRESS",
          CreationTime: new Date(0),
        }],
      })
      .rejects(missing());
    cfn.on(DeleteStackCommand).resolves({});
    const { sleep, delays } = recordingSleep();
    const result = await assertStackDeployable(client, STACK, {
      recreateFailed: true,
      deleteOptions: { pollMs: 1234, sleep },
    });
    assert.equal(result, "recreated");
    assert.deepEqual(cfn.commandCalls(DeleteStackCommand).map((c) => c.args[0].input), [{
      StackName: STACK,
    }]);
    assert.deepEqual(delays, [1234]);
  } finally {
    cfn.restore();
  }
});

Deno.test("deleteStackAndWait reports DELETE_FAILED resources and times out", async () => {
  const cfn = mockClient(CloudFormationClient);
  try {
    cfn.on(DeleteStackCommand).resolves({});
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: STACK, StackStatus: "DELETE_FAILED", CreationTime: new Date(0) }],
    });
    let now = Date.UTC(2026, 10, 25, 11, 0, 0);
    cfn.on(DescribeStackEventsCommand).resolves({
      StackEvents: [
        {
          ...event("Bucket", "DELETE_FAILED", "The bucket is not empty"),
          Timestamp: new Date(now + 5),
        },
        {
          ...event(STACK, "DELETE_IN_PROGRESS", "User Initiated", STACK_TYPE),
          Timestamp: new Date(now + 1),
        },
      ],
    });
    const client = new CloudFormationClient({ region: "us-east-1" });
    await assert.rejects(
      deleteStackAndWait(client, STACK, { now: () => now, sleep: () => Promise.resolve() }),
      aphexError(
        /DELETE_FAILED\); resources not deleted: Bucket\n[\s\S]*DELETE_FAILED {2}The bucket is not empty/,
      ),
    );

    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: STACK, StackStatus: "DELETE_IN_PROGRESS", CreationTime: new Date(0) }],
    });
    await assert.rejects(
      deleteStackAndWait(client, STACK, {
        now: () => now,
        timeoutMs: 10_000,
        pollMs: 4000,
        sleep: (ms) => (now += ms, Promise.resolve()),
      }),
      aphexError(/still DELETE_IN_PROGRESS when the wait for its deletion timed out/),
    );
  } finally {
    cfn.restore();
  }
});

Deno.test("UPDATE_ROLLBACK_FAILED stops the deploy and names the failed resources", async () => {
  const cfn = mockClient(CloudFormationClient);
  try {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{
        StackName: STACK,
        StackStatus: "UPDATE_ROLLBACK_FAILED",
        CreationTime: new Date(0),
      }],
    });
    cfn.on(DescribeStackEventsCommand).resolves({
      StackEvents: [
        event(
          STACK,
          "UPDATE_ROLLBACK_FAILED",
          "The following resource(s) failed to update: [Fn, Role]",
          STACK_TYPE,
        ),
        event("Fn", "UPDATE_FAILED", "Function not found"),
        event("Role", "UPDATE_FAILED", "Access denied"),
        event("Fn", "UPDATE_FAILED", "Invalid runtime"),
        event(STACK, "UPDATE_IN_PROGRESS", "User Initiated", STACK_TYPE),
      ],
    });
    const client = new CloudFormationClient({ region: "us-east-1" });
    await assert.rejects(
      assertStackDeployable(client, STACK),
      aphexError(
        /UPDATE_ROLLBACK_FAILED: CloudFormation could not roll back these resources: Fn, Role\. .*continue-update-rollback/,
      ),
    );
    const diagnosis = await diagnoseStack(client, STACK);
    assert.equal(diagnosis.condition, "rollback-failed");
    assert.match(diagnosis.message, /these resources: Fn, Role\./);
    assert.equal(diagnosis.events.length, 4);
  } finally {
    cfn.restore();
  }
});

Deno.test("throttling is retried with bounded, jittered backoff, then succeeds", async () => {
  const cfn = mockClient(CloudFormationClient);
  try {
    cfn.on(DescribeStacksCommand)
      .rejectsOnce(throttling())
      .rejectsOnce(throttling())
      .rejectsOnce(throttling())
      .resolves({
        Stacks: [{
          StackName: STACK,
          StackStatus: "CREATE_COMPLETE",
          CreationTime: new Date(0),
          Outputs: [{ OutputKey: "K", OutputValue: "V" }],
        }],
      });
    const { sleep, delays } = recordingSleep();
    const client = new CloudFormationClient({ region: "us-east-1" });
    const outputs = await getStackOutputs(client, STACK, {
      sleep,
      random: () => 0.5,
      baseDelayMs: 100,
    });
    assert.deepEqual(outputs, { K: "V" });
    assert.deepEqual(delays, [50, 100, 200]);
    assert.equal(cfn.commandCalls(DescribeStacksCommand).length, 4);
  } finally {
    cfn.restore();
  }
});

Deno.test("throttling exhausted: the stack status is re-read and reported", async () => {
  const cfn = mockClient(CloudFormationClient);
  try {
    cfn.on(DescribeStackEventsCommand).rejects(throttling());
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{
        StackName: STACK,
        StackStatus: "UPDATE_ROLLBACK_COMPLETE",
        CreationTime: new Date(0),
      }],
    });
    const { sleep, delays } = recordingSleep();
    const client = new CloudFormationClient({ region: "us-east-1" });
    await assert.rejects(
      readFailureEvents(client, STACK, { sleep, maxAttempts: 4, random: () => 0.999 }),
      aphexError(
        /DescribeStackEvents\(aphex-fixture-app\) was throttled by AWS 4 times in a row \(Rate exceeded\); stack "aphex-fixture-app": its status is now UPDATE_ROLLBACK_COMPLETE/,
      ),
    );
    assert.equal(cfn.commandCalls(DescribeStackEventsCommand).length, 4);
    assert.equal(cfn.commandCalls(DescribeStacksCommand).length, 1);
    assert.deepEqual(delays, [499, 999, 1998, 10_000]);

    // When the status read is throttled too, the error says so.
    cfn.reset();
    cfn.on(DescribeStacksCommand).rejects(throttling());
    await assert.rejects(
      getStackOutputs(client, STACK, { sleep, maxAttempts: 2 }),
      aphexError(
        /throttled by AWS 2 times .*its status could not be re-read \(Throttling: Rate exceeded\)/,
      ),
    );
    assert.equal(cfn.commandCalls(DescribeStacksCommand).length, 3);
  } finally {
    cfn.restore();
  }
});

Deno.test("non-throttling errors are not retried", async () => {
  let calls = 0;
  const denied = Object.assign(new Error("not authorized"), { name: "AccessDenied" });
  await assert.rejects(
    withThrottlingRetry(() => (calls++, Promise.reject(denied)), {
      sleep: () => Promise.resolve(),
    }),
    (error) => error === denied,
  );
  assert.equal(calls, 1);
  assert.equal(isThrottlingError(throttling()), true);
  assert.equal(isThrottlingError({ name: "ThrottlingException", message: "slow down" }), true);
  assert.equal(isThrottlingError(denied), false);
  assert.equal(isThrottlingError("Rate exceeded"), false);
});

Deno.test("backoffDelay stays within [0, min(cap, base·2^(n-1))]", () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 40 }),
    fc.integer({ min: 1, max: 5000 }),
    fc.integer({ min: 1, max: 60_000 }),
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    (retry, baseDelayMs, maxDelayMs, r) => {
      const delay = backoffDelay(retry, { baseDelayMs, maxDelayMs, random: () => r });
      assert.ok(Number.isInteger(delay));
      assert.ok(delay >= 0 && delay <= Math.min(maxDelayMs, baseDelayMs * 2 ** (retry - 1)));
    },
  ));
});
