import assert from "node:assert/strict";
import fc from "fast-check";
import { argoFailuresValue, goQuote } from "./_argo_pod.ts";
import { argoFailuresJson, unquoteGoString } from "../models/argo_values.ts";
import { parseWorkflowFailures } from "../stages/_run_record.ts";

Deno.test("unquoteGoString inverts Go's strconv.Quote for any string", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme" }), (s) => unquoteGoString(goQuote(s)) === s),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => {
      const wellFormed = s.isWellFormed();
      return !wellFormed || unquoteGoString(goQuote(s)) === s;
    }),
    { numRuns: 500 },
  );
});

Deno.test("unquoteGoString: Go escapes JSON.parse does not know, and malformed literals", () => {
  assert.equal(unquoteGoString(String.raw`"\a\v\x41\101\u00e9\U0001F600\'"`), "\x07\x0bAAé😀'");
  for (
    const bad of ['"abc', 'abc"', '"a"b"', String.raw`"\q"`, String.raw`"\x4"`, '"a\nb"', "", '"']
  ) {
    assert.equal(unquoteGoString(bad), null, JSON.stringify(bad));
  }
});

Deno.test("workflow.failures: Argo's quoted form, a bare array, empty, null and an unresolved literal", () => {
  const node = {
    displayName: "deploy-prod",
    message: 'Error (exit code 1): "quoted" <b>&',
    templateName: "deploy",
    phase: "Failed",
    podName: "webshop-abc-deploy-1",
    finishedAt: new Date("2026-11-25T10:12:00Z"),
  };
  const quoted = argoFailuresValue([node]);
  const parsed = parseWorkflowFailures(quoted);
  assert.deepEqual(parsed, [{
    displayName: "deploy-prod",
    message: node.message,
    templateName: "deploy",
    phase: "Failed",
    finishedAt: node.finishedAt,
  }]);
  const bare = JSON.stringify([{ ...node, finishedAt: "2026-11-25T10:12:00Z" }]);
  assert.deepEqual(parseWorkflowFailures(bare), parsed);
  for (
    const none of ["", "  ", "null", '"null"', '"[]"', "[]", "{{workflow.failures}}", undefined]
  ) {
    assert.deepEqual(parseWorkflowFailures(none), [], String(none));
  }
  assert.equal(argoFailuresJson('"[]"'), "[]");
  const warnings: string[] = [];
  assert.deepEqual(parseWorkflowFailures('"[{broken', { warn: (m) => warnings.push(m) }), []);
  assert.equal(warnings.length, 1);
});
