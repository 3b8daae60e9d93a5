/**
 * Renders the pipeline topology (the same steps the WorkflowTemplate's DAG is built from) as
 * Mermaid, Graphviz DOT or plain text. No I/O happens in this module.
 * @module
 */
import type { AphexConfig } from "../models/config.ts";
import { buildTopology, type PipelineStep, pipelineSteps, type StepKind } from "./topology.ts";

/** Output formats of {@linkcode renderGraph}. */
export const GRAPH_FORMATS = ["mermaid", "dot", "text"] as const;
/** One of {@linkcode GRAPH_FORMATS}. */
export type GraphFormat = typeof GRAPH_FORMATS[number];

/** A step as drawn: the topology's steps, plus the preflight that precedes them in every run. */
type GraphStep = Omit<PipelineStep, "kind"> & { kind: StepKind | "preflight" };

/** The WorkflowTemplate's sequence: preflight, then the topology's steps (build first). */
function graphSteps(config: AphexConfig): GraphStep[] {
  const [first, ...rest] = pipelineSteps(buildTopology(config));
  return [{ name: "preflight", kind: "preflight" }, { ...first!, after: "preflight" }, ...rest];
}

function label(step: GraphStep): string {
  return step.kind === "approval" ? `approve ${step.env}` : step.name;
}

function mermaid(steps: GraphStep[]): string {
  const id = new Map(steps.map((s, i) => [s.name, `s${i}`]));
  const lines = ["flowchart LR"];
  for (const s of steps) {
    const text = JSON.stringify(label(s));
    lines.push(`  ${id.get(s.name)}${s.kind === "approval" ? `{${text}}` : `[${text}]`}`);
  }
  for (const s of steps) if (s.after) lines.push(`  ${id.get(s.after)} --> ${id.get(s.name)}`);
  return lines.join("\n") + "\n";
}

function dot(name: string, steps: GraphStep[]): string {
  const lines = [`digraph ${JSON.stringify(name)} {`, "  rankdir=LR;"];
  for (const s of steps) {
    const shape = s.kind === "approval" ? "diamond" : "box";
    lines.push(`  ${JSON.stringify(s.name)} [shape=${shape}, label=${JSON.stringify(label(s))}];`);
  }
  for (const s of steps) {
    if (s.after) lines.push(`  ${JSON.stringify(s.after)} -> ${JSON.stringify(s.name)};`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

function text(name: string, steps: GraphStep[]): string {
  const width = Math.max(...steps.map((s) => s.name.length)) + 2;
  const lines = [`pipeline ${name}: ${steps.length} steps, each after the previous one`];
  steps.forEach((s, i) => {
    const what = s.kind === "approval"
      ? `approval of the plan before deploying ${s.env} (when its review gate asks)`
      : s.kind === "rollback"
      ? `if the tests fail: rollback of ${s.env} (when rollback.onTestFailure is set)`
      : s.env
      ? `${s.kind} ${s.env}`
      : s.kind;
    lines.push(`${String(i + 1).padStart(3)}. ${s.name.padEnd(width)}${what}`);
  });
  return lines.join("\n") + "\n";
}

/**
 * Renders the topology of a configuration.
 *
 * @example
 * ```ts
 * renderGraph(config, { format: "mermaid" }); // "flowchart LR\n  s0[\"preflight\"]\n…"
 * ```
 */
export function renderGraph(config: AphexConfig, options: { format?: GraphFormat } = {}): string {
  const steps = graphSteps(config);
  switch (options.format ?? "mermaid") {
    case "mermaid":
      return mermaid(steps);
    case "dot":
      return dot(config.pipeline.name, steps);
    case "text":
      return text(config.pipeline.name, steps);
  }
}
