import assert from "node:assert/strict";
import { type CommandSpec, parseCommandArgs } from "./contract.ts";
import { AphexError } from "../models/errors.ts";
import {
  DEFAULT_OUTPUTS_DIR,
  repoAccess,
  resolveBucket,
  resolveRepoUrl,
  resolveStageInputs,
  runStageCommand,
  STAGE_OPTIONS,
  withStageRecording,
  writeOutputs,
} from "./stage_runtime.ts";
import { loadStageConfig } from "./stage_runtime.ts";

const SPEC: CommandSpec = { name: "stage", summary: "test", options: STAGE_OPTIONS };
const SHA = "a".repeat(40);

function inputsFor(args: string[], env: Record<string, string> = {}, cwd = "/work") {
  return resolveStageInputs(parseCommandArgs(SPEC, { args, env }).values, { cwd, env });
}

Deno.test("stage inputs: contract defaults, env fallbacks, flags win", () => {
  // In a pod (KUBERNETES_SERVICE_HOST set) the workspace defaults to /workspace; on a laptop to
  // the enclosing git top level (tests/laptop_defaults_test.ts).
  assert.deepEqual(inputsFor([], { APHEX_COMMIT_SHA: SHA, KUBERNETES_SERVICE_HOST: "10.0.0.1" }), {
    workspace: "/workspace",
    commitSha: SHA,
    configFile: "aphex-config.yaml",
    storeDir: "/workspace/.aphex/store",
    outputsDir: DEFAULT_OUTPUTS_DIR,
  });
  const env = {
    APHEX_COMMIT_SHA: "b".repeat(40),
    APHEX_WORKSPACE: "/env/ws",
    APHEX_BRANCH: "main",
    APHEX_REPO_URL: "https://example.com/a/b.git",
    APHEX_CONFIG: "env.yaml",
    APHEX_ARTIFACT_BUCKET: "env-bucket",
    APHEX_OUTPUTS_DIR: "/env/out",
  };
  assert.deepEqual(inputsFor([], env), {
    workspace: "/env/ws",
    commitSha: "b".repeat(40),
    branch: "main",
    repoUrl: "https://example.com/a/b.git",
    configFile: "env.yaml",
    artifactBucket: "env-bucket",
    storeDir: "/env/ws/.aphex/store",
    outputsDir: "/env/out",
  });
  const flags = inputsFor(
    [
      "--commit-sha",
      SHA,
      "--workspace",
      "ws",
      "--artifact-bucket",
      "flag-bucket",
      "--outputs-dir",
      "out",
    ],
    env,
  );
  assert.equal(flags.commitSha, SHA);
  assert.equal(flags.workspace, "/work/ws");
  assert.equal(flags.artifactBucket, "flag-bucket");
  assert.equal(flags.outputsDir, "/work/out");
});

Deno.test("stage inputs: missing or malformed SHA is a usage error", () => {
  for (const sha of [undefined, "", "abc", "A".repeat(40), `${"a".repeat(39)};`, "$(id)"]) {
    assert.throws(
      () => inputsFor(sha === undefined ? [] : ["--commit-sha", sha]),
      (e: unknown) => e instanceof AphexError && e.exitCode === 2,
      String(sha),
    );
  }
});

Deno.test("repo URL and bucket default from the config in the workspace", async () => {
  const ws = await Deno.makeTempDir({ prefix: "aphex-runtime-" });
  try {
    const inputs = inputsFor(["--commit-sha", SHA, "--workspace", ws]);
    assert.equal(await resolveRepoUrl(inputs), undefined, "no config yet");
    await Deno.writeTextFile(
      `${ws}/aphex-config.yaml`,
      [
        'version: "1.0"',
        "pipeline:",
        "  artifactBucket: cfg-bucket",
        "  github:",
        "    owner: example-org",
        "    repo: webshop",
        "    branch: main",
        "    webhookSecret: { name: s, key: k }",
        "  webhook: { url: https://hooks.example.com }",
        "build: { commands: [make] }",
        "environments:",
        '  - { name: dev, region: us-east-1, account: "111111111111", stacks: [{ name: A, path: a.ts }] }',
        "",
      ].join("\n"),
    );
    assert.equal(await resolveRepoUrl(inputs), "https://github.com/example-org/webshop.git");
    const config = await loadStageConfig(inputs);
    assert.equal(resolveBucket(inputs, config), "cfg-bucket");
    assert.equal(resolveBucket({ ...inputs, artifactBucket: "flag" }, config), "flag");
    assert.equal(await resolveRepoUrl({ ...inputs, repoUrl: "git@h:o/r.git" }), "git@h:o/r.git");
    // A loaded configuration is used as it is: the workspace file is not read again.
    await Deno.remove(`${ws}/aphex-config.yaml`);
    const env = { APHEX_GITHUB_TOKEN: "tok-123456" };
    assert.deepEqual(await repoAccess(inputs, { env, config }), {
      repoUrl: "https://github.com/example-org/webshop.git",
      token: "tok-123456",
      env,
    });
    assert.equal(
      (await repoAccess({ ...inputs, repoUrl: "git@h:o/r.git" }, { env, config })).repoUrl,
      "git@h:o/r.git",
    );
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("writeOutputs: one file per parameter plus result.json, names checked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aphex-outputs-" });
  try {
    await writeOutputs(`${dir}/out`, {
      parameters: { success: "true", "exit-code": "0" },
      result: { a: 1 },
    });
    assert.equal(await Deno.readTextFile(`${dir}/out/success`), "true");
    assert.equal(await Deno.readTextFile(`${dir}/out/exit-code`), "0");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/out/result.json`)), { a: 1 });
    assert.deepEqual([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort(), [
      "exit-code",
      "result.json",
      "success",
    ]);
    await assert.rejects(
      writeOutputs(dir, { parameters: { "../evil": "x" }, result: {} }),
      /bad output name/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("withStageRecording: records start/end inside a workflow, nothing outside; never changes the result", async () => {
  const { LocalArtifactStore } = await import("../adapters/store/local_store.ts");
  const { readStageRecords } = await import("../adapters/store/stage_records.ts");
  const dir = await Deno.makeTempDir({ prefix: "aphex-record-" });
  try {
    const sha = "c".repeat(40);
    const inputs = {
      workspace: dir,
      commitSha: sha,
      configFile: "aphex-config.yaml",
      storeDir: `${dir}/store`,
      outputsDir: `${dir}/out`,
    };
    const warnings: string[] = [];
    const base = {
      warn: (m: string) => void warnings.push(m),
      describe: (n: number) => ({ exitCode: n }),
    };
    // Outside a workflow: the body runs, nothing is stored.
    assert.equal(
      await withStageRecording(inputs, {
        ...base,
        stage: "build",
        env: {},
        body: () => Promise.resolve(0),
      }),
      0,
    );
    const store = new LocalArtifactStore(inputs.storeDir);
    assert.deepEqual(await store.list(""), []);
    // Inside a workflow: a failing stage is recorded as failed with its message.
    const env = { APHEX_WORKFLOW_NAME: "shop-abc" };
    const failed = await withStageRecording(inputs, {
      ...base,
      stage: "deploy-dev",
      env,
      body: () => Promise.resolve({ code: 1 }),
      describe: (r) => ({ exitCode: r.code, errorMessage: "stack 2 failed" }),
    });
    assert.deepEqual(failed, { code: 1 });
    await assert.rejects(
      withStageRecording(inputs, {
        ...base,
        stage: "test-dev",
        env,
        body: () => Promise.reject<number>(new Error("boom")),
      }),
      /boom/,
    );
    await withStageRecording(inputs, {
      ...base,
      stage: "build",
      env,
      body: () => Promise.resolve(0),
    });
    const records = await readStageRecords(store, sha, { workflow: "shop-abc" });
    const byName = Object.fromEntries(records.map((r) => [r.stage.stageName, r]));
    assert.equal(byName["build"]!.stage.status, "succeeded");
    assert.equal(byName["deploy-dev"]!.stage.status, "failed");
    assert.equal(byName["deploy-dev"]!.stage.errorMessage, "stack 2 failed");
    assert.equal(byName["deploy-dev"]!.environment, "dev");
    assert.equal(byName["test-dev"]!.stage.status, "failed");
    assert.equal(byName["test-dev"]!.stage.errorMessage, "boom");
    assert.ok(byName["build"]!.stage.completedAt instanceof Date);
    assert.deepEqual(warnings, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runStageCommand: JSON log lines with APHEX_LOG_FORMAT=json; outputs written when the stage cannot start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aphex-stagecmd-" });
  try {
    const inputs = {
      workspace: dir,
      commitSha: "d".repeat(40),
      configFile: "aphex-config.yaml",
      storeDir: `${dir}/store`,
      outputsDir: `${dir}/out`,
    };
    const err: string[] = [];
    const ctx = { env: { APHEX_LOG_FORMAT: "json" }, stderr: (t: string) => void err.push(t) };
    const clock = () => new Date("2026-01-02T03:04:05Z");
    const result = await runStageCommand(inputs, {
      ctx,
      clock,
      stage: "test-dev",
      describe: (n: number) => ({ exitCode: n }),
      run: (_signal: AbortSignal, log: (line: string) => void) => {
        log("[test/1] ok 1 - works");
        return Promise.resolve(0);
      },
      failureParameters: {},
    });
    assert.equal(result, 0);
    assert.deepEqual(err.map((l) => JSON.parse(l)), [{
      time: "2026-01-02T03:04:05.000Z",
      level: "info",
      stage: "test-dev",
      workflow: null,
      commitSha: "d".repeat(40),
      msg: "[test/1] ok 1 - works",
    }]);
    // Text format by default.
    const text: string[] = [];
    await runStageCommand(inputs, {
      ctx: { env: {}, stderr: (t: string) => void text.push(t) },
      stage: "build",
      describe: (n: number) => ({ exitCode: n }),
      run: (
        _signal: AbortSignal,
        log: (line: string) => void,
      ) => (log("[build] hello"), Promise.resolve(0)),
      failureParameters: {},
    });
    assert.deepEqual(text, ["[build] hello\n"]);
    // A stage that cannot start still leaves its Argo output parameters.
    await assert.rejects(
      runStageCommand(inputs, {
        ctx,
        stage: "build",
        describe: (n: number) => ({ exitCode: n }),
        run: () => Promise.reject<number>(new AphexError("no such config", { exitCode: 2 })),
        failureParameters: { "artifact-count": "0" },
      }),
      /no such config/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/out/success`), "false");
    assert.equal(await Deno.readTextFile(`${dir}/out/exit-code`), "2");
    assert.equal(await Deno.readTextFile(`${dir}/out/artifact-count`), "0");
    assert.equal(
      JSON.parse(await Deno.readTextFile(`${dir}/out/result.json`)).failure,
      "no such config",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
