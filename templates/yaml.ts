/**
 * The one YAML serializer of generated manifests. Same objects → same bytes.
 *
 * - `apiVersion`, `kind`, `metadata`, `spec` come first; every other key keeps the insertion order
 *   of the typed builder that made the object.
 * - Block style only, no anchors or aliases, no line folding.
 * - Scalars are rendered by the `yaml` package (YAML 1.1 rules, `lineWidth: 0`), so strings that
 *   Kubernetes' YAML 1.1 reader would take for booleans or numbers (`yes`, `on`, `0777`, `12000`)
 *   are quoted; multi-line strings are emitted double-quoted.
 *
 * The block structure is written here rather than by `yaml`'s document model, which is several
 * times slower on a 1,000-environment template; the output is byte-identical to
 * {@linkcode referenceYamlDocument} (`yaml`'s `stringify` with the same options), which the tests
 * check. No I/O happens in this module.
 * @module
 */
import { stringify } from "yaml";

const FIRST_KEYS = ["apiVersion", "kind", "metadata", "spec"];

/** Options of `yaml`'s `stringify` that define the output format. */
export const YAML_OPTIONS = {
  version: "1.1",
  lineWidth: 0,
  minContentWidth: 0,
  aliasDuplicateObjects: false,
  indentSeq: true,
  sortMapEntries: false,
} as const;

/** Returns a copy of a top-level manifest with `apiVersion, kind, metadata, spec` first. */
export function orderManifestKeys<T extends object>(manifest: T): T {
  const source = manifest as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of FIRST_KEYS) if (key in source) out[key] = source[key];
  for (const [key, value] of Object.entries(source)) if (!(key in out)) out[key] = value;
  return out as T;
}

// Strings starting with a letter that YAML 1.1 (as the `yaml` package implements it) resolves to
// booleans, null or floats (`e5`); every other string matching SIMPLE is a plain string.
const SPECIAL = /^(y|yes|n|no|true|false|on|off|null|e-?[0-9]+)$/i;
const SIMPLE = /^[A-Za-z][A-Za-z0-9-]*$/;
const scalarCache = new Map<string, string>();

function stringScalar(text: string): string {
  if (SIMPLE.test(text) && !SPECIAL.test(text)) return text;
  if (text.includes("\n") || text.includes("\r")) return JSON.stringify(text);
  let out = scalarCache.get(text);
  if (out === undefined) {
    out = stringify(text, YAML_OPTIONS).replace(/\n$/, "");
    if (out.includes("\n")) out = JSON.stringify(text);
    if (scalarCache.size > 100_000) scalarCache.clear();
    scalarCache.set(text, out);
  }
  return out;
}

function scalar(value: unknown): string {
  if (typeof value === "string") return stringScalar(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`cannot serialize ${value}`);
    return String(value);
  }
  if (typeof value === "boolean") return String(value);
  if (value === null) return "null";
  throw new TypeError(`cannot serialize a ${typeof value}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function entries(map: Record<string, unknown>): [string, unknown][] {
  return Object.entries(map).filter(([, v]) => v !== undefined);
}

function isBlock(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : isObject(value) && entries(value).length > 0;
}

function inline(value: unknown): string {
  if (Array.isArray(value)) return "[]";
  if (isObject(value)) return "{}";
  return scalar(value);
}

function block(value: unknown, indent: string): string {
  return Array.isArray(value)
    ? seqBlock(value, indent)
    : mapBlock(value as Record<string, unknown>, indent);
}

function mapBlock(map: Record<string, unknown>, indent: string): string {
  let out = "";
  for (const [key, value] of entries(map)) {
    out += `${indent}${stringScalar(key)}:`;
    out += isBlock(value) ? `\n${block(value, `${indent}  `)}` : ` ${inline(value)}\n`;
  }
  return out;
}

function seqBlock(items: unknown[], indent: string): string {
  let out = "";
  for (const item of items) {
    if (item === undefined) throw new TypeError("cannot serialize undefined in a list");
    out += isBlock(item)
      ? `${indent}- ${block(item, `${indent}  `).slice(indent.length + 2)}`
      : `${indent}- ${inline(item)}\n`;
  }
  return out;
}

/** Serializes one manifest as a YAML document (ends with a newline). */
export function toYamlDocument(manifest: object): string {
  const ordered = orderManifestKeys(manifest);
  return isBlock(ordered) ? block(ordered, "") : `${inline(ordered)}\n`;
}

/** The same document rendered entirely by the `yaml` package (the reference for tests). */
export function referenceYamlDocument(manifest: object): string {
  return stringify(orderManifestKeys(manifest), YAML_OPTIONS);
}

/** A YAML comment block: each line of `text` prefixed with `# `, ending with a newline. */
export function yamlComment(text: string): string {
  return text.split("\n").map((l) => (l ? `# ${l}` : "#")).join("\n") + "\n";
}

/**
 * Serializes manifests as one multi-document YAML stream: each document starts with `---`,
 * optionally preceded by a comment header.
 */
export function toYamlStream(
  manifests: readonly object[],
  options: { header?: string } = {},
): string {
  const header = options.header === undefined ? "" : yamlComment(options.header);
  return header + manifests.map((m) => `---\n${toYamlDocument(m)}`).join("");
}
