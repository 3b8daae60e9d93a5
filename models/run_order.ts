/**
 * Which other runs of a pipeline could supersede this one (`pipeline.executionMode: superseded`):
 * Workflows of the same branch, for another commit, not finished yet (waiting on the pipeline's
 * mutex or running). Whether their commit is *newer* is decided by git ancestry elsewhere
 * (adapters/git/ancestry.ts), never by clocks. No I/O happens in this module.
 * @module
 */
import { COMMIT_SHA_PATTERN } from "./event.ts";

/** What matters of one Workflow object. */
export interface RunSummary {
  /** Workflow name. */
  name: string;
  /** Its `commit-sha` parameter. */
  sha: string;
  /** Its `ref` parameter. */
  ref: string;
  /** `status.phase` (empty before the controller saw it). */
  phase: string;
  /** `metadata.creationTimestamp`. */
  createdAt: Date;
}

/** Phases of a Workflow that has not finished (a run waiting on the mutex is `Pending`). */
export const UNFINISHED_PHASES: readonly string[] = ["", "Pending", "Running"];

/** Reads a Workflow object (as the API returns it) into a {@linkcode RunSummary}, if it is one. */
export function runSummaryOf(object: unknown): RunSummary | undefined {
  const o = object as {
    metadata?: { name?: string; creationTimestamp?: string };
    spec?: { arguments?: { parameters?: Array<{ name?: string; value?: string }> } };
    status?: { phase?: string };
  };
  const params = o?.spec?.arguments?.parameters ?? [];
  const param = (name: string) => params.find((p) => p?.name === name)?.value;
  const name = o?.metadata?.name;
  const sha = param("commit-sha");
  const ref = param("ref");
  if (typeof name !== "string" || typeof sha !== "string" || typeof ref !== "string") {
    return undefined;
  }
  if (!COMMIT_SHA_PATTERN.test(sha)) return undefined;
  const created = Date.parse(o.metadata?.creationTimestamp ?? "");
  return {
    name,
    sha,
    ref,
    phase: typeof o.status?.phase === "string" ? o.status.phase : "",
    createdAt: new Date(Number.isNaN(created) ? 0 : created),
  };
}

/**
 * The unfinished runs of `self.ref` for another commit than `self.sha` (this run excluded),
 * newest first (creation time, then name): the candidates that may supersede this run.
 */
export function supersedingCandidates(
  runs: readonly RunSummary[],
  self: { workflow: string; ref: string; sha: string },
): RunSummary[] {
  return runs
    .filter((r) =>
      r.name !== self.workflow && r.ref === self.ref && r.sha !== self.sha &&
      UNFINISHED_PHASES.includes(r.phase)
    )
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.name < b.name ? 1 : -1));
}
