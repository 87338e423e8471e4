/**
 * The users' utilities against the AWS emulator, a throwaway PostgreSQL and real clients: `rsproxy
 * credentials` (env/json/libpq, disk cache, one API call for 10 processes, AccessDenied explained),
 * the connection strings in psql, pgjdbc and psqlODBC, and `rsproxy url` / `connect` through the proxy.
 */
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type Emulator, type EmulatorPrincipal } from '../../emulator/index.js';
import { jdbcUrl, libpqKeywordValue, libpqUri, odbcConnectionString, type ConnectionParams } from '../../proxy/cli/conn-strings.js';
import { requirePg, startPgCluster, type PgCluster } from '../../testkit/pg-cluster.js';
import { startStack, type StackHandle } from '../../testkit/stack.js';
import { requireTool } from '../../testkit/tools.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'dist', 'proxy', 'cli', 'index.js');
const jdbcCheck = join(root, 'test', 'fixtures', 'JdbcCheck.java');
const pgJdbcJar = '/usr/share/java/postgresql.jar';
const psqlOdbcLib = '/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so';
const region = 'eu-west-1';
const account = '123456789012';
const clusterId = 'analytics-prod';

const adam: EmulatorPrincipal = {
  accessKeyId: 'AKIAUTILITIESADAM001',
  secretAccessKey: 'adamSecretKeyExample/0123456789abcdefghij',
  arn: `arn:aws:iam::${account}:user/adam`,
  accountId: account,
  userId: 'AIDAUTILITIESADAM001',
};
const limited: EmulatorPrincipal = { ...adam, accessKeyId: 'AKIAUTILITIESLIMIT01', allowedDbUsers: ['alice'] };


const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: string): Promise<Run> {
  return new Promise((done) => {
    const child = execFile(cmd, [...args], { env, timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      done({ code, stdout, stderr: code === -1 ? `${stderr}\n${String(err)}` : stderr });
    });
    // A client that fails to connect exits before reading its input.
    child.stdin?.on('error', () => {});
    if (input !== undefined) child.stdin?.end(input);
  });
}

interface World {
  pg: PgCluster;
  emu: Emulator;
  dir: string;
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
}

let worldP: Promise<World> | undefined;
after(async () => {
  const w = await worldP?.catch(() => undefined);
  await w?.emu.close();
  await w?.pg.stop();
  if (w) rmSync(w.dir, { recursive: true, force: true });
});

function world(): Promise<World> {
  worldP ??= (async () => {
    const pg = await startPgCluster();
    await pg.query('CREATE ROLE alice NOLOGIN');
    await pg.query('CREATE ROLE analysts NOLOGIN');
    const emu = await startEmulator({
      principals: [adam, limited],
      clusters: [{ identifier: clusterId, host: pg.host, port: pg.port }],
      workgroups: [{ name: 'wg-analytics', host: pg.host, port: pg.port }],
      upstreamAdmin: { connectionString: pg.url(), ssl: { ca: pg.caPem } },
    });
    const dir = mkdtempSync(join(tmpdir(), 'rsproxy-utilities-'));
    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('PG')) base[k] = v;
    return {
      pg,
      emu,
      dir,
      env: (extra = {}) => ({
        ...base,
        AWS_ACCESS_KEY_ID: adam.accessKeyId,
        AWS_SECRET_ACCESS_KEY: adam.secretAccessKey,
        AWS_REGION: region,
        AWS_ENDPOINT_URL_REDSHIFT: emu.url,
        AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS: emu.url,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        XDG_CACHE_HOME: join(dir, 'cache'),
        ...extra,
      }),
    };
  })();
  return worldP;
}

const rsproxy = (args: readonly string[], env: NodeJS.ProcessEnv) => run(process.execPath, [bin, ...args], env);
const credArgs = ['credentials', '--cluster', clusterId, '--db-user', 'alice', '--dbname', 'postgres'];
const mode = (p: string) => statSync(p).mode & 0o777;

test('credentials --format env: psql logs in directly with the printed variables (verify-full, test CA); cache files are 0600 in a 0700 dir', async (t) => {
  if (!requirePg(t) || !requireTool(t, 'psql', onPath('psql'))) return;
  const w = await world();
  const before = { creds: w.emu.counters.total('GetClusterCredentials'), describe: w.emu.counters.total('DescribeClusters') };
  const r = await rsproxy([...credArgs, '--format', 'env', '--sslrootcert', w.pg.caFile], w.env());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^export PGHOST='127\.0\.0\.1'\nexport PGPORT='\d+'\nexport PGDATABASE='postgres'\nexport PGUSER='IAM:alice'\nexport PGPASSWORD='[^']+'\nexport PGSSLMODE='verify-full'\nexport PGSSLROOTCERT='[^']+'\n$/);
  assert.equal(w.emu.counters.total('GetClusterCredentials') - before.creds, 1);
  assert.equal(w.emu.counters.total('DescribeClusters') - before.describe, 1);
  const psql = await run('sh', ['-c', `${r.stdout}exec psql -X -At -c 'select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()'`], { PATH: process.env['PATH'] ?? '' });
  assert.equal(psql.code, 0, psql.stderr);
  assert.equal(psql.stdout.trim(), 'IAM:alice|t');

  const cacheDir = join(w.dir, 'cache', 'rsproxy');
  assert.equal(mode(cacheDir), 0o700);
  const files = readdirSync(cacheDir);
  assert.ok(files.length >= 1);
  for (const f of files) assert.equal(mode(join(cacheDir, f)), 0o600, f);
});

test('credentials: a second call within the window makes no API call and returns the same password (json keys of the AWS CLI)', async (t) => {
  if (!requirePg(t)) return;
  const w = await world();
  const first = await rsproxy([...credArgs, '--format', 'json'], w.env());
  assert.equal(first.code, 0, first.stderr);
  const before = w.emu.counters.snapshot();
  const second = await rsproxy([...credArgs, '--format', 'json'], w.env());
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(w.emu.counters.snapshot(), before, 'no AWS call on a cache hit');
  const a = JSON.parse(first.stdout) as Record<string, unknown>;
  const b = JSON.parse(second.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(a).sort(), ['DbName', 'DbPassword', 'DbUser', 'Expiration', 'Host', 'Port']);
  assert.equal(a['DbUser'], 'IAM:alice');
  assert.equal(a['Host'], '127.0.0.1');
  assert.equal(a['Port'], w.pg.port);
  assert.equal(b['DbPassword'], a['DbPassword']);
  assert.ok(Date.parse(String(a['Expiration'])) > Date.now() + 800_000);
});

test('credentials: 10 concurrent processes make exactly one GetClusterCredentials call', async (t) => {
  if (!requirePg(t)) return;
  const w = await world();
  const env = w.env({ XDG_CACHE_HOME: join(w.dir, 'cache-concurrent') });
  const before = w.emu.counters.total('GetClusterCredentials');
  const args = [...credArgs, '--db-groups', 'analysts', '--duration-seconds', '1800', '--format', 'json'];
  const runs = await Promise.all(Array.from({ length: 10 }, () => rsproxy(args, env)));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  assert.equal(w.emu.counters.total('GetClusterCredentials') - before, 1);
  assert.equal(new Set(runs.map((r) => (JSON.parse(r.stdout) as { DbPassword: string }).DbPassword)).size, 1);
  const member = await w.pg.query("select pg_has_role('IAM:alice', 'analysts', 'member') as m");
  assert.equal(member.rows[0]?.m, true);
});

test('credentials: AccessDenied names the missing IAM action and resource ARN, exit 2; usage errors exit 1', async (t) => {
  if (!requirePg(t)) return;
  const w = await world();
  const env = w.env({ AWS_ACCESS_KEY_ID: limited.accessKeyId });
  // --db-name: the older spelling of --dbname still works (hidden from help).
  const r = await rsproxy(['credentials', '--cluster', clusterId, '--db-user', 'bob', '--db-name', 'postgres'], env);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /AWS denied redshift:GetClusterCredentials \(AccessDenied\)/);
  assert.ok(r.stderr.includes(`redshift:GetClusterCredentials on arn:aws:redshift:${region}:${account}:dbuser:${clusterId}/bob`), r.stderr);
  assert.ok(r.stderr.includes(`arn:aws:redshift:${region}:${account}:dbname:${clusterId}/postgres`), r.stderr);
  assert.equal(r.stdout, '');

  const missing = await rsproxy(['credentials', '--cluster', 'nope', '--db-user', 'alice', '--dbname', 'postgres'], env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cluster nope was not found in eu-west-1/);

  const usage: Array<[string[], string]> = [
    [['credentials', '--db-user', 'alice', '--dbname', 'dev'], 'exactly one of --cluster or --workgroup is required'],
    [['credentials', '--cluster', 'c', '--workgroup', 'w', '--dbname', 'dev'], 'exactly one of --cluster or --workgroup is required'],
    [['credentials', '--workgroup', 'w', '--db-user', 'alice', '--dbname', 'dev'], '--db-user, --db-groups and --auto-create do not apply to --workgroup'],
    [['credentials', '--cluster', 'c', '--db-user', 'alice', '--dbname', 'dev', '--duration-seconds', '60'], '--duration-seconds: must be an integer 900..3600 (got "60")'],
    [['credentials', '--cluster', 'c', '--db-user', 'alice', '--dbname', 'dev', '--format', 'yaml'], '--format: must be one of json, env, jdbc, odbc, libpq (got "yaml")'],
    [['credentials', '--cluster', 'c', '--db-user', 'alice'], '--dbname is required'],
    [['credentials', '--cluster', 'c', '--db-user', 'alice', '--dbname', 'dev', '--database', 'dev'], '--dbname is given more than once (as --dbname and --database)'],
  ];
  for (const [args, message] of usage) {
    const u = await rsproxy(args, env);
    assert.equal(u.code, 1, `${args.join(' ')}: ${u.stderr}`);
    assert.ok(u.stderr.startsWith(`rsproxy credentials: ${message}`), u.stderr);
    assert.ok(u.stderr.includes('(see `rsproxy credentials --help`)'), u.stderr);
  }
});

test('credentials --workgroup --format libpq: the URI works in psql as the caller-derived user', async (t) => {
  if (!requirePg(t) || !requireTool(t, 'psql', onPath('psql'))) return;
  const w = await world();
  const r = await rsproxy(['credentials', '--workgroup', 'wg-analytics', '--dbname', 'postgres', '--format', 'libpq', '--sslrootcert', w.pg.caFile], w.env());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^postgresql:\/\/IAM%3Aadam:[^@]+@127\.0\.0\.1:\d+\/postgres\?sslmode=verify-full&sslrootcert=/);
  const psql = await run('psql', ['-X', '-At', '-c', 'select current_user', r.stdout.trim()], { PATH: process.env['PATH'] ?? '' });
  assert.equal(psql.code, 0, psql.stderr);
  assert.equal(psql.stdout.trim(), 'IAM:adam');
});

// A password with every character that needs escaping somewhere, and long (docs/design/token.md §13: ~2 KB tokens).
const hardPassword = ` p;w{x}}=%41@'"+\\ ü ${'A1b2-_.'.repeat(300)} `;
const hardUser = 'IAMA:url_user';

async function hardLogin(w: World): Promise<ConnectionParams> {
  await w.pg.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${hardUser}') THEN CREATE ROLE "${hardUser}" LOGIN; END IF; END $$`);
  await w.pg.query(`ALTER ROLE "${hardUser}" PASSWORD '${hardPassword.replaceAll("'", "''")}'`);
  return { host: w.pg.host, port: w.pg.port, dbName: 'postgres', user: hardUser, password: hardPassword, sslMode: 'verify-full', sslRootCert: w.pg.caFile };
}

test('jdbc URL: pgjdbc logs in with a 2 KB password full of special characters (verify-full, sslrootcert)', async (t) => {
  if (!requirePg(t) || !requireTool(t, 'java + pgjdbc', onPath('java') && existsSync(pgJdbcJar))) return;
  const w = await world();
  const p = await hardLogin(w);
  const r = await run('java', ['-cp', pgJdbcJar, jdbcCheck, jdbcUrl(p)], { PATH: process.env['PATH'] ?? '' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${hardUser}\tpostgres`);
  const bad = await run('java', ['-cp', pgJdbcJar, jdbcCheck, jdbcUrl({ ...p, password: `${hardPassword}x` })], { PATH: process.env['PATH'] ?? '' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /password authentication failed/);
});

test('odbc connection string: psqlODBC (unixODBC isql -k) logs in with the same password; Uid taken literally', async (t) => {
  if (!requirePg(t) || !requireTool(t, 'isql + psqlODBC', onPath('isql') && existsSync(psqlOdbcLib))) return;
  const w = await world();
  const p = await hardLogin(w);
  // Driver=<path> needs no odbcinst.ini registration.
  const conn = odbcConnectionString(p, { driver: psqlOdbcLib });
  // isql (unixODBC 2.3.11) crashes without HOME.
  const env = { PATH: process.env['PATH'] ?? '', HOME: w.dir, ODBCSYSINI: w.dir };
  const isql = (c: string) => run('isql', ['-b', '-v', '-d|', '-k', c], env, 'select current_user\n');
  const r = await isql(conn);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`^${hardUser}$`, 'm'));
  const bad = await isql(odbcConnectionString({ ...p, password: `${hardPassword}x` }, { driver: psqlOdbcLib }));
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout + bad.stderr, /password authentication failed for user "IAMA:url_user"/);
  // Why Uid is never braced: psqlODBC would send the braces as part of the user name.
  const braced = await isql(conn.replace(`Uid=${hardUser}`, `Uid={${hardUser}}`));
  assert.match(braced.stdout + braced.stderr, /password authentication failed for user "\{IAMA:url_user\}"/);
});

test('libpq URI and keyword/value strings: psql logs in with the same password', async (t) => {
  if (!requirePg(t) || !requireTool(t, 'psql', onPath('psql'))) return;
  const w = await world();
  const p = await hardLogin(w);
  for (const conn of [libpqUri(p), libpqKeywordValue(p)]) {
    const r = await run('psql', ['-X', '-At', '-c', 'select current_user', conn], { PATH: process.env['PATH'] ?? '' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), hardUser);
  }
});

test('url --no-token: every format, no AWS call; usage errors exit 1', async (t) => {
  if (!requirePg(t)) return;
  const w = await world();
  const common = ['--host', 'rsproxy.example.com', '--dbname', 'analytics', '--user', 'alice', '--no-token'];
  const before = w.emu.counters.snapshot();
  const expected: Record<string, RegExp> = {
    jdbc: /^jdbc:postgresql:\/\/rsproxy\.example\.com:5439\/analytics\?user=alice&sslmode=verify-full\n$/,
    odbc: /^Driver=\{PostgreSQL Unicode\};Server=rsproxy\.example\.com;Port=5439;Database=analytics;Uid=alice;SSLmode=verify-full\n$/,
    libpq: /^postgresql:\/\/alice@rsproxy\.example\.com:5439\/analytics\?sslmode=verify-full\n$/,
    dbeaver: /"url": "jdbc:postgresql:\/\/rsproxy\.example\.com:5439\/analytics\?sslmode=verify-full"/,
  };
  for (const [format, re] of Object.entries(expected)) {
    const r = await rsproxy(['url', '--format', format, ...common], w.env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, re, format);
  }
  const rs = await rsproxy(['url', '--format', 'jdbc', '--driver', 'redshift', '--sslmode', 'verify-ca', ...common], w.env());
  assert.equal(rs.stdout, 'jdbc:redshift://rsproxy.example.com:5439/analytics?user=alice&ssl=true&sslmode=verify-ca\n');
  assert.deepEqual(w.emu.counters.snapshot(), before);
  const usage: Array<[string[], RegExp]> = [
    [['url', '--host', 'h', '--dbname', 'd', '--user', 'u', '--no-token'], /--format is required/],
    [['url', '--format', 'xml', '--host', 'h', '--dbname', 'd', '--user', 'u', '--no-token'], /--format: must be one of jdbc, odbc, libpq, dbeaver/],
    [['url', '--format', 'odbc', '--host', 'h', '--dbname', 'd', '--user', 'u', '--no-token', '--driver', 'redshift'], /--driver applies to --format jdbc only/],
    [['url', '--format', 'jdbc', '--host', 'h', '--dbname', 'd', '--no-token'], /--user is required/],
    [['url', '--format', 'jdbc', '--host', 'h', '--dbname', 'd', '--user', 'u', '--no-token', '--sslmode', 'maybe'], /--sslmode: must be one of disable, allow, prefer, require, verify-ca, verify-full/],
    [['url', '--format', 'jdbc', '--host', 'h', '--dbname', 'd', '--user', 'u', '--no-token', '--tls'], /unknown option --tls \(see `rsproxy url --help`\)/],
  ];
  for (const [args, message] of usage) {
    const u = await rsproxy(args, w.env({ RSPROXY_USER: '' }));
    assert.equal(u.code, 1, `${args.join(' ')}: ${u.stderr}`);
    assert.match(u.stderr, message);
  }
  const oldSpelling = await rsproxy(['url', '--format', 'libpq', '--host', 'h', '--database', 'd', '--user', 'u', '--no-token'], w.env());
  assert.equal(oldSpelling.stdout, 'postgresql://u@h:5439/d?sslmode=verify-full\n', oldSpelling.stderr);
  const viaEnv = await rsproxy(['url', '--format', 'libpq', '--host', 'h', '--dbname', 'd', '--no-token'], w.env({ RSPROXY_USER: 'carol' }));
  assert.equal(viaEnv.stdout, 'postgresql://carol@h:5439/d?sslmode=verify-full\n');
});

test('connect: a helpful error and exit 2 when psql is not on PATH', async (t) => {
  if (!requirePg(t)) return;
  const w = await world();
  const r = await rsproxy(
    ['connect', '--host', '127.0.0.1', '--dbname', 'dev', '--user', 'alice', '--audience', 'rsproxy:test', '--', '-c', 'select 1'],
    w.env({ RSPROXY_PSQL: join(w.dir, 'no-such-psql') }),
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /was not found on PATH\. Install the PostgreSQL client/);
});

let stackP: Promise<StackHandle> | undefined;
after(async () => {
  const s = await stackP?.catch(() => undefined);
  await s?.close();
});

/** The proxy stack and the env of a user holding the client principal's keys (tokens are minted locally). */
async function proxyWorld(): Promise<{ stack: StackHandle; env: NodeJS.ProcessEnv; common: string[] }> {
  stackP ??= startStack();
  const stack = await stackP;
  const w = await world();
  const c = stack.clientCredentials;
  const env = w.env({
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
    ...(c.sessionToken === undefined ? {} : { AWS_SESSION_TOKEN: c.sessionToken }),
    AWS_REGION: stack.region,
    HOME: w.dir,
  });
  const common = ['--host', '127.0.0.1', '--port', String(stack.proxyPort), '--dbname', stack.database, '--user', stack.dbUser, '--audience', stack.audience, '--sslrootcert', stack.caFile];
  return { stack, env, common };
}

test('connect: psql through the proxy with a fresh token (verify-full); psql args pass through; exit code is psql\'s', async (t) => {
  if (!requirePg(t) || !requireTool(t, 'psql', onPath('psql'))) return;
  const { env, common } = await proxyWorld();
  const r = await rsproxy(['connect', ...common, '--', '-X', '-At', '-c', 'select current_user'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'IAMA:alice');
  const failing = await rsproxy(['connect', ...common, '--', '-X', '-c', 'select * from no_such_table'], env);
  assert.equal(failing.code, 1, 'psql exits 1 on a failed -c command');
  assert.match(failing.stderr, /no_such_table/);
});

test('connect: the token travels in PGPASSWORD, never in psql\'s argv', async (t) => {
  if (!requirePg(t)) return;
  const { env, common, stack } = await proxyWorld();
  const fake = join(stack.dir, 'fake-psql');
  writeFileSync(fake, '#!/bin/sh\nprintf "arg:%s\\n" "$@"\nprintf "pw:%s\\n" "$PGPASSWORD" | cut -c1-20\nprintf "env:%s %s %s %s %s\\n" "$PGHOST" "$PGPORT" "$PGDATABASE" "$PGUSER" "$PGSSLMODE"\nexit 7\n');
  chmodSync(fake, 0o755);
  const r = await rsproxy(['connect', ...common, '--', '-c', 'select 1'], { ...env, RSPROXY_PSQL: fake });
  assert.equal(r.code, 7, r.stderr);
  assert.doesNotMatch(r.stdout.split('\n').filter((l) => l.startsWith('arg:')).join('\n'), /rsp1/);
  assert.match(r.stdout, /^arg:-c\narg:select 1\npw:rsp1\.eu-west-1\.20\n/);
  assert.match(r.stdout, new RegExp(`env:127\\.0\\.0\\.1 ${stack.proxyPort} dev alice verify-full`));
});

test('url --format jdbc / odbc / libpq with a fresh token: pgjdbc, psqlODBC and psql log in through the proxy', async (t) => {
  if (!requirePg(t)) return;
  const { env, common } = await proxyWorld();
  const url = async (format: string) => {
    const r = await rsproxy(['url', '--format', format, ...common], env);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  if (requireTool(t, 'java + pgjdbc', onPath('java') && existsSync(pgJdbcJar))) {
    const jdbc = await url('jdbc');
    assert.match(jdbc, /^jdbc:postgresql:\/\/127\.0\.0\.1:\d+\/dev\?user=alice&password=rsp1\.eu-west-1\./);
    const r = await run('java', ['-cp', pgJdbcJar, jdbcCheck, jdbc], { PATH: process.env['PATH'] ?? '' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'IAMA:alice\tpostgres');
  }
  if (requireTool(t, 'isql + psqlODBC', onPath('isql') && existsSync(psqlOdbcLib))) {
    const odbc = await url('odbc');
    assert.match(odbc, /^Driver=\{PostgreSQL Unicode\};Server=127\.0\.0\.1;Port=\d+;Database=dev;Uid=alice;Pwd=rsp1\.[A-Za-z0-9._-]+;SSLmode=verify-full;pqopt=\{sslrootcert='/);
    // Debian registers "PostgreSQL Unicode" in /etc/odbcinst.ini; Driver=<path> works without it.
    const conn = existsSync('/etc/odbcinst.ini') ? odbc : odbc.replace('{PostgreSQL Unicode}', `{${psqlOdbcLib}}`);
    const r = await run('isql', ['-b', '-v', '-d|', '-k', conn], { PATH: process.env['PATH'] ?? '', HOME: env['HOME'] ?? '' }, 'select current_user\n');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^IAMA:alice$/m);
  }
  if (requireTool(t, 'psql', onPath('psql'))) {
    const uri = await url('libpq');
    const r = await run('psql', ['-X', '-At', '-c', 'select current_user', uri], { PATH: process.env['PATH'] ?? '' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'IAMA:alice');
  }
});
