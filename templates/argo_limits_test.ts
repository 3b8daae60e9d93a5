/**
 * The generated pipeline within what Argo and Kubernetes accept (issue: Argo correctness):
 * DAG and template caps at 1,000 environments, order and approval semantics of the split chain,
 * only onExit-scoped variables in the exit handler, and a bucket for every cluster pipeline.
 */
import assert from "node:assert/strict";
import { AphexError, ExitCode } from "../models/errors.ts";
import { configTable, parseRaw, rawConfig, rawEnvironment } from "../tests/generate_table.ts";
import { generateManifests, MAX_MANIFEST_BYTES, pipelineProblems } from "./generate.ts";
import { FULL_CHECK_FROM } from "./limits.ts";
import { buildTopology, pipelineSteps } from "./topology.ts";
import type { DagTask, Template, WorkflowTemplate } from "./types.ts";
import { buildWorkflowTemplate, MAX_DAG_TASKS } from "./workflow_template.ts";

const TABLE = configTable();

/** The per-environment tasks in the order Argo can run them: follows the chain of part DAGs. */
function runOrder(wt: WorkflowTemplate): DagTask[] {
  const byName = new Map(wt.spec.templates.map((t) => [t.name, t] as const));
  const walk = (template: Template): DagTask[] => {
    const tasks = template.dag!.tasks;
    // A chain: exactly one task without depends, every other depends on the one before it.
    const order: DagTask[] = [];
    let current = tasks.find((t) => t.depends === undefined);
    while (current) {
      order.push(current);
      const name: string = current.name;
      const next = tasks.filter((t) => t.depends === name);
      assert.ok(next.length <= 1, `${template.name}: ${name} has ${next.length} successors`);
      current = next[0];
    }
    assert.equal(order.length, tasks.length, `${template.name} is one chain`);
    return order.flatMap((t) => {
      const target = byName.get(t.template)!;
      // deploy-<env>'s and test-<env>'s own DAGs (plan → approve → execute, run → rollback) are
      // one step of the chain each.
      return target.dag && t.template !== "deploy" && t.template !== "test" ? walk(target) : [t];
    });
  };
  return walk(byName.get("environments")!);
}

Deno.test("1,000 environments with approvals and tests: no DAG and no template list over Argo's 200 cap, ≤ 600 bytes per environment", () => {
  const config = TABLE["thousand-envs-approvals-tests"]!;
  const [file] = generateManifests(config);
  const wt = file!.documents[0] as WorkflowTemplate;
  assert.ok(wt.spec.templates.length <= MAX_DAG_TASKS, `${wt.spec.templates.length} templates`);
  const largest = Math.max(...wt.spec.templates.map((t) => t.dag?.tasks.length ?? 0));
  assert.ok(largest <= MAX_DAG_TASKS, `largest DAG has ${largest} tasks`);
  assert.equal(MAX_DAG_TASKS, 200);
  const one = generateManifests(parseRaw(rawConfig([rawEnvironment("env1", { approval: true })])));
  const perEnv = (file!.bytes - one[0]!.bytes) / 999;
  assert.ok(perEnv <= 600, `${perEnv} bytes per environment`);
  assert.deepEqual(pipelineProblems(config), []);
});

Deno.test("the split environment chain keeps the configured order and every approval before its deploy", () => {
  for (const name of ["thousand-envs-approvals-tests", "three-envs-approval-hooks", "fifty-envs"]) {
    const config = TABLE[name]!;
    const wt = buildWorkflowTemplate(config);
    const expected = pipelineSteps(buildTopology(config)).slice(2).filter((s) => !s.inside);
    const actual = runOrder(wt);
    assert.deepEqual(
      actual.map((t) => [t.name, t.template, t.arguments?.parameters[0]?.value]),
      expected.map((s) => [s.name, s.kind, s.kind === "approval" ? undefined : s.env]),
      name,
    );
  }
  // Small pipelines keep one flat DAG (unchanged manifests).
  const small = buildWorkflowTemplate(TABLE["fifty-envs"]!);
  assert.equal(small.spec.templates.filter((t) => t.name.startsWith("environments")).length, 1);
  // Parts hold whole environments: deploy/test of one environment never span two parts (plan and
  // approval run inside deploy-<env>).
  const big = buildWorkflowTemplate(TABLE["thousand-envs-approvals-tests"]!);
  for (const t of big.spec.templates.filter((t) => /^environments-\d+$/.test(t.name))) {
    const envs = t.dag!.tasks.map((task) => task.name.replace(/^(deploy|test)-/, ""));
    const counts = new Map<string, number>();
    for (const e of envs) counts.set(e, (counts.get(e) ?? 0) + 1);
    for (const [env, n] of counts) assert.equal(n, 2, `${t.name}: ${env} has ${n} of 2 steps`);
  }
});

Deno.test("only the onExit handler reads workflow.status and workflow.failures", () => {
  for (const [name, config] of Object.entries(TABLE)) {
    for (const doc of generateManifests(config).flatMap((f) => f.documents)) {
      if (doc.kind !== "WorkflowTemplate") continue;
      const wt = doc as WorkflowTemplate;
      for (const t of wt.spec.templates) {
        if (t.name === wt.spec.onExit) continue;
        const text = JSON.stringify(t);
        assert.ok(!text.includes("{{workflow.failures}}"), `${name}: ${t.name} reads failures`);
        assert.ok(!text.includes("{{workflow.status}}"), `${name}: ${t.name} reads status`);
      }
    }
  }
});

Deno.test("a cluster pipeline (pipeline.github set) without an artifact bucket is refused with exit 2", () => {
  const raw = rawConfig([rawEnvironment("dev")]);
  delete raw.pipeline!.artifactBucket;
  const config = parseRaw(raw);
  assert.throws(
    () => generateManifests(config),
    (e: unknown) =>
      e instanceof AphexError && e.exitCode === ExitCode.Usage &&
      e.message.includes("pipeline.artifactBucket is required when pipeline.github is set"),
  );
  assert.equal(pipelineProblems(config).length, 1);
  // Without GitHub (aphex run --local only) the local store is fine.
  const local = rawConfig([rawEnvironment("dev")], { github: false });
  delete local.pipeline!.artifactBucket;
  assert.doesNotThrow(() => generateManifests(parseRaw(local)));
});

Deno.test("pipelineProblems reports the size limit with how many environments fit", () => {
  const envs = Array.from(
    { length: 4000 },
    (_, i) => rawEnvironment(`e${String(i).padStart(39, "0")}`, { stacks: 1, approval: true }),
  );
  const problems = pipelineProblems(parseRaw(rawConfig(envs)));
  const size = problems.find((p) => p.message.includes("over the 1048576-byte limit"));
  assert.ok(size, JSON.stringify(problems));
  const fit = Number(/4000 environments are configured, (\d+) fit/.exec(size.message)?.[1]);
  assert.ok(fit > 1000 && fit < 4000, size.message);
  // The count is exact: `fit` environments generate, one more does not.
  const cut = (n: number) => parseRaw(rawConfig(envs.slice(0, n)));
  assert.doesNotThrow(() => generateManifests(cut(fit)));
  assert.throws(() => generateManifests(cut(fit + 1)), /over the 1048576-byte limit/);
});

Deno.test("below FULL_CHECK_FROM environments no limit can be reached (validate skips generating)", () => {
  // Worst case per environment: the longest names the schema allows, approval and tests.
  const envs = Array.from(
    { length: FULL_CHECK_FROM - 1 },
    (_, i) => rawEnvironment(`e${String(i).padStart(39, "0")}`, { stacks: 1, approval: true }),
  );
  const config = parseRaw(rawConfig(envs, { pullRequests: true }));
  assert.deepEqual(pipelineProblems(config), []);
  const largest = Math.max(...generateManifests(config).map((f) => f.bytes));
  // A wide margin, so growing templates keep the bound (half the 1 MiB object limit).
  assert.ok(largest < MAX_MANIFEST_BYTES / 2, `${largest} bytes`);
});
