/**
 * `aphex pipeline-update` deploys a pipeline stack built with `AphexPipelineResources` through
 * its pipeline-stack path (`createCdkPipelineStackDeployer`, what `runPipelineUpdate` calls): a
 * real `cdk synth` of a Node CDK app (tsx, the fixture app's aws-cdk-lib and CLI) that imports the
 * construct from the npm package's `aphex/cdk` (the modules `deno task npm` ships) for the example
 * config, then `cdk deploy` of exactly that stack through a stand-in
 * runner (nothing reaches AWS).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CdkRunRequest, createCdkRunner } from "../../adapters/cdk/runner.ts";
import { createCdkPipelineStackDeployer } from "../../adapters/cdk/pipeline_stack.ts";
import { bundleCdk, cdkExports } from "../../tools/build_npm.ts";
import { OIDC_ARN, ROOT } from "./_synth.ts";

const FIXTURE_APP = join(ROOT, "tests", "fixtures", "cdk-app");

// The user's pipeline stack: what `infra/pipeline-stack.ts` of the example config would hold.
const APP = `import { App, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { AphexPipelineResources } from "aphex/cdk";
import { loadPipelineConfig } from "aphex/cdk/config";

const { config } = await loadPipelineConfig(${JSON.stringify(join(ROOT, "aphex-config.yaml"))});
const app = new App();
const stack = new Stack(app, config.pipeline.pipelineStack.name, {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
const oidcProvider = iam.OpenIdConnectProvider.fromOpenIdConnectProviderArn(
  stack, "ClusterOidc", ${JSON.stringify(OIDC_ARN)},
);
new AphexPipelineResources(stack, "Aphex", { config, oidcProvider });
`;

Deno.test("pipeline-update synthesizes the construct's stack for real and deploys exactly it", async () => {
  await Deno.stat(join(FIXTURE_APP, "node_modules", "aws-cdk", "package.json"));
  // Inside the fixture app so that Node resolves aws-cdk-lib, tsx and the CDK CLI from its
  // node_modules; `aphex` is the npm package's subpath modules (its aws-cdk-lib import resolves
  // to the fixture's, as a peer dependency does).
  const appDir = await Deno.makeTempDir({ dir: FIXTURE_APP, prefix: ".pipeline-stack-" });
  try {
    const pkg = join(appDir, "node_modules", "aphex");
    await bundleCdk(join(pkg, "dist", "cdk"));
    await Deno.writeTextFile(
      join(pkg, "package.json"),
      JSON.stringify({ name: "aphex", type: "module", exports: cdkExports() }),
    );
    await Deno.writeTextFile(join(appDir, "app.mts"), APP);
    await Deno.writeTextFile(
      join(appDir, "cdk.json"),
      JSON.stringify({ app: "npx --no-install tsx app.mts" }),
    );

    const logs: string[] = [];
    const real = createCdkRunner({ log: (l) => logs.push(l) });
    const deploys: CdkRunRequest[] = [];
    // deno-lint-ignore no-explicit-any
    let template: Record<string, Record<string, any>> = {};
    const deployer = createCdkPipelineStackDeployer({
      runner: async (request) => {
        if (request.label === "synth") return await real(request);
        // The stand-in for `cdk deploy`: the assembly it would deploy, then "no changes".
        deploys.push(request);
        const assembly = request.args[request.args.indexOf("--app") + 1]!;
        template = JSON.parse(
          await Deno.readTextFile(join(assembly, "WebshopPipeline.template.json")),
        );
        return { exitCode: 0, output: " ✅  WebshopPipeline (no changes)\n" };
      },
    });
    const outcome = await deployer({
      workspace: FIXTURE_APP,
      stack: { name: "WebshopPipeline", path: `${appDir.slice(FIXTURE_APP.length + 1)}/app.mts` },
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/tmp",
        CDK_DISABLE_CLI_TELEMETRY: "true",
        CDK_DEFAULT_ACCOUNT: "111111111111",
        AWS_REGION: "us-east-1",
      },
      log: (l: string) => void logs.push(l),
    });
    assert.deepEqual(outcome, { stackName: "WebshopPipeline", noChanges: true }, logs.join("\n"));
    assert.equal(deploys.length, 1);
    assert.deepEqual(deploys[0]!.args.slice(2, 4), ["deploy", "WebshopPipeline"]);
    assert.ok(deploys[0]!.args.includes("--exclusively"));

    // What was deployed is the construct's stack for the example config.
    const resources = Object.values(template.Resources!);
    const ofType = (t: string) => resources.filter((r) => r.Type === t);
    assert.equal(ofType("AWS::S3::Bucket")[0]?.Properties.BucketName, "webshop-aphex-artifacts");
    assert.equal(ofType("AWS::IAM::Role")[0]?.Properties.RoleName, "webshop-aphex-pipeline");
    const statements = ofType("AWS::IAM::Policy")[0]!.Properties.PolicyDocument.Statement;
    assert.deepEqual(
      statements.map((s: { Sid: string }) => s.Sid),
      [
        "ArtifactObjects",
        "ArtifactBucket",
        "AssumeDeployRoles",
        "StackReads",
        "BootstrapVersion",
        "Metrics",
        "RunRecords",
        "Notifications",
      ],
    );
    assert.equal(ofType("AWS::CloudWatch::Alarm").length, 3);
    assert.deepEqual(
      Object.values(template.Outputs!).map((o) => o.Description).sort(),
      ["pipeline.artifactBucket", "pipeline.notifications.snsTopicArn", "pipeline.roleArn"],
    );
  } finally {
    await Deno.remove(appDir, { recursive: true });
  }
});
