/** Bounded retries for the credential and discovery APIs: exponential backoff with full jitter (docs/design/aws.md §8). */
import { deadlineNowMs, type Deadline } from './deadline.js';
import { isAuthError } from './errors.js';
import { systemClock, type Clock } from './types.js';

/** Backoff parameters of docs/design/aws.md §8. */
export const backoffDefaults = {
  baseMs: 200,
  factor: 2,
  capMs: 3000,
  maxAttempts: 4,
} as const;

/** Injectable parts of a retry loop (tests pass a fixed random and a fake sleep). */
export interface BackoffOptions {
  clock?: Clock;
  /** Uniform in [0, 1). */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  baseMs?: number;
  factor?: number;
  capMs?: number;
  maxAttempts?: number;
  /** Which errors are worth another attempt (default: retryable AuthErrors = throttling, 5xx, network). */
  isRetryable?: (err: unknown) => boolean;
  /** Called before each sleep; for logs. */
  onRetry?: (info: { attempt: number; delayMs: number; err: unknown }) => void;
}

/**
 * Runs `fn(attempt)` with bounded retries, never sleeping past `deadlineMs` (epoch ms; a function is read
 * before each sleep, so a shared fetch can follow the latest of its waiters' deadlines).
 */
export type Retrier = <T>(fn: (attempt: number) => Promise<T>, deadlineMs: Deadline) => Promise<T>;

/** The full-jitter delay before retry number `retryIndex` (0 = the first retry). */
export function backoffDelayMs(retryIndex: number, random: () => number, opts: Pick<BackoffOptions, 'baseMs' | 'factor' | 'capMs'> = {}): number {
  const baseMs = opts.baseMs ?? backoffDefaults.baseMs;
  const factor = opts.factor ?? backoffDefaults.factor;
  const capMs = opts.capMs ?? backoffDefaults.capMs;
  const ceilingMs = Math.min(capMs, baseMs * factor ** retryIndex);
  return Math.floor(random() * ceilingMs);
}

/** The default retry predicate: AuthErrors flagged retryable (throttled / unavailable). */
export function isRetryableError(err: unknown): boolean {
  return isAuthError(err) && err.retryable;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Builds a Retrier with the given (or default) parameters. */
export function createRetrier(opts: BackoffOptions = {}): Retrier {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const sleep = opts.sleep ?? realSleep;
  const maxAttempts = opts.maxAttempts ?? backoffDefaults.maxAttempts;
  const isRetryable = opts.isRetryable ?? isRetryableError;
  return async <T>(fn: (attempt: number) => Promise<T>, deadlineMs: Deadline): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (err) {
        if (attempt >= maxAttempts || !isRetryable(err)) throw err;
        const delayMs = backoffDelayMs(attempt - 1, random, opts);
        // A retry that could not finish before the login deadline is pointless: fail now.
        if (clock.nowMs() + delayMs >= deadlineNowMs(deadlineMs)) throw err;
        opts.onRetry?.({ attempt, delayMs, err });
        await sleep(delayMs);
      }
    }
  };
}
