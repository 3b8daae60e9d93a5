import assert from "node:assert/strict";
import fc from "fast-check";
import { findDuplicateKey } from "./_json_keys.ts";

Deno.test("findDuplicateKey: names the path of the first duplicate at any depth", () => {
  assert.equal(findDuplicateKey('{"after":"a","ref":"r","after":"b"}'), "after");
  assert.equal(
    findDuplicateKey('{"ref":"x","pull_request":{"head":{"sha":"1","sha":"2"}}}'),
    "pull_request.head.sha",
  );
  assert.equal(findDuplicateKey('{"commits":[{"id":1},{"id":2,"id":3}]}'), "commits[1].id");
  assert.equal(findDuplicateKey('{"after":"a","\\u0061fter":"b"}'), "after", "compared unescaped");
  assert.equal(findDuplicateKey('{"a b":{"x\\"y":1,"x\\"y":2}}'), '"a b"."x\\"y"');
  assert.equal(
    findDuplicateKey('{"a":"{\\"a\\":1,\\"a\\":2}","b":[1,{"a":1}],"c":{"a":1}}'),
    undefined,
  );
  assert.equal(findDuplicateKey('[{"k":1},{"k":1}]'), undefined);
  assert.equal(findDuplicateKey('"just a string"'), undefined);
});

Deno.test("findDuplicateKey: none in serialized values; an injected duplicate is found (property)", () => {
  fc.assert(fc.property(fc.jsonValue(), (value) => {
    assert.equal(findDuplicateKey(JSON.stringify(value)), undefined);
    assert.equal(findDuplicateKey(JSON.stringify(value, null, 2)), undefined);
  }));
  fc.assert(fc.property(
    fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }),
    fc.string(),
    fc.jsonValue(),
    (object, outer, dupValue) => {
      const key = Object.keys(object)[0]!;
      const inner = JSON.stringify(object).slice(0, -1) + `,${JSON.stringify(key)}:` +
        `${JSON.stringify(dupValue)}}`;
      const text = `{${JSON.stringify(outer)}:${inner}}`;
      JSON.parse(text); // valid JSON
      const path = findDuplicateKey(text);
      assert.ok(
        path !== undefined &&
          path.endsWith(/^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key)),
        String(path),
      );
    },
  ));
});
