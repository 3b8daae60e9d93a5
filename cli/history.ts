/**
 * `aphex history [--limit N] [--json]`: the most recent pipeline runs from the artifact store
 * (commit, status, duration, failed stage), newest first. Reads the run index written by
 * `aphex report`; never loads a CloudWatch or SNS client (S3 only when a bucket is set).
 * @module
 */
import { join, resolve } from "node:path";
import type { WorkflowMetadata } from "../models/metadata.ts";
import { ExitCode, usageError } from "../models/errors.ts";
import { openArtifactStore } from "../adapters/store/artifacts.ts";
import { defaultWorkspace, LOCAL_STORE_DIR } from "../command/stage_runtime.ts";
import { listRecentRuns } from "../adapters/store/stage_records.ts";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import { DEFAULT_CONFIG_FILE, loadConfigFile } from "../command/config_file.ts";

/** Default number of runs listed. */
export const DEFAULT_HISTORY_LIMIT = 20;

/** One row of the history. */
export interface HistoryEntry {
  /** Workflow name. */
  workflowId: string;
  /** Commit SHA. */
  commitSha: string;
  /** Branch. */
  branch: string;
  /** Final status. */
  status: WorkflowMetadata["status"];
  /** Trigger time (ISO-8601). */
  triggeredAt: string;
  /** Completion time (ISO-8601), or null. */
  completedAt: string | null;
  /** Duration in seconds, or null while running. */
  durationSeconds: number | null;
  /** First failed stage, or null. */
  failedStage: string | null;
  /** Its error message, or null. */
  errorMessage: string | null;
}

/** A history row from a run record. */
export function historyEntry(run: WorkflowMetadata): HistoryEntry {
  const failed =
    run.stages.filter((s) => s.status === "failed").sort((a, b) =>
      (a.completedAt ?? a.startedAt).getTime() - (b.completedAt ?? b.startedAt).getTime()
    )[0];
  return {
    workflowId: run.workflowId,
    commitSha: run.commitSha,
    branch: run.branch,
    status: run.status,
    triggeredAt: run.triggeredAt.toISOString(),
    completedAt: run.completedAt?.toISOString() ?? null,
    durationSeconds: run.completedAt
      ? Math.round((run.completedAt.getTime() - run.triggeredAt.getTime()) / 100) / 10
      : null,
    failedStage: failed?.stageName ?? null,
    errorMessage: failed?.errorMessage ?? null,
  };
}

function duration(seconds: number | null): string {
  if (seconds === null) return "-";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
}

/** Renders history rows as an aligned text table (one line per run). */
export function renderHistory(entries: HistoryEntry[]): string {
  if (entries.length === 0) return "no runs recorded\n";
  const rows = [
    ["STARTED", "WORKFLOW", "COMMIT", "BRANCH", "STATUS", "DURATION", "FAILED STAGE"],
    ...entries.map((e) => [
      e.triggeredAt.replace(/\.\d+Z$/, "Z"),
      e.workflowId,
      e.commitSha.slice(0, 12),
      e.branch || "-",
      e.status,
      duration(e.durationSeconds),
      e.failedStage ?? "-",
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") +
    "\n";
}

/** `aphex history`. */
export const command: Command = {
  spec: {
    name: "history",
    summary: "List recent pipeline runs: commit, status, duration, failed stage",
    description: "Reads the run records `aphex report` stores in the artifact store, newest first.",
    options: {
      limit: {
        type: "string",
        description: "Number of runs to list",
        default: String(DEFAULT_HISTORY_LIMIT),
        valueName: "N",
      },
      json: { type: "boolean", description: "Print a JSON array instead of a table" },
      config: {
        type: "string",
        description: "Config file (read for pipeline.artifactBucket when it exists)",
        env: "APHEX_CONFIG",
        default: DEFAULT_CONFIG_FILE,
        valueName: "FILE",
      },
      "artifact-bucket": {
        type: "string",
        description: "S3 bucket of the artifact store (default pipeline.artifactBucket)",
        env: "APHEX_ARTIFACT_BUCKET",
        valueName: "BUCKET",
      },
      "store-dir": {
        type: "string",
        description: "Local artifact store when no bucket is set (default " +
          `<git top level>/${LOCAL_STORE_DIR}, where aphex run --local writes)`,
        env: "APHEX_STORE_DIR",
        valueName: "DIR",
      },
    },
  },
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const limitText = str(values, "limit") ?? String(DEFAULT_HISTORY_LIMIT);
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || !Number.isSafeInteger(limit) || limit < 1) {
      throw usageError(`--limit must be a positive integer, got ${JSON.stringify(limitText)}`);
    }
    let bucket = str(values, "artifact-bucket");
    const configFile = str(values, "config") ?? DEFAULT_CONFIG_FILE;
    if (!bucket) {
      const exists = await Deno.stat(resolve(ctx.cwd, configFile)).then(() => true, () => false);
      if (exists) {
        bucket = (await loadConfigFile(configFile, { cwd: ctx.cwd })).pipeline.artifactBucket;
      }
    }
    const store = await openArtifactStore({
      // The same default store as `aphex run --local`: <git top level>/.aphex/store.
      localRoot: resolve(
        ctx.cwd,
        str(values, "store-dir") ?? join(defaultWorkspace({ cwd: ctx.cwd }), LOCAL_STORE_DIR),
      ),
      ...(bucket ? { bucket } : {}),
      aws: { env: ctx.env },
    });
    try {
      const runs = await listRecentRuns(store, {
        limit,
        warn: (m) => ctx.stderr(`warning: ${m}\n`),
      });
      const entries = runs.map(historyEntry);
      ctx.stdout(
        // --json: one object per line (a stream of runs, newest first), like every --json output.
        values.json === true
          ? entries.map((e) => JSON.stringify(e) + "\n").join("")
          : renderHistory(entries),
      );
    } finally {
      store.close();
    }
    return ExitCode.Ok;
  },
};

if (import.meta.main) await runMain(command);
