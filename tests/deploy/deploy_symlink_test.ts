/** Issue 13 item 2, end to end: `aphex deploy` on a checkout with a committed link in dist/. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runDeploy } from "../../stages/deploy.ts";
import { testGitEnv } from "../stages/_git_repo.ts";
import { closedPortUrl } from "../monitoring/_helpers.ts";
import { ARTIFACTS, publishBuild, withDeployFixture } from "./_fixture.ts";

async function git(args: string[], cwd: string, env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd, env, clearEnv: true }).output();
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("deploy never writes through a committed symlink in build.artifacts", async () => {
  await withDeployFixture({}, async (f) => {
    const elsewhere = join(f.root, "elsewhere");
    await Deno.mkdir(elsewhere);
    // The attacker's commit: dist/nested -> <elsewhere>; the build publishes nested/config.json.
    const origin = join(f.root, "origin");
    const env = testGitEnv(f.root);
    await Deno.mkdir(join(origin, "dist"), { recursive: true });
    await Deno.symlink(elsewhere, join(origin, "dist", "nested"));
    await git(["add", "--all"], origin, env);
    await git(["commit", "--quiet", "-m", "link"], origin, env);
    const sha = await git(["rev-parse", "HEAD"], origin, env);
    await publishBuild(f.store, sha);
    const outcome = await runDeploy({ ...f.inputs, commitSha: sha }, {
      ...f.deps,
      // Whatever happens after the download, no AWS call may reach anything real.
      env: {
        ...f.deps.env,
        AWS_ENDPOINT_URL: await closedPortUrl(),
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY: "example-secret-for-tests",
        AWS_REGION: "us-east-1",
        AWS_MAX_ATTEMPTS: "1",
      },
    }).catch((e) => e as Error);
    assert.deepEqual([...Deno.readDirSync(elsewhere)], [], "a file was written outside dist/");
    const ws = f.inputs.workspace;
    assert.equal(Deno.lstatSync(join(ws, "dist", "nested")).isSymlink, false, String(outcome));
    assert.equal(
      await Deno.readTextFile(join(ws, "dist", "nested", "config.json")),
      ARTIFACTS["nested/config.json"],
    );
  });
});
