/**
 * Turns the schema validator's errors (ajv error objects, from the validator compiled ahead of
 * time by tools/build_schema_validator.ts) into configuration problems: one per offending node,
 * with the schema's own wording (`x-error`) where it has one, a did-you-mean for unknown keys, and
 * the unquoted-value hint for scalars YAML read as something other than a string.
 * No I/O happens in this module.
 * @module
 */
import type { ErrorObject } from "ajv";
import type { Problem, Segment } from "./_config_problem.ts";
import { closest } from "./suggest.ts";

/** The problems behind the schema errors of the value `root`, not yet located. */
export function schemaProblems(errors: readonly ErrorObject[], root: unknown): Problem[] {
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

function pointerSegments(pointer: string): Segment[] {
  if (!pointer) return [];
  return pointer.slice(1).split("/").map((raw) => {
    const s = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    return /^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s;
  });
}
