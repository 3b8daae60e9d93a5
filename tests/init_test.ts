/**
 * `aphex init` (issue 16): in a fresh git repository with the fixture CDK app it synthesizes once,
 * lists the stacks in dependency order and writes a commented configuration that validates and
 * generates manifests accepted by validate-argo and argo-lint; refusals are table rows.
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { captureContext } from "../command/contract.ts";
import { parseEnvFlag } from "../cli/init.ts";
import { SCHEMA_URL } from "../templates/init_scaffold.ts";
import { main } from "../cli/main.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURE_APP = join(ROOT, "tests", "fixtures", "cdk-app");
/** Where validate-argo and argo-lint live: APHEX_ARGO_BIN, else the checkout's sibling tools. */
const ARGO_BIN = Deno.env.get("APHEX_ARGO_BIN") ?? join(ROOT, "..", "shared", "bin");

async function freshRepo(root: string, withApp: boolean): Promise<string> {
  const repo = join(root, "repo");
  await Deno.mkdir(repo);
  await Deno.mkdir(join(repo, ".git"));
  if (withApp) {
    for (const f of ["cdk.json", "package.json", "bin/app.mts", "lib/stacks.mts"]) {
      await Deno.mkdir(dirname(join(repo, "infra", f)), { recursive: true });
      await Deno.copyFile(join(FIXTURE_APP, f), join(repo, "infra", f));
    }
    await Deno.symlink(join(FIXTURE_APP, "node_modules"), join(repo, "infra", "node_modules"));
  }
  return repo;
}

Deno.test("parseEnvFlag: NAME:REGION:ACCOUNT, with did-you-mean for regions", () => {
  assert.deepEqual(parseEnvFlag("dev:us-east-1:123456789012"), {
    name: "dev",
    region: "us-east-1",
    account: "123456789012",
  });
  assert.throws(() => parseEnvFlag("dev:us-east-1"), /expected NAME:REGION:ACCOUNT/);
  assert.throws(() => parseEnvFlag("dev:us-est-1:123456789012"), /did you mean "us-east-1"/);
  assert.throws(() => parseEnvFlag("dev:us-east-1:1234"), /12 digits/);
});

Deno.test("aphex init: refusals (no CDK app, bad --env, existing file)", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-init-" });
  try {
    const repo = await freshRepo(root, false);
    const rows: [string[], RegExp][] = [
      [["init"], /no cdk\.json in .* aphex init needs a CDK app/],
      [["init", "--env", "dev:moon-1:123456789012"], /"moon-1" is not an AWS region/],
    ];
    for (const [args, message] of rows) {
      const ctx = captureContext(args, { cwd: repo, env: {} });
      assert.equal(await main(ctx), 2, args.join(" "));
      assert.match(ctx.err.join(""), message);
    }
    await Deno.writeTextFile(join(repo, "aphex-config.yaml"), "mine\n");
    const ctx = captureContext(["init"], { cwd: repo, env: {} });
    assert.equal(await main(ctx), 2);
    assert.match(ctx.err.join(""), /aphex-config\.yaml exists; pass --force to overwrite it/);
    assert.equal(await Deno.readTextFile(join(repo, "aphex-config.yaml")), "mine\n");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("aphex init → validate → generate on the fixture CDK app; manifests pass validate-argo and argo-lint", async () => {
  await Deno.stat(join(FIXTURE_APP, "node_modules", "aws-cdk", "package.json"));
  const root = await Deno.makeTempDir({ prefix: "aphex-init-" });
  try {
    const repo = await freshRepo(root, true);
    const env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? root,
      CDK_DISABLE_CLI_TELEMETRY: "true",
    };
    // Run from a sub-folder: the repository's top level is found.
    const init = captureContext(
      ["init", "--env", "dev:us-east-1:111111111111", "--env", "prod:eu-west-1:222222222222"],
      { cwd: join(repo, "infra"), env },
    );
    assert.equal(await main(init), 0, init.err.join(""));
    const out = init.out.join("");
    assert.match(
      out,
      /1\. aphex-fixture-network +aws:\/\/111111111111\/us-east-1\n +2\. aphex-fixture-app +aws:\/\/111111111111\/us-east-1 +after aphex-fixture-network\n +3\. aphex-fixture-monitoring/,
    );
    assert.equal(init.err.join("").match(/\[init\] cdk synth of/g)?.length, 1, "one synth");
    assert.doesNotMatch(init.err.join(""), /aphex-init-/);
    const text = await Deno.readTextFile(join(repo, "aphex-config.yaml"));
    assert.ok(text.startsWith(`# yaml-language-server: $schema=${SCHEMA_URL}\n`));
    assert.match(text, /name: prod\n +region: eu-west-1\n +account: "222222222222"/);
    assert.match(text, /path: infra\/bin\/app\.mts/);

    const validate = captureContext(["validate"], { cwd: repo, env });
    assert.equal(await main(validate), 0, validate.err.join(""));
    assert.match(validate.out.join(""), /valid \(2 environments, 6 stacks\)/);

    const generate = captureContext(["generate"], { cwd: repo, env });
    assert.equal(await main(generate), 0, generate.err.join(""));
    for (const tool of ["validate-argo", "argo-lint"]) {
      const r = await new Deno.Command(join(ARGO_BIN, tool), {
        args: [join(repo, "manifests")],
      }).output();
      const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      assert.equal(r.code, 0, `${tool}: ${text}`);
    }

    // A second init refuses; --force rewrites.
    const again = captureContext(["init"], { cwd: repo, env });
    assert.equal(await main(again), 2);
    const forced = captureContext(["init", "--force"], { cwd: repo, env });
    assert.equal(await main(forced), 0, forced.err.join(""));
    assert.match(
      await Deno.readTextFile(join(repo, "aphex-config.yaml")),
      /account: "123456789012" # replace with your AWS account id/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
