/** Preflight's bootstrap check reads the version and refuses one too old for deployments. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { formatProblem, MIN_BOOTSTRAP_VERSION, runPreflight } from "../../stages/preflight.ts";
import { PIPELINE_ACCOUNT, PIPELINE_ARN, REPO_FILES } from "./_fixture.ts";

const CONFIG = 'version: "1.0"\nbuild: { commands: [git status] }\nenvironments:\n' +
  `  - { name: dev, region: us-east-1, account: "${PIPELINE_ACCOUNT}", ` +
  "stacks: [{ name: App, path: infra/lib/stacks.ts }] }\n";

async function preflightWithVersion(value: string | undefined) {
  const root = await Deno.makeTempDir({ prefix: "aphex-preflight-bootstrap-" });
  const sts = mockClient(STSClient);
  const ssm = mockClient(SSMClient);
  try {
    sts.on(GetCallerIdentityCommand).resolves({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN });
    ssm.on(GetParameterCommand).resolves({
      Parameter: value === undefined ? {} : { Value: value },
    });
    for (const [path, content] of Object.entries({ "aphex-config.yaml": CONFIG, ...REPO_FILES })) {
      await Deno.mkdir(join(root, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(root, path), content);
    }
    return await runPreflight(
      { workspace: root, configFile: "aphex-config.yaml" },
      { env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: root }, log: () => {} },
    );
  } finally {
    sts.restore();
    ssm.restore();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("preflight: bootstrap versions older than the CDK needs (or unreadable) are problems", async () => {
  assert.equal(MIN_BOOTSTRAP_VERSION, 6);
  for (const value of ["5", "1", "", "v27", undefined]) {
    const report = await preflightWithVersion(value);
    const bootstrap = report.problems.filter((p) => p.check === "bootstrap").map(formatProblem);
    assert.equal(bootstrap.length, 1, `${value}: ${JSON.stringify(report.problems)}`);
    assert.match(
      bootstrap[0]!,
      new RegExp(
        `^\\[bootstrap\\] environment dev \\(account ${PIPELINE_ACCOUNT}\\): CDK bootstrap in ` +
          `aws://${PIPELINE_ACCOUNT}/us-east-1 is version ".*"; deployments need version 6 or ` +
          "later: run `npx cdk bootstrap",
      ),
    );
    assert.equal(report.exitCode, 1);
  }
  for (const value of ["6", "27"]) {
    const report = await preflightWithVersion(value);
    assert.deepEqual(report.problems, [], value);
    assert.ok(report.passed.some((l) => l.includes(`CDK bootstrap version ${value} in`)));
  }
});
