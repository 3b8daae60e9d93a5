/**
 * AWS client factories. Clients use the SDK's default configuration chain (environment variables,
 * shared config files, IRSA web identity, instance metadata) with the standard retry mode; the
 * SDK module is imported lazily so commands that never touch AWS never load it.
 * @module
 */
import type { S3Client } from "@aws-sdk/client-s3";

/** Static credentials (tests; production relies on the default chain). */
export interface StaticCredentials {
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Session token, if any. */
  sessionToken?: string;
}

/** Options of the client factories. */
export interface AwsClientOptions {
  /**
   * Environment read for `AWS_REGION`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3`,
   * `AWS_ENDPOINT_URL`, static keys, and `APHEX_S3_FORCE_PATH_STYLE=true` (local S3 servers).
   */
  env?: Record<string, string | undefined>;
  /** Region (overrides the environment). */
  region?: string;
  /** Endpoint URL (overrides the environment), e.g. a local S3-protocol server. */
  endpoint?: string;
  /** Path-style bucket addressing (needed by most local S3 servers). */
  forcePathStyle?: boolean;
  /** Static credentials; omit to use the SDK default chain (env, IRSA, instance profile…). */
  credentials?: StaticCredentials;
  /** Total attempts per request in standard retry mode (default 3). */
  maxAttempts?: number;
}

/**
 * Static keys from the given environment (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/
 * `AWS_SESSION_TOKEN`), the first link of the SDK default chain; undefined lets the SDK resolve the
 * rest of the chain (shared config, IRSA web identity, container/instance metadata) itself.
 */
export function credentialsFromEnv(
  env: Record<string, string | undefined>,
): StaticCredentials | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

/** Creates an S3 client (standard retry mode, default credential chain unless credentials given). */
export async function createS3Client(options: AwsClientOptions = {}): Promise<S3Client> {
  const { S3Client } = await import("@aws-sdk/client-s3");
  const env = options.env ?? {};
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1";
  const endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const forcePathStyle = options.forcePathStyle ?? (env.APHEX_S3_FORCE_PATH_STYLE === "true");
  const credentials = options.credentials ?? credentialsFromEnv(env);
  return new S3Client({
    region,
    retryMode: "standard",
    maxAttempts: options.maxAttempts ?? 3,
    ...(endpoint ? { endpoint } : {}),
    ...(forcePathStyle ? { forcePathStyle: true } : {}),
    ...(credentials ? { credentials } : {}),
  });
}
