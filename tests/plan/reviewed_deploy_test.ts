/**
 * The review gate end to end, driven from the generated WorkflowTemplate: `deploy-dev`'s DAG runs
 * `plan` (argv/env as Argo builds them with tests/_argo_pod.ts), the gate's `when` is evaluated on
 * the plan's output parameter, then `execute` runs `aphex deploy` with `APHEX_FROM_PLAN`: exactly
 * the planned change-set ids are executed, no-op stacks are left alone, and a change set made
 * obsolete by a later stack update is refused (exit 1, named).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CloudFormationClient,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
} from "@aws-sdk/client-cloudformation";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { captureContext, parseCommandArgs } from "../../command/contract.ts";
import { resolveStageInputs } from "../../command/stage_runtime.ts";
import { parseConfigOrThrow } from "../../models/config_parse.ts";
import {
  buildWorkflowTemplate,
  STAGE_OUTPUTS_DIR,
  WORKSPACE_PATH,
} from "../../templates/workflow_template.ts";
import { changeSetName, runPlan, writePlanOutputs } from "../../stages/plan.ts";
import { spec as planSpec } from "../../stages/plan_spec.ts";
import { runDeploy } from "../../stages/deploy.ts";
import { spec as deploySpec } from "../../stages/deploy_spec.ts";
import { argoPod } from "../_argo_pod.ts";
import {
  configYaml,
  FakeCloudFormation,
  PIPELINE_ACCOUNT,
  PIPELINE_ARN,
  STACK_NAMES,
  withDeployFixture,
} from "../deploy/_fixture.ts";

const [NETWORK, APP, MONITORING] = STACK_NAMES as [string, string, string];
const REVIEW = ["review: { approve: on-risk }"];

/** CloudFormation stand-in: App's change set replaces a queue; the others are empty. */
function mockAws(sha: string, options: { appExecution?: string; allEmpty?: boolean } = {}) {
  const fake = new FakeCloudFormation();
  const sts = mockClient(STSClient);
  sts.on(GetCallerIdentityCommand).resolves({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN });
  const cfn = mockClient(CloudFormationClient);
  cfn.on(DescribeStacksCommand).callsFake((input) => fake.describeStacks(input));
  cfn.on(GetTemplateCommand).resolves({ TemplateBody: "{}" });
  const name = changeSetName("dev", sha);
  const id = (stack: string) => `arn:aws:cloudformation:us-east-1:1:changeSet/${name}/${stack}-id`;
  cfn.on(DescribeChangeSetCommand).callsFake((input) => {
    const stack = input.StackName!;
    const base = { ChangeSetName: name, StackName: stack, ChangeSetId: id(stack) };
    if (stack !== APP || options.allEmpty) {
      return Promise.resolve({
        ...base,
        Status: "FAILED",
        StatusReason: "The submitted information didn't contain changes.",
        ExecutionStatus: "UNAVAILABLE",
      });
    }
    return Promise.resolve({
      ...base,
      Status: "CREATE_COMPLETE",
      ExecutionStatus: options.appExecution ?? "AVAILABLE",
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
  });
  cfn.on(DeleteChangeSetCommand).resolves({});
  cfn.on(ExecuteChangeSetCommand).resolves({});
  return { cfn, id, restore: () => (sts.restore(), cfn.restore()) };
}

/** Synthesized templates for the stand-in CDK CLI (empty: broadening is tested elsewhere). */
async function templates(f: { root: string; deps: { env: Record<string, string> } }) {
  const dir = join(f.root, "templates");
  await Deno.mkdir(dir, { recursive: true });
  for (const id of ["Network", "App", "Monitoring"]) {
    await Deno.writeTextFile(join(dir, `${id}.template.json`), "{}");
  }
  f.deps.env.FAKE_CDK_TEMPLATES = dir;
}

const RUN = (sha: string) => ({
  parameters: { "commit-sha": sha, ref: "refs/heads/main" },
  name: "shop-abc12",
  createdAt: new Date(),
});

/** What Argo hands the pod of `step` inside deploy-dev, parsed by the stage's own option table. */
function podInputs(
  f: { sha: string; root: string; inputs: { workspace: string; storeDir: string } },
  step: "plan" | "execute",
) {
  const wt = buildWorkflowTemplate(parseConfigOrThrow(configYaml({ devExtra: REVIEW })));
  const outputs = join(f.root, `outputs-${step}`);
  const pod = argoPod(wt, step, RUN(f.sha), {
    within: "deploy-dev",
    mounts: { [WORKSPACE_PATH]: f.inputs.workspace, [STAGE_OUTPUTS_DIR]: outputs },
  });
  assert.deepEqual(pod.argv, ["aphex", step === "plan" ? "plan" : "deploy"]);
  const ctx = captureContext(pod.argv.slice(2), {
    env: { ...pod.env, APHEX_STORE_DIR: f.inputs.storeDir },
  });
  const { values } = parseCommandArgs(step === "plan" ? planSpec : deploySpec, ctx);
  const inputs = resolveStageInputs(values, ctx);
  return { wt, pod, values, inputs: { ...inputs, repoUrl: "", outputsDir: outputs } };
}

Deno.test("gate: plan from the generated template → approve only when risky → execute exactly the planned change-set ids", async () => {
  await withDeployFixture({ devExtra: REVIEW }, async (f) => {
    await templates(f);
    const aws = mockAws(f.sha);
    try {
      const plan = podInputs(f, "plan");
      assert.equal(plan.pod.env.APHEX_ENV, "dev");
      const planned = await runPlan(
        { ...plan.inputs, repoUrl: f.repoUrl, environment: String(plan.values.env) },
        f.deps,
      );
      assert.equal(planned.exitCode, 0, planned.failure ?? "");
      await Deno.mkdir(plan.inputs.outputsDir, { recursive: true });
      await writePlanOutputs(plan.inputs.outputsDir, planned);
      // The gate's `when`, with the plan's output parameter substituted as Argo does.
      const deployDag = plan.wt.spec.templates.find((t) => t.name === "deploy")!.dag!;
      const when = deployDag.tasks.find((t) => t.name === "approve")!.when!;
      const approve = await Deno.readTextFile(join(plan.inputs.outputsDir, "approve"));
      assert.equal(
        when.replace("{{tasks.plan.outputs.parameters.approve}}", approve),
        "true == true",
        "a replacement is risky: the run suspends",
      );
      assert.match(
        await Deno.readTextFile(join(plan.inputs.outputsDir, "risks")),
        /^replacement: aphex-fixture-app: Work \(AWS::SQS::Queue\) replaced$/,
      );

      const execute = podInputs(f, "execute");
      assert.equal(execute.pod.env.APHEX_FROM_PLAN, "true");
      assert.equal(execute.values["from-plan"], true);
      const deployed = await runDeploy(
        {
          ...execute.inputs,
          repoUrl: f.repoUrl,
          environment: String(execute.values.env),
          fromPlan: true,
        },
        f.deps,
      );
      assert.equal(deployed.exitCode, 0, deployed.failure ?? "");
      // Exactly the reviewed change set, by id; no cdk deploy, no synth of its own.
      const executed = aws.cfn.commandCalls(ExecuteChangeSetCommand).map((c) => c.args[0].input);
      assert.deepEqual(executed, [{ StackName: APP, ChangeSetName: aws.id(APP) }]);
      assert.deepEqual((await f.calls()).filter((c) => c.startsWith("deploy")), []);
      assert.deepEqual(deployed.results.map((r) => [r.stackName, r.success]), [
        [NETWORK, true],
        [APP, true],
        [MONITORING, true],
      ]);
    } finally {
      aws.restore();
    }
  });
});

Deno.test("gate: a stack changed since the plan → its change set is refused (exit 1, named), nothing executed", async () => {
  await withDeployFixture({ devExtra: REVIEW }, async (f) => {
    await templates(f);
    let aws = mockAws(f.sha);
    try {
      assert.equal((await runPlan(f.inputs, f.deps)).exitCode, 0);
    } finally {
      aws.restore();
    }
    // Someone updated the app stack after the plan: CloudFormation marks the change set OBSOLETE.
    aws = mockAws(f.sha, { appExecution: "OBSOLETE" });
    try {
      const outcome = await runDeploy({ ...f.inputs, fromPlan: true }, f.deps);
      assert.equal(outcome.exitCode, 1);
      assert.match(
        outcome.failure ?? "",
        /stack "aphex-fixture-app" changed since the plan: its reviewed change set aphex-dev-\w+ is CREATE_COMPLETE\/OBSOLETE; run the plan again/,
      );
      assert.deepEqual(aws.cfn.commandCalls(ExecuteChangeSetCommand), []);
      assert.deepEqual(outcome.notDeployed, [MONITORING]);
    } finally {
      aws.restore();
    }
  });
});

Deno.test("gate: a no-op plan never suspends and deploys nothing; without a plan deploy refuses", async () => {
  await withDeployFixture({ devExtra: ["review: { approve: always }"] }, async (f) => {
    await templates(f);
    const aws = mockAws(f.sha, { allEmpty: true });
    try {
      const missing = await runDeploy({ ...f.inputs, fromPlan: true }, f.deps);
      assert.equal(missing.exitCode, 1);
      assert.match(
        missing.failure ?? "",
        /no plan for dev at .*: run `aphex plan --env dev` first/,
      );
      const planned = await runPlan(f.inputs, f.deps);
      assert.equal(planned.approve, false, "approve: always still skips a no-op plan");
      assert.equal(planned.summary, "no changes in 3 stack(s)");
      const outcome = await runDeploy({ ...f.inputs, fromPlan: true }, f.deps);
      assert.equal(outcome.exitCode, 0, outcome.failure ?? "");
      assert.deepEqual(aws.cfn.commandCalls(ExecuteChangeSetCommand), []);
    } finally {
      aws.restore();
    }
  });
});
