import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { AphexError } from "../../models/errors.ts";
import { findCdkAppDir, locateCdkApps } from "./app_dir.ts";
import { type CloudAssembly, parseAssemblyManifest, selectStacks } from "./assembly.ts";
import { deployArgs, deployStack, synthesize } from "./cli.ts";
import { type CdkRunner, createCdkRunner } from "./runner.ts";

const FIXTURE_APP = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "tests",
  "fixtures",
  "cdk-app",
);
const INSTALL_COMMAND = "npm ci --prefix tests/fixtures/cdk-app --no-audit --no-fund";

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

async function assertFixtureInstalled(): Promise<void> {
  try {
    await Deno.stat(join(FIXTURE_APP, "node_modules", "aws-cdk", "package.json"));
  } catch {
    throw new Error(
      `the fixture CDK app's dependencies are not installed (${FIXTURE_APP}/node_modules is ` +
        `missing); run \`${INSTALL_COMMAND}\` from the repository root first`,
    );
  }
}

function aphexError(pattern: RegExp, exitCode?: number) {
  return (error: unknown) => {
    assert.ok(error instanceof AphexError, `expected AphexError, got ${error}`);
    assert.match(error.message, pattern);
    if (exitCode !== undefined) assert.equal(error.exitCode, exitCode);
    return true;
  };
}

Deno.test("synthesizes the fixture CDK app for real and parses its assembly", async (t) => {
  await assertFixtureInstalled();
  const out = await Deno.makeTempDir({ prefix: "aphex-cdk-test-" });
  try {
    const assembly = await synthesize(FIXTURE_APP, {
      account: "111111111111",
      region: "us-east-1",
      env: { ...baseEnv(), CDK_DISABLE_CLI_TELEMETRY: "true" },
      outputDir: join(out, "cdk.out"),
    });

    await t.step("stacks found with names, environment and dependencies", () => {
      assert.equal(assembly.dir, join(out, "cdk.out"));
      assert.deepEqual(
        assembly.stacks.map((s) => [s.artifactId, s.displayName, s.stackName, s.dependencies]),
        [
          ["Network", "Network", "aphex-fixture-network", []],
          ["App", "App", "aphex-fixture-app", ["aphex-fixture-network"]],
          ["Monitoring", "Monitoring", "aphex-fixture-monitoring", ["aphex-fixture-app"]],
        ],
      );
      for (const stack of assembly.stacks) {
        assert.deepEqual(stack.environment, { account: "111111111111", region: "us-east-1" });
        assert.equal(stack.templateFile, `${stack.artifactId}.template.json`);
      }
    });

    await t.step("configured stacks resolve in order (by stack name or display name)", () => {
      const selected = selectStacks(
        assembly,
        ["aphex-fixture-network", "App", "aphex-fixture-monitoring"],
        { expectEnvironment: { account: "111111111111", region: "us-east-1" } },
      );
      assert.deepEqual(selected.map((s) => s.stackName), [
        "aphex-fixture-network",
        "aphex-fixture-app",
        "aphex-fixture-monitoring",
      ]);
    });

    await t.step("a missing stack is reported with the stacks that exist", () => {
      assert.throws(
        () => selectStacks(assembly, ["aphex-fixture-network", "aphex-fixture-db"]),
        aphexError(
          /"aphex-fixture-db" not found in the CDK app; stacks it defines: aphex-fixture-network \(Network\), aphex-fixture-app \(App\), aphex-fixture-monitoring \(Monitoring\)/,
          2,
        ),
      );
    });

    await t.step("a dependency-order violation names both stacks", () => {
      assert.throws(
        () =>
          selectStacks(assembly, ["aphex-fixture-app", "aphex-fixture-network"], {
            context: "environment dev",
          }),
        aphexError(
          /stack order \(environment dev\) contradicts the CDK app: "aphex-fixture-app" is configured before "aphex-fixture-network" but depends on it/,
          2,
        ),
      );
      // Transitive: monitoring depends on network through app.
      assert.throws(
        () => selectStacks(assembly, ["aphex-fixture-monitoring", "aphex-fixture-network"]),
        aphexError(/"aphex-fixture-monitoring" is configured before "aphex-fixture-network"/),
      );
    });

    await t.step("a stack targeting another account is rejected", () => {
      assert.throws(
        () =>
          selectStacks(assembly, ["aphex-fixture-network"], {
            expectEnvironment: { account: "222222222222", region: "us-east-1" },
          }),
        aphexError(
          /targets aws:\/\/111111111111\/us-east-1 but the environment is aws:\/\/222222222222/,
        ),
      );
    });
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("synth refuses a non-empty output dir and reports a failing synth", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aphex-cdk-test-" });
  try {
    await Deno.writeTextFile(join(dir, "stale.json"), "{}");
    let ran = false;
    const runner: CdkRunner = () => {
      ran = true;
      return Promise.resolve({ exitCode: 0, output: "" });
    };
    await assert.rejects(
      synthesize(dir, { account: "1", region: "r", env: {}, outputDir: dir, runner }),
      aphexError(/not empty/),
    );
    assert.equal(ran, false);

    const seen: Parameters<CdkRunner>[0][] = [];
    const failing: CdkRunner = (request) => {
      seen.push(request);
      return Promise.resolve({ exitCode: 3, output: "line 1\nError: boom\n" });
    };
    await assert.rejects(
      synthesize(dir, {
        account: "123456789012",
        region: "eu-west-1",
        env: { PATH: "/bin" },
        outputDir: join(dir, "out"),
        runner: failing,
      }),
      aphexError(/cdk synth failed in .* \(exit 3\):\nline 1\nError: boom/),
    );
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.bin, "npx");
    assert.deepEqual(seen[0]!.args, [
      "--no-install",
      "cdk",
      "synth",
      "--output",
      join(dir, "out"),
      "--quiet",
      "--no-notices",
    ]);
    assert.deepEqual(seen[0]!.env, {
      PATH: "/bin",
      CDK_DEFAULT_ACCOUNT: "123456789012",
      CDK_DEFAULT_REGION: "eu-west-1",
      AWS_REGION: "eu-west-1",
      AWS_DEFAULT_REGION: "eu-west-1",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findCdkAppDir walks up to the nearest cdk.json, never above the workspace", async () => {
  const top = await Deno.makeTempDir({ prefix: "aphex-cdk-find-" });
  try {
    const ws = join(top, "ws");
    await Deno.mkdir(join(ws, "infra", "lib", "deep"), { recursive: true });
    await Deno.mkdir(join(ws, "other", "src"), { recursive: true });
    await Deno.writeTextFile(join(top, "cdk.json"), "{}"); // above the workspace: never used
    await Deno.writeTextFile(join(ws, "infra", "cdk.json"), "{}");
    await Deno.writeTextFile(join(ws, "infra", "lib", "deep", "stack.ts"), "");

    assert.equal(await findCdkAppDir(ws, "infra/lib/deep/stack.ts"), join(ws, "infra"));
    assert.equal(await findCdkAppDir(ws, "infra/lib/deep"), join(ws, "infra"));
    assert.equal(await findCdkAppDir(ws, "infra/lib/not-yet.ts"), join(ws, "infra"));
    assert.equal(await findCdkAppDir(ws, "infra"), join(ws, "infra"));
    await assert.rejects(
      findCdkAppDir(ws, "other/src/stack.ts"),
      aphexError(
        /no cdk.json found for stack path "other\/src\/stack.ts": looked in other\/src, other, \./,
        2,
      ),
    );
    await assert.rejects(findCdkAppDir(ws, "../cdk.json"), aphexError(/outside the workspace/, 2));

    await Deno.writeTextFile(join(ws, "cdk.json"), "{}");
    assert.equal(await findCdkAppDir(ws, "other/src/stack.ts"), ws);

    assert.deepEqual(
      await locateCdkApps(ws, [
        { name: "a", path: "infra/lib/deep/stack.ts" },
        { name: "b", path: "other/src/stack.ts" },
        { name: "c", path: "infra" },
      ]),
      [{ appDir: join(ws, "infra"), stacks: ["a", "c"] }, { appDir: ws, stacks: ["b"] }],
    );
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("parseAssemblyManifest keeps stack artifacts and stack-to-stack dependencies only", () => {
  const manifest = {
    version: "55.0.0",
    artifacts: {
      "A.assets": { type: "cdk:asset-manifest", properties: { file: "A.assets.json" } },
      A: {
        type: "aws:cloudformation:stack",
        environment: "aws://unknown-account/unknown-region",
        properties: { templateFile: "A.template.json" },
        dependencies: ["A.assets"],
      },
      "Stage/B": {
        type: "aws:cloudformation:stack",
        displayName: "Stage/B",
        environment: "aws://123456789012/eu-west-1",
        properties: { templateFile: "B.template.json", stackName: "stage-b" },
        dependencies: ["A", "B.assets", "Tree"],
      },
      Tree: { type: "cdk:tree", properties: { file: "tree.json" } },
    },
  };
  const assembly = parseAssemblyManifest(JSON.stringify(manifest), "/tmp/asm");
  assert.deepEqual(assembly, {
    dir: "/tmp/asm",
    version: "55.0.0",
    stacks: [
      {
        artifactId: "A",
        displayName: "A",
        stackName: "A",
        dependencies: [],
        environment: { account: "unknown-account", region: "unknown-region" },
        templateFile: "A.template.json",
      },
      {
        artifactId: "Stage/B",
        displayName: "Stage/B",
        stackName: "stage-b",
        dependencies: ["A"],
        environment: { account: "123456789012", region: "eu-west-1" },
        templateFile: "B.template.json",
      },
    ],
  });
  // Environment-agnostic stacks are accepted for any environment.
  assert.equal(
    selectStacks(assembly, ["A"], { expectEnvironment: { account: "1", region: "x" } }).length,
    1,
  );
  assert.throws(() => parseAssemblyManifest("{", "/tmp/asm"), aphexError(/not valid JSON/));
  assert.throws(
    () => parseAssemblyManifest('{"artifacts":{}}', "/tmp/asm"),
    aphexError(/not a cloud assembly manifest/),
  );
});

Deno.test("selectStacks accepts exactly the orders compatible with the dependencies", () => {
  const arbitrary = fc.integer({ min: 1, max: 6 }).chain((n) =>
    fc.record({
      // edges[i] lists earlier stacks (by index) that stack i depends on: always a DAG.
      edges: fc.tuple(
        ...Array.from(
          { length: n },
          (_, i) => fc.subarray(Array.from({ length: i }, (_, j) => j)),
        ),
      ),
      order: fc.shuffledSubarray(Array.from({ length: n }, (_, i) => i), { minLength: 1 }),
    })
  );
  fc.assert(fc.property(arbitrary, ({ edges, order }) => {
    const name = (i: number) => `s${i}`;
    const assembly: CloudAssembly = {
      dir: "/asm",
      version: "55.0.0",
      stacks: edges.map((deps, i) => ({
        artifactId: name(i),
        displayName: name(i),
        stackName: name(i),
        dependencies: deps.map(name),
      })),
    };
    const reach = (i: number, seen = new Set<number>()): Set<number> => {
      for (const d of edges[i]!) if (!seen.has(d)) (seen.add(d), reach(d, seen));
      return seen;
    };
    const valid = order.every((s, pos) =>
      order.slice(pos + 1).every((later) => !reach(s).has(later))
    );
    let accepted = true;
    try {
      const selected = selectStacks(assembly, order.map(name));
      assert.deepEqual(selected.map((s) => s.stackName), order.map(name));
    } catch (error) {
      assert.ok(error instanceof AphexError);
      assert.match(error.message, /contradicts the CDK app/);
      accepted = false;
    }
    assert.equal(accepted, valid);
  }));
});

const STAND_IN_CDK = `#!/bin/sh
# Stand-in for the CDK CLI: records its argv, writes an outputs file, prints like CDK.
: > "$ARGV_FILE"
for arg in "$@"; do printf '%s\\n' "$arg" >> "$ARGV_FILE"; done
outputs=""
prev=""
for arg in "$@"; do
  if [ "$prev" = "--outputs-file" ]; then outputs="$arg"; fi
  prev="$arg"
done
if [ "$STAND_IN_MODE" = "fail" ]; then
  echo "❌  App failed: ValidationError: boom" >&2
  exit 1
fi
printf '{"%s":{"QueueUrl":"https://sqs/q"}}' "$STAND_IN_STACK" > "$outputs"
if [ "$STAND_IN_MODE" = "nochange" ]; then
  echo " ✅  App (no changes)"
else
  echo " ✅  App"
fi
`;

Deno.test("deployStack runs cdk deploy on the assembly with the exact argv", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "aphex-cdk-deploy-" });
  try {
    const cdk = join(dir, "cdk");
    await Deno.writeTextFile(cdk, STAND_IN_CDK);
    await Deno.chmod(cdk, 0o755);
    const argvFile = join(dir, "argv.txt");
    const assembly: CloudAssembly = {
      dir: join(dir, "cdk.out"),
      version: "55.0.0",
      stacks: [{
        artifactId: "App",
        displayName: "App",
        stackName: "aphex-fixture-app",
        dependencies: [],
      }],
    };
    const stack = assembly.stacks[0]!;
    const outputsFile = join(dir, "outputs", "app.json");
    await Deno.mkdir(join(dir, "outputs"));
    const env = (mode: string) => ({
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      ARGV_FILE: argvFile,
      STAND_IN_MODE: mode,
      STAND_IN_STACK: "aphex-fixture-app",
    });
    const expectedArgv = [
      "deploy",
      "App",
      "--app",
      join(dir, "cdk.out"),
      "--exclusively",
      "--require-approval",
      "never",
      "--outputs-file",
      outputsFile,
    ];

    await t.step("changes deployed: argv, outputs", async () => {
      const outcome = await deployStack(assembly, stack, {
        appDir: dir,
        outputsFile,
        env: env("deploy"),
        cdkCommand: [cdk],
      });
      const argv = (await Deno.readTextFile(argvFile)).trimEnd().split("\n");
      assert.deepEqual(argv, expectedArgv);
      assert.ok(!argv.includes("synth"));
      assert.deepEqual(argv, deployArgs(assembly, stack, { outputsFile }));
      assert.equal(outcome.ok, true);
      assert.equal(outcome.noChanges, false);
      assert.deepEqual(outcome.outputs, { QueueUrl: "https://sqs/q" });
    });

    await t.step('"no changes" is a success and outputs are still read', async () => {
      const outcome = await deployStack(assembly, stack, {
        appDir: dir,
        outputsFile,
        env: env("nochange"),
        cdkCommand: [cdk],
      });
      assert.deepEqual(outcome, {
        stackName: "aphex-fixture-app",
        ok: true,
        exitCode: 0,
        noChanges: true,
        outputs: { QueueUrl: "https://sqs/q" },
        output: " ✅  App (no changes)\n",
      });
    });

    await t.step("a failed deploy is returned, not thrown", async () => {
      const outcome = await deployStack(assembly, stack, {
        appDir: dir,
        outputsFile: join(dir, "outputs", "none.json"),
        env: env("fail"),
        cdkCommand: [cdk],
      });
      assert.equal(outcome.ok, false);
      assert.equal(outcome.exitCode, 1);
      assert.equal(outcome.noChanges, false);
      assert.deepEqual(outcome.outputs, {});
      assert.match(outcome.output, /ValidationError: boom/);
    });

    await t.step("the injected runner receives the default npx command", async () => {
      const seen: Parameters<CdkRunner>[0][] = [];
      const outcome = await deployStack(assembly, stack, {
        appDir: dir,
        outputsFile,
        env: { PATH: "/bin" },
        runner: (request) => {
          seen.push(request);
          return Promise.resolve({ exitCode: 0, output: "App (no changes)" });
        },
      });
      assert.equal(outcome.noChanges, true);
      assert.deepEqual(seen, [{
        bin: "npx",
        args: ["--no-install", "cdk", ...expectedArgv],
        cwd: dir,
        env: { PATH: "/bin" },
        label: "deploy/aphex-fixture-app",
      }]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createCdkRunner streams prefixed, redacted lines and keeps a bounded tail", async () => {
  const lines: string[] = [];
  const runner = createCdkRunner({
    redact: (text) => text.replaceAll("CANARY-9f2", "***"),
    log: (line) => lines.push(line),
    tailChars: 40,
  });
  const script = [
    "for i in 1 2 3 4 5 6 7 8; do echo out-$i; done",
    "echo 'token=CANARY-9f2' >&2",
    "printf 'no newline'",
    "exit 7",
  ].join("; ");
  const result = await runner({
    bin: "sh",
    args: ["-c", script],
    cwd: Deno.cwd(),
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    label: "t",
  });
  assert.equal(result.exitCode, 7);
  assert.ok(lines.includes("[t] out-1") && lines.includes("[t] out-8"));
  assert.ok(lines.includes("[t] token=***"));
  assert.ok(lines.includes("[t] no newline"));
  assert.equal(lines.length, 10);
  assert.ok(!lines.join("\n").includes("CANARY-9f2"));
  assert.ok(result.output.length <= 40);
  assert.ok(!result.output.includes("CANARY-9f2"));
  assert.match(result.output, /no newline\n$/);
});
