import assert from "node:assert/strict";
import { configTable } from "../tests/generate_table.ts";
import { renderGraph } from "./graph.ts";
import { buildWorkflowTemplate } from "./workflow_template.ts";
import type { AphexConfig } from "../models/config.ts";
import type { DagTask } from "./types.ts";

/**
 * The WorkflowTemplate's steps as one chain: nested DAGs (`environments` and, past 200 tasks, its
 * parts `environments-N`) spliced in, each first task taking the dependency of the task it replaces.
 */
function flatTasks(config: AphexConfig): DagTask[] {
  const templates = buildWorkflowTemplate(config).spec.templates;
  const byName = new Map(templates.map((t) => [t.name, t] as const));
  let last: string | undefined;
  const splice = (tasks: DagTask[]): DagTask[] =>
    tasks.flatMap((task) => {
      if (task.name === "report-start") return [];
      // The approval gate is one step (its own DAG: wait → expiry check).
      const inner = task.template === "approval"
        ? undefined
        : byName.get(task.template)!.dag?.tasks;
      if (inner) return splice(inner);
      const out = { ...task, ...(last === undefined ? {} : { depends: last }) };
      last = task.name;
      return [out];
    });
  return splice(byName.get("pipeline")!.dag!.tasks);
}

Deno.test("graph formats show the same steps and edges as the WorkflowTemplate DAG", () => {
  for (const [name, config] of Object.entries(configTable())) {
    // Waves are not one chain: templates/waves_test.ts covers their graph.
    if (config.environments.some((e) => e.wave !== undefined)) continue;
    const tasks = flatTasks(config);
    const mermaid = renderGraph(config, { format: "mermaid" });
    assert.ok(mermaid.startsWith("flowchart LR\n"), name);
    assert.equal(mermaid.match(/-->/g)?.length ?? 0, tasks.length - 1, name);
    const dot = renderGraph(config, { format: "dot" });
    for (const t of tasks) {
      if (t.depends) {
        assert.ok(dot.includes(`"${t.depends}" -> "${t.name}";`), `${name}: ${t.name}`);
      }
    }
    const text = renderGraph(config, { format: "text" });
    assert.equal(text.trimEnd().split("\n").length, tasks.length + 1, name);
  }
  const mermaid = renderGraph(configTable()["three-envs-approval-hooks"]!);
  assert.match(mermaid, /s0\["preflight"\]\n {2}s1\["build"\]/);
  assert.match(mermaid, /s7\{"approve prod"\}/);
  assert.match(mermaid, /s6 --> s7\n {2}s7 --> s8/);
});
