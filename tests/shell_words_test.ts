import assert from "node:assert/strict";
import fc from "fast-check";
import { shellWords } from "../models/shell_words.ts";
import { parseCdkCommand } from "../adapters/cdk/app.ts";
import { commandTool } from "../models/command_tools.ts";
import { AphexError } from "../models/errors.ts";

Deno.test("shellWords: quotes kept together, nothing expanded, operators end the words", () => {
  assert.deepEqual(shellWords(`npx "my cdk" 'a b' c\\ d`), {
    words: ["npx", "my cdk", "a b", "c d"],
    complete: true,
  });
  assert.deepEqual(shellWords("FOO=$HOME npm ci && npm test"), {
    words: ["FOO=$HOME", "npm", "ci"],
    complete: false,
  });
  assert.deepEqual(shellWords("cdk > out.txt").complete, false);
});

Deno.test("--cdk-command: a quoted path stays one argv word; operators are refused", () => {
  assert.deepEqual(parseCdkCommand(`node "/opt/my tools/cdk.js"`), [
    "node",
    "/opt/my tools/cdk.js",
  ]);
  assert.deepEqual(parseCdkCommand(undefined), ["npx", "--no-install", "cdk"]);
  assert.throws(() => parseCdkCommand("npx cdk; rm -rf /"), AphexError);
  assert.throws(() => parseCdkCommand("npx cdk | tee log"), AphexError);
});

Deno.test("preflight finds the tool after assignments with shell word rules; quoted words are skipped", () => {
  assert.equal(commandTool(`'npm' ci`), undefined);
  assert.equal(commandTool(`FOO="a b" npm ci`), "npm"); // whitespace splitting read `b"` here
  assert.equal(commandTool("NODE_ENV=production npm run build"), "npm");
  assert.equal(commandTool("./scripts/x.sh"), undefined);
  assert.equal(commandTool("cd app && make"), undefined);
});

Deno.test("shellWords never throws: a substitution shell-quote cannot read ends the words", () => {
  // An unclosed or malformed `${` (a typo in a build command) made shell-quote throw "Bad
  // substitution", which crashed preflight and `--cdk-command` parsing.
  assert.deepEqual(shellWords("mytool ${!ref --flag"), { words: ["mytool"], complete: false });
  assert.deepEqual(shellWords("a b${x c"), { words: ["a"], complete: false });
  assert.deepEqual(shellWords("x ${A} y ${ z}"), { words: ["x", "$A", "y"], complete: false });
  assert.equal(commandTool("FOO=1 mytool ${!ref"), "mytool");
  assert.throws(() => parseCdkCommand("npx ${x cdk"), AphexError);
  fc.assert(
    fc.property(fc.string({ unit: "binary-ascii", maxLength: 40 }), (text) => {
      const { words } = shellWords(text);
      assert.ok(words.every((w) => typeof w === "string"));
    }),
    { numRuns: 2000 },
  );
});
