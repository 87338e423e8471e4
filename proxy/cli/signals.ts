/** Process signals for the long-running commands (`serve`, `tunnel`): subscribe for a while, or wait for the first shutdown signal. */

/** The signals that end a long-running command. */
export type ShutdownSignal = 'SIGTERM' | 'SIGINT';

/** Calls `handlers[signal]` on each of those signals until the returned function unsubscribes them all. */
export function onSignals(handlers: Partial<Record<NodeJS.Signals, (signal: NodeJS.Signals) => void>>): () => void {
  const subscribed = Object.entries(handlers).map(([name, handler]) => {
    const signal = name as NodeJS.Signals;
    const listener = (): void => handler?.(signal);
    process.on(signal, listener);
    return { signal, listener };
  });
  return () => {
    for (const { signal, listener } of subscribed) process.off(signal, listener);
  };
}

/** Resolves with the first SIGINT or SIGTERM; from then on both have their default effect again (a second one ends the process). */
export function nextShutdownSignal(): Promise<ShutdownSignal> {
  return new Promise((resolve) => {
    const off = onSignals({
      SIGINT: () => {
        off();
        resolve('SIGINT');
      },
      SIGTERM: () => {
        off();
        resolve('SIGTERM');
      },
    });
  });
}
