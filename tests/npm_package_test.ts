/**
 * The npm install path, end to end (issue 16): `deno task npm` builds and packs the package; the
 * tarball is installed offline into an empty prefix (Node.js and the `deno` npm package only);
 * in a fresh git repository with the fixture CDK app, the installed `aphex` runs `--version`,
 * `init`, `validate`, `generate` (manifests pass validate-argo and argo-lint) and `run --local`,
 * without touching Aphex's own checkout. The `aphex/cdk` subpath (issue 19): with the fixture app's
 * packages beside the installed `aphex`, `aphex init --pipeline-stack` writes the pipeline stack's
 * CDK app and `pipeline.pipelineStack`, and the real CDK CLI synthesizes it with Node (the template
 * holds the artifact bucket and the IRSA role). Both build into dist/: one file, so they never run
 * in parallel.
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as load } from "yaml";
import { makeRepo } from "./stages/_git_repo.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURE_APP = join(ROOT, "tests", "fixtures", "cdk-app");
const ARGO_BIN = Deno.env.get("APHEX_ARGO_BIN") ?? join(ROOT, "..", "shared", "bin");
const OIDC_ARN =
  "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

/** The `deno` npm package's platform package for this machine. */
function denoPlatformPackage(): string {
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "x64";
  const os = Deno.build.os === "windows" ? "win32" : Deno.build.os;
  return `@deno/${os}-${arch}${os === "linux" ? "-glibc" : ""}`;
}

async function run(
  bin: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(bin, {
    args,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.env ? { env: options.env } : {}),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("npm package: packed, installed offline into an empty prefix, init → generate → run --local in a fresh repository", async () => {
  await Deno.stat(join(FIXTURE_APP, "node_modules", "aws-cdk", "package.json"));
  const root = await Deno.makeTempDir({ prefix: "aphex-npm-" });
  try {
    const build = await run(Deno.execPath(), [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-env",
      join(ROOT, "tools", "build_npm.ts"),
    ]);
    assert.equal(build.code, 0, build.err);
    const tarball = build.out.trim().split("\n").at(-1)!;
    assert.match(tarball, /aphex-\d+\.\d+\.\d+\.tgz$/);
    const listing = await run("tar", ["-tzf", tarball]);
    for (
      const f of ["package/bin/aphex.cjs", "package/dist/bundle/mod.js", "package/package.json"]
    ) {
      assert.ok(listing.out.split("\n").includes(f), `${f} in the tarball`);
    }

    // The deno package (and its platform package) must be in the npm cache; then no network.
    const version = Deno.version.deno;
    const cache = await run("npm", [
      "cache",
      "add",
      "--prefer-offline",
      `deno@${version}`,
      `${denoPlatformPackage()}@${version}`,
    ]);
    assert.equal(cache.code, 0, cache.err);
    const prefix = join(root, "prefix");
    await Deno.mkdir(prefix);
    const install = await run("npm", [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      "--prefix",
      prefix,
      tarball,
    ]);
    assert.equal(install.code, 0, install.err);
    const aphex = join(prefix, "node_modules", ".bin", "aphex");

    // A fresh git repository with a CDK app (the fixture's, its node_modules linked).
    const files: Record<string, string> = { ".gitignore": "infra/node_modules\n.aphex/\n" };
    for (const f of ["cdk.json", "package.json", "bin/app.mts", "lib/stacks.mts"]) {
      files[`infra/${f}`] = await Deno.readTextFile(join(FIXTURE_APP, f));
    }
    const repo = await makeRepo(root, [files]);
    await Deno.symlink(join(FIXTURE_APP, "node_modules"), join(repo.dir, "infra", "node_modules"));
    const home = join(root, "home");
    await Deno.mkdir(home);
    const env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: home,
      CDK_DISABLE_CLI_TELEMETRY: "true",
      AWS_EC2_METADATA_DISABLED: "true",
      NO_COLOR: "1",
    };
    const cli = (args: string[]) => run(aphex, args, { cwd: repo.dir, env });

    const v = await cli(["--version"]);
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /^aphex \d+\.\d+\.\d+\n$/);

    const init = await cli(["init", "--env", "dev:us-east-1:111111111111"]);
    assert.equal(init.code, 0, init.err);
    assert.match(init.out, /3\. aphex-fixture-monitoring/);
    const configFile = join(repo.dir, "aphex-config.yaml");
    // The build command init proposes (npm ci) would reinstall the linked fixture: use a stub.
    const config = await Deno.readTextFile(configFile);
    await Deno.writeTextFile(configFile, config.replace('"npm ci --prefix infra"', '"echo built"'));

    const validate = await cli(["validate"]);
    assert.equal(validate.code, 0, validate.err);
    const generate = await cli(["generate"]);
    assert.equal(generate.code, 0, generate.err);
    for (const tool of ["validate-argo", "argo-lint"]) {
      const r = await run(join(ARGO_BIN, tool), [join(repo.dir, "manifests")]);
      assert.equal(r.code, 0, `${tool}: ${r.out}${r.err}`);
    }

    const local = await cli(["run", "--local", "--json"]);
    assert.equal(local.code, 0, local.err);
    const outcome = JSON.parse(local.out) as { steps: { stage: string; status: string }[] };
    assert.deepEqual(
      outcome.steps.filter((s) => s.status === "ok").map((s) => s.stage),
      ["preflight", "build", "synth-dev"],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno install -g from a checkout (the documented command) gives a working aphex", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-deno-install-" });
  try {
    const install = await run(Deno.execPath(), [
      "install",
      "-g",
      "-A",
      "-n",
      "aphex",
      "--root",
      root,
      "--config",
      join(ROOT, "deno.json"),
      join(ROOT, "mod.ts"),
    ], { cwd: root });
    assert.equal(install.code, 0, install.err);
    const repo = join(root, "repo");
    await Deno.mkdir(repo);
    await Deno.writeTextFile(
      join(repo, "aphex-config.yaml"),
      'version: "1.0"\nbuild: { commands: [make] }\nenvironments:\n  - name: dev\n' +
        '    region: us-east-1\n    account: "123456789012"\n' +
        "    stacks: [{ name: App, path: app.ts }]\n",
    );
    const bin = join(root, "bin", Deno.build.os === "windows" ? "aphex.cmd" : "aphex");
    const v = await run(bin, ["--version"], { cwd: repo });
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /^aphex \d+\.\d+\.\d+\n$/);
    // It reads the configuration of the directory it runs in, not Aphex's checkout.
    const validate = await run(bin, ["validate", "--skip-paths"], { cwd: repo });
    assert.equal(validate.code, 0, validate.err);
    assert.equal(validate.out, "aphex-config.yaml: valid (1 environment, 1 stack)\n");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("JSR-ready: deno publish --dry-run passes and deno doc --lint mod.ts is clean", async () => {
  const doc = await run(Deno.execPath(), ["doc", "--lint", "mod.ts"], { cwd: ROOT });
  assert.equal(doc.code, 0, doc.err);
  const publish = await run(Deno.execPath(), ["publish", "--dry-run", "--allow-dirty"], {
    cwd: ROOT,
  });
  assert.equal(publish.code, 0, publish.err);
  assert.match(publish.out + publish.err, /Dry run complete/);
});

Deno.test("npm package: aphex/cdk from a Node CDK app — init --pipeline-stack, then a real cdk synth of the pipeline stack", async () => {
  await Deno.stat(join(FIXTURE_APP, "node_modules", "aws-cdk", "package.json"));
  const root = await Deno.makeTempDir({ prefix: "aphex-npm-cdk-" });
  try {
    const build = await run(Deno.execPath(), [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-env",
      join(ROOT, "tools", "build_npm.ts"),
    ]);
    assert.equal(build.code, 0, build.err);
    const tarball = build.out.trim().split("\n").at(-1)!;
    const listing = (await run("tar", ["-tzf", tarball])).out.split("\n");
    for (const f of ["package/dist/cdk/pipeline_resources.js", "package/dist/cdk/config_file.js"]) {
      assert.ok(listing.includes(f), `${f} in the tarball`);
    }
    // aws-cdk-lib and constructs are the app's (peerDependencies), never bundled.
    const packed = await run("tar", ["-xzf", tarball, "-C", root, "package/"]);
    assert.equal(packed.code, 0, packed.err);
    const pkg = JSON.parse(await Deno.readTextFile(join(root, "package", "package.json")));
    assert.deepEqual(pkg.peerDependencies, { "aws-cdk-lib": "^2", constructs: "^10" });
    assert.equal(pkg.exports["./cdk"], "./dist/cdk/pipeline_resources.js");
    assert.equal(pkg.exports["./cdk/config"], "./dist/cdk/config_file.js");
    for (const f of listing.filter((f) => f.startsWith("package/dist/cdk/") && f.endsWith(".js"))) {
      const text = await Deno.readTextFile(join(root, f));
      assert.doesNotMatch(
        text,
        /class Construct\b|node_modules\/aws-cdk-lib/,
        `${f}: no bundled CDK`,
      );
    }

    // Offline install (the deno package must be in the npm cache; then no network).
    const version = Deno.version.deno;
    const cache = await run("npm", [
      "cache",
      "add",
      "--prefer-offline",
      `deno@${version}`,
      `${denoPlatformPackage()}@${version}`,
    ]);
    assert.equal(cache.code, 0, cache.err);
    const prefix = join(root, "prefix");
    await Deno.mkdir(prefix);
    const install = await run("npm", [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      "--prefix",
      prefix,
      tarball,
    ]);
    assert.equal(install.code, 0, install.err);
    const aphex = join(prefix, "node_modules", ".bin", "aphex");

    // A fresh repository with the fixture CDK app in infra/. Its node_modules: the fixture's
    // packages (linked, no network) plus the installed aphex, as `npm i -D aphex` in infra/
    // would give; aphex's own peer imports resolve to the same aws-cdk-lib.
    const files: Record<string, string> = { ".gitignore": "node_modules\n.aphex/\ncdk.out\n" };
    for (const f of ["cdk.json", "package.json", "bin/app.mts", "lib/stacks.mts"]) {
      files[`infra/${f}`] = await Deno.readTextFile(join(FIXTURE_APP, f));
    }
    const repo = await makeRepo(root, [files]);
    const modules = join(repo.dir, "infra", "node_modules");
    await Deno.mkdir(modules);
    for await (const e of Deno.readDir(join(FIXTURE_APP, "node_modules"))) {
      await Deno.symlink(join(FIXTURE_APP, "node_modules", e.name), join(modules, e.name));
      if (e.name === "aws-cdk-lib" || e.name === "constructs") {
        await Deno.symlink(
          join(FIXTURE_APP, "node_modules", e.name),
          join(prefix, "node_modules", e.name),
        );
      }
    }
    await Deno.symlink(join(prefix, "node_modules", "aphex"), join(modules, "aphex"));

    const home = join(root, "home");
    await Deno.mkdir(home);
    const env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: home,
      CDK_DISABLE_CLI_TELEMETRY: "true",
      AWS_EC2_METADATA_DISABLED: "true",
      NO_COLOR: "1",
    };
    const cli = (args: string[]) => run(aphex, args, { cwd: repo.dir, env });

    const init = await cli([
      "init",
      "--env",
      "dev:us-east-1:111111111111",
      "--pipeline-stack",
      "--oidc-provider-arn",
      OIDC_ARN,
    ]);
    assert.equal(init.code, 0, init.err);
    assert.match(init.out, /Wrote infra\/pipeline\/pipeline-stack\.ts/);
    const config = load(await Deno.readTextFile(join(repo.dir, "aphex-config.yaml"))) as {
      pipeline: { pipelineStack: unknown };
    };
    assert.deepEqual(config.pipeline.pipelineStack, {
      name: "AphexPipeline",
      path: "infra/pipeline/pipeline-stack.ts",
    });
    const stackFile = await Deno.readTextFile(join(repo.dir, "infra/pipeline/pipeline-stack.ts"));
    assert.match(stackFile, /from "aphex\/cdk"/);
    // Never overwritten without --force.
    const again = await cli(["init", "--config", "other.yaml", "--pipeline-stack"]);
    assert.equal(again.code, 2, again.err);
    assert.match(again.err, /pipeline-stack\.ts exists; pass --force/);

    const validate = await cli(["validate"]);
    assert.equal(validate.code, 0, validate.err);

    // The real CDK CLI runs the written app with Node (tsx) from its folder.
    const out = join(root, "cdk.out");
    const synth = await run("npx", ["--no-install", "cdk", "synth", "--quiet", "-o", out], {
      cwd: join(repo.dir, "infra", "pipeline"),
      env: { ...env, CDK_DEFAULT_ACCOUNT: "111111111111", CDK_DEFAULT_REGION: "us-east-1" },
    });
    assert.equal(synth.code, 0, synth.out + synth.err);
    // deno-lint-ignore no-explicit-any
    const template: { Resources: Record<string, any> } = JSON.parse(
      await Deno.readTextFile(join(out, "AphexPipeline.template.json")),
    );
    const resources = Object.values(template.Resources);
    const ofType = (t: string) => resources.filter((r) => r.Type === t);
    const [bucket] = ofType("AWS::S3::Bucket");
    assert.ok(bucket, "the artifact bucket");
    assert.equal(bucket.Properties.VersioningConfiguration.Status, "Enabled");
    assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const roles = ofType("AWS::IAM::Role");
    assert.equal(roles.length, 1);
    const trust = roles[0].Properties.AssumeRolePolicyDocument.Statement[0];
    assert.equal(trust.Action, "sts:AssumeRoleWithWebIdentity");
    assert.equal(trust.Principal.Federated, OIDC_ARN);
    // sub = the default namespace and service account; aud = STS (keys: the issuer's).
    const condition = JSON.stringify(trust.Condition);
    assert.match(condition, /"system:serviceaccount:argo:aphex-pipeline"/);
    assert.match(condition, /"sts\.amazonaws\.com"/);
    assert.ok(ofType("AWS::IAM::Policy").length >= 1);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
