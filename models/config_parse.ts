/**
 * `aphex-config.yaml` text → {@linkcode AphexConfig}, or every problem at once, each located at
 * `file:line:col` with its path (`environments[1].account`).
 *
 * YAML is read by js-yaml with the YAML 1.2 core schema (`yes`, `0b11`, `2024-01-01` stay strings).
 * Valid input takes the fast path (load → schema → semantic checks). Only when something is wrong
 * is the same text replayed through js-yaml's event stream to find where each problem is.
 *
 * YAML traps become errors rather than silent changes: unquoted accounts (numbers, above all with a
 * leading zero), duplicate keys, merge keys, alias bombs and oversized input.
 * No I/O happens in this module.
 * @module
 */
import { artifactsDirProblem } from "./_paths.ts";
import type { ErrorObject } from "ajv";
import { type Event, getScalarValue, load, parseEvents, YAMLException } from "js-yaml";
import { validate } from "../schema/_validate_config.js";
import { type AphexConfig, applyDefaults, type RawAphexConfig } from "./config.ts";
import { AphexError, type ConfigIssue, ExitCode, formatIssue } from "./errors.ts";
import { AWS_REGIONS } from "./aws_regions.ts";
import { closest } from "./suggest.ts";
import { waveProblems } from "./waves.ts";
import { approvalTimeoutProblem } from "./approval.ts";

export { closest };

/** Largest configuration accepted, in bytes (a 2,000-environment config is about 5 MB). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** Most alias nodes (`*name`) accepted in one document. */
export const MAX_ALIAS_COUNT = 1000;
/** Most nodes the document may expand to once aliases are followed (alias-bomb guard). */
export const MAX_EXPANDED_NODES = 5_000_000;

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

/** One step of a path into the configuration: a mapping key or a sequence index. */
export type Segment = string | number;

/** A problem before it is placed: a source offset (or a path to look up) and a message. */
interface Problem {
  path: Segment[];
  message: string;
  /** Where to point: the node at `path` (default), its key, or its parent mapping. */
  at?: "value" | "key" | "parent";
  /** A known source offset (YAML syntax errors). */
  offset?: number;
  /** Appends the "YAML read the unquoted …" hint when the node is a plain scalar. */
  unquotedHint?: boolean;
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
  const { value, problems } = check(text, options.pathExists);
  if (problems.length === 0) return { ok: true, config: applyDefaults(value as RawAphexConfig) };
  return { ok: false, issues: locate(problems, text, file) };
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
    options.file ?? "aphex-config.yaml",
  );
}

/** Loads the YAML and runs every check; problems are not yet located. */
function check(
  text: string,
  pathExists?: (relativePath: string) => boolean,
): { value?: unknown; problems: Problem[] } {
  const fail = (offset: number, message: string) => ({ problems: [{ path: [], offset, message }] });
  const bytes = text.length > MAX_CONFIG_BYTES / 3
    ? new TextEncoder().encode(text).length
    : text.length;
  if (bytes > MAX_CONFIG_BYTES) {
    return fail(0, `file is ${bytes} bytes; the limit is ${MAX_CONFIG_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = load(text, { maxAliases: MAX_ALIAS_COUNT });
  } catch (e) {
    if (!(e instanceof YAMLException)) throw e;
    const offset = e.mark?.position ?? 0;
    const quote = unclosedQuote(text, offset);
    if (quote) return { problems: [quote] };
    return fail(offset, yamlMessage(e.reason ?? e.message, text.slice(offset)));
  }
  if (value === undefined || value === null) return fail(0, "the file is empty");
  const nodes = expandedSize(value);
  if (nodes > MAX_EXPANDED_NODES) {
    return fail(
      0,
      `YAML aliases expand the document to ${nodes} nodes (limit ${MAX_EXPANDED_NODES}); repeat the values instead`,
    );
  }
  // The schema, compiled ahead of time (tools/build_schema_validator.ts): no ajv at start-up.
  if (!validate(value)) return { value, problems: schemaProblems(validate.errors ?? [], value) };
  return { value, problems: semanticProblems(value as RawAphexConfig, pathExists) };
}

function yamlMessage(reason: string, rest: string): string {
  if (reason.startsWith("duplicated mapping key")) {
    const key = /^("[^"\n]*"|'[^'\n]*'|[^:\n]*?)\s*:/.exec(rest)?.[1] ?? rest.split("\n")[0];
    return `duplicate key ${JSON.stringify(key)}: each key may appear only once in a mapping`;
  }
  if (reason.includes("the input is empty")) return "the file is empty";
  if (reason.startsWith("aliases exceeded maxAliases")) {
    return `more than ${MAX_ALIAS_COUNT} YAML aliases; repeat the values instead`;
  }
  return `invalid YAML: ${reason}`;
}

/** Node count of a value with aliases followed, computed without expanding them. */
function expandedSize(root: unknown): number {
  const memo = new Map<object, number>();
  const size = (v: unknown): number => {
    if (v === null || typeof v !== "object") return 1;
    const known = memo.get(v);
    if (known !== undefined) return known;
    memo.set(v, Infinity); // a cycle expands forever
    let n = 1;
    for (const child of Object.values(v)) n += size(child);
    memo.set(v, n);
    return n;
  };
  return size(root);
}

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

function schemaProblems(errors: ErrorObject[], root: unknown): Problem[] {
  // A node of the wrong type makes its other rule violations noise.
  const wrongType = new Set(errors.filter((e) => e.keyword === "type").map((e) => e.instancePath));
  const problems: Problem[] = [];
  for (const error of errors) {
    if (error.keyword !== "type" && wrongType.has(error.instancePath)) continue;
    const path = pointerSegments(error.instancePath);
    const parentSchema = error.parentSchema as
      | { "x-error"?: string; properties?: Record<string, unknown> }
      | undefined;
    const hint = parentSchema?.["x-error"];
    switch (error.keyword) {
      case "required": {
        const missing = (error.params as { missingProperty: string }).missingProperty;
        problems.push({ path: [...path, missing], at: "parent", message: "is required" });
        break;
      }
      case "additionalProperties": {
        const key = (error.params as { additionalProperty: string }).additionalProperty;
        const allowed = Object.keys(parentSchema?.properties ?? {});
        problems.push({
          path: [...path, key],
          at: "key",
          message: unknownKeyMessage(key, allowed),
        });
        break;
      }
      case "type": {
        const expected = String((error.params as { type: string | string[] }).type);
        const actual = valueAt(root, path);
        if (path.at(-1) === "commands" && typeof actual === "string") {
          problems.push({
            path,
            message: `must be a list of commands, not one string: write ${
              JSON.stringify([actual])
            } or one "- ${actual}" line per command`,
          });
          break;
        }
        problems.push({
          path,
          message: hint ?? `must be ${/^[aeiou]/.test(expected) ? "an" : "a"} ${expected}`,
          unquotedHint: expected === "string",
        });
        break;
      }
      case "const": {
        const allowed = (error.params as { allowedValue: unknown }).allowedValue;
        problems.push({ path, message: hint ?? `must be ${JSON.stringify(allowed)}` });
        break;
      }
      default:
        problems.push({ path, message: hint ?? error.message ?? "is invalid" });
    }
  }
  return problems;
}

function unknownKeyMessage(key: string, allowed: string[]): string {
  if (key === "<<") return 'unknown key "<<": YAML merge keys are not supported; repeat the keys';
  const suggestion = closest(key, allowed);
  if (suggestion) return `unknown key "${key}"; did you mean "${suggestion}"?`;
  return `unknown key "${key}"${allowed.length ? ` (known keys: ${allowed.join(", ")})` : ""}`;
}

function valueAt(root: unknown, path: readonly Segment[]): unknown {
  let node = root;
  for (const segment of path) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/**
 * After a YAML syntax error: the quoted scalar opened before the error that is never closed on
 * its line, if any. js-yaml reports such a quote where the string finally breaks the structure
 * (often lines later, as "deficient indentation"); the user's mistake is the opening quote.
 */
function unclosedQuote(text: string, errorOffset: number): Problem | undefined {
  const lineEnd = text.indexOf("\n", errorOffset);
  const lines = text.slice(0, lineEnd === -1 ? text.length : lineEnd).split("\n");
  let start = 0;
  for (const [n, line] of lines.entries()) {
    const open = openQuoteColumn(line);
    if (open !== undefined) {
      const kind = line[open] === '"' ? "double" : "single";
      const errorLine = lines.length;
      return {
        path: [],
        offset: start + open,
        message: `unclosed ${kind} quote: the string starting here is not closed on its line` +
          (errorLine > n + 1 ? ` (YAML read on to line ${errorLine})` : "") +
          `; add the closing ${line[open]}`,
      };
    }
    start += line.length + 1;
  }
  return undefined;
}

/** Column of a quote opening a scalar that its line does not close, else undefined. */
function openQuoteColumn(line: string): number | undefined {
  let i = 0;
  let atValueStart = true;
  while (i < line.length) {
    const c = line[i]!;
    if (atValueStart && (c === '"' || c === "'")) {
      let j = i + 1;
      for (; j < line.length; j++) {
        if (c === '"' && line[j] === "\\") j++;
        else if (line[j] === c) {
          if (c === "'" && line[j + 1] === "'") j++;
          else break;
        }
      }
      if (j >= line.length) return i;
      i = j + 1;
      atValueStart = false;
      continue;
    }
    if (c === "#" && (i === 0 || line[i - 1] === " ")) return undefined;
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    atValueStart = c === "-" || c === "[" || c === "{" || c === "," ||
      (c === ":" && (line[i + 1] === " " || i + 1 === line.length)) || c === "?";
    if (!atValueStart) {
      // Inside a plain scalar: a value can only start again after ": ", ", " or a bracket.
      while (i < line.length && !/[:,[\]{}#]/.test(line[i]!)) i++;
      continue;
    }
    i++;
  }
  return undefined;
}

function semanticProblems(
  raw: RawAphexConfig,
  pathExists?: (relativePath: string) => boolean,
): Problem[] {
  const problems: Problem[] = [];
  const firstEnv = new Map<string, number>();
  raw.environments.forEach((env, i) => {
    if (!AWS_REGIONS.includes(env.region)) {
      const suggestion = closest(env.region, AWS_REGIONS);
      problems.push({
        path: ["environments", i, "region"],
        message: `"${env.region}" is not an AWS region` +
          (suggestion ? `; did you mean "${suggestion}"?` : " (e.g. us-east-1, eu-central-2)"),
      });
    }
    if (pathExists) {
      env.stacks.forEach((stack, j) => {
        if (!pathExists(stack.path)) {
          problems.push({
            path: ["environments", i, "stacks", j, "path"],
            message: `${stack.path}: no such file in the repository (paths are relative to the ` +
              "repository root)",
          });
        }
      });
    }
    const first = firstEnv.get(env.name);
    if (first === undefined) firstEnv.set(env.name, i);
    else {
      problems.push({
        path: ["environments", i, "name"],
        message: `duplicate environment name "${env.name}" (also environments[${first}].name)`,
      });
    }
    const firstStack = new Map<string, number>();
    env.stacks.forEach((stack, j) => {
      const other = firstStack.get(stack.name);
      if (other === undefined) firstStack.set(stack.name, j);
      else {
        problems.push({
          path: ["environments", i, "stacks", j, "name"],
          message:
            `duplicate stack name "${stack.name}" in environment "${env.name}" (also stacks[${other}].name)`,
        });
      }
    });
  });
  // Waves (models/waves.ts): each wave's environments are listed together.
  raw.environments.forEach((env, i) => {
    const problem = env.approvalTimeout === undefined
      ? undefined
      : approvalTimeoutProblem(env.approvalTimeout);
    if (problem) problems.push({ path: ["environments", i, "approvalTimeout"], message: problem });
  });
  for (const [i, message] of waveProblems(raw.environments)) {
    problems.push({ path: ["environments", i, "wave"], message });
  }
  problems.push(...commandProblems(raw));
  // Workspace boundary rule of build.artifacts (models/_paths.ts; enforced again at run time).
  const artifacts = raw.build?.artifacts;
  if (typeof artifacts === "string") {
    const problem = artifactsDirProblem(artifacts);
    if (problem) problems.push({ path: ["build", "artifacts"], message: problem });
  }
  const p = raw.pipeline;
  if (p?.image !== undefined) {
    const message = imageProblem(p.image);
    if (message !== undefined) problems.push({ path: ["pipeline", "image"], message });
  }
  const pipelineStackPath = p?.pipelineStack?.path;
  if (pathExists && pipelineStackPath && !pathExists(pipelineStackPath)) {
    problems.push({
      path: ["pipeline", "pipelineStack", "path"],
      message: `${pipelineStackPath}: no such file in the repository (paths are relative to the ` +
        "repository root)",
    });
  }
  if (p?.github && !p.webhook) {
    problems.push({
      path: ["pipeline", "webhook"],
      at: "parent",
      message:
        "is required when pipeline.github is set (the public URL GitHub delivers webhooks to)",
    });
  }
  if (p?.pullRequests?.enabled && !p.github) {
    problems.push({
      path: ["pipeline", "pullRequests", "enabled"],
      message: "needs pipeline.github (pull requests come from the GitHub repository)",
    });
  }
  return problems;
}

/**
 * Control characters a command may not contain: every C0 control but tab, line feed and carriage
 * return (multi-line commands are YAML block scalars), and DEL. A NUL cannot even reach bash
 * ("nul byte found"); the others are invisible in review and in logs.
 */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const COMMAND_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Why a command is refused, if it is: a control character, or a first word starting with `-`. */
export function commandProblem(command: string): string | undefined {
  const control = COMMAND_CONTROL.exec(command);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).padStart(4, "0");
    return `must not contain control characters (found U+${code.toUpperCase()} at character ` +
      `${control.index + 1}); remove it`;
  }
  if (command.trimStart().startsWith("-")) {
    return "must not start with '-' (bash would read it as an option, not a command)";
  }
  return undefined;
}

/** Every build, hook and test command, with its path in the configuration. */
function commandProblems(raw: RawAphexConfig): Problem[] {
  const lists: [Segment[], readonly string[] | undefined][] = [
    [["build", "commands"], raw.build.commands],
  ];
  raw.environments.forEach((env, i) => {
    lists.push([["environments", i, "hooks", "preDeploy"], env.hooks?.preDeploy]);
    lists.push([["environments", i, "hooks", "postDeploy"], env.hooks?.postDeploy]);
    lists.push([["environments", i, "tests", "commands"], env.tests?.commands]);
  });
  const problems: Problem[] = [];
  for (const [path, commands] of lists) {
    commands?.forEach((command, j) => {
      const message = commandProblem(command);
      if (message !== undefined) problems.push({ path: [...path, j], message });
    });
  }
  return problems;
}

/** A container image reference split into its parts. */
export interface ImageReference {
  /** Repository, registry included (`ghcr.io/aphex-dev/aphex`). */
  name: string;
  /** Tag, if any (`0.1.0`). */
  tag?: string;
  /** Digest, if any (`sha256:…`). */
  digest?: string;
}

/** Splits `registry[:port]/name[:tag][@digest]`; the tag is after the last `/`. */
export function parseImageReference(image: string): ImageReference {
  const at = image.indexOf("@");
  const withoutDigest = at === -1 ? image : image.slice(0, at);
  const colon = withoutDigest.lastIndexOf(":");
  const hasTag = colon > withoutDigest.lastIndexOf("/");
  const ref: ImageReference = { name: hasTag ? withoutDigest.slice(0, colon) : withoutDigest };
  if (hasTag) ref.tag = withoutDigest.slice(colon + 1);
  if (at !== -1) ref.digest = image.slice(at + 1);
  return ref;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Why `pipeline.image` is refused, if it is. A run must execute the image it was generated for:
 * no tag means `latest`, and `latest` (like any tag) can be repointed at any time; a digest pins it.
 */
export function imageProblem(image: string): string | undefined {
  const ref = parseImageReference(image);
  if (ref.digest !== undefined && !DIGEST.test(ref.digest)) {
    return `digest "${ref.digest}" must be sha256: followed by 64 lowercase hex digits`;
  }
  if (ref.tag === "") return "must not end with ':'; give a version tag such as :1.2.3";
  if (ref.digest !== undefined) return undefined;
  if (ref.tag === undefined) {
    return "needs a version tag, preferably with a digest (name:1.2.3@sha256:…); without one " +
      "every run pulls whatever 'latest' points at that day";
  }
  if (ref.tag === "latest") {
    return "must not use the tag 'latest' (it moves); pin a version tag, preferably with a " +
      "digest (name:1.2.3@sha256:…)";
  }
  return undefined;
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
  // Only an image the file names is warned about (not the default). The text is replayed only
  // when it may name one, so a valid config without `image:` costs no second pass.
  if (!/image["']?\s*:/.test(text)) return [];
  const index = indexNodes(text);
  if (!index.has("pipeline.image")) return [];
  const problems: Problem[] = [{
    path: ["pipeline", "image"],
    message: `tag ":${ref.tag}" without a digest: the tag can be repointed to another ` +
      `image; pin it as ${ref.name}:${ref.tag}@sha256:<digest>`,
  }];
  return locate(problems, text, options.file ?? "aphex-config.yaml", index);
}

// --- locating problems in the source -----------------------------------------------------------

interface NodeInfo {
  /** Offset of the node (the opening quote for quoted scalars). */
  offset: number;
  /** Offset of the key when the node is a mapping value. */
  keyOffset?: number;
  /** Source text of a plain scalar, for the unquoted-value hint. */
  plain?: string;
}

/** Replays the event stream once and records where every node (and its key) starts. */
function indexNodes(text: string): Map<string, NodeInfo> {
  const index = new Map<string, NodeInfo>();
  let events: Event[];
  try {
    events = parseEvents(text, {});
  } catch {
    return index; // syntax errors carry their own offsets
  }
  interface Frame {
    kind: "map" | "seq" | "skip";
    path: Segment[];
    next: number;
    key?: string;
    keyOffset?: number;
    expectKey: boolean;
  }
  const stack: Frame[] = [];
  const start = (e: Event): number => {
    if (e.type === 4) return e.style === 2 || e.style === 3 ? e.valueStart - 1 : e.valueStart;
    if (e.type === 2 || e.type === 3) return e.start;
    if (e.type === 5) return e.anchorStart - 1;
    return 0;
  };
  for (const e of events) {
    if (e.type === 1) continue;
    if (e.type === 6) {
      stack.pop();
      continue;
    }
    const frame = stack[stack.length - 1];
    let path: Segment[] | undefined;
    let keyOffset: number | undefined;
    if (frame === undefined) path = [];
    else if (frame.kind === "map" && frame.expectKey) {
      frame.key = e.type === 4 ? getScalarValue(text, e) : undefined;
      frame.keyOffset = start(e);
      frame.expectKey = false;
      if (e.type === 2 || e.type === 3) {
        stack.push({ kind: "skip", path: [], next: 0, expectKey: false });
      }
      continue;
    } else if (frame.kind === "map") {
      frame.expectKey = true;
      if (frame.key !== undefined) path = [...frame.path, frame.key];
      keyOffset = frame.keyOffset;
    } else if (frame.kind === "seq") path = [...frame.path, frame.next++];
    if (path !== undefined) {
      const info: NodeInfo = { offset: start(e) };
      if (keyOffset !== undefined) info.keyOffset = keyOffset;
      if (e.type === 4 && e.style === 1) info.plain = text.slice(e.valueStart, e.valueEnd);
      index.set(formatPath(path), info);
    }
    if (e.type === 2 || e.type === 3) {
      stack.push({
        kind: path === undefined ? "skip" : e.type === 3 ? "map" : "seq",
        path: path ?? [],
        next: 0,
        expectKey: true,
      });
    }
  }
  return index;
}

function locate(
  problems: Problem[],
  text: string,
  file: string,
  known?: Map<string, NodeInfo>,
): ConfigIssue[] {
  const index = known ??
    (problems.some((p) => p.offset === undefined) ? indexNodes(text) : new Map<string, NodeInfo>());
  const lineStarts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lineStarts.push(i + 1);
  const position = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - lineStarts[lo]! + 1 };
  };
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const p of problems) {
    const path = formatPath(p.path);
    let offset = p.offset;
    let message = p.message;
    if (offset === undefined) {
      const at = p.at ?? "value";
      if (at === "parent") offset = index.get(formatPath(p.path.slice(0, -1)))?.offset ?? 0;
      else {
        const node = index.get(path);
        offset = (at === "key" ? node?.keyOffset : node?.offset) ?? 0;
        if (p.unquotedHint && node?.plain !== undefined) {
          const read = load(node.plain);
          const as = typeof read === "number"
            ? `the number ${read}`
            : typeof read === "boolean"
            ? `the boolean ${read}`
            : "null";
          message += `; YAML read the unquoted ${node.plain} as ${as} — quote it: "${node.plain}"`;
        }
      }
    }
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ file, ...position(offset), path, message });
  }
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}
