import assert from "node:assert/strict";
import { captureContext } from "../command/contract.ts";
import { main } from "../cli/main.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function run(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
  const ctx = captureContext(args, { cwd: ROOT, ...options });
  const code = await main(ctx);
  return { code, out: ctx.out.join(""), err: ctx.err.join("") };
}

async function withConfig(text: string, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "aphex-validate-" });
  try {
    await Deno.writeTextFile(`${dir}/aphex-config.yaml`, text);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("aphex validate: the example config is valid (summary on stdout, exit 0)", async () => {
  const r = await run(["validate", "--skip-paths"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "aphex-config.yaml: valid (3 environments, 6 stacks)\n");
  // The example's image has a version tag but no digest: valid, with a warning.
  assert.match(
    r.err,
    /^warning: aphex-config\.yaml:9:10: pipeline\.image: tag ":0\.1\.0" without a digest/,
  );
  assert.equal(r.err.split("\n").length, 2);
});

Deno.test("aphex validate --json: machine-readable success and errors", async () => {
  const ok = await run(["validate", "--json", "--skip-paths"]);
  assert.deepEqual(JSON.parse(ok.out), {
    valid: true,
    file: "aphex-config.yaml",
    environments: 3,
    stacks: 6,
    warnings: [{
      file: "aphex-config.yaml",
      line: 9,
      col: 10,
      path: "pipeline.image",
      message: 'tag ":0.1.0" without a digest: the tag can be repointed to another image; pin ' +
        "it as ghcr.io/aphex-dev/aphex:0.1.0@sha256:<digest>",
    }],
  });
  await withConfig(
    'version: "1.0"\nbuild: { commands: [make] }\nenvironments: []\n',
    async (dir) => {
      const bad = await run(["validate", "--json"], { cwd: dir });
      assert.equal(bad.code, 2);
      assert.deepEqual(JSON.parse(bad.out).errors, [{
        file: "aphex-config.yaml",
        line: 3,
        col: 15,
        path: "environments",
        message: "must list at least one environment",
      }]);
    },
  );
});

Deno.test("aphex validate: every error on stderr, exit 2, nothing on stdout", async () => {
  const text = 'version: "1.0"\nbuild: { commands: [make] }\nenvironments:\n  - name: dev\n' +
    "    region: us-east\n    account: 012345678901\n    stack: []\n";
  await withConfig(text, async (dir) => {
    const r = await run(["validate"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(r.out, "");
    assert.deepEqual(r.err.trimEnd().split("\n"), [
      "aphex-config.yaml:4:5: environments[0].stacks: is required",
      "aphex-config.yaml:5:13: environments[0].region: must be an AWS region such as us-east-1, eu-central-2, us-gov-west-1 or cn-north-1",
      'aphex-config.yaml:6:14: environments[0].account: must be a quoted 12-digit string; YAML read the unquoted 012345678901 as the number 12345678901 — quote it: "012345678901"',
      'aphex-config.yaml:7:5: environments[0].stack: unknown key "stack"; did you mean "stacks"?',
      "aphex-config.yaml: 4 errors",
    ]);
  });
});

Deno.test("aphex validate: --config wins over APHEX_CONFIG; env var used when no flag", async () => {
  const fromEnv = await run(["validate"], { env: { APHEX_CONFIG: "missing.yaml" } });
  assert.equal(fromEnv.code, 2);
  assert.match(
    fromEnv.err,
    /missing\.yaml: no such file \(pass --config FILE or set APHEX_CONFIG\)/,
  );
  const flag = await run(["validate", "--config", "aphex-config.yaml", "--skip-paths"], {
    env: { APHEX_CONFIG: "missing.yaml" },
  });
  assert.equal(flag.code, 0, flag.err);
});

Deno.test("aphex CLI: help, version, unknown command and unknown flag", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /In your repository:\n\s+init [^\n]*\n\s+validate /);
  const cmdHelp = await run(["validate", "--help"]);
  assert.equal(cmdHelp.code, 0);
  assert.match(
    cmdHelp.out,
    /--config FILE\s+Configuration file \(env APHEX_CONFIG; default aphex-config\.yaml\)/,
  );
  const version = await run(["--version"]);
  assert.match(version.out, /^aphex \d+\.\d+\.\d+\n$/);
  const unknown = await run(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command 'frobnicate'/);
  const flag = await run(["validate", "--bogus"]);
  assert.equal(flag.code, 2);
  assert.match(flag.err, /Unknown option '--bogus'/);
  const none = await run([]);
  assert.equal(none.code, 2);
});

Deno.test("aphex validate as a real process: exit code and streams", async () => {
  await withConfig("version: 2\n", async (dir) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-read", "--allow-env", `${ROOT}mod.ts`, "validate"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.equal(new TextDecoder().decode(out.stdout), "");
    assert.match(
      new TextDecoder().decode(out.stderr),
      /^aphex-config\.yaml:1:10: version: must be "1\.0"/m,
    );
  });
});
