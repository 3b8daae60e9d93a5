/**
 * IAM broadening from a real synthesized template pair (issue 14): the fixture CDK app synthesized
 * with the real `cdk` twice — a worker role that consumes the queue, then the same role with one
 * more policy statement — and {@linkcode securityBroadening} on the App stack's templates.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { synthesizeApp } from "../../adapters/cdk/app.ts";
import { DEFAULT_CDK_COMMAND } from "../../adapters/cdk/cli.ts";
import { createCdkRunner } from "../../adapters/cdk/runner.ts";
import { securityBroadening, type TemplateDocument } from "../../models/plan.ts";

const FIXTURE_APP = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "cdk-app");

async function synthApp(worker: string): Promise<TemplateDocument> {
  const outputDir = await Deno.makeTempDir({ prefix: "aphex-plan-synth-" });
  try {
    const assembly = await synthesizeApp(FIXTURE_APP, {
      account: "111111111111",
      region: "us-east-1",
      environment: "dev",
      commitSha: "a".repeat(40),
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? outputDir,
        CDK_DISABLE_CLI_TELEMETRY: "true",
      },
      outputDir,
      runner: createCdkRunner({ log: () => {} }),
      cdkCommand: DEFAULT_CDK_COMMAND,
      extraArgs: ["--context", `aphex-fixture:worker=${worker}`],
    });
    const app = assembly.stacks.find((s) => s.stackName === "aphex-fixture-app")!;
    return JSON.parse(await Deno.readTextFile(join(assembly.dir, app.templateFile!)));
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
}

Deno.test("real cdk synth: adding a policy statement is IAM broadening; the unchanged pair is not", async () => {
  const base = await synthApp("base");
  const broader = await synthApp("broader");
  const types = Object.values(broader.Resources ?? {}).map((r) => r.Type);
  assert.ok(types.includes("AWS::IAM::Policy"), "the worker role's policy is synthesized");

  const added = securityBroadening(base, broader);
  assert.equal(added.length, 1, JSON.stringify(added));
  assert.equal(added[0]!.kind, "iam-statement");
  assert.match(added[0]!.detail, /^Allow s3:GetObject on \* \(AWS::IAM::Policy\)$/);

  assert.deepEqual(securityBroadening(base, base), []);
  // Going back (removing the statement) narrows access: not broadening.
  assert.deepEqual(securityBroadening(broader, base), []);
  // A new stack: every Allow of the role (its trust policy included) is new.
  const fresh = securityBroadening(undefined, base);
  assert.ok(
    fresh.some((c) => /sts:AssumeRole.*lambda\.amazonaws\.com/.test(c.detail)),
    JSON.stringify(fresh),
  );
  assert.ok(fresh.some((c) => /sqs:ReceiveMessage/.test(c.detail)), JSON.stringify(fresh));
});
