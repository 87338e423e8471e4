/**
 * What the audit trail costs: `pgbench -S` through rsproxy with audit off, sessions only (statements off),
 * fingerprint and full, one PostgreSQL, one run, rounds interleaved so machine noise hits every variant alike.
 * Usage: node dist/bench/audit.js [--seconds 10] [--clients 8] [--threads 2] [--rounds 1] [--modes simple,prepared]
 *   [--variants off,sessions,fingerprint,full] [--rate TPS] [--json FILE]
 * With --rate, pgbench holds that many transactions per second (-R) in every run: the tps ratio is then 1 by
 * design, and the proxy's CPU per transaction (steadier than a saturated run's tps) is the figure to compare.
 */
import { runBench } from './run-main.js';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { proxyAwsEnv } from '../testkit/proxy-aws-env.js';
import { serveInProcess, stopProxy } from '../testkit/serve-in-process.js';
import { startStack, stackRegion } from '../testkit/stack.js';
import type { StackHandle } from '../testkit/stack.js';
import type { ServeHandle } from '../proxy/cli/run-serve.js';
import { intFlag, strFlag } from './args.js';
import { pgbenchInit, pgbenchSelectOnly } from './pgbench.js';
import type { PgTarget, PgbenchResult, QueryMode } from './pgbench.js';
import { machineJiffies } from './proc-cpu.js';
import { fmt, lpad, pad } from './format.js';

/** The audit settings compared. */
const variants = [
  { name: 'off', audit: undefined },
  { name: 'sessions', audit: { statements: 'off' } },
  { name: 'fingerprint', audit: { statements: 'fingerprint' } },
  { name: 'full', audit: { statements: 'full' } },
] as const;

/** One measured variant and mode. */
interface Row {
  variant: string;
  mode: QueryMode;
  tps: number;
  latencyAvgMs: number;
  transactions: number;
  failedTransactions: number;
  /** CPU time of this process (every proxy runs in it; only the measured one is busy) per transaction, µs. */
  proxyCpuUsPerTx: number;
  /** Share of all cores busy during its runs (/proc/stat). */
  machineBusyShare?: number;
  /** Audit file size after the run, bytes (per-variant, all modes). */
  auditBytes?: number;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Starts one more proxy on the stack's config with `audit` set (in this process, like the stack's own). */
async function startAuditedProxy(stack: StackHandle, dir: string, name: string, audit: Record<string, unknown>): Promise<ServeHandle> {
  const config = parse(readFileSync(stack.configPath, 'utf8')) as { admin: { listen: string }; listen: string; audit?: unknown };
  config.listen = '127.0.0.1:0';
  config.audit = { file: join(dir, `audit-${name}.log`), ...audit };
  const keys = { accessKeyId: process.env['AWS_ACCESS_KEY_ID'] ?? '', secretAccessKey: process.env['AWS_SECRET_ACCESS_KEY'] ?? '' };
  const env = { ...process.env, ...proxyAwsEnv(keys, stackRegion, stack.emulator.url) };
  const { proxy } = await serveInProcess({ config, configPath: join(dir, `rsproxy-${name}.yaml`), env, maxLogLines: 200 });
  return proxy;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const seconds = intFlag(argv, 'seconds', 10, 1, 120);
  const clients = intFlag(argv, 'clients', 8, 1, 64);
  const threads = Math.min(intFlag(argv, 'threads', 2, 1, 16), clients);
  const rounds = intFlag(argv, 'rounds', 1, 1, 10);
  const modes = (strFlag(argv, 'modes') ?? 'simple,prepared').split(',') as QueryMode[];
  for (const m of modes) if (m !== 'simple' && m !== 'extended' && m !== 'prepared') throw new Error(`--modes: unknown mode ${String(m)}`);
  const chosen = (strFlag(argv, 'variants') ?? variants.map((v) => v.name).join(',')).split(',');
  for (const v of chosen) if (!variants.some((known) => known.name === v)) throw new Error(`--variants: unknown variant ${v}`);
  const ratePerSecond = argv.includes('--rate') ? intFlag(argv, 'rate', 0, 1, 100_000) : undefined;
  const jsonFile = strFlag(argv, 'json');
  const log = (s: string): void => void process.stderr.write(`# ${s}\n`);

  log('starting PostgreSQL + emulator + rsproxy…');
  const stack = await startStack({ logLevel: 'warn', pgMaxConnections: Math.max(100, clients * 5 + 10) });
  const dir = mkdtempSync(join(process.env['RSPROXY_BENCH_AUDIT_DIR'] ?? tmpdir(), 'rsproxy-bench-audit-'));
  const proxies: ServeHandle[] = [];
  try {
    await stack.pg.query('CREATE ROLE alice NOLOGIN');
    await stack.pg.query('GRANT pg_read_all_data TO alice');
    await pgbenchInit({ name: 'direct', host: '127.0.0.1', port: stack.pg.port, user: stack.pg.superuser, database: stack.upstreamDbName, password: stack.pg.superPassword }, 1);
    const targets: Array<{ variant: string; port: number; auditFile?: string }> = [];
    for (const v of variants.filter((known) => chosen.includes(known.name))) {
      if (v.audit === undefined) targets.push({ variant: v.name, port: stack.proxyPort });
      else {
        const proxy = await startAuditedProxy(stack, dir, v.name, v.audit);
        proxies.push(proxy);
        targets.push({ variant: v.name, port: proxy.proxyAddress.port, auditFile: join(dir, `audit-${v.name}.log`) });
      }
    }
    const rows: Row[] = [];
    for (const mode of modes) {
      const runs = new Map<string, { results: PgbenchResult[]; busy: number[]; cpuUs: number }>();
      for (let round = 1; round <= rounds; round++) {
        for (const t of targets) {
          log(`pgbench -S -M ${mode} -c ${clients} -T ${seconds} → audit ${t.variant} (round ${round}/${rounds})…`);
          const target: PgTarget = { name: t.variant, host: '127.0.0.1', port: t.port, user: stack.dbUser, database: stack.database, password: await stack.mintToken() };
          const before = machineJiffies();
          const cpuBefore = process.cpuUsage();
          const result = await pgbenchSelectOnly(target, { mode, clients, threads, seconds, ...(ratePerSecond === undefined ? {} : { ratePerSecond }) });
          const cpu = process.cpuUsage(cpuBefore);
          const after = machineJiffies();
          log(`  ${fmt(result.tps)} tps, proxy CPU ${fmt((cpu.user + cpu.system) / Math.max(1, result.transactions), 1)} us/tx`);
          const entry = runs.get(t.variant) ?? { results: [], busy: [], cpuUs: 0 };
          entry.results.push(result);
          entry.cpuUs += cpu.user + cpu.system;
          if (before !== undefined && after !== undefined) entry.busy.push((after.busy - before.busy) / (after.total - before.total));
          runs.set(t.variant, entry);
        }
      }
      for (const t of targets) {
        const { results, busy, cpuUs } = runs.get(t.variant)!;
        const transactions = results.reduce((a, r) => a + r.transactions, 0);
        rows.push({
          variant: t.variant,
          mode,
          tps: mean(results.map((r) => r.tps)),
          latencyAvgMs: mean(results.map((r) => r.latencyAvgMs)),
          transactions,
          proxyCpuUsPerTx: transactions > 0 ? cpuUs / transactions : Number.NaN,
          failedTransactions: results.reduce((a, r) => a + r.failedTransactions, 0),
          ...(busy.length > 0 ? { machineBusyShare: mean(busy) } : {}),
          ...(t.auditFile === undefined ? {} : { auditBytes: statSync(t.auditFile).size }),
        });
      }
    }
    const lines = [
      `rsproxy audit bench: pgbench -S scale 1, ${clients} clients, ${threads} threads, ${seconds} s per run, ${rounds} round(s)${ratePerSecond === undefined ? '' : `, ${ratePerSecond} tps held`}, TLS on every hop, loopback`,
      '',
      `${pad('audit', 13)}${pad('mode', 10)}${lpad('tps', 10)}${lpad('lat ms', 9)}${lpad('vs off', 9)}${lpad('proxy CPU us/tx', 17)}${lpad('machine busy', 14)}`,
    ];
    for (const r of rows) {
      const off = rows.find((o) => o.variant === 'off' && o.mode === r.mode);
      lines.push(`${pad(r.variant, 13)}${pad(r.mode, 10)}${lpad(fmt(r.tps), 10)}${lpad(fmt(r.latencyAvgMs, 3), 9)}${lpad(off === undefined ? 'n/a' : `${fmt(r.tps / off.tps, 2)}x`, 9)}${lpad(fmt(r.proxyCpuUsPerTx, 1), 17)}${lpad(r.machineBusyShare === undefined ? '' : `${fmt(r.machineBusyShare * 100, 0)}%`, 14)}`);
    }
    lines.push('');
    for (const mode of modes) {
      const off = rows.find((o) => o.variant === 'off' && o.mode === mode)?.tps ?? Number.NaN;
      lines.push(`ratio ${pad(mode, 9)} ${rows.filter((r) => r.mode === mode && r.variant !== 'off').map((r) => `${r.variant}/off = ${fmt(r.tps / off, 2)}`).join('   ')}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    if (jsonFile !== undefined) writeFileSync(jsonFile, `${JSON.stringify({ options: { seconds, clients, threads, rounds, modes, ratePerSecond }, rows }, null, 2)}\n`);
  } finally {
    for (const p of proxies) await stopProxy(p).catch(() => undefined);
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
