/**
 * `aphex-config.yaml` text → {@linkcode AphexConfig}, or every problem at once, each located at
 * `file:line:col` with its path (`environments[1].account`).
 *
 * YAML is read by the `yaml` package with the YAML 1.2 core schema (`yes`, `0b11`, `2024-01-01`
 * stay strings; models/_config_yaml.ts). The value then goes through the schema and the semantic
 * checks; problems are placed in the source through the same parsed document, whose nodes keep
 * their offsets (models/_config_locate.ts).
 *
 * YAML traps become errors rather than silent changes: unquoted accounts (numbers, above all with a
 * leading zero), duplicate keys, merge keys, alias bombs and oversized input.
 * No I/O happens in this module.
 * @module
 */
import { validate } from "../schema/_validate_config.js";
import { type AphexConfig, applyDefaults, type RawAphexConfig } from "./config.ts";
import { AphexError, type ConfigIssue, ExitCode, formatIssue } from "./errors.ts";
import { closest } from "./suggest.ts";
import { findNode, locate } from "./_config_locate.ts";
import type { Problem } from "./_config_problem.ts";
import { schemaProblems } from "./_config_schema_problems.ts";
import { semanticProblems } from "./_config_semantics.ts";
import { loadYaml, readYaml } from "./_config_yaml.ts";
import { parseImageReference } from "./config_rules.ts";

export { closest };
export { formatPath } from "./_config_locate.ts";
export type { Segment } from "./_config_problem.ts";
export { MAX_ALIAS_COUNT, MAX_CONFIG_BYTES, MAX_EXPANDED_NODES } from "./_config_yaml.ts";

/** The outcome of {@linkcode parseConfig}. */
export type ParseConfigResult =
  | { ok: true; config: AphexConfig }
  | { ok: false; issues: ConfigIssue[] };

/** Options of {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** File name used in error locations (default `aphex-config.yaml`). */
  file?: string;
  /**
   * Whether a file exists, for `stacks[].path` and `pipeline.pipelineStack.path` (relative to the
   * repository root). Unset: paths are not checked (this module does no I/O; callers that know
   * the checkout pass a check).
   */
  pathExists?: (relativePath: string) => boolean;
}

/**
 * Parses and validates configuration text. Never throws for bad input: every problem is returned,
 * sorted by position.
 *
 * @example
 * ```ts
 * const result = parseConfig(text, { file: "aphex-config.yaml" });
 * if (!result.ok) for (const issue of result.issues) console.error(formatIssue(issue));
 * ```
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): ParseConfigResult {
  const file = options.file ?? "aphex-config.yaml";
  const { doc, value, problem } = loadYaml(text);
  if (problem) return { ok: false, issues: locate([problem], text, { file }) };
  // The schema, compiled ahead of time (tools/build_schema_validator.ts): no ajv at start-up.
  const problems = validate(value)
    ? semanticProblems(value as RawAphexConfig, options.pathExists)
    : schemaProblems(validate.errors ?? [], value);
  if (problems.length === 0) return { ok: true, config: applyDefaults(value as RawAphexConfig) };
  return { ok: false, issues: locate(problems, text, { file, ...(doc ? { doc } : {}) }) };
}

/**
 * Like {@linkcode parseConfig} but throws an {@linkcode AphexError} (exit code 2) listing every
 * problem, one `file:line:col: path: message` per line.
 */
export function parseConfigOrThrow(text: string, options: ParseConfigOptions = {}): AphexConfig {
  const result = parseConfig(text, options);
  if (result.ok) return result.config;
  const n = result.issues.length;
  const head = `${options.file ?? "aphex-config.yaml"}: ${n} configuration error${
    n === 1 ? "" : "s"
  }`;
  throw new AphexError([head, ...result.issues.map(formatIssue)].join("\n"), {
    exitCode: ExitCode.Usage,
    issues: result.issues,
  });
}

/**
 * Places problems found after parsing (by configuration path, e.g. limits of the generated
 * manifests) in the text, as `file:line:col` issues pointing at each node's key.
 */
export function locateProblems(
  text: string,
  problems: readonly { path: readonly (string | number)[]; message: string }[],
  options: ParseConfigOptions = {},
): ConfigIssue[] {
  return locate(
    problems.map((p) => ({ path: [...p.path], message: p.message, at: "key" as const })),
    text,
    { file: options.file ?? "aphex-config.yaml" },
  );
}

/**
 * Warnings about a valid configuration (nothing that stops it from being used), located like
 * errors: a `pipeline.image` with a tag but no digest (the tag can be repointed).
 */
export function configWarnings(
  text: string,
  config: AphexConfig,
  options: ParseConfigOptions = {},
): ConfigIssue[] {
  const ref = parseImageReference(config.pipeline.image);
  if (ref.digest !== undefined) return [];
  // Only an image the file names is warned about (not the default). The text is parsed again
  // only when it may name one, so a valid config without `image:` costs no second pass.
  if (!/image["']?\s*:/.test(text)) return [];
  const doc = readYaml(text);
  if (!findNode(doc, ["pipeline", "image"])?.complete) return [];
  const problems: Problem[] = [{
    path: ["pipeline", "image"],
    message: `tag ":${ref.tag}" without a digest: the tag can be repointed to another ` +
      `image; pin it as ${ref.name}:${ref.tag}@sha256:<digest>`,
  }];
  return locate(problems, text, { file: options.file ?? "aphex-config.yaml", doc });
}
