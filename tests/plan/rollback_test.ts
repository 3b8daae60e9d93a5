/**
 * Stored assemblies, last good and rollback against the stand-ins: a reviewed deploy whose tests
 * pass records the environment's last good commit; after a newer commit's tests fail, the stored
 * assembly of the last good commit is planned and executed by change-set id without synthesizing
 * (the stand-in CDK CLI's synth is made to fail), the tests are re-run, and a stack only the newer
 * version has is reported, not deleted. A first deploy has nothing to roll back to.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CloudFormationClient,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
} from "@aws-sdk/client-cloudformation";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { planKey, readText } from "../../adapters/store/artifact_store.ts";
import {
  assembliesKey,
  lastGoodKey,
  readLastGood,
  type StoredAssemblies,
} from "../../adapters/store/assemblies.ts";
import { runRollback } from "../../cli/rollback.ts";
import { spec as rollbackSpec } from "../../cli/rollback_spec.ts";
import { captureContext, parseCommandArgs } from "../../command/contract.ts";
import { resolveStageInputs } from "../../command/stage_runtime.ts";
import { parseConfigOrThrow } from "../../models/config_parse.ts";
import { buildWorkflowTemplate, WORKSPACE_PATH } from "../../templates/workflow_template.ts";
import { argoPod } from "../_argo_pod.ts";
import type { EnvironmentPlan } from "../../models/plan.ts";
import { changeSetName, runPlan } from "../../stages/plan.ts";
import { runDeploy } from "../../stages/deploy.ts";
import { runTests } from "../../stages/test.ts";
import { testGitEnv } from "../stages/_git_repo.ts";
import {
  configYaml,
  FakeCloudFormation,
  PIPELINE_ACCOUNT,
  PIPELINE_ARN,
  STACK_NAMES,
  withDeployFixture,
} from "../deploy/_fixture.ts";

const [, APP] = STACK_NAMES as [string, string, string];
const TESTS = ['tests: { commands: ["echo all good"] }', "rollback: { onTestFailure: true }"];

/** Commits a newer version (one more stack in dev) to the fixture repository; returns its SHA. */
async function commitNewer(f: { root: string; repoUrl: string }): Promise<string> {
  const dir = f.repoUrl.replace(/^file:\/\//, "");
  await Deno.writeTextFile(
    join(dir, "aphex-config.yaml"),
    configYaml({ devExtra: TESTS, devStacks: [...STACK_NAMES, "aphex-fixture-extra"] }),
  );
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd: dir, env: testGitEnv(f.root) })
      .output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim();
  };
  await git("commit", "--quiet", "-am", "newer");
  return await git("rev-parse", "HEAD");
}

function mockAws(sha: string) {
  const fake = new FakeCloudFormation();
  const sts = mockClient(STSClient);
  sts.on(GetCallerIdentityCommand).resolves({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN });
  const cfn = mockClient(CloudFormationClient);
  cfn.on(DescribeStacksCommand).callsFake((input) => fake.describeStacks(input));
  cfn.on(GetTemplateCommand).resolves({ TemplateBody: "{}" });
  const name = changeSetName("dev", sha);
  const id = (stack: string) => `arn:cs/${name}/${stack}`;
  cfn.on(DescribeChangeSetCommand).callsFake((input) => {
    const stack = input.StackName!;
    const base = { ChangeSetName: name, StackName: stack, ChangeSetId: id(stack) };
    return Promise.resolve(
      stack === APP
        ? {
          ...base,
          Status: "CREATE_COMPLETE",
          ExecutionStatus: "AVAILABLE",
          Changes: [{
            Type: "Resource",
            ResourceChange: { Action: "Modify", LogicalResourceId: "Work", ResourceType: "T" },
          }],
        }
        : { ...base, Status: "FAILED", StatusReason: "didn't contain changes" },
    );
  });
  cfn.on(DeleteChangeSetCommand).resolves({});
  cfn.on(ExecuteChangeSetCommand).resolves({});
  return { cfn, id, restore: () => (sts.restore(), cfn.restore()) };
}

async function templates(f: { root: string; deps: { env: Record<string, string> } }) {
  const dir = join(f.root, "templates");
  await Deno.mkdir(dir, { recursive: true });
  for (const id of ["Network", "App", "Monitoring"]) {
    await Deno.writeTextFile(join(dir, `${id}.template.json`), "{}");
  }
  f.deps.env.FAKE_CDK_TEMPLATES = dir;
}

Deno.test("rollback: last good after tests pass; failing tests → stored assembly redeployed by change-set id without synth, tests re-run, newer-only stack reported", async () => {
  await withDeployFixture({ devExtra: TESTS }, async (f) => {
    await templates(f);
    const aws = mockAws(f.sha);
    try {
      // The good version: plan (stores the assembly), execute, tests pass → last good.
      assert.equal((await runPlan(f.inputs, f.deps)).exitCode, 0);
      const stored = JSON.parse(
        await readText(f.store, assembliesKey(f.sha, "dev")),
      ) as StoredAssemblies;
      assert.deepEqual(stored.assemblies[0]!.files.map((x) => x.path), [
        "App.template.json",
        "Monitoring.template.json",
        "Network.template.json",
        "manifest.json",
      ]);
      assert.match(stored.assemblies[0]!.files[0]!.sha256, /^[0-9a-f]{64}$/);
      assert.equal((await runDeploy({ ...f.inputs, fromPlan: true }, f.deps)).exitCode, 0);
      assert.equal(await f.store.exists(lastGoodKey("dev")), false, "not before the tests");
      const tested = await runTests(f.inputs, f.deps);
      assert.equal(tested.exitCode, 0, tested.failure ?? "");
      const good = await readLastGood(f.store, "dev");
      assert.equal(good?.sha, f.sha);
      assert.deepEqual(good?.stacks, STACK_NAMES);

      // A newer commit added a stack and its tests failed.
      const NEWER = await commitNewer(f);
      const newerPlan: EnvironmentPlan = {
        version: 1,
        environment: "dev",
        commitSha: NEWER,
        createdAt: new Date().toISOString(),
        stacks: [...STACK_NAMES, "aphex-fixture-extra"].map((stackName) => ({
          stackName,
          status: "no-op",
          newStack: false,
          changes: [],
          broadening: [],
        })),
      };
      await f.store.put(planKey(NEWER, "dev"), JSON.stringify(newerPlan));
      f.deps.env.FAKE_CDK_SYNTH_FAIL = "1"; // a rollback never synthesizes
      const before = (await f.calls()).length;
      aws.cfn.resetHistory();

      const outcome = await runRollback({
        base: { ...f.inputs, commitSha: NEWER },
        environment: "dev",
        approve: false,
        afterTestFailure: true,
      }, { ...f.deps, store: f.store });
      assert.equal(outcome.exitCode, 1, "the run failed");
      assert.equal(
        outcome.message,
        `tests of ${NEWER} failed in dev: rolled back to ${f.sha}; the tests of ${f.sha} pass again`,
      );
      assert.deepEqual(outcome.onlyNewer, ["aphex-fixture-extra"]);
      assert.equal(outcome.testsPassed, true);
      assert.deepEqual((await f.calls()).slice(before).map((c) => c.split(" ")[0]), [
        "prepare",
        "prepare",
        "prepare",
      ]);
      assert.deepEqual(
        aws.cfn.commandCalls(ExecuteChangeSetCommand).map((c) => c.args[0].input.ChangeSetName),
        [aws.id(APP)],
      );
      assert.deepEqual(aws.cfn.commandCalls(DeleteStackCommand), [], "nothing is deleted");
      assert.match(
        f.logs.join("\n"),
        /only in the newer version, left as they are \(not deleted\): aphex-fixture-extra/,
      );
    } finally {
      aws.restore();
    }
  });
});

Deno.test("rollback: a first deploy has no last good → clear message, nothing touched", async () => {
  await withDeployFixture({ devExtra: TESTS }, async (f) => {
    const aws = mockAws(f.sha);
    try {
      const outcome = await runRollback({
        base: f.inputs,
        environment: "dev",
        approve: false,
        afterTestFailure: true,
      }, { ...f.deps, store: f.store });
      assert.equal(outcome.exitCode, 1);
      assert.equal(
        outcome.message,
        "no last good deployment of dev (first deploy?): nothing to roll back to; its stacks are " +
          "left as they are",
      );
      assert.deepEqual(await f.calls(), []);
      assert.deepEqual(aws.cfn.calls(), []);
    } finally {
      aws.restore();
    }
  });
});

Deno.test("rollback after failed tests is off unless the commit's config sets rollback.onTestFailure", async () => {
  await withDeployFixture({ devExtra: [TESTS[0]!] }, async (f) => {
    const aws = mockAws(f.sha);
    try {
      const outcome = await runRollback({
        base: f.inputs,
        environment: "dev",
        approve: true,
        afterTestFailure: true,
      }, { ...f.deps, store: f.store });
      assert.equal(outcome.exitCode, 1);
      assert.match(outcome.message, /automatic rollback is off \(rollback\.onTestFailure\)/);
      assert.deepEqual(aws.cfn.calls(), []);
    } finally {
      aws.restore();
    }
  });
});

Deno.test("rollback --to a commit without a stored assembly fails naming it", async () => {
  await withDeployFixture({}, async (f) => {
    await templates(f);
    const aws = mockAws(f.sha);
    try {
      const outcome = await runRollback({
        base: f.inputs,
        environment: "dev",
        to: f.sha,
        approve: false,
        afterTestFailure: false,
      }, { ...f.deps, store: f.store });
      assert.equal(outcome.exitCode, 1);
      assert.match(outcome.message, /no stored cloud assembly of dev at [0-9a-f]{40}/);
      assert.deepEqual(aws.cfn.commandCalls(ExecuteChangeSetCommand), []);
    } finally {
      aws.restore();
    }
  });
});

Deno.test("rollback step from the generated template: test-dev's rollback pod runs `aphex rollback --after-test-failure` for dev", async () => {
  await withDeployFixture({ devExtra: TESTS }, async (f) => {
    const wt = buildWorkflowTemplate(parseConfigOrThrow(configYaml({ devExtra: TESTS })));
    const pod = argoPod(wt, "rollback", {
      parameters: { "commit-sha": f.sha, ref: "refs/heads/main" },
      name: "shop-abc12",
      createdAt: new Date(),
    }, { within: "test-dev", mounts: { [WORKSPACE_PATH]: f.inputs.workspace } });
    assert.deepEqual(pod.argv, ["aphex", "rollback"]);
    const ctx = captureContext(pod.argv.slice(2), {
      env: { ...pod.env, APHEX_STORE_DIR: f.inputs.storeDir },
    });
    const { values } = parseCommandArgs(rollbackSpec, ctx);
    assert.equal(values["after-test-failure"], true);
    assert.equal(values.env, "dev");
    assert.equal(values["commit-sha"], f.sha);
    const aws = mockAws(f.sha);
    try {
      const outcome = await runRollback({
        base: { ...resolveStageInputs(values, ctx), repoUrl: f.repoUrl },
        environment: String(values.env),
        approve: true,
        afterTestFailure: values["after-test-failure"] === true,
      }, { ...f.deps, store: f.store });
      assert.equal(outcome.exitCode, 1);
      assert.match(outcome.message, /^no last good deployment of dev \(first deploy\?\)/);
    } finally {
      aws.restore();
    }
  });
});
