/**
 * The environments' DAG templates: the per-environment tasks chained in environment order, or in
 * waves of parallel environments, split into parts of at most {@linkcode MAX_DAG_TASKS} tasks
 * (Argo's cap on `dag.tasks`), so a failed or unapproved environment stops every later one at any
 * size. No I/O happens in this module.
 * @module
 */
import { usesWaves } from "../models/waves.ts";
import { type PipelineStep, type Topology, topologyWaves } from "./topology.ts";
import type { DagTask, Template } from "./types.ts";

/** Name of the DAG template holding the per-environment steps (and prefix of its parts). */
export const ENVIRONMENTS_TEMPLATE = "environments";

/**
 * Most tasks in one DAG template and most templates in one WorkflowTemplate: Argo v4's CRD caps
 * `dag.tasks` and `spec.templates` at 200 items each (workflow_types.go, "artificial limit to limit
 * CEL validation costs"); the API server refuses anything larger.
 */
export const MAX_DAG_TASKS = 200;

/** Prefix of a wave's DAG template and task (`wave-<name>`). */
export const WAVE_PREFIX = "wave-";
/** Prefix of the parts of a wave larger than {@linkcode MAX_DAG_TASKS} (`wavepart-<name>-<i>`). */
export const WAVE_PART_PREFIX = "wavepart-";

/** The DAG task of a pipeline step (`depends` from the step; chains may set it anew). */
export function dagTask(step: PipelineStep): DagTask {
  const task: DagTask = { name: step.name, template: step.kind };
  if (step.after !== undefined) task.depends = step.after;
  if (step.env !== undefined && step.kind !== "approval") {
    task.arguments = { parameters: [{ name: "env", value: step.env }] };
  }
  // The approval gate runs inside deploy-<env>'s template: its timeout is an argument of the
  // deploy task, only when it is not the default (bytes per environment).
  if (step.kind === "deploy" && step.timeout !== undefined) {
    task.arguments!.parameters.push({ name: "timeout", value: step.timeout });
  }
  return task;
}

/** The per-environment steps as DAG tasks, grouped by environment ([approve] → deploy → [test]). */
function environmentUnits(steps: PipelineStep[]): DagTask[][] {
  const units = new Map<string, DagTask[]>();
  for (const step of steps) {
    const unit = units.get(step.env!) ?? [];
    // Each task's `depends` is set by the chain it lands in.
    unit.push(dagTask(step));
    units.set(step.env!, unit);
  }
  return [...units.values()];
}

/**
 * Chains units of tasks (each unit runs after the previous one) into DAG templates of at most
 * {@linkcode MAX_DAG_TASKS} tasks. Up to that size it is one DAG named `name`; beyond, `name`
 * becomes a chain of part tasks `<name>-1`, `<name>-2`, … each running a DAG of whole units, so a
 * failed or unapproved environment still stops every later one (a part runs only after the
 * previous part succeeded). Each part is a template of its own, so the parts stay far below the
 * cap on `spec.templates` (which `pipelineProblems` in generate.ts checks).
 */
function chainedDags(name: string, units: DagTask[][]): Template[] {
  const chain = (group: DagTask[][]): DagTask[] => {
    const flat: DagTask[] = [];
    for (const unit of group) {
      for (const [i, task] of unit.entries()) {
        const previous = i === 0 ? flat.at(-1)?.name : unit[i - 1]!.name;
        const { name: taskName, template, depends: _old, ...rest } = task;
        flat.push({
          name: taskName,
          template,
          ...(previous === undefined ? {} : { depends: previous }),
          ...rest,
        });
      }
    }
    return flat;
  };
  const total = units.reduce((n, u) => n + u.length, 0);
  if (total <= MAX_DAG_TASKS) return [{ name, dag: { tasks: chain(units) } }];
  const parts: DagTask[][][] = [[]];
  let size = 0;
  for (const unit of units) {
    if (size + unit.length > MAX_DAG_TASKS && size > 0) {
      parts.push([]);
      size = 0;
    }
    parts.at(-1)!.push(unit);
    size += unit.length;
  }
  const partTemplates = parts.map((group, i) => ({
    name: `${name}-${i + 1}`,
    dag: { tasks: chain(group) },
  }));
  const partTasks = partTemplates.map((t) => [{ name: t.name, template: t.name }]);
  return [{ name, dag: { tasks: chain(partTasks) } }, ...partTemplates];
}

/**
 * The environments' DAGs with waves. Each wave is a DAG template `wave-<name>` whose environment
 * units run in parallel (each unit's own tasks stay chained, in their order) with
 * `failFast: false`: when one environment fails, the other environments of the wave still run
 * to their end (with Argo's default fail-fast no new task of the DAG would start, so a running
 * environment's test step would never run); the wave then fails. The waves are chained like units
 * by {@linkcode chainedDags} (a wave starts only after the previous one succeeded), so a failure
 * stops every later wave. A wave of more than {@linkcode MAX_DAG_TASKS} tasks becomes parallel
 * parts `wavepart-<name>-<i>` of whole units (part names end in digits after the wave name, and
 * wave names never contain `--` … so no two names collide).
 */
function waveDags(name: string, waves: { name: string; units: DagTask[][] }[]): Template[] {
  const parallel = (units: DagTask[][]): DagTask[] =>
    units.flatMap((unit) =>
      unit.map((task, i) => {
        const { name: taskName, template, depends: _old, ...rest } = task;
        return {
          name: taskName,
          template,
          ...(i === 0 ? {} : { depends: unit[i - 1]!.name }),
          ...rest,
        };
      })
    );
  const templates: Template[] = [];
  const waveTasks: DagTask[][] = [];
  for (const wave of waves) {
    const waveName = `${WAVE_PREFIX}${wave.name}`;
    waveTasks.push([{ name: waveName, template: waveName }]);
    const total = wave.units.reduce((n, u) => n + u.length, 0);
    if (total <= MAX_DAG_TASKS) {
      templates.push({ name: waveName, dag: { failFast: false, tasks: parallel(wave.units) } });
      continue;
    }
    const groups: DagTask[][][] = [[]];
    let size = 0;
    for (const unit of wave.units) {
      if (size + unit.length > MAX_DAG_TASKS && size > 0) {
        groups.push([]);
        size = 0;
      }
      groups.at(-1)!.push(unit);
      size += unit.length;
    }
    const parts = groups.map((group, i) => ({
      name: `${WAVE_PART_PREFIX}${wave.name}-${i + 1}`,
      dag: { failFast: false, tasks: parallel(group) },
    }));
    templates.push({
      name: waveName,
      dag: { failFast: false, tasks: parts.map((p) => ({ name: p.name, template: p.name })) },
    }, ...parts);
  }
  return [...chainedDags(name, waveTasks), ...templates];
}

/** The environments' DAG templates: one chain of environments, or waves when configured. */
export function environmentDags(topology: Topology, envSteps: PipelineStep[]): Template[] {
  const units = environmentUnits(envSteps);
  if (!usesWaves(topology.environments)) return chainedDags(ENVIRONMENTS_TEMPLATE, units);
  // Units are in environment order, and so are the waves' environments.
  let next = 0;
  const waves = topologyWaves(topology).map((wave) => ({
    name: wave.name,
    units: units.slice(next, next += wave.environments.length),
  }));
  return waveDags(ENVIRONMENTS_TEMPLATE, waves);
}
