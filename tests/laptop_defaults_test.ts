/**
 * Laptop defaults (issue 16): outside a pod the workspace is the enclosing git repository's top
 * level, and `history` reads the local store `aphex run --local` writes, from any sub-folder.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { captureContext } from "../command/contract.ts";
import { main } from "../cli/main.ts";
import { LocalArtifactStore } from "../adapters/store/local_store.ts";
import { defaultWorkspace, gitTopLevel, LOCAL_STORE_DIR } from "../command/stage_runtime.ts";
import { writeRunRecord } from "../adapters/store/stage_records.ts";
import { failedRun } from "./monitoring/_helpers.ts";

async function withRepo(fn: (top: string, sub: string) => Promise<void>): Promise<void> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "aphex-laptop-" }));
  try {
    const top = join(root, "repo");
    const sub = join(top, "infra", "lib");
    await Deno.mkdir(sub, { recursive: true });
    await Deno.mkdir(join(top, ".git"));
    await fn(top, sub);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("defaultWorkspace: git top level on a laptop, /workspace in a pod, else the cwd", async () => {
  await withRepo((top, sub) => {
    assert.equal(gitTopLevel(sub), top);
    assert.equal(defaultWorkspace({ cwd: sub, env: {} }), top);
    assert.equal(defaultWorkspace({ cwd: top }), top);
    assert.equal(
      defaultWorkspace({ cwd: sub, env: { KUBERNETES_SERVICE_HOST: "10.0.0.1" } }),
      "/workspace",
    );
    const outside = join(top, "..");
    assert.equal(defaultWorkspace({ cwd: outside, env: {} }), outside);
    return Promise.resolve();
  });
});

Deno.test("stages default to the git top level: synth from a sub-folder finds the config", async () => {
  await withRepo(async (top, sub) => {
    // The config is at the top level; its stack path is missing, which only a run that found
    // the config can report.
    await Deno.writeTextFile(
      join(top, "aphex-config.yaml"),
      'version: "1.0"\nbuild: { commands: [make] }\nenvironments:\n  - name: dev\n' +
        '    region: us-east-1\n    account: "123456789012"\n' +
        "    stacks: [{ name: App, path: infra/lib/app.ts }]\n",
    );
    const ctx = captureContext(["synth"], { cwd: sub, env: {} });
    assert.equal(await main(ctx), 2);
    assert.match(ctx.err.join(""), /infra\/lib\/app\.ts: no such file in the repository/);
    const deploy = captureContext(["deploy", "--env", "dev", "--commit-sha", "a".repeat(40)], {
      cwd: sub,
      env: {},
    });
    await main(deploy);
    // The workspace is the repository, not the pod's /workspace.
    assert.match(deploy.err.join(""), new RegExp(`workspace ${top} `));
    assert.doesNotMatch(deploy.err.join(""), /\/workspace/);
  });
});

Deno.test("aphex history reads the local store of run --local from any sub-folder", async () => {
  await withRepo(async (top, sub) => {
    const store = new LocalArtifactStore(join(top, LOCAL_STORE_DIR));
    try {
      await writeRunRecord(store, failedRun());
    } finally {
      store.close();
    }
    const ctx = captureContext(["history", "--json"], { cwd: sub, env: {} });
    assert.equal(await main(ctx), 0, ctx.err.join(""));
    const lines = ctx.out.join("").trimEnd().split("\n");
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]!).workflowId, failedRun().workflowId);
  });
});
