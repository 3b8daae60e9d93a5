import assert from "node:assert/strict";
import { fromJsonText } from "../../models/_codec.ts";
import { readText } from "../../adapters/store/artifact_store.ts";
import {
  createStageLogger,
  environmentOfStage,
  listRecentRuns,
  logFormatFromEnv,
  MAX_ERROR_CHARS,
  readStageRecords,
  recordStageEnd,
  recordStageStart,
  runIndexKey,
  StageRecordCodec,
  stageRecordKey,
  validateWorkflowName,
  withStageRecord,
  writeRunRecord,
} from "../../adapters/store/stage_records.ts";
import { startLocalS3 } from "../stages/_s3rver.ts";
import { failedRun, SHA, withTempStore } from "./_helpers.ts";

function clockAt(...isoTimes: string[]): () => Date {
  let i = 0;
  return () => new Date(isoTimes[Math.min(i++, isoTimes.length - 1)]!);
}

Deno.test("stage start/end records land under <sha>/runs/<workflow>/stages/ and decode", async () => {
  await withTempStore(async (store) => {
    const started = await recordStageStart(store, {
      commitSha: SHA,
      workflow: "webshop-abc12",
      stage: "deploy-dev",
    }, { clock: clockAt("2026-11-25T10:05:00.000Z") });
    const key = stageRecordKey(SHA, "webshop-abc12", "deploy-dev");
    assert.equal(key, `${SHA}/runs/webshop-abc12/stages/deploy-dev.json`);
    const running = fromJsonText(StageRecordCodec, await readText(store, key), key);
    assert.deepEqual(running, started);
    assert.equal(running.stage.status, "running");
    assert.equal(running.environment, "dev");

    const deployments = [{
      success: false,
      stackName: "Api",
      stackOutputs: {},
      duration: 30,
      cloudformationEvents: [{ LogicalResourceId: "Bucket" }],
    }];
    await recordStageEnd(store, started, {
      status: "failed",
      errorMessage: "e".repeat(MAX_ERROR_CHARS + 50),
      deployments,
      clock: clockAt("2026-11-25T10:12:00.000Z"),
    });
    await recordStageStart(store, { commitSha: SHA, workflow: "webshop-abc12", stage: "build" }, {
      clock: clockAt("2026-11-25T10:00:05.000Z"),
    });
    const records = await readStageRecords(store, SHA, { workflow: "webshop-abc12" });
    assert.deepEqual(records.map((r) => [r.stage.stageName, r.stage.status]), [
      ["build", "running"],
      ["deploy-dev", "failed"],
    ]);
    const ended = records[1]!;
    assert.equal(ended.stage.completedAt?.toISOString(), "2026-11-25T10:12:00.000Z");
    assert.equal(ended.stage.errorMessage!.length, MAX_ERROR_CHARS);
    assert.ok(ended.stage.errorMessage!.startsWith("…e"));
    assert.deepEqual(ended.deployments, deployments);
  });
});

Deno.test("withStageRecord records success, failure exit codes and thrown errors", async () => {
  await withTempStore(async (store) => {
    const target = { commitSha: SHA, workflow: "w1" };
    assert.deepEqual(
      await withStageRecord(store, {
        ...target,
        stage: "build",
        body: () => Promise.resolve({ exitCode: 0 }),
      }),
      { exitCode: 0 },
    );
    await withStageRecord(store, {
      ...target,
      stage: "test-dev",
      body: () => Promise.resolve({ exitCode: 1, errorMessage: "2 of 10 tests failed" }),
    });
    await assert.rejects(
      withStageRecord(store, {
        ...target,
        stage: "deploy-dev",
        body: () => Promise.reject(new Error("boom")),
      }),
      /boom/,
    );
    const records = await readStageRecords(store, SHA, { workflow: "w1" });
    const byName = Object.fromEntries(records.map((r) => [r.stage.stageName, r.stage]));
    assert.equal(byName["build"]!.status, "succeeded");
    assert.equal(byName["build"]!.errorMessage, null);
    assert.equal(byName["test-dev"]!.status, "failed");
    assert.equal(byName["test-dev"]!.errorMessage, "2 of 10 tests failed");
    assert.equal(byName["deploy-dev"]!.status, "failed");
    assert.equal(byName["deploy-dev"]!.errorMessage, "boom");
  });
});

Deno.test("recording never throws when the store fails; the warning names the key", async () => {
  await withTempStore(async (store, dir) => {
    // A file where the runs directory must go makes every put fail.
    await Deno.mkdir(`${dir}/store/${SHA}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/store/${SHA}/runs`, "not a directory");
    const warnings: string[] = [];
    const started = await recordStageStart(
      store,
      { commitSha: SHA, workflow: "w", stage: "build" },
      {
        warn: (m) => warnings.push(m),
      },
    );
    await recordStageEnd(store, started, { status: "succeeded", warn: (m) => warnings.push(m) });
    assert.equal(warnings.length, 2);
    assert.match(
      warnings[0]!,
      new RegExp(`could not record stage build in file://.*${SHA}/runs/w/stages/build\\.json`),
    );
  });
});

Deno.test("names: workflow/stage validation and environment of a stage", () => {
  assert.equal(validateWorkflowName("webshop-x7k2p"), "webshop-x7k2p");
  for (const bad of ["", "../x", "A", "a/b", "-a", "a-", "a".repeat(254)]) {
    assert.throws(() => validateWorkflowName(bad), /workflow name/);
  }
  assert.equal(environmentOfStage("deploy-prod-eu"), "prod-eu");
  assert.equal(environmentOfStage("test-dev"), "dev");
  assert.equal(environmentOfStage("plan-dev"), "dev");
  assert.equal(environmentOfStage("build"), null);
  assert.equal(
    runIndexKey(new Date("2026-11-25T10:00:00.123Z"), "w"),
    "runs/20261125T100000123Z-w.json",
  );
});

Deno.test("listRecentRuns: newest first from the index, limit applied; scan fallback", async () => {
  await withTempStore(async (store) => {
    const runs = [0, 1, 2].map((i) => {
      const run = failedRun();
      run.workflowId = `webshop-${i}`;
      run.triggeredAt = new Date(Date.UTC(2026, 10, 20 + i));
      run.completedAt = new Date(Date.UTC(2026, 10, 20 + i, 1));
      return run;
    });
    for (const run of runs) await writeRunRecord(store, run);
    assert.deepEqual(await listRecentRuns(store, { limit: 2 }), [runs[2], runs[1]]);
    for (const o of await store.list("runs/")) await store.delete(o.key);
    assert.deepEqual(await listRecentRuns(store, { limit: 5 }), [runs[2], runs[1], runs[0]]);
  });
});

Deno.test("stage logger: JSON lines with APHEX_LOG_FORMAT=json, text otherwise; redacted", () => {
  assert.equal(logFormatFromEnv({ APHEX_LOG_FORMAT: "JSON" }), "json");
  assert.equal(logFormatFromEnv({}), "text");
  const lines: string[] = [];
  const json = createStageLogger("deploy-dev", {
    format: "json",
    write: (l) => lines.push(l),
    context: { workflow: "w1", commitSha: SHA },
    clock: () => new Date("2026-11-25T10:00:00.000Z"),
    redact: (t) => t.replaceAll("hunter2", "***"),
  });
  json.info("deploying", { stack: "Api" });
  json.error("failed with hunter2");
  assert.deepEqual(lines.map((l) => JSON.parse(l)), [
    {
      time: "2026-11-25T10:00:00.000Z",
      level: "info",
      stage: "deploy-dev",
      msg: "deploying",
      workflow: "w1",
      commitSha: SHA,
      stack: "Api",
    },
    {
      time: "2026-11-25T10:00:00.000Z",
      level: "error",
      stage: "deploy-dev",
      msg: "failed with ***",
      workflow: "w1",
      commitSha: SHA,
    },
  ]);
  const text: string[] = [];
  const human = createStageLogger("build", { format: "text", write: (l) => text.push(l) });
  human.info("ok", { n: 3 });
  human.warn("careful");
  assert.deepEqual(text, ["[build] ok n=3", "[build] warning: careful"]);
});

Deno.test("stage records and the run index work on an S3 store (s3rver)", async () => {
  const s3 = await startLocalS3();
  const store = await s3.store();
  try {
    const started = await recordStageStart(store, {
      commitSha: SHA,
      workflow: "webshop-s3",
      stage: "deploy-prod",
    });
    await recordStageEnd(store, started, { status: "succeeded" });
    const records = await readStageRecords(store, SHA, { workflow: "webshop-s3" });
    assert.deepEqual(records.map((r) => [r.stage.stageName, r.stage.status, r.environment]), [
      ["deploy-prod", "succeeded", "prod"],
    ]);
    const runs = [0, 1, 2].map((i) => {
      const run = failedRun();
      run.workflowId = `webshop-s3-${i}`;
      run.triggeredAt = new Date(Date.UTC(2026, 10, 20 + i));
      return run;
    });
    for (const run of runs) await writeRunRecord(store, run);
    assert.deepEqual(await listRecentRuns(store, { limit: 2 }), [runs[2], runs[1]]);
  } finally {
    store.close();
    await s3.stop();
  }
});
