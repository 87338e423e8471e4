/**
 * A measurement hook for the load bench's node children (started with --expose-gc and an IPC channel): on the
 * message 'gc' it runs a full garbage collection and answers with its heap and RSS, so a memory reading
 * counts what is retained, not garbage a collection has not reached yet.
 */

/** What a child answers to 'gc'. */
export interface GcReport {
  heapUsedBytes: number;
  rssBytes: number;
}

/** Installs the hook when this process has an IPC channel; a no-op otherwise. */
export function installGcHook(): void {
  if (process.send === undefined) return;
  process.on('message', (m) => {
    if (m !== 'gc') return;
    (globalThis as { gc?: () => void }).gc?.();
    const report: GcReport = { heapUsedBytes: process.memoryUsage().heapUsed, rssBytes: process.memoryUsage.rss() };
    process.send?.(report);
  });
  // The IPC channel must not keep a finished process alive.
  process.channel?.unref();
}
