/**
 * Bounded, jittered retries when AWS throttles a CloudFormation call ("Rate exceeded"): which
 * errors are throttling, the full-jitter backoff, and {@linkcode ThrottledError} once every attempt
 * was throttled. Any other error is rethrown at once. The loop is the adapters' one retry loop
 * (`../retry.ts`); sleep and randomness are injected so tests run instantly and deterministically.
 * @module
 */
import { RetriesExhausted, retrying } from "../retry.ts";
import { AphexError } from "../../models/errors.ts";

/** Retry policy for throttled CloudFormation calls. */
export interface RetryOptions {
  /** Attempts in total, first included (default 5). */
  maxAttempts?: number;
  /** Base delay of the exponential backoff in ms (default 500). */
  baseDelayMs?: number;
  /** Cap of one delay in ms (default 10 000). */
  maxDelayMs?: number;
  /** Sleeps (injected in tests; default a real timer). */
  sleep?: (ms: number) => Promise<void>;
  /** Random number in [0, 1) for the jitter (default `Math.random`). */
  random?: () => number;
}

/** Default number of attempts of a throttled call. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** Whether an SDK error is CloudFormation (or any AWS API) throttling. */
export function isThrottlingError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, message } = error as { name?: unknown; message?: unknown };
  return name === "Throttling" || name === "ThrottlingException" ||
    name === "TooManyRequestsException" || name === "RequestLimitExceeded" ||
    (typeof message === "string" && /rate exceeded/i.test(message));
}

/** Thrown by {@linkcode withThrottlingRetry} when every attempt was throttled. */
export class ThrottledError extends AphexError {
  /** Attempts made. */
  readonly attempts: number;

  constructor(operation: string, attempts: number, cause: unknown) {
    super(`${operation} was throttled by AWS ${attempts} times in a row (Rate exceeded)`, {
      cause,
    });
    this.name = "ThrottledError";
    this.attempts = attempts;
  }
}

/** Delay before retry number `retry` (1-based): full jitter over a capped exponential. */
export function backoffDelay(retry: number, options: RetryOptions = {}): number {
  const base = options.baseDelayMs ?? 500;
  const cap = options.maxDelayMs ?? 10_000;
  const ceiling = Math.min(cap, base * 2 ** (retry - 1));
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

/**
 * Runs `operation`, retrying throttling errors with jittered exponential backoff; any other error
 * is rethrown at once.
 *
 * @throws {ThrottledError} when all `maxAttempts` attempts were throttled.
 */
export async function withThrottlingRetry<T>(
  operation: () => Promise<T>,
  options: RetryOptions & { name?: string } = {},
): Promise<T> {
  try {
    return (await retrying(() => operation(), {
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      retryable: isThrottlingError,
      delayMs: (retry) => backoffDelay(retry, options),
      ...(options.sleep ? { sleep: options.sleep } : {}),
    })).value;
  } catch (e) {
    if (!(e instanceof RetriesExhausted)) throw e;
    if (!e.retryable) throw e.cause;
    throw new ThrottledError(options.name ?? "AWS call", e.attempts, e.cause);
  }
}
