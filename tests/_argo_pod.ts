/**
 * Test helper: what Argo hands the pod of one step of a **generated** WorkflowTemplate — its argv
 * and its environment — with every `{{…}}` substituted the way the controller does it (read from
 * Argo's source, see ../shared/reference/ARGO-NOTES.md):
 *
 * - global variables: `workflow.parameters.*` (submitted value, else the template's default),
 *   `workflow.name`, `workflow.namespace`, `workflow.creationTimestamp` (RFC 3339, seconds);
 * - `workflow.status` and `workflow.failures` exist only in the `onExit` handler; anywhere else the
 *   helper throws like Argo's validation ("failed to resolve {{workflow.failures}}");
 * - `workflow.failures` is `strconv.Quote(json.Marshal(failures))` (operator.go), Go's JSON with
 *   HTML-safe escapes;
 * - every replacement is Go-quoted with the outer quotes stripped and placed into the template's
 *   JSON text, which is then decoded again (util/template/simple_template.go);
 * - `inputs.parameters.*` come from the DAG task's arguments (else the input's `default`); the
 *   arguments are resolved in the DAG's scope, level by level as the controller does: the inputs
 *   of the tasks calling the enclosing DAGs (`options.parent`, outermost first, e.g.
 *   `["deploy-dev", "approve"]` for `check`; `options.within` is the one-level form) and
 *   `tasks.<name>.startedAt`/`finishedAt` of finished tasks (`options.taskTimes`, RFC 3339 whole
 *   seconds like metav1.Time);
 * - downward-API `fieldRef` env values (`metadata.annotations['…']`) come from
 *   `options.annotations` (Argo's pod annotations, e.g. `workflows.argoproj.io/node-name`);
 * - `secretKeyRef` env values come from the given Secrets; a missing optional one leaves the
 *   variable unset, a missing required one keeps the pod from starting (throws).
 *
 * Stage tests run the real command with what this returns, so template and stage cannot drift.
 * @module
 */
import type { DagTask, EnvVar, Template, WorkflowTemplate } from "../templates/types.ts";

/** One failed node as the controller lists it in `workflow.failures`. */
export interface ArgoFailureNode {
  /** Node display name (the DAG task name). */
  displayName: string;
  /** Node message, e.g. `Error (exit code 1)`. */
  message: string;
  /** Template of the node. */
  templateName: string;
  /** `Failed` or `Error`. */
  phase: string;
  /** Pod name. */
  podName: string;
  /** Finish time. */
  finishedAt: Date;
}

/** The run a step belongs to. */
export interface ArgoRun {
  /** Submitted workflow parameters (the Sensor's commit-sha and ref). */
  parameters: Record<string, string>;
  /** Workflow name (`metadata.name`). */
  name: string;
  /** Namespace (default the template's). */
  namespace?: string;
  /** Creation time. */
  createdAt: Date;
  /** Set for the onExit handler only: the final phase and the failed nodes. */
  exit?: { status: "Succeeded" | "Failed" | "Error"; failures: ArgoFailureNode[] };
  /** Kubernetes Secrets: name → key → value. */
  secrets?: Record<string, Record<string, string>>;
}

/** A pod's argv and environment. */
export interface ArgoPod {
  /** Template that runs. */
  template: string;
  /** `container.command` + `container.args`, substituted. */
  argv: string[];
  /** Container environment, substituted. */
  env: Record<string, string>;
}

/** Go's `strconv.Quote` (printable Unicode kept, control characters escaped). */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const simple: Record<number, string> = {
      0x07: "\\a",
      0x08: "\\b",
      0x0c: "\\f",
      0x0a: "\\n",
      0x0d: "\\r",
      0x09: "\\t",
      0x0b: "\\v",
      0x5c: "\\\\",
      0x22: '\\"',
    };
    if (simple[cp] !== undefined) out += simple[cp];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (/[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u.test(ch) && ch !== "\u00ad") {
      out += cp > 0xffff
        ? `\\U${cp.toString(16).padStart(8, "0")}`
        : `\\u${cp.toString(16).padStart(4, "0")}`;
    } else out += ch;
  }
  return out + '"';
}

/** Go's `json.Marshal` of a string-keyed value: like JSON.stringify, with HTML-safe escapes. */
export function goJsonMarshal(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** `workflow.failures` exactly as the controller sets it. */
export function argoFailuresValue(failures: ArgoFailureNode[]): string {
  const nodes = failures.map((f) => ({
    displayName: f.displayName,
    message: f.message,
    templateName: f.templateName,
    phase: f.phase,
    podName: f.podName,
    finishedAt: rfc3339(f.finishedAt),
  }));
  return goQuote(goJsonMarshal(nodes));
}

/** metav1.Time's JSON form: RFC 3339 in UTC, whole seconds. */
function rfc3339(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** simple_template.go: Go-quote, strip the outer quotes, splice into JSON text, decode. */
function spliced(replacement: string): string {
  const quoted = goQuote(replacement).slice(1, -1);
  try {
    return JSON.parse(`"${quoted}"`);
  } catch {
    throw new Error(
      `Argo cannot substitute ${JSON.stringify(replacement)} (invalid JSON after quoting)`,
    );
  }
}

/** A task's input parameters: its arguments, else the template's defaults (unresolved text). */
function inputsOf(task: DagTask, template: Template): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of template.inputs?.parameters ?? []) {
    const given = task.arguments?.parameters?.find((a) => a.name === p.name)?.value;
    const value = given ?? p.default;
    if (value !== undefined) out.set(p.name, value);
  }
  // Arguments the template does not declare still reach the scope (as before).
  for (const a of task.arguments?.parameters ?? []) {
    if (!out.has(a.name)) out.set(a.name, a.value ?? "");
  }
  return out;
}

function findTask(
  wt: WorkflowTemplate,
  step: string,
): { task: DagTask | null; template: Template } {
  const byName = new Map(wt.spec.templates.map((t) => [t.name, t] as const));
  if (step === wt.spec.onExit) return { task: null, template: byName.get(step)! };
  for (const t of wt.spec.templates) {
    const task = t.dag?.tasks.find((k) => k.name === step);
    if (task) {
      const template = byName.get(task.template);
      if (!template) throw new Error(`task ${step} calls missing template ${task.template}`);
      return { task, template };
    }
  }
  throw new Error(`no DAG task or onExit handler named ${step} in ${wt.metadata.name}`);
}

/**
 * Where the pod's paths live on this machine: `{"/workspace": dir}` stands for the volume mounted
 * at `/workspace`. Env values naming a mounted path (or a path below it) are rewritten.
 */
export type Mounts = Record<string, string>;

function remount(value: string, mounts: Mounts): string {
  for (const [inPod, here] of Object.entries(mounts)) {
    if (value === inPod || value.startsWith(`${inPod}/`)) return here + value.slice(inPod.length);
  }
  return value;
}

/**
 * The argv and environment of the pod Argo starts for `step` (a DAG task name anywhere in the
 * template, or the onExit handler's template name) of a run of `wt`.
 */
export function argoPod(
  wt: WorkflowTemplate,
  step: string,
  run: ArgoRun,
  options: {
    mounts?: Mounts;
    parent?: string | string[];
    within?: string;
    taskTimes?: Record<string, { startedAt: Date; finishedAt: Date }>;
    /** Output parameters of finished tasks: task → name → value (`tasks.<t>.outputs.parameters.<n>`). */
    taskOutputs?: Record<string, Record<string, string>>;
    annotations?: Record<string, string>;
  } = {},
): ArgoPod {
  const { task, template } = findTask(wt, step);
  const onExit = task === null;
  if (onExit !== (run.exit !== undefined)) {
    throw new Error(`${step}: give run.exit exactly for the onExit handler`);
  }
  const globals = new Map<string, string>();
  for (const p of wt.spec.arguments?.parameters ?? []) {
    const value = run.parameters[p.name] ?? p.value;
    if (value === undefined) throw new Error(`workflow parameter ${p.name} has no value`);
    globals.set(`workflow.parameters.${p.name}`, value);
  }
  globals.set("workflow.name", run.name);
  globals.set("workflow.namespace", run.namespace ?? wt.metadata.namespace ?? "default");
  globals.set("workflow.creationTimestamp", rfc3339(run.createdAt));
  if (run.exit) {
    globals.set("workflow.status", run.exit.status);
    globals.set("workflow.failures", argoFailuresValue(run.exit.failures));
  }
  // The DAG's scope for the task's arguments, built level by level from the outermost caller:
  // each caller's inputs resolved in the scope of the DAG that calls it.
  const resolveIn = (scope: Map<string, string>, value: string) =>
    value.replace(/\{\{([^{}]*)\}\}/g, (_all, tag: string) => {
      const v = scope.get(tag.trim());
      if (v === undefined) throw new Error(`${step}: failed to resolve {{${tag}}}`);
      return v;
    });
  // Finished tasks' times and outputs, visible at every level (task names do not repeat across
  // the levels Aphex generates).
  const finished = new Map<string, string>();
  for (const [name, times] of Object.entries(options.taskTimes ?? {})) {
    finished.set(`tasks.${name}.startedAt`, rfc3339(times.startedAt));
    finished.set(`tasks.${name}.finishedAt`, rfc3339(times.finishedAt));
  }
  for (const [name, outputs] of Object.entries(options.taskOutputs ?? {})) {
    for (const [key, value] of Object.entries(outputs)) {
      finished.set(`tasks.${name}.outputs.parameters.${key}`, value);
    }
  }
  const callers = [options.parent ?? options.within ?? []].flat();
  let dagScope = new Map([...globals, ...finished]);
  for (const name of callers) {
    const caller = findTask(wt, name);
    const next = new Map([...globals, ...finished]);
    for (const [input, value] of inputsOf(caller.task!, caller.template)) {
      next.set(`inputs.parameters.${input}`, resolveIn(dagScope, value));
    }
    dagScope = next;
  }
  if (task) {
    for (const [name, value] of inputsOf(task, template)) {
      globals.set(`inputs.parameters.${name}`, resolveIn(dagScope, value));
    }
  }
  const substitute = (text: string) =>
    text.replace(/\{\{([^{}]*)\}\}/g, (_all, tag: string) => {
      const value = globals.get(tag.trim());
      if (value === undefined) throw new Error(`${step}: failed to resolve {{${tag}}}`);
      return spliced(value);
    });
  const container = template.container;
  if (!container) throw new Error(`${step}: template ${template.name} runs no container`);
  const env: Record<string, string> = {};
  for (const e of container.env ?? [] as EnvVar[]) {
    if (e.value !== undefined) env[e.name] = remount(substitute(e.value), options.mounts ?? {});
    else if (e.valueFrom && "fieldRef" in e.valueFrom) {
      const path = e.valueFrom.fieldRef.fieldPath;
      const key = /^metadata\.annotations\['([^']+)'\]$/.exec(path)?.[1];
      const value = key === undefined ? undefined : options.annotations?.[key];
      if (value === undefined) throw new Error(`${step}: no value for fieldRef ${path}`);
      env[e.name] = value;
    } else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const value = run.secrets?.[ref.name]?.[ref.key];
      if (value !== undefined) env[e.name] = value;
      else if (!ref.optional) throw new Error(`${step}: secret ${ref.name}/${ref.key} is missing`);
    }
  }
  return {
    template: template.name,
    argv: [...container.command ?? [], ...(container.args ?? [])].map(substitute),
    env,
  };
}
