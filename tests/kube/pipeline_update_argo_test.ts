/**
 * `aphex pipeline-update` with exactly the argv and env the generated WorkflowTemplate gives its
 * pod (substituted as Argo does, `tests/_argo_pod.ts`): the running template's topology hash,
 * `{{workflow.name}}`, the commit parameter; the workspace and outputs volumes mounted here.
 */
import assert from "node:assert/strict";
import { command } from "../../stages/pipeline_update.ts";
import { resubmitWorkflowName } from "../../templates/superseding_workflow.ts";
import { parseConfigOrThrow } from "../../models/config_parse.ts";
import {
  buildWorkflowTemplate,
  STAGE_OUTPUTS_DIR,
  WORKSPACE_PATH,
} from "../../templates/workflow_template.ts";
import { readStageRecords } from "../../adapters/store/stage_records.ts";
import { argoPod } from "../_argo_pod.ts";
import { startLocalS3 } from "../stages/_s3rver.ts";
import { configYaml, hashOf, withWorld } from "./_harness.ts";

const V1 = configYaml(["dev"]);
const V2 = configYaml(["dev", "prod!"]);

Deno.test("pipeline-update as Argo runs it: a topology change resubmits and the run ends superseded", async () => {
  await withWorld([V1, V2], async (w) => {
    const [sha1, sha2] = [w.commits[0]!, w.commits[1]!];
    await w.checkout(sha1);
    const first = await w.run(command, [
      "--workspace",
      w.workspace,
      "--commit-sha",
      sha1,
      "--kubeconfig",
      w.kubeconfig,
      "--outputs-dir",
      w.outputs,
    ]);
    assert.equal(first.code, 0, first.err);
    // The Sensor created a run of the (old) V1 template for a push of sha2.
    const running = `shop-${sha2.slice(0, 12)}`;
    w.api.seed({
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Workflow",
      metadata: { name: running, namespace: "argo" },
      spec: {
        workflowTemplateRef: { name: "shop" },
        arguments: {
          parameters: [{ name: "commit-sha", value: sha2 }, {
            name: "ref",
            value: "refs/heads/main",
          }],
        },
      },
    }, { manager: "argo-events" });
    await w.checkout(sha2);
    const pod = argoPod(
      buildWorkflowTemplate(parseConfigOrThrow(V1)),
      "pipeline-update",
      {
        parameters: { "commit-sha": sha2, ref: "refs/heads/main" },
        name: running,
        createdAt: new Date(),
      },
      { mounts: { [WORKSPACE_PATH]: w.workspace, [STAGE_OUTPUTS_DIR]: w.outputs } },
    );
    assert.deepEqual(pod.argv, ["aphex", "pipeline-update"]);
    assert.equal(pod.env.APHEX_TOPOLOGY_HASH, hashOf(V1));
    assert.equal(pod.env.APHEX_WORKFLOW_NAME, running);
    const s3 = await startLocalS3("shop-artifacts");
    try {
      const r = await w.run(command, pod.argv.slice(2), {
        ...pod.env,
        KUBECONFIG: w.kubeconfig,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        APHEX_S3_FORCE_PATH_STYLE: "true",
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
      });
      assert.ok(!r.err.includes("warning"), r.err);
      assert.equal(r.code, 0, r.err);
      // Its stage record names the run that took over, for the exit report.
      const store = await s3.store();
      try {
        const records = await readStageRecords(store, sha2, { workflow: running });
        assert.deepEqual(records.map((x) => [x.stage.stageName, x.stage.status, x.supersededBy]), [
          [
            "pipeline-update",
            "succeeded",
            resubmitWorkflowName("shop", {
              commitSha: sha2,
              topologyHash: hashOf(V2),
            }),
          ],
        ]);
      } finally {
        store.close();
      }
    } finally {
      await s3.stop();
    }
    const expected = resubmitWorkflowName("shop", { commitSha: sha2, topologyHash: hashOf(V2) });
    assert.equal(await w.output("superseded"), "true");
    assert.equal(await w.output("superseded-by"), expected);
    const posted = w.api.requests.filter((q) =>
      q.method === "POST" && q.path.endsWith("/workflows") && q.query.dryRun === undefined
    );
    assert.equal(posted.length, 1);
    const wf = JSON.parse(posted[0]!.body);
    assert.deepEqual(wf.spec.arguments.parameters, [
      { name: "commit-sha", value: sha2 },
      { name: "ref", value: "refs/heads/main" },
    ]);
    assert.equal(wf.metadata.annotations["aphex.dev/supersedes"], running);
  });
});
