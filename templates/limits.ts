/**
 * The cheap part of what `aphex generate` refuses, for `aphex validate` to check without loading
 * the generator: a cluster pipeline needs a bucket, and below {@linkcode FULL_CHECK_FROM}
 * environments no generated manifest can reach Argo's or Kubernetes' size limits (a test keeps
 * that true), so only larger configurations are generated and measured (`pipelineProblems` in
 * generate.ts). No imports beyond the config types: it stays light at start-up.
 * @module
 */
import type { AphexConfig } from "../models/config.ts";

/** A configuration the generator cannot turn into manifests Argo and Kubernetes accept. */
export interface PipelineProblem {
  /** Path of the configuration node to blame, e.g. `["environments"]`. */
  path: (string | number)[];
  /** What is wrong and what fits. */
  message: string;
}

/**
 * From this many environments on, `validate` generates the manifests and measures them against
 * the 1 MiB object limit and the 200-item CRD caps; below it they cannot be reached.
 */
export const FULL_CHECK_FROM = 200;

/** Rules on the configuration itself that generating would enforce. */
export function clusterProblems(config: AphexConfig): PipelineProblem[] {
  const p = config.pipeline;
  if (p.github === undefined || p.artifactBucket !== undefined) return [];
  // Each step of a cluster run is a pod of its own with its own emptyDir workspace: without a
  // bucket, deploy and test would never see what build stored (the local store only serves
  // `aphex run --local`, where every stage shares one checkout).
  return [{
    path: ["pipeline"],
    message: "pipeline.artifactBucket is required when pipeline.github is set: every step of a " +
      "cluster run is its own pod with its own workspace, so deploy and test would never see " +
      "the build's artifacts (the local store serves only aphex run --local)",
  }];
}
