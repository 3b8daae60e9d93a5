/**
 * `aphex-config.yaml` text → {@linkcode AphexConfig}, or every problem at once, each located at
 * `file:line:col` with its path (`environments[1].account`).
 *
 * YAML traps become errors rather than silent changes: unquoted accounts (numbers, above all with a
 * leading zero), duplicate keys, merge keys, alias bombs and oversized input.
 * No I/O happens in this module.
 * @module
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import {
  type Document,
  isMap,
  isScalar,
  LineCounter,
  type Node,
  parseDocument,
  type ParsedNode,
  type Scalar,
} from "yaml";
import schema from "../schema/aphex-config.schema.json" with { type: "json" };
import { type AphexConfig, applyDefaults, type RawAphexConfig } from "./config.ts";
import { AphexError, type ConfigIssue, ExitCode, formatIssue } from "./errors.ts";

/** Largest configuration accepted, in bytes (a 2,000-environment config is about 5 MB). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** Most alias expansions accepted: anchors are fine, alias bombs are not. */
export const MAX_ALIAS_COUNT = 1000;

/** The outcome of {@linkcode parseConfig}. */
export type ParseConfigResult =
  | { ok: true; config: AphexConfig }
  | { ok: false; issues: ConfigIssue[] };

/** Options of {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** File name used in error locations (default `aphex-config.yaml`). */
  file?: string;
}

let validator: ValidateFunction | undefined;
function validate(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    ajv.addKeyword({ keyword: "x-error", schemaType: "string" });
    validator = ajv.compile(schema);
  }
  return validator;
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
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_CONFIG_BYTES) {
    return fail(file, 1, 1, `file is ${bytes} bytes; the limit is ${MAX_CONFIG_BYTES} bytes`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
    version: "1.2",
    schema: "core",
  });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  const yamlErrors = doc.errors.map((e): ConfigIssue => ({
    file,
    ...at(e.pos[0]),
    path: "",
    message: yamlMessage(e.code, e.message, text.slice(e.pos[0], e.pos[1])),
  }));
  if (yamlErrors.length) return { ok: false, issues: yamlErrors };
  if (doc.contents === null) return fail(file, 1, 1, "the file is empty");

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return fail(file, 1, 1, `YAML aliases expand too much (${message}); repeat the values instead`);
  }

  const issues: ConfigIssue[] = [];
  const check = validate();
  if (!check(value)) {
    const errors = check.errors ?? [];
    const wrongType = new Set(errors.filter((e) => e.keyword === "type").map((e) => e.instancePath));
    for (const error of errors) {
      if (error.keyword !== "type" && wrongType.has(error.instancePath)) continue;
      const issue = schemaIssue(error, doc, text);
      issues.push({ file, ...at(issue.offset), path: issue.path, message: issue.message });
    }
  } else {
    for (const s of semanticIssues(value as RawAphexConfig, doc)) {
      issues.push({ file, ...at(s.offset), path: s.path, message: s.message });
    }
  }
  if (issues.length) return { ok: false, issues: dedupe(issues) };
  return { ok: true, config: applyDefaults(value as RawAphexConfig) };
}

/**
 * Like {@linkcode parseConfig} but throws an {@linkcode AphexError} (exit code 2) listing every
 * problem, one `file:line:col: path: message` per line.
 */
export function parseConfigOrThrow(text: string, options: ParseConfigOptions = {}): AphexConfig {
  const result = parseConfig(text, options);
  if (result.ok) return result.config;
  const n = result.issues.length;
  const head = `${options.file ?? "aphex-config.yaml"}: ${n} configuration error${n === 1 ? "" : "s"}`;
  throw new AphexError([head, ...result.issues.map(formatIssue)].join("\n"), {
    exitCode: ExitCode.Usage,
    issues: result.issues,
  });
}

function fail(file: string, line: number, col: number, message: string): ParseConfigResult {
  return { ok: false, issues: [{ file, line, col, path: "", message }] };
}

function yamlMessage(code: string, message: string, source: string): string {
  if (code === "DUPLICATE_KEY") {
    return `duplicate key ${JSON.stringify(source)}: each key may appear only once in a mapping`;
  }
  return `invalid YAML: ${message.split("\n")[0]}`;
}

type Segment = string | number;

/** Turns `["environments", 1, "account"]` into `environments[1].account`. */
export function formatPath(segments: readonly Segment[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out ? `.${s}` : s;
  }
  return out;
}

function pointerSegments(pointer: string): Segment[] {
  if (!pointer) return [];
  return pointer.slice(1).split("/").map((raw) => {
    const s = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    return /^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s;
  });
}

function nodeAt(doc: Document, segments: readonly Segment[]): Node | undefined {
  const found = doc.getIn(segments, true);
  return found && typeof found === "object" && "range" in found ? found as Node : undefined;
}

function offsetOf(node: Node | undefined | null): number {
  return (node as ParsedNode | undefined)?.range?.[0] ?? 0;
}

/** The key node of `key` inside the mapping at `segments`. */
function keyOffset(doc: Document, segments: readonly Segment[], key: string): number {
  const parent = segments.length ? nodeAt(doc, segments) : doc.contents;
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && String(pair.key.value) === key) return offsetOf(pair.key);
    }
  }
  return offsetOf(parent as Node | undefined);
}

interface LocatedMessage {
  offset: number;
  path: string;
  message: string;
}

function schemaIssue(error: ErrorObject, doc: Document, text: string): LocatedMessage {
  const segments = pointerSegments(error.instancePath);
  const hint = (error.parentSchema as Record<string, unknown> | undefined)?.["x-error"];
  switch (error.keyword) {
    case "required": {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      const parent = segments.length ? nodeAt(doc, segments) : doc.contents;
      return {
        offset: offsetOf(parent as Node | undefined),
        path: formatPath([...segments, missing]),
        message: "is required",
      };
    }
    case "additionalProperties": {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys(
        ((error.parentSchema as { properties?: Record<string, unknown> }).properties) ?? {},
      );
      return {
        offset: keyOffset(doc, segments, key),
        path: formatPath([...segments, key]),
        message: unknownKeyMessage(key, allowed),
      };
    }
    case "type": {
      const node = nodeAt(doc, segments);
      const expected = String((error.params as { type: string | string[] }).type);
      let message = typeof hint === "string" ? hint : `must be ${article(expected)} ${expected}`;
      if (expected === "string" && isScalar(node) && node.type === "PLAIN") {
        const source = scalarSource(node, text);
        message += `; YAML read the unquoted ${source} as ${describe(node.value)}` +
          ` — quote it: "${source}"`;
      }
      return { offset: offsetOf(node), path: formatPath(segments), message };
    }
    default: {
      const node = nodeAt(doc, segments);
      let message = typeof hint === "string" ? hint : error.message ?? "is invalid";
      if (error.keyword === "const" && typeof hint !== "string") {
        message = `must be ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}`;
      }
      return { offset: offsetOf(node), path: formatPath(segments), message };
    }
  }
}

function scalarSource(node: Scalar, text: string): string {
  const range = (node as Scalar & { range?: [number, number, number] }).range;
  return range ? text.slice(range[0], range[1]) : String(node.value);
}

function describe(value: unknown): string {
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "boolean") return `the boolean ${value}`;
  if (value === null) return "null";
  return `a ${typeof value}`;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

function unknownKeyMessage(key: string, allowed: string[]): string {
  if (key === "<<") return "unknown key \"<<\": YAML merge keys are not supported; repeat the keys";
  const suggestion = closest(key, allowed);
  const known = allowed.length ? ` (known keys: ${allowed.join(", ")})` : "";
  return suggestion
    ? `unknown key "${key}"; did you mean "${suggestion}"?`
    : `unknown key "${key}"${known}`;
}

/** The allowed key nearest to `key` (edit distance ≤ 2, or one is a prefix of the other). */
export function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = key.toLowerCase();
  for (const candidate of allowed) {
    const c = candidate.toLowerCase();
    let d = editDistance(lower, c);
    if (d > 2 && (c.startsWith(lower) || lower.startsWith(c)) && Math.min(c.length, lower.length) >= 3) {
      d = 2;
    }
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= 2 ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

function semanticIssues(raw: RawAphexConfig, doc: Document): LocatedMessage[] {
  const issues: LocatedMessage[] = [];
  const at = (segments: Segment[]) => offsetOf(nodeAt(doc, segments));
  const seenEnv = new Map<string, number>();
  raw.environments.forEach((env, i) => {
    const first = seenEnv.get(env.name);
    if (first !== undefined) {
      issues.push({
        offset: at(["environments", i, "name"]),
        path: formatPath(["environments", i, "name"]),
        message: `duplicate environment name "${env.name}" (also environments[${first}].name)`,
      });
    } else seenEnv.set(env.name, i);
    const seenStack = new Map<string, number>();
    env.stacks.forEach((stack, j) => {
      const firstStack = seenStack.get(stack.name);
      if (firstStack !== undefined) {
        const path: Segment[] = ["environments", i, "stacks", j, "name"];
        issues.push({
          offset: at(path),
          path: formatPath(path),
          message: `duplicate stack name "${stack.name}" in environment "${env.name}" ` +
            `(also stacks[${firstStack}].name)`,
        });
      } else seenStack.set(stack.name, j);
    });
  });
  const p = raw.pipeline;
  if (p?.github && !p.webhook) {
    issues.push({
      offset: at(["pipeline", "github"]),
      path: "pipeline.webhook",
      message: "is required when pipeline.github is set (the public URL GitHub delivers webhooks to)",
    });
  }
  if (p?.pullRequests?.enabled && !p.github) {
    issues.push({
      offset: at(["pipeline", "pullRequests", "enabled"]),
      path: "pipeline.pullRequests.enabled",
      message: "needs pipeline.github (pull requests come from the GitHub repository)",
    });
  }
  return issues;
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}
