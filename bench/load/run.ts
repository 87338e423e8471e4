/**
 * rsproxy load bench (loopback only, bounded): memory per idle session next to pgbouncer and the bare Node
 * TLS pipe, login churn against direct TLS with an RSS plateau check, and silent sockets (slowloris) closed
 * by the login timeout while a real login succeeds and /livez answers.
 * Usage: node dist/bench/load/run.js [--short] [--sessions 1000] [--logins 2000] [--clients 8] [--rounds 3]
 *        [--slow 300] [--slow-login-timeout-ms 1000] [--settle-ms 2000] [--no-pgbouncer] [--json FILE]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { getTestPki } from '../../testkit/certs.js';
import { httpGet } from '../../testkit/http-get.js';
import { startStack } from '../../testkit/stack.js';
import type { StackHandle } from '../../testkit/stack.js';
import { sleep } from '../../testkit/wait.js';
import { timeLogin } from '../login-latency.js';
import { pgbouncerBin } from '../pgbouncer.js';
import { openFilesSoftLimit, procRssBytes } from '../proc-cpu.js';
import { parseLoadArgs } from './args.js';
import type { LoadOptions } from './args.js';
import { churn, closeSessions, openSessions, openSilentSockets } from './clients.js';
import { startNodePipeChild, startPgbouncerTarget, startRsproxyChild, stopAllTargets } from './targets.js';
import type { LoadTarget, LoginAs } from './targets.js';
import { idleTable, churnTable, slowlorisLine } from './report.js';
import type { ChurnResult, IdleRow, SlowlorisResult } from './report.js';

const MiB = 1024 * 1024;
/** The bounds (issue 15): rsproxy within 1.1× of the bare pipe, RSS growth under 10 MiB over the churn. */
export const idleGoalRatio = 1.1;
export const plateauGoalMiB = 10;

const t0 = Date.now();
const log = (s: string): void => void process.stderr.write(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${s}\n`);

/** The target's RSS, after a full GC for node targets (whose heap is then reported too). */
async function memoryOf(t: LoadTarget): Promise<{ rssBytes: number; heapUsedBytes?: number }> {
  const report = await t.gc?.();
  const pid = t.pid();
  const rss = pid === undefined ? undefined : procRssBytes(pid);
  if (rss === undefined) throw new Error(`cannot read the RSS of ${t.name}`);
  return { rssBytes: rss, ...(report === undefined ? {} : { heapUsedBytes: report.heapUsedBytes }) };
}

/** Limits that let the bench's own single-source load through (the per-source rate limit guards real clients). */
const benchLimits = (o: LoadOptions): Record<string, number> => ({ maxClientConnections: o.sessions + o.slowSockets + 100, maxConnectionsPerSourcePerSecond: 1_000_000 });

async function idlePhase(stack: StackHandle, o: LoadOptions): Promise<IdleRow[]> {
  const pki = await getTestPki();
  const direct: LoginAs = { user: stack.pg.superuser, database: stack.upstreamDbName, password: stack.pg.superPassword };
  const starters: Array<() => Promise<LoadTarget>> = [];
  if (o.withPgbouncer && existsSync(pgbouncerBin())) starters.push(() => startPgbouncerTarget(stack, pki, o.sessions, direct));
  else if (o.withPgbouncer) log(`pgbouncer not found at ${pgbouncerBin()}; skipping it`);
  starters.push(() => startNodePipeChild(stack, pki, direct));
  starters.push(async () => startRsproxyChild(stack, benchLimits(o), { user: stack.dbUser, database: stack.database, password: await stack.mintToken() }));
  const rows: IdleRow[] = [];
  for (const start of starters) {
    const target = await start();
    try {
      // Warm up: code paths, TLS contexts and (rsproxy) the credential cache, before the baseline.
      await closeSessions(await openSessions(target.port, target.login, stack.caPem, 3));
      await sleep(o.settleMs);
      const before = await memoryOf(target);
      log(`idle: ${o.sessions} sessions → ${target.name}…`);
      const sessions = await openSessions(target.port, target.login, stack.caPem, o.sessions);
      await sleep(o.settleMs);
      const held = await memoryOf(target);
      await closeSessions(sessions);
      rows.push({
        target: target.name,
        sessions: o.sessions,
        rssBeforeBytes: before.rssBytes,
        rssHeldBytes: held.rssBytes,
        bytesPerSession: (held.rssBytes - before.rssBytes) / o.sessions,
        ...(held.heapUsedBytes === undefined || before.heapUsedBytes === undefined ? {} : { heapBytesPerSession: (held.heapUsedBytes - before.heapUsedBytes) / o.sessions }),
      });
    } finally {
      await target.stop();
    }
  }
  return rows;
}

async function churnPhase(stack: StackHandle, o: LoadOptions): Promise<ChurnResult> {
  const directAs: LoginAs = { user: stack.pg.superuser, database: stack.upstreamDbName, password: stack.pg.superPassword };
  log(`churn: ${o.logins} direct TLS logins, ${o.clients} clients…`);
  const direct = await churn(stack.pg.port, directAs, stack.caPem, o.logins, o.clients);
  const target = await startRsproxyChild(stack, benchLimits(o), { user: stack.dbUser, database: stack.database, password: await stack.mintToken() });
  const rounds: ChurnResult['rsproxy'] = [];
  try {
    for (let round = 1; round <= o.rounds; round++) {
      log(`churn: round ${round}/${o.rounds}, ${o.logins} logins through rsproxy…`);
      const r = await churn(target.port, target.login, stack.caPem, o.logins, o.clients);
      await sleep(o.settleMs);
      rounds.push({ round, ...r, ...(await memoryOf(target)) });
    }
  } finally {
    await target.stop();
  }
  const growth = (rounds[rounds.length - 1]?.rssBytes ?? Number.NaN) - (rounds[0]?.rssBytes ?? Number.NaN);
  return { clients: o.clients, direct, rsproxy: rounds, rssGrowthBytes: growth, plateauPass: growth < plateauGoalMiB * MiB };
}

async function slowlorisPhase(stack: StackHandle, o: LoadOptions): Promise<SlowlorisResult> {
  // The default per-source rate limit stays on: the silent sockets come from as many sources.
  const token = await stack.mintToken();
  const target = await startRsproxyChild(stack, { loginTimeoutMs: o.slowLoginTimeoutMs, maxClientConnections: o.slowSockets + 100 }, { user: stack.dbUser, database: stack.database, password: token });
  try {
    // A first login fills the credential cache, so the one made among the silent sockets is a warm one.
    await timeLogin({ host: '127.0.0.1', port: target.port, ...target.login, caPem: stack.caPem });
    log(`slowloris: ${o.slowSockets} silent sockets, loginTimeoutMs ${o.slowLoginTimeoutMs}…`);
    const livez: number[] = [];
    const silent = await openSilentSockets(target.port, o.slowSockets);
    try {
      const loginMs = await timeLogin({ host: '127.0.0.1', port: target.port, ...target.login, caPem: stack.caPem }).catch(() => undefined);
      // Bounded: every socket should be gone at loginTimeoutMs; give it 5 s more before reporting the rest as open.
      const deadline = Date.now() + o.slowLoginTimeoutMs + 5000;
      while (Date.now() < deadline && silent.sockets.some((s) => s.closedAfterMs === undefined)) {
        livez.push(await httpGet(`http://127.0.0.1:${target.adminPort}/livez`, 2000).then((a) => a.status, () => 0));
        await sleep(100);
      }
      livez.push(await httpGet(`http://127.0.0.1:${target.adminPort}/livez`, 2000).then((a) => a.status, () => 0));
      const closed = silent.sockets.map((s) => s.closedAfterMs).filter((ms): ms is number => ms !== undefined);
      const byTimeout = closed.filter((ms) => ms >= o.slowLoginTimeoutMs - 50);
      const result: SlowlorisResult = {
        sockets: o.slowSockets,
        sources: new Set(silent.sockets.map((s) => s.source)).size,
        loginTimeoutMs: o.slowLoginTimeoutMs,
        closedByTimeout: byTimeout.length,
        closedEarly: closed.length - byTimeout.length,
        stillOpen: o.slowSockets - closed.length,
        closeAfterMinMs: Math.min(...closed),
        closeAfterMaxMs: Math.max(...closed),
        bytesToSilentSockets: silent.sockets.reduce((a, s) => a + s.bytesReceived, 0),
        ...(loginMs === undefined ? {} : { realLoginMs: loginMs }),
        livezChecks: livez.length,
        livezOk: livez.filter((s) => s === 200).length,
        pass: false,
      };
      result.pass = result.closedByTimeout === o.slowSockets && loginMs !== undefined && result.livezOk === result.livezChecks;
      return result;
    } finally {
      silent.destroy();
    }
  } finally {
    await target.stop();
  }
}

async function main(): Promise<void> {
  const o = parseLoadArgs(process.argv.slice(2));
  // Each idle session costs the proxy two fds (client, upstream) and the bench one; children inherit the limit.
  const fdsNeeded = 2 * Math.max(o.sessions, o.slowSockets) + 200;
  const fdLimit = openFilesSoftLimit();
  if (fdLimit !== undefined && fdLimit < fdsNeeded) {
    throw new Error(`the open-files limit is ${fdLimit}; ${o.sessions} sessions need about ${fdsNeeded}: run it in a shell with a higher one, e.g. (ulimit -n ${fdsNeeded * 2} && node dist/bench/load/run.js …)`);
  }
  log('starting PostgreSQL + emulator…');
  const stack = await startStack({ logLevel: 'warn', pgMaxConnections: o.sessions + 60 });
  // Ctrl-C or a timeout's SIGTERM still stops pgbouncer, the children and PostgreSQL.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopAllTargets().then(() => stack.close()).finally(() => process.exit(130)));
  }
  try {
    const idle = await idlePhase(stack, o);
    const churned = await churnPhase(stack, o);
    const slowloris = await slowlorisPhase(stack, o);
    const out = [
      `rsproxy load bench: ${o.sessions} idle sessions per target (each ran SELECT 1), ${o.rounds} churn rounds of ${o.logins} logins with ${o.clients} clients, ${o.slowSockets} silent sockets; TLS on every hop, loopback${o.short ? ' (short mode: shape only)' : ''}`,
      '',
      idleTable(idle, idleGoalRatio),
      '',
      churnTable(churned, plateauGoalMiB),
      '',
      slowlorisLine(slowloris),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    if (o.jsonFile !== undefined) writeFileSync(o.jsonFile, `${JSON.stringify({ options: o, idle, churn: churned, slowloris }, null, 2)}\n`);
  } finally {
    await stack.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`load bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
