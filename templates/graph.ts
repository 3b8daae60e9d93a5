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

/** The waves in order with their steps (empty without waves). */
function wavesOf(steps: GraphStep[]): Array<{ name: string; steps: GraphStep[] }> {
  const waves: Array<{ name: string; steps: GraphStep[] }> = [];
  for (const s of steps) {
    if (s.wave === undefined) continue;
    if (waves.at(-1)?.name !== s.wave) waves.push({ name: s.wave, steps: [] });
    waves.at(-1)!.steps.push(s);
  }
  return waves;
}

function mermaid(steps: GraphStep[]): string {
  const id = new Map(steps.map((s, i) => [s.name, `s${i}`]));
  const lines = ["flowchart LR"];
  const node = (s: GraphStep, indent: string) => {
    const text = JSON.stringify(label(s));
    lines.push(`${indent}${id.get(s.name)}${s.kind === "approval" ? `{${text}}` : `[${text}]`}`);
  };
  for (const s of steps) if (s.wave === undefined) node(s, "  ");
  // Waves: one subgraph each (its environments run in parallel); a wave follows the previous one.
  const waves = wavesOf(steps);
  waves.forEach((wave, i) => {
    lines.push(`  subgraph w${i}[${JSON.stringify(`wave ${wave.name}`)}]`);
    for (const s of wave.steps) node(s, "    ");
    lines.push("  end");
  });
  for (const s of steps) if (s.after) lines.push(`  ${id.get(s.after)} --> ${id.get(s.name)}`);
  waves.forEach((wave, i) => {
    const from = i === 0 ? id.get(wave.steps[0]!.afterAll![0]!) : `w${i - 1}`;
    lines.push(`  ${from} --> w${i}`);
  });
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
    for (const a of s.afterAll ?? []) {
      lines.push(`  ${JSON.stringify(a)} -> ${JSON.stringify(s.name)};`);
    }
  }
  wavesOf(steps).forEach((wave, i) => {
    lines.push(`  subgraph "cluster_wave_${i}" { label=${JSON.stringify(`wave ${wave.name}`)};`);
    lines.push(`    ${wave.steps.map((s) => JSON.stringify(s.name)).join("; ")}; }`);
  });
  lines.push("}");
  return lines.join("\n") + "\n";
}

function text(name: string, steps: GraphStep[]): string {
  const width = Math.max(...steps.map((s) => s.name.length)) + 2;
  const waves = wavesOf(steps);
  const lines = [
    waves.length === 0
      ? `pipeline ${name}: ${steps.length} steps, each after the previous one`
      : `pipeline ${name}: ${steps.length} steps; environments in ${waves.length} waves ` +
        "(a wave's environments deploy in parallel, each wave after the previous one succeeded)",
  ];
  steps.forEach((s, i) => {
    if (s.wave !== undefined && s.afterAll !== undefined && s.wave !== steps[i - 1]?.wave) {
      const envs = [...new Set(waves.find((w) => w.name === s.wave)!.steps.map((x) => x.env))];
      lines.push(`     wave ${s.wave}: ${envs.join(", ")}`);
    }
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
