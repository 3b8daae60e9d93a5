/**
 * A problem of the configuration before it is placed in the source: the path of the offending
 * node and what is wrong. Found by the YAML reader, the schema and the semantic checks; placed at
 * `file:line:col` by `_config_locate.ts`.
 * @module
 */

/** One step of a path into the configuration: a mapping key or a sequence index. */
export type Segment = string | number;

/** A problem before it is placed: a source offset (or a path to look up) and a message. */
export interface Problem {
  /** Path of the offending node; empty for the document. */
  path: Segment[];
  /** What is wrong. */
  message: string;
  /** Where to point: the node at `path` (default), its key, or its parent mapping. */
  at?: "value" | "key" | "parent";
  /** A known source offset (YAML syntax errors). */
  offset?: number;
  /** Appends the "YAML read the unquoted …" hint when the node is a plain scalar. */
  unquotedHint?: boolean;
}
