/**
 * Approval expiry: an approval gate waits at most `approvalTimeout` (default
 * {@linkcode DEFAULT_APPROVAL_TIMEOUT}); Argo's `suspend.duration` then *continues* the run, so
 * the step after the gate (`aphex approval-check`) decides from the gate's start and end times
 * whether a person approved or the time ran out, and fails the run as "approval expired" in the
 * latter case. No I/O happens in this module.
 * @module
 */

/** Default `approvalTimeout`: one day. */
export const DEFAULT_APPROVAL_TIMEOUT = "24h";

/** Longest `approvalTimeout`: a run's own deadline is 3 days (templates/workflow_template.ts). */
export const MAX_APPROVAL_TIMEOUT_SECONDS = 3 * 24 * 3600 - 3600;

/** `approvalTimeout` syntax: a positive integer and a unit, seconds/minutes/hours (`90m`, `24h`). */
export const APPROVAL_TIMEOUT_PATTERN = /^[1-9][0-9]{0,6}[smh]$/;

/** Seconds of an `approvalTimeout` (`24h` → 86400), or undefined when it is not one. */
export function approvalTimeoutSeconds(text: string): number | undefined {
  if (!APPROVAL_TIMEOUT_PATTERN.test(text)) return undefined;
  const n = Number(text.slice(0, -1));
  return n * { s: 1, m: 60, h: 3600 }[text.at(-1) as "s" | "m" | "h"];
}

/** Problem of an `approvalTimeout` value, or undefined when it is fine. */
export function approvalTimeoutProblem(text: string): string | undefined {
  const seconds = approvalTimeoutSeconds(text);
  if (seconds === undefined) {
    return `"${text}" is not a duration: use a number and s, m or h (e.g. 30m, 24h)`;
  }
  if (seconds > MAX_APPROVAL_TIMEOUT_SECONDS) {
    return `"${text}" is longer than ${MAX_APPROVAL_TIMEOUT_SECONDS / 3600}h (a run's deadline ` +
      "is 3 days; an approval must expire before it)";
  }
  return undefined;
}

/** What the approval gate's times say. */
export interface ApprovalVerdict {
  /** Whether the gate was resumed by a person before the timeout. */
  approved: boolean;
  /** One line for the log and the run record. */
  message: string;
}

/**
 * Decides from the gate's start and end (Argo node times, whole seconds) whether it was approved:
 * Argo ends a suspend node with a duration once `now > start + duration`, so a gate that lasted
 * the whole timeout or longer expired; an approval in the gate's last second may count as expired
 * (timestamps are truncated to seconds).
 */
export function approvalVerdict(
  times: { started: Date; finished: Date },
  timeout: string,
  what: { environment: string; commitSha: string },
): ApprovalVerdict {
  const seconds = approvalTimeoutSeconds(timeout);
  if (seconds === undefined) throw new Error(approvalTimeoutProblem(timeout));
  const waited = (times.finished.getTime() - times.started.getTime()) / 1000;
  if (waited >= seconds) {
    return {
      approved: false,
      message: `approval expired: nobody approved deploying ${what.commitSha} to ` +
        `${what.environment} within ${timeout} (waited ${Math.round(waited)} s since ` +
        `${times.started.toISOString()}); nothing was deployed and the pipeline's lock is released`,
    };
  }
  return {
    approved: true,
    message: `approved deploying ${what.commitSha} to ${what.environment} after ` +
      `${Math.round(waited)} s (timeout ${timeout})`,
  };
}
