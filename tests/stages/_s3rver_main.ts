/**
 * A local S3-protocol server for tests and benchmarks, run as a child process so a test can kill
 * it mid-upload: `deno run -A tests/stages/_s3rver_main.ts <dir> <bucket>`. Prints
 * `{"port": N}` on stdout once listening on 127.0.0.1 (random port); stops on SIGTERM.
 * @module
 */
import S3rver from "s3rver";

const [directory, bucket] = Deno.args;
if (!directory || !bucket) {
  console.error("usage: _s3rver_main.ts DIR BUCKET");
  Deno.exit(2);
}
const server = new S3rver({
  address: "127.0.0.1",
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});
const info = await server.run();
console.log(JSON.stringify({ port: info.port }));
Deno.addSignalListener("SIGTERM", () => {
  server.close().finally(() => Deno.exit(0));
});
