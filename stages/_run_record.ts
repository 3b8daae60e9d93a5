/**
 * The run record as `aphex report` assembles it: Argo's view of the run (`{{workflow.status}}`,
 * `{{workflow.failures}}` in the form a pod receives them) merged with the stages' own records,
 * superseded runs, the first failure, the notification summary and the plans' summaries. Read-only
 * toward the store; the report stage ({@link ./report.ts}) writes and sends.
 * @module
 */
import { argoFailuresJson } from "../models/argo_values.ts";
import { usageError } from "../models/errors.ts";
import type { StageMetadata, WorkflowMetadata } from "../models/metadata.ts";
import { type EnvironmentPlan, summarizePlan } from "../models/plan.ts";
import { INNER_STEP_NAMES } from "../templates/workflow_template.ts";
import { type ArtifactStore, planKey, readText } from "../adapters/store/artifact_store.ts";
import type { Repository } from "../adapters/monitoring/github_status.ts";
import { boundSummary, type RunSummary } from "../adapters/monitoring/notify.ts";
import {
  boundErrorMessage,
  environmentOfStage,
  type StageRecord,
} from "../adapters/store/stage_records.ts";

/** What the run record is assembled from besides the records: the run's own facts. */
export interface RunFacts {
  /** Workflow name. */
  workflow: string;
  /** Commit of the run. */
  commitSha: string;
  /** Branch of the run. */
  branch: string;
  /** Argo's `{{workflow.status}}` (exit phase). */
  workflowStatus: ArgoWorkflowStatus | null;
  /** Argo's `{{workflow.creationTimestamp}}`, if given. */
  createdAt: Date | null;
}

/** Argo workflow phases an exit handler sees. */
export type ArgoWorkflowStatus = "Succeeded" | "Failed" | "Error";

/** One entry of Argo's `{{workflow.failures}}`. */
export interface ArgoFailure {
  /** Node display name (the DAG task name, e.g. `deploy-prod`). */
  displayName: string;
  /** Failure message (`Error (exit code 1)`…), possibly empty. */
  message: string;
  /** Template name (`deploy`). */
  templateName: string;
  /** Node phase (`Failed`, `Error`). */
  phase: string;
  /** Finish time, if Argo gave one. */
  finishedAt: Date | null;
}

const STATUSES: readonly ArgoWorkflowStatus[] = ["Succeeded", "Failed", "Error"];

/** Validates Argo's `{{workflow.status}}`; usage error otherwise. */
export function parseWorkflowStatus(text: string): ArgoWorkflowStatus {
  if (!STATUSES.includes(text as ArgoWorkflowStatus)) {
    throw usageError(
      `workflow status ${JSON.stringify(text.slice(0, 40))} is invalid: expected ${
        STATUSES.join(", ")
      } (Argo's {{workflow.status}})`,
    );
  }
  return text as ArgoWorkflowStatus;
}

/**
 * Parses Argo's `{{workflow.failures}}` in the form a pod receives it: a Go-quoted JSON string
 * holding the JSON array (see {@linkcode argoFailuresJson}); a bare array is accepted too. Empty,
 * `null` and an unsubstituted `{{…}}` mean no failures; anything unparseable is reported through
 * `warn` and ignored (the report must still go out).
 */
export function parseWorkflowFailures(
  text: string | undefined,
  options: { warn?: (message: string) => void } = {},
): ArgoFailure[] {
  const trimmed = argoFailuresJson(text);
  if (trimmed === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (e) {
    options.warn?.(`ignoring unparseable workflow failures: ${e instanceof Error ? e.message : e}`);
    return [];
  }
  if (!Array.isArray(value)) {
    options.warn?.("ignoring workflow failures: not a JSON array");
    return [];
  }
  const out: ArgoFailure[] = [];
  for (const item of value) {
    if (typeof item !== "object" || item === null) continue;
    const o = item as Record<string, unknown>;
    const s = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : "");
    const displayName = s("displayName").replace(/\(\d+\)$/, "").trim();
    if (!displayName) continue;
    const finished = Date.parse(s("finishedAt"));
    out.push({
      displayName: displayName.slice(0, 253),
      message: s("message"),
      templateName: s("templateName"),
      phase: s("phase"),
      finishedAt: Number.isNaN(finished) ? null : new Date(finished),
    });
  }
  return out;
}

/** Options of {@linkcode assembleWorkflowMetadata}. */
export interface AssembleOptions {
  /** Stage records from the store. */
  records: StageRecord[];
  /** Argo's failures. */
  failures: ArgoFailure[];
  /** Completion time. */
  now: Date;
}

/** The Workflow that took over this run, when its `pipeline-update` resubmitted the pipeline. */
export function supersedingWorkflow(records: readonly StageRecord[]): string | null {
  return records.find((r) => r.supersededBy !== null)?.supersededBy ?? null;
}

/**
 * Whether the run stopped itself as superseded (`executionMode: superseded`: a deploy stage
 * recorded `superseded` and ended the run with `shutdown: Stop`, so Argo reports it Failed):
 * neither success nor failure, unless a stage really failed.
 */
function stoppedAsSuperseded(records: readonly StageRecord[]): boolean {
  return records.some((r) => r.stage.status === "superseded" && r.supersededBy !== null) &&
    !records.some((r) => r.stage.status === "failed");
}

/**
 * Builds the run record: stages from the records (in start order), a stage still `running` is
 * marked failed, Argo's failures fill in stages that left no record or no error message, and the
 * overall status is Argo's (`Succeeded` → succeeded, `Failed`/`Error` → failed), except that a
 * run whose `pipeline-update` resubmitted the pipeline and then ended cleanly is `superseded`.
 */
export function assembleWorkflowMetadata(
  inputs: RunFacts,
  options: AssembleOptions,
): WorkflowMetadata {
  const failed = inputs.workflowStatus !== "Succeeded";
  const failureText = (f: ArgoFailure) =>
    f.message ? f.message : `${f.phase || "Failed"} (no message from Argo)`;
  const failures = new Map<string, ArgoFailure>();
  const inner: ArgoFailure[] = [];
  const environmentSteps: ArgoFailure[] = [];
  for (const f of options.failures) {
    if (f.displayName === inputs.workflow || f.templateName === "report") continue;
    // A step inside deploy-<env>'s or test-<env>'s own DAG: Argo names it `execute`, `run`, …
    if (INNER_STEP_NAMES.includes(f.displayName)) {
      inner.push(f);
      continue;
    }
    if (/^child '.*' (failed|errored)/.test(f.message)) {
      if (/^(deploy|test)-/.test(f.displayName)) environmentSteps.push(f);
      continue;
    }
    failures.set(f.displayName, f);
  }
  // An environment step failed because a step inside it did: unless a record of that environment
  // already says why, it is reported with the inner step's message (when it is unambiguous).
  for (const f of environmentSteps) {
    const env = environmentOfStage(f.displayName);
    const explained = options.records.some((r) =>
      r.environment === env && (r.stage.status === "failed" || r.stage.status === "running")
    );
    if (explained) continue;
    const message = environmentSteps.length === 1 && inner.length > 0
      ? inner.map((i) => `${i.displayName}: ${failureText(i)}`).join("; ")
      : "a step inside it failed before recording itself (details in the Argo UI)";
    failures.set(f.displayName, { ...f, message });
  }
  const stages: StageMetadata[] = options.records.map((r) => {
    const s = { ...r.stage };
    const f = failures.get(s.stageName);
    failures.delete(s.stageName);
    if (s.status === "running") {
      s.status = "failed";
      s.completedAt = f?.finishedAt ?? options.now;
      s.errorMessage = f
        ? failureText(f)
        : `stage did not record its end (workflow ${inputs.workflowStatus ?? "unknown"})`;
    } else if (f && s.status === "succeeded") {
      s.status = "failed";
      s.errorMessage = failureText(f);
    } else if (f && s.errorMessage === null) {
      s.errorMessage = failureText(f);
    }
    if (s.errorMessage !== null) s.errorMessage = boundErrorMessage(s.errorMessage);
    return s;
  });
  for (const f of failures.values()) {
    const at = f.finishedAt ?? options.now;
    stages.push({
      stageName: f.displayName,
      startedAt: at,
      completedAt: at,
      status: "failed",
      errorMessage: boundErrorMessage(failureText(f)),
    });
  }
  stages.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  const earliest = stages.reduce<Date | null>(
    (m, s) => (m === null || s.startedAt < m ? s.startedAt : m),
    null,
  );
  return {
    workflowId: inputs.workflow,
    commitSha: inputs.commitSha,
    branch: inputs.branch,
    triggeredAt: inputs.createdAt ?? earliest ?? options.now,
    completedAt: options.now,
    status: stoppedAsSuperseded(options.records)
      ? "superseded"
      : failed
      ? "failed"
      : supersedingWorkflow(options.records)
      ? "superseded"
      : "succeeded",
    stages,
  };
}

/** First failed stage of a run (by completion time), if any. */
export function firstFailedStage(run: WorkflowMetadata): StageMetadata | null {
  const failed = run.stages.filter((s) => s.status === "failed");
  failed.sort((a, b) =>
    (a.completedAt ?? a.startedAt).getTime() - (b.completedAt ?? b.startedAt).getTime()
  );
  return failed[0] ?? null;
}

/** The notification summary of a run. */
export function summarizeRun(
  run: WorkflowMetadata,
  options: {
    records: StageRecord[];
    argoLink: string | null;
    repository: Repository | null;
    /** `<env>: <plan summary>` of the environments planned in this run. */
    plans?: string[];
  },
): RunSummary {
  const failed = firstFailedStage(run);
  const record = failed
    ? options.records.find((r) => r.stage.stageName === failed.stageName)
    : null;
  const end = run.completedAt ?? run.triggeredAt;
  return {
    workflowId: run.workflowId,
    commitSha: run.commitSha,
    branch: run.branch,
    status: run.status === "running" ? "failed" : run.status,
    environment: failed ? (record?.environment ?? environmentOfStage(failed.stageName)) : null,
    failedStage: failed?.stageName ?? null,
    errorSummary: failed?.errorMessage ? boundSummary(failed.errorMessage) : null,
    argoLink: options.argoLink,
    durationSeconds: Math.max(0, (end.getTime() - run.triggeredAt.getTime()) / 1000),
    repository: options.repository
      ? `${options.repository.owner}/${options.repository.repo}`
      : null,
    supersededBy: run.status === "superseded" ? supersedingWorkflow(options.records) : null,
    ...(options.plans && options.plans.length > 0 ? { plans: options.plans } : {}),
  };
}

/**
 * The summary of every environment whose plan stage ran in this run, from the stored plans
 * (`<sha>/plans/<env>.json`); unreadable plans are reported through `warn` and skipped.
 */
export async function planSummaries(
  store: ArtifactStore,
  commitSha: string,
  options: { records: readonly StageRecord[]; warn: (message: string) => void },
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const r of options.records) {
    const env = /^plan-(.+)$/.exec(r.stage.stageName)?.[1];
    if (env === undefined) continue;
    const key = planKey(commitSha, env);
    try {
      if (!(await store.exists(key))) continue;
      const plan = JSON.parse(await readText(store, key)) as EnvironmentPlan;
      out[env] = summarizePlan(plan);
    } catch (e) {
      options.warn(`plan of ${env} not summarized: ${e instanceof Error ? e.message : e}`);
    }
  }
  return out;
}
