import assert from "node:assert/strict";
import fc from "fast-check";
import { READ_BUFFER_BYTES, sha256Bytes, sha256File } from "./hash.ts";

Deno.test("sha256File: sizes around the read buffer's boundaries match the one-shot digest", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const B = READ_BUFFER_BYTES;
    const sizes = [0, 1, B - 1, B, B + 1, 2 * B, 3 * B + 17];
    const data = new Uint8Array(3 * B + 17).map((_, i) => (i * 131 + (i >> 12)) & 0xff);
    for (const size of sizes) {
      await Deno.writeFile(`${dir}/f`, data.subarray(0, size));
      assert.deepEqual(await sha256File(`${dir}/f`), {
        sha256: sha256Bytes(data.subarray(0, size)),
        size,
      }, `size ${size}`);
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
        await Deno.writeFile(`${dir}/p`, bytes);
        assert.equal((await sha256File(`${dir}/p`)).sha256, sha256Bytes(bytes));
      }),
      { numRuns: 50 },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sha256File: a missing file rejects with NotFound", async () => {
  await assert.rejects(sha256File("/nonexistent/aphex-hash"), Deno.errors.NotFound);
});
