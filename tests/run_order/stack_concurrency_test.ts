/**
 * `deploy.concurrency` through the deploy stage: independent stacks deploy at once, a stack waits
 * for the stacks it depends on in the cloud assembly, and a failure starts nothing new.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runDeploy } from "../../stages/deploy.ts";
import { withDeployFixture } from "../deploy/_fixture.ts";
import { mockAws } from "./_setup.ts";

/** An assembly with Network and Queue independent, App depending on both. */
function manifest(): string {
  const stack = (id: string, deps: string[]) => ({
    type: "aws:cloudformation:stack",
    environment: "aws://@ACCOUNT@/@REGION@",
    properties: {
      templateFile: `${id}.template.json`,
      stackName: `aphex-fixture-${id.toLowerCase()}`,
    },
    dependencies: deps,
    displayName: id,
  });
  return JSON.stringify({
    version: "48.0.0",
    artifacts: {
      Network: stack("Network", []),
      Queue: stack("Queue", []),
      App: stack("App", ["Network", "Queue"]),
    },
  });
}

const STACKS = ["aphex-fixture-network", "aphex-fixture-queue", "aphex-fixture-app"];

async function deploy(concurrency: number | undefined, fail?: string) {
  const restore = mockAws();
  try {
    let out:
      | { calls: string[]; code: number; notDeployed: string[]; results: string[] }
      | undefined;
    await withDeployFixture(
      { devStacks: STACKS, ...(concurrency ? { concurrency } : {}) },
      async (f) => {
        await Deno.writeTextFile(join(f.root, "manifest-dev.json"), manifest());
        f.deps.env.FAKE_CDK_DEPLOY_SECONDS = "0.3";
        if (fail) f.deps.env.FAKE_CDK_FAIL = fail;
        const outcome = await runDeploy(f.inputs, f.deps);
        out = {
          calls: await f.calls(),
          code: outcome.exitCode,
          notDeployed: outcome.notDeployed,
          results: outcome.results.map((r) => `${r.stackName}:${r.success}`),
        };
      },
    );
    return out!;
  } finally {
    restore();
  }
}

Deno.test("deploy.concurrency default 1: one stack after another, in configured order", async () => {
  const r = await deploy(undefined);
  assert.equal(r.code, 0);
  assert.deepEqual(r.calls, [
    "deploy Network",
    "done Network",
    "deploy Queue",
    "done Queue",
    "deploy App",
    "done App",
  ]);
});

Deno.test("deploy.concurrency 2: Network and Queue at once, App after both; results in configured order", async () => {
  const r = await deploy(2);
  assert.equal(r.code, 0);
  const at = (line: string) => r.calls.indexOf(line);
  assert.ok(at("deploy Queue") < at("done Network"), `parallel: ${r.calls}`);
  assert.ok(at("deploy App") > at("done Network") && at("deploy App") > at("done Queue"));
  assert.deepEqual(r.results, STACKS.map((s) => `${s}:true`));
});

Deno.test("deploy.concurrency 2: a failing stack lets the running one finish; its dependents never start", async () => {
  const r = await deploy(2, "Queue");
  assert.equal(r.code, 1);
  assert.ok(r.calls.includes("done Network"), `${r.calls}`);
  assert.ok(!r.calls.includes("deploy App"));
  assert.deepEqual(r.notDeployed, ["aphex-fixture-app"]);
  assert.deepEqual(r.results, ["aphex-fixture-network:true", "aphex-fixture-queue:false"]);
});
