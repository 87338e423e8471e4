/** `rsproxy demo` as a user runs it: a child process whose printed lines work in real psql, pgjdbc and psqlODBC. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePg, startPgCluster } from '../../testkit/pg-cluster.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';
import { startTunnel } from '../../testkit/tunnel-process.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'proxy', 'cli', 'index.js');
const jdbcJar = '/usr/share/java/postgresql.jar';

interface DemoRun {
  child: ChildProcessWithoutNullStreams;
  lines: Map<string, string>;
  stderr: () => string;
}

/** Starts the demo and resolves once it has printed its lines. */
async function startDemo(extraArgs: string[] = []): Promise<DemoRun> {
  const child = spawn(process.execPath, [cli, 'demo', '--port', '0', '--admin-port', '0', ...extraArgs], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const lines = new Map<string, string>();
  await new Promise<void>((resolvePrinted, reject) => {
    // The first run on a machine initialises PGlite's template (~20-30 s under WebAssembly).
    const timer = setTimeout(() => reject(new Error(`demo printed nothing in time; stderr: ${err}`)), 150_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        const m = /^(psql|jdbc|odbc|metrics|query|token|tunnel):\s+(.*)$/.exec(line);
        if (m !== null) lines.set(m[1]!, m[2]!);
      }
      if (lines.has('tunnel')) {
        clearTimeout(timer);
        resolvePrinted();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited early with ${code}; stderr: ${err}`));
    });
  });
  return { child, lines, stderr: () => err };
}

async function stopDemo(run: DemoRun): Promise<number | null> {
  if (run.child.exitCode !== null) return run.child.exitCode;
  const exited = new Promise<number | null>((r) => run.child.once('exit', (code) => r(code)));
  run.child.kill('SIGINT');
  return exited;
}

/** Splits the printed psql line into its token and conninfo string. */
function parsePsqlLine(line: string): { token: string; conninfo: string } {
  const m = /^PGPASSWORD=(\S+) psql "([^"]+)"$/.exec(line);
  assert.ok(m, `unexpected psql line: ${line}`);
  return { token: m[1]!, conninfo: m[2]! };
}

function psql(conninfo: string, password: string, sql: string) {
  return spawnSync('psql', [conninfo, '-X', '-At', '-c', sql], { env: { ...process.env, PGPASSWORD: password }, encoding: 'utf8', timeout: 30_000 });
}

/** Runs the printed first query (issue 15) through the proxy: the sample data's top 5 events by tickets sold. */
function assertFirstQuery(run: DemoRun, conninfo: string, token: string): void {
  const query = run.lines.get('query');
  assert.ok(query !== undefined, 'the demo suggests a first query');
  const r = psql(conninfo, token, query);
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n');
  assert.equal(rows.length, 5, r.stdout);
  // Generated deterministically (emulator/sample-data.ts): the same rows on every machine and every run.
  assert.equal(rows[0], 'Finals NHL #107|186');
  const counts = psql(conninfo, token, 'SELECT (SELECT count(*) FROM tickit.sales) || \',\' || (SELECT count(*) FROM tickit.event) || \',\' || (SELECT count(*) FROM tickit.users)');
  assert.equal(counts.stdout.trim(), '6000,800,2000', counts.stderr);
}

/** Splits a printed `AWS_…=… npx rsproxy <command> …` line into its environment and arguments. */
function parseCommandLine(line: string, command: string): { env: Record<string, string>; args: string[] } {
  const m = new RegExp(`^((?:AWS_[A-Z_]+=\\S+ )+)npx rsproxy ${command} (.+)$`).exec(line);
  assert.ok(m, `unexpected ${command} line: ${line}`);
  const env = Object.fromEntries(m[1]!.trim().split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { env, args: m[2]!.split(' ') };
}

/** Runs the printed `tunnel:` line as printed and logs in through it with psql (no password); returns current_user. */
async function currentUserThroughTunnel(run: DemoRun): Promise<string> {
  const { env, args } = parseCommandLine(run.lines.get('tunnel')!, 'tunnel');
  assert.ok(args.includes('--sslrootcert'), 'the tunnel trusts the demo CA, which is on disk');
  await using tunnel = await startTunnel(args, { ...process.env, ...env });
  const conninfo = /^psql:\s+psql "(.*)"$/.exec(tunnel.stdout.find((l) => l.startsWith('psql:')) ?? '')?.[1];
  assert.ok(conninfo !== undefined, tunnel.stdout.join('\n'));
  const r = spawnSync('psql', [conninfo, '-X', '-w', '-At', '-c', 'SELECT current_user'], { env: { PATH: process.env['PATH'] ?? '' }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${r.stderr}\n${tunnel.stderr.join('\n')}`);
  assert.equal(await tunnel.stop('SIGTERM'), 0);
  return r.stdout.trim();
}

test('rsproxy demo prints lines that work in psql, pgjdbc and psqlODBC, and stops cleanly on Ctrl-C', { timeout: 240_000 }, async (t) => {
  if (!requireTool(t, 'psql', commandWorks('psql'))) return;
  const run = await startDemo();
  try {
    const { token, conninfo } = parsePsqlLine(run.lines.get('psql')!);
    assert.match(token, /^rsp1\.eu-west-1\.\d{8}T\d{6}Z\.ASIA[A-Z0-9]{16}\.[0-9a-f]{64}\.[A-Za-z0-9_-]+$/);
    assert.match(conninfo, /sslmode=verify-full sslrootcert=\S+/);

    const ok = psql(conninfo, token, 'SELECT 40 + 2');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), '42');
    assertFirstQuery(run, conninfo, token);

    // The printed `npx rsproxy token …` line mints a fresh token that logs in too.
    const tokenLine = parseCommandLine(run.lines.get('token')!, 'token');
    const minted = spawnSync(process.execPath, [cli, 'token', ...tokenLine.args], { env: { ...process.env, ...tokenLine.env }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(minted.status, 0, minted.stderr);
    const fresh = psql(conninfo, minted.stdout.trim(), 'SELECT 6 * 7');
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.equal(fresh.stdout.trim(), '42');

    const bad = psql(conninfo, token.replace(/\.[0-9a-f]{64}\./, `.${'0'.repeat(64)}.`), 'SELECT 1');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /IAM authentication failed for user "demo"/);

    // The printed tunnel line works as printed; the embedded upstream runs every session as its one superuser.
    assert.equal(await currentUserThroughTunnel(run), 'postgres');

    if (requireTool(t, 'pgjdbc + java', existsSync(jdbcJar) && commandWorks('java', ['-version']))) {
      const jdbc = spawnSync('java', ['-cp', jdbcJar, join(root, 'test', 'fixtures', 'JdbcCheck.java'), run.lines.get('jdbc')!], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(jdbc.status, 0, jdbc.stderr);
      assert.match(jdbc.stdout, /\t/);
    }

    if (requireTool(t, 'unixODBC isql + psqlODBC', commandWorks('isql'))) {
      const odbc = spawnSync('isql', ['-k', '-b', '-d,', run.lines.get('odbc')!], { input: 'SELECT 6 * 7\n', encoding: 'utf8', timeout: 30_000 });
      assert.equal(odbc.status, 0, odbc.stdout + odbc.stderr);
      assert.match(odbc.stdout, /\b42\b/);
    }

    const metrics = await (await fetch(run.lines.get('metrics')!)).text();
    const ok1 = /^rsproxy_logins_total\{result="ok",reason="ok"\} (\d+)/m.exec(metrics);
    assert.ok(ok1 !== null && Number(ok1[1]) >= 1, 'a successful login is counted');
    assert.match(metrics, /^rsproxy_logins_total\{result="failed",reason="sts_rejected"\} [1-9]/m);
  } finally {
    const code = await stopDemo(run);
    assert.equal(code, 0, `demo exit code; stderr: ${run.stderr()}`);
  }
});

test('rsproxy demo --upstream uses a real PostgreSQL, whose password check the emulator-minted credentials pass', { timeout: 240_000 }, async (t) => {
  if (!requirePg(t)) return;
  await using pg = await startPgCluster();
  const upstream = `postgres://${pg.superuser}:${encodeURIComponent(pg.superPassword)}@127.0.0.1:${pg.port}/postgres?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.caFile)}`;
  const run = await startDemo(['--upstream', upstream]);
  try {
    const { token, conninfo } = parsePsqlLine(run.lines.get('psql')!);
    const r = psql(conninfo, token, 'SELECT current_user');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'IAMA:demo');
    assert.equal(await currentUserThroughTunnel(run), 'IAMA:demo', 'through the printed tunnel line, the demo identity is its mapped database user');
    const roles = await pg.query(`SELECT rolvaliduntil IS NOT NULL AS has_expiry FROM pg_roles WHERE rolname = 'IAMA:demo'`);
    assert.equal(roles.rows[0]?.has_expiry, true, 'the login role carries VALID UNTIL');
    // The sample schema is created in the given PostgreSQL too, readable by the IAM user through its base role.
    assertFirstQuery(run, conninfo, token);
  } finally {
    assert.equal(await stopDemo(run), 0);
  }
  // A second run against the same PostgreSQL finds the schema and adds nothing.
  const again = await startDemo(['--upstream', upstream]);
  try {
    const { token, conninfo } = parsePsqlLine(again.lines.get('psql')!);
    assertFirstQuery(again, conninfo, token);
  } finally {
    assert.equal(await stopDemo(again), 0);
  }
});
