/**
 * The name boundary: every generated Kubernetes object name derives from `pipeline.name`, and no
 * two generated objects of one kind and namespace share a name.
 *
 * Why: `kubectl apply` of two documents with one name keeps the last silently. A
 * `pipeline.serviceAccount` equal to `<name>-validate` would make pull-request pods (forks
 * included) run with the pipeline's Role; two pipelines sharing one service account would
 * overwrite each other's IRSA role annotation. `generate` refuses such a configuration (exit 2)
 * and names both sources.
 * @module
 */
import type { AphexConfig } from "../models/config.ts";
import { AphexError, ExitCode } from "../models/errors.ts";
import { COMPONENT_LABEL, objectNames } from "./labels.ts";
import type { Manifest } from "./types.ts";

/** Service-account names `generate` may emit, besides `pipeline.serviceAccount`. */
function generatedServiceAccounts(config: AphexConfig): { name: string; what: string }[] {
  const names = objectNames(config);
  return [
    { name: names.validateServiceAccount, what: "the pull-request validation service account" },
    { name: names.sensorServiceAccount, what: "the Sensor's service account" },
  ];
}

/** Problems with generated object names (empty when every name is unique). */
export function nameCollisions(
  config: AphexConfig,
  files: { file: string; documents: Manifest[] }[],
): string[] {
  const problems: string[] = [];
  const p = config.pipeline;
  for (const g of generatedServiceAccounts(config)) {
    if (p.serviceAccount === g.name) {
      problems.push(
        `pipeline.serviceAccount "${p.serviceAccount}" is the name of ${g.what} ` +
          `(generated from pipeline.name "${p.name}"): choose another name ` +
          `(default "${p.name}-pipeline")`,
      );
    }
  }
  const seen = new Map<string, string>();
  for (const { file, documents } of files) {
    documents.forEach((doc, i) => {
      const key = `${doc.kind} ${doc.metadata.namespace ?? ""}/${doc.metadata.name}`;
      const component = doc.metadata.labels?.[COMPONENT_LABEL];
      const source = `${file} document ${i + 1}${component ? ` (${component})` : ""}`;
      const first = seen.get(key);
      if (first === undefined) seen.set(key, source);
      else problems.push(`two generated objects are named ${key}: ${first} and ${source}`);
    });
  }
  return problems;
}

/** Throws a usage error (exit 2) listing every name collision. */
export function assertUniqueNames(
  config: AphexConfig,
  files: { file: string; documents: Manifest[] }[],
): void {
  const problems = nameCollisions(config, files);
  if (problems.length > 0) {
    throw new AphexError(`generated object names collide:\n  ${problems.join("\n  ")}`, {
      exitCode: ExitCode.Usage,
    });
  }
}
