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
import { type Codec, fromJsonText, record, string } from "../models/_codec.ts";
import type { EnvironmentConfig } from "../models/config.ts";
import { AphexError, describeError, ExitCode } from "../models/errors.ts";
import { type TestExecutionResult, TestExecutionResultCodec } from "../models/results.ts";
import { writeLastGood } from "../adapters/store/assemblies.ts";
import {
  type ArtifactStore,
  openArtifactStore,
  outputsKey,
  readText,
  type S3StoreOptions,
  validateKey,
} from "../adapters/store/artifacts.ts";
import {
  type CommandOutcome,
  makeRedactor,
  type Redactor,
  runShellCommand,
  secretValuesFromEnv,
} from "../adapters/process/exec.ts";
import {
  checkoutStage,
  GITHUB_TOKEN_ENV,
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
  countCommand,
  encodeTestRun,
  oneLine,
  overallCountSource,
  renderSummaryTable,
  seconds,
  type TestCommandReport,
  type TestRunDocument,
  TestRunDocumentCodec,
} from "../models/test_run.ts";
import {
  changedReportFiles,
  findReportFiles,
  globToRegExp,
  readReports,
} from "../adapters/workspace/report_files.ts";

/** Default per-command timeout (1 hour, the test pod's deadline). */
export const DEFAULT_TEST_COMMAND_TIMEOUT_MS = 60 * 60 * 1000;

/** JUnit report globs used when none is given (relative to the workspace). */
export const DEFAULT_JUNIT_GLOBS: readonly string[] = ["**/junit*.xml", "test-results/**/*.xml"];

/** Largest command log parsed whole for counts; beyond it only the output tails are parsed. */
export const MAX_PARSED_LOG_BYTES = 16 * 1024 * 1024;

/**
 * Largest `APHEX_STACK_OUTPUTS` value (bytes). Linux refuses a single environment string over
 * 128 KiB, so bigger outputs are only given through `APHEX_STACK_OUTPUTS_FILE`.
 */
export const MAX_OUTPUTS_ENV_BYTES = 96 * 1024;

/** Environment variables never passed on to test commands. */
const WITHHELD_FROM_COMMANDS = [GITHUB_TOKEN_ENV];

/** Stack outputs of one environment: stack name → output key → value. */
export type StackOutputs = Record<string, Record<string, string>>;

/** JSON codec of {@linkcode StackOutputs} (`<sha>/outputs/<env>.json`). */
export const StackOutputsCodec: Codec<StackOutputs> = record(record(string));

/** Key of an environment's test results: `<sha>/tests/<env>/result.json`. */
export function testResultKey(commitSha: string, environment: string): string {
  return validateKey(`${commitSha}/tests/${environment}/result.json`);
}

/** Key of the log of test command `n` (1-based): `<sha>/tests/<env>/<n>.log`. */
export function testLogKey(commitSha: string, environment: string, n: number): string {
  return validateKey(`${commitSha}/tests/${environment}/${n}.log`);
}

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

/** Reads and validates `<sha>/outputs/<env>.json`; exit-1 error when deploy did not write it. */
export async function readStackOutputs(
  store: ArtifactStore,
  commitSha: string,
  environment: string,
): Promise<StackOutputs> {
  const key = outputsKey(commitSha, environment);
  if (!(await store.exists(key))) {
    throw new AphexError(
      `${store.uriFor(key)} not found: no deployment of ${environment} was recorded for commit ` +
        `${commitSha} (the deploy stage writes it, even when the stacks have no outputs); ` +
        `run aphex deploy --env ${environment} first`,
    );
  }
  return fromJsonText(StackOutputsCodec, await readText(store, key), store.uriFor(key));
}

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

/** What the commands of one stage run share. */
interface RunContext {
  inputs: TestInputs;
  deps: TestDeps;
  store: ArtifactStore;
  environment: string;
  /** Complete environment of the commands. */
  env: Record<string, string | undefined>;
  patterns: RegExp[];
  tmpDir: string;
  redact: Redactor;
  log: (line: string) => void;
}

/** One command's report, its raw outcome and a storage problem, if any. */
interface CommandRun {
  report: TestCommandReport;
  outcome: CommandOutcome;
  storageProblem?: string;
}

/**
 * The environment of the test commands: the stage's own minus the git token, plus the commit,
 * the environment's name, account and region, and the stack outputs (inline and as a file).
 */
function commandEnvironment(
  base: Record<string, string | undefined>,
  options: {
    inputs: TestInputs;
    environment: EnvironmentConfig;
    outputsJson: string;
    outputsFile: string;
  },
): { env: Record<string, string | undefined>; notes: string[] } {
  const { inputs, environment, outputsJson, outputsFile } = options;
  const env: Record<string, string | undefined> = {
    ...base,
    APHEX_COMMIT_SHA: inputs.commitSha,
    APHEX_WORKSPACE: inputs.workspace,
    ...(inputs.branch ? { APHEX_BRANCH: inputs.branch } : {}),
    APHEX_ENV: environment.name,
    APHEX_ACCOUNT: environment.account,
    AWS_REGION: environment.region,
    AWS_DEFAULT_REGION: environment.region,
    APHEX_STACK_OUTPUTS_FILE: outputsFile,
    APHEX_STACK_OUTPUTS: outputsJson,
  };
  for (const name of WITHHELD_FROM_COMMANDS) delete env[name];
  const notes: string[] = [];
  if (new TextEncoder().encode(outputsJson).length > MAX_OUTPUTS_ENV_BYTES) {
    delete env.APHEX_STACK_OUTPUTS;
    notes.push(
      `stack outputs are over ${MAX_OUTPUTS_ENV_BYTES} bytes: APHEX_STACK_OUTPUTS is not set, ` +
        "read APHEX_STACK_OUTPUTS_FILE instead",
    );
  }
  return { env, notes };
}

/**
 * Runs test command `n`: streams its output live and into its own log file, finds the JUnit
 * reports it wrote, counts its tests and stores its log as `<sha>/tests/<env>/<n>.log`.
 */
async function runTestCommand(ctx: RunContext, n: number, command: string): Promise<CommandRun> {
  const { inputs, deps, redact, log } = ctx;
  const label = `test/${n}`;
  const prefix = `[${label}] `;
  const logPath = join(ctx.tmpDir, `${n}.log`);
  const logFile = await Deno.open(logPath, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  const writeLine = (line: string) => {
    const bytes = encoder.encode(line + "\n");
    for (let off = 0; off < bytes.length;) off += logFile.writeSync(bytes.subarray(off));
  };
  const find = () =>
    findReportFiles(inputs.workspace, ctx.patterns, { excludeDirs: [inputs.storeDir] });
  let outcome: CommandOutcome;
  let junitFiles: string[];
  const notes: string[] = [];
  try {
    writeLine(redact(`# aphex ${label}: ${oneLine(command)}`));
    const before = await find();
    const startedMs = Date.now();
    log(`[${label}] $ ${oneLine(command)}`);
    outcome = await runShellCommand(command, {
      cwd: inputs.workspace,
      env: ctx.env,
      label,
      log: (line) => {
        deps.log(line);
        writeLine(line.startsWith(prefix) ? line.slice(prefix.length) : line);
      },
      redact,
      timeoutMs: deps.commandTimeoutMs ?? DEFAULT_TEST_COMMAND_TIMEOUT_MS,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    junitFiles = changedReportFiles(before, await find(), startedMs);
    writeLine(
      `# exit code ${outcome.exitCode}${outcome.timedOut ? " (timed out)" : ""}${
        outcome.cancelled ? " (cancelled)" : ""
      } in ${(outcome.durationMs / 1000).toFixed(2)} s`,
    );
  } finally {
    logFile.close();
  }
  try {
    // Counts: the whole output when the log is small enough, else the kept tails.
    let output: string;
    if ((await Deno.stat(logPath)).size <= MAX_PARSED_LOG_BYTES) {
      const text = await Deno.readTextFile(logPath);
      output = text.slice(text.indexOf("\n") + 1); // without the header line
    } else {
      output = `${outcome.stdoutTail}\n${outcome.stderrTail}`;
      notes.push(`output over ${MAX_PARSED_LOG_BYTES} bytes: counts parsed from its tail only`);
    }
    const junit = await readReports(inputs.workspace, junitFiles, notes);
    const counts = countCommand(outcome, output, junit);
    const key = testLogKey(inputs.commitSha, ctx.environment, n);
    let logUri: string | null = null;
    let storageProblem: string | undefined;
    try {
      await ctx.store.put(key, { path: logPath }, { contentType: "text/plain" });
      logUri = ctx.store.uriFor(key);
    } catch (e) {
      storageProblem = `the log of command #${n} could not be stored: ${
        redact(e instanceof Error ? e.message : String(e))
      }`;
      log(`[test] ${storageProblem}`);
    }
    const report: TestCommandReport = {
      index: n,
      command: outcome.command,
      exitCode: outcome.exitCode,
      timedOut: outcome.timedOut,
      cancelled: outcome.cancelled,
      duration: seconds(outcome.durationMs),
      ...counts,
      notes: [...notes, ...counts.notes],
      junitFiles,
      logUri,
    };
    log(
      `[${label}] ${commandFailed(report) ? "FAILED" : "ok"} (exit ${outcome.exitCode}) in ${
        report.duration.toFixed(2)
      } s: ${report.testCount} test(s), ${report.passedCount} passed, ${report.failedCount} ` +
        `failed (${report.countSource}${junitFiles.length ? `: ${junitFiles.join(", ")}` : ""})`,
    );
    for (const note of report.notes) log(`[${label}] note: ${note}`);
    return { report, outcome, ...(storageProblem ? { storageProblem } : {}) };
  } finally {
    await Deno.remove(logPath).catch(() => {});
  }
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
  ctx: Pick<RunContext, "store" | "redact" | "log">,
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

    const ctx: RunContext = {
      ...base,
      inputs,
      deps,
      environment: envName,
      env,
      patterns,
      tmpDir,
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
      runs.push(await runTestCommand(ctx, i + 1, command));
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
