/** Process-level checks for tests: uncaught exceptions and unhandled rejections, and a GC'd heap (fuzz suites, retention tests). */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Records every uncaught exception and unhandled rejection until stop(). */
export function watchUncaught(): { errors: string[]; stop(): void } {
  const errors: string[] = [];
  const onError = (err: unknown): void => void errors.push(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    errors,
    stop: () => {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}

let gc: (() => void) | undefined;

/** Runs a full garbage collection (exposing `gc` once for this process). */
export function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/** heapUsed after a full collection. */
export function heapUsedBytes(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}
