/**
 * rsproxy benchmark (loopback only, bounded): `pgbench -S` throughput through direct PostgreSQL,
 * pgbouncer and rsproxy (all over TLS, one PostgreSQL), then sequential login latency.
 * Usage: node dist/bench/run.js [--seconds 10] [--clients 8] [--threads 2] [--logins 200]
 *        [--modes simple,prepared] [--no-pgbouncer] [--json FILE] [--profile FILE.cpuprofile]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { getTestPki } from '../test/helpers/certs.js';
import { startStack } from '../test/helpers/stack.js';
import type { StackHandle } from '../test/helpers/stack.js';
import { summarize, timeLogin, timeLogins } from './login-latency.js';
import type { LatencyStats, LoginTarget } from './login-latency.js';
import { pgbenchInit, pgbenchSelectOnly } from './pgbench.js';
import type { PgTarget, PgbenchResult, QueryMode } from './pgbench.js';
import { parseBenchArgs } from './args.js';
import type { BenchOptions } from './args.js';
import { pgbouncerBin, startPgbouncer } from './pgbouncer.js';
import type { Pgbouncer } from './pgbouncer.js';

interface TpsRow {
  target: string;
  mode: QueryMode;
  result: PgbenchResult;
  /** CPU time of the proxy per transaction: this process for rsproxy (in-process), /proc for pgbouncer. */
  proxyCpuUsPerTx?: number;
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const pad = (s: string, w: number): string => s.padEnd(w);
const lpad = (s: string, w: number): string => s.padStart(w);

function tpsTable(rows: TpsRow[]): string {
  const lines = [`${pad('target', 11)}${pad('mode', 10)}${lpad('tps', 10)}${lpad('lat ms', 9)}${lpad('vs direct', 11)}${lpad('proxy CPU us/tx', 17)}`];
  for (const r of rows) {
    const direct = rows.find((d) => d.target === 'direct' && d.mode === r.mode);
    const ratio = direct === undefined ? Number.NaN : r.result.tps / direct.result.tps;
    lines.push(`${pad(r.target, 11)}${pad(r.mode, 10)}${lpad(fmt(r.result.tps), 10)}${lpad(fmt(r.result.latencyAvgMs, 3), 9)}${lpad(`${fmt(ratio, 2)}x`, 11)}${lpad(r.proxyCpuUsPerTx === undefined ? '' : fmt(r.proxyCpuUsPerTx, 1), 17)}`);
  }
  return lines.join('\n');
}

function latencyTable(rows: Array<{ name: string; stats: LatencyStats }>): string {
  const lines = [`${pad('login', 34)}${lpad('n', 5)}${lpad('median ms', 11)}${lpad('p95 ms', 9)}${lpad('max ms', 9)}`];
  for (const r of rows) lines.push(`${pad(r.name, 34)}${lpad(String(r.stats.count), 5)}${lpad(fmt(r.stats.medianMs, 2), 11)}${lpad(fmt(r.stats.p95Ms, 2), 9)}${lpad(fmt(r.stats.maxMs, 2), 9)}`);
  return lines.join('\n');
}

async function withProfile<T>(file: string | undefined, work: () => Promise<T>): Promise<T> {
  if (file === undefined) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  }
}

async function throughput(stack: StackHandle, opts: BenchOptions, log: (s: string) => void): Promise<TpsRow[]> {
  const pki = await getTestPki();
  const direct: PgTarget = { name: 'direct', host: '127.0.0.1', port: stack.pg.port, user: stack.pg.superuser, database: stack.upstreamDbName, password: stack.pg.superPassword };
  log('pgbench -i -s 1 (direct)…');
  await pgbenchInit(direct, 1);
  let bouncer: Pgbouncer | undefined;
  const targets: PgTarget[] = [direct];
  if (opts.withPgbouncer && existsSync(pgbouncerBin())) {
    bouncer = await startPgbouncer({
      upstreamHost: '127.0.0.1',
      upstreamPort: stack.pg.port,
      database: stack.upstreamDbName,
      user: stack.pg.superuser,
      password: stack.pg.superPassword,
      certFile: pki.certFile,
      keyFile: pki.keyFile,
      caFile: pki.caFile,
      poolSize: opts.clients,
    });
    targets.push({ ...direct, name: 'pgbouncer', port: bouncer.port });
  } else if (opts.withPgbouncer) {
    log(`pgbouncer not found at ${pgbouncerBin()}; skipping it`);
  }
  targets.push({ name: 'rsproxy', host: '127.0.0.1', port: stack.proxyPort, user: stack.dbUser, database: stack.database, password: await stack.mintToken() });
  const rows: TpsRow[] = [];
  try {
    for (const mode of opts.modes) {
      for (const t of targets) {
        log(`pgbench -S -M ${mode} -c ${opts.clients} -T ${opts.seconds} → ${t.name}…`);
        const run = (): Promise<PgbenchResult> => pgbenchSelectOnly(t, { mode, clients: opts.clients, threads: Math.min(opts.threads, opts.clients), seconds: opts.seconds });
        const isProxy = t.name === 'rsproxy';
        const cpuBefore = process.cpuUsage();
        const bouncerBefore = bouncer?.cpuMicros();
        const result = isProxy && opts.profileFile !== undefined ? await withProfile(`${opts.profileFile.replace(/\.cpuprofile$/, '')}-${mode}.cpuprofile`, run) : await run();
        const cpu = process.cpuUsage(cpuBefore);
        const bouncerAfter = bouncer?.cpuMicros();
        let cpuUs: number | undefined;
        if (isProxy) cpuUs = cpu.user + cpu.system;
        else if (t.name === 'pgbouncer' && bouncerBefore !== undefined && bouncerAfter !== undefined) cpuUs = bouncerAfter - bouncerBefore;
        rows.push({ target: t.name, mode, result, ...(cpuUs !== undefined && result.transactions > 0 ? { proxyCpuUsPerTx: cpuUs / result.transactions } : {}) });
      }
    }
  } finally {
    await bouncer?.stop();
  }
  return rows;
}

async function loginLatency(stack: StackHandle, opts: BenchOptions, log: (s: string) => void): Promise<Array<{ name: string; stats: LatencyStats }>> {
  const base = { host: '127.0.0.1', caPem: stack.caPem };
  const proxy: Omit<LoginTarget, 'password'> = { ...base, port: stack.proxyPort, user: stack.dbUser, database: stack.database };
  const direct: LoginTarget = { ...base, port: stack.pg.port, user: stack.pg.superuser, database: stack.upstreamDbName, password: stack.pg.superPassword };
  const rows: Array<{ name: string; stats: LatencyStats }> = [];
  log('login latency…');
  // The very first login of this user: the credential cache is empty, the token never seen.
  const first = await timeLogin({ ...proxy, password: await stack.mintToken() });
  rows.push({ name: 'rsproxy first (STS + credentials)', stats: summarize([first]) });
  const fresh = Math.max(2, Math.floor(opts.logins / 4));
  rows.push({ name: 'rsproxy fresh token (STS call)', stats: summarize(await timeLogins({ ...proxy, password: () => stack.mintToken() }, fresh)) });
  const token = await stack.mintToken();
  await timeLogin({ ...proxy, password: token });
  rows.push({ name: 'rsproxy warm (caches hot)', stats: summarize(await timeLogins({ ...proxy, password: token }, opts.logins)) });
  rows.push({ name: 'direct (SCRAM password)', stats: summarize(await timeLogins(direct, opts.logins)) });
  return rows;
}

async function main(): Promise<void> {
  const opts = parseBenchArgs(process.argv.slice(2));
  const log = (s: string): void => void process.stderr.write(`# ${s}\n`);
  log('starting PostgreSQL + emulator + rsproxy…');
  const stack = await startStack({ logLevel: 'warn', pgMaxConnections: Math.max(100, opts.clients * 3 + 10) });
  try {
    // The upstream base user can read what pgbench creates.
    await stack.pg.query('CREATE ROLE alice NOLOGIN');
    await stack.pg.query('GRANT pg_read_all_data TO alice');
    const tps = await throughput(stack, opts, log);
    const logins = await loginLatency(stack, opts, log);
    const out: string[] = [
      `rsproxy bench: pgbench -S scale 1, ${opts.clients} clients, ${opts.threads} threads, ${opts.seconds} s per run, TLS on every hop, loopback`,
      '',
      tpsTable(tps),
      '',
    ];
    for (const mode of opts.modes) {
      const d = tps.find((r) => r.target === 'direct' && r.mode === mode)?.result.tps ?? Number.NaN;
      const p = tps.find((r) => r.target === 'rsproxy' && r.mode === mode)?.result.tps ?? Number.NaN;
      const b = tps.find((r) => r.target === 'pgbouncer' && r.mode === mode)?.result.tps ?? Number.NaN;
      out.push(`ratio ${pad(mode, 9)} rsproxy/direct = ${fmt(p / d, 2)}   pgbouncer/direct = ${fmt(b / d, 2)}`);
    }
    out.push('', latencyTable(logins));
    const warm = logins.find((r) => r.name.startsWith('rsproxy warm'))?.stats;
    const direct = logins.find((r) => r.name.startsWith('direct'))?.stats;
    if (warm !== undefined && direct !== undefined) {
      out.push(`warm overhead over direct: median ${fmt(warm.medianMs - direct.medianMs, 2)} ms (${fmt(warm.medianMs / direct.medianMs, 2)}x), p95 ${fmt(warm.p95Ms - direct.p95Ms, 2)} ms`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
    if (opts.jsonFile !== undefined) writeFileSync(opts.jsonFile, `${JSON.stringify({ options: opts, tps, logins }, null, 2)}\n`);
  } finally {
    await stack.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
