/**
 * The option table and help of `aphex apply`, apart from the command so that its `--help` is
 * printed without loading the Kubernetes client (issue 18).
 * @module
 */
import type { CommandSpec } from "../command/contract.ts";
import { DEFAULT_CONFIG_FILE } from "../command/config_file.ts";

/** `aphex apply`: name, help and options. */
export const spec: CommandSpec = {
  name: "apply",
  summary:
    "Bootstrap: apply the generated manifests to the cluster (server-side apply), print next steps",
  description:
    "Reads rbac.yaml, workflow-template.yaml, event-source.yaml and sensor.yaml from --dir, prints " +
    "a diff against the cluster and applies what changed (field manager aphex). Run it once as a " +
    "cluster admin (and again whenever rbac.yaml changes); afterwards the pipeline updates its own " +
    "WorkflowTemplate, EventSource and Sensor.",
  options: {
    dir: {
      type: "string",
      description: "Directory of the generated manifests",
      env: "APHEX_MANIFESTS_DIR",
      default: "manifests",
      valueName: "DIR",
    },
    "dry-run": { type: "boolean", description: "Print the diff; apply nothing" },
    kubeconfig: {
      type: "string",
      description:
        "Kubeconfig file (default: KUBECONFIG, the pod's service account, ~/.kube/config)",
      valueName: "FILE",
    },
    "force-conflicts": {
      type: "boolean",
      description: "Take over fields owned by other field managers (server-side apply force)",
    },
    config: {
      type: "string",
      description: "Configuration (read, if present, for the Argo UI URL of the next steps)",
      env: "APHEX_CONFIG",
      default: DEFAULT_CONFIG_FILE,
      valueName: "FILE",
    },
  },
};
