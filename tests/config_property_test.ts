/**
 * Property tests of the config parser: any valid generated config is accepted, and every
 * single-field corruption is rejected with an issue at the exact line/column of the mutated node.
 *
 * Expected positions come from a tiny block-YAML emitter in this file that records where it puts
 * every node — independent of the parser under test.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatPath, parseConfig } from "../models/config_parse.ts";
import { formatIssue } from "../models/errors.ts";

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
type Segment = string | number;
interface Pos {
  line: number;
  col: number;
}

/** Emits block YAML; strings are JSON-quoted; records value and key positions by path. */
function emit(value: Json): { text: string; values: Map<string, Pos>; keys: Map<string, Pos> } {
  const lines: string[] = [];
  const values = new Map<string, Pos>();
  const keys = new Map<string, Pos>();
  const inline = (v: Json) => JSON.stringify(v);
  const isBlock = (v: Json) =>
    v !== null && typeof v === "object" &&
    (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);

  // Writes `v` (a block) whose first line starts at column `col` on a line that may already hold text.
  function block(v: Json, path: Segment[], col: number, sameLine: boolean): void {
    const pad = " ".repeat(col - 1);
    let first = true;
    const start = () => {
      if (first && sameLine) {
        first = false;
        return "";
      }
      first = false;
      lines.push(pad);
      return "";
    };
    values.set(formatPath(path), { line: sameLine ? lines.length : lines.length + 1, col });
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        start();
        const at = lines.length;
        lines[at - 1] += "- ";
        const p = [...path, i];
        if (isBlock(item) && !Array.isArray(item)) block(item, p, col + 2, true);
        else {
          values.set(formatPath(p), { line: at, col: col + 2 });
          lines[at - 1] += inline(item);
        }
      });
      return;
    }
    for (const [k, item] of Object.entries(v as Record<string, Json>)) {
      start();
      const at = lines.length;
      const p = [...path, k];
      keys.set(formatPath(p), { line: at, col });
      lines[at - 1] += `${k}:`;
      if (isBlock(item)) {
        block(item, p, Array.isArray(item) ? col : col + 2, false);
      } else {
        lines[at - 1] += ` ${inline(item)}`;
        values.set(formatPath(p), { line: at, col: col + k.length + 2 });
      }
    }
  }
  block(value, [], 1, false);
  return { text: lines.join("\n") + "\n", values, keys };
}

// --- arbitraries of valid configs -------------------------------------------------------------
const REGIONS = [
  "us-east-1",
  "us-west-2",
  "eu-central-2",
  "us-gov-west-1",
  "cn-north-1",
  "ap-southeast-5",
];
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
const stackName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,30}$/);
const path = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}(\/[a-z0-9_-]{1,8}){0,3}\.ts$/);
const command = fc.string({ minLength: 1, maxLength: 30 }).filter((s) =>
  /\S/.test(s) && !s.trimStart().startsWith("-")
);
const commands = fc.array(command, { minLength: 1, maxLength: 3 });

const environment = fc.record(
  {
    name: label,
    region: fc.constantFrom(...REGIONS),
    account: fc.stringMatching(/^[0-9]{12}$/),
    stacks: fc.uniqueArray(fc.record({ name: stackName, path }), {
      minLength: 1,
      maxLength: 4,
      selector: (s) => s.name,
    }),
    tests: fc.record({ commands }),
    role: fc.stringMatching(/^[0-9]{12}$/).map((a) => `arn:aws:iam::${a}:role/deploy`),
    approval: fc.boolean(),
    hooks: fc.record({ preDeploy: commands, postDeploy: commands }, { requiredKeys: [] }),
  },
  { requiredKeys: ["name", "region", "account", "stacks"] },
);

const config = fc.record(
  {
    version: fc.constant("1.0"),
    build: fc.record({ commands, artifacts: fc.constantFrom("artifacts", "dist", "out/pkg") }, {
      requiredKeys: ["commands"],
    }),
    environments: fc.uniqueArray(environment, {
      minLength: 1,
      maxLength: 4,
      selector: (e) => e.name,
    }),
    pipeline: fc.record({
      name: label.filter((s) => s.length <= 30),
      namespace: label,
      artifactBucket: fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,20}[a-z0-9]$/),
    }, { requiredKeys: [] }),
  },
  { requiredKeys: ["version", "build", "environments"] },
) as fc.Arbitrary<Record<string, Json>>;

Deno.test("property: every valid generated config is accepted and keeps its values", () => {
  fc.assert(
    fc.property(config, (value) => {
      const { text } = emit(value);
      const result = parseConfig(text);
      assert.ok(
        result.ok,
        result.ok ? "" : `${text}\n${result.issues.map(formatIssue).join("\n")}`,
      );
      const envs = value.environments as { name: string; account: string }[];
      assert.deepEqual(
        result.config.environments.map((e) => [e.name, e.account]),
        envs.map((e) => [e.name, e.account]),
      );
    }),
    { numRuns: 200 },
  );
});

// --- corruptions -------------------------------------------------------------------------------
type Kind = "wrong-type" | "pattern" | "missing" | "unknown-key";
interface Field {
  path: Segment[];
  bad: Json;
  required: boolean;
}

/** Constrained leaves of a config value, each with a value that breaks its rule. */
function fields(value: Record<string, Json>): Field[] {
  const out: Field[] = [
    { path: ["version"], bad: "2.0", required: true },
    { path: ["build", "commands", 0], bad: "   ", required: false },
  ];
  (value.environments as Record<string, Json>[]).forEach((env, i) => {
    const e = (k: string) => ["environments", i, k];
    out.push(
      { path: e("name"), bad: "Bad_Name", required: true },
      { path: e("region"), bad: "us-east", required: true },
      { path: e("account"), bad: "12345", required: true },
    );
    (env.stacks as Json[]).forEach((_, j) => {
      out.push(
        { path: [...e("stacks"), j, "name"], bad: "1stack", required: true },
        { path: [...e("stacks"), j, "path"], bad: "/abs/path.ts", required: true },
      );
    });
    if ("role" in env) out.push({ path: e("role"), bad: "admin", required: false });
  });
  return out;
}

function getParent(root: Json, path: Segment[]): Record<string | number, Json> {
  let node = root as Record<string | number, Json>;
  for (const s of path.slice(0, -1)) node = node[s] as Record<string | number, Json>;
  return node;
}

Deno.test("property: each single-field corruption is reported at the mutated node", () => {
  const mutation = config.chain((value) =>
    fc.tuple(
      fc.constant(value),
      fc.constantFrom(...fields(value)),
      fc.constantFrom<Kind>("wrong-type", "pattern", "missing", "unknown-key"),
    )
  );
  fc.assert(
    fc.property(mutation, ([value, field, chosen]) => {
      // Array elements have no keys: only value corruptions apply to them.
      const isElement = typeof field.path[field.path.length - 1] === "number";
      const kind: Kind = isElement && (chosen === "missing" || chosen === "unknown-key")
        ? "pattern"
        : chosen;
      const mutated = structuredClone(value);
      const parent = getParent(mutated, field.path);
      const last = field.path[field.path.length - 1]!;
      let expectPath: Segment[] = field.path;
      let message: RegExp;
      if (kind === "wrong-type") {
        parent[last] = 4242;
        message = /must|YAML read the unquoted/;
      } else if (kind === "pattern") {
        parent[last] = field.bad;
        message = /^must /;
      } else if (kind === "missing" && field.required) {
        delete parent[last];
        message = /^is required$/;
      } else {
        // unknown key beside the field (or missing a non-required one: also an unknown key case)
        parent["bogusKey" as string] = "x";
        expectPath = [...field.path.slice(0, -1), "bogusKey"];
        message = /^unknown key "bogusKey"/;
      }
      const { text, values, keys } = emit(mutated);
      const result = parseConfig(text, { file: "c.yaml" });
      assert.equal(result.ok, false, `accepted:\n${text}`);
      if (result.ok) return;
      const wantPath = formatPath(expectPath);
      let where: Pos | undefined;
      if (kind === "missing" && field.required) {
        where = values.get(formatPath(field.path.slice(0, -1)));
      } else if (message.source.startsWith("^unknown")) where = keys.get(wantPath);
      else where = values.get(wantPath);
      assert.ok(where, `no recorded position for ${wantPath}`);
      const hit = result.issues.find((i) => i.path === wantPath && message.test(i.message));
      assert.ok(
        hit,
        `no issue for ${wantPath} (${kind}) in\n${
          result.issues.map(formatIssue).join("\n")
        }\n${text}`,
      );
      assert.deepEqual({ line: hit.line, col: hit.col }, where, `${formatIssue(hit)}\n${text}`);
    }),
    { numRuns: 300 },
  );
});

Deno.test("emitter self-check: recorded positions point at the emitted text", () => {
  const { text, values, keys } = emit({ a: { b: ["x", { c: 1 }] }, d: [] });
  const lines = text.split("\n");
  const at = (p: Pos) => lines[p.line - 1]!.slice(p.col - 1);
  assert.equal(at(keys.get("a.b")!), "b:");
  assert.equal(at(values.get("a.b[0]")!), '"x"');
  assert.equal(at(values.get("a.b[1].c")!), "1");
  assert.equal(at(values.get("a.b[1]")!), "c: 1");
  assert.equal(at(values.get("d")!), "[]");
});
