/**
 * Property test of the config parser on damaged text: whatever edits a valid configuration goes
 * through (YAML punctuation inserted, characters deleted, lines repeated, swapped or re-indented),
 * `parseConfig` returns instead of throwing, and every issue points inside the text (a line that
 * exists, a column on that line or just past its end).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseConfig } from "../models/config_parse.ts";
import { formatIssue } from "../models/errors.ts";

/** Valid configurations in the styles the position logic must follow. */
const SEEDS = [
  Deno.readTextFileSync(new URL("../aphex-config.yaml", import.meta.url)),
  `# block style, an anchor and its alias, quoted keys, URLs
version: "1.0"
build:
  commands:
    - make
  "artifacts": dist
environments:
  - name: dev
    region: us-east-1
    account: "123456789012"
    stacks: &stacks
      - name: App
        path: lib/app.ts
  - name: prod
    region: eu-west-1
    'account': '123456789013'
    approval: true
    stacks: *stacks
pipeline:
  image: ghcr.io/x/y:1.0
  webhook:
    url: https://example.com/hook # comment
`,
  `version: "1.0"
build: { commands: [make, "make test"] }
environments: [{ name: dev, region: us-east-1, account: "123456789012",
  stacks: [{ name: App, path: lib/app.ts }], hooks: { preDeploy: [./pre.sh] } }]
`,
];

const PIECES = [
  '"',
  "'",
  ":",
  ": ",
  "- ",
  "[",
  "]",
  "{",
  "}",
  ",",
  "#",
  " #",
  "&a ",
  "*a",
  "!",
  "\t",
]
  .concat(["\n", " ", "  ", "|", ">", "?", "~", "0", "x", "@", "%", "\n  ", "\n- "]);

type Edit =
  | { kind: "insert"; at: number; piece: string }
  | { kind: "delete" | "repeat" | "swap" | "indent" | "dedent"; at: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    piece: fc.constantFrom(...PIECES),
  }),
  fc.record({
    kind: fc.constantFrom("delete", "repeat", "swap", "indent", "dedent") as fc.Arbitrary<
      "delete" | "repeat" | "swap" | "indent" | "dedent"
    >,
    at: fc.nat(),
  }),
);

function apply(text: string, e: Edit): string {
  const at = e.at % (text.length + 1);
  const lines = text.split("\n");
  const n = e.at % lines.length;
  switch (e.kind) {
    case "insert":
      return text.slice(0, at) + e.piece + text.slice(at);
    case "delete":
      return text.slice(0, at) + text.slice(at + 1);
    case "repeat":
      lines.splice(n, 0, lines[n]!);
      break;
    case "swap":
      if (n + 1 < lines.length) [lines[n], lines[n + 1]] = [lines[n + 1]!, lines[n]!];
      break;
    case "indent":
      lines[n] = " " + lines[n];
      break;
    case "dedent":
      lines[n] = lines[n]!.replace(/^ /, "");
      break;
  }
  return lines.join("\n");
}

Deno.test("property: a damaged config is answered with issues inside the text, never a throw", () => {
  const damaged = fc.tuple(
    fc.constantFrom(...SEEDS),
    fc.array(edit, { minLength: 1, maxLength: 3 }),
  )
    .map(([seed, edits]) => edits.reduce(apply, seed));
  fc.assert(
    fc.property(damaged, (text) => {
      const result = parseConfig(text, { file: "c.yaml" });
      if (result.ok) return;
      assert.ok(result.issues.length > 0);
      const lines = text.split("\n");
      for (const issue of result.issues) {
        const line = lines[issue.line - 1];
        assert.ok(
          line !== undefined && issue.col >= 1 && issue.col <= line.length + 1,
          `${formatIssue(issue)} is outside the text:\n${text}`,
        );
      }
    }),
    { numRuns: 500 },
  );
});
