/** The run's deployment plans reach the run record and the notification: one line per environment. */
import assert from "node:assert/strict";
import { recordStageEnd, recordStageStart } from "../adapters/store/stage_records.ts";
import { formatNotificationText, slackPayload } from "../adapters/monitoring/notify.ts";
import { planKey } from "../adapters/store/artifact_store.ts";
import type { EnvironmentPlan } from "../models/plan.ts";
import { fromJsonText, toJsonText } from "../models/_codec.ts";
import { WorkflowMetadataCodec } from "../models/metadata.ts";
import { assembleWorkflowMetadata, planSummaries, summarizeRun } from "../stages/_run_record.ts";
import { SHA, withTempStore } from "./monitoring/_helpers.ts";

Deno.test("notifications carry each planned environment's plan summary", async () => {
  await withTempStore(async (store) => {
    const target = { commitSha: SHA, workflow: "webshop-abc12" };
    const plan = await recordStageStart(store, { ...target, stage: "plan-prod" });
    const records = [await recordStageEnd(store, plan, { status: "succeeded" })];
    const doc: EnvironmentPlan = {
      version: 1,
      environment: "prod",
      commitSha: SHA,
      createdAt: "2026-11-29T10:00:00Z",
      stacks: [{
        stackName: "WebshopApp-prod",
        status: "changes",
        newStack: false,
        changeSetId: "arn:aws:cloudformation:eu-west-1:222222222222:changeSet/aphex-prod/1",
        changeSetName: "aphex-prod-0123456789ab",
        changes: [
          { action: "Add", logicalId: "Queue", resourceType: "AWS::SQS::Queue" },
          {
            action: "Modify",
            logicalId: "Orders",
            resourceType: "AWS::DynamoDB::Table",
            replacement: "True",
          },
        ],
        broadening: [],
      }, {
        stackName: "WebshopNetwork-prod",
        status: "no-op",
        newStack: false,
        changes: [],
        broadening: [],
      }],
    };
    await store.put(planKey(SHA, "prod"), JSON.stringify(doc));
    const warnings: string[] = [];
    const plans = await planSummaries(store, SHA, { records, warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    assert.deepEqual(Object.keys(plans), ["prod"]);
    assert.match(plans.prod!, /1 replacement/);
    const run = assembleWorkflowMetadata({
      workflow: target.workflow,
      commitSha: SHA,
      branch: "main",
      workflowStatus: "Failed",
      createdAt: null,
    }, { records, failures: [], now: new Date() });
    // The run record keeps them (and reads back).
    run.plans = plans;
    const back = fromJsonText(WorkflowMetadataCodec, toJsonText(WorkflowMetadataCodec, run), "run");
    assert.deepEqual(back.plans, plans);
    const line = `prod: ${plans.prod}`;
    const summary = summarizeRun(run, { records, argoLink: null, repository: null, plans: [line] });
    assert.ok(formatNotificationText(summary).includes(`Plan:         ${line}`));
    assert.ok(slackPayload(summary).text.includes(`*Plan:* ${line}`));
  });
});
