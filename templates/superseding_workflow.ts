/**
 * The Workflow that supersedes a run whose pipeline-update stage changed the pipeline's topology:
 * the same commit and ref, started from the updated WorkflowTemplate, labelled as resubmitted (the
 * loop guard reads the label) and named deterministically, so a retried step gets AlreadyExists
 * instead of starting a duplicate. Also the reverse: the arguments a running Workflow was started
 * with. No I/O happens in this module.
 * @module
 */
import type { AphexConfig } from "../models/config.ts";
import { workflowNamePrefix } from "./sensor.ts";
import type { WorkflowResource } from "./types.ts";
import {
  COMMIT_SHA_PARAMETER,
  LABEL_KEYS,
  REF_PARAMETER,
  TOPOLOGY_HASH_ANNOTATION,
} from "./workflow_template.ts";

/** Label marking a Workflow submitted by the self-update stage. */
export const RESUBMITTED_LABEL = "aphex.dev/resubmitted";
/** Label holding the commit a resubmitted Workflow runs. */
export const COMMIT_LABEL = "aphex.dev/commit-sha";
/** Annotation naming the Workflow a resubmitted one supersedes. */
export const SUPERSEDES_ANNOTATION = "aphex.dev/supersedes";

/**
 * Name of the Workflow that supersedes a run: `<pipeline prefix><first 31 hex of the commit>-<first
 * 8 hex of the new topology hash>` (at most 63 characters, like the Sensor's `<prefix><sha>`).
 * Deterministic, so a second attempt gets AlreadyExists instead of starting a duplicate.
 */
export function resubmitWorkflowName(
  pipeline: string,
  options: { commitSha: string; topologyHash: string },
): string {
  const { commitSha } = options;
  const hex = options.topologyHash.replace(/^sha256:/, "");
  return `${workflowNamePrefix(pipeline)}${commitSha.slice(0, 31)}-${hex.slice(0, 8)}`;
}

/** Builds the Workflow that re-runs `commitSha` from the updated template. */
export function supersedingWorkflow(
  config: AphexConfig,
  options: {
    commitSha: string;
    ref: string;
    topologyHash: string;
    template: string;
    supersedes?: string;
  },
): WorkflowResource {
  const p = config.pipeline;
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Workflow",
    metadata: {
      name: resubmitWorkflowName(p.name, options),
      namespace: p.namespace,
      labels: {
        [LABEL_KEYS.name]: p.name,
        [LABEL_KEYS.managedBy]: "aphex",
        [LABEL_KEYS.component]: "pipeline-run",
        [RESUBMITTED_LABEL]: "true",
        [COMMIT_LABEL]: options.commitSha,
      },
      annotations: {
        [TOPOLOGY_HASH_ANNOTATION]: options.topologyHash,
        ...(options.supersedes ? { [SUPERSEDES_ANNOTATION]: options.supersedes } : {}),
      },
    },
    spec: {
      workflowTemplateRef: { name: options.template },
      arguments: {
        parameters: [
          { name: COMMIT_SHA_PARAMETER, value: options.commitSha },
          { name: REF_PARAMETER, value: options.ref },
        ],
      },
    },
  };
}

/** The non-empty value of parameter `name` a Workflow (as read from the cluster) was started with. */
export function workflowParameter(
  workflow: { kind: string; spec?: unknown } | undefined,
  name: string,
): string | undefined {
  const spec = workflow?.spec as
    | { arguments?: { parameters?: { name?: string; value?: unknown }[] } }
    | undefined;
  const value = spec?.arguments?.parameters?.find((p) => p.name === name)?.value;
  return typeof value === "string" && value !== "" ? value : undefined;
}
