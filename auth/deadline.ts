/** Deadlines: one waiter's over a shared (single-flight) operation, and moving ones that follow the latest waiter. */
import type { Clock } from './types.js';

/** Epoch ms; a function is read afresh each time, so a shared fetch can follow the latest of its waiters' deadlines. */
export type Deadline = number | (() => number);

/** The deadline's current value. */
export function deadlineNowMs(deadline: Deadline): number {
  return typeof deadline === 'number' ? deadline : deadline();
}

/**
 * An AbortSignal that fires (TimeoutError, like AbortSignal.timeout) once `deadline` has passed, re-reading a
 * moving deadline when its timer fires. Its unref'd timer lives at most until the deadline.
 */
export function deadlineSignal(deadline: Deadline): AbortSignal {
  if (typeof deadline === 'number') return AbortSignal.timeout(Math.max(1, deadline - Date.now()));
  const controller = new AbortController();
  const arm = (): void => {
    const leftMs = deadline() - Date.now();
    // `!(> 0)` also ends a NaN deadline, which would otherwise re-arm a 1 ms timer forever.
    if (!(leftMs > 0)) controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    else setTimeout(arm, leftMs).unref();
  };
  arm();
  return controller.signal;
}

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
