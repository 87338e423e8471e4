/** Sequential login latency with the `pg` client: connect (TLS + auth until ReadyForQuery), then close. */
import pg from 'pg';

/** One login target; `password` may be a function to get a fresh value per login (untimed). */
export interface LoginTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  /** CA to verify the server with; undefined = no TLS (a local `rsproxy tunnel`). */
  caPem: string | undefined;
  password: string | (() => Promise<string>);
}

/** Percentile summary of a sample, in milliseconds. */
export interface LatencyStats {
  count: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
}

/** Nearest-rank percentile (p in 0..100) of an ascending-sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

/** Median, p95, min and max of a sample. */
export function summarize(samplesMs: readonly number[]): LatencyStats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    count: sorted.length,
    medianMs: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    minMs: sorted[0] ?? Number.NaN,
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Times one login (connect to ReadyForQuery); the close is not timed. */
export async function timeLogin(t: LoginTarget): Promise<number> {
  const password = typeof t.password === 'string' ? t.password : await t.password();
  const client = new pg.Client({ host: t.host, port: t.port, user: t.user, database: t.database, password, ssl: t.caPem === undefined ? false : { ca: t.caPem }, connectionTimeoutMillis: 15_000 });
  client.on('error', () => {});
  const start = process.hrtime.bigint();
  try {
    await client.connect();
    return Number(process.hrtime.bigint() - start) / 1e6;
  } finally {
    await client.end().catch(() => {});
  }
}

/** `count` sequential logins; returns each one's latency in ms. */
export async function timeLogins(t: LoginTarget, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) samples.push(await timeLogin(t));
  return samples;
}
