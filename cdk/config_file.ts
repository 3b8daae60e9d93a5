/**
 * Reads `aphex-config.yaml` for `AphexPipelineResources`: the parsed, validated
 * configuration (the same parser as `aphex validate`) and the Kubernetes objects `aphex generate`
 * would write for it (for its `manifests` prop).
 *
 * Separate from `cdk/pipeline_resources.ts` so that the construct itself depends only on
 * `aws-cdk-lib` and `constructs`.
 * @module
 */
import { readFile } from "node:fs/promises";
import type { AphexConfig } from "../models/config.ts";
import { parseConfigOrThrow } from "../models/config_parse.ts";
import { generateManifests } from "../templates/generate.ts";

/** What {@linkcode loadPipelineConfig} returns. */
export interface PipelineConfigFile {
  /** The configuration, defaults applied. */
  config: AphexConfig;
  /** Every object of the generated manifests (RBAC included), in file order. */
  manifests: Record<string, unknown>[];
}

/**
 * Reads and validates an `aphex-config.yaml` and generates its manifests, for
 * `AphexPipelineResources`' `config` and `manifests` props.
 *
 * @throws {AphexError} (exit 2) when the file is not a valid configuration.
 */
export async function loadPipelineConfig(path: string): Promise<PipelineConfigFile> {
  const config = parseConfigOrThrow(await readFile(path, "utf8"), { file: path });
  const manifests = generateManifests(config).flatMap((f) =>
    f.documents.map((d) => structuredClone(d) as unknown as Record<string, unknown>)
  );
  return { config, manifests };
}
