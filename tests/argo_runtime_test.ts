/**
 * The report steps as Argo really runs them: argv and env taken from the **generated**
 * WorkflowTemplate of the example config and substituted as the controller does
 * (`tests/_argo_pod.ts`), then the real `aphex` command, against s3rver and a loopback GitHub.
 * Only what a pod's surroundings add is added to the env (endpoints of the stand-ins, test
 * credentials); nothing the template sets is overridden.
 */
import assert from "node:assert/strict";
import { captureContext } from "../command/contract.ts";
import { main } from "../cli/main.ts";
import { loadConfigFile } from "../command/config_file.ts";
import { fromJsonText } from "../models/_codec.ts";
import { WorkflowMetadataCodec } from "../models/metadata.ts";
import { readText } from "../adapters/store/artifact_store.ts";
import { recordStageEnd, recordStageStart } from "../adapters/store/stage_records.ts";
import { buildMetrics } from "../adapters/monitoring/cloudwatch.ts";
import { buildWorkflowTemplate, INNER_STEP_NAMES } from "../templates/workflow_template.ts";
import { type ArgoPod, argoPod, type ArgoRun } from "./_argo_pod.ts";
import { closedPortUrl, SHA, startLoopback } from "./monitoring/_helpers.ts";
import { type LocalS3, startLocalS3 } from "./stages/_s3rver.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CONFIG = await loadConfigFile("aphex-config.yaml", { cwd: ROOT });
const WT = buildWorkflowTemplate(CONFIG);
const WORKFLOW = "webshop-0123456789ab";
// Stage records are stamped with the real clock: the run started before them, Argo's failures
// come after them.
const CREATED = new Date(Date.now() - 3_600_000);
const LATER = new Date(Date.now() + 60_000);
const TOKEN = "ghp_argoRuntimeTestToken0123456789";

function run(overrides: Partial<ArgoRun> = {}): ArgoRun {
  return {
    parameters: { "commit-sha": SHA, ref: "refs/heads/main" },
    name: WORKFLOW,
    createdAt: CREATED,
    secrets: { "github-token": { token: TOKEN } },
    ...overrides,
  };
}

/** The pod's env plus what its surroundings add; refuses to override a template value. */
function podEnv(pod: ArgoPod, surroundings: Record<string, string>): Record<string, string> {
  for (const key of Object.keys(surroundings)) {
    assert.ok(!(key in pod.env), `the test must not override ${key}, which the template sets`);
  }
  return { ...pod.env, ...surroundings };
}

/** Runs the pod's argv (`aphex <stage> …`) in process. */
async function exec(pod: ArgoPod, env: Record<string, string>) {
  assert.equal(pod.argv[0], "aphex");
  const ctx = captureContext(pod.argv.slice(1), { env, cwd: ROOT });
  const code = await main(ctx);
  return { code, out: ctx.out.join(""), err: ctx.err.join("") };
}

async function stubs(s3: LocalS3, github: { url: string }): Promise<Record<string, string>> {
  return {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_SNS: await closedPortUrl(),
    APHEX_S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    AWS_MAX_ATTEMPTS: "1",
    APHEX_SKIP_CLOUDWATCH: "true",
    APHEX_GITHUB_API_URL: github.url,
  };
}

const statusBodies = (server: { requests: { body: string }[] }) =>
  server.requests.map((r) =>
    JSON.parse(r.body) as { context: string; state: string; description: string }
  );

Deno.test("report-start as Argo runs it: no onExit-only variable, exit 0, pending statuses", async () => {
  const github = startLoopback(() => 201);
  try {
    // argoPod throws "failed to resolve {{workflow.failures}}" where Argo's validation would.
    const pod = argoPod(WT, "report-start", run());
    assert.ok(!("APHEX_WORKFLOW_STATUS" in pod.env), "workflow.status is Running here");
    const r = await exec(pod, podEnv(pod, { APHEX_GITHUB_API_URL: github.url }));
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      statusBodies(github).map((s) => [s.context, s.state]),
      [["aphex/pipeline", "pending"], ["aphex/dev", "pending"], ["aphex/staging", "pending"], [
        "aphex/prod",
        "pending",
      ]],
    );
  } finally {
    await github.close();
  }
});

Deno.test("exit report decodes workflow.failures in Argo's Go-quoted form: a deploy pod that never ran is a failed stage", async () => {
  const s3 = await startLocalS3(CONFIG.pipeline.artifactBucket!);
  const github = startLoopback(() => 201);
  const store = await s3.store();
  try {
    const target = { commitSha: SHA, workflow: WORKFLOW };
    for (const stage of ["build", "pipeline-update"]) {
      await recordStageEnd(store, await recordStageStart(store, { ...target, stage }), {
        status: "succeeded",
      });
    }
    const message = 'pod deleted: "node <ip-10-0-0-1> & co" drained\nretry budget exhausted';
    const pod = argoPod(
      WT,
      "report",
      run({
        exit: {
          status: "Failed",
          failures: [
            {
              displayName: "deploy-dev",
              message,
              templateName: "deploy",
              phase: "Error",
              podName: `${WORKFLOW}-deploy-123`,
              finishedAt: LATER,
            },
            {
              displayName: "environments",
              message: "child 'x' failed",
              templateName: "environments",
              phase: "Failed",
              podName: WORKFLOW,
              finishedAt: LATER,
            },
          ],
        },
      }),
    );
    // What the pod really receives: a JSON string holding the array, HTML characters escaped.
    assert.ok(pod.env.APHEX_WORKFLOW_FAILURES!.startsWith('"[{\\"displayName\\":\\"deploy-dev\\"'));
    assert.ok(pod.env.APHEX_WORKFLOW_FAILURES!.includes("\\\\u003cip-10-0-0-1\\\\u003e"));
    const r = await exec(pod, podEnv(pod, await stubs(s3, github)));
    assert.equal(r.code, 0, r.err);
    assert.ok(!r.err.includes("ignoring workflow failures"), r.err);
    const record = fromJsonText(
      WorkflowMetadataCodec,
      await readText(store, `${SHA}/runs/${WORKFLOW}.json`),
      "run",
    );
    assert.equal(record.status, "failed");
    assert.deepEqual(
      record.stages.map((s) => [s.stageName, s.status, s.errorMessage]),
      [["build", "succeeded", null], ["pipeline-update", "succeeded", null], [
        "deploy-dev",
        "failed",
        message,
      ]],
    );
    const byContext = new Map(statusBodies(github).map((s) => [s.context, s] as const));
    assert.equal(byContext.get("aphex/pipeline")?.state, "failure");
    assert.match(byContext.get("aphex/pipeline")!.description, /failed at deploy-dev/);
    assert.equal(byContext.get("aphex/dev")?.state, "failure"); // was "error": failures dropped
    assert.equal(byContext.get("aphex/staging")?.state, "error");
  } finally {
    store.close();
    await github.close();
    await s3.stop();
  }
});

Deno.test("a run superseded by pipeline-update is recorded, shown and reported as superseded", async () => {
  const s3 = await startLocalS3(CONFIG.pipeline.artifactBucket!);
  const github = startLoopback(() => 201);
  const store = await s3.store();
  try {
    const target = { commitSha: SHA, workflow: WORKFLOW };
    await recordStageEnd(store, await recordStageStart(store, { ...target, stage: "build" }), {
      status: "succeeded",
    });
    const update = await recordStageStart(store, { ...target, stage: "pipeline-update" });
    await recordStageEnd(store, update, {
      status: "succeeded",
      supersededBy: `${WORKFLOW}-r1`,
    });
    // The environments DAG was skipped by its `when`: Argo ends the run Succeeded.
    const pod = argoPod(WT, "report", run({ exit: { status: "Succeeded", failures: [] } }));
    assert.equal(pod.env.APHEX_WORKFLOW_FAILURES, '"[]"');
    const env = podEnv(pod, await stubs(s3, github));
    const r = await exec(pod, env);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, new RegExp(`workflow ${WORKFLOW} superseded by ${WORKFLOW}-r1`));
    const record = fromJsonText(
      WorkflowMetadataCodec,
      await readText(store, `${SHA}/runs/${WORKFLOW}.json`),
      "run",
    );
    assert.equal(record.status, "superseded");
    // Never success or failure: one pending pipeline status naming the run that carries on.
    assert.deepEqual(statusBodies(github).map((s) => [s.context, s.state, s.description]), [[
      "aphex/pipeline",
      "pending",
      `Superseded by ${WORKFLOW}-r1 (new pipeline topology)`,
    ]]);
    // No onSuccess notification (SNS would have been tried and logged as a problem).
    assert.ok(!/sns/i.test(r.err), r.err);
    // Metrics carry their own status dimension.
    const duration = buildMetrics(record).find((m) => m.name === "WorkflowDuration")!;
    assert.deepEqual(duration.dimensions, [["Status", "Superseded"]]);
    // aphex history shows it as superseded.
    const history = captureContext(
      ["history", "--artifact-bucket", CONFIG.pipeline.artifactBucket!, "--json"],
      { env, cwd: ROOT },
    );
    assert.equal(await main(history), 0, history.err.join(""));
    assert.match(history.out.join(""), /"status":\s*"superseded"/);
  } finally {
    store.close();
    await github.close();
    await s3.stop();
  }
});

Deno.test("a step inside deploy-<env>'s DAG that never ran is reported on deploy-<env>, not as a stage of its own", async () => {
  const s3 = await startLocalS3(CONFIG.pipeline.artifactBucket!);
  const github = startLoopback(() => 201);
  const store = await s3.store();
  try {
    const target = { commitSha: SHA, workflow: WORKFLOW };
    for (const stage of ["preflight", "build", "pipeline-update"]) {
      await recordStageEnd(store, await recordStageStart(store, { ...target, stage }), {
        status: "succeeded",
      });
    }
    const node = (displayName: string, templateName: string, message: string) => ({
      displayName,
      message,
      templateName,
      phase: "Failed",
      podName: `${WORKFLOW}-${templateName}-1`,
      finishedAt: LATER,
    });
    // As Argo lists them: the pod that never started by its task name, and the DAG nodes around it.
    const pod = argoPod(
      WT,
      "report",
      run({
        exit: {
          status: "Failed",
          failures: [
            node("execute", "execute", "ImagePullBackOff: image not found"),
            node("deploy-dev", "deploy", "child 'webshop-0123456789ab-123' failed"),
            node("environments", "environments", "child 'webshop-0123456789ab-456' failed"),
          ],
        },
      }),
    );
    const r = await exec(pod, podEnv(pod, await stubs(s3, github)));
    assert.equal(r.code, 0, r.err);
    const record = fromJsonText(
      WorkflowMetadataCodec,
      await readText(store, `${SHA}/runs/${WORKFLOW}.json`),
      "run",
    );
    const failedStages = record.stages.filter((s) => s.status === "failed");
    assert.deepEqual(failedStages.map((s) => [s.stageName, s.errorMessage]), [[
      "deploy-dev",
      "execute: ImagePullBackOff: image not found",
    ]]);
    const byContext = new Map(statusBodies(github).map((s) => [s.context, s] as const));
    assert.equal(byContext.get("aphex/dev")?.state, "failure");
  } finally {
    store.close();
    await github.close();
    await s3.stop();
  }
});

Deno.test("INNER_STEP_NAMES are exactly the task names inside the environment DAGs", () => {
  const names = WT.spec.templates
    .filter((t) => ["deploy", "approval", "test"].includes(t.name))
    .flatMap((t) => t.dag!.tasks.map((k) => k.name));
  assert.deepEqual([...names].sort(), [...INNER_STEP_NAMES].sort());
});
