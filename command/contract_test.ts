import assert from "node:assert/strict";
import { parseCommandArgs, readBounded, renderHelp } from "./contract.ts";
import { AphexError } from "../models/errors.ts";

Deno.test("readBounded: refuses an endless stream as soon as it passes the limit, and cancels it", async () => {
  let pulled = 0;
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(1024));
    },
    cancel() {
      cancelled = true;
    },
  });
  await assert.rejects(readBounded(endless, { maxBytes: 10_000 }), (e: unknown) => {
    assert.ok(e instanceof AphexError);
    assert.equal(e.exitCode, 2);
    assert.match(e.message, /exceeds 10000 bytes/);
    return true;
  });
  assert.ok(cancelled, "stream not cancelled");
  assert.ok(pulled <= 12, `read ${pulled} chunks for a 10 KB limit`);
});

Deno.test("readBounded: returns the whole input up to the limit", async () => {
  const bytes = await readBounded(
    ReadableStream.from([new Uint8Array([1, 2]), new Uint8Array([3])]),
    { maxBytes: 3 },
  );
  assert.deepEqual([...bytes], [1, 2, 3]);
});

Deno.test("parseCommandArgs: flags win over env, env over defaults; booleans from env", () => {
  const spec = {
    name: "x",
    summary: "s",
    options: {
      config: { type: "string" as const, description: "c", env: "APHEX_CONFIG", default: "a.yaml" },
      json: { type: "boolean" as const, description: "j", env: "APHEX_JSON" },
      tag: { type: "string" as const, description: "t", multiple: true },
    },
  };
  const env = { APHEX_CONFIG: "env.yaml", APHEX_JSON: "true" };
  assert.equal(parseCommandArgs(spec, { args: [], env: {} }).values.config, "a.yaml");
  assert.equal(parseCommandArgs(spec, { args: [], env }).values.config, "env.yaml");
  assert.equal(
    parseCommandArgs(spec, { args: ["--config", "flag.yaml"], env }).values.config,
    "flag.yaml",
  );
  assert.equal(parseCommandArgs(spec, { args: [], env }).values.json, true);
  assert.deepEqual(parseCommandArgs(spec, { args: ["--tag", "a", "--tag", "b"], env }).values.tag, [
    "a",
    "b",
  ]);
  assert.throws(
    () => parseCommandArgs(spec, { args: [], env: { APHEX_JSON: "maybe" } }),
    /APHEX_JSON=maybe: must be true or false/,
  );
  assert.throws(
    () => parseCommandArgs(spec, { args: ["--config"], env }),
    /aphex x: .*argument missing.*--help/,
  );
  assert.match(renderHelp(spec), /--tag VALUE\s+t \(repeatable\)/);
});
