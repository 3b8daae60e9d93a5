import assert from "node:assert/strict";
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
