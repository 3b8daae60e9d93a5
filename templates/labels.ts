/**
 * Names and labels shared by the generated manifests. No I/O happens in this module.
 * @module
 */
import type { AphexConfig } from "../models/config.ts";

/** Label key of the application name. */
export const NAME_LABEL = "app.kubernetes.io/name";
/** Label key of the managing tool. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
/** Label key of the component. */
export const COMPONENT_LABEL = "app.kubernetes.io/component";
/** Annotation holding the topology hash on the WorkflowTemplate. */
export const TOPOLOGY_HASH_ANNOTATION = "aphex.dev/topology-hash";
/** Annotation of the IRSA role on a ServiceAccount. */
export const IRSA_ANNOTATION = "eks.amazonaws.com/role-arn";

/** Standard labels of every generated object. */
export function standardLabels(config: AphexConfig, component: string): Record<string, string> {
  return {
    [NAME_LABEL]: config.pipeline.name,
    [MANAGED_BY_LABEL]: "aphex",
    [COMPONENT_LABEL]: component,
  };
}

/** Names of every generated object, derived from `pipeline.name`. */
export function objectNames(config: AphexConfig): {
  workflowTemplate: string;
  validateTemplate: string;
  mutex: string;
  eventSource: string;
  eventName: string;
  sensor: string;
  pipelineRole: string;
  pipelineEventsRole: string;
  sensorServiceAccount: string;
  validateServiceAccount: string;
} {
  const name = config.pipeline.name;
  return {
    workflowTemplate: name,
    validateTemplate: `${name}-validate`,
    mutex: `aphex-${name}`,
    eventSource: name,
    eventName: "github",
    sensor: name,
    pipelineRole: `${name}-pipeline`,
    pipelineEventsRole: `${name}-pipeline-events`,
    sensorServiceAccount: `${name}-sensor`,
    validateServiceAccount: `${name}-validate`,
  };
}
