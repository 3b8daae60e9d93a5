import assert from "node:assert/strict";
import fc from "fast-check";
import { AphexError } from "../../models/errors.ts";
import { artifactKey, metadataKey, readText, validateKey } from "./artifact_store.ts";
import { encodeBuildMetadata, readBuildMetadata, verifyArtifacts } from "./artifacts.ts";
import { LocalArtifactStore } from "./local_store.ts";
import { sha256Bytes, sha256File, sha256Stream } from "./hash.ts";
import { startLocalS3 } from "../../tests/stages/_s3rver.ts";

const SHA = "89abcdef0123456789abcdef0123456789abcdef";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "aphex-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("streaming SHA-256 matches the one-shot digest", async () => {
  await withTemp(async (dir) => {
    const data = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) & 0xff);
    await Deno.writeFile(`${dir}/f`, data);
    assert.deepEqual(await sha256File(`${dir}/f`), {
      sha256: sha256Bytes(data),
      size: data.length,
    });
    await Deno.writeFile(`${dir}/empty`, new Uint8Array());
    assert.equal(
      (await sha256File(`${dir}/empty`)).sha256,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });
});

Deno.test("keys: traversal and odd segments rejected (property)", () => {
  for (const bad of ["", "/a", "a//b", "a/../b", "../x", "a/./b", "a\\b", ".tmp/x", "a\u0000b"]) {
    assert.throws(() => validateKey(bad), AphexError, bad);
  }
  assert.equal(validateKey(`${SHA}/artifacts/dïr/文件 1.txt`), `${SHA}/artifacts/dïr/文件 1.txt`);
  fc.assert(fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 5 }), (segments) => {
    const key = segments.join("/");
    let accepted = true;
    try {
      validateKey(key);
    } catch (e) {
      assert.ok(e instanceof AphexError, `unexpected error for ${JSON.stringify(key)}: ${e}`);
      accepted = false;
    }
    // An accepted key never has empty, "." or ".." segments.
    if (accepted) assert.ok(!segments.some((s) => s === "" || s === "." || s === ".."), key);
  }));
});

Deno.test("local store: put/get/head/list/delete, atomic writes, verify catches corruption", async () => {
  await withTemp(async (dir) => {
    const store = new LocalArtifactStore(`${dir}/store`);
    await Deno.writeTextFile(`${dir}/src.txt`, "from a file\n");
    const files: [string, string][] = [["a.txt", "alpha"], ["dir/ünï 文件.txt", "unicode"], [
      "e",
      "",
    ]];
    for (const [rel, content] of files) {
      await store.put(artifactKey(SHA, rel), content, { sha256: sha256Bytes(content) });
    }
    await store.put(artifactKey(SHA, "copied.txt"), { path: `${dir}/src.txt` });
    assert.equal(await readText(store, artifactKey(SHA, "copied.txt")), "from a file\n");
    assert.deepEqual(
      (await store.list(`${SHA}/artifacts/`)).map((o) => o.key),
      ["a.txt", "copied.txt", "dir/ünï 文件.txt", "e"].map((r) => `${SHA}/artifacts/${r}`),
    );
    assert.equal((await store.head(artifactKey(SHA, "a.txt")))?.size, 5);
    assert.equal(await store.exists(artifactKey(SHA, "missing")), false);
    await assert.rejects(store.get(artifactKey(SHA, "missing")), /not found/);
    // No temp files are left behind.
    assert.deepEqual([...Deno.readDirSync(`${dir}/store/.tmp`)], []);

    await assert.rejects(readBuildMetadata(store, SHA), /no complete build/);
    const now = new Date("2026-01-02T03:04:05.000Z");
    await store.put(
      metadataKey(SHA),
      encodeBuildMetadata({
        commitSha: SHA,
        artifacts: files.map(([rel, content]) => ({
          commitSha: SHA,
          timestamp: now,
          s3Path: store.uriFor(artifactKey(SHA, rel)),
          artifactType: "file",
          sizeBytes: new TextEncoder().encode(content).length,
          checksum: sha256Bytes(content),
        })),
        build: {
          success: true,
          exitCode: 0,
          stdout: "",
          stderr: "",
          duration: 1,
          artifacts: files.map((f) => f[0]),
        },
      }),
    );
    assert.deepEqual(await verifyArtifacts(store, SHA), {
      commitSha: SHA,
      checked: 3,
      problems: [],
    });
    await store.put(artifactKey(SHA, "dir/ünï 文件.txt"), "tampered");
    await store.delete(artifactKey(SHA, "e"));
    const report = await verifyArtifacts(store, SHA);
    assert.deepEqual(report.problems.map((p) => p.path), ["dir/ünï 文件.txt", "e"]);
    assert.match(report.problems[0]!.problem, /SHA-256 mismatch/);
    assert.match(report.problems[1]!.problem, /not found/);
  });
});

Deno.test("S3 store against s3rver: sha256 metadata, get, list, delete, missing keys", async () => {
  const s3 = await startLocalS3();
  const store = await s3.store();
  try {
    const body = "hello from s3\n";
    await store.put(`${SHA}/artifacts/x/ü.txt`, body, { sha256: sha256Bytes(body) });
    assert.deepEqual(await store.head(`${SHA}/artifacts/x/ü.txt`), {
      key: `${SHA}/artifacts/x/ü.txt`,
      size: body.length,
      sha256: sha256Bytes(body),
    });
    assert.equal(
      (await sha256Stream(await store.get(`${SHA}/artifacts/x/ü.txt`))).sha256,
      sha256Bytes(body),
    );
    assert.equal(store.uriFor("k"), `s3://${s3.bucket}/k`);
    assert.deepEqual((await store.list(`${SHA}/`)).map((o) => o.key), [`${SHA}/artifacts/x/ü.txt`]);
    assert.equal(await store.exists(`${SHA}/nope`), false);
    await assert.rejects(store.get(`${SHA}/nope`), /not found/);
    await store.delete(`${SHA}/artifacts/x/ü.txt`);
    await store.delete(`${SHA}/artifacts/x/ü.txt`);
    assert.deepEqual(await store.list(`${SHA}/`), []);
  } finally {
    store.close();
    await s3.stop();
  }
});
