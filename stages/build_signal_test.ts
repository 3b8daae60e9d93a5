import assert from "node:assert/strict";
import { logKey, metadataKey, readText } from "../adapters/store/artifact_store.ts";
import { LocalArtifactStore } from "../adapters/store/local_store.ts";
import { checkoutCommit } from "../adapters/git/checkout.ts";
import { makeRepo, testGitEnv } from "../tests/stages/_git_repo.ts";

const BUILD = new URL("./build.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

function processGone(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

Deno.test("SIGTERM to a running build stage kills the command group, records it, exits non-zero", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-sigterm-" });
  try {
    const config = [
      'version: "1.0"',
      "build:",
      "  commands:",
      '    - "echo before"',
      '    - "sleep 300 & echo $! > $APHEX_WORKSPACE/../grandchild.pid; echo started; wait"',
      "environments:",
      "  - name: dev",
      "    region: us-east-1",
      '    account: "111111111111"',
      "    stacks: [{ name: App, path: app.ts }]",
      "",
    ].join("\n");
    const repo = await makeRepo(root, [{ "aphex-config.yaml": config }]);
    const sha = repo.commits[0]!;
    const workspace = `${root}/ws`;
    const gitEnv = testGitEnv(root);
    await checkoutCommit({
      workspace,
      commitSha: sha,
      repoUrl: repo.url,
      allowFileUrls: true,
      env: gitEnv,
    });

    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--config", CONFIG, BUILD, "--commit-sha", sha],
      env: {
        ...gitEnv,
        // The child Deno needs its module cache (found through HOME or DENO_DIR).
        HOME: Deno.env.get("HOME") ?? "/root",
        ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
        APHEX_WORKSPACE: workspace,
        APHEX_OUTPUTS_DIR: `${root}/outputs`,
      },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    let exited = false;
    const statusPromise = child.status.finally(() => exited = true);
    const stderrText = new Response(child.stderr).text();
    const stdoutText = new Response(child.stdout).text();
    const pidFile = `${root}/grandchild.pid`;
    let grandchild = 0;
    for (let i = 0; i < 600 && grandchild === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      grandchild = Number((await Deno.readTextFile(pidFile).catch(() => "")).trim()) || 0;
    }
    if (grandchild === 0 && !exited) child.kill("SIGKILL");
    if (grandchild === 0) {
      await statusPromise;
      assert.fail(`the build command never started: ${await stderrText}${await stdoutText}`);
    }
    assert.ok(!processGone(grandchild));
    child.kill("SIGTERM");
    const status = await statusPromise;
    const stderr = await stderrText;
    await stdoutText;

    // Stopped by SIGTERM: exits 143 (128 + 15), as the shell reports a process killed by it.
    assert.equal(status.code, 143, stderr);
    for (let i = 0; i < 40 && !processGone(grandchild); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(processGone(grandchild), `grandchild ${grandchild} survived`);
    assert.match(stderr, /\[build\/1\] before/);
    assert.match(stderr, /FAILED: build command #2 \(.*\) cancelled by SIGTERM/);
    // The record: Argo outputs, the uploaded log, and no metadata.json.
    assert.equal(await Deno.readTextFile(`${root}/outputs/success`), "false");
    const result = JSON.parse(await Deno.readTextFile(`${root}/outputs/result.json`));
    assert.match(result.failure, /cancelled by SIGTERM/);
    assert.equal(result.result.exitCode, 143);
    const store = new LocalArtifactStore(`${workspace}/.aphex/store`);
    assert.match(await readText(store, logKey(sha, "build")), /cancelled by SIGTERM/);
    assert.equal(await store.exists(metadataKey(sha)), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
