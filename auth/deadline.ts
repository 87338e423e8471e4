/** One waiter's deadline over a shared (single-flight) operation that keeps its own budget. */
import type { Clock } from './types.js';

/**
 * Settles like `promise`, or rejects with `onTimeout()` at `deadlineMs` (epoch ms on `clock`). The shared
 * operation keeps running for its other waiters; its late result or error is consumed here, never unhandled.
 */
export function withDeadline<T>(promise: Promise<T>, deadlineMs: number, clock: Clock, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadlineMs - clock.nowMs()));
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
