/** Quick relay benchmark: `pgbench -S` over TLS directly against PostgreSQL vs through an in-process proxy (and optionally pgbouncer); prints tps, ratios and CPU. */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getTestPki } from '../test/helpers/certs.js';
import { startPgCluster } from '../test/helpers/pg-cluster.js';
import { startProxyFixture } from '../test/helpers/proxy-fixture.js';
import { pgbenchInit, pgbenchSelectOnly } from './pgbench.js';
import type { PgTarget, QueryMode } from './pgbench.js';
import { pgbouncerBin, startPgbouncer } from './pgbouncer.js';
import type { Pgbouncer } from './pgbouncer.js';

/** One measured pgbench run. */
interface Run {
  mode: QueryMode;
  target: string;
  tps: number;
  /** CPU the proxy under test used, as a share of one core (undefined for direct). */
  proxyCpuShare: number | undefined;
  /** Share of the whole machine (all cores) busy during the run, from /proc/stat. */
  machineBusyShare: number | undefined;
}

/** Busy and total jiffies of all CPUs, or undefined off Linux. */
function machineJiffies(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

async function measure(target: PgTarget, mode: QueryMode, opts: { clients: number; threads: number; seconds: number }, cpuMicros: (() => number | undefined) | undefined): Promise<Run> {
  const cpuBefore = cpuMicros?.();
  const jiffiesBefore = machineJiffies();
  const wallBefore = performance.now();
  const result = await pgbenchSelectOnly(target, { mode, ...opts });
  const wallMs = performance.now() - wallBefore;
  const cpuAfter = cpuMicros?.();
  const jiffiesAfter = machineJiffies();
  const proxyCpuShare = cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / 1000 / wallMs;
  const machineBusyShare =
    jiffiesBefore === undefined || jiffiesAfter === undefined ? undefined : (jiffiesAfter.busy - jiffiesBefore.busy) / (jiffiesAfter.total - jiffiesBefore.total);
  return { mode, target: target.name, tps: result.tps, proxyCpuShare, machineBusyShare };
}

const pct = (x: number | undefined): string => (x === undefined ? '-' : `${(x * 100).toFixed(0)}%`);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      clients: { type: 'string', default: '8' },
      threads: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '1' },
      modes: { type: 'string', default: 'simple,prepared' },
      pgbouncer: { type: 'boolean', default: false },
    },
  });
  const opts = { clients: Number(values.clients), threads: Number(values.threads), seconds: Number(values.seconds) };
  const rounds = Number(values.rounds);
  const modes = values.modes.split(',') as QueryMode[];

  await using cluster = await startPgCluster({ maxConnections: 50 });
  await using fx = await startProxyFixture({ pg: cluster, limits: { maxClientConnections: 100 } });
  const direct: PgTarget = { name: 'direct', host: '127.0.0.1', port: cluster.port, user: fx.pgUser, database: 'postgres', password: fx.pgPassword };
  const proxied: PgTarget = { name: 'rsproxy', host: '127.0.0.1', port: fx.port, user: fx.clientUser, database: fx.clientDatabase, password: fx.clientPassword };
  await pgbenchInit(direct, 1);

  const selfCpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const targets: Array<{ target: PgTarget; cpu: (() => number | undefined) | undefined }> = [{ target: direct, cpu: undefined }];
  let bouncer: Pgbouncer | undefined;
  if (values.pgbouncer && existsSync(pgbouncerBin())) {
    const pki = await getTestPki();
    bouncer = await startPgbouncer({
      upstreamHost: '127.0.0.1',
      upstreamPort: cluster.port,
      database: 'postgres',
      user: fx.pgUser,
      password: fx.pgPassword,
      certFile: pki.certFile,
      keyFile: pki.keyFile,
      caFile: pki.caFile,
      poolSize: opts.clients,
    });
    const b = bouncer;
    targets.push({ target: { ...direct, name: 'pgbouncer', port: b.port }, cpu: () => b.cpuMicros() });
  }
  targets.push({ target: proxied, cpu: selfCpu });

  const runs: Run[] = [];
  try {
    for (const mode of modes) {
      for (let round = 1; round <= rounds; round++) {
        for (const { target, cpu } of targets) {
          process.stderr.write(`${mode} round ${round}: pgbench → ${target.name} (bench pid ${process.pid})\n`);
          const run = await measure(target, mode, opts, cpu);
          runs.push(run);
          process.stdout.write(`${mode.padEnd(9)} round ${round} ${target.name.padEnd(9)} ${run.tps.toFixed(0).padStart(6)} tps  proxy CPU ${pct(run.proxyCpuShare)}  machine busy ${pct(run.machineBusyShare)}\n`);
        }
      }
    }
  } finally {
    await bouncer?.stop();
  }

  process.stdout.write(`\n-c ${opts.clients} -j ${opts.threads} -T ${opts.seconds}, sslmode=require, ${rounds} round(s); proxy CPU: one core = 100%\n`);
  process.stdout.write(`| mode | target | tps | × direct | proxy CPU | machine busy |\n|---|---|---|---|---|---|\n`);
  for (const mode of modes) {
    const directTps = mean(runs.filter((r) => r.mode === mode && r.target === 'direct').map((r) => r.tps));
    for (const { target } of targets) {
      const mine = runs.filter((r) => r.mode === mode && r.target === target.name);
      const tps = mean(mine.map((r) => r.tps));
      const cpu = mine[0]?.proxyCpuShare === undefined ? undefined : mean(mine.map((r) => r.proxyCpuShare ?? 0));
      const busy = mine[0]?.machineBusyShare === undefined ? undefined : mean(mine.map((r) => r.machineBusyShare ?? 0));
      process.stdout.write(`| ${mode} | ${target.name} | ${tps.toFixed(0)} | ${(tps / directTps).toFixed(3)} | ${pct(cpu)} | ${pct(busy)} |\n`);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`relay-quick failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
