/**
 * Approval expiry as Argo runs it: the `check` step of the generated approval DAG (argv and env
 * from the WorkflowTemplate via tests/_argo_pod.ts, the gate's times as the controller passes
 * `{{tasks.wait.startedAt}}`/`finishedAt`, the node name from the pod annotation), then the real
 * `aphex approval-check`, recording into s3rver.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { captureContext } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { loadConfigFile } from "../../command/config_file.ts";
import { readText } from "../../adapters/store/artifact_store.ts";
import { stageRecordKey } from "../../adapters/store/stage_records.ts";
import { buildWorkflowTemplate, NODE_NAME_ANNOTATION } from "../../templates/workflow_template.ts";
import { checkApproval, environmentOfNode } from "../../stages/approval_check.ts";
import { approvalVerdict } from "../../models/approval.ts";
import { argoPod } from "../_argo_pod.ts";
import { runDag } from "./_argo_dag.ts";
import { startLocalS3 } from "../stages/_s3rver.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const CONFIG = await loadConfigFile("aphex-config.yaml", { cwd: ROOT });
const SHA = "0123456789abcdef0123456789abcdef01234567";
const WORKFLOW = "webshop-0123456789ab";
const STARTED = new Date(Date.UTC(2026, 10, 28, 9, 0, 0));
const hours = (h: number) => new Date(STARTED.getTime() + h * 3600_000);

async function runCheck(finished: Date, config = CONFIG) {
  const s3 = await startLocalS3(config.pipeline.artifactBucket!);
  const tmp = await Deno.makeTempDir({ prefix: "aphex-approval-" });
  try {
    const pod = argoPod(buildWorkflowTemplate(config), "check", {
      parameters: { "commit-sha": SHA, ref: "refs/heads/main" },
      name: WORKFLOW,
      createdAt: STARTED,
    }, {
      // check runs in the approval DAG, called by `approve` in deploy-prod's own DAG.
      parent: ["deploy-prod", "approve"],
      taskTimes: { wait: { startedAt: STARTED, finishedAt: finished } },
      taskOutputs: { plan: { approve: "true", summary: "1 stack(s) change", risks: "" } },
      annotations: { [NODE_NAME_ANNOTATION]: `${WORKFLOW}.environments.approve-prod.check(0)` },
      mounts: { "/workspace": join(tmp, "ws"), "/tmp/aphex/outputs": join(tmp, "out") },
    });
    await Deno.mkdir(join(tmp, "out"), { recursive: true });
    const surroundings = {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      APHEX_S3_FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REGION: "us-east-1",
      AWS_MAX_ATTEMPTS: "1",
    };
    for (const key of Object.keys(surroundings)) assert.ok(!(key in pod.env), key);
    assert.deepEqual(pod.argv, ["aphex", "approval-check"]);
    const ctx = captureContext(pod.argv.slice(1), {
      env: { ...pod.env, ...surroundings },
      cwd: ROOT,
    });
    const code = await main(ctx);
    const store = await s3.store();
    try {
      const record = JSON.parse(
        await readText(store, stageRecordKey(SHA, WORKFLOW, "approve-prod")),
      );
      return { code, err: ctx.err.join(""), record, pod };
    } finally {
      store.close();
    }
  } finally {
    await s3.stop();
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("approval check from the generated template: approved within 24h → exit 0, recorded succeeded", async () => {
  const r = await runCheck(hours(3));
  assert.equal(r.code, 0, r.err);
  assert.equal(r.pod.env.APHEX_APPROVAL_TIMEOUT, "24h", "the template's default");
  assert.equal(r.pod.env.APHEX_APPROVAL_STARTED, "2026-11-28T09:00:00Z");
  assert.equal(r.record.stage.status, "succeeded");
  assert.equal(r.record.environment, "prod");
});

Deno.test("approval check from the generated template: gate past its timeout → run fails 'approval expired'", async () => {
  // Argo ended the suspend node itself once the 24h duration elapsed (a few seconds later).
  const r = await runCheck(new Date(hours(24).getTime() + 4000));
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /approval expired: nobody approved deploying 0123456789abcdef[0-9a-f]+ to prod within 24h/,
  );
  assert.equal(r.record.stage.status, "failed");
  assert.match(r.record.stage.errorMessage, /^approval expired/);
  assert.match(r.record.stage.errorMessage, /lock is released/);
});

Deno.test("approval check: a configured approvalTimeout reaches the check through the approve task", async () => {
  const config = structuredClone(CONFIG);
  config.environments.find((e) => e.name === "prod")!.approvalTimeout = "2h";
  const r = await runCheck(hours(2.5), config);
  assert.equal(r.pod.env.APHEX_APPROVAL_TIMEOUT, "2h");
  assert.equal(r.code, 1);
  assert.match(r.err, /within 2h/);
});

Deno.test("approval verdict edges; node names; unreadable times fail closed", () => {
  const what = { environment: "prod", commitSha: SHA };
  const at = (s: number) => new Date(STARTED.getTime() + s * 1000);
  assert.equal(
    approvalVerdict({ started: STARTED, finished: at(86399) }, "24h", what).approved,
    true,
  );
  assert.equal(
    approvalVerdict({ started: STARTED, finished: at(86400) }, "24h", what).approved,
    false,
  );
  assert.equal(approvalVerdict({ started: STARTED, finished: at(59) }, "1m", what).approved, true);
  assert.equal(environmentOfNode("wf.environments.wave-eu.approve-eu-west-1.check"), "eu-west-1");
  assert.equal(environmentOfNode("wf.environments.environments-3.approve-prod.check(1)"), "prod");
  assert.equal(environmentOfNode("wf.environments.deploy-prod"), undefined);
  const unresolved = checkApproval({
    ...what,
    environment: "prod",
    timeout: "24h",
    started: "{{tasks.wait.startedAt}}",
    finished: "2026-11-29T09:00:00Z",
  });
  assert.equal(unresolved.exitCode, 1);
  assert.match(unresolved.message, /cannot tell/);
});

Deno.test("an expired gate stops its environment: its change sets are never executed, the run fails", () => {
  const wt = buildWorkflowTemplate(CONFIG);
  const gate = wt.spec.templates.find((t) => t.name === "approval-wait")!;
  assert.deepEqual(gate.suspend, { duration: "{{inputs.parameters.timeout}}" });
  const { succeeded, ran } = runDag(wt, "environments", (r) => r.template !== "approval-check");
  assert.equal(succeeded, false);
  const names = ran.map((r) => `${r.task}:${r.template}`);
  assert.ok(names.includes("wait:approval-wait") && names.includes("check:approval-check"));
  // The gate runs inside deploy-<env>'s DAG (plan → approve → execute): after an expired gate
  // nothing is executed, in that environment or any later one.
  assert.ok(!ran.some((r) => r.template === "execute"), names.join(" "));
});
