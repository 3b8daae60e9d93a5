import assert from "node:assert/strict";
import { createS3Client, credentialsFromEnv } from "./clients.ts";

Deno.test("S3 client honours AWS_REGION, AWS_ENDPOINT_URL_S3, static env keys; standard retry mode", async () => {
  const client = await createS3Client({
    env: {
      AWS_REGION: "eu-west-1",
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9999",
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret-example",
      APHEX_S3_FORCE_PATH_STYLE: "true",
    },
  });
  try {
    assert.equal(await client.config.region(), "eu-west-1");
    const retryMode = client.config.retryMode;
    assert.equal(typeof retryMode === "string" ? retryMode : await retryMode(), "standard");
    assert.equal(await client.config.maxAttempts(), 3);
    assert.equal(client.config.forcePathStyle, true);
    const endpoint = await client.config.endpoint?.();
    assert.equal(endpoint?.hostname, "127.0.0.1");
    assert.equal(endpoint?.port, 9999);
    const creds = await client.config.credentials();
    assert.equal(creds.accessKeyId, "AKIDEXAMPLE");
  } finally {
    client.destroy();
  }
  const fallback = await createS3Client({ env: { AWS_DEFAULT_REGION: "ap-south-1" } });
  try {
    assert.equal(await fallback.config.region(), "ap-south-1");
    assert.equal(fallback.config.forcePathStyle, false);
  } finally {
    fallback.destroy();
  }
  assert.equal(credentialsFromEnv({ AWS_ACCESS_KEY_ID: "x" }), undefined);
  assert.deepEqual(
    credentialsFromEnv({
      AWS_ACCESS_KEY_ID: "a",
      AWS_SECRET_ACCESS_KEY: "b",
      AWS_SESSION_TOKEN: "c",
    }),
    { accessKeyId: "a", secretAccessKey: "b", sessionToken: "c" },
  );
});
