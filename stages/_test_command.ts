/**
 * One command of the test stage: the environment every test command runs with (the stage's own
 * minus the git token, plus the commit, the environment's name, account and region and the stack
 * outputs), and the run of one command: its output streamed live and into its own log file, the
 * JUnit reports it wrote, its test counts, and its log stored as `<sha>/tests/<env>/<n>.log`.
 * @module
 */
import { join } from "node:path";
import { type EnvironmentConfig, GITHUB_TOKEN_ENV } from "../models/config.ts";
import {
  commandFailed,
  countCommand,
  oneLine,
  seconds,
  type TestCommandReport,
} from "../models/test_run.ts";
import type { ArtifactStore } from "../adapters/store/artifact_store.ts";
import { testLogKey } from "../adapters/store/test_results.ts";
import { type CommandOutcome, type Redactor, runShellCommand } from "../adapters/process/exec.ts";
import {
  changedReportFiles,
  findReportFiles,
  readReports,
} from "../adapters/workspace/report_files.ts";

/** Largest command log parsed whole for counts; beyond it only the output tails are parsed. */
export const MAX_PARSED_LOG_BYTES = 16 * 1024 * 1024;

/**
 * Largest `APHEX_STACK_OUTPUTS` value (bytes). Linux refuses a single environment string over
 * 128 KiB, so bigger outputs are only given through `APHEX_STACK_OUTPUTS_FILE`.
 */
export const MAX_OUTPUTS_ENV_BYTES = 96 * 1024;

/** Environment variables never passed on to test commands. */
const WITHHELD_FROM_COMMANDS = [GITHUB_TOKEN_ENV];

/**
 * The environment of the test commands: the stage's own minus the git token, plus the commit,
 * the environment's name, account and region, and the stack outputs (inline and as a file).
 * `notes` says when the outputs were too big to be passed inline.
 */
export function commandEnvironment(
  base: Record<string, string | undefined>,
  options: {
    inputs: { commitSha: string; workspace: string; branch?: string };
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

/** What the commands of one test stage run share. */
export interface TestCommandContext {
  /** Checked-out repository: the commands' working directory, searched for JUnit reports. */
  workspace: string;
  /** Local artifact store directory (never searched for reports). */
  storeDir: string;
  /** Commit under test. */
  commitSha: string;
  /** Name of the environment under test. */
  environment: string;
  /** Store of the command logs. */
  store: ArtifactStore;
  /** Complete environment of the commands (see {@linkcode commandEnvironment}). */
  env: Record<string, string | undefined>;
  /** JUnit report patterns, relative to the workspace. */
  patterns: RegExp[];
  /** Directory of the command logs before they are stored. */
  tmpDir: string;
  /** Per-command timeout in milliseconds. */
  timeoutMs: number;
  /** Stops the running command. */
  signal?: AbortSignal;
  /** Redacts secrets from messages. */
  redact: Redactor;
  /** The stage's log (redacting). */
  log: (line: string) => void;
  /** Sink of the commands' output lines (redacted by the command runner already). */
  output: (line: string) => void;
}

/** One command's report, its raw outcome and a storage problem, if any. */
export interface CommandRun {
  /** The command's entry of the results document. */
  report: TestCommandReport;
  /** What the command runner reported. */
  outcome: CommandOutcome;
  /** Why the command's log could not be stored, if it could not. */
  storageProblem?: string;
}

/**
 * Runs test command `n` (1-based): streams its output live and into its own log file, finds the
 * JUnit reports it wrote, counts its tests and stores its log as `<sha>/tests/<env>/<n>.log`.
 */
export async function runTestCommand(
  ctx: TestCommandContext,
  { n, command }: { n: number; command: string },
): Promise<CommandRun> {
  const { redact, log } = ctx;
  const label = `test/${n}`;
  const prefix = `[${label}] `;
  const logPath = join(ctx.tmpDir, `${n}.log`);
  const logFile = await Deno.open(logPath, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  const writeLine = (line: string) => {
    const bytes = encoder.encode(line + "\n");
    for (let off = 0; off < bytes.length;) off += logFile.writeSync(bytes.subarray(off));
  };
  const find = () => findReportFiles(ctx.workspace, ctx.patterns, { excludeDirs: [ctx.storeDir] });
  let outcome: CommandOutcome;
  let junitFiles: string[];
  const notes: string[] = [];
  try {
    writeLine(redact(`# aphex ${label}: ${oneLine(command)}`));
    const before = await find();
    const startedMs = Date.now();
    log(`[${label}] $ ${oneLine(command)}`);
    outcome = await runShellCommand(command, {
      cwd: ctx.workspace,
      env: ctx.env,
      label,
      log: (line) => {
        ctx.output(line);
        writeLine(line.startsWith(prefix) ? line.slice(prefix.length) : line);
      },
      redact,
      timeoutMs: ctx.timeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
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
    const junit = await readReports(ctx.workspace, junitFiles, notes);
    const counts = countCommand(outcome, output, junit);
    const key = testLogKey(ctx.commitSha, ctx.environment, n);
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
