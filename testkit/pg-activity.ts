/** Upstream checks through PostgreSQL's own pg_stat_activity: is a query with a given marker still running? */
import type { PgCluster } from './pg-cluster.js';
import { waitFor } from './wait.js';

/** Number of active backends whose query text contains `marker` (the checking query itself excluded). */
export async function activeQueries(pg: PgCluster, marker: string): Promise<number> {
  const { rows } = await pg.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()`, [`%${marker}%`]);
  return (rows[0] as { n: number }).n;
}

/** Waits until a query with `marker` runs upstream. */
export async function waitForRunning(pg: PgCluster, marker: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await activeQueries(pg, marker)) > 0, timeoutMs, 50);
}

/** Waits until no query with `marker` runs upstream; returns how long that took, ms. */
export async function waitForGone(pg: PgCluster, marker: string, timeoutMs = 5000): Promise<number> {
  const startedMs = Date.now();
  await waitFor(async () => (await activeQueries(pg, marker)) === 0, timeoutMs, 50);
  return Date.now() - startedMs;
}
