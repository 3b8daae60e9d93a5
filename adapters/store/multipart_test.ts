import assert from "node:assert/strict";
import { startLocalS3 } from "../../tests/stages/_s3rver.ts";
import { sha256Bytes } from "./hash.ts";
import { PartBufferPool, uploadFile } from "./multipart.ts";

const MiB = 1024 * 1024;

Deno.test("pool: at most `capacity` buffers, waiters served in order", async () => {
  const pool = new PartBufferPool(16, 2);
  const a = await pool.acquire();
  const b = await pool.acquire();
  assert.notEqual(a, b);
  const order: string[] = [];
  const c = pool.acquire().then((buf) => (order.push("c"), buf));
  const d = pool.acquire().then((buf) => (order.push("d"), buf));
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(order, []);
  pool.release(a);
  assert.equal(await c, a);
  pool.release(b);
  assert.equal(await d, b);
  assert.deepEqual(order, ["c", "d"]);
  assert.equal(pool.allocated, 2);
});

Deno.test("uploadFile → s3rver: multipart and single-part files share one pool; bytes and metadata intact", async () => {
  const s3 = await startLocalS3();
  const store = await s3.store();
  const dir = await Deno.makeTempDir();
  try {
    const files: Record<string, Uint8Array> = {
      "multi.bin": new Uint8Array(17 * MiB + 3).map((_, i) => (i * 7 + (i >> 16)) & 0xff),
      "exact.bin": new Uint8Array(10 * MiB).map((_, i) => (i * 13 + (i >> 20)) & 0xff),
      "one-part.bin": new Uint8Array(5 * MiB).fill(42),
      "empty.bin": new Uint8Array(),
    };
    for (const [name, data] of Object.entries(files)) await Deno.writeFile(`${dir}/${name}`, data);
    const pool = new PartBufferPool(5 * MiB, 3);
    const progress: Record<string, number[]> = {};
    await Promise.all(
      Object.keys(files).map((name) =>
        uploadFile(store.client, `${dir}/${name}`, {
          bucket: s3.bucket,
          key: `k/${name}`,
          pool,
          queueSize: 2,
          contentType: "application/octet-stream",
          metadata: { sha256: sha256Bytes(files[name]!) },
          onProgress: (n) => (progress[name] ??= []).push(n),
        })
      ),
    );
    assert.ok(pool.allocated <= 3, `pool allocated ${pool.allocated} buffers`);
    for (const [name, data] of Object.entries(files)) {
      const got = new Uint8Array(await new Response(await store.get(`k/${name}`)).arrayBuffer());
      assert.equal(got.length, data.length, name);
      assert.equal(sha256Bytes(got), sha256Bytes(data), name);
      assert.deepEqual(await store.head(`k/${name}`), {
        key: `k/${name}`,
        size: data.length,
        sha256: sha256Bytes(data),
      });
      assert.equal(progress[name]!.at(-1), data.length, `${name} progress ends at its size`);
    }
    assert.equal(progress["multi.bin"]!.length, 4, "17 MiB + 3 B in 5 MiB parts: 4 parts");
  } finally {
    store.close();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
