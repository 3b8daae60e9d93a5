/**
 * Issue 13 item 3, end to end: a failing build printing a multi-line secret (raw and JSON-escaped)
 * leaks it neither into the stage log, the uploaded `logs/build.log`, nor the BuildResult.
 */
import assert from "node:assert/strict";
import { logKey, readText } from "../../adapters/store/artifact_store.ts";
import { LocalArtifactStore } from "../../adapters/store/local_store.ts";
import { runBuild } from "../../stages/build.ts";
import { makeRepo, testGitEnv } from "./_git_repo.ts";

const PEM = [
  "-----BEGIN EC PRIVATE KEY-----",
  "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oDsgmVPaeoGIoAoGCCqGSM49",
  "AwEHoUQDQgAEm9Ei0SQxVfLvLOWrPeBv2tSsBn0sYtsCmWvsvmB3BEBdNeFvQW6r",
  "-----END EC PRIVATE KEY-----",
].join("\n");

Deno.test("a failing build never leaks a multi-line secret into logs, build.log or the result", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-secret-" });
  try {
    const commands = [
      `printf '%s\\n' "$DEPLOY_PRIVATE_KEY"; printf '{"k":"%s"}\\n' "\${DEPLOY_PRIVATE_KEY//$'\\n'/\\\\n}" >&2; exit 7`,
    ];
    const config = [
      'version: "1.0"',
      "build:",
      "  commands:",
      ...commands.map((c) => `    - ${JSON.stringify(c)}`),
      "environments:",
      "  - name: dev",
      "    region: us-east-1",
      '    account: "111111111111"',
      "    stacks:",
      "      - { name: App-dev, path: infra/app.ts }",
      "",
    ].join("\n");
    const repo = await makeRepo(root, [{ "aphex-config.yaml": config }]);
    const sha = repo.commits[0]!;
    const logs: string[] = [];
    const outcome = await runBuild({
      workspace: `${root}/ws`,
      commitSha: sha,
      repoUrl: repo.url,
      configFile: "aphex-config.yaml",
      storeDir: `${root}/store`,
      outputsDir: `${root}/outputs`,
    }, {
      env: { ...testGitEnv(root), DEPLOY_PRIVATE_KEY: PEM },
      log: (l) => logs.push(l),
      allowFileUrls: true,
    });
    assert.equal(outcome.exitCode, 1);
    const uploaded = await readText(new LocalArtifactStore(`${root}/store`), logKey(sha, "build"));
    const everything = [logs.join("\n"), uploaded, JSON.stringify(outcome)].join("\n");
    for (const line of PEM.split("\n").slice(1, 3)) {
      assert.ok(!everything.includes(line), `leaked ${line.slice(0, 12)}…`);
    }
    assert.ok(!everything.includes(JSON.stringify(PEM).slice(1, -1)));
    assert.match(uploaded, /\{"k":"\*\*\*"\}/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
