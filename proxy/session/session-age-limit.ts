/**
 * `limits.maxSessionSeconds` (docs/design/surface.md §10): one timer per session at the limit; then the relay's next idle
 * moment (no query running), or the grace deadline at the latest, ends it. Nothing runs per message before the limit.
 */

/** How long after the limit a busy session may keep its query running before it is cancelled and closed. */
export const maxSessionGraceMs = 300_000;

/** setTimeout's largest delay; longer limits re-arm in steps. */
const maxTimerMs = 2 ** 31 - 1;

/** Options of armSessionAgeLimit. */
export interface SessionAgeLimitOptions {
  /** The session's age limit, ms (> 0). */
  maxAgeMs: number;
  /** Default maxSessionGraceMs. */
  graceMs?: number;
  /** The relay's idle wait (Relay.whenIdle). */
  whenIdle(onIdle: () => void): () => void;
  /** Ends the session: called once, at the idle moment or at the grace deadline. */
  end(): void;
}

/** Arms the limit; the returned function disarms it (call it when the session ends). */
export function armSessionAgeLimit(opts: SessionAgeLimitOptions): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopIdleWait: (() => void) | undefined;
  let isDone = false;
  const finish = (): void => {
    if (isDone) return;
    disarm();
    opts.end();
  };
  const disarm = (): void => {
    isDone = true;
    if (timer !== undefined) clearTimeout(timer);
    stopIdleWait?.();
  };
  const after = (ms: number, fn: () => void): void => {
    const step = Math.min(ms, maxTimerMs);
    timer = setTimeout(() => (ms > step ? after(ms - step, fn) : fn()), step);
    timer.unref();
  };
  after(opts.maxAgeMs, () => {
    if (isDone) return;
    after(opts.graceMs ?? maxSessionGraceMs, finish);
    stopIdleWait = opts.whenIdle(finish);
  });
  return disarm;
}
