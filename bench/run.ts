/**
 * rsproxy benchmark (loopback only, bounded): `pgbench -S` throughput direct to PostgreSQL and through
 * socat (TCP only), pgbouncer, a bare Node TLS pipe and rsproxy (TLS on every hop, one PostgreSQL), then
 * sequential login latency.
 * Usage: node dist/bench/run.js [--seconds 10] [--clients 8] [--threads 2] [--rounds 1] [--logins 200]
 *        [--modes simple,prepared] [--no-pgbouncer] [--json FILE] [--profile FILE.cpuprofile]
 */
import { runBench } from './run-main.js';
import { existsSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { getTestPki } from '../testkit/certs.js';
import { startStack } from '../testkit/stack.js';
import type { StackHandle } from '../testkit/stack.js';
import { summarize, timeLogin, timeLogins } from './login-latency.js';
import type { LatencyStats, LoginTarget } from './login-latency.js';
import { pgbenchInit, pgbenchSelectOnly } from './pgbench.js';
import type { PgTarget, PgbenchResult, QueryMode } from './pgbench.js';
import { parseBenchArgs } from './args.js';
import type { BenchOptions } from './args.js';
import { pgbouncerBin, startPgbouncerForStack } from './pgbouncer.js';
import { startNodePipe } from './node-pipe.js';
import { socatBin, startTcpForward } from './tcp-forward.js';
import { machineJiffies } from './proc-cpu.js';
import { fmt, lpad, pad } from './format.js';

interface TpsRow {
  target: string;
  mode: QueryMode;
  result: PgbenchResult;
  /** CPU time of the proxy per transaction: this process for rsproxy (in-process), /proc for pgbouncer. */
  proxyCpuUsPerTx?: number;
  /** Share of all cores busy during the runs (/proc/stat). */
  machineBusyShare?: number;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;


function tpsTable(rows: TpsRow[]): string {
  const lines = [`${pad('target', 13)}${pad('mode', 10)}${lpad('tps', 10)}${lpad('lat ms', 9)}${lpad('vs direct', 11)}${lpad('proxy CPU us/tx', 17)}${lpad('machine busy', 14)}`];
  for (const r of rows) {
    const direct = rows.find((d) => d.target === 'direct' && d.mode === r.mode);
    const ratio = direct === undefined ? Number.NaN : r.result.tps / direct.result.tps;
    lines.push(`${pad(r.target, 13)}${pad(r.mode, 10)}${lpad(fmt(r.result.tps), 10)}${lpad(fmt(r.result.latencyAvgMs, 3), 9)}${lpad(`${fmt(ratio, 2)}x`, 11)}${lpad(r.proxyCpuUsPerTx === undefined ? '' : fmt(r.proxyCpuUsPerTx, 1), 17)}${lpad(r.machineBusyShare === undefined ? '' : `${fmt(r.machineBusyShare * 100, 0)}%`, 14)}`);
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

/** A pgbench target and how to read the CPU its proxy has used so far (µs); none for direct. */
interface Target {
  target: PgTarget;
  cpuMicros?: () => number | undefined;
}

const selfCpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function throughput(stack: StackHandle, opts: BenchOptions, log: (s: string) => void): Promise<TpsRow[]> {
  const pki = await getTestPki();
  const direct: PgTarget = { name: 'direct', host: '127.0.0.1', port: stack.pg.port, user: stack.pg.superuser, database: stack.upstreamDbName, password: stack.pg.superPassword };
  log('pgbench -i -s 1 (direct)…');
  await pgbenchInit(direct, 1);
  const targets: Target[] = [{ target: direct }];
  const stops: Array<() => Promise<void>> = [];
  const rows: TpsRow[] = [];
  try {
    const forward = await startTcpForward(stack.pg.port);
    if (forward === undefined) log(`socat not found at ${socatBin()}; skipping the tcp-forward floor`);
    else {
      stops.push(() => forward.stop());
      targets.push({ target: { ...direct, name: 'tcp-forward', port: forward.port }, cpuMicros: () => forward.cpuMicros() });
    }
    if (opts.withPgbouncer && existsSync(pgbouncerBin())) {
      const bouncer = await startPgbouncerForStack(stack, pki, opts.clients);
      stops.push(() => bouncer.stop());
      targets.push({ target: { ...direct, name: 'pgbouncer', port: bouncer.port }, cpuMicros: () => bouncer.cpuMicros() });
    } else if (opts.withPgbouncer) {
      log(`pgbouncer not found at ${pgbouncerBin()}; skipping it`);
    }
    const pipe = await startNodePipe({ upstreamHost: '127.0.0.1', upstreamPort: stack.pg.port, cert: await readFile(pki.certFile, 'utf8'), key: await readFile(pki.keyFile, 'utf8'), ca: stack.caPem });
    stops.push(() => pipe.close());
    targets.push({ target: { ...direct, name: 'node-pipe', port: pipe.port }, cpuMicros: selfCpuMicros });
    targets.push({ target: { name: 'rsproxy', host: '127.0.0.1', port: stack.proxyPort, user: stack.dbUser, database: stack.database, password: await stack.mintToken() }, cpuMicros: selfCpuMicros });

    for (const mode of opts.modes) {
      const runs = new Map<string, { results: PgbenchResult[]; cpuUs: number | undefined; busy: number[] }>();
      for (let round = 1; round <= opts.rounds; round++) {
        for (const { target: t, cpuMicros } of targets) {
          log(`pgbench -S -M ${mode} -c ${opts.clients} -T ${opts.seconds} → ${t.name} (round ${round}/${opts.rounds})…`);
          const run = (): Promise<PgbenchResult> => pgbenchSelectOnly(t, { mode, clients: opts.clients, threads: Math.min(opts.threads, opts.clients), seconds: opts.seconds });
          const cpuBefore = cpuMicros?.();
          const jiffiesBefore = machineJiffies();
          const result = t.name === 'rsproxy' && opts.profileFile !== undefined ? await withProfile(`${opts.profileFile.replace(/\.cpuprofile$/, '')}-${mode}.cpuprofile`, run) : await run();
          const jiffiesAfter = machineJiffies();
          // socat's per-connection children are counted once it has reaped them.
          if (t.name === 'tcp-forward') await new Promise((r) => setTimeout(r, 300));
          const cpuAfter = cpuMicros?.();
          const entry = runs.get(t.name) ?? { results: [], cpuUs: cpuMicros === undefined ? undefined : 0, busy: [] };
          entry.results.push(result);
          if (entry.cpuUs !== undefined) entry.cpuUs = cpuBefore === undefined || cpuAfter === undefined ? undefined : entry.cpuUs + cpuAfter - cpuBefore;
          if (jiffiesBefore !== undefined && jiffiesAfter !== undefined) entry.busy.push((jiffiesAfter.busy - jiffiesBefore.busy) / (jiffiesAfter.total - jiffiesBefore.total));
          runs.set(t.name, entry);
        }
      }
      for (const [target, { results, cpuUs, busy }] of runs) {
        const transactions = results.reduce((a, r) => a + r.transactions, 0);
        const result: PgbenchResult = {
          tps: mean(results.map((r) => r.tps)),
          latencyAvgMs: mean(results.map((r) => r.latencyAvgMs)),
          transactions,
          failedTransactions: results.reduce((a, r) => a + r.failedTransactions, 0),
        };
        rows.push({
          target,
          mode,
          result,
          ...(cpuUs !== undefined && transactions > 0 ? { proxyCpuUsPerTx: cpuUs / transactions } : {}),
          ...(busy.length > 0 ? { machineBusyShare: mean(busy) } : {}),
        });
      }
    }
  } finally {
    for (const stop of stops) await stop();
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
      `rsproxy bench: pgbench -S scale 1, ${opts.clients} clients, ${opts.threads} threads, ${opts.seconds} s per run, ${opts.rounds} round(s), TLS on every hop, loopback`,
      '',
      tpsTable(tps),
      '',
    ];
    for (const mode of opts.modes) {
      const d = tps.find((r) => r.target === 'direct' && r.mode === mode)?.result.tps ?? Number.NaN;
      const ratios = tps.filter((r) => r.target !== 'direct' && r.mode === mode).map((r) => `${r.target}/direct = ${fmt(r.result.tps / d, 2)}`);
      out.push(`ratio ${pad(mode, 9)} ${ratios.join('   ')}`);
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

runBench(main);
