/**
 * Places configuration problems in the YAML source. A problem names a path into the configuration
 * (`environments[1].account`); the path is followed through the `yaml` document, whose nodes keep
 * their source offsets, to the node (or its key, or its parent mapping), and the offset becomes a
 * `file:line:col` issue. No I/O happens in this module.
 * @module
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type Node } from "yaml";
import type { ConfigIssue } from "./errors.ts";
import { readYaml } from "./_config_yaml.ts";
import type { Problem, Segment } from "./_config_problem.ts";

/** Turns `["environments", 1, "account"]` into `environments[1].account`. */
export function formatPath(segments: readonly Segment[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out ? `.${s}` : s;
  }
  return out;
}

/** The node a path leads to in a document, and the key it is the value of. */
export interface FoundNode {
  /** The node at the path (none for a key without a value), or the alias the path went through. */
  node?: Node;
  /** The key of the node when it is a mapping value. */
  key?: Node;
  /** False when an alias was met before the end of the path (`node` is that alias). */
  complete: boolean;
}

/**
 * Follows a path from the document's root. A path that goes through an alias stops there: what
 * lies below is written at the anchor, but the alias is where this value is used.
 */
export function findNode(doc: Document, path: readonly Segment[]): FoundNode | undefined {
  let node = doc.contents as Node | null;
  let key: Node | undefined;
  for (const segment of path) {
    if (node === null) return undefined;
    if (isAlias(node)) return { node, complete: false };
    if (isMap(node)) {
      const name = String(segment);
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === name);
      if (pair === undefined) return undefined;
      key = pair.key as Node;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof segment === "number") {
      key = undefined;
      node = (node.items[segment] as Node | undefined) ?? null;
    } else return undefined;
  }
  if (node === null && key === undefined) return undefined;
  return { ...(node === null ? {} : { node }), ...(key ? { key } : {}), complete: true };
}

/** Options of {@linkcode locate}. */
export interface LocateOptions {
  /** File name used in the issues. */
  file: string;
  /** The document of `text`, when the caller has it (otherwise it is read when needed). */
  doc?: Document;
}

/**
 * Places every problem in `text` and returns the issues sorted by position, the same path and
 * message reported once.
 */
export function locate(
  problems: readonly Problem[],
  text: string,
  options: LocateOptions,
): ConfigIssue[] {
  let doc = options.doc;
  if (doc === undefined && problems.some((p) => p.offset === undefined)) doc = readYaml(text);
  const position = linePosition(text);
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const p of problems) {
    const path = formatPath(p.path);
    let offset = p.offset;
    let message = p.message;
    if (offset === undefined && doc !== undefined) {
      const at = p.at ?? "value";
      const found = findNode(doc, at === "parent" ? p.path.slice(0, -1) : p.path);
      const node = at === "key" ? found?.key ?? found?.node : found?.node ?? found?.key;
      offset = node?.range?.[0];
      if (p.unquotedHint && found?.complete && found.node) {
        message += unquotedHint(found.node, text);
      }
    }
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ file: options.file, ...position(offset ?? 0), path, message });
  }
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** `; YAML read the unquoted 0123 as the number 123 — quote it: "0123"` for a plain scalar. */
function unquotedHint(node: Node, text: string): string {
  if (!isScalar(node) || node.type !== "PLAIN" || !node.range) return "";
  const source = text.slice(node.range[0], node.range[1]);
  if (source === "") return "; the value is empty";
  const read = node.value;
  const as = typeof read === "number"
    ? `the number ${read}`
    : typeof read === "boolean"
    ? `the boolean ${read}`
    : read === null
    ? "null"
    : undefined;
  return as === undefined
    ? ""
    : `; YAML read the unquoted ${source} as ${as} — quote it: "${source}"`;
}

/** Maps offsets in `text` to 1-based lines and columns. */
function linePosition(text: string): (offset: number) => { line: number; col: number } {
  const lineStarts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lineStarts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - lineStarts[lo]! + 1 };
  };
}
