/**
 * Issue 12, `rsproxy tunnel` (docs/design/surface.md §8), end to end: the tunnel as a child process with an AWS credentials
 * file, a real proxy (runServe) + AWS emulator (real SigV4) + throwaway PostgreSQL. psql, pgjdbc and psqlODBC log
 * in with no password; a burst costs one STS call; cancel, the proxy's own errors, 08006 / 28000 failures that the
 * tunnel survives, a 0600 Unix socket, exit codes, and no token in anything it prints.
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { generateCa } from '../../proxy/cli/dev-certs.js';
import { authFailedHint } from '../../proxy/errors/proxy-error.js';
import { getTestPki } from '../../testkit/certs.js';
import { freePort } from '../../testkit/free-port.js';
import { iamAudience, iamRegion, startIamStack } from '../../testkit/iam-stack.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { cancelPacket } from '../../testkit/raw-wire.js';
import { requireTool } from '../../testkit/tools.js';
import { principalTunnelEnv, startTunnel, tunnelExit, writeCredentialsFile } from '../../testkit/tunnel-process.js';
import type { TunnelProcess } from '../../testkit/tunnel-process.js';
import { waitFor } from '../../testkit/wait.js';

const pgJdbcJar = '/usr/share/java/postgresql.jar';
const psqlOdbcLib = '/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so';
const jdbcCheck = join(process.cwd(), 'test', 'fixtures', 'JdbcCheck.java');
const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const mappedUser = 'IAMA:alice';

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(cmd, [...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
    child.stdin?.on('error', () => {});
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** A pg client through the tunnel: no TLS, no password. */
function tunnelClient(port: number, host = '127.0.0.1'): pg.Client {
  const client = new pg.Client({ host, port, user: 'alice', database: 'dev', ssl: false, connectionTimeoutMillis: 30_000 });
  client.on('error', () => {});
  return client;
}

async function loginError(port: number): Promise<pg.DatabaseError> {
  const client = tunnelClient(port);
  try {
    await client.connect();
  } catch (err) {
    return err as pg.DatabaseError;
  } finally {
    await client.end().catch(() => {});
  }
  throw new Error('login through the tunnel unexpectedly succeeded');
}

async function currentUser(port: number): Promise<string | undefined> {
  const client = tunnelClient(port);
  await client.connect();
  try {
    return (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u;
  } finally {
    await client.end();
  }
}

describe('rsproxy tunnel', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let stack: IamStack | undefined;
  let dir = '';
  let caFile = '';
  const tunnels: TunnelProcess[] = [];
  const printed: string[] = [];

  before(async () => {
    if (!pgAvailable()) return;
    stack = await startIamStack({ logLevel: 'info' });
    dir = mkdtempSync(join(tmpdir(), 'rsproxy-tunnel-'));
    caFile = (await getTestPki()).caFile;
  });
  after(async () => {
    for (const t of tunnels) await t.stop('SIGKILL');
    await stack?.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const ready = (t: TestContext): IamStack | undefined => {
    if (!requirePg(t)) return undefined;
    assert.ok(stack !== undefined, 'stack did not start');
    return stack;
  };

  /** Files and env for one principal's credentials (a fresh directory each). */
  const principalEnv = (s: IamStack, name: string, extra: Record<string, string> = {}): { env: NodeJS.ProcessEnv; credentialsFile: string } => {
    const p = s.principals.get(name);
    assert.ok(p !== undefined);
    return principalTunnelEnv(dir, name, p, extra);
  };

  const tunnelArgs = (s: IamStack, extra: string[] = []): string[] => [
    '--host', '127.0.0.1', '--port', String(s.proxyPort), '--sslrootcert', caFile, '--audience', iamAudience, '--region', iamRegion,
    '--user', 'alice', '--dbname', 'dev', '--listen', '127.0.0.1:0', ...extra,
  ];

  const tunnel = async (args: string[], env: NodeJS.ProcessEnv): Promise<TunnelProcess> => {
    const t = await startTunnel(args, env);
    tunnels.push(t);
    return t;
  };

  test('psql, pgjdbc and psqlODBC log in with the printed lines, no password, as the mapped user', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const tun = await tunnel(tunnelArgs(s), principalEnv(s, 'alice').env);
    const line = (prefix: string): string => {
      const l = tun.stdout.find((x) => x.startsWith(prefix));
      assert.ok(l !== undefined, `no ${prefix} line in ${tun.stdout.join('\n')}`);
      return l.slice(prefix.length).trim();
    };
    assert.equal(tun.stdout[0], `listening on 127.0.0.1:${tun.port} -> 127.0.0.1:${s.proxyPort}`);
    const psqlLine = line('psql:');
    assert.equal(psqlLine, `psql "host='127.0.0.1' port='${tun.port}' dbname='dev' user='alice' sslmode='disable'"`);
    assert.equal(line('jdbc:'), `jdbc:postgresql://127.0.0.1:${tun.port}/dev?user=alice&sslmode=disable`);
    assert.equal(line('odbc:'), `Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=${tun.port};Database=dev;Uid=alice;SSLmode=disable`);
    assert.doesNotMatch(tun.stdout.join('\n'), /password|Pwd=/i);
    const clean = { PATH: process.env['PATH'] ?? '', HOME: dir };
    if (requireTool(t, 'psql', onPath('psql'))) {
      // -w: psql never prompts; a password request would fail the login.
      const conninfo = /^psql "(.*)"$/.exec(psqlLine)?.[1] ?? '';
      const r = await run('psql', ['-X', '-w', '-At', '-c', 'select current_user', conninfo], clean);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), mappedUser);
    }
    if (requireTool(t, 'java + pgjdbc', onPath('java') && existsSync(pgJdbcJar))) {
      const r = await run('java', ['-cp', pgJdbcJar, jdbcCheck, line('jdbc:')], clean);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `${mappedUser}\tpostgres`);
    }
    if (requireTool(t, 'isql + psqlODBC', onPath('isql') && existsSync(psqlOdbcLib))) {
      const odbc = line('odbc:');
      const conn = existsSync('/etc/odbcinst.ini') ? odbc : odbc.replace('{PostgreSQL Unicode}', `{${psqlOdbcLib}}`);
      const r = await run('isql', ['-b', '-v', '-d|', '-k', conn], clean, 'select current_user\n');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^IAMA:alice$/m);
    }
    assert.ok(tun.stderr.some((l) => /\[conn \d+\] logged in to 127\.0\.0\.1:\d+ as alice \(database dev\)/.test(l)), tun.stderr.join('\n'));
    printed.push(...tun.stdout, ...tun.stderr);
  });

  test('--local-tls: psql with the printed sslmode=require line logs in over TLS to the tunnel', async (t) => {
    const s = ready(t);
    if (s === undefined || !requireTool(t, 'psql', onPath('psql'))) return;
    const tun = await tunnel(tunnelArgs(s, ['--local-tls']), principalEnv(s, 'alice').env);
    const conninfo = /^psql: {2}psql "(.*)"$/.exec(tun.stdout.find((l) => l.startsWith('psql:')) ?? '')?.[1] ?? '';
    assert.match(conninfo, /sslmode='require'$/);
    const r = await run('psql', ['-X', '-w', '-At', '-c', 'select current_user', conninfo], { PATH: process.env['PATH'] ?? '', HOME: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), mappedUser);
    // libpq's own view: the connection to the tunnel is encrypted.
    const ssl = await run('psql', ['-X', '-w', '-c', '\\conninfo', conninfo], { PATH: process.env['PATH'] ?? '', HOME: dir });
    assert.match(ssl.stdout, /SSL connection \(protocol: TLSv1\.[23]/);
    printed.push(...tun.stdout, ...tun.stderr);
  });

  test('20 connections within the reuse window cost the proxy exactly one STS call', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    // A token signed with the same keys in the same second as an earlier test's is the same token, which the
    // proxy's verified-token cache answers with no STS call; a new second makes this test's token its own.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const tun = await tunnel(tunnelArgs(s), principalEnv(s, 'alice').env);
    const before = s.emulator.counters.total('GetCallerIdentity');
    const users = await Promise.all(Array.from({ length: 20 }, () => currentUser(tun.port)));
    assert.deepEqual(new Set(users), new Set([mappedUser]));
    assert.equal(s.emulator.counters.total('GetCallerIdentity') - before, 1, 'STS GetCallerIdentity calls');
    printed.push(...tun.stdout, ...tun.stderr);
  });

  test('a CancelRequest through the tunnel cancels pg_sleep(30): 57014 within 2 s', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const tun = await tunnel(tunnelArgs(s), principalEnv(s, 'alice').env);
    const client = tunnelClient(tun.port);
    await client.connect();
    try {
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      const sleeping = client.query('SELECT pg_sleep(30)').then(
        () => undefined,
        (err: pg.DatabaseError) => err,
      );
      await waitFor(async () => (await s.pg.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep%'", [pid])).rowCount === 1, 10_000);
      const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
      const key = Buffer.alloc(4);
      key.writeInt32BE(secretKey);
      const started = Date.now();
      const raw = net.connect({ host: '127.0.0.1', port: tun.port });
      raw.on('error', () => {});
      raw.end(cancelPacket(processID, key));
      const err = await sleeping;
      const elapsedMs = Date.now() - started;
      assert.equal(err?.code, '57014', String(err));
      assert.ok(elapsedMs < 2000, `cancelled after ${elapsedMs} ms`);
      assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1, 'the session survives its cancelled query');
    } finally {
      await client.end();
    }
    await waitFor(() => tun.stderr.some((l) => l.includes('cancel request forwarded to')), 5000);
    printed.push(...tun.stdout, ...tun.stderr);
  });

  test("the proxy's 28P01 for an unmapped identity reaches the client verbatim", async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const direct = await s.loginError(await s.mint('ivan'), 'alice');
    const tun = await tunnel(tunnelArgs(s), principalEnv(s, 'ivan').env);
    const err = await loginError(tun.port);
    assert.equal(err.code, '28P01');
    assert.equal(err.message, 'IAM authentication failed for user "alice"');
    assert.equal(err.hint, authFailedHint);
    assert.deepEqual({ code: err.code, message: err.message, hint: err.hint, severity: err.severity }, direct);
    assert.ok(tun.stderr.some((l) => l.includes('refused the login: 28P01')), tun.stderr.join('\n'));
    printed.push(...tun.stdout, ...tun.stderr);
  });

  test('08006 names host:port and the reason (refused, wrong CA); the tunnel keeps serving', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const { env } = principalEnv(s, 'alice');
    // Proxy "down": nothing listens on the port yet.
    const port = await freePort();
    const downArgs = tunnelArgs(s).map((a) => (a === String(s.proxyPort) ? String(port) : a));
    const tun = await tunnel(downArgs, env);
    const refused = await loginError(tun.port);
    assert.equal(refused.code, '08006');
    assert.equal(refused.severity, 'FATAL');
    assert.match(refused.message, new RegExp(`^rsproxy tunnel could not connect to 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
    // Proxy "up": a forwarder to the real proxy appears on that port; the same tunnel now logs in.
    const forward = net.createServer((c) => {
      const u = net.connect({ host: '127.0.0.1', port: s.proxyPort });
      c.pipe(u).pipe(c);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => forward.listen(port, '127.0.0.1', r));
    try {
      assert.equal(await currentUser(tun.port), mappedUser);
    } finally {
      forward.close();
    }

    const wrongCaFile = join(dir, 'wrong-ca.pem');
    writeFileSync(wrongCaFile, (await generateCa('not the proxy CA')).certPem);
    const wrong = await tunnel(tunnelArgs(s).map((a) => (a === caFile ? wrongCaFile : a)), env);
    for (let i = 0; i < 2; i++) {
      const err = await loginError(wrong.port);
      assert.equal(err.code, '08006');
      assert.match(err.message, new RegExp(`^rsproxy tunnel could not connect to 127\\.0\\.0\\.1:${s.proxyPort}: TLS failed: .*certificate`));
    }
    assert.equal(wrong.child.exitCode, null, 'the tunnel still runs');
    printed.push(...tun.stdout, ...tun.stderr, ...wrong.stdout, ...wrong.stderr);
  });

  test('credentials removed → 28000 with a HINT; restored → the next connection works, no restart', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const { env, credentialsFile } = principalEnv(s, 'alice');
    const tun = await tunnel(tunnelArgs(s, ['--token-reuse-seconds', '0']), env);
    assert.equal(await currentUser(tun.port), mappedUser);
    writeCredentialsFile(credentialsFile, undefined);
    const err = await loginError(tun.port);
    assert.equal(err.code, '28000');
    assert.match(err.message, /^no usable AWS credentials \(profile default\): .+/);
    assert.match(err.hint ?? '', /aws configure/);
    writeCredentialsFile(credentialsFile, s.principals.get('alice'));
    assert.equal(await currentUser(tun.port), mappedUser);
    assert.equal(tun.child.exitCode, null);
    printed.push(...tun.stdout, ...tun.stderr);
  });

  test('--unix-socket: psql host=DIR logs in; the socket file is 0600', async (t) => {
    const s = ready(t);
    if (s === undefined || !requireTool(t, 'psql', onPath('psql'))) return;
    const sockDir = mkdtempSync(join(dir, 'sock-'));
    const args = tunnelArgs(s, ['--unix-socket', sockDir]).map((a) => (a === '127.0.0.1:0' ? '127.0.0.1:6543' : a));
    const tun = await tunnel(args, principalEnv(s, 'alice').env);
    const path = join(sockDir, '.s.PGSQL.6543');
    assert.equal(tun.address, path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const r = await run('psql', ['-X', '-w', '-At', '-c', 'select current_user', `host=${sockDir} port=6543 dbname=dev user=alice`], { PATH: process.env['PATH'] ?? '', HOME: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), mappedUser);
    assert.equal(await tun.stop('SIGTERM'), 0);
    assert.equal(existsSync(path), false, 'the socket file is removed on exit');
    printed.push(...tun.stdout, ...tun.stderr);
  });

  test('exit codes: non-loopback --listen → 1; no credentials → 2 naming the profile and the fix; SIGTERM/SIGINT → 0', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const { env } = principalEnv(s, 'alice');
    for (const listen of ['0.0.0.0:5439', '192.0.2.1:5439', '[::]:5439']) {
      const r = await tunnelExit(tunnelArgs(s).map((a) => (a === '127.0.0.1:0' ? listen : a)), env);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /--listen must be a loopback address \(127\.0\.0\.0\/8 or ::1\)/);
    }
    const empty = principalEnv(s, 'alice');
    writeCredentialsFile(empty.credentialsFile, undefined);
    const none = await tunnelExit(tunnelArgs(s), empty.env);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /no usable AWS credentials \(profile default\): .+; give profile default valid credentials \("aws configure"/);
    // An SSO profile whose session is not logged in: the fix is `aws sso login --profile corp`.
    const sso = principalEnv(s, 'alice');
    writeFileSync(
      sso.env['AWS_CONFIG_FILE'] ?? '',
      '[profile corp]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Analyst\nregion = eu-west-1\n[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\n',
    );
    const ssoExit = await tunnelExit(tunnelArgs(s, ['--profile', 'corp']), sso.env);
    assert.equal(ssoExit.code, 2, ssoExit.stderr);
    assert.match(ssoExit.stderr, /no usable AWS credentials \(profile corp\): .+; run "aws sso login --profile corp", then connect again/);

    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const tun = await tunnel(tunnelArgs(s), env);
      const client = tunnelClient(tun.port);
      await client.connect();
      const ended = new Promise<void>((r) => client.once('end', r));
      assert.equal(await tun.stop(sig), 0, tun.stderr.join('\n'));
      await ended;
      printed.push(...tun.stdout, ...tun.stderr);
    }
  });

  test('nothing the tunnels printed holds a token or a secret key', (t) => {
    const s = ready(t);
    if (s === undefined) return;
    assert.ok(printed.length > 10, 'the other tests ran and printed lines');
    for (const l of printed) {
      assert.doesNotMatch(l, /rsp1\./, l);
      for (const secret of s.secrets) assert.ok(!l.includes(secret), `a secret in: ${l}`);
    }
  });
});
