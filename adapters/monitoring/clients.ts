/**
 * The monitoring clients (CloudWatch metrics and CloudWatch Logs): one client configuration with
 * bounded connection and request timeouts; the SDK modules are imported only when a client is
 * created.
 * @module
 */
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { AwsClientOptions } from "../aws/clients.ts";

/**
 * Connection and request timeouts of the monitoring clients (ms): a hanging endpoint must not hold
 * the report until its pod deadline.
 */
export const AWS_REQUEST_TIMEOUTS = { connectionTimeout: 5_000, requestTimeout: 15_000 } as const;

/**
 * SDK client settings shared by the monitoring clients (CloudWatch, CloudWatch Logs, SNS): region
 * from the options or `AWS_REGION`/`AWS_DEFAULT_REGION`, one SDK attempt per call
 * ({@linkcode withAwsRetry} retries), short timeouts, endpoint from the options,
 * `AWS_ENDPOINT_URL_<SERVICE>` (`endpointVar`) or `AWS_ENDPOINT_URL`.
 */
export function monitoringClientConfig(options: AwsClientOptions, endpointVar: string) {
  const env = options.env ?? {};
  const endpoint = options.endpoint ?? env[endpointVar] ?? env.AWS_ENDPOINT_URL;
  return {
    region: options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    maxAttempts: options.maxAttempts ?? 1,
    requestHandler: AWS_REQUEST_TIMEOUTS,
    ...(endpoint ? { endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
}

/**
 * Creates a CloudWatch client (default credential chain; one SDK attempt per call, since
 * {@linkcode withAwsRetry} does the retrying). Endpoint from `AWS_ENDPOINT_URL_CLOUDWATCH` or
 * `AWS_ENDPOINT_URL` when set.
 */
export async function createCloudWatchClient(
  options: AwsClientOptions = {},
): Promise<CloudWatchClient> {
  const { CloudWatchClient } = await import("@aws-sdk/client-cloudwatch");
  return new CloudWatchClient(monitoringClientConfig(options, "AWS_ENDPOINT_URL_CLOUDWATCH"));
}

/** Creates a CloudWatch Logs client (see {@linkcode createCloudWatchClient}; `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`). */
export async function createCloudWatchLogsClient(
  options: AwsClientOptions = {},
): Promise<CloudWatchLogsClient> {
  const { CloudWatchLogsClient } = await import("@aws-sdk/client-cloudwatch-logs");
  return new CloudWatchLogsClient(
    monitoringClientConfig(options, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"),
  );
}
