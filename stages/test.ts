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
import { join, resolve } from "node:path";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import {
  array,
  boolean,
  type Codec,
  fromJsonText,
  integer,
  literal,
  nullable,
  number,
  object,
  record,
  string,
  toJsonText,
} from "../models/_codec.ts";
import type { EnvironmentConfig } from "../models/config.ts";
import { AphexError, describeError, ExitCode, usageError } from "../models/errors.ts";
import {
  type CountSource,
  type TestExecutionResult,
  TestExecutionResultCodec,
} from "../models/results.ts";
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
import { type JUnitReport, parseTestReport } from "../models/test_report.ts";

/** Default per-command timeout (1 hour, the test pod's deadline). */
export const DEFAULT_TEST_COMMAND_TIMEOUT_MS = 60 * 60 * 1000;

/** JUnit report globs used when none is given (relative to the workspace). */
export const DEFAULT_JUNIT_GLOBS: readonly string[] = ["**/junit*.xml", "test-results/**/*.xml"];

/** Directories never searched for JUnit reports. */
export const JUNIT_EXCLUDED_DIRS: readonly string[] = ["node_modules", ".git"];

/** Largest JUnit file read (bigger ones are skipped with a note). */
export const MAX_JUNIT_BYTES = 32 * 1024 * 1024;

/** Most JUnit files read after one command. */
export const MAX_JUNIT_FILES = 1000;

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

/** What one test command did and how its tests were counted. */
export interface TestCommandReport {
  /** 1-based position in `tests.commands`. */
  index: number;
  /** The command string (secrets redacted). */
  command: string;
  /** Exit code (124 on timeout, 128 + n when killed by signal n). */
  exitCode: number;
  /** Whether the per-command timeout fired. */
  timedOut: boolean;
  /** Whether the stage was cancelled while it ran. */
  cancelled: boolean;
  /** Duration in seconds. */
  duration: number;
  /** Tests counted for this command. */
  testCount: number;
  /** Tests passed. */
  passedCount: number;
  /** Tests failed. */
  failedCount: number;
  /** Tests skipped (included in `testCount`, in neither passed nor failed). */
  skippedCount: number;
  /** Where the counts come from. */
  countSource: CountSource;
  /** JUnit files the command left (workspace-relative), read for counts. */
  junitFiles: string[];
  /** Parser notes and disagreements between exit code and report. */
  notes: string[];
  /** URI of the stored log, or null when it could not be stored. */
  logUri: string | null;
}

/** Contents of `<sha>/tests/<env>/result.json`. */
export interface TestRunDocument {
  /** Commit tested. */
  commitSha: string;
  /** Environment tested. */
  environment: string;
  /** False when the environment has no `tests` section (nothing ran). */
  testsConfigured: boolean;
  /** The spec's result, totals over every command. */
  result: TestExecutionResult;
  /** Skipped tests over every command (part of `testCount`). */
  skippedCount: number;
  /** One entry per command run, in order. */
  commands: TestCommandReport[];
  /** Stage-level notes (no tests configured, cancellation, large outputs…). */
  notes: string[];
}

const COUNT_SOURCE = literal("junit", "tap", "summary", "per-command");

/** JSON codec of {@linkcode TestCommandReport}. */
export const TestCommandReportCodec: Codec<TestCommandReport> = object<TestCommandReport>({
  index: integer,
  command: string,
  exitCode: integer,
  timedOut: boolean,
  cancelled: boolean,
  duration: number,
  testCount: integer,
  passedCount: integer,
  failedCount: integer,
  skippedCount: integer,
  countSource: COUNT_SOURCE,
  junitFiles: array(string),
  notes: array(string),
  logUri: nullable(string),
});

/** JSON codec of {@linkcode TestRunDocument}. */
export const TestRunDocumentCodec: Codec<TestRunDocument> = object<TestRunDocument>({
  commitSha: string,
  environment: string,
  testsConfigured: boolean,
  result: TestExecutionResultCodec,
  skippedCount: integer,
  commands: array(TestCommandReportCodec),
  notes: array(string),
});

/** Serializes the results document (pretty JSON). */
export function encodeTestRun(doc: TestRunDocument): string {
  return toJsonText(TestRunDocumentCodec, doc, true) + "\n";
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
// JUnit report discovery

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function segmentToRegExp(seg: string): string {
  let out = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === "*") {
      while (seg[i + 1] === "*") i++;
      out += "[^/]*";
    } else if (c === "?") {
      out += "[^/]";
    } else if (c === "[") {
      const end = seg.indexOf("]", i + 2);
      if (end < 0) {
        out += "\\[";
        continue;
      }
      let body = seg.slice(i + 1, end);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      out += `[${negate ? "^/" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else if (c === "{") {
      const end = seg.indexOf("}", i + 1);
      const inner = end < 0 ? "" : seg.slice(i + 1, end);
      if (end < 0 || inner.includes("{")) {
        out += "\\{";
        continue;
      }
      out += `(?:${inner.split(",").map(segmentToRegExp).join("|")})`;
      i = end;
    } else {
      out += escapeRegExp(c);
    }
  }
  return out;
}

/**
 * Compiles a workspace-relative glob to a RegExp over `/`-separated relative paths: `*` and `?`
 * stay within one path segment, `**` as a whole segment matches any number of segments (zero
 * included), `[abc]`/`[!abc]` are character classes and `{a,b}` alternatives within a segment.
 * Usage error for absolute patterns and patterns with `..`.
 */
export function globToRegExp(glob: string): RegExp {
  let g = glob.trim();
  while (g.startsWith("./")) g = g.slice(2);
  const segments = g.split("/").filter((s) => s !== "" && s !== ".");
  if (g.startsWith("/") || segments.length === 0 || segments.includes("..")) {
    throw usageError(
      `JUnit glob ${JSON.stringify(glob)} must be a non-empty path relative to the workspace ` +
        "without '..' (e.g. test-results/**/*.xml)",
    );
  }
  let re = "^";
  for (const [i, seg] of segments.entries()) {
    const last = i === segments.length - 1;
    if (seg === "**") re += last ? ".*" : "(?:[^/]+/)*";
    else re += segmentToRegExp(seg) + (last ? "" : "/");
  }
  return new RegExp(re + "$");
}

/** Modification stamp of a report file (mtime and size). */
export type FileStamps = Map<string, { mtimeMs: number; size: number }>;

/** Options of {@linkcode findReportFiles}. */
export interface FindReportOptions {
  /** Absolute directories not searched (besides node_modules and .git), e.g. the local store. */
  excludeDirs?: string[];
}

/**
 * Files under `root` whose workspace-relative path matches one of `patterns`, with their mtime and
 * size. Skips `node_modules`, `.git`, the `excludeDirs` and symbolic links.
 */
export async function findReportFiles(
  root: string,
  patterns: readonly RegExp[],
  options: FindReportOptions = {},
): Promise<FileStamps> {
  const excluded = new Set((options.excludeDirs ?? []).map((d) => resolve(d)));
  const found: FileStamps = new Map();
  const walk = async (abs: string, rel: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(abs));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) return;
      throw e;
    }
    for (const entry of entries) {
      const childAbs = join(abs, entry.name);
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        if (JUNIT_EXCLUDED_DIRS.includes(entry.name) || excluded.has(childAbs)) continue;
        await walk(childAbs, childRel);
      } else if (entry.isFile && patterns.some((p) => p.test(childRel))) {
        try {
          const stat = await Deno.stat(childAbs);
          found.set(childRel, { mtimeMs: stat.mtime?.getTime() ?? 0, size: stat.size });
        } catch {
          // removed while we looked
        }
      }
    }
  };
  await walk(resolve(root), "");
  return found;
}

/**
 * Report files modified by a command: new since `before`, changed (mtime or size) since
 * `before`, or modified after `startedMs`. Sorted by path.
 */
export function changedReportFiles(
  before: FileStamps,
  after: FileStamps,
  startedMs: number,
): string[] {
  const out: string[] = [];
  for (const [path, stamp] of after) {
    const old = before.get(path);
    if (
      !old || old.mtimeMs !== stamp.mtimeMs || old.size !== stamp.size || stamp.mtimeMs > startedMs
    ) {
      out.push(path);
    }
  }
  return out.sort();
}

async function readReports(
  workspace: string,
  paths: string[],
  notes: string[],
): Promise<JUnitReport[]> {
  const reports: JUnitReport[] = [];
  if (paths.length > MAX_JUNIT_FILES) {
    notes.push(`${paths.length} JUnit files found; only the first ${MAX_JUNIT_FILES} were read`);
  }
  for (const path of paths.slice(0, MAX_JUNIT_FILES)) {
    const abs = join(workspace, path);
    try {
      const { size } = await Deno.stat(abs);
      if (size > MAX_JUNIT_BYTES) {
        notes.push(`${path}: ${size} bytes is over the ${MAX_JUNIT_BYTES}-byte limit; not read`);
        continue;
      }
      reports.push({ name: path, content: await Deno.readTextFile(abs) });
    } catch (e) {
      notes.push(`${path}: cannot be read (${e instanceof Error ? e.message : e})`);
    }
  }
  return reports;
}

// ---------------------------------------------------------------------------------------------
// Counting and the summary

const SOURCE_RANK: Record<CountSource, number> = {
  "junit": 0,
  "tap": 1,
  "summary": 2,
  "per-command": 3,
};

/**
 * The result's count source: the least precise one any command needed (junit > tap > summary >
 * per-command); `per-command` when no command ran.
 */
export function overallCountSource(sources: readonly CountSource[]): CountSource {
  if (sources.length === 0) return "per-command";
  return sources.reduce((a, b) => (SOURCE_RANK[b] > SOURCE_RANK[a] ? b : a));
}

function failed(c: Pick<TestCommandReport, "exitCode" | "timedOut" | "cancelled">): boolean {
  return c.exitCode !== 0 || c.timedOut || c.cancelled;
}

function seconds(ms: number): number {
  return Math.round(ms / 10) / 100;
}

/**
 * Counts for one finished command from its output and JUnit reports: parsed counts when
 * {@linkcode parseTestReport} finds any, else one test passed or failed by its exit code.
 * Disagreements between the exit code and the report are noted (the exit code decides success).
 */
export function countCommand(
  outcome: Pick<CommandOutcome, "exitCode" | "timedOut" | "cancelled">,
  output: string,
  junit: readonly JUnitReport[],
): Pick<
  TestCommandReport,
  "testCount" | "passedCount" | "failedCount" | "skippedCount" | "countSource" | "notes"
> {
  const parsed = parseTestReport(output, { junit });
  const bad = failed(outcome);
  if (!parsed) {
    return {
      testCount: 1,
      passedCount: bad ? 0 : 1,
      failedCount: bad ? 1 : 0,
      skippedCount: 0,
      countSource: "per-command",
      notes: [
        `no JUnit report, TAP output or test summary found; counted as one ${
          bad ? "failed" : "passed"
        } test`,
      ],
    };
  }
  const notes = [...parsed.notes];
  if (bad && parsed.failedCount === 0) {
    notes.push(`the command failed (exit ${outcome.exitCode}) but its report shows no failed test`);
  } else if (!bad && parsed.failedCount > 0) {
    notes.push(
      `the report shows ${parsed.failedCount} failed test(s) but the command exited 0; ` +
        "the exit code decides success",
    );
  }
  return {
    testCount: parsed.testCount,
    passedCount: parsed.passedCount,
    failedCount: parsed.failedCount,
    skippedCount: parsed.skippedCount,
    countSource: parsed.source,
    notes,
  };
}

/** A command string on one line: newlines shown as `\n` (multi-line YAML commands). */
function oneLine(command: string): string {
  return command.replace(/\r?\n/g, "\\n");
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : text.slice(0, width - 1) + "…";
}

/**
 * The summary table printed at the end of the log: one row per command (command, exit code,
 * tests, passed, failed, source, duration), a total row and the verdict.
 */
export function renderSummaryTable(doc: TestRunDocument): string[] {
  const header = ["#", "command", "exit", "tests", "passed", "failed", "source", "duration"];
  const rows = doc.commands.map((c) => [
    String(c.index),
    truncate(oneLine(c.command), 48),
    c.timedOut ? `${c.exitCode} (timeout)` : c.cancelled ? `${c.exitCode} (cancelled)` : String(
      c.exitCode,
    ),
    String(c.testCount),
    String(c.passedCount),
    String(c.failedCount),
    c.countSource,
    `${c.duration.toFixed(2)} s`,
  ]);
  const r = doc.result;
  rows.push([
    "",
    "total",
    String(r.exitCode),
    String(r.testCount),
    String(r.passedCount),
    String(r.failedCount),
    r.countSource,
    `${r.duration.toFixed(2)} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const numeric = new Set([0, 2, 3, 4, 5]);
  const line = (cells: string[]) =>
    cells.map((cell, i) => numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))
      .join("  ").trimEnd();
  const failedCommands = doc.commands.filter(failed).length;
  const verdict = r.success
    ? `PASSED: ${doc.commands.length} command(s) ok`
    : `FAILED: ${failedCommands} of ${doc.commands.length} command(s) failed`;
  return [
    `test summary for ${doc.environment} at ${doc.commitSha.slice(0, 12)}:`,
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.slice(0, -1).map(line),
    line(widths.map((w) => "-".repeat(w))),
    line(rows[rows.length - 1]!),
    `${verdict}; ${r.testCount} test(s), ${r.passedCount} passed, ${r.failedCount} failed, ` +
    `${doc.skippedCount} skipped (counts: ${r.countSource})`,
    ...(r.countSource === "per-command"
      ? ["per-command: at least one command left no parseable report; it counts as one test"]
      : []),
  ];
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
      `[${label}] ${failed(report) ? "FAILED" : "ok"} (exit ${outcome.exitCode}) in ${
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
  const firstFailure = runs.find((r) => failed(r.report));
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
  const failedCommands = doc.commands.filter(failed);
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
