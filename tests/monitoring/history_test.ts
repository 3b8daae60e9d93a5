import assert from "node:assert/strict";
import { captureContext, execute } from "../../command/contract.ts";
import { command, historyEntry } from "../../cli/history.ts";
import { main } from "../../cli/main.ts";
import type { WorkflowMetadata } from "../../models/metadata.ts";
import { writeRunRecord } from "../../adapters/store/stage_records.ts";
import { failedRun, withTempStore } from "./_helpers.ts";

function runs(): WorkflowMetadata[] {
  const failed = failedRun();
  const ok: WorkflowMetadata = {
    ...failedRun(),
    workflowId: "webshop-def34",
    commitSha: "a".repeat(40),
    triggeredAt: new Date("2026-11-25T12:00:00.000Z"),
    completedAt: new Date("2026-11-25T13:05:09.000Z"),
    status: "succeeded",
    stages: [],
  };
  const older: WorkflowMetadata = {
    ...failedRun(),
    workflowId: "webshop-old00",
    commitSha: "b".repeat(40),
    branch: "release",
    triggeredAt: new Date("2026-11-24T08:00:00.000Z"),
    completedAt: new Date("2026-11-24T08:00:42.000Z"),
    status: "succeeded",
    stages: [],
  };
  return [failed, ok, older];
}

Deno.test("aphex history lists recent runs from a local store, newest first", async () => {
  await withTempStore(async (store, dir) => {
    for (const run of runs()) await writeRunRecord(store, run);
    const ctx = captureContext(["--limit", "2", "--store-dir", `${dir}/store`], { cwd: dir });
    assert.equal(await execute(command, ctx), 0);
    assert.equal(
      ctx.out.join(""),
      [
        "STARTED               WORKFLOW       COMMIT        BRANCH  STATUS     DURATION  FAILED STAGE",
        "2026-11-25T12:00:00Z  webshop-def34  aaaaaaaaaaaa  main    succeeded  1h05m     -",
        "2026-11-25T10:00:00Z  webshop-abc12  0123456789ab  main    failed     12m30s    deploy-dev",
        "",
      ].join("\n"),
    );
    assert.deepEqual(ctx.err, []);
  });
});

Deno.test("aphex history --json prints commit, status, duration and failed stage", async () => {
  await withTempStore(async (store, dir) => {
    for (const run of runs()) await writeRunRecord(store, run);
    const ctx = captureContext(["--json"], { cwd: dir, env: { APHEX_STORE_DIR: `${dir}/store` } });
    assert.equal(await main({ ...ctx, args: ["history", ...ctx.args] }), 0);
    // One JSON object per line.
    const lines = ctx.out.join("").trimEnd().split("\n");
    assert.equal(lines.length, 3);
    const entries = lines.map((l) => JSON.parse(l));
    assert.deepEqual(entries.map((e: { workflowId: string }) => e.workflowId), [
      "webshop-def34",
      "webshop-abc12",
      "webshop-old00",
    ]);
    assert.deepEqual(entries[1], {
      workflowId: "webshop-abc12",
      commitSha: "0123456789abcdef0123456789abcdef01234567",
      branch: "main",
      status: "failed",
      triggeredAt: "2026-11-25T10:00:00.000Z",
      completedAt: "2026-11-25T10:12:30.000Z",
      durationSeconds: 750,
      failedStage: "deploy-dev",
      errorMessage: "stack Api failed: CREATE_FAILED Bucket (already exists)",
    });
    assert.deepEqual(entries[1], historyEntry(runs()[0]!));
  });
});

Deno.test("aphex history: empty store, and --limit must be a positive integer", async () => {
  await withTempStore(async (_store, dir) => {
    const ctx = captureContext(["--store-dir", `${dir}/store`], { cwd: dir });
    assert.equal(await execute(command, ctx), 0);
    assert.equal(ctx.out.join(""), "no runs recorded\n");
    for (const bad of ["0", "-1", "x", "1.5"]) {
      const c = captureContext([`--limit=${bad}`, "--store-dir", `${dir}/store`], { cwd: dir });
      assert.equal(await execute(command, c), 2);
      assert.match(c.err.join(""), /--limit must be a positive integer/);
    }
  });
});

Deno.test("aphex history never loads the CloudWatch or SNS clients", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("../../cli/history.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const graph = info.modules.map((m) => m.specifier);
  assert.ok(graph.some((s) => s.endsWith("/adapters/store/stage_records.ts")));
  for (
    const name of [
      "client-cloudwatch",
      "client-sns",
      "monitoring/cloudwatch.ts",
      "monitoring/notify.ts",
    ]
  ) {
    assert.ok(
      !graph.some((s) => s.includes(name)),
      `${name} is in the module graph of cli/history.ts`,
    );
  }
});
