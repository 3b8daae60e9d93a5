/**
 * The test stage's results as data: the per-command report and the results document stored at
 * `<sha>/tests/<env>/result.json` (JSON codecs), how one command's tests are counted, and the
 * summary table. No I/O happens in this module.
 * @module
 */
import {
  array,
  boolean,
  type Codec,
  integer,
  literal,
  nullable,
  number,
  object,
  string,
  toJsonText,
} from "./_codec.ts";
import { type CountSource, type TestExecutionResult, TestExecutionResultCodec } from "./results.ts";
import { type JUnitReport, parseTestReport } from "./test_report.ts";

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

/** Whether a command failed (non-zero exit, timeout or cancellation). */
export function commandFailed(
  c: Pick<TestCommandReport, "exitCode" | "timedOut" | "cancelled">,
): boolean {
  return c.exitCode !== 0 || c.timedOut || c.cancelled;
}

/** Milliseconds as seconds with two decimals. */
export function seconds(ms: number): number {
  return Math.round(ms / 10) / 100;
}

/**
 * Counts for one finished command from its output and JUnit reports: parsed counts when
 * {@linkcode parseTestReport} finds any, else one test passed or failed by its exit code.
 * Disagreements between the exit code and the report are noted (the exit code decides success).
 */
export function countCommand(
  outcome: { exitCode: number; timedOut: boolean; cancelled: boolean },
  output: string,
  junit: readonly JUnitReport[],
): Pick<
  TestCommandReport,
  "testCount" | "passedCount" | "failedCount" | "skippedCount" | "countSource" | "notes"
> {
  const parsed = parseTestReport(output, { junit });
  const bad = commandFailed(outcome);
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
export function oneLine(command: string): string {
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
  const failedCommands = doc.commands.filter(commandFailed).length;
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
