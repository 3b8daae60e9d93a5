/**
 * Required CDK context from the configuration (`environments[].requiredContext`), so a push run's
 * preflight checks it without any flag: a missing or empty key is a problem naming the
 * environment and the app, before anything is built.
 */
import assert from "node:assert/strict";
import { runPreflight } from "../../stages/preflight.ts";
import { join } from "node:path";
import { configYaml, REPO_FILES } from "./_fixture.ts";

async function withWorkspace(
  files: Record<string, string>,
  fn: (ws: string, env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-preflight-context-" });
  try {
    const ws = join(root, "ws");
    for (const [path, content] of Object.entries(files)) {
      const full = join(ws, path);
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(full, content);
    }
    await fn(ws, { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: root });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("preflight: environments[].requiredContext is checked in that environment's CDK apps", async () => {
  const config = configYaml({
    build: ["git --version"],
    devExtra: ['requiredContext: ["aphex:team", "aphex:empty", "aphex:absent"]'],
  });
  await withWorkspace({ "aphex-config.yaml": config, ...REPO_FILES }, async (ws, env) => {
    const logs: string[] = [];
    const report = await runPreflight(
      { workspace: ws, configFile: "aphex-config.yaml", environment: "dev", skipAws: true },
      { env, log: (l) => logs.push(l) },
    );
    assert.equal(report.exitCode, 1, logs.join("\n"));
    const context = report.problems.filter((p) => p.check === "context");
    assert.deepEqual(
      context.map((p) => [p.environment, p.message.replace(/ in .*$/, "")]),
      [
        ["dev", 'CDK context key "aphex:empty" is missing or empty'],
        ["dev", 'CDK context key "aphex:absent" is missing or empty'],
      ],
    );
    assert.ok(
      report.passed.some((l) => /1\/3 context key\(s\) set/.test(l)),
      report.passed.join("\n"),
    );
  });
});
