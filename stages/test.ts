/**
 * The post-deployment test stage (`aphex test`, also `deno run -A stages/test.ts`): checkout of the
 * exact commit → the environment's stack outputs from the artifact store
 * (`<sha>/outputs/<env>.json`, written by the deploy stage) → every `tests.commands` entry in order
 * (all of them run; the stage fails if any failed) → test counts per command from the JUnit XML
 * reports it left, else its TAP output, else runners' summary lines, else one test per command →
 * `<sha>/tests/<env>/result.json` and one log per command (`<sha>/tests/<env>/<n>.log`), a summary
 * table at the end of the log, exit 1 on any failure.
 *
 * Counting rule: each command is counted from its own reports; the totals are the sums. The
 * result's `countSource` is the least precise source any command needed (junit > tap > summary >
 * per-command), so it is `per-command` as soon as one command could only be counted as one test
 * passed or failed by its exit code. Numbers are never invented.
 *
 * One command's run (its environment, log file, reports and counts) is in `_test_command.ts`; the
 * store keys and the stack outputs reader in `adapters/store/test_results.ts`.
 * @module
 */
import { join } from "node:path";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import { describeError, ExitCode } from "../models/errors.ts";
import { type TestExecutionResult, TestExecutionResultCodec } from "../models/results.ts";
import { writeLastGood } from "../adapters/store/assemblies.ts";
import type { ArtifactStore } from "../adapters/store/artifact_store.ts";
import { openArtifactStore } from "../adapters/store/artifacts.ts";
import type { S3StoreOptions } from "../adapters/store/s3_store.ts";
import { readStackOutputs, testResultKey } from "../adapters/store/test_results.ts";
import { makeRedactor, type Redactor, secretValuesFromEnv } from "../adapters/process/exec.ts";
import {
  checkoutStage,
  resolveBucket,
  resolveStageInputs,
  runStageCommand,
  secondsOption,
  selectEnvironment,
  STAGE_OPTIONS,
  type StageDeps,
  type StageInputs,
  writeOutputs,
} from "../command/stage_runtime.ts";
import {
  commandFailed,
  encodeTestRun,
  overallCountSource,
  renderSummaryTable,
  seconds,
  type TestRunDocument,
  TestRunDocumentCodec,
} from "../models/test_run.ts";
import { globToRegExp } from "../adapters/workspace/report_files.ts";
import {
  commandEnvironment,
  type CommandRun,
  runTestCommand,
  type TestCommandContext,
} from "./_test_command.ts";

/** Default per-command timeout (1 hour, the test pod's deadline). */
export const DEFAULT_TEST_COMMAND_TIMEOUT_MS = 60 * 60 * 1000;

/** JUnit report globs used when none is given (relative to the workspace). */
export const DEFAULT_JUNIT_GLOBS: readonly string[] = ["**/junit*.xml", "test-results/**/*.xml"];

/** Inputs of {@linkcode runTests}: the stage inputs plus the environment and report globs. */
export interface TestInputs extends StageInputs {
  /** Environment to test (`--env`/`APHEX_ENV`); usage error naming the valid ones when unset. */
  environment?: string;
  /** JUnit report globs relative to the workspace (default {@linkcode DEFAULT_JUNIT_GLOBS}). */
  junitGlobs?: string[];
}

/** Injected dependencies of {@linkcode runTests}. */
export interface TestDeps extends StageDeps {
  /** Multipart settings. */
  s3?: S3StoreOptions;
  /** Per-command timeout in milliseconds (default 1 hour). */
  commandTimeoutMs?: number;
}

/** What {@linkcode runTests} did. */
export interface TestOutcome {
  /** Exit code of the stage: 0 ok, 1 a command failed or results could not be stored. */
  exitCode: number;
  /** The results document (also stored as `<sha>/tests/<env>/result.json`). */
  document: TestRunDocument;
  /** URI of the stored results document, when it was stored. */
  resultUri?: string;
  /** Why the stage failed. */
  failure?: string;
}

// ---------------------------------------------------------------------------------------------
// The stage

function emptyResult(duration: number): TestExecutionResult {
  return {
    success: true,
    exitCode: 0,
    stdout: "",
    stderr: "",
    duration,
    testCount: 0,
    passedCount: 0,
    failedCount: 0,
    countSource: "per-command",
  };
}

/** Totals over the commands run: the spec's TestExecutionResult plus skipped tests. */
function summarize(
  runs: readonly CommandRun[],
  options: { planned: number; startedMs: number },
): { result: TestExecutionResult; skippedCount: number } {
  const sum = (k: "testCount" | "passedCount" | "failedCount" | "skippedCount") =>
    runs.reduce((acc, r) => acc + r.report[k], 0);
  const firstFailure = runs.find((r) => commandFailed(r.report));
  const notStarted = runs.length < options.planned;
  const shown = (firstFailure ?? runs.at(-1))?.outcome;
  return {
    result: {
      success: firstFailure === undefined && !notStarted,
      exitCode: firstFailure?.outcome.exitCode ?? (notStarted ? 130 : 0),
      stdout: shown?.stdoutTail ?? "",
      stderr: shown?.stderrTail ?? "",
      duration: seconds(performance.now() - options.startedMs),
      testCount: sum("testCount"),
      passedCount: sum("passedCount"),
      failedCount: sum("failedCount"),
      countSource: overallCountSource(runs.map((r) => r.report.countSource)),
    },
    skippedCount: sum("skippedCount"),
  };
}

/** Stores the results document; the outcome says whether the stage succeeded. */
async function publish(
  ctx: Pick<TestCommandContext, "store" | "redact" | "log">,
  doc: TestRunDocument,
): Promise<TestOutcome> {
  const key = testResultKey(doc.commitSha, doc.environment);
  try {
    await ctx.store.put(key, encodeTestRun(doc), { contentType: "application/json" });
  } catch (e) {
    const failure = `the test results could not be stored: ${
      ctx.redact(e instanceof Error ? e.message : String(e))
    }`;
    ctx.log(`[test] ${failure}`);
    return { exitCode: ExitCode.Failed, document: doc, failure };
  }
  const resultUri = ctx.store.uriFor(key);
  ctx.log(`[test] results stored at ${resultUri}`);
  const failedCommands = doc.commands.filter(commandFailed);
  if (failedCommands.length > 0 || !doc.result.success) {
    const failure = failedCommands.length > 0
      ? `test command(s) ${failedCommands.map((c) => `#${c.index}`).join(", ")} failed`
      : "the test stage was cancelled";
    return { exitCode: ExitCode.Failed, document: doc, resultUri, failure };
  }
  return { exitCode: ExitCode.Ok, document: doc, resultUri };
}

/**
 * Runs the test stage. Configuration and input errors throw an AphexError with exit code 2
 * (missing or unknown environment, bad glob); a failed checkout or missing stack outputs throw
 * with exit code 1; failed commands or storage failures return an outcome with exit code 1.
 */
export async function runTests(inputs: TestInputs, deps: TestDeps): Promise<TestOutcome> {
  const startedMs = performance.now();
  const sha = inputs.commitSha;
  const patterns = (inputs.junitGlobs?.length ? inputs.junitGlobs : DEFAULT_JUNIT_GLOBS).map(
    globToRegExp,
  );
  const redact: Redactor = makeRedactor(secretValuesFromEnv(deps.env));
  const log = (line: string) => deps.log(redact(line));
  let store: ArtifactStore | undefined = deps.store;
  const ownStore = store === undefined;
  const tmpDir = await Deno.makeTempDir({ prefix: "aphex-test-" });
  try {
    const config = await checkoutStage(inputs, { ...deps, log: (line) => log(`[test] ${line}`) });
    const environment = selectEnvironment(config, inputs.environment);
    const envName = environment.name;
    const bucket = resolveBucket(inputs, config);
    store ??= await openArtifactStore({
      localRoot: inputs.storeDir,
      ...(bucket ? { bucket } : {}),
      aws: { env: deps.env, ...deps.aws },
      ...(deps.s3 ? { s3: deps.s3 } : {}),
    });
    log(`[test] commit ${sha}; environment ${envName}; artifact store ${store.location}`);
    const base = { store, redact, log };

    const commands = environment.tests?.commands ?? [];
    if (commands.length === 0) {
      const note = `no tests configured for environment ${envName}` +
        (environment.tests ? " (tests.commands is empty)" : "");
      log(`[test] ${note}; nothing to run`);
      return await publish(base, {
        commitSha: sha,
        environment: envName,
        testsConfigured: false,
        result: emptyResult(seconds(performance.now() - startedMs)),
        skippedCount: 0,
        commands: [],
        notes: [note],
      });
    }

    // Stack outputs of the deployment under test.
    const outputs = await readStackOutputs(store, sha, envName);
    const outputsFile = join(tmpDir, "stack-outputs.json");
    await Deno.writeTextFile(outputsFile, JSON.stringify(outputs, null, 2) + "\n");
    const { env, notes } = commandEnvironment(deps.env, {
      inputs,
      environment,
      outputsJson: JSON.stringify(outputs),
      outputsFile,
    });
    for (const note of notes) log(`[test] warning: ${note}`);
    const outputCount = Object.values(outputs).reduce((n, o) => n + Object.keys(o).length, 0);
    log(
      `[test] ${outputCount} stack output(s) of ${
        Object.keys(outputs).length
      } stack(s) given to the commands`,
    );

    const ctx: TestCommandContext = {
      ...base,
      workspace: inputs.workspace,
      storeDir: inputs.storeDir,
      commitSha: sha,
      environment: envName,
      env,
      patterns,
      tmpDir,
      timeoutMs: deps.commandTimeoutMs ?? DEFAULT_TEST_COMMAND_TIMEOUT_MS,
      ...(deps.signal ? { signal: deps.signal } : {}),
      output: deps.log,
    };
    const runs: CommandRun[] = [];
    for (const [i, command] of commands.entries()) {
      if (deps.signal?.aborted) {
        const note = `cancelled by ${String(deps.signal.reason ?? "signal")}: commands #${i + 1}` +
          `..#${commands.length} were not run`;
        notes.push(note);
        log(`[test] ${note}`);
        break;
      }
      runs.push(await runTestCommand(ctx, { n: i + 1, command }));
    }

    const { result, skippedCount } = summarize(runs, { planned: commands.length, startedMs });
    const doc: TestRunDocument = {
      commitSha: sha,
      environment: envName,
      testsConfigured: true,
      result,
      skippedCount,
      commands: runs.map((r) => r.report),
      notes,
    };
    let outcome = await publish(base, doc);
    const storageProblem = runs.find((r) => r.storageProblem)?.storageProblem;
    if (storageProblem && outcome.exitCode === ExitCode.Ok) {
      outcome = {
        ...outcome,
        exitCode: ExitCode.Failed,
        failure: `the tests passed but ${storageProblem}`,
      };
    }
    // Deployed and tested: this commit is the environment's last good one (issue 14).
    if (outcome.exitCode === ExitCode.Ok) {
      try {
        const uri = await writeLastGood(store, envName, {
          sha,
          time: new Date().toISOString(),
          workflow: deps.env.APHEX_WORKFLOW_NAME ?? null,
          stacks: environment.stacks.map((s) => s.name),
        });
        log(`[test] ${envName} last good: ${sha} (${uri})`);
      } catch (e) {
        outcome = {
          ...outcome,
          exitCode: ExitCode.Failed,
          failure: `the tests passed but the last-good pointer could not be written: ${
            redact(describeError(e))
          }`,
        };
      }
    }
    // The summary table ends the log.
    for (const line of renderSummaryTable(doc)) log(`[test] ${line}`);
    return outcome;
  } finally {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
    if (ownStore) store?.close();
  }
}

/** Writes the test stage's Argo output parameters and result JSON. */
export async function writeTestOutputs(dir: string, outcome: TestOutcome): Promise<void> {
  const r = outcome.document.result;
  await writeOutputs(dir, {
    parameters: {
      success: String(outcome.exitCode === ExitCode.Ok),
      "exit-code": String(outcome.exitCode),
      "test-count": String(r.testCount),
      "passed-count": String(r.passedCount),
      "failed-count": String(r.failedCount),
      "count-source": r.countSource,
      "result-uri": outcome.resultUri ?? "",
    },
    result: {
      ...(TestRunDocumentCodec.encode(outcome.document) as Record<string, unknown>),
      resultUri: outcome.resultUri ?? null,
      failure: outcome.failure ?? null,
    },
  });
}

/** `aphex test`. */
export const command: Command = {
  spec: {
    name: "test",
    summary: "Run the environment's tests.commands against the deployed stacks; store the results",
    description: "Every command runs (the stage fails if any failed) with APHEX_STACK_OUTPUTS " +
      "(JSON {stack: {key: value}} from <sha>/outputs/<env>.json), APHEX_STACK_OUTPUTS_FILE, " +
      "APHEX_ENV, APHEX_ACCOUNT, AWS_REGION and AWS_DEFAULT_REGION. Counts come from JUnit " +
      "reports the command wrote, else TAP output, else runner summary lines (Deno, Jest, " +
      "Vitest, pytest, Go), else one test per command. Results go to " +
      "<sha>/tests/<env>/result.json, command logs to <sha>/tests/<env>/<n>.log.",
    options: {
      ...STAGE_OPTIONS,
      env: {
        type: "string",
        description: "Environment to test (as named in the config; required)",
        env: "APHEX_ENV",
        valueName: "NAME",
      },
      "junit-glob": {
        type: "string",
        multiple: true,
        description: `JUnit XML reports to read, relative to the workspace (default ${
          DEFAULT_JUNIT_GLOBS.join(" and ")
        }; node_modules and .git are never searched)`,
        env: "APHEX_JUNIT_GLOB",
        valueName: "GLOB",
      },
      "command-timeout": {
        type: "string",
        description: "Per-command timeout in seconds",
        env: "APHEX_COMMAND_TIMEOUT",
        default: String(DEFAULT_TEST_COMMAND_TIMEOUT_MS / 1000),
        valueName: "SECONDS",
      },
      json: { type: "boolean", description: "Print the TestExecutionResult as JSON on stdout" },
    },
  },
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const inputs: TestInputs = resolveStageInputs(values, ctx);
    const environment = str(values, "env");
    if (environment) inputs.environment = environment;
    const globs = values["junit-glob"];
    if (Array.isArray(globs) && globs.length > 0) {
      globs.forEach(globToRegExp);
      inputs.junitGlobs = globs;
    }
    const timeout = secondsOption(values, "command-timeout");
    const outcome = await runStageCommand(inputs, {
      ctx,
      stage: environment ? `test-${environment}` : "test",
      describe: (o) => ({
        exitCode: o.exitCode,
        ...(o.failure ? { errorMessage: o.failure } : {}),
      }),
      run: (signal: AbortSignal, log: (line: string) => void) =>
        runTests(inputs, {
          env: ctx.env,
          log,
          signal,
          commandTimeoutMs: timeout * 1000,
        }),
      failureParameters: {
        "test-count": "0",
        "passed-count": "0",
        "failed-count": "0",
        "count-source": "per-command",
        "result-uri": "",
      },
    });
    await writeTestOutputs(inputs.outputsDir, outcome);
    if (values.json === true) {
      ctx.stdout(JSON.stringify(TestExecutionResultCodec.encode(outcome.document.result)) + "\n");
    }
    if (outcome.failure) ctx.stderr(`error: ${outcome.failure}\n`);
    return outcome.exitCode;
  },
};

if (import.meta.main) await runMain(command);
