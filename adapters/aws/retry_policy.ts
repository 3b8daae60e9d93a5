/**
 * Which AWS errors are worth another attempt (throttling, 5xx, network and timeouts), the jittered
 * backoff between attempts, and a short description of an AWS error for logs. The loop itself is
 * the adapters' one retry loop (`../retry.ts`).
 * @module
 */
import { RetriesExhausted, retrying } from "../retry.ts";

/** Retry policy of AWS calls. */
export interface AwsRetryOptions {
  /** Total attempts (default 4). */
  maxAttempts?: number;
  /** First backoff ceiling in ms (default 500); doubles per retry, capped at `maxDelayMs`. */
  baseDelayMs?: number;
  /** Backoff cap in ms (default 8000). */
  maxDelayMs?: number;
  /** Sleep (tests inject a recorder). */
  sleep?: (ms: number) => Promise<void>;
  /** Random source in [0, 1) for jitter (default Math.random). */
  random?: () => number;
}

/** Whether an AWS error is worth retrying: throttling, 5xx, or a network/timeout error. */
export function isRetryableAwsError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as {
    name?: unknown;
    message?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    code?: unknown;
  };
  const name = typeof e.name === "string" ? e.name : "";
  if (
    /^(Throttling|ThrottlingException|ThrottledException|TooManyRequestsException|RequestLimitExceeded|RequestThrottled|ServiceUnavailable|InternalFailure|InternalServiceFault|LimitExceededException|TimeoutError|RequestTimeout|RequestTimeoutException)$/
      .test(name)
  ) {
    return true;
  }
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === "number" && (status === 429 || status >= 500)) return true;
  if (typeof e.code === "string" && /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE)$/.test(e.code)) {
    return true;
  }
  return typeof e.message === "string" && /rate exceeded/i.test(e.message);
}

/** Jittered exponential delay before retry number `retry` (1-based). */
export function retryDelay(retry: number, options: AwsRetryOptions = {}): number {
  const ceiling = Math.min(
    options.maxDelayMs ?? 8000,
    (options.baseDelayMs ?? 500) * 2 ** (retry - 1),
  );
  return Math.floor((0.5 + 0.5 * (options.random ?? Math.random)()) * ceiling);
}

/** Runs `op`, retrying retryable AWS errors (see {@linkcode isRetryableAwsError}); rethrows the last. */
export async function withAwsRetry<T>(
  op: () => Promise<T>,
  options: AwsRetryOptions = {},
): Promise<{ value: T; attempts: number }> {
  try {
    return await retrying(() => op(), {
      maxAttempts: options.maxAttempts ?? 4,
      retryable: isRetryableAwsError,
      delayMs: (retry) => retryDelay(retry, options),
      ...(options.sleep ? { sleep: options.sleep } : {}),
    });
  } catch (e) {
    throw e instanceof RetriesExhausted ? e.cause : e;
  }
}

/** A short description of an AWS error (name: message). */
export function describeAwsError(error: unknown): string {
  if (error instanceof Error) {
    const msg = error.message || "(no message)";
    return error.name && error.name !== "Error" && !msg.startsWith(error.name)
      ? `${error.name}: ${msg}`
      : msg;
  }
  return String(error);
}
