/**
 * How `aphex run --local` executes its plan, step by step: a step is skipped once an earlier one
 * failed, was declined or the run was cancelled; a running step is timed, its thrown errors become
 * a failed row (exit 1 or 2, first line of the message, redacted), and every step prints one
 * progress line (`▶`, `✔`, `✖`, `○`) and adds one row to the summary. Also: waiting for a prompt
 * without blocking Ctrl-C.
 * @module
 */
import { AphexError, describeError, ExitCode, firstLine } from "../models/errors.ts";
import type { Redactor } from "../adapters/process/exec.ts";
import {
  formatDuration,
  type LocalStepStatus,
  type LocalStepSummary,
  type PlannedStep,
} from "./_run_local_plan.ts";

/** What the body of a step reports. */
export interface LocalStepResult {
  /** What happened. */
  status: LocalStepStatus;
  /** Why it failed or was skipped, or what it did. */
  note: string;
  /** Exit code of a failed step. */
  exitCode?: number;
  /** Synth steps: CloudFormation stack names in deploy order. */
  stacks?: string[];
}

/** Options of {@linkcode LocalStepRunner}. */
export interface LocalStepRunnerOptions {
  /** Stage output (stack traces of unexpected errors). */
  log: (line: string) => void;
  /** Progress lines. */
  progress: (line: string) => void;
  /** Redacts secrets from failure notes. */
  redact: Redactor;
  /** Cancels the run: steps not yet started are skipped. */
  signal?: AbortSignal;
}

/** Runs the steps of a local run in order and keeps the summary rows and the exit code. */
export class LocalStepRunner {
  /** Every step so far, in order, including the skipped ones. */
  readonly steps: LocalStepSummary[] = [];
  #exitCode: number = ExitCode.Ok;
  #stopReason: string | undefined;
  #options: LocalStepRunnerOptions;

  /** A runner with no step run yet. */
  constructor(options: LocalStepRunnerOptions) {
    this.#options = options;
  }

  /** Exit code of the first failing step (1 or 2; 1 when cancelled), else 0. */
  get exitCode(): number {
    return this.#exitCode;
  }

  /** Skips every later step with `reason` (e.g. an approval that was not given). */
  stop(reason: string): void {
    this.#stopReason = reason;
  }

  /**
   * Runs one step: skipped with `options.skip` if given, or with the reason of an earlier stop;
   * else its body, timed, a thrown error being a failure.
   */
  async run(
    planned: PlannedStep,
    body: () => Promise<LocalStepResult>,
    options: { skip?: string | undefined } = {},
  ): Promise<void> {
    await this.#step(planned, options.skip, body);
  }

  /** Reports a step that never runs locally as skipped with `reason`. */
  async skip(planned: PlannedStep, reason: string): Promise<void> {
    await this.#step(planned, reason);
  }

  async #step(
    planned: PlannedStep,
    skip: string | undefined,
    body?: () => Promise<LocalStepResult>,
  ): Promise<void> {
    const { log, progress, redact, signal } = this.#options;
    const base = {
      stage: planned.stage,
      kind: planned.kind,
      ...(planned.env ? { environment: planned.env.name } : {}),
    };
    if (this.#stopReason === undefined && signal?.aborted) {
      this.#stopReason = `not run: cancelled by ${String(signal.reason ?? "signal")}`;
      if (this.#exitCode === ExitCode.Ok) this.#exitCode = ExitCode.Failed;
    }
    const skipped = this.#stopReason ?? skip;
    if (skipped !== undefined || body === undefined) {
      this.steps.push({ ...base, status: "skipped", durationMs: 0, note: skipped ?? "" });
      progress(`○ ${planned.stage} skipped: ${skipped ?? ""}`);
      return;
    }
    progress(`▶ ${planned.stage}`);
    const t0 = performance.now();
    let result: LocalStepResult;
    try {
      result = await body();
    } catch (e) {
      result = {
        status: "failed",
        note: redact(firstLine(describeError(e))),
        exitCode: e instanceof AphexError ? e.exitCode : ExitCode.Failed,
      };
      if (!(e instanceof AphexError)) {
        log(`[run] ${redact(e instanceof Error ? e.stack ?? "" : "")}`);
      }
    }
    const durationMs = result.status === "skipped" ? 0 : Math.round(performance.now() - t0);
    const summary: LocalStepSummary = { ...base, ...result, durationMs };
    this.steps.push(summary);
    if (result.status === "failed") {
      const code = result.exitCode === ExitCode.Usage ? ExitCode.Usage : ExitCode.Failed;
      summary.exitCode = code;
      if (this.#exitCode === ExitCode.Ok) this.#exitCode = code;
      this.#stopReason = `not run: ${planned.stage} failed`;
      progress(`✖ ${planned.stage} ${formatDuration(durationMs)}: ${result.note}`);
    } else if (result.status === "skipped") {
      progress(`○ ${planned.stage} skipped: ${result.note}`);
    } else {
      progress(`✔ ${planned.stage} ${formatDuration(durationMs)}`);
    }
  }
}

/** What {@linkcode untilAborted} resolves to when the signal fires first. */
export const ABORTED: unique symbol = Symbol("aborted");

/** `promise`, or {@linkcode ABORTED} as soon as `signal` fires (a prompt must not block Ctrl-C). */
export function untilAborted<T>(
  promise: Promise<T>,
  signal?: AbortSignal,
): Promise<T | typeof ABORTED> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.resolve(ABORTED);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() =>
    signal.removeEventListener("abort", onAbort!)
  );
}
