import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { captureContext } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { checkoutCommit } from "../../adapters/git/checkout.ts";
import { formatSynthOutcome, runSynth, type SynthOutcome } from "../../stages/synth.ts";
import { makeRepo, testGitEnv } from "../stages/_git_repo.ts";
import {
  assemblyManifest,
  configYaml,
  FAKE_CDK_COMMAND,
  PIPELINE_ACCOUNT,
  REPO_FILES,
  STACK_NAMES,
} from "./_fixture.ts";

const FIXTURE_APP = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "cdk-app");
const APP_FILES = ["cdk.json", "package.json", "bin/app.mts", "lib/stacks.mts"];

Deno.test("aphex synth: real synth of the fixture CDK app, one synth per environment; missing stack → exit 2", async () => {
  try {
    await Deno.stat(join(FIXTURE_APP, "node_modules", "aws-cdk", "package.json"));
  } catch {
    throw new Error(
      "fixture CDK app not installed: run `npm ci --prefix tests/fixtures/cdk-app --no-audit --no-fund`",
    );
  }
  const root = await Deno.makeTempDir({ prefix: "aphex-synth-test-" });
  try {
    const files: Record<string, string> = {};
    for (const f of APP_FILES) files[`infra/${f}`] = await Deno.readTextFile(join(FIXTURE_APP, f));
    const config = [
      'version: "1.0"',
      "build: { commands: [npm ci] }",
      "environments:",
      "  - name: dev",
      "    region: us-east-1",
      `    account: "${PIPELINE_ACCOUNT}"`,
      "    stacks:",
      ...STACK_NAMES.map((n) => `      - { name: ${n}, path: infra/lib/stacks.mts }`),
      "  - name: broken",
      "    region: us-east-1",
      `    account: "${PIPELINE_ACCOUNT}"`,
      "    stacks:",
      "      - { name: aphex-fixture-network, path: infra/lib/stacks.mts }",
      "      - { name: aphex-fixture-db, path: infra/bin/app.mts }",
      "",
    ].join("\n");
    const repo = await makeRepo(root, [{ "aphex-config.yaml": config, ...files }]);
    const sha = repo.commits[0]!;
    const ws = join(root, "ws");
    const env = {
      ...testGitEnv(root),
      HOME: Deno.env.get("HOME") ?? root,
      CDK_DISABLE_CLI_TELEMETRY: "true",
    };
    await checkoutCommit({
      workspace: ws,
      commitSha: sha,
      repoUrl: repo.url,
      allowFileUrls: true,
      env,
    });
    // The project's dependencies (its own CDK CLI) as a build step would have installed them.
    await Deno.symlink(join(FIXTURE_APP, "node_modules"), join(ws, "infra", "node_modules"));

    const ctx = captureContext(["synth", "--json"], {
      env: { ...env, APHEX_WORKSPACE: ws, APHEX_COMMIT_SHA: sha },
    });
    assert.equal(await main(ctx), 2, ctx.err.join(""));
    const err = ctx.err.join("");
    const outcome = JSON.parse(ctx.out.join("")) as SynthOutcome;
    assert.deepEqual(outcome.environments[0], {
      name: "dev",
      account: PIPELINE_ACCOUNT,
      region: "us-east-1",
      stacks: [
        { stackName: STACK_NAMES[0], displayName: "Network", app: "infra", dependencies: [] },
        {
          stackName: STACK_NAMES[1],
          displayName: "App",
          app: "infra",
          dependencies: [STACK_NAMES[0]],
        },
        {
          stackName: STACK_NAMES[2],
          displayName: "Monitoring",
          app: "infra",
          dependencies: [STACK_NAMES[1]],
        },
      ],
    });
    const broken = outcome.environments[1]!;
    assert.equal(broken.errorKind, "config");
    assert.equal(
      broken.error,
      'stack "aphex-fixture-db" (environment broken) not found in the CDK app; stacks it defines: ' +
        "aphex-fixture-network (Network), aphex-fixture-app (App), aphex-fixture-monitoring (Monitoring)",
    );
    assert.match(err, /\[synth\] environment broken: stack "aphex-fixture-db"/);
    // Both environments share account and region, but each is synthesized with its own
    // APHEX_ENV (the CDK-app contract): two syntheses.
    assert.equal(
      err.match(/\[synth\] cdk synth of infra for aws:\/\/111111111111\/us-east-1/g)?.length,
      2,
    );
    // The text rendering lists the stacks in deploy order.
    assert.equal(
      formatSynthOutcome(outcome),
      [
        "dev (aws://111111111111/us-east-1)",
        "  1. aphex-fixture-network     [Network]  app infra",
        "  2. aphex-fixture-app         [App]  app infra  depends on aphex-fixture-network",
        "  3. aphex-fixture-monitoring  [Monitoring]  app infra  depends on aphex-fixture-app",
        "broken (aws://111111111111/us-east-1)",
        "  configuration mismatch",
        "",
      ].join("\n"),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

async function withFakeWorkspace(
  config: string,
  fn: (ws: string, env: Record<string, string>, logs: string[]) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-synth-fake-" });
  try {
    const repo = await makeRepo(root, [{ "aphex-config.yaml": config, ...REPO_FILES }]);
    await Deno.writeTextFile(
      join(root, "manifest.json"),
      assemblyManifest("@ACCOUNT@", "@REGION@"),
    );
    const env = {
      ...testGitEnv(root),
      FAKE_CDK_MANIFEST: join(root, "manifest.json"),
      FAKE_CDK_CALLS: join(root, "calls.txt"),
    };
    // runSynth checks the commit out itself.
    const logs: string[] = [];
    const ws = join(root, "ws");
    const outcome = await runSynth(
      {
        workspace: ws,
        configFile: "aphex-config.yaml",
        commitSha: repo.commits[0]!,
        repoUrl: repo.url,
      },
      { env, log: (l) => logs.push(l), cdkCommand: FAKE_CDK_COMMAND, allowFileUrls: true },
    );
    assert.equal(outcome.exitCode, 0, logs.join("\n"));
    await fn(ws, env, logs);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("synth: checkout + every environment synthesized with its own account/region", async () => {
  await withFakeWorkspace(configYaml(), async (ws, env, logs) => {
    assert.ok(logs.includes("[synth] synth for 111111111111/us-east-1 region us-east-1"));
    assert.ok(logs.includes("[synth] synth for 222222222222/eu-west-1 region eu-west-1"));
    const one = await runSynth(
      { workspace: ws, configFile: "aphex-config.yaml", environment: "prod" },
      { env, log: () => {}, cdkCommand: FAKE_CDK_COMMAND },
    );
    assert.equal(one.exitCode, 0);
    assert.deepEqual(one.environments.map((e) => [e.name, e.stacks.map((s) => s.stackName)]), [
      ["prod", STACK_NAMES],
    ]);
  });
});

Deno.test("synth: a failing synth exits 1, an order against dependencies exits 2", async () => {
  await withFakeWorkspace(configYaml(), async (ws, env) => {
    const inputs = { workspace: ws, configFile: "aphex-config.yaml" };
    const logs: string[] = [];
    const failed = await runSynth(inputs, {
      env: { ...env, FAKE_CDK_SYNTH_FAIL: "1" },
      log: (l) => logs.push(l),
      cdkCommand: FAKE_CDK_COMMAND,
    });
    assert.equal(failed.exitCode, 1);
    assert.deepEqual(failed.environments.map((e) => e.errorKind), ["synth", "synth"]);
    assert.match(
      failed.environments[0]!.error!,
      /cdk synth failed in .*infra \(exit 3\):\n.*\nError: synth exploded$/,
    );
    assert.ok(logs.includes("[synth] Error: synth exploded"));

    // Reorder dev's stacks in the workspace's config: app before network.
    const reordered = configYaml({
      devStacks: [STACK_NAMES[1]!, STACK_NAMES[0]!, STACK_NAMES[2]!],
    });
    await Deno.writeTextFile(join(ws, "reordered.yaml"), reordered);
    const ctx = captureContext(
      [
        "synth",
        "--workspace",
        ws,
        "--config",
        "reordered.yaml",
        "--env",
        "dev",
        "--cdk-command",
        FAKE_CDK_COMMAND.join(" "),
      ],
      { env },
    );
    assert.equal(await main(ctx), 2, ctx.err.join(""));
    assert.match(
      ctx.err.join(""),
      /stack order \(environment dev\) contradicts the CDK app: "aphex-fixture-app" is configured before "aphex-fixture-network" but depends on it/,
    );
    assert.equal(
      ctx.out.join(""),
      "dev (aws://111111111111/us-east-1)\n  configuration mismatch\n",
    );

    // The default command (npx --no-install cdk) without the project's CDK CLI installed.
    const notInstalled = await runSynth({ ...inputs, environment: "dev" }, {
      env,
      log: () => {},
    });
    assert.equal(notInstalled.exitCode, 1);
    assert.match(
      notInstalled.environments[0]!.error!,
      /\nhint: the project's CDK CLI is not installed \(no node_modules\/\.bin\/cdk in .*infra or above, and no lockfile to install from\)/,
    );

    const unknown = captureContext(["synth", "--workspace", ws, "--env", "nope"], { env });
    assert.equal(await main(unknown), 2);
    assert.match(unknown.err.join(""), /valid environments: dev, prod/);
  });
});
