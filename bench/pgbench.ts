/** Runs `pgbench -S` against one target and parses its summary. */
import { execFile } from 'node:child_process';

/** A libpq connection target; the password goes through PGPASSWORD, never argv. */
export interface PgTarget {
  name: string;
  host: string;
  port: number;
  user: string;
  database: string;
  password: string;
  /** libpq sslmode (default require; `disable` for a local `rsproxy tunnel`). */
  sslmode?: string;
}

/** Query protocol passed to `pgbench -M`. */
export type QueryMode = 'simple' | 'extended' | 'prepared';

/** What one pgbench run reported. */
export interface PgbenchResult {
  tps: number;
  latencyAvgMs: number;
  transactions: number;
  failedTransactions: number;
}

/** Parses pgbench's (15+) summary text; throws when no tps line is present. */
export function parsePgbenchOutput(text: string): PgbenchResult {
  const tps = /^tps = ([\d.]+) \(without initial connection time\)/m.exec(text) ?? /^tps = ([\d.]+)/m.exec(text);
  if (tps?.[1] === undefined) throw new Error(`pgbench printed no tps line:\n${text.slice(-1500)}`);
  const latency = /^latency average = ([\d.]+) ms/m.exec(text);
  const processed = /^number of transactions actually processed: (\d+)/m.exec(text);
  const failed = /^number of failed transactions: (\d+)/m.exec(text);
  return {
    tps: Number(tps[1]),
    latencyAvgMs: latency?.[1] === undefined ? Number.NaN : Number(latency[1]),
    transactions: processed?.[1] === undefined ? 0 : Number(processed[1]),
    failedTransactions: failed?.[1] === undefined ? 0 : Number(failed[1]),
  };
}

/** libpq keyword/value connection string without the password. */
export function conninfo(t: PgTarget, sslmode = t.sslmode ?? 'require'): string {
  return `host=${t.host} port=${t.port} user=${t.user} dbname=${t.database} sslmode=${sslmode}`;
}

function run(bin: string, args: string[], password: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' };
    execFile(bin, args, { env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} failed: ${(stderr || stdout || err.message).slice(-1500)}`, { cause: err }));
      else resolve(`${stdout}\n${stderr}`);
    });
  });
}

/** `pgbench -i -s scale` (quiet, no vacuum of the tiny tables needed beyond pgbench's own). */
export async function pgbenchInit(t: PgTarget, scale: number): Promise<void> {
  await run('pgbench', ['-i', '-q', '-s', String(scale), conninfo(t)], t.password, 120_000);
}

/** `pgbench -n -S -M mode -c clients -j threads -T seconds` over TLS (sslmode=require unless the target says otherwise). */
export async function pgbenchSelectOnly(t: PgTarget, opts: { mode: QueryMode; clients: number; threads: number; seconds: number; ratePerSecond?: number }): Promise<PgbenchResult> {
  const rate = opts.ratePerSecond === undefined ? [] : ['-R', String(opts.ratePerSecond)];
  const args = ['-n', '-S', '-M', opts.mode, '-c', String(opts.clients), '-j', String(opts.threads), '-T', String(opts.seconds), ...rate, conninfo(t)];
  const out = await run('pgbench', args, t.password, (opts.seconds + 60) * 1000);
  const result = parsePgbenchOutput(out);
  if (result.failedTransactions > 0) throw new Error(`pgbench against ${t.name}: ${result.failedTransactions} failed transactions`);
  return result;
}
