import assert from "node:assert/strict";
import { configTable } from "../tests/generate_table.ts";
import { buildRbac, EXECUTOR_RULE } from "./rbac.ts";
import type { Manifest, Role, RoleBinding, ServiceAccount } from "./types.ts";

const TABLE = configTable();
const byKind = <T extends Manifest>(docs: Manifest[], kind: string) =>
  docs.filter((d) => d.kind === kind) as T[];

Deno.test("RBAC is namespaced and least privilege: no wildcards, no cluster roles, no secrets", () => {
  for (const [name, config] of Object.entries(TABLE)) {
    const docs = buildRbac(config);
    assert.deepEqual(
      [...new Set(docs.map((d) => d.kind))].sort(),
      ["Role", "RoleBinding", "ServiceAccount"],
      name,
    );
    for (const d of docs) {
      assert.ok(d.metadata.namespace, `${name}: ${d.kind} ${d.metadata.name} is namespaced`);
    }
    for (const role of byKind<Role>(docs, "Role")) {
      for (const rule of role.rules) {
        const all = [
          ...rule.apiGroups,
          ...rule.resources,
          ...rule.verbs,
          ...(rule.resourceNames ?? []),
        ];
        assert.ok(!all.includes("*"), `${name}: ${role.metadata.name} has a wildcard`);
        assert.ok(
          !rule.resources.includes("secrets"),
          `${name}: ${role.metadata.name} reads secrets`,
        );
        assert.ok(
          !rule.verbs.some((v) => ["delete", "deletecollection", "escalate", "bind"].includes(v)),
        );
      }
    }
    // Every binding points at a role of the same name in its namespace and at an existing account.
    const accounts = byKind<ServiceAccount>(docs, "ServiceAccount").map((s) =>
      `${s.metadata.namespace}/${s.metadata.name}`
    );
    for (const b of byKind<RoleBinding>(docs, "RoleBinding")) {
      assert.ok(
        byKind<Role>(docs, "Role").some((r) =>
          r.metadata.name === b.roleRef.name && r.metadata.namespace === b.metadata.namespace
        ),
      );
      for (const s of b.subjects) {
        assert.ok(accounts.includes(`${s.namespace}/${s.name}`), `${name}: ${s.name}`);
      }
    }
  }
});

Deno.test("RBAC grants: pipeline, sensor and PR-validation accounts", () => {
  const docs = buildRbac(TABLE["three-envs-approval-hooks"]!);
  const roles = Object.fromEntries(
    byKind<Role>(docs, "Role").map((r) => [`${r.metadata.namespace}/${r.metadata.name}`, r.rules]),
  );
  assert.deepEqual(roles["argo/shop-pipeline"], [
    EXECUTOR_RULE,
    {
      apiGroups: ["argoproj.io"],
      resources: ["workflowtemplates"],
      resourceNames: ["shop", "shop-validate"],
      verbs: ["get", "patch"],
    },
    { apiGroups: ["argoproj.io"], resources: ["workflows"], verbs: ["create", "get"] },
  ]);
  assert.deepEqual(
    roles["argo-events/shop-pipeline-events"]!.map((r) => [r.resources, r.resourceNames, r.verbs]),
    [
      [["eventsources"], ["shop"], ["get", "patch"]],
      [["sensors"], ["shop"], ["get", "patch"]],
    ],
  );
  // The Sensor (events namespace) may only create Workflows in the pipeline namespace.
  assert.deepEqual(roles["argo/shop-sensor"], [{
    apiGroups: ["argoproj.io"],
    resources: ["workflows"],
    verbs: ["create"],
  }]);
  const sensorBinding = byKind<RoleBinding>(docs, "RoleBinding").find((b) =>
    b.metadata.name === "shop-sensor"
  )!;
  assert.deepEqual(sensorBinding.subjects, [{
    kind: "ServiceAccount",
    name: "shop-sensor",
    namespace: "argo-events",
  }]);
  // PR validation: only what Argo's executor needs.
  assert.deepEqual(roles["argo/shop-validate"], [EXECUTOR_RULE]);
  const pipelineSa = byKind<ServiceAccount>(docs, "ServiceAccount").find((s) =>
    s.metadata.name === "shop-pipeline"
  )!;
  // No pipeline.roleArn: no IRSA annotation at all (an empty one would fight a hand-set value).
  assert.equal(pipelineSa.metadata.annotations?.["eks.amazonaws.com/role-arn"], undefined);
  assert.match(pipelineSa.metadata.annotations?.["aphex.dev/irsa"] ?? "", /set pipeline\.roleArn/);
  const withRole = structuredClone(TABLE["three-envs-approval-hooks"]!);
  withRole.pipeline.roleArn = "arn:aws:iam::123456789012:role/pipeline";
  const sa = byKind<ServiceAccount>(buildRbac(withRole), "ServiceAccount").find((s) =>
    s.metadata.name === "shop-pipeline"
  )!;
  assert.deepEqual(sa.metadata.annotations, {
    "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/pipeline",
  });
  const validateSa = byKind<ServiceAccount>(docs, "ServiceAccount").find((s) =>
    s.metadata.name === "shop-validate"
  )!;
  assert.equal(validateSa.metadata.annotations, undefined);
  const noPrs = buildRbac(TABLE["no-github"]!);
  assert.deepEqual(noPrs.map((d) => `${d.kind}/${d.metadata.name}`), [
    "ServiceAccount/shop-pipeline",
    "Role/shop-pipeline",
    "RoleBinding/shop-pipeline",
  ]);
});
