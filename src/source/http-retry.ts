/**
 * When and how long to wait before asking a server again. Every clock and dice roll
 * is injectable, so tests of 429s and resets run in milliseconds and deterministically.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** The first backoff's ceiling; each retry doubles it up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * No wait may end later than this after the first attempt began: a request that has
   * failed for this long is failing, not flaky, and the user should hear about it.
   */
  readonly maxElapsedMs: number;
  /** A request that delivers no byte for this long is aborted and retried. */
  readonly idleTimeoutMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Uniform in [0, 1): the jitter. */
  readonly random: () => number;
  /** Milliseconds since the epoch (Retry-After may be an HTTP date). */
  readonly now: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  // 8 attempts with a 0.5 s base: waits of up to 0.5, 1, 2, 4, 8, 16, 30 s, about a
  // minute in all at worst, enough to ride out a CDN hiccup or a short rate limit.
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxElapsedMs: 5 * 60_000,
  idleTimeoutMs: 60_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
  now: Date.now,
};

/**
 * A failure worth another attempt: a reset, a timeout, 429, 5xx, or a response that
 * failed verification. `status` is the HTTP status when there was one.
 */
export class TransientHttpError extends Error {
  override readonly name = 'TransientHttpError';
  constructor(
    message: string,
    readonly status: number | null,
    /** The server's Retry-After, in ms, when it sent one. */
    readonly retryAfterMs: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * "Full jitter" exponential backoff (AWS architecture blog, 2015): a uniform wait in
 * [0, min(max, base·2^(retry-1))), which spreads clients that failed together. A
 * server's Retry-After is a floor, never shortened by the jitter.
 */
export function backoffDelayMs(policy: RetryPolicy, retry: number, retryAfterMs: number | null): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  const jittered = policy.random() * ceiling;
  return retryAfterMs === null ? jittered : Math.max(retryAfterMs, jittered);
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), in ms from now; null if absent or unreadable. */
export function parseRetryAfterMs(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * Runs `attempt` until it succeeds, throws something other than TransientHttpError, or
 * the policy gives up; then `giveUp` turns the last transient failure and the attempt
 * count into the error to throw.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  attempt: (index: number) => Promise<T>,
  onRetry: (failure: TransientHttpError) => void,
  giveUp: (failure: TransientHttpError, attempts: number, elapsedMs: number) => Error,
): Promise<T> {
  const began = policy.now();
  for (let index = 1; ; index++) {
    try {
      return await attempt(index);
    } catch (error) {
      if (!(error instanceof TransientHttpError)) throw error;
      const elapsed = policy.now() - began;
      if (index >= policy.maxAttempts) throw giveUp(error, index, elapsed);
      const delay = backoffDelayMs(policy, index, error.retryAfterMs);
      if (elapsed + delay > policy.maxElapsedMs) throw giveUp(error, index, elapsed);
      onRetry(error);
      await policy.sleep(delay);
    }
  }
}
