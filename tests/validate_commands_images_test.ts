/**
 * `aphex validate` refuses what would only fail (or silently misbehave) later: commands with
 * control characters or a leading `-`, and images without a tag or on `:latest`; it warns on a tag
 * without a digest. Every refusal is located at file:line:col.
 */
import assert from "node:assert/strict";
import { captureContext } from "../command/contract.ts";
import { main } from "../cli/main.ts";
import { parseConfig } from "../models/config_parse.ts";
import { commandProblem, imageProblem, parseImageReference } from "../models/config_rules.ts";
import { formatIssue } from "../models/errors.ts";

const DIGEST = "sha256:" + "ab".repeat(32);

async function validate(text: string, args: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "aphex-validate-" });
  try {
    await Deno.writeTextFile(`${dir}/aphex-config.yaml`, text);
    const ctx = captureContext(["validate", "--skip-paths", ...args], { cwd: dir });
    const code = await main(ctx);
    return { code, out: ctx.out.join(""), err: ctx.err.join("") };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function config(options: { build?: string; image?: string; hook?: string; test?: string }) {
  return [
    'version: "1.0"',
    "pipeline:",
    `  image: ${options.image ?? `ghcr.io/x/aphex:1.0.0@${DIGEST}`}`,
    "build:",
    "  commands:",
    `    - ${options.build ?? "make"}`,
    "environments:",
    "  - name: dev",
    "    region: us-east-1",
    '    account: "111111111111"',
    "    stacks: [{ name: App, path: infra/app.ts }]",
    "    hooks:",
    `      preDeploy: [${options.hook ?? "echo pre"}]`,
    "    tests:",
    `      commands: [${options.test ?? "npm test"}]`,
    "",
  ].join("\n");
}

Deno.test("validate refuses a NUL in a build command at file:line:col (YAML escape)", async () => {
  const r = await validate(config({ build: '"make\\0 all"' }));
  assert.equal(r.code, 2, r.err);
  assert.match(
    r.err,
    /^aphex-config\.yaml:6:7: build\.commands\[0\]: must not contain control characters \(found U\+0000 at character 5\)/m,
  );
});

Deno.test("validate refuses other control characters in hooks and tests, every one at once", async () => {
  const r = await validate(config({ hook: '"echo \\x1b[31m"', test: '"npm\\x07 test"' }));
  assert.equal(r.code, 2, r.err);
  assert.match(
    r.err,
    /aphex-config\.yaml:13:19: environments\[0\]\.hooks\.preDeploy\[0\]: .*U\+001B/,
  );
  assert.match(
    r.err,
    /aphex-config\.yaml:15:18: environments\[0\]\.tests\.commands\[0\]: .*U\+0007/,
  );
  assert.match(r.err, /2 errors\n$/);
});

Deno.test("validate refuses a command starting with '-' (found only at build time before)", async () => {
  const r = await validate(config({ build: '" -rf /tmp/x"' }));
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /^aphex-config\.yaml:6:7: build\.commands\[0\]: must not start with '-'/m);
});

Deno.test("commandProblem: tabs, newlines and ordinary text pass; C0 controls and DEL do not", () => {
  assert.equal(commandProblem("make\tall"), undefined);
  assert.equal(commandProblem("set -e\nmake all\r\n"), undefined);
  assert.equal(commandProblem("npm run build -- --prod"), undefined);
  for (let c = 0; c < 0x20; c++) {
    if (c === 9 || c === 10 || c === 13) continue;
    assert.ok(commandProblem(`a${String.fromCharCode(c)}b`), `U+${c.toString(16)}`);
  }
  assert.ok(commandProblem("a\x7fb"));
  assert.ok(commandProblem("--version"));
});

Deno.test("validate refuses an image without a tag or on :latest, at pipeline.image", async () => {
  for (const image of ["ghcr.io/x/aphex", "ghcr.io/x/aphex:latest", "localhost:5000/aphex"]) {
    const r = await validate(config({ image }));
    assert.equal(r.code, 2, `${image}: ${r.err}`);
    assert.match(r.err, /^aphex-config\.yaml:3:10: pipeline\.image: /m, image);
  }
});

Deno.test("validate warns on a tag without a digest and accepts name:tag@sha256", async () => {
  const warned = await validate(config({ image: "ghcr.io/x/aphex:1.2.3" }), ["--json"]);
  assert.equal(warned.code, 0, warned.err);
  assert.equal(
    warned.err,
    'warning: aphex-config.yaml:3:10: pipeline.image: tag ":1.2.3" without a digest: the tag ' +
      "can be repointed to another image; pin it as ghcr.io/x/aphex:1.2.3@sha256:<digest>\n",
  );
  assert.equal(JSON.parse(warned.out).warnings.length, 1);
  const pinned = await validate(config({ image: `ghcr.io/x/aphex:1.2.3@${DIGEST}` }), ["--json"]);
  assert.equal(pinned.code, 0, pinned.err);
  assert.equal(pinned.err, "");
  assert.deepEqual(JSON.parse(pinned.out).warnings, []);
  const port = await validate(config({ image: `registry.local:5000/x/aphex:2@${DIGEST}` }));
  assert.equal(port.code, 0, port.err);
});

Deno.test("imageProblem and parseImageReference: registry ports, digests, tags", () => {
  assert.deepEqual(parseImageReference(`r:5000/a/b:1.0@${DIGEST}`), {
    name: "r:5000/a/b",
    tag: "1.0",
    digest: DIGEST,
  });
  assert.deepEqual(parseImageReference("r:5000/a/b"), { name: "r:5000/a/b" });
  assert.equal(imageProblem(`a/b@${DIGEST}`), undefined); // a digest pins it without a tag
  assert.equal(imageProblem("a/b:1.0"), undefined); // valid (warned by configWarnings)
  assert.ok(imageProblem("a/b@sha256:abc")); // truncated digest
  assert.ok(imageProblem("a/b:latest"));
  assert.ok(imageProblem("a/b"));
  const result = parseConfig(config({ image: "a/b:latest" }), { file: "c.yaml" });
  assert.ok(!result.ok);
  assert.match(formatIssue(result.issues[0]!), /^c\.yaml:3:10: pipeline\.image: must not use/);
});

Deno.test("no warning for the default image (pipeline.image unset), nor for a key named like it", async () => {
  const text = config({}).replace(/^pipeline:\n {2}image: .*\n/m, "").replace(
    "make",
    '"echo image: x"',
  );
  assert.ok(!text.includes("pipeline:"));
  const r = await validate(text, ["--json"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "");
  assert.deepEqual(JSON.parse(r.out).warnings, []);
});
