/**
 * Table tests of the bugs a new user hit (issue 16, items 4–6): each row is an input and the exit
 * code and message it must give. Configuration rows run `aphex validate` in a temp repository;
 * process rows (a closed stdout pipe, Ctrl-C) run a real `deno` process or deliver a real signal.
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { captureContext, execute } from "../command/contract.ts";
import { main } from "../cli/main.ts";
import { createRunCommand, type CredentialCheck } from "../stages/run_local.ts";
import { makeRepo } from "./stages/_git_repo.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURE_APP = join(ROOT, "tests", "fixtures", "cdk-app");

const BASE = `version: "1.0"
build:
  commands:
    - make
environments:
  - name: dev
    region: us-east-1
    account: "123456789012"
    stacks:
      - name: App
        path: lib/app.ts
`;

interface Row {
  name: string;
  /** Config text (written as aphex-config.yaml; lib/app.ts exists beside it). */
  config?: string;
  args: string[];
  code: number;
  /** Must match stderr. */
  err: RegExp;
  /** Must not match stderr. */
  notErr?: RegExp;
}

const ROWS: Row[] = [
  {
    name: "a region that does not exist is refused, with a did-you-mean",
    config: BASE.replace("us-east-1", "us-east-9"),
    args: ["validate"],
    code: 2,
    err:
      /:7:13: environments\[0\]\.region: "us-east-9" is not an AWS region; did you mean "us-east-1"\?/,
  },
  {
    name: "regions of other partitions are accepted",
    config: BASE.replace("us-east-1", "us-gov-west-1"),
    args: ["validate"],
    code: 0,
    err: /^$/,
  },
  {
    name: "stacks[].path naming a missing file",
    config: BASE.replace("lib/app.ts", "lib/missing.ts"),
    args: ["validate"],
    code: 2,
    err: /:11:15: environments\[0\]\.stacks\[0\]\.path: lib\/missing\.ts: no such file/,
  },
  {
    name: "commands given as one string",
    config: BASE.replace("  commands:\n    - make", '  commands: "npm ci"'),
    args: ["validate"],
    code: 2,
    err: /:3:13: build\.commands: must be a list of commands, not one string: write \["npm ci"\]/,
    notErr: /at least one command/,
  },
  {
    name: "an unclosed quote is reported where it opens",
    config: BASE.replace("    - make", '    - "npm ci\n    - make'),
    args: ["validate"],
    code: 2,
    err: /:4:7: unclosed double quote: the string starting here is not closed on its line/,
    notErr: /deficient indentation/,
  },
  {
    name: "a repeated single-value flag is refused",
    args: ["synth", "--env", "a", "--env", "b"],
    code: 2,
    err: /aphex synth: --env may be given only once \(got --env, --env\)/,
  },
  {
    name: "a misspelt global flag gets a did-you-mean",
    args: ["--verison"],
    code: 2,
    err: /unknown option '--verison'; did you mean '--version'\?/,
  },
  {
    name: "a misspelt command gets a did-you-mean",
    args: ["valdiate"],
    code: 2,
    err: /unknown command 'valdiate'; did you mean 'validate'\?/,
  },
  {
    name: "a misspelt command flag gets a did-you-mean",
    args: ["validate", "--jsno"],
    code: 2,
    err: /Unknown option '--jsno'; did you mean '--json'\? See 'aphex validate --help'/,
  },
];

Deno.test("aphex: input → exit code and message (issue 16 table)", async (t) => {
  for (const row of ROWS) {
    await t.step(row.name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "aphex-cli-bugs-" });
      try {
        await Deno.mkdir(join(dir, "lib"));
        await Deno.writeTextFile(join(dir, "lib", "app.ts"), "export {};\n");
        if (row.config !== undefined) {
          await Deno.writeTextFile(join(dir, "aphex-config.yaml"), row.config);
        }
        const ctx = captureContext(row.args, { cwd: dir });
        const code = await main(ctx);
        const err = ctx.err.join("");
        assert.equal(code, row.code, err);
        assert.match(err, row.err);
        if (row.notErr) assert.doesNotMatch(err, row.notErr);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("aphex help CMD prints the command's help", async () => {
  const ctx = captureContext(["help", "validate"]);
  assert.equal(await main(ctx), 0);
  assert.match(ctx.out.join(""), /^Usage: aphex validate \[options\]/);
  const two = captureContext(["help", "event", "parse"]);
  assert.equal(await main(two), 0);
  assert.match(two.out.join(""), /^Usage: aphex event parse/);
  const bad = captureContext(["help", "valdate"]);
  assert.equal(await main(bad), 2);
  assert.match(bad.err.join(""), /did you mean 'validate'/);
});

Deno.test("aphex run --local --deploy without AWS credentials exits 1 before any stage", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-cli-bugs-" });
  try {
    const repo = await makeRepo(root, [{
      "aphex-config.yaml": BASE.replace("- make", '- "echo built > built.txt"'),
      "lib/app.ts": "export {};\n",
    }]);
    const detectCredentials = (): Promise<CredentialCheck> =>
      Promise.resolve({ available: false, reason: "no credentials in the default chain" });
    const command = createRunCommand({ detectCredentials });
    const env = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: root };
    const ctx = captureContext(["--local", "--deploy"], { env, cwd: repo.dir });
    const code = await execute(command, ctx);
    const err = ctx.err.join("");
    assert.equal(code, 1, err);
    assert.match(err, /--deploy needs AWS credentials, and none were found/);
    assert.match(err, /run without --deploy/);
    // Nothing was built.
    await assert.rejects(Deno.stat(join(repo.dir, "built.txt")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("Ctrl-C (a real SIGINT) during a stage exits 130", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-cli-bugs-" });
  try {
    const repo = await makeRepo(root, [{
      "aphex-config.yaml": BASE.replace("- make", '- "sleep 60"'),
      "lib/app.ts": "export {};\n",
      "cdk.json": '{ "app": "true" }\n',
    }]);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-all", join(ROOT, "mod.ts"), "run", "--local"],
      cwd: repo.dir,
      // The test's environment (Deno's cache and certificates) without AWS settings.
      env: {
        ...Object.fromEntries(
          Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("AWS_")),
        ),
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_CONFIG_FILE: join(root, "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE: join(root, "no-aws-credentials"),
        NO_COLOR: "1",
      },
      clearEnv: true,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Wait until the build command runs, then press Ctrl-C.
    let err = "";
    const decoder = new TextDecoder();
    const reader = child.stderr.getReader();
    while (!err.includes("$ sleep 60")) {
      const { value, done } = await reader.read();
      if (done) break;
      err += decoder.decode(value);
    }
    assert.match(err, /\$ sleep 60/, err);
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      err += decoder.decode(value);
    }
    const status = await child.status;
    assert.equal(status.code, 130, err);
    assert.match(err, /^exit code 130$/m);
    assert.match(err, /not run: build failed|cancelled by SIGINT/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("generate --check | head: a closed stdout pipe ends the process quietly (exit 141)", async () => {
  const out = await Deno.makeTempDir({ prefix: "aphex-cli-bugs-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        join(ROOT, "mod.ts"),
        "generate",
        "--check",
        "--config",
        join(ROOT, "aphex-config.yaml"),
        "--out",
        out,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Like `| head -0`: the reader is gone before the diff is written.
    await child.stdout.cancel();
    const [status, stderr] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
    ]);
    assert.doesNotMatch(stderr, /internal error|BrokenPipe|Broken pipe/i);
    assert.equal(status.code, 141, stderr);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("aphex synth: no deleted folder in the output; --output keeps the assembly", async () => {
  await Deno.stat(join(FIXTURE_APP, "node_modules", "aws-cdk", "package.json"));
  const root = await Deno.makeTempDir({ prefix: "aphex-cli-bugs-" });
  try {
    const files: Record<string, string> = {
      "aphex-config.yaml": BASE.replaceAll("App", "aphex-fixture-network")
        .replace("lib/app.ts", "infra/lib/stacks.mts"),
    };
    for (const f of ["cdk.json", "package.json", "bin/app.mts", "lib/stacks.mts"]) {
      files[`infra/${f}`] = await Deno.readTextFile(join(FIXTURE_APP, f));
    }
    const repo = await makeRepo(root, [files]);
    await Deno.symlink(join(FIXTURE_APP, "node_modules"), join(repo.dir, "infra", "node_modules"));
    const env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? root,
      CDK_DISABLE_CLI_TELEMETRY: "true",
    };
    const plain = captureContext(["synth"], { env, cwd: repo.dir });
    assert.equal(await main(plain), 0, plain.err.join(""));
    const err = plain.err.join("");
    assert.match(
      err,
      /synthesized to a temporary folder \(removed after synth; keep the assembly with --output DIR\)/,
    );
    assert.doesNotMatch(err, /aphex-synth-/);

    const kept = captureContext(["synth", "--output", "assembly"], { env, cwd: repo.dir });
    assert.equal(await main(kept), 0, kept.err.join(""));
    const dir = join(repo.dir, "assembly", "123456789012-us-east-1", "infra");
    assert.match(kept.err.join(""), new RegExp(`synthesized to ${dir}`));
    await Deno.stat(join(dir, "manifest.json"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
