/**
 * The plan of `aphex run --local` and its printed summary: which steps run, in which order (the
 * WorkflowTemplate's stage sequence from {@linkcode pipelineSteps}, a synth step before each
 * environment's first step, no rollback), and the table of what each step did. No I/O happens in
 * this module.
 * @module
 */
import type { AphexConfig, EnvironmentConfig } from "../models/config.ts";
import { buildTopology, pipelineSteps, type StepKind } from "../templates/topology.ts";

/** Status of one step in the summary. */
export type LocalStepStatus = "ok" | "failed" | "skipped";

/** One row of the summary. */
export interface LocalStepSummary {
  /** Step name: `preflight`, `build`, `pipeline-update`, `synth-<env>`, `approve-<env>`, … */
  stage: string;
  /** Kind of step. */
  kind: "preflight" | "synth" | StepKind;
  /** Environment of per-environment steps. */
  environment?: string;
  /** What happened. */
  status: LocalStepStatus;
  /** Exit code of a failed step (1 or 2). */
  exitCode?: number;
  /** Wall time in milliseconds (0 for skipped steps). */
  durationMs: number;
  /** Why it failed or was skipped, or what it did. */
  note: string;
  /** Synth steps: CloudFormation stack names in deploy order. */
  stacks?: string[];
}

/** One step of the local run's plan. */
export interface PlannedStep {
  /** Step name, as in the summary. */
  stage: string;
  /** Kind of step. */
  kind: LocalStepSummary["kind"];
  /** Environment of per-environment steps. */
  env?: EnvironmentConfig;
}

/**
 * The steps of a local run over the `selected` environments: preflight, then the pipeline's steps
 * in DAG order with a synth step before each environment's first one. Rollback steps are left
 * out: a local run stops at the first failure.
 */
export function planLocalRun(
  config: AphexConfig,
  selected: readonly EnvironmentConfig[],
): PlannedStep[] {
  const byName = new Map(selected.map((e) => [e.name, e]));
  const steps: PlannedStep[] = [{ stage: "preflight", kind: "preflight" }];
  const topology = buildTopology({ ...config, environments: [...selected] });
  const synthesized = new Set<string>();
  for (const step of pipelineSteps(topology)) {
    // A local run stops at the first failure: the pipeline's rollback after failed tests is
    // `aphex rollback` here.
    if (step.kind === "rollback") continue;
    const env = step.env === undefined ? undefined : byName.get(step.env);
    if (env && !synthesized.has(env.name)) {
      synthesized.add(env.name);
      steps.push({ stage: `synth-${env.name}`, kind: "synth", env });
    }
    steps.push({ stage: step.name, kind: step.kind, ...(env ? { env } : {}) });
  }
  return steps;
}

/** Formats a duration as `3.2s`. */
export function formatDuration(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Renders the summary table (stage, status, duration, note) shown at the end of a run. */
export function formatSummary(
  outcome: { steps: readonly LocalStepSummary[]; exitCode: number },
): string {
  const header = ["stage", "status", "duration", "note"];
  const rows = outcome.steps.map((s) => [
    s.stage,
    s.status,
    s.status === "skipped" ? "-" : formatDuration(s.durationMs),
    s.note,
  ]);
  const widths = [0, 1, 2].map((i) =>
    Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length))
  );
  const line = (r: string[]) =>
    r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join("  ").trimEnd();
  return [
    line(header),
    line(widths.map((w) => "-".repeat(w)).concat("----")),
    ...rows.map(line),
    "",
    `exit code ${outcome.exitCode}`,
    "",
  ].join("\n");
}
