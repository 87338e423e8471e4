/** The open connections of one listener, so that a shutdown can wait (bounded) until they are gone; the proxy's server and the tunnel's listener share it. */

/** A set of open connections with a bounded wait for the moment the last one closes. */
export class OpenConnections<T> {
  private readonly items = new Set<T>();
  private readonly idleWaiters: Array<() => void> = [];

  /** How many are open. */
  get size(): number {
    return this.items.size;
  }

  /** Tracks a newly accepted connection. */
  add(item: T): void {
    this.items.add(item);
  }

  /** Forgets a closed connection; when it was the last, every waitIdle() resolves. */
  delete(item: T): void {
    this.items.delete(item);
    if (this.items.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** The open connections (a snapshot: ending one while iterating is safe). */
  [Symbol.iterator](): Iterator<T> {
    return [...this.items][Symbol.iterator]();
  }

  /** Resolves once none is open, or after `timeoutMs`, whichever is first; the timer does not hold the process. */
  waitIdle(timeoutMs: number): Promise<void> {
    if (this.items.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.idleWaiters.push(done);
    });
  }
}
