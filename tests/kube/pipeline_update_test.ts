/**
 * `aphex pipeline-update` end to end: the real `@kubernetes/client-node` against the loopback
 * fake API server, the real generator, a real git workspace.
 */
import assert from "node:assert/strict";
import { command, runPipelineUpdate } from "../../stages/pipeline_update.ts";
import { resubmitWorkflowName } from "../../templates/superseding_workflow.ts";
import { createKubeClient, loadKubeConfig } from "../../adapters/kubernetes/client.ts";
import { AphexError } from "../../models/errors.ts";
import { main } from "../../cli/main.ts";
import { captureContext } from "../../command/contract.ts";
import { TOPOLOGY_HASH_ANNOTATION } from "../../templates/workflow_template.ts";
import { configYaml, hashOf, withWorld, type World } from "./_harness.ts";
import { rbacAuthorizer, startFakeApiServer } from "./_fake_api.ts";
import { buildRbac } from "../../templates/rbac.ts";
import { generateManifests } from "../../templates/generate.ts";
import { parseConfigOrThrow } from "../../models/config_parse.ts";

const V1 = configYaml(["dev"]);
const V2 = configYaml(["dev", "prod!"]);
const H1 = hashOf(V1);
const H2 = hashOf(V2);
const ARGO = "/apis/argoproj.io/v1alpha1";
const SELF_PATHS = [
  `${ARGO}/namespaces/argo/workflowtemplates/shop`,
  `${ARGO}/namespaces/argo-events/eventsources/shop`,
  `${ARGO}/namespaces/argo-events/sensors/shop`,
];

function stageArgs(w: World, sha: string, extra: string[] = []): string[] {
  return [
    "--workspace",
    w.workspace,
    "--commit-sha",
    sha,
    // A flag may be given once: an explicit --kubeconfig replaces the default one.
    ...(extra.includes("--kubeconfig") ? [] : ["--kubeconfig", w.kubeconfig]),
    "--outputs-dir",
    w.outputs,
    ...extra,
  ];
}

/** Applies commit `sha` the way a first run (outside a Workflow) would. */
async function applyCommit(w: World, sha: string): Promise<void> {
  await w.checkout(sha);
  const r = await w.run(command, stageArgs(w, sha));
  assert.equal(r.code, 0, r.err);
}

/** The Workflow the Sensor creates for a push of `sha`. */
function sensorWorkflow(sha: string) {
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Workflow",
    metadata: {
      name: `shop-${sha}`,
      namespace: "argo",
      labels: { "app.kubernetes.io/name": "shop", "app.kubernetes.io/component": "pipeline-run" },
    },
    spec: {
      workflowTemplateRef: { name: "shop" },
      arguments: {
        parameters: [{ name: "commit-sha", value: sha }, { name: "ref", value: "refs/heads/main" }],
      },
    },
  };
}

Deno.test("pipeline-update: first apply creates the objects with exact server-side apply requests", async () => {
  await withWorld([V1], async (w) => {
    const sha = w.commits[0]!;
    await w.checkout(sha);
    const r = await w.run(command, stageArgs(w, sha));
    assert.equal(r.code, 0, r.err);

    // The real client discovers the Argo API first.
    assert.ok(w.api.requests.some((q) => q.method === "GET" && q.path === ARGO));
    // Every request is authenticated with the kubeconfig's token.
    assert.ok(w.api.requests.every((q) => q.authorization === "Bearer fake-token-for-tests"));

    const patches = w.api.requests.filter((q) => q.method === "PATCH");
    const dry = patches.filter((q) => q.query.dryRun === "All");
    const real = patches.filter((q) => q.query.dryRun === undefined);
    assert.deepEqual(
      dry.map((q) => q.path),
      SELF_PATHS,
      "a server-side dry run precedes the writes",
    );
    assert.deepEqual(real.map((q) => q.path), SELF_PATHS);
    for (const q of patches) {
      assert.equal(q.contentType, "application/apply-patch+yaml");
      assert.equal(q.query.fieldManager, "aphex");
      assert.equal(q.query.force, undefined, "no force unless asked");
    }
    for (const q of real) assert.deepEqual(Object.keys(q.query), ["fieldManager"]);
    // RBAC is never applied by the pipeline itself; no Workflow is created outside a run.
    assert.ok(!w.api.requests.some((q) => /rbac|serviceaccounts/.test(q.path)));
    assert.ok(!w.api.requests.some((q) => q.method === "POST"));

    const template = w.api.get("argoproj.io/v1alpha1", "WorkflowTemplate", "argo", "shop")!;
    const meta = template.metadata as { annotations: Record<string, string> };
    assert.equal(meta.annotations[TOPOLOGY_HASH_ANNOTATION], H1);
    const body = JSON.parse(real[0]!.body);
    assert.equal(body.kind, "WorkflowTemplate");
    assert.equal(body.metadata.resourceVersion, undefined, "no server fields are sent");
    assert.ok(w.api.get("argoproj.io/v1alpha1", "EventSource", "argo-events", "shop"));
    assert.ok(w.api.get("argoproj.io/v1alpha1", "Sensor", "argo-events", "shop"));

    assert.match(r.out, /create\s+WorkflowTemplate argo\/shop/);
    assert.match(r.out, /\+kind: WorkflowTemplate/);
    assert.equal(await w.output("superseded"), "false");
    assert.equal(await w.output("changed"), "3");
    assert.equal(await w.output("topology-hash"), H1);
  });
});

Deno.test("pipeline-update: a second run with no change writes nothing", async () => {
  await withWorld([V1], async (w) => {
    const sha = w.commits[0]!;
    await applyCommit(w, sha);
    const before = w.api.requests.length;
    const versions = [...w.api.objects.values()].map((o) =>
      (o.metadata as { resourceVersion: string }).resourceVersion
    );

    const r = await w.run(command, stageArgs(w, sha));
    assert.equal(r.code, 0, r.err);
    const again = w.api.requests.slice(before);
    assert.ok(again.length > 0);
    assert.deepEqual(again.filter((q) => q.method !== "GET"), [], "no PATCH, no POST");
    assert.deepEqual(
      [...w.api.objects.values()].map((o) =>
        (o.metadata as { resourceVersion: string }).resourceVersion
      ),
      versions,
    );
    assert.match(r.out, /unchanged\s+WorkflowTemplate argo\/shop/);
    assert.equal(await w.output("changed"), "0");
  });
});

Deno.test("pipeline-update: a topology change applies and resubmits exactly once", async () => {
  await withWorld([V1, V2], async (w) => {
    const [sha1, sha2] = [w.commits[0]!, w.commits[1]!];
    await applyCommit(w, sha1);
    // The Sensor started a run for the push of sha2 from the old template.
    const running = sensorWorkflow(sha2);
    w.api.seed(running, { manager: "argo-events" });
    await w.checkout(sha2);
    const env = { APHEX_WORKFLOW_NAME: running.metadata.name, APHEX_TOPOLOGY_HASH: H1 };
    const before = w.api.requests.length;

    const r = await w.run(command, stageArgs(w, sha2), env);
    assert.equal(r.code, 0, r.err);
    const expected = resubmitWorkflowName("shop", { commitSha: sha2, topologyHash: H2 });
    assert.ok(expected.length <= 63);
    assert.equal(r.out.trim().split("\n").at(-1), `superseded by ${expected}`);
    assert.equal(await w.output("superseded"), "true");
    assert.equal(await w.output("superseded-by"), expected);

    const reqs = w.api.requests.slice(before);
    const writes = reqs.filter((q) => q.method !== "GET" && q.query.dryRun === undefined);
    assert.deepEqual(writes.map((q) => `${q.method} ${q.path}`), [
      `PATCH ${SELF_PATHS[0]}`,
      `POST ${ARGO}/namespaces/argo/workflows`,
    ], "only the template changed; then one Workflow is created");
    const post = writes[1]!;
    assert.equal(post.contentType, "application/json");
    assert.equal(post.query.fieldManager, "aphex");
    const wf = JSON.parse(post.body);
    assert.equal(wf.metadata.name, expected);
    assert.equal(wf.metadata.namespace, "argo");
    assert.deepEqual(wf.spec.workflowTemplateRef, { name: "shop" });
    assert.deepEqual(wf.spec.arguments.parameters, [
      { name: "commit-sha", value: sha2 },
      { name: "ref", value: "refs/heads/main" },
    ]);
    assert.equal(wf.metadata.labels["aphex.dev/resubmitted"], "true");
    assert.equal(wf.metadata.labels["aphex.dev/commit-sha"], sha2);
    assert.equal(wf.metadata.annotations[TOPOLOGY_HASH_ANNOTATION], H2);
    assert.equal(wf.metadata.annotations["aphex.dev/supersedes"], running.metadata.name);
    const template = w.api.get("argoproj.io/v1alpha1", "WorkflowTemplate", "argo", "shop")!;
    assert.equal(
      (template.metadata as { annotations: Record<string, string> }).annotations[
        TOPOLOGY_HASH_ANNOTATION
      ],
      H2,
    );

    // A retry of the same step: nothing to apply, the deterministic name gets AlreadyExists.
    const retryFrom = w.api.requests.length;
    const retry = await w.run(command, stageArgs(w, sha2), env);
    assert.equal(retry.code, 0, retry.err);
    assert.match(retry.out, new RegExp(`superseded by ${expected}`));
    assert.match(retry.err, /already submitted/);
    const retryWrites = w.api.requests.slice(retryFrom).filter((q) => q.method !== "GET");
    assert.deepEqual(retryWrites.map((q) => q.method), ["POST"]);
    const workflows = [...w.api.objects.values()].filter((o) => o.kind === "Workflow");
    assert.equal(workflows.length, 2, "the original run and exactly one resubmitted run");

    // The resubmitted run (started from the new template) continues without resubmitting.
    const w2From = w.api.requests.length;
    const second = await w.run(command, stageArgs(w, sha2), {
      APHEX_WORKFLOW_NAME: expected,
      APHEX_TOPOLOGY_HASH: H2,
    });
    assert.equal(second.code, 0, second.err);
    assert.equal(await w.output("superseded"), "false");
    assert.deepEqual(w.api.requests.slice(w2From).filter((q) => q.method !== "GET"), []);
    assert.match(second.err, /topology unchanged/);

    // Loop guard: even if the hash it is told differs, a resubmitted run never resubmits again.
    const guardFrom = w.api.requests.length;
    const guarded = await w.run(command, stageArgs(w, sha2), {
      APHEX_WORKFLOW_NAME: expected,
      APHEX_TOPOLOGY_HASH: H1,
    });
    assert.equal(guarded.code, 0, guarded.err);
    assert.equal(await w.output("superseded"), "false");
    assert.match(guarded.err, /loop guard/);
    assert.deepEqual(w.api.requests.slice(guardFrom).filter((q) => q.method === "POST"), []);
    assert.equal([...w.api.objects.values()].filter((o) => o.kind === "Workflow").length, 2);
  });
});

Deno.test("pipeline-update: without APHEX_TOPOLOGY_HASH the hash comes from the resubmitted Workflow or the live template", async () => {
  await withWorld([V1, V2], async (w) => {
    const [sha1, sha2] = [w.commits[0]!, w.commits[1]!];
    await applyCommit(w, sha1);
    const running = sensorWorkflow(sha2);
    w.api.seed(running, { manager: "argo-events" });
    await w.checkout(sha2);
    const r = await w.run(command, stageArgs(w, sha2), {
      APHEX_WORKFLOW_NAME: running.metadata.name,
    });
    assert.equal(r.code, 0, r.err);
    const result = JSON.parse(await w.output("result.json"));
    assert.equal(result.hashSource, "live-template");
    assert.equal(result.runningTopologyHash, H1);
    assert.equal(result.superseded, true);

    // The resubmitted Workflow carries its hash: its run reads it and continues.
    const next = resubmitWorkflowName("shop", { commitSha: sha2, topologyHash: H2 });
    const second = await w.run(command, stageArgs(w, sha2), { APHEX_WORKFLOW_NAME: next });
    assert.equal(second.code, 0, second.err);
    const again = JSON.parse(await w.output("result.json"));
    assert.equal(again.hashSource, "workflow");
    assert.equal(again.superseded, false);
  });
});

Deno.test("pipeline-update: a 409 apply conflict fails with exit 1 naming the fields and managers", async () => {
  await withWorld([V1], async (w) => {
    const sha = w.commits[0]!;
    await w.checkout(sha);
    // Someone edited the EventSource's webhook URL with kubectl.
    const es = generateManifests(parseConfigOrThrow(V1)).flatMap((f) => f.documents)
      .find((d) => d.kind === "EventSource")!;
    const edited = structuredClone(es) as unknown as Record<string, unknown>;
    const github = (edited.spec as { github: { github: { webhook: { url: string } } } }).github;
    github.github.webhook.url = "https://old.example.com";
    w.api.seed(edited, { manager: "kubectl-edit" });

    const r = await w.run(command, stageArgs(w, sha));
    assert.equal(r.code, 1);
    assert.match(r.err, /EventSource argo-events\/shop/);
    assert.match(r.err, /\.spec\.github\.github\.webhook\.url \(owned by "kubectl-edit"\)/);
    assert.match(r.err, /Apply failed with 1 conflict/);
    assert.match(r.err, /Nothing was applied/);
    assert.deepEqual(w.api.writes(), [], "the dry run caught the conflict before any write");
    assert.equal(w.api.get("argoproj.io/v1alpha1", "WorkflowTemplate", "argo", "shop"), undefined);
    assert.ok(w.api.requests.every((q) => q.query.force === undefined));
    assert.equal(await w.output("superseded"), "false");

    // --force-conflicts takes the field over (force=true on the wire).
    const forced = await w.run(command, stageArgs(w, sha, ["--force-conflicts"]));
    assert.equal(forced.code, 0, forced.err);
    const patches = w.api.writes().filter((q) => q.method === "PATCH");
    assert.ok(patches.length > 0 && patches.every((q) => q.query.force === "true"));
    const live = w.api.get("argoproj.io/v1alpha1", "EventSource", "argo-events", "shop")!;
    assert.equal(
      (live.spec as { github: { github: { webhook: { url: string } } } }).github.github.webhook.url,
      "https://hooks.example.com",
    );
  });
});

Deno.test("pipeline-update: API server unreachable → exit 1, nothing applied", async () => {
  await withWorld([V1], async (w) => {
    const sha = w.commits[0]!;
    await w.checkout(sha);
    const dead = startFakeApiServer();
    await Deno.mkdir(`${w.root}/dead`);
    const kubeconfig = await dead.writeKubeconfig(`${w.root}/dead`);
    await dead.close();
    const r = await w.run(command, stageArgs(w, sha, ["--kubeconfig", kubeconfig]));
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`cannot reach the Kubernetes API server at ${dead.url}`));
    assert.deepEqual(w.api.requests, []);
    assert.equal(await w.output("superseded"), "false");
  });
});

Deno.test("pipeline-update: a failing write keeps the previous template and fails with the server's message", async () => {
  await withWorld([V1, V2], async (w) => {
    const [sha1, sha2] = [w.commits[0]!, w.commits[1]!];
    await applyCommit(w, sha1);
    const running = sensorWorkflow(sha2);
    w.api.seed(running, { manager: "argo-events" });
    await w.checkout(sha2);
    w.api.failWrites = true;
    const r = await w.run(command, stageArgs(w, sha2), {
      APHEX_WORKFLOW_NAME: running.metadata.name,
      APHEX_TOPOLOGY_HASH: H1,
    });
    assert.equal(r.code, 1);
    assert.match(r.err, /503 ServiceUnavailable: etcdserver: request timed out/);
    assert.match(r.err, /Not applied \(left as they were\): WorkflowTemplate argo\/shop/);
    const template = w.api.get("argoproj.io/v1alpha1", "WorkflowTemplate", "argo", "shop")!;
    assert.equal(
      (template.metadata as { annotations: Record<string, string> }).annotations[
        TOPOLOGY_HASH_ANNOTATION
      ],
      H1,
      "the previous template is still in place",
    );
    assert.equal([...w.api.objects.values()].filter((o) => o.kind === "Workflow").length, 1);
    assert.equal(await w.output("superseded"), "false");
  });
});

Deno.test("pipeline-update --dry-run prints the diff and writes nothing", async () => {
  await withWorld([V1, V2], async (w) => {
    const [sha1, sha2] = [w.commits[0]!, w.commits[1]!];
    await applyCommit(w, sha1);
    await Deno.remove(w.outputs, { recursive: true });
    await w.checkout(sha2);
    const before = w.api.requests.length;
    // From a laptop: no commit (the workspace as it is), --kubeconfig, --dry-run.
    const r = await w.run(command, [
      "--dry-run",
      "--workspace",
      w.workspace,
      "--kubeconfig",
      w.kubeconfig,
      "--outputs-dir",
      w.outputs,
    ], { APHEX_WORKFLOW_NAME: "", APHEX_TOPOLOGY_HASH: H1 });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(w.api.requests.slice(before).filter((q) => q.method !== "GET"), []);
    assert.match(r.out, /update\s+WorkflowTemplate argo\/shop/);
    assert.match(r.out, /^\+\s+- name: deploy-prod$/m);
    assert.match(r.out, /^-\s+aphex\.dev\/topology-hash: sha256:/m);
    assert.match(r.err, /nothing was written/);
    await assert.rejects(Deno.stat(w.outputs), Deno.errors.NotFound);
  });
});

Deno.test("pipeline-update is dispatched by aphex main and has --help", async () => {
  const ctx = captureContext(["pipeline-update", "--help"]);
  assert.equal(await main(ctx), 0);
  const help = ctx.out.join("");
  for (const flag of ["--dry-run", "--kubeconfig", "--force-conflicts", "APHEX_TOPOLOGY_HASH"]) {
    assert.ok(help.includes(flag), flag);
  }
  const missing = captureContext(["pipeline-update"], { env: {} });
  assert.equal(await main(missing), 2);
  assert.match(missing.err.join(""), /--commit-sha/);
});

Deno.test("runPipelineUpdate deploys pipeline.pipelineStack before applying; never in a dry run; a failed deploy applies nothing", async () => {
  const withStack = configYaml(["dev"], { pipelineStack: true });
  await withWorld([withStack], async (w) => {
    const sha = w.commits[0]!;
    await w.checkout(sha);
    const kube = createKubeClient(
      await loadKubeConfig({ kubeconfig: w.kubeconfig, env: {}, cwd: w.root }),
    );
    const calls: { stack: string; path: string; requestsSoFar: number }[] = [];
    const logs: string[] = [];
    const base = {
      workspace: w.workspace,
      configFile: "aphex-config.yaml",
      storeDir: `${w.root}/store`,
      outputsDir: w.outputs,
      commitSha: sha,
      forceConflicts: false,
    };
    const deps = (fail: boolean) => ({
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: w.root },
      cwd: w.root,
      log: (l: string) => void logs.push(l),
      out: () => {},
      kube,
      deployPipelineStack: ({ stack }: { stack: { name: string; path: string } }) => {
        calls.push({ stack: stack.name, path: stack.path, requestsSoFar: w.api.requests.length });
        if (fail) return Promise.reject(new AphexError("cdk deploy of the pipeline stack failed"));
        return Promise.resolve({ stackName: stack.name, noChanges: true });
      },
    });

    // No cluster configuration: a usage error before the stack is deployed.
    const { kube: _k, ...noKube } = deps(false);
    await assert.rejects(
      runPipelineUpdate({ ...base, dryRun: false }, noKube),
      (e: AphexError) => e.exitCode === 2 && /no Kubernetes configuration found/.test(e.message),
    );
    assert.equal(calls.length, 0);

    await runPipelineUpdate({ ...base, dryRun: true }, deps(false));
    assert.equal(calls.length, 0, "a dry run deploys nothing");
    assert.ok(logs.some((l) => /dry run: pipeline stack ShopPipeline would be/.test(l)));

    await assert.rejects(runPipelineUpdate({ ...base, dryRun: false }, deps(true)), /cdk deploy/);
    assert.equal(calls.length, 1);
    assert.deepEqual(w.api.writes(), [], "a failed pipeline stack deploy applies nothing");

    const outcome = await runPipelineUpdate({ ...base, dryRun: false }, deps(false));
    assert.deepEqual(calls[1], {
      stack: "ShopPipeline",
      path: "infra/pipeline.ts",
      requestsSoFar: calls[1]!.requestsSoFar,
    });
    assert.deepEqual(outcome.pipelineStack, { stackName: "ShopPipeline", noChanges: true });
    assert.equal(outcome.applied.length, 3);
    assert.ok(
      w.api.requests.slice(0, calls[1]!.requestsSoFar).every((q) => q.method === "GET"),
      "the stack is deployed before anything is applied",
    );
  });
});

Deno.test("pipeline-update uses only the verbs the generated Role grants the pipeline", async () => {
  const V3 = configYaml(["dev", "prod!"], { pullRequests: true });
  await withWorld([V1, V2, V3], async (w) => {
    const [sha1, sha2, sha3] = [w.commits[0]!, w.commits[1]!, w.commits[2]!];
    await applyCommit(w, sha1); // the bootstrap, as an admin
    // From now on the API server authorizes like RBAC with the Roles bound to the pipeline's
    // service account, as generated for the installed configuration.
    const rbac = buildRbac(parseConfigOrThrow(V1)) as unknown as {
      kind: string;
      metadata: { name: string; namespace: string };
      rules?: {
        apiGroups: string[];
        resources: string[];
        resourceNames?: string[];
        verbs: string[];
      }[];
      roleRef?: { name: string };
      subjects?: { name: string; namespace: string }[];
    }[];
    const bound = rbac.filter((o) =>
      o.kind === "RoleBinding" &&
      o.subjects!.some((s) => s.name === "aphex-pipeline" && s.namespace === "argo")
    );
    const roles = bound.map((b) => {
      const role = rbac.find((o) =>
        o.kind === "Role" && o.metadata.name === b.roleRef!.name &&
        o.metadata.namespace === b.metadata.namespace
      )!;
      return { namespace: role.metadata.namespace, rules: role.rules! };
    });
    assert.deepEqual(roles.map((r) => r.namespace), ["argo", "argo-events"]);
    w.api.authorize = rbacAuthorizer(roles);

    const running = sensorWorkflow(sha2);
    w.api.seed(running, { manager: "argo-events" });
    await w.checkout(sha2);
    const env = { APHEX_WORKFLOW_NAME: running.metadata.name, APHEX_TOPOLOGY_HASH: H1 };
    const dry = await w.run(command, stageArgs(w, sha2, ["--dry-run"]), env);
    assert.equal(dry.code, 0, dry.err);
    const r = await w.run(command, stageArgs(w, sha2), env);
    assert.equal(r.code, 0, r.err);
    assert.equal(await w.output("superseded"), "true");
    const retry = await w.run(command, stageArgs(w, sha2), env);
    assert.equal(retry.code, 0, retry.err);

    // A new object (enabling pull requests adds the -validate template) is beyond the Role:
    // the stage fails with the API server's 403, names the verb, and writes nothing.
    await w.checkout(sha3);
    const before = w.api.writes().length;
    const denied = await w.run(command, stageArgs(w, sha3), {
      APHEX_WORKFLOW_NAME: resubmitWorkflowName("shop", { commitSha: sha2, topologyHash: H2 }),
    });
    assert.equal(denied.code, 1);
    assert.match(
      denied.err,
      /Forbidden \(403\): workflowtemplates\.argoproj\.io "shop-validate" is forbidden: .* cannot get resource "workflowtemplates"/,
    );
    assert.match(denied.err, /rbac\.yaml/);
    assert.equal(w.api.writes().length, before);
  });
});
