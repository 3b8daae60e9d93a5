import assert from "node:assert/strict";
import { captureContext } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { fromJsonText } from "../../models/_codec.ts";
import { AphexError } from "../../models/errors.ts";
import { type ArtifactStore, outputsKey, readText } from "../../adapters/store/artifact_store.ts";
import { checkoutCommit } from "../../adapters/git/checkout.ts";
import { runTests } from "../../stages/test.ts";
import { testLogKey, testResultKey } from "../../adapters/store/test_results.ts";
import { type TestRunDocument, TestRunDocumentCodec } from "../../models/test_run.ts";
import { FAKE_TOKEN, type TestFixture, withTestFixture } from "./_fixture.ts";

const TAP_SCRIPT = [
  "printf 'TAP version 13\\n1..3\\nok 1 - health\\nok 2 - api\\nok 3 - db # SKIP no db\\n'",
  "touch ran-tap",
  "",
].join("\n");
const FAIL_SCRIPT = [
  "echo 'checking the endpoint'",
  "echo 'boom: endpoint returned 500' >&2",
  "touch ran-fail",
  "exit 3",
  "",
].join("\n");
const SUMMARY_SCRIPT = [
  "echo 'running 5 tests from ./smoke_test.ts'",
  "echo 'ok | 5 passed | 0 failed (12ms)'",
  "touch ran-summary",
  "",
].join("\n");

const JUNIT_XML = `<?xml version="1.0"?><testsuite name="unit" tests="4">` +
  `<testcase name="a"/><testcase name="b"/>` +
  `<testcase name="c"><failure message="expected 200"/></testcase>` +
  `<testcase name="d"><skipped/></testcase></testsuite>\n`;
const STALE_JUNIT = `<testsuite name="old" tests="100" failures="0"></testsuite>\n`;
const JUNIT_SCRIPT = [
  "mkdir -p test-results node_modules/dep",
  `cat > test-results/unit.xml <<'EOF'\n${JUNIT_XML}EOF`,
  // A report inside node_modules is never read.
  "cp test-results/unit.xml node_modules/dep/junit-dep.xml",
  "echo 'ok | 50 passed | 0 failed (1ms)' >&2",
  "exit 1",
  "",
].join("\n");

async function storedDoc(f: TestFixture, env = "dev"): Promise<TestRunDocument> {
  const text = await readText(f.store, testResultKey(f.sha, env));
  return fromJsonText(TestRunDocumentCodec, text, "result.json");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("test stage: one failing command among three → exit 1, all three ran, counts summed", async () => {
  await withTestFixture(
    ["bash scripts/tap.sh", "bash scripts/fail.sh", "bash scripts/summary.sh"],
    {
      files: {
        "scripts/tap.sh": TAP_SCRIPT,
        "scripts/fail.sh": FAIL_SCRIPT,
        "scripts/summary.sh": SUMMARY_SCRIPT,
      },
    },
    async (f) => {
      const outcome = await runTests(f.inputs, f.deps);
      assert.equal(outcome.exitCode, 1, f.logs.join("\n"));
      assert.match(outcome.failure ?? "", /#2 failed/);
      for (const marker of ["ran-tap", "ran-fail", "ran-summary"]) {
        assert.ok(await exists(`${f.inputs.workspace}/${marker}`), `${marker}: every command ran`);
      }
      const doc = outcome.document;
      assert.deepEqual(
        doc.commands.map((
          c,
        ) => [c.index, c.exitCode, c.testCount, c.passedCount, c.failedCount, c.countSource]),
        [
          [1, 0, 3, 2, 0, "tap"],
          [2, 3, 1, 0, 1, "per-command"],
          [3, 0, 5, 5, 0, "summary"],
        ],
      );
      assert.equal(doc.commands[0]!.skippedCount, 1);
      const r = doc.result;
      assert.equal(r.success, false);
      assert.equal(r.exitCode, 3, "first non-zero exit code");
      assert.deepEqual([r.testCount, r.passedCount, r.failedCount], [9, 7, 1]);
      assert.equal(doc.skippedCount, 1);
      assert.equal(r.countSource, "per-command", "one command needed per-command counting");
      assert.match(r.stderr, /boom: endpoint returned 500/, "tail of the failing command");
      // The stored document is the returned one.
      assert.deepEqual(await storedDoc(f), doc);
      // Summary table at the end of the log.
      const tail = f.logs.slice(-10).join("\n");
      assert.match(tail, /test summary for dev/);
      assert.match(tail, /#\s+command\s+exit\s+tests\s+passed\s+failed\s+source\s+duration/);
      assert.match(tail, /2\s+bash scripts\/fail\.sh\s+3\s+1\s+0\s+1\s+per-command\s+\d+\.\d\d s/);
      assert.match(tail, /total\s+3\s+9\s+7\s+1\s+per-command/);
      assert.match(tail, /FAILED: 1 of 3 command\(s\) failed/);
      // Live output was streamed with the command's prefix.
      assert.ok(f.logs.includes("[test/2] boom: endpoint returned 500"));
    },
  );
});

Deno.test("test stage: JUnit files the command wrote are counted; stale, node_modules and malformed ones are not", async () => {
  await withTestFixture(
    [
      "bash scripts/junit.sh",
      "printf '1..2\\nok 1 - a\\nok 2 - b\\n'",
      "mkdir -p test-results && printf '<testsuite><testcase' > test-results/broken.xml && " +
      "echo 'ok | 2 passed | 0 failed (3ms)'",
    ],
    { files: { "scripts/junit.sh": JUNIT_SCRIPT, "reports/junit-old.xml": STALE_JUNIT } },
    async (f) => {
      const outcome = await runTests(f.inputs, f.deps);
      assert.equal(outcome.exitCode, 1, f.logs.join("\n"));
      const [junit, tap, broken] = outcome.document.commands;
      assert.deepEqual(
        [junit!.testCount, junit!.passedCount, junit!.failedCount, junit!.skippedCount],
        [4, 2, 1, 1],
        "the JUnit report wins over the summary line in the output",
      );
      assert.equal(junit!.countSource, "junit");
      assert.deepEqual(junit!.junitFiles, ["test-results/unit.xml"]);
      // The second command left no report: the first command's file is not counted again.
      assert.deepEqual(tap!.junitFiles, []);
      assert.deepEqual([tap!.testCount, tap!.passedCount, tap!.countSource], [2, 2, "tap"]);
      // Malformed XML: noted, counts from the output instead.
      assert.deepEqual(broken!.junitFiles, ["test-results/broken.xml"]);
      assert.deepEqual([broken!.testCount, broken!.countSource], [2, "summary"]);
      assert.ok(broken!.notes.some((n) => /broken\.xml/.test(n)), broken!.notes.join("; "));
      const r = outcome.document.result;
      assert.deepEqual([r.testCount, r.passedCount, r.failedCount], [8, 6, 1]);
      assert.equal(r.countSource, "summary", "the least precise source used");
    },
  );
});

Deno.test("test stage: a multi-line command's own text is never counted as output", async () => {
  // A YAML block command whose text looks like TAP: only what it prints is parsed.
  const command = "printf 'TAP version 13\n1..2\nok 1 - a\nnot ok 2 - b\n'\nexit 1";
  await withTestFixture([command], {}, async (f) => {
    const outcome = await runTests(f.inputs, f.deps);
    assert.equal(outcome.exitCode, 1);
    const [c] = outcome.document.commands;
    assert.deepEqual([c!.testCount, c!.passedCount, c!.failedCount, c!.countSource], [
      2,
      1,
      1,
      "tap",
    ]);
    assert.equal(c!.command, command);
    assert.ok(
      f.logs.includes(
        "[test/1] $ printf 'TAP version 13\\n1..2\\nok 1 - a\\nnot ok 2 - b\\n'\\nexit 1",
      ),
    );
  });
});

Deno.test("test stage: --junit-glob replaces the defaults", async () => {
  await withTestFixture(
    [
      'mkdir -p out test-results && printf \'<testsuite tests="2" failures="0"/>\' > out/r.xml' +
      " && cp out/r.xml test-results/ignored.xml",
    ],
    {},
    async (f) => {
      const outcome = await runTests({ ...f.inputs, junitGlobs: ["out/*.xml"] }, f.deps);
      assert.equal(outcome.exitCode, 0, f.logs.join("\n"));
      const [c] = outcome.document.commands;
      assert.deepEqual(c!.junitFiles, ["out/r.xml"]);
      assert.deepEqual([c!.testCount, c!.passedCount, c!.countSource], [2, 2, "junit"]);
    },
  );
});

Deno.test("test stage: unparseable output → one test per command, and the result says so", async () => {
  await withTestFixture(["echo hello", "echo 'still nothing to parse'"], {}, async (f) => {
    const outcome = await runTests(f.inputs, f.deps);
    assert.equal(outcome.exitCode, 0, f.logs.join("\n"));
    const r = outcome.document.result;
    assert.deepEqual(
      [r.success, r.testCount, r.passedCount, r.failedCount, r.countSource],
      [true, 2, 2, 0, "per-command"],
    );
    for (const c of outcome.document.commands) {
      assert.equal(c.countSource, "per-command");
      assert.match(c.notes.join(";"), /counted as one passed test/);
    }
    assert.ok(f.logs.some((l) => /at least one command left no parseable report/.test(l)));
  });
});

Deno.test("test stage: outputs JSON, region, account and env reach the command; the git token does not", async () => {
  const outputs = {
    "App-dev": { ApiUrl: "https://api.example.invalid/dev", Quote: `it's "quoted" $HOME \\n` },
    "Db-dev": {},
  };
  const probe = [
    'echo "outputs=$APHEX_STACK_OUTPUTS"',
    'printf %s "$APHEX_STACK_OUTPUTS" > got-env.json',
    'cp "$APHEX_STACK_OUTPUTS_FILE" got-file.json',
    'echo "$AWS_REGION $AWS_DEFAULT_REGION $APHEX_ACCOUNT $APHEX_ENV $APHEX_STACK_OUTPUTS_FILE" > got-vars.txt',
    "env > env-dump.txt",
    'if [ -n "${APHEX_GITHUB_TOKEN+x}" ]; then echo token visible; exit 9; fi',
  ].join("\n");
  await withTestFixture(["bash scripts/probe.sh"], {
    files: { "scripts/probe.sh": probe },
    outputs,
  }, async (f) => {
    const outcome = await runTests(f.inputs, f.deps);
    assert.equal(outcome.exitCode, 0, f.logs.join("\n"));
    const ws = f.inputs.workspace;
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${ws}/got-env.json`)), outputs);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${ws}/got-file.json`)), outputs);
    const [region, defaultRegion, account, env, file] = (await Deno.readTextFile(
      `${ws}/got-vars.txt`,
    )).trim().split(" ");
    assert.deepEqual([region, defaultRegion, account, env], [
      "eu-west-2",
      "eu-west-2",
      "012345678901",
      "dev",
    ]);
    assert.ok(file!.endsWith("/stack-outputs.json"));
    assert.equal(await exists(file!), false, "the outputs file is removed after the stage");
    const dump = await Deno.readTextFile(`${ws}/env-dump.txt`);
    assert.ok(!dump.includes("APHEX_GITHUB_TOKEN"), "token variable withheld");
    assert.ok(!dump.includes(FAKE_TOKEN), "token value withheld");
    // What the command echoed is in its stored log.
    const log = await readText(f.store, testLogKey(f.sha, "dev", 1));
    assert.ok(log.includes(`outputs=${JSON.stringify(outputs)}`), log);
  });
});

Deno.test("test stage: outputs too big for one environment string are given as a file only", async () => {
  const outputs = { "App-dev": { Big: "x".repeat(100_000) } };
  const check = 'test -z "${APHEX_STACK_OUTPUTS+x}" && ' +
    'test "$(wc -c < "$APHEX_STACK_OUTPUTS_FILE")" -gt 100000';
  await withTestFixture([check], { outputs }, async (f) => {
    const outcome = await runTests(f.inputs, f.deps);
    assert.equal(outcome.exitCode, 0, f.logs.join("\n"));
    assert.match(outcome.document.notes.join(";"), /APHEX_STACK_OUTPUTS is not set/);
  });
});

Deno.test("test stage: results and per-command logs stored under <sha>/tests/<env>/", async () => {
  await withTestFixture(
    ["echo first-output", "echo second-output >&2; exit 4"],
    {},
    async (f) => {
      const outcome = await runTests(f.inputs, f.deps);
      assert.equal(outcome.exitCode, 1);
      const keys = (await f.store.list(`${f.sha}/tests/`)).map((o) => o.key);
      assert.deepEqual(keys, [
        testLogKey(f.sha, "dev", 1),
        testLogKey(f.sha, "dev", 2),
        testResultKey(f.sha, "dev"),
      ]);
      assert.equal(testLogKey(f.sha, "dev", 2), `${f.sha}/tests/dev/2.log`);
      assert.equal(outcome.resultUri, `file://${f.root}/store/${f.sha}/tests/dev/result.json`);
      const log1 = await readText(f.store, testLogKey(f.sha, "dev", 1));
      assert.deepEqual(log1.split("\n").filter(Boolean).map((l) => l.replace(/[\d.]+ s$/, "T")), [
        "# aphex test/1: echo first-output",
        "first-output",
        "# exit code 0 in T",
      ]);
      const log2 = await readText(f.store, testLogKey(f.sha, "dev", 2));
      assert.match(log2, /^second-output$/m);
      assert.match(log2, /# exit code 4 in/);
      const doc = await storedDoc(f);
      assert.deepEqual(doc.commands.map((c) => c.logUri), [
        f.store.uriFor(testLogKey(f.sha, "dev", 1)),
        f.store.uriFor(testLogKey(f.sha, "dev", 2)),
      ]);
      assert.equal(doc.result.exitCode, 4);
      assert.equal(doc.testsConfigured, true);
    },
  );
});

Deno.test("test stage: a command that times out fails; the next one still runs", async () => {
  await withTestFixture(["sleep 30", "touch after-timeout"], {}, async (f) => {
    const outcome = await runTests(f.inputs, { ...f.deps, commandTimeoutMs: 300 });
    assert.equal(outcome.exitCode, 1);
    const [slow, next] = outcome.document.commands;
    assert.equal(slow!.timedOut, true);
    assert.notEqual(slow!.exitCode, 0);
    assert.ok(slow!.duration < 10);
    assert.equal(next!.exitCode, 0);
    assert.ok(await exists(`${f.inputs.workspace}/after-timeout`));
    assert.deepEqual([outcome.document.result.failedCount, outcome.document.result.passedCount], [
      1,
      1,
    ]);
  });
});

Deno.test("test stage: SIGTERM stops the running command; later commands are not started", async () => {
  await withTestFixture(["sleep 30", "touch not-started"], {}, async (f) => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Abort once the first command is running.
    const log = (line: string) => {
      f.logs.push(line);
      if (line.startsWith("[test/1] $ ")) {
        timer = setTimeout(() => controller.abort("SIGTERM"), 200);
      }
    };
    try {
      const outcome = await runTests(f.inputs, { ...f.deps, log, signal: controller.signal });
      assert.equal(outcome.exitCode, 1);
      assert.equal(outcome.document.commands.length, 1);
      assert.equal(outcome.document.commands[0]!.cancelled, true);
      assert.equal(outcome.document.result.success, false);
      assert.match(outcome.document.notes.join(";"), /cancelled by SIGTERM: commands #2\.\.#2/);
      assert.equal(await exists(`${f.inputs.workspace}/not-started`), false);
      // The partial results are still stored.
      assert.deepEqual(await storedDoc(f), outcome.document);
    } finally {
      clearTimeout(timer);
    }
  });
});

Deno.test("test stage: passing tests whose results cannot be stored → exit 1 naming the problem", async () => {
  await withTestFixture(["echo fine"], {}, async (f) => {
    const store: ArtifactStore = {
      location: f.store.location,
      uriFor: (key) => f.store.uriFor(key),
      put: (key, body, options) =>
        key.includes("/tests/")
          ? Promise.reject(new Error("AccessDenied: s3:PutObject"))
          : f.store.put(key, body, options),
      get: (key) => f.store.get(key),
      head: (key) => f.store.head(key),
      exists: (key) => f.store.exists(key),
      list: (prefix) => f.store.list(prefix),
      delete: (key) => f.store.delete(key),
      close: () => {},
    };
    const outcome = await runTests(f.inputs, { ...f.deps, store });
    assert.equal(outcome.exitCode, 1);
    assert.equal(outcome.document.result.success, true, "the tests themselves passed");
    assert.match(outcome.failure ?? "", /could not be stored: AccessDenied/);
    assert.equal(outcome.resultUri, undefined);
    assert.equal(outcome.document.commands[0]!.logUri, null);
  });
});

Deno.test("test stage: an environment without tests → exit 0, result says so, no outputs needed", async () => {
  await withTestFixture(["false"], { outputs: null }, async (f) => {
    const outcome = await runTests({ ...f.inputs, environment: "prod" }, f.deps);
    assert.equal(outcome.exitCode, 0, f.logs.join("\n"));
    assert.equal(outcome.document.testsConfigured, false);
    assert.deepEqual(outcome.document.commands, []);
    assert.deepEqual(outcome.document.notes, ["no tests configured for environment prod"]);
    const r = outcome.document.result;
    assert.deepEqual([r.success, r.testCount, r.exitCode], [true, 0, 0]);
    assert.ok(
      f.logs.some((l) => /no tests configured for environment prod; nothing to run/.test(l)),
    );
    assert.deepEqual(await storedDoc(f, "prod"), outcome.document);
  });
});

Deno.test("test stage: missing or unknown environment → usage error (2) naming the valid ones", async () => {
  await withTestFixture(["true"], {}, async (f) => {
    const { environment: _, ...noEnv } = f.inputs;
    for (
      const [inputs, pattern] of [
        [noEnv, /--env \(or APHEX_ENV\) is required; valid environments: dev, prod/],
        [{ ...f.inputs, environment: "staging" }, /"staging" is not in the config.*dev, prod/],
      ] as const
    ) {
      await assert.rejects(runTests(inputs, f.deps), (e) => {
        assert.ok(e instanceof AphexError);
        assert.equal(e.exitCode, 2);
        assert.match(e.message, pattern);
        return true;
      });
    }
  });
});

Deno.test("test stage: stack outputs missing (deploy did not run) → exit 1, nothing run; malformed → exit 1", async () => {
  await withTestFixture(["touch should-not-run"], { outputs: null }, async (f) => {
    await assert.rejects(runTests(f.inputs, f.deps), (e) => {
      assert.ok(e instanceof AphexError);
      assert.equal(e.exitCode, 1);
      assert.match(e.message, /outputs\/dev\.json not found.*run aphex deploy --env dev first/);
      return true;
    });
    assert.equal(await exists(`${f.inputs.workspace}/should-not-run`), false);
    await f.store.put(outputsKey(f.sha, "dev"), JSON.stringify({ "App-dev": { Port: 443 } }));
    await assert.rejects(runTests(f.inputs, f.deps), (e) => {
      assert.ok(e instanceof AphexError);
      assert.equal(e.exitCode, 1);
      assert.match(e.message, /App-dev\.Port: must be a string/);
      return true;
    });
  });
});

Deno.test("aphex test CLI: env from APHEX_ENV, Argo outputs, --json; usage errors exit 2", async () => {
  await withTestFixture(
    ["printf '1..2\\nok 1\\nnot ok 2\\n'; exit 1", "echo fine"],
    {},
    async (f) => {
      // The workspace is already at the commit, so the CLI needs no repository URL.
      await checkoutCommit({
        workspace: f.inputs.workspace,
        commitSha: f.sha,
        repoUrl: f.repoUrl,
        allowFileUrls: true,
        env: f.deps.env,
      });
      const env: Record<string, string> = {
        ...(f.deps.env as Record<string, string>),
        APHEX_WORKSPACE: f.inputs.workspace,
        APHEX_COMMIT_SHA: f.sha,
        APHEX_OUTPUTS_DIR: f.inputs.outputsDir,
        APHEX_STORE_DIR: f.inputs.storeDir,
        APHEX_ENV: "dev",
      };
      const ctx = captureContext(["test", "--json"], { env });
      assert.equal(await main(ctx), 1, ctx.err.join(""));
      const printed = JSON.parse(ctx.out.join(""));
      assert.deepEqual(
        [printed.success, printed.testCount, printed.passedCount, printed.failedCount],
        [false, 3, 2, 1],
      );
      assert.equal(printed.countSource, "per-command");
      const read = (name: string) => Deno.readTextFile(`${f.inputs.outputsDir}/${name}`);
      assert.equal(await read("success"), "false");
      assert.equal(await read("test-count"), "3");
      assert.equal(await read("passed-count"), "2");
      assert.equal(await read("failed-count"), "1");
      const result = JSON.parse(await read("result.json"));
      assert.equal(result.environment, "dev");
      assert.equal(result.resultUri, f.store.uriFor(testResultKey(f.sha, "dev")));
      assert.match(ctx.err.join(""), /FAILED: 1 of 2 command\(s\) failed/);
      assert.ok(!ctx.err.join("").includes(FAKE_TOKEN));

      const prod = captureContext(["test", "--env", "prod"], { env });
      assert.equal(await main(prod), 0, prod.err.join(""));
      assert.match(prod.err.join(""), /no tests configured for environment prod/);
      assert.equal(await read("success"), "true");
      assert.equal(await read("test-count"), "0");

      const { APHEX_ENV: _, ...noEnv } = env;
      const missing = captureContext(["test"], { env: noEnv });
      assert.equal(await main(missing), 2);
      assert.match(missing.err.join(""), /environments: dev, prod/);
      assert.equal(await read("success"), "false");

      const unknown = captureContext(["test", "--env", "qa"], { env });
      assert.equal(await main(unknown), 2);
      assert.match(unknown.err.join(""), /"qa" is not in the config/);

      const badGlob = captureContext(["test", "--junit-glob", "../x.xml"], { env });
      assert.equal(await main(badGlob), 2);
      assert.match(badGlob.err.join(""), /JUnit glob/);

      const help = captureContext(["test", "--help"], { env });
      assert.equal(await main(help), 0);
      assert.match(help.out.join(""), /--env NAME.*APHEX_ENV/);
      assert.match(help.out.join(""), /--junit-glob GLOB/);
    },
  );
});
