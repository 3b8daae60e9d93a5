/**
 * A push run whose preflight fails, driven through the generated WorkflowTemplate: the DAG is
 * walked as Argo does (a task runs only when the task it depends on succeeded), the preflight task
 * runs the real `aphex preflight` with its container's env (Argo's placeholders substituted), and
 * the `onExit` handler runs the real `aphex report`. Nothing is built or deployed, and the stage
 * record and the run record name preflight and each problem.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { captureContext } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { fromJsonText } from "../../models/_codec.ts";
import { parseConfigOrThrow } from "../../models/config_parse.ts";
import { WorkflowMetadataCodec } from "../../models/metadata.ts";
import { readText } from "../../adapters/store/artifact_store.ts";
import { LocalArtifactStore } from "../../adapters/store/local_store.ts";
import { readStageRecords, runRecordKey } from "../../adapters/store/stage_records.ts";
import type { DagTask, Template } from "../../templates/types.ts";
import { buildWorkflowTemplate } from "../../templates/workflow_template.ts";
import {
  configYaml,
  PIPELINE_ACCOUNT,
  PIPELINE_ARN,
  PROD_ACCOUNT,
  PROD_ROLE,
  REPO_FILES,
} from "../deploy/_fixture.ts";
import { makeRepo, testGitEnv } from "../stages/_git_repo.ts";

const WORKFLOW = "aphex-x7k2p";
const CREATED_AT = "2026-11-29T10:00:00Z";

/** A container's env as the pod sees it: Argo's `{{…}}` placeholders substituted. */
function podEnv(template: Template, values: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of template.container!.env) {
    if (e.value === undefined) continue; // secretKeyRef: none configured here
    env[e.name] = e.value.replace(/\{\{([^}]+)\}\}/g, (all, key: string) => {
      assert.ok(key in values, `unsubstituted ${all} in ${template.name}.${e.name}`);
      return values[key]!;
    });
  }
  return env;
}

Deno.test("push run: preflight fails → no build, no deploy; records and report name preflight and each problem", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-preflight-run-" });
  const sts = mockClient(STSClient);
  const ssm = mockClient(SSMClient);
  try {
    sts.on(GetCallerIdentityCommand).resolves({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN });
    const denied = new Error(`not authorized to perform: sts:AssumeRole on resource: ${PROD_ROLE}`);
    denied.name = "AccessDenied";
    sts.on(AssumeRoleCommand).rejects(denied);
    const notFound = new Error("Parameter /cdk-bootstrap/hnb659fds/version not found");
    notFound.name = "ParameterNotFound";
    ssm.on(GetParameterCommand).rejects(notFound);

    const configText = configYaml({ build: ["git status", "not-a-tool-aphex-7f3 build"] });
    const repo = await makeRepo(root, [{ "aphex-config.yaml": configText, ...REPO_FILES }]);
    const sha = repo.commits[0]!;
    const storeDir = join(root, "store"); // stands in for the run's bucket
    const wt = buildWorkflowTemplate(parseConfigOrThrow(configText));
    const templates = new Map(wt.spec.templates.map((t) => [t.name, t]));
    const placeholders = {
      "workflow.parameters.commit-sha": sha,
      "workflow.parameters.ref": "refs/heads/main",
      "workflow.name": WORKFLOW,
      "workflow.status": "Failed",
      "workflow.creationTimestamp": CREATED_AT,
      "workflow.namespace": "argo",
    };
    const base = { ...testGitEnv(root), APHEX_STORE_DIR: storeDir };

    // Walk the entry DAG as Argo does: `depends: X` runs only after X succeeded.
    const phase = new Map<string, "Succeeded" | "Failed" | "Omitted">();
    const started: string[] = [];
    let preflightErr = "";
    const entry = templates.get(wt.spec.entrypoint)!.dag!.tasks;
    for (const task of entry as DagTask[]) {
      if (task.depends !== undefined && phase.get(task.depends) !== "Succeeded") {
        phase.set(task.name, "Omitted");
        continue;
      }
      started.push(task.name);
      if (task.template !== "preflight") {
        phase.set(task.name, "Succeeded"); // never reached: asserted below
        continue;
      }
      const env = {
        ...podEnv(templates.get("preflight")!, placeholders),
        ...base,
        APHEX_WORKSPACE: repo.dir, // the pod's checkout (already at the commit)
      };
      const ctx = captureContext(["preflight"], { cwd: repo.dir, env });
      const code = await main(ctx);
      preflightErr = ctx.err.join("");
      phase.set(task.name, code === 0 ? "Succeeded" : "Failed");
    }
    assert.deepEqual(started, ["preflight"], preflightErr);
    assert.deepEqual(Object.fromEntries(phase), {
      preflight: "Failed",
      build: "Omitted",
      "pipeline-update": "Omitted",
      environments: "Omitted",
    });

    // Every problem at once: a tool, dev's bootstrap, prod's role.
    const problems = [
      "[tool] `not-a-tool-aphex-7f3` is not on PATH",
      `[bootstrap] environment dev (account ${PIPELINE_ACCOUNT}): CDK bootstrap not found in ` +
      `aws://${PIPELINE_ACCOUNT}/us-east-1: SSM parameter /cdk-bootstrap/hnb659fds/version ` +
      `does not exist; run \`npx cdk bootstrap aws://${PIPELINE_ACCOUNT}/us-east-1 --qualifier ` +
      "hnb659fds`",
    ];
    const credentials = new RegExp(
      `^\\[credentials\\] environment prod \\(account ${PROD_ACCOUNT}, role ${PROD_ROLE}\\): ` +
        `cannot assume role ${PROD_ROLE}`,
    );
    for (const p of problems) assert.ok(preflightErr.includes(`problem: ${p}`), preflightErr);

    // The stage record: preflight only, failed, each problem on its own line.
    const store = new LocalArtifactStore(storeDir);
    const records = await readStageRecords(store, sha, { workflow: WORKFLOW });
    assert.deepEqual(records.map((r) => [r.stage.stageName, r.stage.status]), [
      ["preflight", "failed"],
    ]);
    const lines = records[0]!.stage.errorMessage!.split("\n");
    assert.equal(lines[0], "preflight found 3 problems:");
    assert.deepEqual(lines.slice(1, 3), problems);
    assert.match(lines[3]!, credentials);
    assert.equal(lines.length, 4);

    // The exit handler, with the failure Argo reports for the preflight pod.
    const failures = JSON.stringify([{
      displayName: "preflight",
      message: "Error (exit code 1)",
      templateName: "preflight",
      phase: "Failed",
      podName: `${WORKFLOW}-preflight-1`,
      finishedAt: "2026-11-29T10:00:20Z",
    }]);
    const reportDir = join(root, "report-pod");
    await Deno.mkdir(reportDir);
    const reportEnv = {
      ...podEnv(templates.get("report")!, {
        ...placeholders,
        "workflow.failures": failures,
      }),
      ...base,
      APHEX_WORKSPACE: reportDir, // no checkout in the report pod
    };
    const report = captureContext(["report", "--json", "--skip-cloudwatch"], {
      cwd: reportDir,
      env: reportEnv,
    });
    assert.equal(await main(report), 0, report.err.join(""));
    const run = fromJsonText(WorkflowMetadataCodec, report.out.join(""), "stdout");
    assert.equal(run.status, "failed");
    assert.deepEqual(run.stages.map((s) => [s.stageName, s.status]), [["preflight", "failed"]]);
    assert.equal(run.stages[0]!.errorMessage, records[0]!.stage.errorMessage);
    assert.match(report.err.join(""), /failed at preflight; 1 stage\(s\)/);
    const stored = fromJsonText(
      WorkflowMetadataCodec,
      await readText(store, runRecordKey(sha, WORKFLOW)),
      "run record",
    );
    assert.deepEqual(stored, run);
    store.close();
  } finally {
    sts.restore();
    ssm.restore();
    await Deno.remove(root, { recursive: true });
  }
});
