/**
 * The one error type of Aphex, and the exit codes every command uses.
 * @module
 */

/** Exit codes shared by every command and stage. */
export const ExitCode = {
  /** The operation succeeded. */
  Ok: 0,
  /** The operation failed (a build, deploy, test, upload…). */
  Failed: 1,
  /** Usage or configuration error: nothing was attempted. */
  Usage: 2,
} as const;

/** One located problem in a configuration file. */
export interface ConfigIssue {
  /** File name as given by the user. */
  file: string;
  /** 1-based line of the offending node. */
  line: number;
  /** 1-based column of the offending node. */
  col: number;
  /** Dotted path of the offending node, e.g. `environments[1].account`; empty for the document. */
  path: string;
  /** What is wrong and, where possible, how to fix it. */
  message: string;
}

/** Formats an issue as `file:line:col: path: message`. */
export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** Options of {@linkcode AphexError}. */
export interface AphexErrorOptions {
  /** Exit code the CLI uses for this error (default {@linkcode ExitCode.Failed}). */
  exitCode?: number;
  /** Located configuration problems, when the error is about a config file. */
  issues?: ConfigIssue[];
  /** Underlying error. */
  cause?: unknown;
}

/**
 * An error a user can act on. The message is printed as is (no stack trace); `exitCode` says
 * whether it was a usage/config error (2) or a failed operation (1).
 */
export class AphexError extends Error {
  /** Exit code for the CLI. */
  readonly exitCode: number;
  /** Located configuration problems, if any. */
  readonly issues: ConfigIssue[];

  /** An error with a message for the user and the exit code the CLI uses for it. */
  constructor(message: string, options: AphexErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AphexError";
    this.exitCode = options.exitCode ?? ExitCode.Failed;
    this.issues = options.issues ?? [];
  }
}

/** Shorthand for a usage/configuration error (exit code 2). */
export function usageError(message: string, issues?: ConfigIssue[]): AphexError {
  return new AphexError(message, { exitCode: ExitCode.Usage, ...(issues ? { issues } : {}) });
}

/**
 * A one-line description of any thrown value: an {@linkcode AphexError}'s message as is; for other
 * errors the message, prefixed by the error's name when it says more than `Error` (AWS SDK errors:
 * `ThrottlingException: Rate exceeded`).
 */
export function describeError(error: unknown): string {
  if (error instanceof AphexError) return error.message;
  if (typeof error === "object" && error !== null) {
    const { name, message } = error as { name?: unknown; message?: unknown };
    if (typeof message === "string") {
      return typeof name === "string" && name !== "Error" ? `${name}: ${message}` : message;
    }
  }
  return String(error);
}

/** The first line of a (possibly multi-line) message, trimmed: for summaries and tables. */
export function firstLine(text: string): string {
  return text.split("\n")[0]!.trim();
}
