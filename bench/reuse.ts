/**
 * Upstream session reuse bench (loopback, bounded): `pgbench -S -C` (a new connection per transaction) through
 * rsproxy with and without reuse, direct over TLS and through PgBouncer over TLS, at an emulated upstream login cost
 * of 0 and 200 ms (emulator/login-delay.ts in front of PostgreSQL, so every fresh upstream connection pays it); then
 * sequential warm login latency and the hit ratio of the churn; and the relay's hot path: `pgbench -S` on long-lived
 * connections with and without reuse (the check-in tracker must not cost it), rounds interleaved.
 * Usage: node dist/bench/reuse.js [--seconds 10] [--clients 4] [--logins 50] [--delays 0,200] [--steady-rounds 3] [--no-pgbouncer] [--json FILE]
 */
import { runBench } from './run-main.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { startLoginDelayRelay } from '../emulator/login-delay.js';
import type { LoginDelayRelay } from '../emulator/login-delay.js';
import { getTestPki } from '../testkit/certs.js';
import { httpGet } from '../testkit/http-get.js';
import { metricValue } from '../testkit/iam-stack.js';
import { startStack } from '../testkit/stack.js';
import type { StackHandle } from '../testkit/stack.js';
import { intFlag, strFlag } from './args.js';
import { fmt, lpad, pad } from './format.js';
import { summarize, timeLogin, timeLogins } from './login-latency.js';
import type { LatencyStats } from './login-latency.js';
import { conninfo, parsePgbenchOutput, pgbenchInit, pgbenchSelectOnly } from './pgbench.js';
import type { PgTarget, PgbenchResult, QueryMode } from './pgbench.js';
import { pgbouncerBin, startPgbouncer } from './pgbouncer.js';
import { execFile } from 'node:child_process';

/** Parsed command line of the reuse bench. */
export interface ReuseBenchOptions {
  seconds: number;
  clients: number;
  logins: number;
  delaysMs: number[];
  withPgbouncer: boolean;
  /** Interleaved rounds of steady `pgbench -S` per mode, with and without reuse (0 = skip). */
  steadyRounds: number;
  jsonFile?: string;
}

/** Parses argv; every count and duration is bounded. */
export function parseReuseBenchArgs(argv: string[]): ReuseBenchOptions {
  const delaysMs = (strFlag(argv, 'delays') ?? '0,200').split(',').map(Number);
  for (const d of delaysMs) if (!Number.isInteger(d) || d < 0 || d > 2000) throw new Error('--delays: integers from 0 to 2000 ms');
  const jsonFile = strFlag(argv, 'json');
  return {
    seconds: intFlag(argv, 'seconds', 10, 1, 120),
    clients: intFlag(argv, 'clients', 4, 1, 32),
    logins: intFlag(argv, 'logins', 50, 4, 1000),
    delaysMs,
    withPgbouncer: !argv.includes('--no-pgbouncer'),
    steadyRounds: intFlag(argv, 'steady-rounds', 3, 0, 10),
    ...(jsonFile === undefined ? {} : { jsonFile }),
  };
}

interface ChurnRow {
  delayMs: number;
  target: string;
  result: PgbenchResult;
}

interface SteadyRow {
  mode: QueryMode;
  target: string;
  tps: number[];
}

interface LoginRow {
  delayMs: number;
  name: string;
  stats: LatencyStats;
}

/** `pgbench -n -S -C`: one new connection per transaction. */
function pgbenchConnectEach(t: PgTarget, clients: number, seconds: number): Promise<PgbenchResult> {
  const args = ['-n', '-S', '-C', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), conninfo(t)];
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PGPASSWORD: t.password, PGCONNECT_TIMEOUT: '10' };
    execFile('pgbench', args, { env, encoding: 'utf8', timeout: (seconds + 60) * 1000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`pgbench -C against ${t.name} failed: ${(stderr || stdout || err.message).slice(-1500)}`, { cause: err }));
      try {
        resolve(parsePgbenchOutput(`${stdout}\n${stderr}`));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

const loadAverage = (): string => {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
};

async function hitsAndMisses(stack: StackHandle): Promise<{ hit: number; miss: number }> {
  const text = (await httpGet(`http://127.0.0.1:${stack.adminPort}/metrics`)).body;
  return { hit: metricValue(text, 'rsproxy_upstream_reuse_total', { result: 'hit' }), miss: metricValue(text, 'rsproxy_upstream_reuse_total', { result: 'miss' }) };
}

/** Adds `dev_<delay>` (reuse off) and `dev_<delay>_reuse` (reuse on) databases through each delay relay, and reloads. */
async function addDatabases(stack: StackHandle, relays: Map<number, LoginDelayRelay>): Promise<void> {
  const config = parse(readFileSync(stack.configPath, 'utf8')) as { databases: Record<string, Record<string, unknown>>; rules: Array<{ databases: string[] }> };
  const dev = config.databases['dev']!;
  for (const [delayMs, relay] of relays) {
    config.databases[`dev_${delayMs}`] = { ...dev, host: relay.host, port: relay.port, reuse: false };
    config.databases[`dev_${delayMs}_reuse`] = { ...dev, host: relay.host, port: relay.port, reuse: true };
  }
  for (const rule of config.rules) rule.databases = ['*'];
  writeFileSync(stack.configPath, stringify(config));
  if (!(await stack.proxy.reload())) throw new Error('the bench config was not accepted');
}

async function main(): Promise<void> {
  const opts = parseReuseBenchArgs(process.argv.slice(2));
  const log = (s: string): void => void process.stderr.write(`# ${s}\n`);
  const loadBefore = loadAverage();
  log('starting PostgreSQL + emulator + rsproxy…');
  // A reused login is fast enough that 4 clients pass the default 100 new connections per second from one source.
  const stack = await startStack({ logLevel: 'warn', pgMaxConnections: 200, configure: (c) => (c['limits'] = { ...(c['limits'] as object | undefined), maxConnectionsPerSourcePerSecond: 100_000 }) });
  const relays = new Map<number, LoginDelayRelay>();
  const stops: Array<() => Promise<void>> = [];
  const churn: ChurnRow[] = [];
  const logins: LoginRow[] = [];
  const hitRatios: Array<{ delayMs: number; hit: number; miss: number }> = [];
  const steady: SteadyRow[] = [];
  try {
    await stack.pg.query('CREATE ROLE alice NOLOGIN');
    await stack.pg.query('GRANT pg_read_all_data TO alice');
    const pki = await getTestPki();
    const direct: PgTarget = { name: 'direct', host: '127.0.0.1', port: stack.pg.port, user: stack.pg.superuser, database: stack.upstreamDbName, password: stack.pg.superPassword };
    log('pgbench -i -s 1 (direct)…');
    await pgbenchInit(direct, 1);
    for (const delayMs of opts.delaysMs) {
      const relay = await startLoginDelayRelay({ upstreamHost: '127.0.0.1', upstreamPort: stack.pg.port, delayMs });
      relays.set(delayMs, relay);
      stops.push(() => relay.close());
    }
    await addDatabases(stack, relays);
    const token = await stack.mintToken();
    for (const [delayMs, relay] of relays) {
      const targets: PgTarget[] = [
        { ...direct, name: 'direct TLS', host: relay.host, port: relay.port },
        { name: 'rsproxy', host: '127.0.0.1', port: stack.proxyPort, user: stack.dbUser, database: `dev_${delayMs}`, password: token },
        { name: 'rsproxy reuse', host: '127.0.0.1', port: stack.proxyPort, user: stack.dbUser, database: `dev_${delayMs}_reuse`, password: token },
      ];
      if (opts.withPgbouncer && existsSync(pgbouncerBin())) {
        const bouncer = await startPgbouncer({ upstreamHost: relay.host, upstreamPort: relay.port, database: stack.upstreamDbName, user: stack.pg.superuser, password: stack.pg.superPassword, certFile: pki.certFile, keyFile: pki.keyFile, caFile: pki.caFile, poolSize: opts.clients });
        stops.push(() => bouncer.stop());
        targets.push({ ...direct, name: 'pgbouncer TLS', port: bouncer.port });
      } else if (opts.withPgbouncer) log(`pgbouncer not found at ${pgbouncerBin()}; skipping it`);
      for (const t of targets) {
        log(`pgbench -S -C -c ${opts.clients} -T ${opts.seconds} → ${t.name} (login delay ${delayMs} ms)…`);
        const before = t.name === 'rsproxy reuse' ? await hitsAndMisses(stack) : undefined;
        churn.push({ delayMs, target: t.name, result: await pgbenchConnectEach(t, opts.clients, opts.seconds) });
        if (before !== undefined) {
          const after = await hitsAndMisses(stack);
          hitRatios.push({ delayMs, hit: after.hit - before.hit, miss: after.miss - before.miss });
        }
      }
      log(`warm login latency (login delay ${delayMs} ms)…`);
      const base = { host: '127.0.0.1', caPem: stack.caPem };
      for (const [name, database] of [['rsproxy', `dev_${delayMs}`], ['rsproxy reuse', `dev_${delayMs}_reuse`]] as const) {
        const t = { ...base, port: stack.proxyPort, user: stack.dbUser, database, password: token };
        await timeLogin(t);
        logins.push({ delayMs, name, stats: summarize(await timeLogins(t, opts.logins)) });
      }
      logins.push({ delayMs, name: 'direct TLS (SCRAM)', stats: summarize(await timeLogins({ ...base, port: relay.port, user: stack.pg.superuser, database: stack.upstreamDbName, password: stack.pg.superPassword }, opts.logins)) });
    }
    // The hot path: long-lived connections (no churn) through rsproxy with reuse off and on, at no login delay.
    const steadyDelay = opts.delaysMs.includes(0) ? 0 : opts.delaysMs[0];
    if (opts.steadyRounds > 0 && steadyDelay !== undefined) {
      const pair: PgTarget[] = [
        { name: 'rsproxy', host: '127.0.0.1', port: stack.proxyPort, user: stack.dbUser, database: `dev_${steadyDelay}`, password: token },
        { name: 'rsproxy reuse', host: '127.0.0.1', port: stack.proxyPort, user: stack.dbUser, database: `dev_${steadyDelay}_reuse`, password: token },
      ];
      for (const mode of ['simple', 'prepared'] as const) {
        const rows = pair.map((t) => ({ mode, target: t.name, tps: [] as number[] }));
        steady.push(...rows);
        for (let round = 0; round < opts.steadyRounds; round++) {
          for (const [i, t] of pair.entries()) {
            log(`pgbench -S -M ${mode} -c ${opts.clients} -T ${opts.seconds} → ${t.name} (steady, round ${round + 1})…`);
            rows[i]!.tps.push((await pgbenchSelectOnly(t, { mode, clients: opts.clients, threads: Math.min(opts.clients, 2), seconds: opts.seconds })).tps);
          }
        }
      }
    }
  } finally {
    for (const stop of stops) await stop().catch(() => {});
    await stack.close();
  }
  const loadAfter = loadAverage();
  const out: string[] = [`rsproxy reuse bench: pgbench -S -C (new connection per transaction), ${opts.clients} clients, ${opts.seconds} s per run, TLS on every hop, loopback; load average before ${loadBefore}, after ${loadAfter}`, ''];
  out.push(`${pad('login delay', 13)}${pad('target', 15)}${lpad('tps', 10)}${lpad('lat ms', 10)}${lpad('vs direct', 11)}`);
  for (const r of churn) {
    const d = churn.find((x) => x.delayMs === r.delayMs && x.target === 'direct TLS')?.result.tps ?? Number.NaN;
    out.push(`${pad(`${r.delayMs} ms`, 13)}${pad(r.target, 15)}${lpad(fmt(r.result.tps), 10)}${lpad(fmt(r.result.latencyAvgMs, 2), 10)}${lpad(`${fmt(r.result.tps / d, 2)}x`, 11)}`);
  }
  out.push('', `${pad('login delay', 13)}${pad('warm login', 20)}${lpad('n', 5)}${lpad('p50 ms', 9)}${lpad('p95 ms', 9)}`);
  for (const r of logins) out.push(`${pad(`${r.delayMs} ms`, 13)}${pad(r.name, 20)}${lpad(String(r.stats.count), 5)}${lpad(fmt(r.stats.medianMs, 2), 9)}${lpad(fmt(r.stats.p95Ms, 2), 9)}`);
  out.push('');
  for (const h of hitRatios) out.push(`hit ratio during the reuse churn at ${h.delayMs} ms: ${fmt((100 * h.hit) / Math.max(1, h.hit + h.miss), 1)}% (${h.hit} hits, ${h.miss} misses)`);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  if (steady.length > 0) out.push('', `${pad('steady -S', 13)}${pad('target', 15)}${lpad('tps (mean)', 12)}${lpad('vs no reuse', 13)}   rounds`);
  for (const r of steady) {
    const off = mean(steady.find((x) => x.mode === r.mode && x.target === 'rsproxy')?.tps ?? []);
    out.push(`${pad(r.mode, 13)}${pad(r.target, 15)}${lpad(fmt(mean(r.tps)), 12)}${lpad(`${fmt(mean(r.tps) / off, 3)}x`, 13)}   ${r.tps.map((x) => fmt(x)).join(' ')}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  if (opts.jsonFile !== undefined) writeFileSync(opts.jsonFile, `${JSON.stringify({ options: opts, loadBefore, loadAfter, churn, logins, hitRatios, steady }, null, 2)}\n`);
}

runBench(main);
