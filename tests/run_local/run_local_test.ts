/**
 * `aphex run --local` end to end on a fixture repository, without AWS: real build commands, the
 * local artifact store, a real synth of the fixture CDK app (one synth per environment, two environments
 * with the same account/region), the summary table and the JSON summary. The credential check is
 * injected, so no test reaches AWS; HOME is a temp dir and no AWS_* variable is passed.
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CloudFormationClient,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
} from "@aws-sdk/client-cloudformation";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { captureContext, execute } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { readBuildMetadata } from "../../adapters/store/artifacts.ts";
import { LocalArtifactStore } from "../../adapters/store/local_store.ts";
import { sha256Bytes } from "../../adapters/store/hash.ts";
import {
  createRunCommand,
  type CredentialCheck,
  type RunCommandOverrides,
  type RunLocalOutcome,
} from "../../stages/run_local.ts";
import { formatSummary } from "../../stages/_run_local_plan.ts";
import { makeRepo } from "../stages/_git_repo.ts";
import { assemblyManifest, FAKE_CDK, FakeCloudFormation } from "../deploy/_fixture.ts";

const FIXTURE_APP = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "cdk-app");
const APP_FILES = ["cdk.json", "package.json", "bin/app.mts", "lib/stacks.mts"];
const ACCOUNT = "111111111111";
const STACKS = ["aphex-fixture-network", "aphex-fixture-app", "aphex-fixture-monitoring"];
const RISKY = "1 stack(s) change (+0 ~1 -0), 2 no-op; risky: 1 replacement";
const NO_CREDENTIALS = "CredentialsProviderError: Could not load credentials from any providers";

/** Artifacts the fixture build writes: relative path → content. */
const ARTIFACTS: Record<string, string> = {
  "hello.txt": "hello from the build\n",
  "nested/config.json": '{"feature":true}\n',
};

function configYaml(buildCommands: string[]): string {
  const stacks = STACKS.map((n) => `      - { name: ${n}, path: infra/lib/stacks.mts }`);
  return [
    'version: "1.0"',
    "pipeline:",
    "  artifactBucket: fixture-bucket-never-used",
    "build:",
    "  commands:",
    ...buildCommands.map((c) => `    - ${JSON.stringify(c)}`),
    "  artifacts: dist",
    "environments:",
    "  - name: dev",
    "    region: us-east-1",
    `    account: "${ACCOUNT}"`,
    "    stacks:",
    ...stacks,
    "    tests:",
    '      commands: ["echo dev tests"]',
    "  - name: staging",
    "    region: us-east-1",
    `    account: "${ACCOUNT}"`,
    "    approval: true",
    "    stacks:",
    ...stacks,
    "    tests:",
    '      commands: ["echo staging tests"]',
    "",
  ].join("\n");
}

const GOOD_BUILD = [
  "mkdir -p dist/nested",
  "printf 'hello from the build\\n' > dist/hello.txt",
  `printf '{"feature":true}\\n' > dist/nested/config.json`,
];

/** Files of a fixture commit: config, the CDK app under infra/, a .gitignore. */
async function repoFiles(buildCommands: string[]): Promise<Record<string, string>> {
  const files: Record<string, string> = {
    "aphex-config.yaml": configYaml(buildCommands),
    ".gitignore": "dist/\ninfra/node_modules\n",
  };
  for (const f of APP_FILES) files[`infra/${f}`] = await Deno.readTextFile(join(FIXTURE_APP, f));
  return files;
}

interface Fixture {
  ws: string;
  shas: string[];
  env: Record<string, string>;
  checks: string[];
  run(args: string[]): Promise<{ code: number; err: string; out: string }>;
}

async function withFixture(
  commits: Record<string, string>[],
  fn: (f: Fixture) => Promise<void>,
  options: { overrides?: RunCommandOverrides; env?: (root: string) => Record<string, string> } = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-run-local-test-" });
  try {
    const repo = await makeRepo(root, commits);
    const home = join(root, "home");
    await Deno.mkdir(home);
    // No AWS_* variable, a HOME without AWS config or shell profile; PATH kept for git/node/npx.
    const env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: home,
      AWS_EC2_METADATA_DISABLED: "true",
      CDK_DISABLE_CLI_TELEMETRY: "true",
      ...options.env?.(root),
    };
    const checks: string[] = [];
    const detectCredentials = (region: string): Promise<CredentialCheck> => {
      checks.push(region);
      return Promise.resolve({ available: false, reason: NO_CREDENTIALS });
    };
    const command = createRunCommand(options.overrides ?? { detectCredentials });
    await fn({
      ws: repo.dir,
      shas: repo.commits,
      env,
      checks,
      run: async (args) => {
        const ctx = captureContext(args, { env, cwd: repo.dir });
        const code = await execute(command, ctx);
        return { code, err: ctx.err.join(""), out: ctx.out.join("") };
      },
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function statuses(outcome: RunLocalOutcome): [string, string][] {
  return outcome.steps.map((s) => [s.stage, s.status]);
}

Deno.test("aphex run --local: preflight, real build into the local store, a real synth per environment, deploy/test skipped", async () => {
  try {
    await Deno.stat(join(FIXTURE_APP, "node_modules", "aws-cdk", "package.json"));
  } catch {
    throw new Error(
      "fixture CDK app not installed: run `npm ci --prefix tests/fixtures/cdk-app --no-audit --no-fund`",
    );
  }
  await withFixture([await repoFiles(GOOD_BUILD)], async (f) => {
    // The app's dependencies, as `npm ci` would have installed them (git-ignored).
    await Deno.symlink(join(FIXTURE_APP, "node_modules"), join(f.ws, "infra", "node_modules"));
    const sha = f.shas[0]!;
    const { code, err, out } = await f.run(["--local", "--json"]);
    assert.equal(code, 0, err);
    const outcome = JSON.parse(out) as RunLocalOutcome;

    // The sequence: preflight, build, then the WorkflowTemplate's steps with synth per env.
    assert.deepEqual(statuses(outcome), [
      ["preflight", "ok"],
      ["build", "ok"],
      ["pipeline-update", "skipped"],
      ["synth-dev", "ok"],
      ["plan-dev", "skipped"],
      ["deploy-dev", "skipped"],
      ["test-dev", "skipped"],
      ["synth-staging", "ok"],
      ["plan-staging", "skipped"],
      ["approve-staging", "skipped"],
      ["deploy-staging", "skipped"],
      ["test-staging", "skipped"],
    ]);
    assert.equal(outcome.exitCode, 0);
    assert.equal(outcome.commitSha, sha);
    assert.equal(outcome.dirty, false);
    assert.deepEqual(outcome.environments, ["dev", "staging"]);
    assert.deepEqual(outcome.credentials, { available: false, reason: NO_CREDENTIALS });
    assert.deepEqual(f.checks, ["us-east-1"]);
    const step = (name: string) => outcome.steps.find((s) => s.stage === name)!;
    assert.match(
      step("preflight").note,
      /check\(s\) passed; AWS checks skipped \(no AWS credentials\)$/,
    );
    assert.equal(
      step("build").note,
      `2 artifact(s); .aphex/store/${sha}/metadata.json`,
    );
    assert.equal(
      step("pipeline-update").note,
      "local run: the pipeline stack and the cluster are not touched",
    );
    for (const env of ["dev", "staging"]) {
      assert.deepEqual(step(`synth-${env}`).stacks, STACKS);
      assert.equal(
        step(`synth-${env}`).note,
        `3 stack(s): ${STACKS.join(", ")}; diff skipped: no AWS credentials`,
      );
      assert.equal(step(`deploy-${env}`).note, "no --deploy; no AWS credentials");
      assert.equal(step(`test-${env}`).note, "no --deploy; no AWS credentials");
      assert.equal(step(`deploy-${env}`).durationMs, 0);
    }
    assert.equal(step("approve-staging").note, "no --deploy; no AWS credentials");
    for (const s of outcome.steps.filter((s) => s.status === "ok")) assert.ok(s.durationMs > 0);

    // The local store: metadata.json lists both artifacts with their SHA-256; files stored.
    assert.equal(outcome.store, join(f.ws, ".aphex", "store"));
    const store = new LocalArtifactStore(outcome.store);
    const doc = await readBuildMetadata(store, sha);
    assert.equal(doc.commitSha, sha);
    assert.deepEqual(doc.build.artifacts, Object.keys(ARTIFACTS));
    assert.deepEqual(
      doc.artifacts.map((a) => [a.s3Path, a.checksum, a.sizeBytes]),
      Object.entries(ARTIFACTS).map(([rel, content]) => [
        `file://${join(outcome.store, sha, "artifacts", rel)}`,
        sha256Bytes(content),
        new TextEncoder().encode(content).length,
      ]),
    );
    for (const [rel, content] of Object.entries(ARTIFACTS)) {
      assert.equal(
        await Deno.readTextFile(join(outcome.store, sha, "artifacts", rel)),
        content,
      );
    }

    // Each environment is synthesized with its own APHEX_ENV (the CDK-app contract), even with
    // the same app, account and region.
    assert.equal(
      err.match(/\[synth\] cdk synth of infra for aws:\/\/111111111111\/us-east-1/g)?.length,
      2,
    );
    assert.match(
      err,
      /\[synth\] dev: diff skipped: no AWS credentials; would deploy, in order: aphex-fixture-network, aphex-fixture-app, aphex-fixture-monitoring/,
    );
    // What was skipped and why, said up front; the bucket is not used; live progress.
    assert.match(
      err,
      /no AWS credentials \(CredentialsProviderError: .*\): the AWS checks of preflight, cdk diff are SKIPPED/,
    );
    assert.match(
      err,
      /pipeline.artifactBucket fixture-bucket-never-used is not used by a local run/,
    );
    assert.match(err, /AWS checks SKIPPED \(--skip-aws\)/);
    assert.match(err, /^▶ build$/m);
    assert.match(err, /^✔ build \d+\.\ds$/m);
    assert.match(err, /^✔ synth-staging \d+\.\ds$/m);
    assert.match(err, /^○ deploy-dev skipped: no --deploy; no AWS credentials$/m);
    assert.match(err, /\[build\/2\] \$ printf/);
    // The summary table closes stderr.
    assert.ok(err.endsWith(formatSummary(outcome)), err.slice(-2000));
    assert.match(err, /^stage +status +duration +note$/m);
    assert.match(err, /^synth-dev +ok +\d+\.\ds +3 stack\(s\): aphex-fixture-network/m);
    assert.match(err, /^test-staging +skipped +- +no --deploy; no AWS credentials$/m);
    assert.match(err, /exit code 0\n$/);
    // No assembly directory or build temp file is left behind by the run.
    const leftovers = [];
    for await (const e of Deno.readDir(join(f.ws, "infra"))) leftovers.push(e.name);
    assert.deepEqual(leftovers.sort(), ["bin", "cdk.json", "lib", "node_modules", "package.json"]);
  });
});

Deno.test("aphex run --local: a failing build exits 1 and skips the later stages; --commit-sha checks out a local commit, refused on a dirty tree", async () => {
  const failing = await repoFiles(["echo building", "echo 'compiler error' >&2; exit 3"]);
  const good = await repoFiles(GOOD_BUILD);
  await withFixture([failing, good], async (f) => {
    const [first, second] = f.shas as [string, string];
    // A dirty tree refuses a checkout of another commit (nothing is discarded).
    await Deno.writeTextFile(join(f.ws, "scratch.txt"), "uncommitted\n");
    let r = await f.run(["--local", "--commit-sha", first]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /1 uncommitted change\(s\); commit or stash them first/);
    assert.deepEqual(f.checks, []);
    await Deno.remove(join(f.ws, "scratch.txt"));

    r = await f.run(["--local", "--commit-sha", first, "--json"]);
    assert.equal(r.code, 1, r.err);
    const outcome = JSON.parse(r.out) as RunLocalOutcome;
    assert.equal(outcome.commitSha, first);
    assert.match(r.err, new RegExp(`checked out ${first} \\(detached HEAD; it was ${second}\\)`));
    assert.deepEqual(statuses(outcome), [
      ["preflight", "ok"],
      ["build", "failed"],
      ["pipeline-update", "skipped"],
      ["synth-dev", "skipped"],
      ["plan-dev", "skipped"],
      ["deploy-dev", "skipped"],
      ["test-dev", "skipped"],
      ["synth-staging", "skipped"],
      ["plan-staging", "skipped"],
      ["approve-staging", "skipped"],
      ["deploy-staging", "skipped"],
      ["test-staging", "skipped"],
    ]);
    const build = outcome.steps[1]!;
    assert.equal(build.exitCode, 1);
    assert.equal(
      build.note,
      "build command #2 (echo 'compiler error' >&2; exit 3) exited with code 3",
    );
    for (const s of outcome.steps.slice(2)) assert.equal(s.note, "not run: build failed");
    assert.match(r.err, /^✖ build \d+\.\ds: build command #2 .* exited with code 3$/m);
    assert.match(r.err, /\[build\/2\] compiler error/);
    assert.match(r.err, /^synth-dev +skipped +- +not run: build failed$/m);
    assert.match(r.err, /exit code 1\n$/);
    // No metadata.json for a failed build; its log is in the local store.
    const storeDir = join(f.ws, ".aphex", "store");
    await assert.rejects(Deno.stat(join(storeDir, first, "metadata.json")), Deno.errors.NotFound);
    assert.match(
      await Deno.readTextFile(join(storeDir, first, "logs", "build.log")),
      /compiler error/,
    );

    // A dirty tree is built as it is and reported (the store under .aphex/ does not count).
    await Deno.writeTextFile(join(f.ws, "scratch.txt"), "uncommitted\n");
    r = await f.run(["--local", "--json", "--env", "dev"]);
    assert.equal(r.code, 1, r.err);
    const dirty = JSON.parse(r.out) as RunLocalOutcome;
    assert.equal(dirty.dirty, true);
    assert.equal(dirty.commitSha, first);
    assert.deepEqual(dirty.environments, ["dev"]);
    assert.deepEqual(dirty.steps.map((s) => s.stage), [
      "preflight",
      "build",
      "pipeline-update",
      "synth-dev",
      "plan-dev",
      "deploy-dev",
      "test-dev",
    ]);
    assert.match(r.err, /with 1 uncommitted change\(s\) \(built as they are, stored under HEAD\)/);
  });
});

Deno.test("aphex run: without --local exit 2 naming the Sensor; unknown --env and a non-git workspace exit 2", async () => {
  const plain = captureContext(["run"]);
  assert.equal(await main(plain), 2);
  assert.match(plain.err.join(""), /aphex run needs --local/);
  assert.match(plain.err.join(""), /started by the Sensor when you push, or with `argo submit/);
  assert.deepEqual(plain.out, []);

  await withFixture([await repoFiles(GOOD_BUILD)], async (f) => {
    const ctx = captureContext(["run", "--local", "--env", "dev", "--env", "unknown"], {
      env: f.env,
      cwd: f.ws,
    });
    assert.equal(await main(ctx), 2);
    assert.match(
      ctx.err.join(""),
      /environment "unknown" is not in the configuration; valid environments: dev, staging/,
    );
    // Nothing ran: no store, no artifacts.
    await assert.rejects(Deno.stat(join(f.ws, ".aphex")), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(join(f.ws, "dist")), Deno.errors.NotFound);

    const notGit = join(f.ws, "infra");
    const r = await f.run(["--local", "--workspace", notGit]);
    assert.equal(r.code, 2);
    assert.match(r.err, /is not the top of its git repository/);
    assert.deepEqual(f.checks, []);
  });
});

Deno.test("aphex run --local --deploy: diff, deploy and tests per environment; an approval gate stops without a terminal, asks on one, --yes approves", async () => {
  // AWS is mocked at the SDK (STS, SSM, CloudFormation); the CDK CLI is the deploy tests'
  // stand-in, wrapped to answer `cdk diff` too.
  const sts = mockClient(STSClient);
  sts.on(GetCallerIdentityCommand).resolves({
    Account: ACCOUNT,
    Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/dev/laptop`,
  });
  const ssm = mockClient(SSMClient);
  ssm.on(GetParameterCommand).resolves({ Parameter: { Value: "27" } });
  const fake = new FakeCloudFormation();
  const cfn = mockClient(CloudFormationClient);
  cfn.on(DescribeStacksCommand).callsFake((input) => fake.describeStacks(input));
  cfn.on(DescribeStackEventsCommand).callsFake((input) => fake.describeStackEvents(input));
  // The plan: App's change set replaces its queue (risky); the other stacks have no changes.
  cfn.on(GetTemplateCommand).resolves({ TemplateBody: "{}" });
  cfn.on(DescribeChangeSetCommand).callsFake((input) =>
    Promise.resolve(
      input.StackName === "aphex-fixture-app"
        ? {
          ChangeSetId: `arn:cs/${input.StackName}`,
          ChangeSetName: input.ChangeSetName,
          StackName: input.StackName,
          Status: "CREATE_COMPLETE",
          ExecutionStatus: "AVAILABLE",
          Changes: [{
            Type: "Resource",
            ResourceChange: {
              Action: "Modify",
              LogicalResourceId: "Work",
              ResourceType: "AWS::SQS::Queue",
              Replacement: "True",
            },
          }],
        }
        : { Status: "FAILED", StatusReason: "The submitted information didn't contain changes." },
    )
  );
  cfn.on(DeleteChangeSetCommand).resolves({});
  cfn.on(ExecuteChangeSetCommand).resolves({});
  const answers: (boolean | undefined)[] = [];
  const questions: string[] = [];
  try {
    await withFixture([await repoFiles(GOOD_BUILD)], async (f) => {
      const root = dirname(f.ws);
      const cdk = join(root, "cdk.sh");
      await Deno.writeTextFile(
        cdk,
        [
          "#!/usr/bin/env bash",
          'if [ "$1" = diff ]; then',
          '  echo "$*" >>"$FAKE_CDK_CALLS"',
          '  echo "Stack ${@: -1}"; echo "There were no differences"; exit 0',
          "fi",
          `exec bash ${FAKE_CDK} "$@"`,
          "",
        ].join("\n"),
      );
      await Deno.writeTextFile(
        join(root, "manifest.json"),
        assemblyManifest("@ACCOUNT@", "@REGION@"),
      );
      await Deno.mkdir(join(root, "templates"));
      for (const id of ["Network", "App", "Monitoring"]) {
        await Deno.writeTextFile(join(root, "templates", `${id}.template.json`), "{}");
      }
      const calls = async () => {
        const text = await Deno.readTextFile(join(root, "calls.txt")).catch(() => "");
        await Deno.writeTextFile(join(root, "calls.txt"), "");
        return text.split("\n").filter(Boolean);
      };
      const run = async (args: string[]) => {
        const r = await f.run([
          "--local",
          "--deploy",
          "--json",
          "--cdk-command",
          `bash ${cdk}`,
          ...args,
        ]);
        return { ...r, outcome: JSON.parse(r.out) as RunLocalOutcome };
      };

      // No terminal: staging's approval gate stops the run after dev.
      answers.push(undefined);
      let r = await run([]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(statuses(r.outcome), [
        ["preflight", "ok"],
        ["build", "ok"],
        ["pipeline-update", "skipped"],
        ["synth-dev", "ok"],
        ["plan-dev", "ok"],
        ["deploy-dev", "ok"],
        ["test-dev", "ok"],
        ["synth-staging", "ok"],
        ["plan-staging", "ok"],
        ["approve-staging", "skipped"],
        ["deploy-staging", "skipped"],
        ["test-staging", "skipped"],
      ]);
      const step = (o: RunLocalOutcome, name: string) => o.steps.find((s) => s.stage === name)!;
      assert.equal(r.outcome.credentials.available, true);
      assert.match(step(r.outcome, "preflight").note, /^\d+ check\(s\) passed$/);
      assert.match(r.err, /\[preflight\] ok: environment dev: CDK bootstrap version 27/);
      assert.equal(
        step(r.outcome, "synth-dev").note,
        `3 stack(s): ${STACKS.join(", ")}; diffed against aws://${ACCOUNT}/us-east-1`,
      );
      assert.equal(step(r.outcome, "deploy-dev").note, "3 stack(s) deployed");
      assert.equal(step(r.outcome, "test-dev").note, "1/1 passed");
      assert.equal(
        step(r.outcome, "approve-staging").note,
        "approval needed but stdin is not a terminal (pass --yes); the run stops here",
      );
      assert.equal(step(r.outcome, "deploy-staging").note, "not run: approve-staging not given");
      assert.equal(step(r.outcome, "plan-dev").note, RISKY);
      assert.deepEqual(questions, [
        `Deploy to staging (aws://${ACCOUNT}/us-east-1): ${RISKY}? [y/N] `,
      ]);
      const sha12 = r.outcome.commitSha.slice(0, 12);
      // Only the reviewed change set of App was executed (the others had no changes).
      assert.deepEqual(
        cfn.commandCalls(ExecuteChangeSetCommand).map((c) => c.args[0].input.StackName),
        ["aphex-fixture-app"],
      );
      cfn.resetHistory();
      const diffArgs = (names: string[]) =>
        `diff --app ASSEMBLY --exclusively --no-notices ${names.join(" ")}`;
      assert.deepEqual(
        (await calls()).map((c) => c.replace(/--app \S+/, "--app ASSEMBLY")),
        [
          diffArgs(["Network", "App", "Monitoring"]),
          ...["Network", "App", "Monitoring"].map((s) => `prepare ${s} aphex-dev-${sha12}`),
          diffArgs(["Network", "App", "Monitoring"]),
          ...["Network", "App", "Monitoring"].map((s) => `prepare ${s} aphex-staging-${sha12}`),
        ],
      );
      const sha = r.outcome.commitSha;
      assert.deepEqual(
        JSON.parse(await Deno.readTextFile(join(r.outcome.store, sha, "outputs", "dev.json"))),
        Object.fromEntries(STACKS.map((s) => [s, { [`${s}-Out`]: `value-of-${s}` }])),
      );
      assert.match(r.err, /\[test\/1\] dev tests/);

      // Declined on the terminal: same stop, said so.
      answers.push(false);
      r = await run(["--env", "staging"]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(r.outcome.environments, ["staging"]);
      assert.equal(step(r.outcome, "approve-staging").note, "declined; the run stops here");
      assert.equal(step(r.outcome, "test-staging").note, "not run: approve-staging not given");
      await calls();

      // --yes: nobody is asked, staging is deployed and tested.
      r = await run(["--env", "staging", "--yes"]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(statuses(r.outcome).slice(3), [
        ["synth-staging", "ok"],
        ["plan-staging", "ok"],
        ["approve-staging", "ok"],
        ["deploy-staging", "ok"],
        ["test-staging", "ok"],
      ]);
      assert.equal(questions.length, 2);
      assert.deepEqual((await calls()).filter((c) => c.startsWith("deploy")), []);
      assert.deepEqual(
        cfn.commandCalls(ExecuteChangeSetCommand).map((c) => c.args[0].input.ChangeSetName),
        [`arn:cs/aphex-fixture-app`],
      );
    }, {
      overrides: {
        confirm: (question) => {
          questions.push(question);
          return Promise.resolve(answers.shift());
        },
      },
      env: (root) => ({
        FAKE_CDK_MANIFEST: join(root, "manifest.json"),
        FAKE_CDK_CALLS: join(root, "calls.txt"),
        FAKE_CDK_TEMPLATES: join(root, "templates"),
      }),
    });
  } finally {
    sts.restore();
    ssm.restore();
    cfn.restore();
  }
});

Deno.test("formatSummary: aligned columns, '-' for skipped durations, the exit code last", () => {
  const text = formatSummary({
    exitCode: 1,
    steps: [
      { stage: "build", kind: "build", status: "ok", durationMs: 3210, note: "2 artifact(s)" },
      {
        stage: "deploy-dev",
        kind: "deploy",
        environment: "dev",
        status: "failed",
        exitCode: 1,
        durationMs: 12_040,
        note: "cdk deploy failed",
      },
      {
        stage: "test-dev",
        kind: "test",
        environment: "dev",
        status: "skipped",
        durationMs: 0,
        note: "not run: deploy-dev failed",
      },
    ],
  });
  assert.equal(
    text,
    [
      "stage       status   duration  note",
      "----------  -------  --------  ----",
      "build       ok       3.2s      2 artifact(s)",
      "deploy-dev  failed   12.0s     cdk deploy failed",
      "test-dev    skipped  -         not run: deploy-dev failed",
      "",
      "exit code 1",
      "",
    ].join("\n"),
  );
});
