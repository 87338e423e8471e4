/**
 * `rsproxy tunnel` benchmark (loopback only, bounded): warm login latency through the tunnel (a child process, no
 * password, sslmode=disable to it) against the same login with a pasted token straight to the proxy (TLS), and
 * `pgbench -S` through the tunnel as a ratio to pgbench straight to the proxy, in the same run.
 * With `--tunnel-command CMD` (e.g. dist-exe/rsproxy, the single executable) a second tunnel runs from that command
 * and joins the interleaved login latency, so both are measured in one run; `--no-pgbench` skips the throughput part.
 * Usage: node dist/bench/tunnel.js [--seconds 10] [--clients 8] [--threads 2] [--rounds 1] [--logins 200]
 *        [--modes simple,prepared] [--tunnel-command CMD] [--no-pgbench] [--json FILE]
 */
import { runBench } from './run-main.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../testkit/stack.js';
import type { StackHandle } from '../testkit/stack.js';
import { startTunnel, tunnelEnv, writeCredentialsFile } from '../testkit/tunnel-process.js';
import type { TunnelProcess } from '../testkit/tunnel-process.js';
import { parseBenchArgs, strFlag } from './args.js';
import type { BenchOptions } from './args.js';
import { summarize, timeLogin } from './login-latency.js';
import type { LatencyStats, LoginTarget } from './login-latency.js';
import { pgbenchInit, pgbenchSelectOnly } from './pgbench.js';
import { procCpuMicros } from './proc-cpu.js';
import type { PgTarget, PgbenchResult, QueryMode } from './pgbench.js';

const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One pgbench row of the JSON output. */
interface TpsRow {
  target: 'proxy' | 'tunnel';
  mode: QueryMode;
  result: PgbenchResult;
  /** CPU the tunnel process spent per transaction (tunnel rows; /proc), a figure the machine's load does not skew. */
  tunnelCpuUsPerTx?: number;
}

/** CPU time of the tunnel child so far (µs), or undefined off Linux. */
const tunnelCpu = (tunnel: TunnelProcess): number | undefined => (tunnel.child.pid === undefined ? undefined : procCpuMicros(tunnel.child.pid));

async function startBenchTunnel(stack: StackHandle, dir: string, command?: readonly string[]): Promise<TunnelProcess> {
  const credentialsFile = join(dir, 'credentials');
  const configFile = join(dir, 'config');
  writeFileSync(configFile, '');
  writeCredentialsFile(credentialsFile, stack.clientCredentials);
  const args = ['--host', '127.0.0.1', '--port', String(stack.proxyPort), '--sslrootcert', stack.caFile, '--audience', stack.audience, '--region', stack.region, '--user', stack.dbUser, '--dbname', stack.database, '--listen', '127.0.0.1:0'];
  return startTunnel(args, tunnelEnv({ credentialsFile, configFile, home: dir }), command);
}

/** A tunnel in the login comparison: the npm-installed CLI (this Node + dist), or one run from --tunnel-command. */
interface BenchTunnel {
  name: string;
  process: TunnelProcess;
}

/** Warm logins, the targets interleaved so that drift of the machine hits them alike. */
async function loginLatency(stack: StackHandle, tunnels: readonly BenchTunnel[], opts: BenchOptions): Promise<{ rows: Array<{ name: string; stats: LatencyStats }>; tunnelCpuMsPerLogin?: number; cpuMsPerLogin: Record<string, number> }> {
  const token = await stack.mintToken();
  const pasted: LoginTarget = { host: '127.0.0.1', port: stack.proxyPort, user: stack.dbUser, database: stack.database, caPem: stack.caPem, password: token };
  const via = tunnels.map((t): LoginTarget => ({ host: '127.0.0.1', port: t.process.port, user: stack.dbUser, database: stack.database, caPem: undefined, password: '' }));
  // Warm-up: the proxy's token and credential caches, and each tunnel's reused token.
  await timeLogin(pasted);
  for (const v of via) await timeLogin(v);
  const a: number[] = [];
  const b: number[][] = via.map(() => []);
  const cpuBefore = tunnels.map((t) => tunnelCpu(t.process));
  for (let i = 0; i < opts.logins; i++) {
    a.push(await timeLogin(pasted));
    for (const [j, v] of via.entries()) b[j]?.push(await timeLogin(v));
  }
  // The tunnel's sessions finish closing just after the client's end().
  await new Promise((r) => setTimeout(r, 200));
  const cpuMsPerLogin: Record<string, number> = {};
  for (const [j, t] of tunnels.entries()) {
    const before = cpuBefore[j];
    const after = tunnelCpu(t.process);
    if (before !== undefined && after !== undefined) cpuMsPerLogin[t.name] = (after - before) / 1000 / opts.logins;
  }
  const rows = [{ name: 'pasted token, straight to the proxy', stats: summarize(a) }, ...tunnels.map((t, j) => ({ name: t.name, stats: summarize(b[j] ?? []) }))];
  const first = tunnels[0] === undefined ? undefined : cpuMsPerLogin[tunnels[0].name];
  return { rows, cpuMsPerLogin, ...(first === undefined ? {} : { tunnelCpuMsPerLogin: first }) };
}

async function throughput(stack: StackHandle, tunnel: TunnelProcess, opts: BenchOptions, log: (s: string) => void): Promise<TpsRow[]> {
  const direct: PgTarget = { name: 'direct', host: '127.0.0.1', port: stack.pg.port, user: stack.pg.superuser, database: stack.upstreamDbName, password: stack.pg.superPassword };
  log('pgbench -i -s 1 (direct)…');
  await pgbenchInit(direct, 1);
  const targets: PgTarget[] = [
    { name: 'proxy', host: '127.0.0.1', port: stack.proxyPort, user: stack.dbUser, database: stack.database, password: await stack.mintToken() },
    { name: 'tunnel', host: '127.0.0.1', port: tunnel.port, user: stack.dbUser, database: stack.database, password: '', sslmode: 'disable' },
  ];
  const rows: TpsRow[] = [];
  for (const mode of opts.modes) {
    const runs = new Map<string, PgbenchResult[]>();
    let tunnelCpuUs: number | undefined = 0;
    for (let round = 1; round <= opts.rounds; round++) {
      for (const t of targets) {
        log(`pgbench -S -M ${mode} -c ${opts.clients} -T ${opts.seconds} → ${t.name} (round ${round}/${opts.rounds})…`);
        const cpuBefore = t.name === 'tunnel' ? tunnelCpu(tunnel) : undefined;
        const result = await pgbenchSelectOnly(t, { mode, clients: opts.clients, threads: Math.min(opts.threads, opts.clients), seconds: opts.seconds });
        if (t.name === 'tunnel') {
          const cpuAfter = tunnelCpu(tunnel);
          tunnelCpuUs = tunnelCpuUs === undefined || cpuBefore === undefined || cpuAfter === undefined ? undefined : tunnelCpuUs + cpuAfter - cpuBefore;
        }
        runs.set(t.name, [...(runs.get(t.name) ?? []), result]);
      }
    }
    for (const [name, results] of runs) {
      const transactions = results.reduce((s, r) => s + r.transactions, 0);
      rows.push({
        target: name as TpsRow['target'],
        mode,
        result: {
          tps: mean(results.map((r) => r.tps)),
          latencyAvgMs: mean(results.map((r) => r.latencyAvgMs)),
          transactions,
          failedTransactions: results.reduce((s, r) => s + r.failedTransactions, 0),
        },
        ...(name === 'tunnel' && tunnelCpuUs !== undefined && transactions > 0 ? { tunnelCpuUsPerTx: tunnelCpuUs / transactions } : {}),
      });
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const opts = parseBenchArgs(process.argv.slice(2));
  const log = (s: string): void => void process.stderr.write(`# ${s}\n`);
  log('starting PostgreSQL + emulator + rsproxy + rsproxy tunnel…');
  const command = strFlag(process.argv.slice(2), 'tunnel-command')?.split(' ').filter((w) => w !== '');
  const isPgbench = !process.argv.includes('--no-pgbench');
  const stack = await startStack({ logLevel: 'warn', pgMaxConnections: Math.max(100, opts.clients * 3 + 10) });
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-bench-tunnel-'));
  const tunnels: BenchTunnel[] = [];
  try {
    await stack.pg.query('CREATE ROLE alice NOLOGIN');
    await stack.pg.query('GRANT pg_read_all_data TO alice');
    const tunnel = await startBenchTunnel(stack, dir);
    tunnels.push({ name: command === undefined ? 'through the tunnel (no password)' : 'tunnel, npm CLI (node dist/…)', process: tunnel });
    if (command !== undefined) tunnels.push({ name: `tunnel, ${command.join(' ')}`.slice(0, 37), process: await startBenchTunnel(stack, dir, command) });
    log('login latency…');
    const { rows: logins, tunnelCpuMsPerLogin, cpuMsPerLogin } = await loginLatency(stack, tunnels, opts);
    const tps = isPgbench ? await throughput(stack, tunnel, opts, log) : [];
    const out = [
      `rsproxy tunnel bench: ${opts.logins} warm logins each (interleaved)${isPgbench ? `; pgbench -S scale 1, ${opts.clients} clients, ${opts.seconds} s per run, ${opts.rounds} round(s)` : ''}, loopback`,
      '',
      `${'login'.padEnd(38)}${'n'.padStart(5)}${'median ms'.padStart(11)}${'p95 ms'.padStart(9)}${'max ms'.padStart(9)}`,
      ...logins.map((r) => `${r.name.padEnd(38)}${String(r.stats.count).padStart(5)}${fmt(r.stats.medianMs).padStart(11)}${fmt(r.stats.p95Ms).padStart(9)}${fmt(r.stats.maxMs).padStart(9)}`),
    ];
    const pasted = logins[0]?.stats;
    for (const [j, t] of tunnels.entries()) {
      const viaTunnel = logins[j + 1]?.stats;
      const which = tunnels.length === 1 ? '' : ` [${t.name}]`;
      if (pasted !== undefined && viaTunnel !== undefined) {
        out.push(`tunnel overhead (warm)${which}: median ${fmt(viaTunnel.medianMs - pasted.medianMs)} ms, p95 ${fmt(viaTunnel.p95Ms - pasted.p95Ms)} ms`);
      }
      const cpu = cpuMsPerLogin[t.name];
      if (cpu !== undefined) out.push(`tunnel CPU per login${which}: ${fmt(cpu)} ms`);
    }
    if (!isPgbench) {
      process.stdout.write(`${out.join('\n')}\n`);
      if (opts.jsonFile !== undefined) writeFileSync(opts.jsonFile, `${JSON.stringify({ options: opts, logins, tunnelCpuMsPerLogin, cpuMsPerLogin }, null, 2)}\n`);
      return;
    }
    out.push('', `${'target'.padEnd(9)}${'mode'.padEnd(10)}${'tps'.padStart(10)}${'lat ms'.padStart(9)}${'tunnel CPU us/tx'.padStart(18)}`);
    for (const r of tps) out.push(`${r.target.padEnd(9)}${r.mode.padEnd(10)}${fmt(r.result.tps, 1).padStart(10)}${fmt(r.result.latencyAvgMs, 3).padStart(9)}${(r.tunnelCpuUsPerTx === undefined ? '' : fmt(r.tunnelCpuUsPerTx, 1)).padStart(18)}`);
    out.push('');
    for (const mode of opts.modes) {
      const proxy = tps.find((r) => r.target === 'proxy' && r.mode === mode)?.result.tps ?? Number.NaN;
      const tun = tps.find((r) => r.target === 'tunnel' && r.mode === mode)?.result.tps ?? Number.NaN;
      out.push(`ratio ${mode.padEnd(9)} tunnel/proxy = ${fmt(tun / proxy)}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
    if (opts.jsonFile !== undefined) writeFileSync(opts.jsonFile, `${JSON.stringify({ options: opts, logins, tunnelCpuMsPerLogin, tps }, null, 2)}\n`);
  } finally {
    for (const t of tunnels) await t.process.stop('SIGTERM');
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
