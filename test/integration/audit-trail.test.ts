/** The audit trail on a real run (docs/operations/audit.md): records of real psql and node-postgres sessions, denied logins, revocation, admin DELETE, rotation with `rsproxy audit verify`, and an unwritable log under refuse and continue. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import { stringify } from 'yaml';
import { listSessions, sessionsRequest } from '../../testkit/admin-sessions.js';
import { iamAccountId, startIamStack, type IamStack } from '../../testkit/iam-stack.js';
import { requirePg } from '../../testkit/pg-cluster.js';
import { hasPsql, runPsql } from '../../testkit/psql.js';
import { requireTool } from '../../testkit/tools.js';
import { waitFor } from '../../testkit/wait.js';

type AuditLine = Record<string, unknown>;

const aliceRole = `arn:aws:iam::${iamAccountId}:role/Analyst`;
const aliceCaller = `arn:aws:sts::${iamAccountId}:assumed-role/Analyst/alice`;
const bobArn = `arn:aws:iam::${iamAccountId}:user/bob`;
const cli = resolve('dist', 'proxy', 'cli', 'index.js');
const pgJdbcJar = '/usr/share/java/postgresql.jar';
const jdbcSettings = resolve('test', 'fixtures', 'JdbcSettings.java');

const readAudit = (...paths: string[]): AuditLine[] =>
  paths.flatMap((p) =>
    readFileSync(p, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as AuditLine),
  );

function rsproxy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** A stack whose config has `audit` set and, optionally, an admin token. */
async function auditStack(audit: Record<string, unknown>, dir: string, adminToken?: string): Promise<IamStack> {
  const tokenFile = join(dir, 'admin-token');
  if (adminToken !== undefined) writeFileSync(tokenFile, adminToken);
  return startIamStack({
    logLevel: 'info',
    configure: (c) => {
      c['audit'] = audit;
      if (adminToken !== undefined) c.admin.tokenFile = tokenFile;
      const alice = c.rules.find((r) => r['principal'] === aliceRole);
      if (alice !== undefined) alice['dbGroups'] = ['analysts'];
    },
  });
}

const ofConnection = (lines: AuditLine[], connectionId: unknown) => lines.filter((l) => l['connectionId'] === connectionId);

test('a real run: psql and node-postgres sessions, a denied login, revocation and admin DELETE leave their records; rotation verifies', { timeout: 180_000 }, async (t) => {
  if (!requirePg(t) || !requireTool(t, 'psql', hasPsql)) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'audit.log');
  const adminToken = 'audit-admin-token-0123456789abcdef';
  await using stack = await auditStack({ file, statements: 'fingerprint' }, dir, adminToken);
  await stack.pg.query('CREATE ROLE analysts NOLOGIN');

  // psql: three simple-protocol Queries, the last one asking the upstream for its pid.
  const psql = await runPsql({ port: stack.proxyPort, user: 'alice', database: 'dev', password: await stack.mint('alice'), caFile: stack.caFile }, [
    '-At',
    '-c',
    'SELECT 1',
    '-c',
    "SELECT 'secret-ish' AS label",
    '-c',
    'SELECT pg_backend_pid()',
  ]);
  assert.equal(psql.code, 0, psql.stderr);
  const psqlPid = Number(psql.stdout.trim().split('\n').at(-1));
  assert.ok(psqlPid > 0, psql.stdout);

  // node-postgres: the extended protocol (Parse/Bind/Execute).
  const bob = await stack.connect(await stack.mint('bob'), 'bob');
  const bobPid = (await bob.query({ text: 'SELECT pg_backend_pid() AS pid, $1::int AS n', values: [42] })).rows[0] as { pid: number; n: number };
  await bob.end();

  // pgjdbc: a PreparedStatement run twice, each a Parse (extended protocol).
  const hasJdbc = existsSync(pgJdbcJar) && spawnSync('java', ['-version']).status === 0;
  if (hasJdbc) {
    const url = `jdbc:postgresql://localhost:${stack.proxyPort}/dev?user=alice&sslmode=verify-full&sslrootcert=${stack.caFile}`;
    // Asynchronously: the proxy runs in this process and must keep serving.
    const password = await stack.mint('alice');
    const jdbc = await new Promise<{ code: number; stderr: string }>((done) =>
      execFile('java', ['-cp', pgJdbcJar, jdbcSettings, url, 'lock_timeout', 'work_mem'], { timeout: 90_000, env: { ...process.env, PGPASSWORD: password } }, (err, _out, stderr) =>
        done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr }),
      ),
    );
    assert.equal(jdbc.code, 0, jdbc.stderr);
  } else if (process.env['CI'] === 'true') assert.fail('java and pgjdbc are required under CI');

  // A denied login (foreign account): login_denied with its SQLSTATE and reason, never the token.
  const malloryToken = await stack.mint('mallory');
  assert.equal((await stack.loginError(malloryToken, 'mallory')).code, '28P01');

  await waitFor(() => readAudit(file).filter((l) => l['event'] === 'session_end').length === (hasJdbc ? 3 : 2));
  const lines = readAudit(file);
  assert.deepEqual(
    lines.map((l) => l['seq']),
    lines.map((_, i) => i + 1),
  );

  const psqlLogin = lines.find((l) => l['event'] === 'login' && l['applicationName'] === 'psql');
  assert.ok(psqlLogin, JSON.stringify(lines));
  const psqlSession = ofConnection(lines, psqlLogin['connectionId']);
  assert.deepEqual(
    psqlSession.map((l) => l['event']),
    ['login', 'statement', 'statement', 'statement', 'session_end'],
  );
  for (const l of psqlSession) {
    assert.equal(l['identity'], aliceRole);
    assert.equal(l['callerArn'], aliceCaller);
    assert.equal(l['accountId'], iamAccountId);
    assert.equal(l['database'], 'dev');
    assert.equal(l['dbUser'], 'IAMA:alice');
    assert.deepEqual(l['dbGroups'], ['analysts']);
    assert.equal(l['target'], `${stack.pg.host}:${stack.pg.port}`);
    assert.equal(l['applicationName'], 'psql');
    assert.equal(l['upstreamPid'], psqlPid, 'upstreamPid is the backend pid the session itself saw');
    assert.equal(l['reused'], false);
    assert.match(String(l['clientAddress']), /^127\.0\.0\.1:\d+$/);
  }
  assert.deepEqual(
    psqlSession.filter((l) => l['event'] === 'statement').map((l) => [l['protocol'], l['text']]),
    [
      ['simple', 'SELECT ?'],
      ['simple', 'SELECT ? AS label'],
      ['simple', 'SELECT pg_backend_pid ()'],
    ],
  );
  const psqlEnd = psqlSession.at(-1)!;
  assert.equal(psqlEnd['reason'], 'client');
  assert.equal(psqlEnd['statements'], 3);
  assert.ok(Number(psqlEnd['durationMs']) >= 0);
  assert.ok(Number(psqlEnd['clientToUpstreamBytes']) > 0 && Number(psqlEnd['upstreamToClientBytes']) > 0);

  const bobLogin = lines.find((l) => l['event'] === 'login' && l['identity'] === bobArn);
  assert.ok(bobLogin);
  const bobSession = ofConnection(lines, bobLogin['connectionId']);
  assert.deepEqual(
    bobSession.map((l) => l['event']),
    ['login', 'statement', 'session_end'],
  );
  assert.equal(bobLogin['upstreamPid'], bobPid.pid);
  assert.equal(bobLogin['callerArn'], bobArn);
  assert.deepEqual(bobLogin['dbGroups'], []);
  assert.deepEqual([bobSession[1]?.['protocol'], bobSession[1]?.['text']], ['extended', 'SELECT pg_backend_pid () AS pid, $1::int AS n']);
  assert.equal(bobSession[2]?.['statements'], 1);

  if (hasJdbc) {
    const jdbcLogin = lines.find((l) => l['event'] === 'login' && l['dbUser'] === 'IAMA:alice' && l['applicationName'] !== 'psql');
    assert.ok(jdbcLogin, JSON.stringify(lines));
    const jdbcSession = ofConnection(lines, jdbcLogin['connectionId']);
    const statements = jdbcSession.filter((l) => l['event'] === 'statement');
    assert.deepEqual(
      statements.filter((l) => l['text'] === 'SELECT current_setting ($1)').map((l) => l['protocol']),
      ['extended', 'extended'],
      JSON.stringify(statements),
    );
    assert.equal(jdbcSession.at(-1)?.['event'], 'session_end');
    assert.equal(jdbcSession.at(-1)?.['statements'], statements.length);
    assert.equal(jdbcLogin['callerArn'], aliceCaller);
  }

  const denied = lines.filter((l) => l['event'] === 'login_denied');
  assert.equal(denied.length, 1);
  assert.equal(denied[0]?.['sqlstate'], '28P01');
  assert.equal(denied[0]?.['reason'], 'account');
  assert.equal(denied[0]?.['database'], 'dev');
  assert.equal(denied[0]?.['upstreamPid'], null);
  const text = readFileSync(file, 'utf8');
  for (const secret of [malloryToken, ...stack.secrets]) assert.ok(!text.includes(secret), 'no token, signature or password in the audit file');

  // Revocation: alice's rule removed and reloaded ends her idle session with `revoked`, then session_end.
  const alice = await stack.connect(await stack.mint('alice'), 'alice');
  alice.on('error', () => {});
  // Admin DELETE: bob's session gets admin_terminate.
  const bob2 = await stack.connect(await stack.mint('bob'), 'bob');
  bob2.on('error', () => {});
  const listed = await listSessions(stack.proxy.adminAddress.port, adminToken);
  const bobId = listed.find((s) => s['identity'] === bobArn)?.['connectionId'];
  assert.equal(typeof bobId, 'string');
  assert.equal((await sessionsRequest(stack.proxy.adminAddress.port, 'DELETE', `/sessions/${String(bobId)}`, adminToken)).status, 204);
  await waitFor(() => ofConnection(readAudit(file), bobId).some((l) => l['event'] === 'session_end'));
  assert.deepEqual(
    ofConnection(readAudit(file), bobId).map((l) => [l['event'], l['reason'] ?? null]),
    [
      ['login', null],
      ['admin_terminate', null],
      ['session_end', 'admin'],
    ],
  );

  // Rotation: logrotate renames the file, SIGHUP reopens it; the revocation lands in the new file.
  const rotated = join(dir, 'audit.log.1');
  renameSync(file, rotated);
  stack.config.rules = stack.config.rules.filter((r) => r['principal'] !== aliceRole);
  writeFileSync(stack.configPath, stringify(stack.config));
  assert.equal(await stack.proxy.reload(), true);
  await waitFor(() => readAudit(file).some((l) => l['event'] === 'session_end' && l['reason'] === 'revoked'));
  const after = readAudit(file);
  assert.deepEqual(
    after.map((l) => [l['event'], l['identity'], l['reason'] ?? null]),
    [
      ['revoked', aliceRole, null],
      ['session_end', aliceRole, 'revoked'],
    ],
  );
  const before = readAudit(rotated);
  assert.equal(after[0]?.['seq'], Number(before.at(-1)?.['seq']) + 1, 'seq continues into the new file');
  const verify = await rsproxy(['audit', 'verify', rotated, file]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /intact/);
  const alone = await rsproxy(['audit', 'verify', file]);
  assert.equal(alone.code, 0, 'the new file alone starts mid-chain and verifies');
  assert.equal(await stack.metric('rsproxy_audit_records_total', { event: 'statement' }), [...before, ...after].filter((l) => l['event'] === 'statement').length);
  assert.equal(await stack.metric('rsproxy_audit_records_total', { event: 'login_denied' }), 1);
  assert.equal(await stack.metric('rsproxy_audit_write_failures_total'), 0);
});

/** Replaces the audit file by a directory and reopens: every write fails from here on (root ignores file modes). */
async function breakAuditPath(stack: IamStack, file: string): Promise<void> {
  renameSync(file, `${file}.broken`);
  mkdirSync(file);
  await stack.proxy.reload();
}

test('refuse: while the log cannot be written, logins get 57P03, a statement is not forwarded, /readyz is 503; it recovers with no restart', { timeout: 180_000 }, async (t) => {
  if (!requirePg(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'audit.log');
  await using stack = await auditStack({ file, statements: 'full', onFailure: 'refuse' }, dir);
  await stack.pg.query('CREATE ROLE analysts NOLOGIN');
  await stack.pg.query('CREATE TABLE audit_probe (i int)');
  await stack.pg.query('GRANT INSERT, SELECT ON audit_probe TO PUBLIC');
  const open: pg.Client = await stack.connect(await stack.mint('bob'), 'bob');
  let openError: unknown;
  open.on('error', (err) => (openError = err));
  assert.equal((await open.query('SELECT 1 AS one')).rows[0]?.one, 1);
  assert.equal((await stack.admin('/readyz')).status, 200);

  await breakAuditPath(stack, file);
  assert.equal((await stack.admin('/readyz')).status, 503, '/readyz 503 while refusing');
  const failure = await stack.loginError(await stack.mint('alice'), 'alice');
  assert.deepEqual([failure.code, failure.message], ['57P03', 'audit log unavailable']);
  // The upstream login had succeeded; with the login unrecorded, that upstream session is closed.
  await waitFor(async () => (await stack.pg.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'IAMA:alice'`)).rows[0]?.n === 0);
  await assert.rejects(open.query('INSERT INTO audit_probe VALUES (1)'), (err: Error & { code?: string }) => err.code === '57P03' && err.message === 'audit log unavailable');
  await waitFor(() => openError !== undefined, 10_000);
  assert.equal((await stack.pg.query('SELECT count(*)::int AS n FROM audit_probe')).rows[0]?.n, 0, 'the unrecorded statement never reached the upstream');
  assert.ok((await stack.metric('rsproxy_audit_write_failures_total')) >= 2);
  assert.ok((await stack.metric('rsproxy_logins_total', { result: 'failed', reason: 'audit_unavailable' })) >= 1);

  // The path comes back: the probe reopens it within a second or two, with no restart and no SIGHUP.
  rmSync(file, { recursive: true });
  await waitFor(async () => (await stack.admin('/readyz')).status === 200, 10_000);
  const again = await stack.connect(await stack.mint('alice'), 'alice');
  assert.equal((await again.query('SELECT 2 AS two')).rows[0]?.two, 2);
  await again.end();
  const verify = await rsproxy(['audit', 'verify', `${file}.broken`, file]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
});

test('continue: an unwritable log is counted and sessions go on', { timeout: 180_000 }, async (t) => {
  if (!requirePg(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'audit.log');
  await using stack = await auditStack({ file, statements: 'fingerprint', onFailure: 'continue' }, dir);
  await breakAuditPath(stack, file);
  assert.equal((await stack.admin('/readyz')).status, 200, 'continue never blocks readiness');
  const bob = await stack.connect(await stack.mint('bob'), 'bob');
  assert.equal((await bob.query('SELECT 3 AS three')).rows[0]?.three, 3);
  await bob.end();
  assert.ok((await stack.metric('rsproxy_audit_write_failures_total')) >= 2, 'the login and the statement were counted');
});
