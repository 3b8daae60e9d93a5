/**
 * Execution and artifact metadata (spec: WorkflowMetadata, StageMetadata, ArtifactMetadata), with
 * JSON codecs (camelCase keys, ISO-8601 UTC datetimes, exact round trip).
 * @module
 */
import {
  array,
  type Codec,
  date,
  integer,
  literal,
  nullable,
  object,
  optional,
  record,
  string,
} from "./_codec.ts";

/**
 * Status of a workflow or stage. `superseded` (an extension of the spec's three values): the run
 * ended early because its self-update resubmitted the pipeline with the new topology; it neither
 * succeeded nor failed, the resubmitted run carries on.
 */
export type RunStatus = "running" | "succeeded" | "failed" | "superseded";

/** One stage's execution record. */
export interface StageMetadata {
  /** Stage name, e.g. `deploy-prod`. */
  stageName: string;
  /** Start time. */
  startedAt: Date;
  /** End time, or `null` while running. */
  completedAt: Date | null;
  /** Stage status. */
  status: RunStatus;
  /** Error message when the stage failed. */
  errorMessage: string | null;
}

/** One workflow run's execution record. */
export interface WorkflowMetadata {
  /** Workflow name (unique in the namespace). */
  workflowId: string;
  /** Commit the run works on. */
  commitSha: string;
  /** Git ref or branch. */
  branch: string;
  /** Trigger time. */
  triggeredAt: Date;
  /** Completion time, or `null` while running. */
  completedAt: Date | null;
  /** Overall status. */
  status: RunStatus;
  /** Stages in execution order. */
  stages: StageMetadata[];
  /**
   * The deployment plans of the run, environment → one-line summary (an extension of the spec's
   * model: present only when a plan ran).
   */
  plans?: Record<string, string>;
}

/** One stored build artifact. */
export interface ArtifactMetadata {
  /** Commit the artifact was built from. */
  commitSha: string;
  /** When it was stored. */
  timestamp: Date;
  /** Store URI, e.g. `s3://bucket/<sha>/artifacts/dist/app.zip`. */
  s3Path: string;
  /** Kind of artifact (`package`, `binary`, `lambda-layer`, `file`…). */
  artifactType: string;
  /** Size in bytes. */
  sizeBytes: number;
  /** Lowercase hex SHA-256 of the content. */
  checksum: string;
}

const status = literal("running", "succeeded", "failed", "superseded");

/** JSON codec of {@linkcode StageMetadata}. */
export const StageMetadataCodec: Codec<StageMetadata> = object<StageMetadata>({
  stageName: string,
  startedAt: date,
  completedAt: nullable(date),
  status,
  errorMessage: nullable(string),
});

/** JSON codec of {@linkcode WorkflowMetadata}. */
export const WorkflowMetadataCodec: Codec<WorkflowMetadata> = object<WorkflowMetadata>({
  workflowId: string,
  commitSha: string,
  branch: string,
  triggeredAt: date,
  completedAt: nullable(date),
  status,
  stages: array(StageMetadataCodec),
  plans: optional(record(string)),
});

/** JSON codec of {@linkcode ArtifactMetadata}. */
export const ArtifactMetadataCodec: Codec<ArtifactMetadata> = object<ArtifactMetadata>({
  commitSha: string,
  timestamp: date,
  s3Path: string,
  artifactType: string,
  sizeBytes: integer,
  checksum: string,
});
