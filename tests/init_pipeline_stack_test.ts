/**
 * `aphex init --pipeline-stack` (issue 19, item 3): the configuration it renders sets
 * `pipeline.pipelineStack` and validates; the stack file imports the construct from `aphex/cdk`
 * and takes the OIDC provider from CDK context or the environment; refusals (another app's
 * cdk.json, existing files without --force) happen before anything is written. The real synth of
 * the written file with the packed npm package is in tests/npm_package_test.ts.
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { captureContext } from "../command/contract.ts";
import {
  defaultPipelineStackFile,
  renderInitConfig,
  renderPipelineCdkJson,
  renderPipelineStack,
} from "../templates/init_scaffold.ts";
import { main } from "../cli/main.ts";
import { parseConfig } from "../models/config_parse.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURE_APP = join(ROOT, "tests", "fixtures", "cdk-app");

Deno.test("renderInitConfig with a pipeline stack: pipeline.pipelineStack set, valid as written", () => {
  const text = renderInitConfig({
    environments: [{ name: "dev", region: "us-east-1", account: "111111111111" }],
    example: false,
    stacks: [{ stackName: "App", displayName: "App", dependencies: [] }] as never,
    stackPath: "infra/bin/app.mts",
    appDir: "infra",
    pipelineStack: { name: "AphexPipeline", path: "infra/pipeline/pipeline-stack.ts" },
  });
  const parsed = parseConfig(text, { file: "aphex-config.yaml" });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  assert.deepEqual(parsed.config.pipeline.pipelineStack, {
    name: "AphexPipeline",
    path: "infra/pipeline/pipeline-stack.ts",
  });
  assert.equal(defaultPipelineStackFile("infra"), "infra/pipeline/pipeline-stack.ts");
  assert.equal(defaultPipelineStackFile("."), "pipeline/pipeline-stack.ts");
});

Deno.test("renderPipelineStack: imports aphex/cdk, reads the config, OIDC ARN from context or env", () => {
  const file = renderPipelineStack("../..", "aphex-config.yaml");
  assert.match(file, /^import \{ AphexPipelineResources \} from "aphex\/cdk";$/m);
  assert.match(file, /^import \{ loadPipelineConfig \} from "aphex\/cdk\/config";$/m);
  assert.match(file, /process\.env\.APHEX_WORKSPACE \?\? resolve\("\.\.\/\.\."\)/);
  assert.match(file, /tryGetContext\("aphex:oidcProviderArn"\)/);
  assert.match(file, /process\.env\.APHEX_OIDC_PROVIDER_ARN/);
  assert.match(file, /new AphexPipelineResources\(stack, "Aphex", \{ config, oidcProvider \}\)/);
  // The header explains the bootstrap deploy.
  assert.match(file, /^\/\/ {3}npx cdk deploy -c aphex:oidcProviderArn=/m);
  assert.deepEqual(JSON.parse(renderPipelineCdkJson("pipeline-stack.ts", "arn:x")), {
    app: "npx --no-install tsx pipeline-stack.ts",
    context: { "aphex:oidcProviderArn": "arn:x" },
  });
  assert.deepEqual(JSON.parse(renderPipelineCdkJson("pipeline-stack.ts")), {
    app: "npx --no-install tsx pipeline-stack.ts",
  });
});

Deno.test("aphex init --pipeline-stack: refuses another app's cdk.json and existing files, writing nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-init-ps-" });
  try {
    const repo = join(root, "repo");
    await Deno.mkdir(join(repo, ".git"), { recursive: true });
    for (const f of ["cdk.json", "package.json", "bin/app.mts", "lib/stacks.mts"]) {
      await Deno.mkdir(dirname(join(repo, "infra", f)), { recursive: true });
      await Deno.copyFile(join(FIXTURE_APP, f), join(repo, "infra", f));
    }
    const rows: [string[], RegExp][] = [
      [
        ["init", "--pipeline-stack-file", "infra/pipeline-stack.ts"],
        /infra\/cdk\.json runs another CDK app; the pipeline stack is its own app/,
      ],
      [["init", "--pipeline-stack-file", "infra/pipeline/stack.py"], /expected a \.ts file/],
    ];
    for (const [args, message] of rows) {
      const ctx = captureContext(args, { cwd: repo, env: {} });
      assert.equal(await main(ctx), 2, args.join(" "));
      assert.match(ctx.err.join(""), message);
    }
    await Deno.mkdir(join(repo, "infra", "pipeline"));
    await Deno.writeTextFile(join(repo, "infra", "pipeline", "pipeline-stack.ts"), "mine\n");
    const ctx = captureContext(["init", "--pipeline-stack"], { cwd: repo, env: {} });
    assert.equal(await main(ctx), 2);
    assert.match(ctx.err.join(""), /pipeline-stack\.ts exists; pass --force to overwrite it/);
    assert.equal(
      await Deno.readTextFile(join(repo, "infra", "pipeline", "pipeline-stack.ts")),
      "mine\n",
    );
    for (const f of ["aphex-config.yaml", "infra/pipeline/cdk.json"]) {
      await assert.rejects(() => Deno.stat(join(repo, f)), Deno.errors.NotFound);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
