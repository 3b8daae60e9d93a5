/** The push pipeline validates first: preflight (with AWS checks) before build, whatever else runs. */
import assert from "node:assert/strict";
import { configTable } from "../tests/generate_table.ts";
import { buildWorkflowTemplate, STAGE_DEADLINE_SECONDS } from "./workflow_template.ts";

Deno.test("push pipeline: preflight is the first step and build waits for it, in every config", () => {
  for (const [name, config] of Object.entries(configTable())) {
    const wt = buildWorkflowTemplate(config);
    const tasks = wt.spec.templates.find((t) => t.name === wt.spec.entrypoint)!.dag!.tasks;
    // report-start (pending commit statuses) may run beside preflight; everything else after it.
    const gated = tasks.filter((t) => t.name !== "report-start");
    assert.equal(gated[0]!.name, "preflight", name);
    assert.equal(gated[0]!.depends, undefined, name);
    assert.equal(gated.find((t) => t.name === "build")!.depends, "preflight", name);
    const preflight = wt.spec.templates.find((t) => t.name === "preflight")!;
    const build = wt.spec.templates.find((t) => t.name === "build")!;
    assert.deepEqual(preflight.container!.command, ["aphex"]);
    assert.deepEqual(preflight.container!.args, ["preflight"]);
    assert.equal(preflight.activeDeadlineSeconds, String(STAGE_DEADLINE_SECONDS.preflight));
    assert.deepEqual(preflight.retryStrategy, build.retryStrategy);
    assert.deepEqual(preflight.container!.volumeMounts, build.container!.volumeMounts);
    // Same env as build (checkout inputs, bucket for its stage record, token for private
    // repositories) and the AWS checks are NOT skipped in a push run.
    assert.deepEqual(preflight.container!.env, build.container!.env, name);
    assert.ok(!preflight.container!.env.some((e) => e.name === "APHEX_SKIP_AWS"), name);
  }
});
