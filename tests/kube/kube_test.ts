/** Unit and property tests of the Kubernetes adapter (`adapters/kubernetes/client.ts`). */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ApiException } from "@kubernetes/client-node";
import {
  createKubeClient,
  KubeApiError,
  type KubeObject,
  loadKubeConfig,
  toKubeError,
} from "../../adapters/kubernetes/client.ts";
import { fieldTreeOfFieldsV1, planObject } from "../../adapters/kubernetes/apply.ts";
import { canonicalJson } from "../../templates/topology.ts";
import { fieldsV1Of, startFakeApiServer } from "./_fake_api.ts";

function desired(labels: Record<string, string>, spec: unknown = { a: [1, 2], b: { c: "x" } }) {
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Sensor",
    metadata: { name: "s", namespace: "ev", labels },
    spec,
  } as KubeObject;
}

/** What a real server returns after `aphex` applied `applied`, plus foreign and server fields. */
function liveAfterApply(applied: KubeObject, extra: Record<string, string> = {}): KubeObject {
  const live = structuredClone(applied) as KubeObject;
  live.metadata.annotations = { ...extra };
  live.metadata.uid = "u-1";
  live.metadata.resourceVersion = "42";
  live.metadata.generation = 3;
  live.metadata.creationTimestamp = "2026-01-01T00:00:00Z";
  live.metadata.managedFields = [
    { manager: "aphex", operation: "Apply", fieldsV1: fieldsV1Of(applied as never) },
    ...(Object.keys(extra).length
      ? [{
        manager: "kubectl-annotate",
        operation: "Update",
        fieldsV1: { "f:metadata": { "f:annotations": {} } },
      }]
      : []),
  ];
  live.status = { phase: "Running" };
  return live;
}

Deno.test("planObject ignores server-populated fields, status and other managers' fields", () => {
  const d = desired({ app: "shop" });
  const plan = planObject(d, liveAfterApply(d, { "note": "set by hand" }));
  assert.equal(plan.action, "unchanged");
  assert.equal(plan.diff, "");
});

Deno.test("planObject shows a field aphex owned and no longer sets as a removal", () => {
  const before = desired({ app: "shop", tier: "ci" });
  const after = desired({ app: "shop" });
  const plan = planObject(after, liveAfterApply(before));
  assert.equal(plan.action, "update");
  assert.match(plan.diff, /^-\s+tier: ci$/m);
  assert.doesNotMatch(plan.diff, /^[-+]\s+app: shop$/m);
});

Deno.test("planObject: missing object is a create; unowned equal object is taken over", () => {
  const d = desired({ app: "shop" });
  assert.equal(planObject(d, undefined).action, "create");
  const unowned = liveAfterApply(d);
  unowned.metadata.managedFields = [{ manager: "kubectl", operation: "Update", fieldsV1: {} }];
  const plan = planObject(d, unowned);
  assert.equal(plan.action, "update");
  assert.match(plan.note ?? "", /takes ownership/);
});

Deno.test("property: planObject(d2, live(d1)) is unchanged exactly when d1 and d2 are equal", () => {
  const labels = fc.dictionary(
    fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/),
    fc.stringMatching(/^[a-z0-9]{0,8}$/),
    { maxKeys: 4 },
  );
  const spec = fc.record({
    a: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
    b: fc.dictionary(fc.constantFrom("c", "d", "e"), fc.constantFrom("x", "y")),
  });
  fc.assert(
    fc.property(labels, spec, labels, spec, (l1, s1, l2, s2) => {
      const d1 = desired(l1, s1);
      const d2 = desired(l2, s2);
      const plan = planObject(d2, liveAfterApply(d1, { foreign: "v" }));
      const same = canonicalJson(d1) === canonicalJson(d2);
      assert.equal(plan.action === "unchanged", same);
      assert.equal(plan.diff === "", same);
    }),
    { numRuns: 300 },
  );
});

Deno.test("fieldTreeOfFieldsV1: lists addressed by key/value/index are one leaf", () => {
  assert.deepEqual(
    fieldTreeOfFieldsV1({
      "f:metadata": { "f:labels": { ".": {}, "f:a": {} } },
      "f:spec": { "f:containers": { 'k:{"name":"main"}': { "f:image": {} } }, "f:x": {} },
    }),
    { metadata: { labels: { a: true } }, spec: { containers: true, x: true } },
  );
});

Deno.test("toKubeError: 409 conflict causes, AlreadyExists, Forbidden, unreachable", () => {
  const body = JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    reason: "Conflict",
    code: 409,
    message: "Apply failed with 2 conflicts: ...",
    details: {
      causes: [
        {
          reason: "FieldManagerConflict",
          message: 'conflict with "helm" using v1',
          field: ".spec.a",
        },
        {
          reason: "FieldManagerConflict",
          message: 'conflict with "kubectl-edit" using v1',
          field: ".metadata.labels.x",
        },
      ],
    },
  });
  const conflict = toKubeError(new ApiException(409, "Conflict", body, {}), {
    what: "applying X",
    server: "s",
  });
  assert.equal(conflict.exitCode, 1);
  assert.deepEqual(conflict.conflicts, [
    { field: ".spec.a", manager: "helm" },
    { field: ".metadata.labels.x", manager: "kubectl-edit" },
  ]);
  assert.match(conflict.message, /- \.spec\.a \(owned by "helm"\)/);
  assert.match(conflict.message, /--force-conflicts/);

  const exists = toKubeError(
    new ApiException(
      409,
      "x",
      JSON.stringify({ reason: "AlreadyExists", code: 409, message: "m" }),
      {},
    ),
    { what: "creating W", server: "s" },
  );
  assert.equal(exists.reason, "AlreadyExists");
  assert.deepEqual(exists.conflicts, []);

  const forbidden = toKubeError(
    new ApiException(403, "x", { reason: "Forbidden", code: 403, message: "cannot patch" }, {}),
    { what: "applying Y", server: "s" },
  );
  assert.match(forbidden.message, /Forbidden \(403\): cannot patch/);
  assert.match(forbidden.message, /rbac\.yaml/);

  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
    code: "ECONNREFUSED",
  });
  const down = toKubeError(
    new TypeError("fetch failed", { cause: refused }),
    { what: "reading Z", server: "https://k" },
  );
  assert.equal(down.status, undefined);
  assert.match(
    down.message,
    /reading Z: cannot reach the Kubernetes API server at https:\/\/k: ECONNREFUSED/,
  );
});

Deno.test("loadKubeConfig: --kubeconfig, then KUBECONFIG (first existing), then ~/.kube/config", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-kubeconfig-" });
  try {
    const write = async (path: string, server: string) => {
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(
        path,
        `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${server}"}}]\n` +
          `users: [{name: u, user: {token: t}}]\n` +
          `contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
      );
    };
    await write(`${root}/flag.yaml`, "https://flag.example");
    await write(`${root}/env.yaml`, "https://env.example");
    await write(`${root}/home/.kube/config`, "https://home.example");
    const server = async (o: Parameters<typeof loadKubeConfig>[0]) =>
      (await loadKubeConfig({ ...o, serviceAccountToken: `${root}/none` })).getCurrentCluster()
        ?.server;
    const env = { KUBECONFIG: `${root}/missing.yaml:${root}/env.yaml`, HOME: `${root}/home` };
    assert.equal(await server({ kubeconfig: "flag.yaml", env, cwd: root }), "https://flag.example");
    assert.equal(await server({ env, cwd: root }), "https://env.example");
    assert.equal(
      await server({ env: { HOME: `${root}/home` }, cwd: root }),
      "https://home.example",
    );
    await assert.rejects(
      loadKubeConfig({ env: { HOME: `${root}/nohome` }, cwd: root }),
      (e: Error & { exitCode?: number }) =>
        e.exitCode === 2 && /no Kubernetes configuration found/.test(e.message),
    );
    await assert.rejects(
      loadKubeConfig({ kubeconfig: "nope.yaml", env: {}, cwd: root }),
      (e: Error & { exitCode?: number }) => e.exitCode === 2 && /no such file/.test(e.message),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createKubeClient: a black-holed API server fails after the request timeout", async () => {
  const api = startFakeApiServer();
  const root = await Deno.makeTempDir({ prefix: "aphex-kube-hang-" });
  try {
    api.hang = true;
    const kc = await loadKubeConfig({
      kubeconfig: await api.writeKubeconfig(root),
      env: {},
      cwd: root,
    });
    const client = createKubeClient(kc, { requestTimeoutMs: 200 });
    const started = performance.now();
    await assert.rejects(
      client.get({
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Sensor",
        name: "s",
        namespace: "ev",
      }),
      (e: KubeApiError) =>
        e instanceof KubeApiError && e.exitCode === 1 &&
        new RegExp(`cannot reach the Kubernetes API server at ${api.url}: no answer in time`).test(
          e.message,
        ),
    );
    assert.ok(performance.now() - started < 5000);
    // Under load the timer may fire before the request reaches the server; never more than one.
    assert.ok(api.requests.length <= 1, "the discovery request was abandoned, not retried");
  } finally {
    await api.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createKubeClient: kinds the API server does not serve are reported as missing CRDs", async () => {
  const api = startFakeApiServer();
  const root = await Deno.makeTempDir({ prefix: "aphex-kube-crd-" });
  try {
    const kc = await loadKubeConfig({
      kubeconfig: await api.writeKubeconfig(root),
      env: {},
      cwd: root,
    });
    const client = createKubeClient(kc);
    const missingGroup = {
      apiVersion: "example.com/v1",
      kind: "Widget",
      name: "w",
      namespace: "n",
    };
    await assert.rejects(
      client.get(missingGroup),
      /reading Widget n\/w: the API server does not serve example\.com\/v1\/Widget \(404\); is its CRD installed/,
    );
    const missingKind = {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Rollout",
      name: "r",
      namespace: "n",
    };
    await assert.rejects(client.get(missingKind), /does not serve this kind .*Rollout/);
    // A missing object (not a missing kind) is simply absent.
    assert.equal(
      await client.get({
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Sensor",
        name: "s",
        namespace: "n",
      }),
      undefined,
    );
  } finally {
    await api.close();
    await Deno.remove(root, { recursive: true });
  }
});
