/**
 * rsproxy fleet benchmark (loopback only, bounded): `pgbench -S` through the real HAProxy (tcp mode,
 * `send-proxy-v2`, roundrobin) to two rsproxy replicas, as a ratio to one replica direct, in the same run.
 * Usage: node dist/bench/haproxy-fleet.js [--seconds 10] [--clients 8] [--threads 2] [--rounds 1] [--modes simple,prepared] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { haproxyAvailable, haproxyBin, startHaproxy } from '../testkit/haproxy.js';
import { startStack } from '../testkit/stack.js';
import { parseBenchArgs } from './args.js';
import { pgbenchInit, pgbenchSelectOnly } from './pgbench.js';
import type { PgTarget, PgbenchResult, QueryMode } from './pgbench.js';

/** HAProxy's source address toward the replicas: the one address they trust to send PROXY headers. */
const balancerAddress = '127.0.0.7';

interface Row {
  target: string;
  mode: QueryMode;
  tps: number;
  latencyAvgMs: number;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const opts = parseBenchArgs(process.argv.slice(2));
  const log = (s: string): void => void process.stderr.write(`# ${s}\n`);
  if (!haproxyAvailable()) throw new Error(`haproxy not found at ${haproxyBin()}`);
  log('starting PostgreSQL + emulator + two rsproxy replicas + HAProxy…');
  const stack = await startStack({
    logLevel: 'warn',
    pgMaxConnections: Math.max(100, opts.clients * 3 + 10),
    extraReplicas: 1,
    configure: (c) => {
      c.proxyProtocol = { trustedSources: [`${balancerAddress}/32`] };
    },
  });
  try {
    const haproxy = await startHaproxy({
      backendPorts: [stack.proxyPort, stack.replicas[0]!.port],
      sourceAddress: balancerAddress,
      frontends: [{ name: 'fleet', balance: 'roundrobin' }],
      checkIntervalMs: 2000,
    });
    try {
      await stack.pg.query('CREATE ROLE alice NOLOGIN');
      await stack.pg.query('GRANT pg_read_all_data TO alice');
      const direct: PgTarget = { name: 'pg-direct', host: '127.0.0.1', port: stack.pg.port, user: stack.pg.superuser, database: stack.upstreamDbName, password: stack.pg.superPassword };
      log('pgbench -i -s 1 (direct)…');
      await pgbenchInit(direct, 1);
      const token = await stack.mintToken();
      const proxied = { host: '127.0.0.1', user: stack.dbUser, database: stack.database, password: token };
      // One replica, connected to directly from 127.0.0.1 (untrusted: no header, as before PROXY protocol).
      const targets: PgTarget[] = [
        direct,
        { ...proxied, name: 'one-replica', port: stack.proxyPort },
        { ...proxied, name: 'haproxy-2-replicas', port: haproxy.ports['fleet']! },
      ];
      const results = new Map<string, PgbenchResult[]>();
      for (const mode of opts.modes) {
        for (let round = 1; round <= opts.rounds; round++) {
          for (const t of targets) {
            log(`pgbench -S -M ${mode} -c ${opts.clients} -T ${opts.seconds} → ${t.name} (round ${round}/${opts.rounds})…`);
            const r = await pgbenchSelectOnly(t, { mode, clients: opts.clients, threads: Math.min(opts.threads, opts.clients), seconds: opts.seconds });
            const key = `${t.name}/${mode}`;
            results.set(key, [...(results.get(key) ?? []), r]);
          }
        }
      }
      const rows: Row[] = [...results].map(([key, rs]) => {
        const [target = '', mode = 'simple'] = key.split('/');
        return { target, mode: mode as QueryMode, tps: mean(rs.map((r) => r.tps)), latencyAvgMs: mean(rs.map((r) => r.latencyAvgMs)) };
      });
      const out = [
        `rsproxy fleet bench: pgbench -S scale 1, ${opts.clients} clients, ${opts.threads} threads, ${opts.seconds} s per run, ${opts.rounds} round(s), TLS client↔rsproxy↔PostgreSQL, loopback`,
        'replicas run in one Node process (one event loop between them): the ratio is the cost of the HAProxy hop and the PROXY header, not scale-out',
        '',
        `${'target'.padEnd(20)}${'mode'.padEnd(10)}${'tps'.padStart(10)}${'lat ms'.padStart(9)}${'vs one replica'.padStart(16)}`,
      ];
      for (const r of rows) {
        const one = rows.find((x) => x.target === 'one-replica' && x.mode === r.mode);
        out.push(`${r.target.padEnd(20)}${r.mode.padEnd(10)}${fmt(r.tps).padStart(10)}${fmt(r.latencyAvgMs, 3).padStart(9)}${`${fmt(one === undefined ? Number.NaN : r.tps / one.tps, 2)}x`.padStart(16)}`);
      }
      process.stdout.write(`${out.join('\n')}\n`);
      if (opts.jsonFile !== undefined) writeFileSync(opts.jsonFile, JSON.stringify({ opts, rows }, null, 2));
    } finally {
      await haproxy.stop();
    }
  } finally {
    await stack.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 2;
});
