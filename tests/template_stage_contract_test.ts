/**
 * Template and stage cannot drift apart: for every step of every generated WorkflowTemplate (the
 * example and each table config), the argv and env Argo hands the pod (`_argo_pod.ts`) are parsed
 * by that command's real option table without error, and every `APHEX_*` variable the template
 * sets is one the command reads.
 */
import assert from "node:assert/strict";
import { parseCommandArgs } from "../command/contract.ts";
import { loadConfigFile } from "../command/config_file.ts";
import { COMMANDS } from "../cli/main.ts";
import { generateManifests } from "../templates/generate.ts";
import type { WorkflowTemplate } from "../templates/types.ts";
import { argoPod } from "./_argo_pod.ts";
import { configTable } from "./generate_table.ts";

/**
 * Variables read from the environment directly rather than through an option, and the stage
 * contract every stage pod receives (a stage that has no use for its outputs directory or the
 * repository URL simply ignores them).
 */
const RUNTIME_ENV = new Set([
  "APHEX_OUTPUTS_DIR",
  "APHEX_REPO_URL",
  "APHEX_WORKFLOW_NAME", // stage recording
  "APHEX_GITHUB_TOKEN", // checkout and commit statuses (a Secret)
  "APHEX_SLACK_WEBHOOK_URL", // report (a Secret)
  "APHEX_LOG_FORMAT",
]);

const ROOT = new URL("..", import.meta.url).pathname;

async function specOf(name: string) {
  const entry = COMMANDS[name];
  assert.ok(entry, `the template runs 'aphex ${name}', which is no command`);
  return entry.help ? (await entry.help()).spec : (await entry.load()).command.spec;
}

Deno.test("every generated step's argv and env are accepted by its command, and every APHEX_* it sets is read", async () => {
  const configs = {
    example: await loadConfigFile("aphex-config.yaml", { cwd: ROOT }),
    ...configTable(),
  };
  let checked = 0;
  const unread = new Set<string>();
  for (const [name, config] of Object.entries(configs)) {
    const templates = generateManifests(config).flatMap((f) => f.documents)
      .filter((d) => d.kind === "WorkflowTemplate") as WorkflowTemplate[];
    for (const wt of templates) {
      const byName = new Map(wt.spec.templates.map((t) => [t.name, t] as const));
      // One step per container template: tasks of one template differ only in their arguments.
      // Each remembers the DAG it sits in, for the scope of its arguments.
      const steps = new Map<string, string>();
      const dagOf = new Map<string, string>();
      for (const t of wt.spec.templates) {
        for (const task of t.dag?.tasks ?? []) {
          if (byName.get(task.template)?.container && !steps.has(task.template)) {
            steps.set(task.template, task.name);
            dagOf.set(task.name, t.name);
          }
        }
      }
      /** A task running the given DAG template (the caller whose inputs are in scope). */
      const callerOf = (dag: string) =>
        wt.spec.templates.flatMap((t) => t.dag?.tasks ?? []).find((k) => k.template === dag)
          ?.name;
      if (wt.spec.onExit) steps.set(wt.spec.onExit, wt.spec.onExit);
      const at = new Date("2026-11-25T10:00:00Z");
      const allTasks = wt.spec.templates.flatMap((t) =>
        (t.dag?.tasks ?? []).map((k) => ({ dag: t.name, task: k }))
      );
      const dagContaining = (task: string) => allTasks.find((x) => x.task.name === task)?.dag;
      // Outputs of every task whose template declares some (a plan's summary, …).
      const taskOutputs = Object.fromEntries(allTasks.flatMap(({ task }) => {
        const outputs = byName.get(task.template)?.outputs?.parameters ?? [];
        return outputs.length === 0
          ? []
          : [[task.name, Object.fromEntries(outputs.map((o) => [o.name, "value"]))]];
      }));
      /** The tasks calling the DAGs around `step`, outermost first. */
      const callersOf = (step: string) => {
        const chain: string[] = [];
        for (let dag = dagContaining(step); dag !== undefined;) {
          const caller = callerOf(dag);
          if (caller === undefined) break;
          chain.unshift(caller);
          dag = dagContaining(caller);
        }
        return chain;
      };
      const scopeOf = (step: string) => {
        const dag = dagOf.get(step);
        const siblings = dag === undefined ? [] : byName.get(dag)!.dag!.tasks.map((k) => k.name);
        return {
          parent: callersOf(step),
          taskTimes: Object.fromEntries(
            siblings.map((k) => [k, { startedAt: at, finishedAt: at }]),
          ),
          taskOutputs,
          annotations: { "workflows.argoproj.io/node-name": `${wt.metadata.name}-abc12.${step}` },
        };
      };
      for (const [template, step] of steps) {
        const pod = argoPod(wt, step, {
          parameters: { "commit-sha": "0".repeat(40), ref: "refs/heads/main" },
          name: `${wt.metadata.name}-abc12`,
          createdAt: new Date("2026-11-25T10:00:00Z"),
          secrets: {},
          ...(step === wt.spec.onExit ? { exit: { status: "Failed", failures: [] } } : {}),
        }, scopeOf(step));
        const where = `${name}: ${wt.metadata.name}: ${template}`;
        assert.equal(pod.argv[0], "aphex", where);
        const spec = await specOf(pod.argv[1]!);
        assert.doesNotThrow(
          () => parseCommandArgs(spec, { args: pod.argv.slice(2), env: pod.env }),
          where,
        );
        const read = new Set(Object.values(spec.options).flatMap((o) => o.env ? [o.env] : []));
        for (const key of Object.keys(pod.env).filter((k) => k.startsWith("APHEX_"))) {
          if (!read.has(key) && !RUNTIME_ENV.has(key)) {
            unread.add(`${template} (aphex ${pod.argv[1]}) is given ${key}, which it never reads`);
          }
        }
        checked++;
      }
    }
  }
  assert.deepEqual([...unread].sort(), []);
  assert.ok(checked >= 40, `${checked} steps checked`);
});
