/**
 * Aphex: a self-modifying AWS CDK deployment pipeline on Argo Workflows and Argo Events.
 *
 * As a library this module exports the I/O-free parts: configuration models and parser, the
 * data models of the pipeline's records, and (from `templates/`) the manifest generator.
 * Run as a program it is the `aphex` CLI:
 *
 * ```sh
 * deno run -A mod.ts validate --config aphex-config.yaml
 * ```
 * @module
 */
export * from "./models/config.ts";
export * from "./models/config_codec.ts";
export {
  closest,
  formatPath,
  MAX_ALIAS_COUNT,
  MAX_CONFIG_BYTES,
  parseConfig,
  type ParseConfigOptions,
  parseConfigOrThrow,
  type ParseConfigResult,
  type Segment,
} from "./models/config_parse.ts";
export * from "./models/errors.ts";
export * from "./models/event.ts";
export * from "./models/metadata.ts";
export * from "./models/results.ts";
export { type Codec, fromJsonText, toJsonText } from "./models/_codec.ts";
export {
  buildManifests,
  GENERATED_HEADER,
  type GeneratedFile,
  generateManifests,
  type GenerateOptions,
  MANIFEST_FILES,
  type ManifestFile,
  MAX_MANIFEST_BYTES,
} from "./templates/generate.ts";
export {
  buildValidateWorkflowTemplate,
  buildWorkflowTemplate,
  buildWorkflowTemplates,
  COMMIT_SHA_PARAMETER,
  REF_PARAMETER,
  TOPOLOGY_HASH_ANNOTATION,
} from "./templates/workflow_template.ts";
export { buildEventSource } from "./templates/event_source.ts";
export { buildSensor, workflowNamePrefix } from "./templates/sensor.ts";
export { buildRbac } from "./templates/rbac.ts";
export { GRAPH_FORMATS, type GraphFormat, renderGraph } from "./templates/graph.ts";
export {
  buildTopology,
  canonicalJson,
  hashTopology,
  type PipelineStep,
  pipelineSteps,
  type StepKind,
  type Topology,
  type TopologyEnvironment,
  topologyHash,
} from "./templates/topology.ts";
export { toYamlDocument, toYamlStream } from "./templates/yaml.ts";
export type * from "./templates/types.ts";

if (import.meta.main) {
  const { main } = await import("./cli/main.ts");
  const { processContext } = await import("./command/contract.ts");
  Deno.exit(await main(processContext(Deno.args)));
}
