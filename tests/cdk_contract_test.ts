/**
 * The CDK-app contract (issue 16): the app receives the same environment variables whether Aphex
 * synthesizes it (`aphex synth`, `run --local`, pull-request validation) or deploys it.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cdkEnvironment } from "../adapters/cdk/cli.ts";
import { childEnvironment } from "../adapters/cdk/environment.ts";
import { runSynth } from "../stages/synth.ts";
import { assemblyManifest, FAKE_CDK, STACK_NAMES } from "./deploy/_fixture.ts";

const TARGET = { account: "123456789012", region: "eu-west-1" };
const CONTRACT = [
  "APHEX_ENV",
  "APHEX_COMMIT_SHA",
  "APHEX_WORKSPACE",
  "CDK_DEFAULT_ACCOUNT",
  "CDK_DEFAULT_REGION",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
];

Deno.test("cdkEnvironment is the contract; deploy's child environment is built from it", () => {
  const env: Record<string, string> = cdkEnvironment({ PATH: "/bin" }, {
    ...TARGET,
    environment: "dev",
    commitSha: "a".repeat(40),
    workspace: "/repo",
  });
  assert.deepEqual(env, {
    PATH: "/bin",
    CDK_DEFAULT_ACCOUNT: "123456789012",
    CDK_DEFAULT_REGION: "eu-west-1",
    AWS_REGION: "eu-west-1",
    AWS_DEFAULT_REGION: "eu-west-1",
    APHEX_ENV: "dev",
    APHEX_COMMIT_SHA: "a".repeat(40),
    APHEX_WORKSPACE: "/repo",
  });
  const deploy = childEnvironment({ PATH: "/bin" }, { name: "dev", ...TARGET }, {
    commitSha: "a".repeat(40),
    workspace: "/repo",
  });
  const contract: Record<string, string> = { ...env };
  for (const key of CONTRACT) assert.equal(deploy[key], contract[key], key);
});

Deno.test("aphex synth gives the app APHEX_ENV per environment, like deploy", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-contract-" });
  try {
    const ws = join(root, "ws");
    await Deno.mkdir(join(ws, "infra"), { recursive: true });
    await Deno.writeTextFile(join(ws, "infra", "cdk.json"), '{ "app": "true" }\n');
    await Deno.writeTextFile(join(ws, "infra", "app.ts"), "export {};\n");
    const stacks = STACK_NAMES.map((n) => `      - { name: ${n}, path: infra/app.ts }`);
    const env = (name: string) => [
      `  - name: ${name}`,
      "    region: eu-west-1",
      '    account: "123456789012"',
      "    stacks:",
      ...stacks,
    ];
    await Deno.writeTextFile(
      join(ws, "aphex-config.yaml"),
      [
        'version: "1.0"',
        "build: { commands: [make] }",
        "environments:",
        ...env("dev"),
        ...env("qa"),
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      join(root, "manifest.json"),
      assemblyManifest("@ACCOUNT@", "@REGION@"),
    );
    const seen = join(root, "seen.txt");
    const cdk = join(root, "cdk.sh");
    await Deno.writeTextFile(
      cdk,
      [
        "#!/usr/bin/env bash",
        `echo "$APHEX_ENV $CDK_DEFAULT_ACCOUNT $CDK_DEFAULT_REGION $AWS_REGION $APHEX_WORKSPACE $APHEX_COMMIT_SHA" >>${seen}`,
        `exec bash ${FAKE_CDK} "$@"`,
        "",
      ].join("\n"),
    );
    const outcome = await runSynth({ workspace: ws, configFile: "aphex-config.yaml" }, {
      env: { PATH: Deno.env.get("PATH") ?? "/bin", FAKE_CDK_MANIFEST: join(root, "manifest.json") },
      log: () => {},
      cdkCommand: ["bash", cdk],
      commitSha: "b".repeat(40),
    });
    assert.equal(outcome.exitCode, 0, JSON.stringify(outcome));
    assert.deepEqual((await Deno.readTextFile(seen)).trimEnd().split("\n"), [
      `dev 123456789012 eu-west-1 eu-west-1 ${ws} ${"b".repeat(40)}`,
      `qa 123456789012 eu-west-1 eu-west-1 ${ws} ${"b".repeat(40)}`,
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
