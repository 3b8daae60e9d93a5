/**
 * The option table and help of `aphex pipeline-update`, apart from the stage so that its `--help`
 * is printed without loading the stage and the SDKs it imports (issue 18).
 * @module
 */
import type { CommandSpec } from "../command/contract.ts";
import { STAGE_OPTIONS } from "../command/stage_runtime.ts";

/** `aphex pipeline-update`: name, help and options. */
export const spec: CommandSpec = {
  name: "pipeline-update",
  summary:
    "Deploy the pipeline stack, re-apply the pipeline's own manifests (server-side apply), resubmit on topology change",
  description:
    "Regenerates the WorkflowTemplate, EventSource and Sensor from the commit's aphex-config.yaml, " +
    "prints a diff against the cluster and applies what changed (field manager aphex). When the " +
    "topology changed, submits a new Workflow for the same commit from the updated template and " +
    "ends this run successfully (output parameter superseded=true). RBAC objects are only " +
    "applied by `aphex apply`. From a laptop: aphex pipeline-update --dry-run --workspace . " +
    "--kubeconfig ~/.kube/config",
  options: {
    ...STAGE_OPTIONS,
    "dry-run": {
      type: "boolean",
      description: "Print the diff; apply nothing, submit nothing, deploy nothing",
    },
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
    "topology-hash": {
      type: "string",
      description: "Topology hash of the template this run started from",
      env: "APHEX_TOPOLOGY_HASH",
      valueName: "HASH",
    },
    workflow: {
      type: "string",
      description: "Name of the running Workflow (set by the template; as report --workflow)",
      aliases: ["workflow-name"],
      env: "APHEX_WORKFLOW_NAME",
      valueName: "NAME",
    },
    json: { type: "boolean", description: "Print the result as JSON on stdout" },
  },
};
