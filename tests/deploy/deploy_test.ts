import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CloudFormationClient,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
} from "@aws-sdk/client-cloudformation";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { captureContext } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { fromJsonText } from "../../models/_codec.ts";
import { AphexError } from "../../models/errors.ts";
import { DeploymentResultCodec } from "../../models/results.ts";
import {
  artifactKey,
  logKey,
  metadataKey,
  outputsKey,
  readText,
} from "../../adapters/store/artifact_store.ts";
import { checkoutCommit } from "../../adapters/git/checkout.ts";
import { stageRecordKey } from "../../adapters/store/stage_records.ts";
import { runDeploy } from "../../stages/deploy.ts";
import { childEnvironment } from "../../adapters/cdk/environment.ts";
import { selectEnvironment } from "../../command/stage_runtime.ts";
import { parseConfigOrThrow } from "../../models/config_parse.ts";
import {
  ARTIFACTS,
  configYaml,
  FAKE_CDK,
  FakeCloudFormation,
  PIPELINE_ACCOUNT,
  PIPELINE_ARN,
  PROD_ACCOUNT,
  PROD_ROLE,
  STACK_NAMES,
  stackEvent,
  withDeployFixture,
} from "./_fixture.ts";

const [NETWORK, APP, MONITORING] = STACK_NAMES as [string, string, string];
const CANARY_ENV = "CANARY-env-token-7f3a9c21-never-log";
const CANARY_KEY = "ASIACANARYDEPLOYKEY99";
const CANARY_SECRET = "CANARY-secret-access-key-b0d4e6f8-never-log";
const CANARY_SESSION = "CANARY-session-token-1a2b3c4d-never-log";
const T0 = new Date(Date.UTC(2026, 10, 25, 12, 0, 0));

/** Mocks STS (the pipeline's own account) and CloudFormation (a scripted fake). */
function mockAws(fake = new FakeCloudFormation()) {
  const sts = mockClient(STSClient);
  sts.on(GetCallerIdentityCommand).resolves({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN });
  const cfn = mockClient(CloudFormationClient);
  cfn.on(DescribeStacksCommand).callsFake((input) => fake.describeStacks(input));
  cfn.on(DescribeStackEventsCommand).callsFake((input) => fake.describeStackEvents(input));
  return {
    sts,
    cfn,
    fake,
    restore() {
      sts.restore();
      cfn.restore();
    },
  };
}

/** Failed events of one operation on the app stack, newest first. */
function appFailureEvents(): ReturnType<typeof stackEvent>[] {
  const at = (s: number) => ({ at: new Date(T0.getTime() + s * 1000) });
  return [
    stackEvent(APP, APP, "UPDATE_ROLLBACK_COMPLETE", "", {
      ...at(9),
      type: "AWS::CloudFormation::Stack",
    }),
    stackEvent(
      APP,
      "Work",
      "UPDATE_FAILED",
      'Resource handler returned message: "Queue quota exceeded"',
      at(5),
    ),
    stackEvent(APP, APP, "UPDATE_IN_PROGRESS", "User Initiated", {
      ...at(1),
      type: "AWS::CloudFormation::Stack",
    }),
    // An older operation: never read.
    stackEvent(APP, "Old", "CREATE_FAILED", "old failure", { ...at(-3600) }),
  ];
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path));
}

Deno.test("deploy: artifacts verified, hooks, synth, 3 stacks in order, outputs everywhere", async () => {
  const aws = mockAws();
  try {
    await withDeployFixture({
      preDeploy: ['echo "pre $CDK_DEFAULT_ACCOUNT $CDK_DEFAULT_REGION $AWS_REGION" > hooks.txt'],
      postDeploy: ["echo post >> hooks.txt"],
    }, async (f) => {
      const outcome = await runDeploy(f.inputs, { ...f.deps, clock: () => T0 });
      assert.equal(outcome.exitCode, 0, f.logs.join("\n"));
      assert.equal(outcome.failure, undefined);
      // Artifacts were downloaded into build.artifacts (dist) and verified.
      for (const [rel, content] of Object.entries(ARTIFACTS)) {
        assert.equal(await Deno.readTextFile(join(f.inputs.workspace, "dist", rel)), content);
      }
      assert.ok(
        f.logs.includes("[deploy] 2 artifact(s) downloaded to dist and verified (SHA-256)"),
      );
      // Hooks ran before and after, with the CDK environment variables.
      assert.equal(
        await Deno.readTextFile(join(f.inputs.workspace, "hooks.txt")),
        "pre 111111111111 us-east-1 us-east-1\npost\n",
      );
      // Synth got the environment's account/region; stacks deployed once each, in order.
      assert.ok(f.logs.includes("[synth] synth for 111111111111/us-east-1 region us-east-1"));
      assert.deepEqual(await f.calls(), ["deploy Network", "deploy App", "deploy Monitoring"]);
      assert.ok(f.logs.some((l) => l.startsWith("[deploy/aphex-fixture-app]  ✅  App")));
      // Outputs from DescribeStacks, per stack.
      const expected = Object.fromEntries(
        STACK_NAMES.map((n) => [n, { [`${n}-Out`]: `value-of-${n}` }]),
      );
      assert.deepEqual(outcome.outputs, expected);
      assert.deepEqual(outcome.notDeployed, []);
      assert.deepEqual(outcome.results.map((r) => [r.stackName, r.success]), [
        [NETWORK, true],
        [APP, true],
        [MONITORING, true],
      ]);
      // Outputs in the store for the test stage.
      const stored = JSON.parse(await readText(f.store, outputsKey(f.sha, "dev")));
      assert.deepEqual(stored, expected);
      assert.equal(outcome.outputsUri, f.store.uriFor(`${f.sha}/outputs/dev.json`));
      assert.equal(await f.store.exists(logKey(f.sha, "deploy-dev")), false);
      // Each DeploymentResult round-trips through the spec codec.
      for (const r of outcome.results) {
        assert.deepEqual(fromJsonText(DeploymentResultCodec, JSON.stringify(r), "r"), r);
      }
    });
  } finally {
    aws.restore();
  }
});

Deno.test("aphex deploy CLI: APHEX_ENV, stack-outputs and result.json; canaries never printed", async () => {
  const aws = mockAws();
  // The prod environment lives in another account: its role is assumed with canary credentials.
  aws.sts.reset();
  aws.sts.on(GetCallerIdentityCommand)
    .resolvesOnce({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN })
    .resolves({ Account: PROD_ACCOUNT, Arn: `arn:aws:sts::${PROD_ACCOUNT}:assumed-role/x/y` });
  aws.sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: CANARY_KEY,
      SecretAccessKey: CANARY_SECRET,
      SessionToken: CANARY_SESSION,
      Expiration: new Date(Date.UTC(2030, 0, 1)),
    },
  });
  try {
    await withDeployFixture({}, async (f) => {
      await checkoutCommit({
        workspace: f.inputs.workspace,
        commitSha: f.sha,
        repoUrl: f.repoUrl,
        allowFileUrls: true,
        env: f.deps.env,
      });
      const env: Record<string, string> = {
        ...f.deps.env,
        APHEX_ENV: "prod",
        APHEX_WORKSPACE: f.inputs.workspace,
        APHEX_COMMIT_SHA: f.sha,
        APHEX_OUTPUTS_DIR: f.inputs.outputsDir,
        APHEX_STORE_DIR: f.inputs.storeDir,
        APHEX_CDK_COMMAND: `bash ${FAKE_CDK}`,
        APHEX_TEST_API_TOKEN: CANARY_ENV,
        APHEX_WORKFLOW_NAME: "aphex-run-1",
      };
      const ctx = captureContext(["deploy", "--json"], { env });
      assert.equal(await main(ctx), 0, ctx.err.join(""));
      const err = ctx.err.join("");
      // The stand-in cdk received the assumed credentials and the canary, and printed them…
      assert.match(err, /\[deploy\/aphex-fixture-app\] App: key \*\*\* secret \*\*\* token \*\*\*/);
      assert.match(err, /aphex-fixture-app\] App: canary \*\*\*/);
      assert.match(err, /\[synth\] synth for 222222222222\/eu-west-1 region eu-west-1/);
      assert.match(err, new RegExp(`acting in account ${PROD_ACCOUNT} as ${PROD_ROLE}`));
      assert.deepEqual(
        aws.sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input.RoleArn,
        PROD_ROLE,
      );
      // …but no canary appears in any captured output, file or stored object.
      const outputs = f.inputs.outputsDir;
      const texts = [
        err,
        ctx.out.join(""),
        await Deno.readTextFile(join(outputs, "stack-outputs")),
        await Deno.readTextFile(join(outputs, "result.json")),
        await readText(f.store, outputsKey(f.sha, "prod")),
        await readText(f.store, stageRecordKey(f.sha, "aphex-run-1", "deploy-prod")),
      ];
      for (const text of texts) {
        for (const canary of [CANARY_ENV, CANARY_KEY, CANARY_SECRET, CANARY_SESSION]) {
          assert.ok(!text.includes(canary), `canary ${canary} leaked`);
        }
      }
      const stackOutputs = await readJson(join(outputs, "stack-outputs"));
      assert.deepEqual(Object.keys(stackOutputs as object), STACK_NAMES);
      assert.equal(await Deno.readTextFile(join(outputs, "success")), "true");
      const result = await readJson(join(outputs, "result.json")) as {
        environment: string;
        results: unknown[];
      };
      assert.equal(result.environment, "prod");
      assert.equal(result.results.length, 3);
      // The stage record for `aphex report` carries the DeploymentResults.
      const record = JSON.parse(texts.at(-1)!);
      assert.equal(record.stage.status, "succeeded");
      assert.equal(record.environment, "prod");
      assert.deepEqual(
        record.deployments.map((d: { stackName: string }) => d.stackName),
        STACK_NAMES,
      );
      const printed = JSON.parse(ctx.out.join(""));
      assert.equal(printed.success, true);
      assert.deepEqual(printed.outputs, stackOutputs);
    });
  } finally {
    aws.restore();
  }
});

Deno.test("deploy: 'no changes' is success and outputs are still captured", async () => {
  const aws = mockAws();
  try {
    await withDeployFixture({}, async (f) => {
      f.deps.env.FAKE_CDK_NO_CHANGES = "1";
      const outcome = await runDeploy(f.inputs, f.deps);
      assert.equal(outcome.exitCode, 0, f.logs.join("\n"));
      assert.deepEqual(Object.keys(outcome.outputs), STACK_NAMES);
      assert.ok(
        f.logs.some((l) => /^\[deploy\] stack aphex-fixture-app had no changes in /.test(l)),
      );
      assert.ok(outcome.results.every((r) => r.success));
    });
  } finally {
    aws.restore();
  }
});

Deno.test("deploy: failure at stack 2 of 3 → events table, stack 3 never deployed, exit 1", async () => {
  const fake = new FakeCloudFormation();
  fake.scripts[APP] = [{ status: "UPDATE_COMPLETE" }, { status: "UPDATE_ROLLBACK_COMPLETE" }];
  fake.events[APP] = appFailureEvents();
  const aws = mockAws(fake);
  try {
    await withDeployFixture({ postDeploy: ["echo post > post.txt"] }, async (f) => {
      f.deps.env.FAKE_CDK_FAIL = "App";
      const outcome = await runDeploy(f.inputs, { ...f.deps, clock: () => T0 });
      assert.equal(outcome.exitCode, 1);
      assert.deepEqual(await f.calls(), ["deploy Network", "deploy App"]);
      assert.deepEqual(outcome.notDeployed, [MONITORING]);
      assert.deepEqual(outcome.results.map((r) => [r.stackName, r.success]), [
        [NETWORK, true],
        [APP, false],
      ]);
      assert.deepEqual(outcome.results[1]!.cloudformationEvents, [{
        timestamp: "2026-11-25T12:00:05.000Z",
        logicalResourceId: "Work",
        resourceType: "AWS::SQS::Queue",
        resourceStatus: "UPDATE_FAILED",
        resourceStatusReason: 'Resource handler returned message: "Queue quota exceeded"',
      }]);
      // The failed-events table was printed.
      const at = f.logs.indexOf(
        "[deploy] stack aphex-fixture-app failed; CloudFormation events of this operation:",
      );
      assert.ok(at >= 0, f.logs.join("\n"));
      assert.match(
        f.logs[at + 1]!,
        /^\[deploy\] {3}TIME \(UTC\)\s+RESOURCE\s+TYPE\s+STATUS\s+REASON$/,
      );
      assert.match(
        f.logs[at + 2]!,
        /12:00:05\s+Work\s+AWS::SQS::Queue\s+UPDATE_FAILED\s+Resource handler/,
      );
      assert.ok(!f.logs.join("\n").includes("old failure"));
      assert.match(
        outcome.failure ?? "",
        /cdk deploy of stack "aphex-fixture-app" failed \(exit 1\)/,
      );
      assert.match(outcome.failure ?? "", /not deployed: aphex-fixture-monitoring/);
      // postDeploy hooks do not run; the partial outputs and the log are stored.
      await assert.rejects(Deno.stat(join(f.inputs.workspace, "post.txt")), Deno.errors.NotFound);
      assert.deepEqual(Object.keys(JSON.parse(await readText(f.store, outputsKey(f.sha, "dev")))), [
        NETWORK,
      ]);
      assert.match(await readText(f.store, logKey(f.sha, "deploy-dev")), /UPDATE_FAILED/);
      assert.equal(outcome.logUri, f.store.uriFor(logKey(f.sha, "deploy-dev")));
    });
  } finally {
    aws.restore();
  }
});

Deno.test("deploy: ROLLBACK_COMPLETE is explained; --recreate-failed deletes and recreates", async (t) => {
  await t.step("without --recreate-failed: stop before deploying it", async () => {
    const fake = new FakeCloudFormation();
    fake.scripts[APP] = [{ status: "ROLLBACK_COMPLETE" }];
    const aws = mockAws(fake);
    try {
      await withDeployFixture({}, async (f) => {
        const outcome = await runDeploy(f.inputs, f.deps);
        assert.equal(outcome.exitCode, 1);
        assert.deepEqual(await f.calls(), ["deploy Network"]);
        assert.match(
          outcome.failure ?? "",
          /stack "aphex-fixture-app" is ROLLBACK_COMPLETE: it never deployed successfully .* must be deleted .* --recreate-failed/,
        );
        assert.deepEqual(outcome.results.map((r) => r.success), [true, false]);
        assert.deepEqual(outcome.notDeployed, [MONITORING]);
        assert.equal(aws.cfn.commandCalls(DeleteStackCommand).length, 0);
      });
    } finally {
      aws.restore();
    }
  });
  await t.step("with --recreate-failed: deleted, then created", async () => {
    const fake = new FakeCloudFormation();
    fake.scripts[APP] = [{ status: "ROLLBACK_COMPLETE" }, "missing", {
      status: "CREATE_COMPLETE",
      outputs: { QueueUrl: "https://sqs/q" },
    }];
    const aws = mockAws(fake);
    aws.cfn.on(DeleteStackCommand).resolves({});
    try {
      await withDeployFixture({}, async (f) => {
        const outcome = await runDeploy({ ...f.inputs, recreateFailed: true }, f.deps);
        assert.equal(outcome.exitCode, 0, f.logs.join("\n"));
        assert.equal(aws.cfn.commandCalls(DeleteStackCommand).length, 1);
        assert.deepEqual(await f.calls(), ["deploy Network", "deploy App", "deploy Monitoring"]);
        assert.deepEqual(outcome.outputs[APP], { QueueUrl: "https://sqs/q" });
        assert.ok(f.logs.includes(`[deploy] deleted failed stack ${APP}; creating it again`));
      });
    } finally {
      aws.restore();
    }
  });
});

Deno.test("deploy: UPDATE_ROLLBACK_FAILED stops and names the failed resources", async () => {
  const fake = new FakeCloudFormation();
  fake.scripts[NETWORK] = [{ status: "UPDATE_ROLLBACK_FAILED" }];
  const at = (s: number) => new Date(T0.getTime() + s * 1000);
  fake.events[NETWORK] = [
    stackEvent(NETWORK, NETWORK, "UPDATE_ROLLBACK_FAILED", "", {
      at: at(9),
      type: "AWS::CloudFormation::Stack",
    }),
    stackEvent(NETWORK, "Events", "UPDATE_FAILED", "Topic policy is locked", {
      at: at(6),
      type: "AWS::SNS::Topic",
    }),
    stackEvent(NETWORK, NETWORK, "UPDATE_IN_PROGRESS", "User Initiated", {
      at: at(1),
      type: "AWS::CloudFormation::Stack",
    }),
  ];
  const aws = mockAws(fake);
  try {
    await withDeployFixture({}, async (f) => {
      const outcome = await runDeploy(f.inputs, f.deps);
      assert.equal(outcome.exitCode, 1);
      assert.deepEqual(await f.calls(), []);
      assert.match(
        outcome.failure ?? "",
        /UPDATE_ROLLBACK_FAILED: CloudFormation could not roll back these resources: Events\..*continue-update-rollback/s,
      );
      assert.match(
        outcome.failure ?? "",
        /Events\s+AWS::SNS::Topic\s+UPDATE_FAILED\s+Topic policy is locked/,
      );
      assert.deepEqual(outcome.notDeployed, [APP, MONITORING]);
      assert.equal(outcome.results[0]!.success, false);
      assert.deepEqual(
        outcome.results[0]!.cloudformationEvents.map((e) => e.logicalResourceId),
        ["Events", NETWORK],
      );
    });
  } finally {
    aws.restore();
  }
});

Deno.test("deploy: throttling then success; throttling exhausted re-reads the status", async (t) => {
  await t.step("throttled twice, then outputs", async () => {
    const fake = new FakeCloudFormation();
    fake.scripts[APP] = [{ status: "UPDATE_COMPLETE" }, "throttle", "throttle", {
      status: "UPDATE_COMPLETE",
      outputs: { QueueUrl: "q" },
    }];
    const aws = mockAws(fake);
    try {
      await withDeployFixture({}, async (f) => {
        const delays: number[] = [];
        const outcome = await runDeploy(f.inputs, {
          ...f.deps,
          retry: { sleep: (ms) => (delays.push(ms), Promise.resolve()), random: () => 0.5 },
        });
        assert.equal(outcome.exitCode, 0, f.logs.join("\n"));
        assert.deepEqual(outcome.outputs[APP], { QueueUrl: "q" });
        assert.equal(fake.describeCalls[APP], 4);
        assert.deepEqual(delays, [250, 500]); // jittered exponential backoff
      });
    } finally {
      aws.restore();
    }
  });
  await t.step("always throttled after the deploy → failure with the re-read status", async () => {
    const fake = new FakeCloudFormation();
    fake.scripts[APP] = [
      { status: "UPDATE_COMPLETE" },
      ...Array<"throttle">(5).fill("throttle"),
      { status: "UPDATE_COMPLETE" },
    ];
    const aws = mockAws(fake);
    try {
      await withDeployFixture({}, async (f) => {
        const outcome = await runDeploy(f.inputs, f.deps);
        assert.equal(outcome.exitCode, 1);
        assert.match(
          outcome.failure ?? "",
          /stack "aphex-fixture-app" was deployed but its outputs could not be read: DescribeStacks\(aphex-fixture-app\) was throttled by AWS 5 times in a row \(Rate exceeded\); stack "aphex-fixture-app": its status is now UPDATE_COMPLETE/,
        );
        assert.deepEqual(await f.calls(), ["deploy Network", "deploy App"]);
        assert.deepEqual(outcome.notDeployed, [MONITORING]);
      });
    } finally {
      aws.restore();
    }
  });
});

Deno.test("deploy: AssumeRole denied → names account and role, fails fast, nothing deployed", async () => {
  const aws = mockAws();
  const denied = new Error(
    `User: ${PIPELINE_ARN} is not authorized to perform: sts:AssumeRole on resource: ${PROD_ROLE}`,
  );
  denied.name = "AccessDenied";
  aws.sts.on(AssumeRoleCommand).rejects(denied);
  try {
    await withDeployFixture({}, async (f) => {
      const started = performance.now();
      const outcome = await runDeploy({ ...f.inputs, environment: "prod" }, f.deps);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 5000, `took ${elapsed} ms`);
      assert.equal(outcome.exitCode, 1);
      assert.match(
        outcome.failure ?? "",
        new RegExp(`cannot assume role ${PROD_ROLE} in account ${PROD_ACCOUNT}`),
      );
      assert.match(outcome.failure ?? "", /AccessDenied/);
      assert.deepEqual(await f.calls(), []);
      assert.deepEqual(outcome.results, []);
      assert.equal(aws.cfn.calls().length, 0);
      assert.equal(await f.store.exists(outputsKey(f.sha, "prod")), false);
    });
  } finally {
    aws.restore();
  }
});

Deno.test("deploy: account mismatch after assuming the role → exit 1 before anything runs", async () => {
  const aws = mockAws();
  aws.sts.reset();
  aws.sts.on(GetCallerIdentityCommand)
    .resolvesOnce({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN })
    .resolves({ Account: "333333333333", Arn: "arn:aws:sts::333333333333:assumed-role/x/y" });
  aws.sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: CANARY_KEY,
      SecretAccessKey: CANARY_SECRET,
      SessionToken: CANARY_SESSION,
      Expiration: new Date(Date.UTC(2030, 0, 1)),
    },
  });
  try {
    await withDeployFixture({ preDeploy: ["touch pre-ran"] }, async (f) => {
      const outcome = await runDeploy({ ...f.inputs, environment: "prod" }, f.deps);
      assert.equal(outcome.exitCode, 1);
      assert.match(
        outcome.failure ?? "",
        /acts in account 333333333333, not the configured account 222222222222; nothing was deployed/,
      );
      assert.deepEqual(await f.calls(), []);
      assert.equal(aws.cfn.calls().length, 0);
      await assert.rejects(Deno.stat(join(f.inputs.workspace, "pre-ran")), Deno.errors.NotFound);
      for (const canary of [CANARY_KEY, CANARY_SECRET, CANARY_SESSION]) {
        assert.ok(!f.logs.join("\n").includes(canary));
      }
    });
  } finally {
    aws.restore();
  }
});

Deno.test("deploy: artifact checksum mismatch or no build → exit 1, nothing deployed", async (t) => {
  const aws = mockAws();
  try {
    await t.step("corrupted artifact", async () => {
      await withDeployFixture({}, async (f) => {
        await f.store.put(artifactKey(f.sha, "nested/config.json"), '{"feature":false}\n');
        const outcome = await runDeploy(f.inputs, f.deps);
        assert.equal(outcome.exitCode, 1);
        assert.match(
          outcome.failure ?? "",
          /1 of 2 artifact\(s\) of [0-9a-f]{40} failed verification; nothing was deployed:\n {2}nested\/config\.json: SHA-256 mismatch/,
        );
        // The bad file is not left in the workspace; nothing else happened.
        await assert.rejects(
          Deno.stat(join(f.inputs.workspace, "dist", "nested", "config.json")),
          Deno.errors.NotFound,
        );
        assert.deepEqual(await f.calls(), []);
        assert.equal(aws.sts.calls().length, 0);
        assert.equal(aws.cfn.calls().length, 0);
      });
    });
    await t.step("no metadata.json", async () => {
      await withDeployFixture({ publish: false }, async (f) => {
        const outcome = await runDeploy(f.inputs, f.deps);
        assert.equal(outcome.exitCode, 1);
        assert.match(
          outcome.failure ?? "",
          new RegExp(`^no complete build for ${f.sha}: .*metadata\\.json not found`),
        );
        assert.equal(await f.store.exists(metadataKey(f.sha)), false);
        assert.deepEqual(await f.calls(), []);
        assert.equal(aws.sts.calls().length, 0);
      });
    });
  } finally {
    aws.restore();
  }
});

Deno.test("deploy: configuration errors exit 2 (no env, unknown env, missing stack)", async () => {
  const aws = mockAws();
  try {
    await withDeployFixture({ devStacks: [NETWORK, "aphex-fixture-db"] }, async (f) => {
      await checkoutCommit({
        workspace: f.inputs.workspace,
        commitSha: f.sha,
        repoUrl: f.repoUrl,
        allowFileUrls: true,
        env: f.deps.env,
      });
      const env = {
        ...f.deps.env,
        APHEX_WORKSPACE: f.inputs.workspace,
        APHEX_COMMIT_SHA: f.sha,
        APHEX_OUTPUTS_DIR: f.inputs.outputsDir,
      };
      const none = captureContext(["deploy"], { env });
      assert.equal(await main(none), 2);
      assert.match(
        none.err.join(""),
        /--env \(or APHEX_ENV\) is required; valid environments: dev, prod/,
      );
      assert.equal(await Deno.readTextFile(join(f.inputs.outputsDir, "exit-code")), "2");
      const unknown = captureContext(["deploy", "--env", "staging"], { env });
      assert.equal(await main(unknown), 2);
      assert.match(
        unknown.err.join(""),
        /environment "staging" is not in the configuration; valid environments: dev, prod/,
      );

      await assert.rejects(runDeploy(f.inputs, f.deps), (e: unknown) => {
        assert.ok(e instanceof AphexError);
        assert.equal(e.exitCode, 2);
        assert.match(
          e.message,
          /"aphex-fixture-db" \(environment dev\) not found in the CDK app; stacks it defines: aphex-fixture-network \(Network\), aphex-fixture-app \(App\)/,
        );
        return true;
      });
      assert.deepEqual(await f.calls(), []);
    });
  } finally {
    aws.restore();
  }
});

Deno.test("selectEnvironment and childEnvironment", () => {
  const config = parseConfigOrThrow(configYaml());
  assert.equal(selectEnvironment(config, "prod").account, PROD_ACCOUNT);
  assert.throws(() => selectEnvironment(config, undefined), /valid environments: dev, prod/);
  const env = childEnvironment(
    {
      PATH: "/bin",
      AWS_PROFILE: "dev",
      APHEX_GITHUB_TOKEN: "ghp_secret",
      AWS_SESSION_TOKEN: "old",
      UNSET: undefined,
    },
    { name: "prod", account: PROD_ACCOUNT, region: "eu-west-1" },
    {
      commitSha: "a".repeat(40),
      workspace: "/ws",
      credentials: {
        account: PROD_ACCOUNT,
        callerAccount: PIPELINE_ACCOUNT,
        callerArn: PIPELINE_ARN,
        credentials: { accessKeyId: "K", secretAccessKey: "S", sessionToken: "T" },
        env: { AWS_ACCESS_KEY_ID: "K", AWS_SECRET_ACCESS_KEY: "S", AWS_SESSION_TOKEN: "T" },
        secrets: ["S", "T", "K"],
      },
    },
  );
  assert.deepEqual(env, {
    PATH: "/bin",
    AWS_ACCESS_KEY_ID: "K",
    AWS_SECRET_ACCESS_KEY: "S",
    AWS_SESSION_TOKEN: "T",
    CDK_DEFAULT_ACCOUNT: PROD_ACCOUNT,
    CDK_DEFAULT_REGION: "eu-west-1",
    AWS_REGION: "eu-west-1",
    AWS_DEFAULT_REGION: "eu-west-1",
    APHEX_ENV: "prod",
    APHEX_COMMIT_SHA: "a".repeat(40),
    APHEX_WORKSPACE: "/ws",
  });
});
