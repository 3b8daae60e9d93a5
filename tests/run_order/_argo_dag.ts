/**
 * Test helper: runs the DAG templates of a generated WorkflowTemplate the way Argo's controller
 * schedules them (argo-workflows `workflow/controller/dag.go`; ARGO-NOTES): a task starts when
 * every task named in its `depends` (`a && b` here: each Succeeded) has succeeded; tasks whose
 * dependencies are met start together (one "round"); with `failFast` (the default) no new task of
 * a DAG starts after one of its tasks failed, tasks already running finish; a DAG fails when any
 * of its tasks failed. Nested DAG templates run the same way. Leaf templates are decided by the
 * test (`leaf`); templates named in `opaque` (e.g. the approval DAG) count as leaves. A model of the controller for the chaining structure, not the controller itself.
 * @module
 */
import type { DagTask, Template, WorkflowTemplate } from "../../templates/types.ts";

/** One leaf task that ran: its name, template and `env` argument, and the round it started in. */
export interface LeafRun {
  /** Task name. */
  task: string;
  /** Template name (`deploy`, `test`, `approval`). */
  template: string;
  /** The `env` argument, if any. */
  env?: string;
  /** Scheduling round it started in (parallel tasks share one). */
  round: number;
}

/** Runs template `entry` of `wt`; `leaf` decides each leaf task's outcome (true = Succeeded). */
export function runDag(
  wt: WorkflowTemplate,
  entry: string,
  leaf: (run: LeafRun) => boolean,
  options: { opaque?: readonly string[] } = {},
): { succeeded: boolean; ran: LeafRun[] } {
  const opaque = new Set(options.opaque ?? []);
  const templates = new Map<string, Template>(wt.spec.templates.map((t) => [t.name, t]));
  const ran: LeafRun[] = [];
  // A nested DAG spans several rounds; the clock is global so parallel branches interleave.
  const runTask = (task: DagTask, round: number): { ok: boolean; end: number } => {
    const t = templates.get(task.template);
    if (!t) throw new Error(`template ${task.template} missing`);
    if (t.dag && !opaque.has(t.name)) return runDagTemplate(t, round);
    const env = task.arguments?.parameters?.find((p) => p.name === "env")?.value;
    const run: LeafRun = {
      task: task.name,
      template: task.template,
      round,
      ...(env ? { env } : {}),
    };
    ran.push(run);
    return { ok: leaf(run), end: round + 1 };
  };
  const runDagTemplate = (t: Template, start: number): { ok: boolean; end: number } => {
    const failFast = t.dag!.failFast !== false;
    const done = new Map<string, { ok: boolean; end: number }>();
    let now = start;
    let failedAt = Infinity;
    for (;;) {
      const ready = t.dag!.tasks.filter((task) =>
        !done.has(task.name) &&
        (task.depends ?? "").split("&&").map((d) => d.trim()).filter(Boolean).every((d) => {
          const r = done.get(d);
          return r !== undefined && r.ok && r.end <= now;
        })
      );
      const pending = [...done.values()].filter((r) => r.end > now);
      if (ready.length === 0 && pending.length === 0) break;
      if (ready.length === 0 || (failFast && failedAt <= now)) {
        if (pending.length === 0) break;
        now = Math.min(...pending.map((r) => r.end));
        continue;
      }
      for (const task of ready) {
        const r = runTask(task, now);
        done.set(task.name, r);
        if (!r.ok) failedAt = Math.min(failedAt, r.end);
      }
      const next = [...done.values()].filter((r) => r.end > now).map((r) => r.end);
      if (next.length === 0) break;
      now = Math.min(...next);
    }
    const end = Math.max(start, ...[...done.values()].map((r) => r.end));
    return { ok: [...done.values()].every((r) => r.ok), end };
  };
  const result = runDagTemplate(templates.get(entry)!, 0);
  return { succeeded: result.ok, ran };
}
