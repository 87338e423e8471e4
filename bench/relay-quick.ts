/** Quick relay benchmark: `pgbench -S` over TLS directly against PostgreSQL vs through an in-process proxy; prints tps and ratios. */
import { parseArgs } from 'node:util';
import { startPgCluster } from '../test/helpers/pg-cluster.js';
import { startProxyFixture } from '../test/helpers/proxy-fixture.js';
import { pgbenchInit, pgbenchSelectOnly } from './pgbench.js';
import type { PgTarget, QueryMode } from './pgbench.js';

/** One measured run. */
interface Row {
  mode: QueryMode;
  round: number;
  directTps: number;
  proxyTps: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      clients: { type: 'string', default: '8' },
      threads: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '1' },
      modes: { type: 'string', default: 'simple,prepared' },
    },
  });
  const seconds = Number(values.seconds);
  const clients = Number(values.clients);
  const threads = Number(values.threads);
  const rounds = Number(values.rounds);
  const modes = values.modes.split(',') as QueryMode[];

  await using cluster = await startPgCluster({ maxConnections: 50 });
  await using fx = await startProxyFixture({ pg: cluster, limits: { maxClientConnections: 100 } });
  const direct: PgTarget = { name: 'direct', host: '127.0.0.1', port: cluster.port, user: fx.pgUser, database: 'postgres', password: fx.pgPassword };
  const proxied: PgTarget = { name: 'rsproxy', host: '127.0.0.1', port: fx.port, user: fx.clientUser, database: fx.clientDatabase, password: fx.clientPassword };
  await pgbenchInit(direct, 1);

  const rows: Row[] = [];
  for (const mode of modes) {
    for (let round = 1; round <= rounds; round++) {
      const opts = { mode, clients, threads, seconds };
      const d = await pgbenchSelectOnly(direct, opts);
      const p = await pgbenchSelectOnly(proxied, opts);
      rows.push({ mode, round, directTps: d.tps, proxyTps: p.tps });
      process.stdout.write(`${mode.padEnd(9)} round ${round}: direct ${d.tps.toFixed(0)} tps, rsproxy ${p.tps.toFixed(0)} tps, ratio ${(p.tps / d.tps).toFixed(3)}\n`);
    }
  }
  process.stdout.write(`\n| mode | direct tps | rsproxy tps | ratio |\n|---|---|---|---|\n`);
  for (const mode of modes) {
    const mine = rows.filter((r) => r.mode === mode);
    const d = mine.reduce((a, r) => a + r.directTps, 0) / mine.length;
    const p = mine.reduce((a, r) => a + r.proxyTps, 0) / mine.length;
    process.stdout.write(`| ${mode} | ${d.toFixed(0)} | ${p.toFixed(0)} | ${(p / d).toFixed(3)} |\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`relay-quick failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
