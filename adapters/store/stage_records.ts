/**
 * Stage execution records and stage logging, shared by every stage and by `aphex report`.
 *
 * Layout in the artifact store (next to DESIGN.md's `<sha>/runs/<workflow>.json`):
 *
 * ```
 * <sha>/runs/<workflow>/stages/<stage>.json   StageRecord: StageMetadata + environment + deployments
 * <sha>/runs/<workflow>.json                  WorkflowMetadata, written by `aphex report`
 * runs/<yyyymmddThhmmssmmmZ>-<workflow>.json  copy of the same WorkflowMetadata: the run index that
 *                                             `aphex history` lists newest first without a full scan
 * ```
 *
 * Recording never fails a stage: store errors are reported through the `warn` callback.
 * Stage logs are JSON lines when `APHEX_LOG_FORMAT=json`, `[stage] message` text otherwise.
 * No AWS client is loaded by this module.
 * @module
 */
import {
  array,
  type Codec,
  fromJsonText,
  nullable,
  object,
  string,
  toJsonText,
  withDefault,
} from "../../models/_codec.ts";
import { AphexError, usageError } from "../../models/errors.ts";
import {
  type RunStatus,
  type StageMetadata,
  StageMetadataCodec,
  type WorkflowMetadata,
  WorkflowMetadataCodec,
} from "../../models/metadata.ts";
import { type DeploymentResult, DeploymentResultCodec } from "../../models/results.ts";
import { type ArtifactStore, readText } from "./artifact_store.ts";

/** Longest error message kept in a record (characters); longer ones keep their tail. */
export const MAX_ERROR_CHARS = 4000;

/** Prefix of the run index. */
export const RUN_INDEX_PREFIX = "runs/";

const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

/**
 * Validates a workflow name (a Kubernetes object name: lowercase alphanumerics, `-` and `.`, at
 * most 253 characters). Usage error otherwise.
 */
export function validateWorkflowName(name: string): string {
  if (!NAME.test(name)) {
    throw usageError(
      `workflow name ${
        JSON.stringify(name.slice(0, 80))
      } is invalid: expected a Kubernetes object name (lowercase letters, digits, '-', '.')`,
    );
  }
  return name;
}

/** Validates a stage name (same alphabet as workflow names). Usage error otherwise. */
export function validateStageName(name: string): string {
  if (!NAME.test(name)) {
    throw usageError(
      `stage name ${
        JSON.stringify(name.slice(0, 80))
      } is invalid: expected lowercase letters, digits, '-', '.'`,
    );
  }
  return name;
}

/** Key of a workflow's record: `<sha>/runs/<workflow>.json`. */
export function runRecordKey(commitSha: string, workflow: string): string {
  return `${commitSha}/runs/${validateWorkflowName(workflow)}.json`;
}

/** Prefix of a workflow's stage records: `<sha>/runs/<workflow>/stages/`. */
export function stageRecordPrefix(commitSha: string, workflow: string): string {
  return `${commitSha}/runs/${validateWorkflowName(workflow)}/stages/`;
}

/** Key of one stage record: `<sha>/runs/<workflow>/stages/<stage>.json`. */
export function stageRecordKey(commitSha: string, workflow: string, stage: string): string {
  return `${stageRecordPrefix(commitSha, workflow)}${validateStageName(stage)}.json`;
}

/** Key of a run in the index: `runs/<triggered-at yyyymmddThhmmssmmmZ>-<workflow>.json`. */
export function runIndexKey(triggeredAt: Date, workflow: string): string {
  const stamp = triggeredAt.toISOString().replace(/[-:.]/g, "");
  return `${RUN_INDEX_PREFIX}${stamp}-${validateWorkflowName(workflow)}.json`;
}

/** Keeps the last {@linkcode MAX_ERROR_CHARS} characters of an error message. */
export function boundErrorMessage(message: string): string {
  return message.length <= MAX_ERROR_CHARS
    ? message
    : `…${message.slice(message.length - MAX_ERROR_CHARS + 1)}`;
}

/** Environment of a stage named `deploy-<env>`, `test-<env>` or `approve-<env>`, if any. */
export function environmentOfStage(stageName: string): string | null {
  // plan-<env> (issue 14) is an environment's stage too: a failed plan fails its environment.
  const m = /^(?:plan|deploy|test|approve)-(.+)$/.exec(stageName);
  return m ? m[1]! : null;
}

/** What a stage stores about its own execution. */
export interface StageRecord {
  /** Workflow the stage ran in. */
  workflowId: string;
  /** Commit it worked on. */
  commitSha: string;
  /** Environment of a deploy/test stage, else `null`. */
  environment: string | null;
  /** The stage's metadata (spec StageMetadata). */
  stage: StageMetadata;
  /** Per-stack results of a deploy stage (empty otherwise). */
  deployments: DeploymentResult[];
  /**
   * The Workflow that took over this run (set by `pipeline-update` when a topology change
   * resubmitted the pipeline): the run ends as `superseded`, neither success nor failure.
   */
  supersededBy: string | null;
}

/** JSON codec of {@linkcode StageRecord} (records written before `supersededBy` read as null). */
export const StageRecordCodec: Codec<StageRecord> = object<StageRecord>({
  workflowId: string,
  commitSha: string,
  environment: nullable(string),
  stage: StageMetadataCodec,
  deployments: array(DeploymentResultCodec),
  supersededBy: withDefault(nullable(string), null),
});

/** Where and how to record a stage. */
export interface StageRecordTarget {
  /** Commit SHA (already validated by the stage runtime). */
  commitSha: string;
  /** Workflow name (`APHEX_WORKFLOW_NAME`). */
  workflow: string;
  /** Stage name, e.g. `build`, `deploy-prod`. */
  stage: string;
  /** Environment of the stage (default: derived from the stage name). */
  environment?: string | null;
}

/** Options of the record helpers. */
export interface RecordOptions {
  /** Clock (default `new Date()`). */
  clock?: () => Date;
  /** Receives a message when the store cannot be written (default: ignored). */
  warn?: (message: string) => void;
}

async function putRecord(
  store: ArtifactStore,
  record: StageRecord,
  options: RecordOptions,
): Promise<boolean> {
  const key = stageRecordKey(record.commitSha, record.workflowId, record.stage.stageName);
  try {
    await store.put(key, toJsonText(StageRecordCodec, record, true) + "\n", {
      contentType: "application/json",
    });
    return true;
  } catch (e) {
    options.warn?.(
      `could not record stage ${record.stage.stageName} in ${store.uriFor(key)}: ${
        e instanceof Error ? e.message : e
      }`,
    );
    return false;
  }
}

/**
 * Records that a stage started (status `running`). Returns the record, to pass to
 * {@linkcode recordStageEnd}. Never throws on store errors (they go to `options.warn`).
 */
export async function recordStageStart(
  store: ArtifactStore,
  target: StageRecordTarget,
  options: RecordOptions = {},
): Promise<StageRecord> {
  const now = (options.clock ?? (() => new Date()))();
  const record: StageRecord = {
    workflowId: validateWorkflowName(target.workflow),
    commitSha: target.commitSha,
    environment: target.environment !== undefined
      ? target.environment
      : environmentOfStage(validateStageName(target.stage)),
    stage: {
      stageName: validateStageName(target.stage),
      startedAt: now,
      completedAt: null,
      status: "running",
      errorMessage: null,
    },
    deployments: [],
    supersededBy: null,
  };
  await putRecord(store, record, options);
  return record;
}

/** How a stage ended. */
export interface StageEnd {
  /** Final status. */
  status: Exclude<RunStatus, "running">;
  /** Why it failed (bounded to {@linkcode MAX_ERROR_CHARS}). */
  errorMessage?: string | null;
  /** Per-stack results of a deploy stage. */
  deployments?: DeploymentResult[];
  /** The Workflow that took over the run, when the stage superseded it. */
  supersededBy?: string | null;
}

/**
 * Records a stage's end (status, completion time, error, deployments). Returns the updated record.
 * Never throws on store errors (they go to `options.warn`).
 */
export async function recordStageEnd(
  store: ArtifactStore,
  started: StageRecord,
  end: StageEnd & RecordOptions,
): Promise<StageRecord> {
  const now = (end.clock ?? (() => new Date()))();
  const error = end.errorMessage ?? null;
  const record: StageRecord = {
    ...started,
    stage: {
      ...started.stage,
      completedAt: now,
      status: end.status,
      errorMessage: error === null ? null : boundErrorMessage(error),
    },
    deployments: end.deployments ?? started.deployments,
    supersededBy: end.supersededBy ?? started.supersededBy,
  };
  await putRecord(store, record, end);
  return record;
}

/** What a stage body run by {@linkcode withStageRecord} returns. */
export interface StageBodyOutcome {
  /** Exit code of the stage (0 = succeeded). */
  exitCode: number;
  /** Why it failed. */
  errorMessage?: string;
  /** Per-stack results of a deploy stage. */
  deployments?: DeploymentResult[];
  /** The Workflow that took over the run (`pipeline-update` resubmitted it), or `commit <sha>`. */
  supersededBy?: string;
  /**
   * Record the stage itself as `superseded` (exit code 0, nothing done: a stale or superseded
   * deploy) instead of `succeeded`.
   */
  status?: "superseded";
}

/**
 * Runs a stage body between {@linkcode recordStageStart} and {@linkcode recordStageEnd}: exit code
 * 0 records `succeeded`, anything else (or a thrown error, rethrown afterwards) records `failed`.
 */
export async function withStageRecord(
  store: ArtifactStore,
  target: StageRecordTarget & { body: () => Promise<StageBodyOutcome> },
  options: RecordOptions = {},
): Promise<StageBodyOutcome> {
  const started = await recordStageStart(store, target, options);
  try {
    const out = await target.body();
    await recordStageEnd(store, started, {
      ...options,
      status: out.exitCode === 0 ? (out.status ?? "succeeded") : "failed",
      errorMessage: out.exitCode === 0
        ? null
        : (out.errorMessage ?? `stage exited with code ${out.exitCode}`),
      ...(out.deployments ? { deployments: out.deployments } : {}),
      ...(out.supersededBy ? { supersededBy: out.supersededBy } : {}),
    });
    return out;
  } catch (e) {
    await recordStageEnd(store, started, {
      ...options,
      status: "failed",
      errorMessage: e instanceof Error ? e.message : String(e),
    });
    throw e;
  }
}

/**
 * Reads every stage record of a workflow, in execution order (start time, then name). Undecodable
 * records are reported through `warn` and skipped.
 */
export async function readStageRecords(
  store: ArtifactStore,
  commitSha: string,
  options: { workflow: string; warn?: (message: string) => void },
): Promise<StageRecord[]> {
  const prefix = stageRecordPrefix(commitSha, options.workflow);
  const out: StageRecord[] = [];
  for (const info of await store.list(prefix)) {
    if (!info.key.endsWith(".json")) continue;
    try {
      out.push(fromJsonText(StageRecordCodec, await readText(store, info.key), info.key));
    } catch (e) {
      options.warn?.(`skipping stage record: ${e instanceof Error ? e.message : e}`);
    }
  }
  return out.sort((a, b) =>
    a.stage.startedAt.getTime() - b.stage.startedAt.getTime() ||
    (a.stage.stageName < b.stage.stageName ? -1 : a.stage.stageName > b.stage.stageName ? 1 : 0)
  );
}

/** Serialized form of a run record (pretty JSON + newline). */
export function encodeRunRecord(run: WorkflowMetadata): string {
  return toJsonText(WorkflowMetadataCodec, run, true) + "\n";
}

/** Stores `<sha>/runs/<workflow>.json` and its index entry. Throws AphexError on store errors. */
export async function writeRunRecord(store: ArtifactStore, run: WorkflowMetadata): Promise<string> {
  const key = runRecordKey(run.commitSha, run.workflowId);
  const text = encodeRunRecord(run);
  await store.put(key, text, { contentType: "application/json" });
  await store.put(runIndexKey(run.triggeredAt, run.workflowId), text, {
    contentType: "application/json",
  });
  return key;
}

/** Reads one run record; AphexError when missing or invalid. */
export async function readRunRecord(store: ArtifactStore, key: string): Promise<WorkflowMetadata> {
  if (!(await store.exists(key))) throw new AphexError(`${store.uriFor(key)} not found`);
  return fromJsonText(WorkflowMetadataCodec, await readText(store, key), store.uriFor(key));
}

const RUN_RECORD_KEY = /^[0-9a-f]{40}\/runs\/[^/]+\.json$/;

/**
 * The most recent runs, newest first (by trigger time). Reads the run index (`runs/`); when the
 * index is empty (stores written before it existed), scans for `<sha>/runs/<workflow>.json`.
 * Undecodable records are reported through `warn` and skipped.
 */
export async function listRecentRuns(
  store: ArtifactStore,
  options: { limit: number; warn?: (message: string) => void },
): Promise<WorkflowMetadata[]> {
  const read = async (key: string): Promise<WorkflowMetadata | undefined> => {
    try {
      return await readRunRecord(store, key);
    } catch (e) {
      options.warn?.(`skipping run record: ${e instanceof Error ? e.message : e}`);
      return undefined;
    }
  };
  const index = (await store.list(RUN_INDEX_PREFIX)).filter((o) => o.key.endsWith(".json"));
  let runs: WorkflowMetadata[] = [];
  if (index.length > 0) {
    const newest = index.map((o) => o.key).sort().reverse();
    for (const key of newest) {
      if (runs.length >= options.limit) break;
      const run = await read(key);
      if (run) runs.push(run);
    }
  } else {
    const keys = (await store.list("")).map((o) => o.key).filter((k) => RUN_RECORD_KEY.test(k));
    for (const key of keys) {
      const run = await read(key);
      if (run) runs.push(run);
    }
  }
  runs = runs.sort((a, b) =>
    b.triggeredAt.getTime() - a.triggeredAt.getTime() ||
    (a.workflowId < b.workflowId ? -1 : a.workflowId > b.workflowId ? 1 : 0)
  );
  return runs.slice(0, options.limit);
}

// ---------------------------------------------------------------------------------------------
// Stage logging

/** Stage log format. */
export type LogFormat = "json" | "text";

/** `json` when `APHEX_LOG_FORMAT=json` (case-insensitive), else `text`. */
export function logFormatFromEnv(env: Record<string, string | undefined>): LogFormat {
  return env.APHEX_LOG_FORMAT?.toLowerCase() === "json" ? "json" : "text";
}

/** Log level. */
export type LogLevel = "info" | "warn" | "error";

/** A stage's logger: one line per call. */
export interface StageLogger {
  /** Writes an informational line. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Writes a warning. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Writes an error. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@linkcode createStageLogger}. */
export interface StageLoggerOptions {
  /** Output format. */
  format: LogFormat;
  /** Receives each line (without trailing newline). */
  write: (line: string) => void;
  /** Fields added to every JSON line (e.g. workflow, commitSha). */
  context?: Record<string, string>;
  /** Applied to every message and field value (secret redaction). */
  redact?: (text: string) => string;
  /** Clock for JSON timestamps. */
  clock?: () => Date;
}

/**
 * Creates a stage logger. JSON lines look like
 * `{"time":"…","level":"info","stage":"report","msg":"…",…context,…fields}`; text lines like
 * `[report] msg key=value` (warnings and errors prefixed with `warning:` / `error:`).
 */
export function createStageLogger(stage: string, options: StageLoggerOptions): StageLogger {
  const redact = options.redact ?? ((t: string) => t);
  const clock = options.clock ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields: Record<string, unknown> = {}) => {
    if (options.format === "json") {
      const line = JSON.stringify({
        time: clock().toISOString(),
        level,
        stage,
        msg: message,
        ...options.context,
        ...fields,
      });
      options.write(redact(line));
      return;
    }
    const extra = Object.entries(fields).map(([k, v]) =>
      ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
    ).join("");
    const prefix = level === "info" ? "" : `${level === "warn" ? "warning" : "error"}: `;
    options.write(redact(`[${stage}] ${prefix}${message}${extra}`));
  };
  return {
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}
