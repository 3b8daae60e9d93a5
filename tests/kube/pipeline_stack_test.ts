/**
 * The default pipeline-stack deployer of `aphex pipeline-update`: a real `cdk synth` of the
 * fixture CDK app, then `cdk deploy` of the one configured stack through an injected runner
 * (nothing reaches AWS).
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CdkRunRequest, createCdkRunner } from "../../adapters/cdk/runner.ts";
import { AphexError } from "../../models/errors.ts";
import { createCdkPipelineStackDeployer } from "../../adapters/cdk/pipeline_stack.ts";

const FIXTURE_APP = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "cdk-app");

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    CDK_DISABLE_CLI_TELEMETRY: "true",
    CDK_DEFAULT_ACCOUNT: "111111111111",
    AWS_REGION: "us-east-1",
    APHEX_GITHUB_TOKEN: "ghp_secret_never_passed_on",
    ...extra,
  };
}

Deno.test("pipeline stack: synthesized for real, then exactly its stack is deployed; no changes is success", async () => {
  await Deno.stat(join(FIXTURE_APP, "node_modules", "aws-cdk", "package.json"));
  const logs: string[] = [];
  const real = createCdkRunner({ log: (l) => logs.push(l) });
  const deploys: CdkRunRequest[] = [];
  let assemblyDir = "";
  let deployResult = { exitCode: 0, output: " ✅  Network (no changes)\n" };
  // The first synth is real; later ones reuse a copy of its assembly (a synth takes ~20 s).
  const cache = await Deno.makeTempDir({ prefix: "aphex-assembly-cache-" });
  let synths = 0;
  const deployer = createCdkPipelineStackDeployer({
    runner: async (request) => {
      if (request.label === "synth") {
        assemblyDir = request.args[request.args.indexOf("--output") + 1]!;
        if (synths++ > 0) {
          await copyDir(cache, assemblyDir);
          return { exitCode: 0, output: "" };
        }
        const result = await real(request);
        await copyDir(assemblyDir, cache);
        return result;
      }
      deploys.push(request);
      return deployResult;
    },
  });
  try {
    const request = {
      workspace: FIXTURE_APP,
      stack: { name: "aphex-fixture-network", path: "bin/app.mts" },
      env: env(),
      log: (l: string) => void logs.push(l),
    };

    const outcome = await deployer(request);
    assert.deepEqual(outcome, { stackName: "aphex-fixture-network", noChanges: true });
    assert.equal(deploys.length, 1);
    const d = deploys[0]!;
    assert.equal(d.bin, "npx");
    assert.deepEqual(d.args.slice(0, 7), [
      "--no-install",
      "cdk",
      "deploy",
      "Network",
      "--app",
      assemblyDir,
      "--exclusively",
    ]);
    assert.equal(d.cwd, FIXTURE_APP);
    assert.equal(d.env.CDK_DEFAULT_ACCOUNT, "111111111111");
    assert.equal(d.env.CDK_DEFAULT_REGION, "us-east-1");
    assert.equal(d.env.APHEX_GITHUB_TOKEN, undefined, "the git token never reaches the CDK app");
    await assert.rejects(Deno.stat(assemblyDir), Deno.errors.NotFound, "assembly cleaned up");

    deployResult = { exitCode: 1, output: "Network failed: ValidationError: boom\n" };
    await assert.rejects(
      deployer(request),
      (e: Error) =>
        e instanceof AphexError && e.exitCode === 1 &&
        /pipeline stack aphex-fixture-network failed \(exit 1\):\nNetwork failed: ValidationError: boom/
          .test(e.message),
    );

    await assert.rejects(
      deployer({ ...request, stack: { name: "NoSuchStack", path: "bin/app.mts" } }),
      (e: Error) => e instanceof AphexError && e.exitCode === 2 && /"NoSuchStack"/.test(e.message),
    );
    await assert.rejects(
      Deno.stat(assemblyDir),
      Deno.errors.NotFound,
      "cleaned up after errors too",
    );
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

async function copyDir(from: string, to: string): Promise<void> {
  const out = await new Deno.Command("cp", { args: ["-R", "--", `${from}/.`, to] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test("pipeline stack: no region → usage error before anything runs", async () => {
  let ran = false;
  const deployer = createCdkPipelineStackDeployer({
    runner: () => {
      ran = true;
      return Promise.resolve({ exitCode: 0, output: "" });
    },
  });
  await assert.rejects(
    deployer({
      workspace: FIXTURE_APP,
      stack: { name: "aphex-fixture-network", path: "bin/app.mts" },
      env: { PATH: "/bin", CDK_DEFAULT_ACCOUNT: "111111111111" },
      log: () => {},
    }),
    (e: Error) => e instanceof AphexError && e.exitCode === 2 && /AWS_REGION/.test(e.message),
  );
  assert.equal(ran, false);
});
