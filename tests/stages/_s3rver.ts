/**
 * Test helper: starts `s3rver` (pinned in deno.json) in a child process on 127.0.0.1 with a random
 * port and a temporary directory, and an S3 artifact store pointing at it with test credentials.
 * @module
 */
import { createS3Client } from "../../adapters/aws/clients.ts";
import { S3ArtifactStore, type S3StoreOptions } from "../../adapters/store/s3_store.ts";

/** A running local S3 server. */
export interface LocalS3 {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Bucket created at start. */
  bucket: string;
  /** Server data directory. */
  dir: string;
  /** Client settings for the server (test credentials, path-style). */
  aws: {
    endpoint: string;
    region: string;
    forcePathStyle: boolean;
    credentials: { accessKeyId: string; secretAccessKey: string };
    maxAttempts: number;
  };
  /** Opens a store on the bucket (close it when done). */
  store(options?: S3StoreOptions): Promise<S3ArtifactStore>;
  /** Kills the server abruptly (SIGKILL), as a crash would. */
  kill(): void;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const MAIN = new URL("./_s3rver_main.ts", import.meta.url).pathname;

/** Starts s3rver with a fresh bucket. */
export async function startLocalS3(bucket = "aphex-test-bucket"): Promise<LocalS3> {
  const dir = await Deno.makeTempDir({ prefix: "aphex-s3rver-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", CONFIG, MAIN, dir, bucket],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("s3rver exited before listening");
    text += value;
  }
  const port = (JSON.parse(text.split("\n")[0]!) as { port: number }).port;
  // Keep draining stdout so the child never blocks.
  const drain = (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* cancelled */ }
  })();
  const endpoint = `http://127.0.0.1:${port}`;
  const aws = {
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    maxAttempts: 2,
  };
  let stopped = false;
  return {
    endpoint,
    bucket,
    dir,
    aws,
    store: async (options) => new S3ArtifactStore(await createS3Client(aws), bucket, options),
    kill: () => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    },
    stop: async () => {
      if (!stopped) {
        stopped = true;
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        await child.status;
        await drain;
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
