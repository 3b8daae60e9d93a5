/**
 * Least-privilege, namespaced RBAC for the pipeline:
 *
 * - the pipeline's ServiceAccount (its IRSA role, `pipeline.roleArn`, goes into the
 *   `eks.amazonaws.com/role-arn` annotation) and a Role letting its pods report step results
 *   (`workflowtaskresults`), read/patch only the pipeline's own WorkflowTemplates, and create/get
 *   Workflows (the self-update stage resubmits a run); in the events namespace, get/patch only the
 *   pipeline's own EventSource and Sensor;
 * - the Sensor's ServiceAccount (events namespace), allowed only to create Workflows in the
 *   pipeline namespace;
 * - when pull-request validation is enabled, its own ServiceAccount with only what Argo's executor
 *   needs: no AWS role, no deploy rights.
 *
 * No I/O happens in this module.
 * @module
 */
import type { AphexConfig } from "../models/config.ts";
import { IRSA_ANNOTATION, objectNames, standardLabels } from "./labels.ts";
import type { Manifest, PolicyRule, Role, RoleBinding, ServiceAccount } from "./types.ts";

/** Annotation documenting what to put into the IRSA annotation. */
export const IRSA_HELP_ANNOTATION = "aphex.dev/irsa";

const ARGO = "argoproj.io";

/** What Argo's executor needs in every pod: reporting step results. */
export const EXECUTOR_RULE: PolicyRule = {
  apiGroups: [ARGO],
  resources: ["workflowtaskresults"],
  verbs: ["create", "patch"],
};

function serviceAccount(
  config: AphexConfig,
  name: string,
  namespace: string,
  annotations?: Record<string, string>,
): ServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: {
      name,
      namespace,
      labels: standardLabels(config, "rbac"),
      ...(annotations ? { annotations } : {}),
    },
  };
}

function role(config: AphexConfig, name: string, namespace: string, rules: PolicyRule[]): Role {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name, namespace, labels: standardLabels(config, "rbac") },
    rules,
  };
}

function binding(
  config: AphexConfig,
  name: string,
  namespace: string,
  subject: { name: string; namespace: string },
): RoleBinding {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name, namespace, labels: standardLabels(config, "rbac") },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: [{ kind: "ServiceAccount", name: subject.name, namespace: subject.namespace }],
  };
}

/** Builds every RBAC object, grouped per service account (account, roles, bindings). */
export function buildRbac(config: AphexConfig): Manifest[] {
  const p = config.pipeline;
  const names = objectNames(config);
  const templates = [names.workflowTemplate];
  if (p.pullRequests.enabled) templates.push(names.validateTemplate);
  const pipelineSa = { name: p.serviceAccount, namespace: p.namespace };
  const out: Manifest[] = [
    // The IRSA role comes from `pipeline.roleArn`. Without it no role annotation is emitted at all
    // (an empty placeholder would fight, on every apply, with one set by hand).
    serviceAccount(
      config,
      p.serviceAccount,
      p.namespace,
      p.roleArn !== undefined ? { [IRSA_ANNOTATION]: p.roleArn } : {
        [IRSA_HELP_ANNOTATION]:
          "No IRSA role: set pipeline.roleArn in aphex-config.yaml to the IAM role your pipeline CDK stack creates.",
      },
    ),
    role(config, names.pipelineRole, p.namespace, [
      EXECUTOR_RULE,
      {
        apiGroups: [ARGO],
        resources: ["workflowtemplates"],
        resourceNames: templates,
        verbs: ["get", "patch"],
      },
      {
        apiGroups: [ARGO],
        resources: ["workflows"],
        // create/get: pipeline-update resubmits the run. Only with `executionMode: superseded`:
        // list (the deploy stage looks for a newer commit's run waiting on the mutex) and patch
        // (a superseded run stops itself with `spec.shutdown: Stop`, releasing the mutex; the
        // Workflow names are generated, so resourceNames cannot narrow it).
        verbs: p.executionMode === "superseded"
          ? ["create", "get", "list", "patch"]
          : ["create", "get"],
      },
    ]),
    binding(config, names.pipelineRole, p.namespace, pipelineSa),
  ];
  if (p.github !== undefined) {
    out.push(
      role(config, names.pipelineEventsRole, p.eventsNamespace, [
        {
          apiGroups: [ARGO],
          resources: ["eventsources"],
          resourceNames: [names.eventSource],
          verbs: ["get", "patch"],
        },
        {
          apiGroups: [ARGO],
          resources: ["sensors"],
          resourceNames: [names.sensor],
          verbs: ["get", "patch"],
        },
      ]),
      binding(config, names.pipelineEventsRole, p.eventsNamespace, pipelineSa),
      serviceAccount(config, names.sensorServiceAccount, p.eventsNamespace),
      role(config, names.sensorServiceAccount, p.namespace, [
        { apiGroups: [ARGO], resources: ["workflows"], verbs: ["create"] },
      ]),
      binding(config, names.sensorServiceAccount, p.namespace, {
        name: names.sensorServiceAccount,
        namespace: p.eventsNamespace,
      }),
    );
  }
  if (p.pullRequests.enabled) {
    const sa = { name: names.validateServiceAccount, namespace: p.namespace };
    out.push(
      serviceAccount(config, sa.name, sa.namespace),
      role(config, sa.name, p.namespace, [EXECUTOR_RULE]),
      binding(config, sa.name, p.namespace, sa),
    );
  }
  return out;
}
