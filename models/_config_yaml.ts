/**
 * Reads configuration text as YAML with the `yaml` package: one document, YAML 1.2 core schema
 * (`yes`, `0b11`, `2024-01-01` stay strings, whatever `%YAML` directive the file has), no merge
 * keys, no YAML 1.1 tags (`!!binary`, `!!timestamp`, …), keys read as written.
 *
 * YAML traps become problems rather than silent changes: duplicate keys, unknown tags, alias
 * bombs and oversized input. A syntax problem is placed at the source offset `yaml` reports, or at
 * the quote that opened a string its line does not close. No I/O happens in this module.
 * @module
 */
import {
  type Document,
  isAlias,
  isScalar,
  parseDocument,
  type Scalar,
  visit,
  type YAMLError,
} from "yaml";
import type { Problem } from "./_config_problem.ts";

/** Largest configuration accepted, in bytes (a 2,000-environment config is about 5 MB). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** Most alias nodes (`*name`) accepted in one document. */
export const MAX_ALIAS_COUNT = 1000;
/** Most nodes the document may expand to once aliases are followed (alias-bomb guard). */
export const MAX_EXPANDED_NODES = 5_000_000;

/**
 * Options of `yaml`'s `parseDocument`. The schema is named, not only the version, so a `%YAML 1.1`
 * directive cannot switch the file to YAML 1.1 resolution. `logLevel: "error"` keeps a second
 * document an error (`"silent"` would drop it) and keeps warnings off the console.
 */
const READ_OPTIONS = {
  version: "1.2",
  schema: "core",
  merge: false,
  resolveKnownTags: false,
  stringKeys: true,
  uniqueKeys: true,
  prettyErrors: false,
  logLevel: "error",
} as const;

/** Parses `text` into a `yaml` document; syntax errors are left in `doc.errors`. */
export function readYaml(text: string): Document.Parsed {
  return parseDocument(text, READ_OPTIONS);
}

/** The outcome of {@linkcode loadYaml}: the document and its value, or the first problem. */
export interface LoadedYaml {
  /** The document, when the text was parsed. */
  doc?: Document.Parsed;
  /** The document's value, when it has no problem. */
  value?: unknown;
  /** The first problem, if any. */
  problem?: Problem;
}

/**
 * Reads configuration text into a plain value. Never throws for bad input: the first problem
 * (size, syntax, aliases, empty document) is returned instead of a value.
 */
export function loadYaml(text: string): LoadedYaml {
  const fail = (offset: number, message: string) => ({ problem: { path: [], offset, message } });
  const bytes = text.length > MAX_CONFIG_BYTES / 3
    ? new TextEncoder().encode(text).length
    : text.length;
  if (bytes > MAX_CONFIG_BYTES) {
    return fail(0, `file is ${bytes} bytes; the limit is ${MAX_CONFIG_BYTES} bytes`);
  }
  const doc = readYaml(text);
  const error = firstError(doc);
  if (error) return { doc, problem: syntaxProblem(doc, text, error) };
  // Aliases are counted and checked only when the text can hold one.
  const aliases = text.includes("*") ? aliasProblem(doc) : undefined;
  if (aliases) return { doc, problem: aliases };
  let value: unknown;
  try {
    // Aliases resolve to the anchor's value (shared, not copied); the size check is below.
    value = doc.toJS({ maxAliasCount: -1 });
  } catch (e) {
    return { doc, ...fail(0, `invalid YAML: ${(e as Error).message}`) };
  }
  if (value === undefined || value === null) return { doc, ...fail(0, "the file is empty") };
  const nodes = expandedSize(value);
  if (nodes > MAX_EXPANDED_NODES) {
    return {
      doc,
      ...fail(
        0,
        `YAML aliases expand the document to ${nodes} nodes (limit ${MAX_EXPANDED_NODES}); repeat the values instead`,
      ),
    };
  }
  return { doc, value };
}

/** The first error in the source; an unresolved tag counts as one (`yaml` only warns). */
function firstError(doc: Document.Parsed): YAMLError | undefined {
  let first: YAMLError | undefined;
  for (const e of [...doc.errors, ...doc.warnings]) {
    if (e.name === "YAMLWarning" && e.code !== "TAG_RESOLVE_FAILED") continue;
    if (first === undefined || e.pos[0] < first.pos[0]) first = e;
  }
  return first;
}

function syntaxProblem(doc: Document.Parsed, text: string, error: YAMLError): Problem {
  const offset = error.pos[0];
  const quote = unclosedQuote(doc, text, offset);
  if (quote) return quote;
  if (error.code === "DUPLICATE_KEY") {
    const key = duplicateKey(doc, offset);
    const name = key ? String(key.value) : text.slice(offset).split(/[:\n]/)[0]!;
    return {
      path: [],
      offset: key?.range?.[0] ?? offset,
      message: `duplicate key ${JSON.stringify(name)}: each key may appear only once in a mapping`,
    };
  }
  return { path: [], offset, message: syntaxMessage(text, error) };
}

function syntaxMessage(text: string, error: YAMLError): string {
  switch (error.code) {
    case "MULTIPLE_DOCS":
      return "invalid YAML: expected a single document in the stream, but found more";
    case "NON_STRING_KEY":
      return "invalid YAML: a mapping key must be a scalar, not a list or a mapping";
    case "TAG_RESOLVE_FAILED":
      return `invalid YAML: unknown tag ${text.slice(error.pos[0], error.pos[1])}`;
    default: {
      const m = error.message;
      return `invalid YAML: ${/^[A-Z][a-z]/.test(m) ? m[0]!.toLowerCase() + m.slice(1) : m}`;
    }
  }
}

/**
 * The first repeated key at or after `offset`. (`yaml` reports a duplicate at its key, or at the
 * end of the previous entry when that entry has no value.)
 */
function duplicateKey(doc: Document.Parsed, offset: number): Scalar | undefined {
  let found: Scalar | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        const name = String(key.value);
        const start = key.range?.[0] ?? -1;
        if (seen.has(name) && start >= offset && start < (found?.range?.[0] ?? Infinity)) {
          found = key;
        }
        seen.add(name);
      }
    },
  });
  return found;
}

/** Too many aliases, or one naming no anchor before it (where the first such alias is). */
function aliasProblem(doc: Document.Parsed): Problem | undefined {
  const anchors = new Set<string>();
  let count = 0;
  let problem: Problem | undefined;
  visit(doc, {
    Node(_, node) {
      if (!isAlias(node)) {
        if (node.anchor) anchors.add(node.anchor);
        return undefined;
      }
      const offset = node.range?.[0] ?? 0;
      if (!anchors.has(node.source)) {
        problem = {
          path: [],
          offset,
          message: `invalid YAML: unidentified alias "${node.source}"`,
        };
      } else if (++count > MAX_ALIAS_COUNT) {
        problem = {
          path: [],
          offset,
          message: `more than ${MAX_ALIAS_COUNT} YAML aliases; repeat the values instead`,
        };
      }
      return problem ? visit.BREAK : undefined;
    },
  });
  return problem;
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

/**
 * After a YAML syntax error: the first quoted scalar, opened before the end of the error's line,
 * that its line does not close (`yaml` reports its closing quote missing, or it spans lines). A
 * missing closing quote makes the string swallow the lines after it, and YAML reports the damage
 * where the string finally ends (often lines later); the user's mistake is the opening quote. (A
 * deliberate multi-line quoted string before an unrelated error is blamed too; such strings are
 * rare in a configuration.)
 */
function unclosedQuote(
  doc: Document.Parsed,
  text: string,
  errorOffset: number,
): Problem | undefined {
  const missing = doc.errors.filter((e) => e.code === "MISSING_CHAR" && /quote/.test(e.message))
    .map((e) => e.pos[0]);
  const errorLineEnd = text.indexOf("\n", errorOffset);
  const before = errorLineEnd === -1 ? text.length : errorLineEnd;
  let start = Infinity;
  let end = 0;
  visit(doc, {
    Scalar(_, node) {
      const range = node.range;
      if (node.type !== "QUOTE_DOUBLE" && node.type !== "QUOTE_SINGLE") return;
      if (!range || range[0] >= before || range[0] >= start) return;
      const source = text.slice(range[0], range[1]).trimEnd();
      const unclosed = source.includes("\n") ||
        missing.some((offset) => offset >= range[0] && offset <= range[2]);
      if (!unclosed) return;
      start = range[0];
      end = range[0] + source.length;
    },
  });
  if (start === Infinity) return undefined;
  const quote = text[start]!;
  const line = (offset: number) => text.slice(0, offset).split("\n").length;
  const lastLine = line(end - 1);
  return {
    path: [],
    offset: start,
    message: `unclosed ${quote === '"' ? "double" : "single"} quote: the string starting here ` +
      "is not closed on its line" +
      (lastLine > line(start) ? ` (YAML read on to line ${lastLine})` : "") +
      `; add the closing ${quote}`,
  };
}
