import assert from "node:assert/strict";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { captureContext } from "../command/contract.ts";
import { main } from "../cli/main.ts";
import { runArtifactsVerify } from "../cli/artifacts.ts";
import { fromJsonText } from "../models/_codec.ts";
import { logKey, metadataKey, readText } from "../adapters/store/artifact_store.ts";
import { BuildMetadataDocumentCodec, readBuildMetadata } from "../adapters/store/artifacts.ts";
import { LocalArtifactStore } from "../adapters/store/local_store.ts";
import { checkoutCommit } from "../adapters/git/checkout.ts";
import { sha256File, sha256Stream } from "../adapters/store/hash.ts";
import type { StageInputs } from "../command/stage_runtime.ts";
import { type BuildDeps, runBuild } from "./build.ts";
import { makeRepo, testGitEnv } from "../tests/stages/_git_repo.ts";
import { startLocalS3 } from "../tests/stages/_s3rver.ts";

const UNICODE_NAME = "nested/ünïcødé 文件 ✓.txt";

function configYaml(commands: string[], artifacts = "artifacts"): string {
  return [
    'version: "1.0"',
    "build:",
    "  commands:",
    ...commands.map((c) => `    - ${JSON.stringify(c)}`),
    `  artifacts: ${artifacts}`,
    "environments:",
    "  - name: dev",
    "    region: us-east-1",
    '    account: "111111111111"',
    "    stacks:",
    "      - { name: App-dev, path: infra/app.ts }",
    "",
  ].join("\n");
}

const TREE_COMMANDS = [
  "mkdir -p artifacts/nested/deep/deeper",
  "printf '' > artifacts/empty.txt && printf '' > artifacts/nested/deep/deeper/empty2",
  "head -c 67108864 /dev/urandom > artifacts/big.bin",
  `echo unicode > 'artifacts/${UNICODE_NAME}'`,
  "echo app > artifacts/nested/deep/app.js && echo built",
];

interface Fixture {
  root: string;
  inputs: StageInputs;
  sha: string;
  deps: BuildDeps;
  logs: string[];
}

async function withFixture(
  commands: string[],
  fn: (f: Fixture) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-build-" });
  try {
    const repo = await makeRepo(root, [{
      "aphex-config.yaml": configYaml(commands),
      "src/x.txt": "x\n",
    }]);
    const sha = repo.commits[0]!;
    const logs: string[] = [];
    const inputs: StageInputs = {
      workspace: `${root}/ws`,
      commitSha: sha,
      repoUrl: repo.url,
      configFile: "aphex-config.yaml",
      storeDir: `${root}/store`,
      outputsDir: `${root}/outputs`,
    };
    const deps: BuildDeps = {
      env: { ...testGitEnv(root), HOME: "/nonexistent-aphex-home" },
      log: (l) => logs.push(l),
      allowFileUrls: true,
    };
    await fn({ root, inputs, sha, deps, logs });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("build: nested tree, empty files, 64 MiB multipart, unicode names → s3rver; verify; corruption; rerun", async () => {
  const s3 = await startLocalS3();
  const store = await s3.store({ partSize: 8 * 1024 * 1024 });
  try {
    await withFixture(TREE_COMMANDS, async ({ inputs, sha, deps, logs }) => {
      const sent: string[] = [];
      const putKeys: string[] = [];
      store.client.middlewareStack.add(
        (next, context) => (args) => {
          sent.push(context.commandName ?? "");
          const key = (args.input as { Key?: string }).Key;
          if (context.commandName === "PutObjectCommand" && key) putKeys.push(key);
          if (context.commandName === "CompleteMultipartUploadCommand" && key) putKeys.push(key);
          return next(args);
        },
        { step: "initialize", name: "recordCommands" },
      );
      const outcome = await runBuild(inputs, { ...deps, store });
      assert.equal(outcome.exitCode, 0, logs.join("\n"));
      const expected = [
        "big.bin",
        "empty.txt",
        "nested/deep/app.js",
        "nested/deep/deeper/empty2",
        UNICODE_NAME,
      ];
      assert.deepEqual(outcome.result.artifacts, expected);
      assert.ok(logs.includes("[build/5] built"), "command output streamed with its prefix");

      // metadata.json describes exactly what was uploaded, and was written last.
      const doc = await readBuildMetadata(store, sha);
      assert.equal(doc.commitSha, sha);
      assert.equal(doc.build.success, true);
      assert.equal(doc.artifacts.length, expected.length);
      const objects = await store.list(`${sha}/`);
      assert.deepEqual(
        objects.map((o) => o.key),
        [...expected.map((p) => `${sha}/artifacts/${p}`), metadataKey(sha)].sort(),
      );
      for (const [i, rel] of expected.entries()) {
        const local = await sha256File(`${inputs.workspace}/artifacts/${rel}`);
        const meta = doc.artifacts[i]!;
        assert.equal(meta.s3Path, `s3://${s3.bucket}/${sha}/artifacts/${rel}`);
        assert.equal(meta.checksum, local.sha256);
        assert.equal(meta.sizeBytes, local.size);
        // Downloaded content re-hashes to the same digest; the object carries its SHA-256.
        const remote = await sha256Stream(await store.get(`${sha}/artifacts/${rel}`));
        assert.deepEqual(remote, local);
        assert.equal((await store.head(`${sha}/artifacts/${rel}`))?.sha256, local.sha256);
      }
      assert.equal(doc.artifacts.find((a) => a.s3Path.endsWith("empty.txt"))?.sizeBytes, 0);
      // The 64 MiB object went up as a multipart upload of 8 × 8 MiB parts.
      const head = await store.client.send(
        new HeadObjectCommand({ Bucket: s3.bucket, Key: `${sha}/artifacts/big.bin` }),
      );
      assert.equal(head.ContentLength, 64 * 1024 * 1024);
      assert.equal(sent.filter((c) => c === "CreateMultipartUploadCommand").length, 1);
      assert.equal(sent.filter((c) => c === "UploadPartCommand").length, 8);
      assert.equal(sent.filter((c) => c === "CompleteMultipartUploadCommand").length, 1);
      // metadata.json was the last object written.
      assert.equal(sent.findLast((c) => c.startsWith("Put")), "PutObjectCommand");
      assert.ok(putKeys.at(-1)?.endsWith("/metadata.json"));

      // `aphex artifacts verify` passes…
      const verifyArgs = { "commit-sha": sha, workspace: inputs.workspace };
      const ok = captureContext([]);
      assert.equal(await runArtifactsVerify(verifyArgs, ok, { store }), 0, ok.err.join(""));
      assert.match(ok.err.join(""), /5 artifact\(s\) of [0-9a-f]{40} verified/);

      // …and a corrupted object is detected and named.
      await store.client.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: `${sha}/artifacts/${UNICODE_NAME}`,
          Body: "evil\n",
        }),
      );
      const bad = captureContext([]);
      assert.equal(await runArtifactsVerify(verifyArgs, bad, { store }), 1);
      const err = bad.err.join("");
      assert.match(err, new RegExp(`error: ${UNICODE_NAME}: SHA-256 mismatch`));
      assert.match(err, /1 of 5 artifact\(s\)/);

      // Re-running the same SHA is idempotent: same keys, same checksums, verify passes again.
      const again = await runBuild(inputs, { ...deps, store });
      assert.equal(again.exitCode, 0);
      assert.deepEqual(
        (await store.list(`${sha}/`)).map((o) => o.key),
        objects.map((o) => o.key),
      );
      const doc2 = await readBuildMetadata(store, sha);
      assert.deepEqual(
        doc2.artifacts.map((a) => [a.s3Path, a.sizeBytes]),
        doc.artifacts.map((a) => [a.s3Path, a.sizeBytes]),
      );
      const fixed = captureContext([]);
      assert.equal(await runArtifactsVerify(verifyArgs, fixed, { store }), 0);
    });
  } finally {
    store.close();
    await s3.stop();
  }
});

Deno.test("build: server stopped mid-upload → clear failure, no metadata.json published", async () => {
  const s3 = await startLocalS3();
  const store = await s3.store({ partSize: 5 * 1024 * 1024, queueSize: 1 });
  try {
    await withFixture(TREE_COMMANDS, async ({ inputs, sha, deps, logs }) => {
      let killed = false;
      const outcome = await runBuild(inputs, {
        ...deps,
        store,
        uploadConcurrency: 1,
        onUploadProgress: (key, loaded) => {
          if (!killed && key.endsWith("big.bin") && loaded > 0 && loaded < 64 * 1024 * 1024) {
            killed = true;
            s3.kill();
          }
        },
      });
      assert.ok(killed, "the server was killed during the big upload");
      assert.equal(outcome.exitCode, 1);
      assert.equal(outcome.metadataUri, undefined);
      assert.match(
        outcome.failure ?? "",
        new RegExp(`upload of s3://${s3.bucket}/${sha}/artifacts/big\\.bin failed: `),
      );
      assert.equal(outcome.result.success, false);
      assert.ok(logs.some((l) => l.startsWith("[build] FAILED: upload of")));
      assert.ok(logs.some((l) => l.startsWith("[build] could not upload the log")));
      // Nothing named metadata.json exists anywhere in the server's storage.
      const found: string[] = [];
      const walk = (dir: string) => {
        for (const e of Deno.readDirSync(dir)) {
          if (e.isDirectory) walk(`${dir}/${e.name}`);
          else if (e.name.includes("metadata.json")) found.push(e.name);
        }
      };
      walk(s3.dir);
      assert.deepEqual(found, []);
    });
  } finally {
    store.close();
    await s3.stop();
  }
});

Deno.test("build: failing command → BuildResult with exit code and stderr tail, log uploaded, no metadata", async () => {
  await withFixture(
    ["echo step one", "echo compiling; echo 'error: boom' >&2; exit 3", "echo never-runs"],
    async ({ inputs, sha, deps, logs }) => {
      const outcome = await runBuild(inputs, deps);
      assert.equal(outcome.exitCode, 1);
      assert.equal(outcome.result.success, false);
      assert.equal(outcome.result.exitCode, 3);
      assert.equal(outcome.result.stderr, "error: boom");
      assert.equal(outcome.result.stdout, "compiling");
      assert.match(outcome.failure ?? "", /build command #2 .* exited with code 3/);
      assert.ok(!logs.some((l) => l.includes("never-runs")));
      const store = new LocalArtifactStore(inputs.storeDir);
      assert.equal(await store.exists(metadataKey(sha)), false);
      const log = await readText(store, logKey(sha, "build"));
      assert.match(log, /\[build\/1\] step one/);
      assert.match(log, /\[build\/2\] error: boom/);
      assert.match(log, /FAILED: build command #2/);
      assert.equal(outcome.logUri, store.uriFor(logKey(sha, "build")));
    },
  );
});

Deno.test("aphex build CLI: local store, outputs dir, --json, verify; usage errors exit 2", async () => {
  await withFixture(TREE_COMMANDS.filter((c) => !c.includes("urandom")), async (f) => {
    // The workspace is already at the commit, so the CLI needs no repository URL.
    await checkoutCommit({
      workspace: f.inputs.workspace,
      commitSha: f.sha,
      repoUrl: f.inputs.repoUrl!,
      allowFileUrls: true,
      env: f.deps.env,
    });
    const env: Record<string, string> = {
      ...(f.deps.env as Record<string, string>),
      APHEX_WORKSPACE: f.inputs.workspace,
      APHEX_COMMIT_SHA: f.sha,
      APHEX_OUTPUTS_DIR: f.inputs.outputsDir,
      AWS_SECRET_ACCESS_KEY: "not-a-real-secret-but-redacted",
    };
    const ctx = captureContext(["build", "--json"], { env });
    assert.equal(await main(ctx), 0, ctx.err.join(""));
    const printed = JSON.parse(ctx.out.join(""));
    assert.equal(printed.success, true);
    assert.equal(
      printed.metadataUri,
      `file://${f.inputs.workspace}/.aphex/store/${f.sha}/metadata.json`,
    );
    assert.equal(await Deno.readTextFile(`${f.inputs.outputsDir}/success`), "true");
    assert.equal(await Deno.readTextFile(`${f.inputs.outputsDir}/exit-code`), "0");
    assert.equal(await Deno.readTextFile(`${f.inputs.outputsDir}/artifact-count`), "4");
    const result = JSON.parse(await Deno.readTextFile(`${f.inputs.outputsDir}/result.json`));
    assert.equal(result.result.success, true);
    const storeText = await Deno.readTextFile(
      `${f.inputs.workspace}/.aphex/store/${f.sha}/metadata.json`,
    );
    assert.equal(fromJsonText(BuildMetadataDocumentCodec, storeText, "m").artifacts.length, 4);

    const verify = captureContext(["artifacts", "verify", "--workspace", f.inputs.workspace], {
      env,
    });
    assert.equal(await main(verify), 0, verify.err.join(""));

    const noSha = captureContext(["build"], { env: { APHEX_WORKSPACE: f.inputs.workspace } });
    assert.equal(await main(noSha), 2);
    assert.match(noSha.err.join(""), /--commit-sha/);
    const badSha = captureContext(["build", "--commit-sha", "abc;rm -rf /"], { env });
    assert.equal(await main(badSha), 2);
    const help = captureContext(["build", "--help"]);
    assert.equal(await main(help), 0);
    assert.match(help.out.join(""), /APHEX_ARTIFACT_BUCKET/);
  });
});

Deno.test("aphex build + artifacts verify against s3rver configured only through AWS_* env vars", async () => {
  const s3 = await startLocalS3("env-bucket");
  try {
    await withFixture(["mkdir -p artifacts/d", "echo one > artifacts/d/one.txt"], async (f) => {
      await checkoutCommit({
        workspace: f.inputs.workspace,
        commitSha: f.sha,
        repoUrl: f.inputs.repoUrl!,
        allowFileUrls: true,
        env: f.deps.env,
      });
      const env: Record<string, string> = {
        ...(f.deps.env as Record<string, string>),
        APHEX_WORKSPACE: f.inputs.workspace,
        APHEX_COMMIT_SHA: f.sha,
        APHEX_OUTPUTS_DIR: f.inputs.outputsDir,
        APHEX_ARTIFACT_BUCKET: s3.bucket,
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
        APHEX_S3_FORCE_PATH_STYLE: "true",
      };
      const build = captureContext(["build"], { env });
      assert.equal(await main(build), 0, build.err.join(""));
      assert.equal(
        await Deno.readTextFile(`${f.inputs.outputsDir}/metadata-uri`),
        `s3://env-bucket/${f.sha}/metadata.json`,
      );
      // The secret key value never reaches the log.
      assert.ok(!build.err.join("").includes("S3RVER"));
      const verify = captureContext(["artifacts", "verify", "--json"], { env });
      assert.equal(await main(verify), 0, verify.err.join(""));
      assert.deepEqual(JSON.parse(verify.out.join("")), {
        commitSha: f.sha,
        checked: 1,
        problems: [],
      });
    });
  } finally {
    await s3.stop();
  }
});
