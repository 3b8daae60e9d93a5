/**
 * The plan stage against the AWS stand-ins: the stand-in CDK CLI prepares the change sets
 * (`--method=prepare-change-set`), CloudFormation is mocked with the real SDK client
 * (aws-sdk-client-mock): DescribeChangeSet in two pages, an empty change set, a new stack,
 * GetTemplate for the deployed templates.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CloudFormationClient,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandOutput,
  DescribeStacksCommand,
  GetTemplateCommand,
} from "@aws-sdk/client-cloudformation";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { planKey, readText } from "../../adapters/store/artifact_store.ts";
import type { EnvironmentPlan, TemplateDocument } from "../../models/plan.ts";
import { changeSetName, runPlan, writePlanOutputs } from "../../stages/plan.ts";
import {
  FakeCloudFormation,
  PIPELINE_ACCOUNT,
  PIPELINE_ARN,
  STACK_NAMES,
  withDeployFixture,
} from "../deploy/_fixture.ts";

const [NETWORK, APP, MONITORING] = STACK_NAMES as [string, string, string];

const topic: TemplateDocument = { Resources: { Events: { Type: "AWS::SNS::Topic" } } };
const queue: TemplateDocument = {
  Resources: { Work: { Type: "AWS::SQS::Queue", Properties: { VisibilityTimeout: 30 } } },
};
const queueWithPolicy: TemplateDocument = {
  Resources: {
    Work: { Type: "AWS::SQS::Queue", Properties: { VisibilityTimeout: 60 } },
    WorkerPolicy: {
      Type: "AWS::IAM::Policy",
      Properties: {
        PolicyDocument: {
          Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }],
        },
      },
    },
  },
};
const alarm: TemplateDocument = { Resources: { Backlog: { Type: "AWS::CloudWatch::Alarm" } } };

async function writeTemplates(root: string): Promise<string> {
  const dir = join(root, "templates");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "Network.template.json"), JSON.stringify(topic));
  await Deno.writeTextFile(join(dir, "App.template.json"), JSON.stringify(queueWithPolicy));
  await Deno.writeTextFile(join(dir, "Monitoring.template.json"), JSON.stringify(alarm));
  return dir;
}

function mockAws(sha: string) {
  const fake = new FakeCloudFormation();
  fake.scripts[MONITORING] = ["missing"];
  const sts = mockClient(STSClient);
  sts.on(GetCallerIdentityCommand).resolves({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN });
  const cfn = mockClient(CloudFormationClient);
  cfn.on(DescribeStacksCommand).callsFake((input) => fake.describeStacks(input));
  cfn.on(GetTemplateCommand).callsFake((input) => {
    const body = input.StackName === NETWORK ? topic : queue;
    return Promise.resolve({ TemplateBody: JSON.stringify(body) });
  });
  const name = changeSetName("dev", sha);
  const id = (stack: string) => `arn:aws:cloudformation:us-east-1:1:changeSet/${name}/${stack}`;
  cfn.on(DescribeChangeSetCommand).callsFake(
    (input): Promise<Partial<DescribeChangeSetCommandOutput>> => {
      assert.equal(input.ChangeSetName, name);
      const base = {
        ChangeSetName: name,
        StackName: input.StackName,
        ChangeSetId: id(input.StackName!),
      };
      if (input.StackName === NETWORK) {
        return Promise.resolve({
          ...base,
          Status: "FAILED",
          StatusReason: "The submitted information didn't contain changes. Submit different " +
            "information to create a change set.",
          ExecutionStatus: "UNAVAILABLE",
        });
      }
      if (input.StackName === APP && !input.NextToken) {
        return Promise.resolve({
          ...base,
          Status: "CREATE_COMPLETE",
          ExecutionStatus: "AVAILABLE",
          NextToken: "page-2",
          Changes: [{
            Type: "Resource",
            ResourceChange: {
              Action: "Modify",
              LogicalResourceId: "Work",
              ResourceType: "AWS::SQS::Queue",
              Replacement: "True",
            },
          }],
        });
      }
      if (input.StackName === APP) {
        assert.equal(input.NextToken, "page-2");
        return Promise.resolve({
          ...base,
          Status: "CREATE_COMPLETE",
          ExecutionStatus: "AVAILABLE",
          Changes: [{
            Type: "Resource",
            ResourceChange: {
              Action: "Add",
              LogicalResourceId: "WorkerPolicy",
              ResourceType: "AWS::IAM::Policy",
            },
          }],
        });
      }
      return Promise.resolve({
        ...base,
        Status: "CREATE_COMPLETE",
        ExecutionStatus: "AVAILABLE",
        Changes: [{
          Type: "Resource",
          ResourceChange: {
            Action: "Add",
            LogicalResourceId: "Backlog",
            ResourceType: "AWS::CloudWatch::Alarm",
          },
        }],
      });
    },
  );
  cfn.on(DeleteChangeSetCommand).resolves({});
  return { sts, cfn, id, name, restore: () => (sts.restore(), cfn.restore()) };
}

Deno.test("plan: change sets prepared by the CDK CLI, described (all pages), no-op removed, plan stored", async () => {
  await withDeployFixture(
    { devExtra: ["review: { approve: on-risk, risk: [iam-broadening] }"] },
    async (f) => {
      f.deps.env.FAKE_CDK_TEMPLATES = await writeTemplates(f.root);
      const aws = mockAws(f.sha);
      try {
        const outcome = await runPlan(f.inputs, f.deps);
        assert.equal(outcome.exitCode, 0, outcome.failure ?? "");
        assert.deepEqual(await f.calls(), [
          `prepare Network ${aws.name}`,
          `prepare App ${aws.name}`,
          `prepare Monitoring ${aws.name}`,
        ]);
        // Both pages of the app stack's change set were read.
        assert.equal(
          aws.cfn.commandCalls(DescribeChangeSetCommand, { StackName: APP }).length,
          2,
        );
        // The empty change set of the network stack was deleted; nothing else was.
        const deleted = aws.cfn.commandCalls(DeleteChangeSetCommand).map((c) => c.args[0].input);
        assert.deepEqual(deleted, [{ StackName: NETWORK, ChangeSetName: aws.name }]);

        const stored = JSON.parse(
          await readText(f.store, planKey(f.sha, "dev")),
        ) as EnvironmentPlan;
        assert.deepEqual(stored, outcome.plan);
        assert.deepEqual(
          stored.stacks.map((s) => [s.stackName, s.status, s.newStack, s.changeSetId]),
          [
            [NETWORK, "no-op", false, undefined],
            [APP, "changes", false, aws.id(APP)],
            [MONITORING, "changes", true, aws.id(MONITORING)],
          ],
        );
        assert.deepEqual(stored.stacks[1]!.changes, [
          {
            action: "Modify",
            logicalId: "Work",
            resourceType: "AWS::SQS::Queue",
            replacement: "True",
          },
          { action: "Add", logicalId: "WorkerPolicy", resourceType: "AWS::IAM::Policy" },
        ]);
        assert.deepEqual(stored.stacks[1]!.broadening, [{
          logicalId: "WorkerPolicy",
          kind: "iam-statement",
          detail: "Allow s3:GetObject on * (AWS::IAM::Policy)",
        }]);
        // The gate counts only iam-broadening here: the replacement does not count, the policy does.
        assert.equal(outcome.approve, true);
        assert.deepEqual(outcome.risks.map((r) => r.kind), ["iam-broadening"]);
        assert.equal(
          outcome.summary,
          "2 stack(s) change (+2 ~1 -0), 1 no-op; risky: 1 iam-broadening",
        );
        const log = f.logs.join("\n");
        assert.match(log, /\[plan\] STACK +CHANGE SET +ADD +MODIFY +REMOVE +REPLACE +BROADENING/);
        assert.match(log, /\[plan\] aphex-fixture-monitoring \(new\) +aphex-dev-/);
        assert.match(
          log,
          /\[plan\] {3}iam-broadening {2}aphex-fixture-app: WorkerPolicy: Allow s3:GetObject/,
        );

        const outputs = join(f.root, "outputs");
        await Deno.mkdir(outputs, { recursive: true });
        await writePlanOutputs(outputs, outcome);
        assert.equal(await Deno.readTextFile(join(outputs, "approve")), "true");
        assert.equal(await Deno.readTextFile(join(outputs, "summary")), outcome.summary);
      } finally {
        aws.restore();
      }
    },
  );
});

Deno.test("plan: default review of an environment without approval never stops the run", async () => {
  await withDeployFixture({}, async (f) => {
    f.deps.env.FAKE_CDK_TEMPLATES = await writeTemplates(f.root);
    const aws = mockAws(f.sha);
    try {
      const outcome = await runPlan(f.inputs, f.deps);
      assert.equal(outcome.exitCode, 0, outcome.failure ?? "");
      assert.equal(outcome.approve, false);
      assert.deepEqual(outcome.risks.map((r) => r.kind), ["iam-broadening", "replacement"]);
    } finally {
      aws.restore();
    }
  });
});

Deno.test("plan without AWS credentials says what it skipped and fails (exit 1)", async () => {
  await withDeployFixture({}, async (f) => {
    const sts = mockClient(STSClient);
    sts.on(GetCallerIdentityCommand).rejects(
      Object.assign(new Error("Could not load credentials from any providers"), {
        name: "CredentialsProviderError",
      }),
    );
    try {
      const outcome = await runPlan(f.inputs, f.deps);
      assert.equal(outcome.exitCode, 1);
      assert.match(
        outcome.failure ?? "",
        /no usable AWS credentials for aws:\/\/111111111111\/us-east-1; skipped: synth, change sets and the plan/,
      );
      assert.deepEqual(await f.calls(), [], "no change set was prepared");
      assert.equal(await f.store.exists(planKey(f.sha, "dev")), false);
    } finally {
      sts.restore();
    }
  });
});

Deno.test("plan: the environment's GitHub commit status says what is about to happen (counts and risk kinds only)", async () => {
  const pipeline = [
    "artifactBucket: shop-artifacts",
    "github:",
    "  owner: acme",
    "  repo: shop",
    "  branch: main",
    "  webhookSecret: { name: gh, key: secret }",
    "  apiToken: { name: gh, key: token }",
    "webhook: { url: https://hooks.example.com }",
  ];
  await withDeployFixture({ pipeline, devExtra: ["approval: true"] }, async (f) => {
    f.deps.env.FAKE_CDK_TEMPLATES = await writeTemplates(f.root);
    f.deps.env.APHEX_GITHUB_TOKEN = "ghp_canary_token_never_logged";
    const posted: { url: string; body: Record<string, unknown> }[] = [];
    const fakeFetch = (input: string | URL | Request, init?: RequestInit) => {
      posted.push({ url: String(input), body: JSON.parse(String(init?.body)) });
      return Promise.resolve(new Response("{}", { status: 201 }));
    };
    const aws = mockAws(f.sha);
    try {
      const outcome = await runPlan(f.inputs, { ...f.deps, fetch: fakeFetch as typeof fetch });
      assert.equal(outcome.exitCode, 0, outcome.failure ?? "");
      assert.deepEqual(posted, [{
        url: `https://api.github.com/repos/acme/shop/statuses/${f.sha}`,
        body: {
          state: "pending",
          description: "Waiting for approval: 2 stack(s) change (+2 ~1 -0), 1 no-op; risky: 1 " +
            "iam-broadening, 1 replacement",
          context: "aphex/dev",
        },
      }]);
    } finally {
      aws.restore();
    }
  });
});
