/**
 * CLI habits (issue 16): former flag names as hidden aliases, one JSON style, colour only on a
 * terminal without NO_COLOR, help grouped by where a command runs.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  captureContext,
  type Command,
  execute,
  parseCommandArgs,
  renderHelp,
  reportError,
  useColor,
} from "../command/contract.ts";
import { main, renderMainHelp } from "../cli/main.ts";
import { usageError } from "../models/errors.ts";

const ROOT = new URL("..", import.meta.url).pathname;

const spec = {
  name: "demo",
  summary: "demo",
  options: {
    dir: { type: "string" as const, description: "d", aliases: ["out"] },
    env: { type: "string" as const, description: "e", multiple: true },
  },
};

Deno.test("a former flag name is a hidden alias of the new one; both at once is refused", () => {
  assert.equal(parseCommandArgs(spec, { args: ["--out", "x"], env: {} }).values.dir, "x");
  assert.equal(parseCommandArgs(spec, { args: ["--dir", "y"], env: {} }).values.dir, "y");
  assert.throws(
    () => parseCommandArgs(spec, { args: ["--out", "x", "--dir", "y"], env: {} }),
    /--dir may be given only once \(got --out, --dir\)/,
  );
  assert.deepEqual(
    parseCommandArgs(spec, { args: ["--env", "a", "--env", "b"], env: {} }).values.env,
    ["a", "b"],
  );
  assert.doesNotMatch(renderHelp(spec), /--out/);
});

Deno.test("renamed flags of real commands: generate --out, preflight --context, pipeline-update --workflow-name", async () => {
  for (
    const [name, flag, alias] of [
      ["generate", "--dir", "--out"],
      ["preflight", "--require-context", "--context"],
      ["pipeline-update", "--workflow", "--workflow-name"],
    ]
  ) {
    const help = captureContext(["help", name!]);
    assert.equal(await main(help), 0);
    const text = help.out.join("");
    assert.match(text, new RegExp(`${flag} `));
    assert.doesNotMatch(text, new RegExp(`${alias} `));
  }
  const dir = await Deno.makeTempDir({ prefix: "aphex-habits-" });
  try {
    const ctx = captureContext(
      ["generate", "--config", join(ROOT, "aphex-config.yaml"), "--out", dir, "--json"],
    );
    assert.equal(await main(ctx), 0, ctx.err.join(""));
    const out = ctx.out.join("");
    assert.equal(out.split("\n").length, 2, "one line of JSON");
    assert.equal(JSON.parse(out).out, dir);
    await Deno.stat(join(dir, "workflow-template.yaml"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("colour only on a terminal, never with NO_COLOR or TERM=dumb", () => {
  const rows: [Record<string, string>, boolean, boolean][] = [
    [{}, true, true],
    [{}, false, false],
    [{ NO_COLOR: "1" }, true, false],
    [{ NO_COLOR: "" }, true, true],
    [{ TERM: "dumb" }, true, false],
  ];
  for (const [env, tty, expected] of rows) assert.equal(useColor(env, tty), expected);
  const coloured = captureContext([]);
  reportError(usageError("boom"), { ...coloured, color: true });
  assert.equal(coloured.err.join(""), "\x1b[31merror:\x1b[0m boom\n");
  const plain = captureContext([]);
  reportError(usageError("boom"), plain);
  assert.equal(plain.err.join(""), "error: boom\n");
});

Deno.test("aphex --help groups laptop commands and pipeline stages", () => {
  const help = renderMainHelp();
  const repo = help.indexOf("In your repository:");
  const stages = help.indexOf("Pipeline stages");
  assert.ok(repo > 0 && stages > repo);
  const section = (from: number, to: number) => help.slice(from, to);
  for (const c of ["validate", "generate", "graph", "run", "apply", "history"]) {
    assert.match(section(repo, stages), new RegExp(`\\n  ${c} `));
  }
  for (const c of ["build", "deploy", "report", "pipeline-update", "event parse"]) {
    assert.match(section(stages, help.length), new RegExp(`\\n  ${c} `));
  }
});

Deno.test("--json of validate is one line", async () => {
  const ctx = captureContext(["validate", "--json", "--skip-paths"], { cwd: ROOT });
  assert.equal(await main(ctx), 0);
  assert.equal(ctx.out.join("").split("\n").length, 2);
  const command: Command = { spec, run: () => Promise.resolve(0) };
  assert.equal(await execute(command, captureContext(["--help"])), 0);
});
