import assert from "node:assert/strict";
import { configTable, parseRaw, rawConfig, rawEnvironment } from "../tests/generate_table.ts";
import { runDag } from "../tests/run_order/_argo_dag.ts";
import { parseConfig } from "../models/config_parse.ts";
import { environmentWaves } from "../models/waves.ts";
import { renderGraph } from "./graph.ts";
import { generateManifests } from "./generate.ts";
import { buildTopology, hashTopology, pipelineSteps } from "./topology.ts";
import type { WorkflowTemplate } from "./types.ts";
import {
  buildWorkflowTemplate,
  ENVIRONMENTS_TEMPLATE,
  MAX_DAG_TASKS,
} from "./workflow_template.ts";

/**
 * deploy-<env> (plan → [approval gate] → execute) and test-<env> (run → [rollback]) are DAGs of
 * their own; each counts as one step here.
 */
const GATE = { opaque: ["deploy", "test"] };

/** dev, then the wave `regions` (r1, r2, r3), then the wave `prod` (prod-eu, prod-us). */
function wavesConfig() {
  return parseRaw(rawConfig([
    rawEnvironment("dev"),
    rawEnvironment("r1", { wave: "regions" }),
    rawEnvironment("r2", { wave: "regions" }),
    rawEnvironment("r3", { wave: "regions", approval: true }),
    rawEnvironment("prod-eu", { wave: "prod" }),
    rawEnvironment("prod-us", { wave: "prod" }),
  ]));
}

Deno.test("waves: a wave's environments run in parallel, waves in order (as Argo schedules the DAGs)", () => {
  const wt = buildWorkflowTemplate(wavesConfig());
  const { succeeded, ran } = runDag(wt, ENVIRONMENTS_TEMPLATE, () => true, GATE);
  assert.ok(succeeded);
  const round = (task: string) => ran.find((r) => r.task === task)!.round;
  // Every environment's own order is kept (deploy, with its gate inside, → test).
  assert.ok(round("deploy-dev") < round("test-dev"));
  assert.ok(round("deploy-r3") < round("test-r3"));
  // The wave's environments start together, after dev ended.
  assert.equal(round("deploy-r1"), round("deploy-r2"));
  assert.equal(round("deploy-r1"), round("deploy-r3"));
  assert.ok(round("deploy-r1") > round("test-dev"));
  // The next wave starts after the whole previous wave (r3 is the longest) ended.
  assert.equal(round("deploy-prod-eu"), round("deploy-prod-us"));
  assert.ok(round("deploy-prod-eu") > round("test-r3"));
  assert.equal(ran.length, 12);
});

Deno.test("waves: one failing environment → the others of its wave finish, later waves never start", () => {
  const wt = buildWorkflowTemplate(wavesConfig());
  const { succeeded, ran } = runDag(wt, ENVIRONMENTS_TEMPLATE, (r) => r.task !== "deploy-r1", GATE);
  assert.equal(succeeded, false);
  const names = ran.map((r) => r.task);
  // r2 and r3 (still running when r1 failed) run to their end, tests included.
  for (const t of ["deploy-r2", "test-r2", "deploy-r3", "test-r3"]) {
    assert.ok(names.includes(t), `${t} ran: ${names.join(" ")}`);
  }
  assert.ok(!names.includes("test-r1"));
  assert.ok(!names.some((n) => n.includes("prod")), `the prod wave never started: ${names}`);
  // With Argo's default fail-fast, r2's test would never have started: the model sees it.
  const failFast = structuredClone(wt) as WorkflowTemplate;
  for (const t of failFast.spec.templates) if (t.dag) delete t.dag.failFast;
  const strict = runDag(failFast, ENVIRONMENTS_TEMPLATE, (r) => r.task !== "deploy-r1", GATE);
  assert.ok(!strict.ran.some((r) => r.task === "test-r2"));
});

Deno.test("waves: no waves configured → the template and topology hash are unchanged", () => {
  const plain = parseRaw(rawConfig([rawEnvironment("a"), rawEnvironment("b")]));
  const steps = pipelineSteps(buildTopology(plain));
  assert.ok(steps.every((s) => s.wave === undefined && s.afterAll === undefined));
  // No `wave` key in the topology: its hash (and the running pipelines' self-update check) is
  // the same as before waves existed.
  assert.ok(!JSON.stringify(buildTopology(plain)).includes('"wave"'));
  assert.match(hashTopology(buildTopology(plain)), /^sha256:/);
  const names = buildWorkflowTemplate(plain).spec.templates.map((t) => t.name);
  assert.ok(!names.some((n) => n.startsWith("wave")));
});

Deno.test("waves: 1,000 environments in waves of 50 stay within Argo's caps and ≤ 600 bytes/environment", () => {
  const config = configTable()["thousand-envs-waves-of-50"]!;
  assert.equal(environmentWaves(config.environments).length, 20);
  const files = generateManifests(config);
  const wt = files.find((f) => f.file === "workflow-template.yaml")!;
  const templates = (wt.documents[0] as WorkflowTemplate).spec.templates;
  const largest = Math.max(...templates.map((t) => t.dag?.tasks.length ?? 0));
  assert.equal(largest, 100); // 50 environments × (deploy, test)
  assert.ok(templates.length <= MAX_DAG_TASKS);
  const one = generateManifests(parseRaw(rawConfig([rawEnvironment("env1", {
    stacks: 10,
    approval: true,
    wave: "w1",
  })], { pullRequests: true }))).find((f) => f.file === "workflow-template.yaml")!;
  const perEnv = (wt.bytes - one.bytes) / 999;
  assert.ok(perEnv <= 600, `${perEnv} bytes per environment`);
  // Every environment runs exactly once, in wave order.
  const { succeeded, ran } = runDag(
    wt.documents[0] as WorkflowTemplate,
    ENVIRONMENTS_TEMPLATE,
    () => true,
    GATE,
  );
  assert.ok(succeeded);
  const deploys = ran.filter((r) => r.template === "deploy");
  assert.equal(deploys.length, 1000);
  const roundOf = new Map(deploys.map((r) => [r.env!, r.round]));
  for (let i = 1; i < 1000; i++) {
    const [a, b] = [roundOf.get(`env${i}`)!, roundOf.get(`env${i + 1}`)!];
    if (i % 50 === 0) assert.ok(a < b, `wave boundary env${i}`);
    else assert.equal(a, b, `same wave env${i}`);
  }
});

Deno.test("waves: a wave over 200 tasks is split into parallel parts", () => {
  const wt = buildWorkflowTemplate(configTable()["waves-mixed-and-split"]!);
  const regions = wt.spec.templates.find((t) => t.name === "wave-regions")!;
  assert.deepEqual(regions.dag!.tasks.map((t) => [t.name, t.depends]), [
    ["wavepart-regions-1", undefined],
    ["wavepart-regions-2", undefined],
  ]);
  const { ran } = runDag(wt, ENVIRONMENTS_TEMPLATE, () => true, GATE);
  const rounds = new Set(
    ran.filter((r) => r.task.startsWith("deploy-region")).map((r) => r.round),
  );
  assert.equal(rounds.size, 1, "all 120 regions start together");
});

Deno.test("waves: a split wave is a configuration error", () => {
  const raw = rawConfig([
    rawEnvironment("a", { wave: "one" }),
    rawEnvironment("b"),
    rawEnvironment("c", { wave: "one" }),
  ]);
  const result = parseConfig(JSON.stringify(raw), { file: "x.yaml" });
  assert.equal(result.ok, false);
  const text = JSON.stringify(result);
  assert.match(text, /wave \\"one\\" is split/);
  const named = rawConfig([rawEnvironment("a", { wave: "b" }), rawEnvironment("b")]);
  assert.match(JSON.stringify(parseConfig(JSON.stringify(named), { file: "x.yaml" })), /split/);
});

Deno.test("aphex graph shows waves", () => {
  const config = wavesConfig();
  const text = renderGraph(config, { format: "text" });
  assert.match(text, /environments in 3 waves/);
  assert.match(text, /wave regions: r1, r2, r3/);
  const mermaid = renderGraph(config, { format: "mermaid" });
  assert.match(mermaid, /subgraph w1\["wave regions"\]/);
  assert.match(mermaid, /w1 --> w2/);
  const dot = renderGraph(config, { format: "dot" });
  assert.match(dot, /"rollback-dev" -> "plan-r1";/);
  assert.match(dot, /"rollback-r3" -> "plan-prod-eu";/);
  assert.match(dot, /label="wave prod"/);
});
