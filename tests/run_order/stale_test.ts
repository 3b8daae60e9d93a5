import assert from "node:assert/strict";
import { join } from "node:path";
import { captureContext } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { readText } from "../../adapters/store/artifact_store.ts";
import { readCurrentDeployment } from "../../adapters/store/current.ts";
import { stageRecordKey } from "../../adapters/store/stage_records.ts";
import { checkoutCommit } from "../../adapters/git/checkout.ts";
import { commitRelation } from "../../adapters/git/ancestry.ts";
import { runDeploy } from "../../stages/deploy.ts";
import { FAKE_CDK } from "../deploy/_fixture.ts";
import { mockAws, withRunOrderFixture } from "./_setup.ts";

const T = (h: number) => new Date(Date.UTC(2026, 10, 29, h));

Deno.test("stale: an older run reaching an environment where a newer commit is live is skipped", async () => {
  const restore = mockAws();
  try {
    await withRunOrderFixture(async (f) => {
      const [c1, c2, c3] = f.commits;
      // c2 deploys first: nothing live yet → deployed, recorded as live.
      const logs: string[] = [];
      const first = await runDeploy(f.inputs(c2, "a"), { ...f.deps(logs), clock: () => T(1) });
      assert.equal(first.exitCode, 0, logs.join("\n"));
      assert.equal(first.stale, undefined);
      const live = await readCurrentDeployment(f.store, "dev");
      assert.deepEqual(live, { sha: c2, time: T(1), workflow: null });
      assert.deepEqual(await f.calls(), ["deploy Network"]);

      // A resubmitted run of the older c1 (fresh shallow checkout) → stale: nothing deployed.
      const staleLogs: string[] = [];
      const stale = await runDeploy(f.inputs(c1, "b"), f.deps(staleLogs));
      assert.equal(stale.exitCode, 0, staleLogs.join("\n"));
      assert.equal(stale.stale?.proceed, false);
      assert.equal(stale.stale?.relation, "older");
      assert.equal(stale.stale?.live?.sha, c2);
      assert.deepEqual(stale.results, []);
      assert.ok(staleLogs.some((l) => l.includes(`STALE: ${c1} is an ancestor of the live ${c2}`)));
      assert.deepEqual(await f.calls(), ["deploy Network"], "the stale run deployed nothing");
      assert.equal((await readCurrentDeployment(f.store, "dev"))?.sha, c2, "live unchanged");

      // The newer c3 deploys normally over c2.
      const newer = await runDeploy(f.inputs(c3, "c"), { ...f.deps([]), clock: () => T(2) });
      assert.equal(newer.exitCode, 0);
      assert.equal(newer.stale, undefined);
      assert.deepEqual(await f.calls(), ["deploy Network", "deploy Network"]);
      assert.equal((await readCurrentDeployment(f.store, "dev"))?.sha, c3);
    });
  } finally {
    restore();
  }
});

Deno.test("stale: a force-push (neither ancestor) deploys and is logged as such", async () => {
  const restore = mockAws();
  try {
    await withRunOrderFixture(async (f) => {
      const [, c2] = f.commits;
      assert.equal((await runDeploy(f.inputs(c2, "a"), f.deps([]))).exitCode, 0);
      const logs: string[] = [];
      const forced = await runDeploy(f.inputs(f.forced, "b"), f.deps(logs));
      assert.equal(forced.exitCode, 0, logs.join("\n"));
      assert.equal(forced.stale, undefined);
      assert.ok(
        logs.some((l) =>
          l.includes(`FORCE-PUSH: ${f.forced} is neither an ancestor nor a descendant`)
        ),
        logs.join("\n"),
      );
      assert.deepEqual(await f.calls(), ["deploy Network", "deploy Network"]);
      assert.equal((await readCurrentDeployment(f.store, "dev"))?.sha, f.forced);
    });
  } finally {
    restore();
  }
});

Deno.test("commitRelation: fetches the live commit into a depth-1 checkout", async () => {
  await withRunOrderFixture(async (f) => {
    const [c1, c2, c3] = f.commits;
    const ws = join(f.root, "shallow");
    await checkoutCommit({
      workspace: ws,
      commitSha: c2,
      repoUrl: f.repoUrl,
      allowFileUrls: true,
      env: f.env,
    });
    const opts = { repoUrl: f.repoUrl, allowFileUrls: true, env: f.env };
    assert.deepEqual(await commitRelation(ws, { live: c3, candidate: c2 }, opts), {
      relation: "older",
    });
    assert.deepEqual(await commitRelation(ws, { live: c1, candidate: c2 }, opts), {
      relation: "newer",
    });
    assert.deepEqual(await commitRelation(ws, { live: c2, candidate: c2 }, opts), {
      relation: "same",
    });
    assert.deepEqual(await commitRelation(ws, { live: f.forced, candidate: c2 }, opts), {
      relation: "diverged",
    });
    const gone = "0123456789abcdef0123456789abcdef01234567";
    const r = await commitRelation(ws, { live: gone, candidate: c2 }, opts);
    assert.equal(r.relation, "diverged");
    assert.match(r.note ?? "", /not in the repository/);
  });
});

Deno.test("aphex deploy CLI: a stale deploy exits 0, status=stale, recorded as superseded by the live commit", async () => {
  const restore = mockAws();
  try {
    await withRunOrderFixture(async (f) => {
      const [c1, c2] = f.commits;
      assert.equal((await runDeploy(f.inputs(c2, "a"), f.deps([]))).exitCode, 0);
      const inputs = f.inputs(c1, "cli");
      // The CLI refuses file:// remotes: a full clone holds both commits, so nothing is fetched.
      for (
        const args of [
          ["clone", "--quiet", "--", join(f.root, "origin"), inputs.workspace],
          ["-C", inputs.workspace, "checkout", "--quiet", "--detach", c1],
        ]
      ) {
        const out = await new Deno.Command("git", { args, env: f.env, clearEnv: true }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      }
      await Deno.mkdir(inputs.outputsDir, { recursive: true });
      const env: Record<string, string> = {
        ...f.env,
        APHEX_ENV: "dev",
        APHEX_WORKSPACE: inputs.workspace,
        APHEX_COMMIT_SHA: c1,
        APHEX_OUTPUTS_DIR: inputs.outputsDir,
        APHEX_STORE_DIR: inputs.storeDir!,
        APHEX_CDK_COMMAND: `bash ${FAKE_CDK}`,
        APHEX_WORKFLOW_NAME: "aphex-run-old",
      };
      const ctx = captureContext(["deploy", "--json"], { env });
      assert.equal(await main(ctx), 0, ctx.err.join(""));
      assert.match(ctx.err.join(""), /skipped as stale — STALE:/);
      assert.equal(await Deno.readTextFile(join(inputs.outputsDir, "status")), "stale");
      const printed = JSON.parse(ctx.out.join(""));
      assert.equal(printed.status, "stale");
      const record = JSON.parse(
        await readText(f.store, stageRecordKey(c1, "aphex-run-old", "deploy-dev")),
      );
      assert.equal(record.stage.status, "superseded", "never recorded as a success");
      assert.equal(record.supersededBy, `commit ${c2}`);
      assert.deepEqual(await f.calls(), ["deploy Network"]);
    });
  } finally {
    restore();
  }
});
