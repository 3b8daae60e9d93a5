/**
 * Issue 13, workspace boundary: items 1, 2, 8, 9, 10 and 11, each against the real build stage
 * (git checkout, local store) or deploy's download, with hostile trees.
 */
import assert from "node:assert/strict";
import { captureContext } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { parseConfig } from "../../models/config_parse.ts";
import { metadataKey } from "../../adapters/store/artifact_store.ts";
import { encodeBuildMetadata } from "../../adapters/store/artifacts.ts";
import { LocalArtifactStore } from "../../adapters/store/local_store.ts";
import { checkoutCommit } from "../../adapters/git/checkout.ts";
import { sha256Stream } from "../../adapters/store/hash.ts";
import type { StageInputs } from "../../command/stage_runtime.ts";
import { freshArtifactsDir } from "../../adapters/workspace/boundary.ts";
import { type BuildDeps, runBuild } from "../../stages/build.ts";
import { downloadArtifacts } from "../../adapters/store/download.ts";
import { makeRepo, testGitEnv } from "./_git_repo.ts";

const OUTSIDE_SECRET = "eyJhbGciOiJSUzI1NiIsImtpZCI6IndlYi1pZGVudGl0eS10b2tlbiJ9.outside-secret";

function configYaml(commands: string[], artifacts: string): string {
  return [
    'version: "1.0"',
    "build:",
    "  commands:",
    ...commands.map((c) => `    - ${JSON.stringify(c)}`),
    `  artifacts: ${JSON.stringify(artifacts)}`,
    "environments:",
    "  - name: dev",
    "    region: us-east-1",
    '    account: "111111111111"',
    "    stacks:",
    "      - { name: App-dev, path: infra/app.ts }",
    "",
  ].join("\n");
}

async function git(args: string[], cwd: string, env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd, env, clearEnv: true }).output();
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

interface Fixture {
  root: string;
  outside: string;
  inputs: StageInputs;
  deps: BuildDeps;
  logs: string[];
  /** Commits files (and `links`: path → symlink target) on top; returns the new SHA. */
  commit(files: Record<string, string>, links?: Record<string, string>): Promise<string>;
}

async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-boundary-" });
  try {
    const outside = `${root}/outside`;
    await Deno.mkdir(`${outside}/dist`, { recursive: true });
    await Deno.writeTextFile(`${outside}/token`, OUTSIDE_SECRET);
    await Deno.writeTextFile(`${outside}/dist/token`, OUTSIDE_SECRET);
    const repo = await makeRepo(root, [{ "README.md": "x\n" }]);
    const env = testGitEnv(root);
    const logs: string[] = [];
    const inputs: StageInputs = {
      workspace: `${root}/ws`,
      commitSha: repo.commits[0]!,
      repoUrl: repo.url,
      configFile: "aphex-config.yaml",
      storeDir: `${root}/store`,
      outputsDir: `${root}/outputs`,
    };
    const commit = async (files: Record<string, string>, links: Record<string, string> = {}) => {
      for (const [path, content] of Object.entries(files)) {
        const full = `${repo.dir}/${path}`;
        await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
        await Deno.writeTextFile(full, content);
      }
      for (const [path, target] of Object.entries(links)) {
        const full = `${repo.dir}/${path}`;
        await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
        await Deno.remove(full, { recursive: true }).catch(() => {});
        await Deno.symlink(target, full);
      }
      await git(["add", "--all"], repo.dir, env);
      await git(["commit", "--quiet", "-m", "next"], repo.dir, env);
      return await git(["rev-parse", "HEAD"], repo.dir, env);
    };
    const deps: BuildDeps = {
      env: { ...env, HOME: "/nonexistent-aphex-home" },
      log: (l) => logs.push(l),
      allowFileUrls: true,
    };
    await fn({ root, outside, inputs, deps, logs, commit });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Every byte stored under the store root, as one text. */
async function storedText(storeDir: string): Promise<string> {
  const store = new LocalArtifactStore(storeDir);
  let all = "";
  for (const o of await store.list("")) {
    all += new TextDecoder().decode(
      new Uint8Array(await new Response(await store.get(o.key)).arrayBuffer()),
    );
  }
  return all;
}

async function build(f: Fixture, sha: string) {
  const inputs = { ...f.inputs, commitSha: sha };
  try {
    return await runBuild(inputs, f.deps);
  } catch (e) {
    return e as Error;
  }
}

Deno.test("item 1: a committed symlink as the artifacts directory never uploads outside files", async () => {
  await withFixture(async (f) => {
    const sha = await f.commit({ "aphex-config.yaml": configYaml(["true"], "artifacts") }, {
      artifacts: f.outside,
    });
    await build(f, sha);
    assert.ok(!(await storedText(f.inputs.storeDir)).includes(OUTSIDE_SECRET));
  });
});

Deno.test("item 1: a symlinked parent of build.artifacts is refused, nothing outside read", async () => {
  await withFixture(async (f) => {
    const sha = await f.commit({ "aphex-config.yaml": configYaml(["true"], "out/dist") }, {
      out: f.outside,
    });
    const outcome = await build(f, sha);
    assert.ok(outcome instanceof Error, "the build must refuse the linked parent");
    assert.match(outcome.message, /out is a symbolic link/);
    assert.ok(!(await storedText(f.inputs.storeDir)).includes(OUTSIDE_SECRET));
    assert.equal(await Deno.readTextFile(`${f.outside}/dist/token`), OUTSIDE_SECRET);
  });
});

Deno.test("item 1: a build command replacing the artifacts directory by a link fails the build", async () => {
  await withFixture(async (f) => {
    const sha = await f.commit({
      "aphex-config.yaml": configYaml(
        [`rm -rf artifacts && ln -s ${f.outside} artifacts`],
        "artifacts",
      ),
    });
    const outcome = await build(f, sha);
    assert.ok(!(outcome instanceof Error), String(outcome));
    assert.equal(outcome.exitCode, 1);
    assert.match(outcome.failure ?? "", /symbolic link/);
    assert.ok(!(await storedText(f.inputs.storeDir)).includes(OUTSIDE_SECRET));
    assert.equal(await new LocalArtifactStore(f.inputs.storeDir).exists(metadataKey(sha)), false);
  });
});

Deno.test("item 2: deploy's download never writes through a committed link", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-boundary-" });
  try {
    const sha = "a".repeat(40);
    const store = new LocalArtifactStore(`${root}/store`);
    const body = new TextEncoder().encode("payload\n");
    const digest = await sha256Stream(ReadableStream.from([body]));
    await store.put(`${sha}/artifacts/sub/x`, body);
    await store.put(
      metadataKey(sha),
      encodeBuildMetadata({
        commitSha: sha,
        artifacts: [{
          commitSha: sha,
          timestamp: new Date(0),
          s3Path: store.uriFor(`${sha}/artifacts/sub/x`),
          artifactType: "file",
          sizeBytes: digest.size,
          checksum: digest.sha256,
        }],
        build: {
          success: true,
          exitCode: 0,
          stdout: "",
          stderr: "",
          artifacts: ["sub/x"],
          duration: 0,
        },
      }),
    );
    await Deno.mkdir(`${root}/elsewhere`);
    await Deno.mkdir(`${root}/ws/dist`, { recursive: true });
    await Deno.symlink(`${root}/elsewhere`, `${root}/ws/dist/sub`);
    // The directory as a checkout leaves it (the link committed): nothing may land elsewhere.
    const result = await downloadArtifacts(store, sha, `${root}/ws/dist`);
    assert.deepEqual([...Deno.readDirSync(`${root}/elsewhere`)], []);
    assert.equal(result.problems.length, 1, "the linked directory is refused, not followed");
    // And the stage's own path: a fresh directory first, then the download succeeds inside it.
    const dir = await freshArtifactsDir(`${root}/ws`, "dist");
    const again = await downloadArtifacts(store, sha, dir);
    assert.deepEqual(again.problems, []);
    assert.equal(await Deno.readTextFile(`${root}/ws/dist/sub/x`), "payload\n");
    assert.equal(Deno.lstatSync(`${root}/ws/dist/sub`).isSymlink, false);
    assert.deepEqual([...Deno.readDirSync(`${root}/elsewhere`)], []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("item 8: names starting with '..' are names: published by build, accepted by deploy", async () => {
  await withFixture(async (f) => {
    const sha = await f.commit({
      "aphex-config.yaml": configYaml(["mkdir -p ..dist && echo hi > ..dist/..x"], "..dist"),
    });
    const outcome = await build(f, sha);
    assert.ok(!(outcome instanceof Error), String(outcome));
    assert.equal(outcome.exitCode, 0, outcome.failure ?? "");
    assert.deepEqual(outcome.result.artifacts, ["..x"]);
    const store = new LocalArtifactStore(f.inputs.storeDir);
    const dest = `${f.root}/deploy-dest`;
    await Deno.mkdir(dest);
    const download = await downloadArtifacts(store, sha, dest);
    assert.deepEqual(download.problems, []);
    assert.equal(await Deno.readTextFile(`${dest}/..x`), "hi\n");
  });
});

Deno.test("item 9: build.artifacts '.' (or .git, or the store) is refused by config and by build", async () => {
  for (const bad of [".", "./", ".git", "a/.git/b", ".aphex/store", ".aphex"]) {
    const parsed = parseConfig(configYaml(["true"], bad));
    assert.equal(parsed.ok, false, `config must refuse ${bad}`);
  }
  assert.equal(parseConfig(configYaml(["true"], "..dist")).ok, true);
  await withFixture(async (f) => {
    // A config that bypassed validation (written by hand, older binary) is refused at run time.
    const { freshArtifactsDir: fresh } = await import("../../adapters/workspace/boundary.ts");
    await Deno.mkdir(f.inputs.workspace, { recursive: true });
    for (const bad of [".", ".git"]) {
      await assert.rejects(() => fresh(f.inputs.workspace, bad), /build.artifacts/);
    }
    await assert.rejects(
      () => fresh(f.inputs.workspace, "store", { storeDir: `${f.inputs.workspace}/store/x` }),
      /overlaps the local artifact store/,
    );
  });
});

Deno.test("item 10: a reused workspace never publishes stale artifacts of an earlier commit", async () => {
  await withFixture(async (f) => {
    const first = await f.commit({
      ".gitignore": "artifacts/\n",
      "aphex-config.yaml": configYaml(
        ["mkdir -p artifacts && echo old > artifacts/old.txt"],
        "artifacts",
      ),
    });
    const one = await build(f, first);
    assert.ok(!(one instanceof Error) && one.exitCode === 0, String(one));
    const second = await f.commit({
      "aphex-config.yaml": configYaml(
        ["mkdir -p artifacts && echo new > artifacts/new.txt"],
        "artifacts",
      ),
    });
    const two = await build(f, second);
    assert.ok(!(two instanceof Error) && two.exitCode === 0, String(two));
    assert.deepEqual(two.result.artifacts, ["new.txt"]);
  });
});

Deno.test("item 11: an unwritable --outputs-dir fails before anything is published", async () => {
  await withFixture(async (f) => {
    const sha = await f.commit({
      "aphex-config.yaml": configYaml(["mkdir -p artifacts && echo a > artifacts/a"], "artifacts"),
    });
    await checkoutCommit({
      workspace: f.inputs.workspace,
      commitSha: sha,
      repoUrl: f.inputs.repoUrl!,
      allowFileUrls: true,
      env: f.deps.env,
    });
    const blocker = `${f.root}/not-a-dir`;
    await Deno.writeTextFile(blocker, "file");
    const ctx = captureContext(["build"], {
      env: {
        ...(f.deps.env as Record<string, string>),
        APHEX_WORKSPACE: f.inputs.workspace,
        APHEX_COMMIT_SHA: sha,
        APHEX_OUTPUTS_DIR: `${blocker}/outputs`,
        APHEX_WORKFLOW_NAME: "aphex-abc12",
      },
    });
    const code = await main(ctx);
    assert.equal(code, 2, ctx.err.join(""));
    assert.match(ctx.err.join(""), /outputs directory .* is not writable/);
    const store = new LocalArtifactStore(`${f.inputs.workspace}/.aphex/store`);
    assert.equal(await store.exists(metadataKey(sha)), false);
    assert.deepEqual(await store.list(""), []);
  });
});
