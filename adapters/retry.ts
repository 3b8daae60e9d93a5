/**
 * The one retry loop of the adapters: bounded attempts, a caller-given backoff and a predicate
 * for what is worth retrying. Sleep is injected so tests run instantly and can assert the delays.
 *
 * Not `p-retry` (or a similar package): the adapters' tests inject the sleep and assert every
 * delay, and each caller needs the attempt count on success and on failure, which those packages
 * do not expose without wrapping; the loop is a dozen lines.
 * @module
 */

/** How to retry. */
export interface RetryPolicy {
  /** Total attempts, at least 1. */
  maxAttempts: number;
  /** Whether a failed attempt's error is worth another attempt. */
  retryable: (error: unknown) => boolean;
  /** Delay in ms before retry number `retry` (1-based). */
  delayMs: (retry: number) => number;
  /** Sleep (default a real timer). */
  sleep?: (ms: number) => Promise<void>;
}

/** A failure after the last attempt: the error of that attempt and how many were made. */
export class RetriesExhausted extends Error {
  /** Attempts made. */
  readonly attempts: number;
  /** Whether the last error was retryable (false: it stopped the retries early). */
  readonly retryable: boolean;
  constructor(cause: unknown, attempts: number, retryable: boolean) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.attempts = attempts;
    this.retryable = retryable;
  }
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `operation` (given the 1-based attempt number) until it succeeds, the error is not
 * retryable, or `maxAttempts` were made.
 *
 * @returns the value and the number of attempts made.
 * @throws {RetriesExhausted} wrapping the last error (`cause`) with the attempt count.
 */
export async function retrying<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
): Promise<{ value: T; attempts: number }> {
  const max = Math.max(1, policy.maxAttempts);
  const sleep = policy.sleep ?? realSleep;
  for (let attempt = 1;; attempt++) {
    try {
      return { value: await operation(attempt), attempts: attempt };
    } catch (error) {
      const retryable = policy.retryable(error);
      if (!retryable || attempt >= max) throw new RetriesExhausted(error, attempt, retryable);
      await sleep(policy.delayMs(attempt));
    }
  }
}

/**
 * Runs `operation` with an abort signal that fires after `ms`; the call then rejects with
 * `timeoutError()` even if the operation ignores the signal.
 */
export async function withDeadline<T>(
  operation: (signal: AbortSignal) => Promise<T>,
  ms: number,
  timeoutError: () => Error,
): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(timeoutError());
    }, ms);
  });
  try {
    return await Promise.race([operation(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
