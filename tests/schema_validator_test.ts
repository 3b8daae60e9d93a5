import assert from "node:assert/strict";
import { renderValidator, VALIDATOR_FILE } from "../tools/build_schema_validator.ts";

Deno.test("schema/_validate_config.js is up to date with the schema (run `deno task schema`)", async () => {
  const committed = await Deno.readTextFile(VALIDATOR_FILE);
  assert.ok(committed === renderValidator(), "stale: run `deno task schema` and commit the result");
});
