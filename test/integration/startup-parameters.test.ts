/**
 * Issue 22: a client's settings reach PostgreSQL as a direct connection would send them, through `rsproxy serve`
 * and through `rsproxy tunnel` in front of it (real proxy, AWS emulator, throwaway PostgreSQL): psql's PGOPTIONS,
 * pgjdbc's `options`, node-postgres's timeouts; the upstream's own FATAL for an unknown setting, verbatim;
 * `startupParameters.drop`; replication still 0A000; Redshift-only keys never sent to an `engine: postgres` upstream.
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createLogger } from '../../proxy/telemetry/log.js';
import { upstreamLogin } from '../../proxy/upstream/login.js';
import type { UpstreamLoginError } from '../../proxy/upstream/login.js';
import { iamAudience, iamRegion, startIamStack } from '../../testkit/iam-stack.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { requireTool } from '../../testkit/tools.js';
import { startTunnel, tunnelEnv, writeCredentialsFile } from '../../testkit/tunnel-process.js';
import type { TunnelProcess } from '../../testkit/tunnel-process.js';

// dist/test/integration/startup-parameters.test.js → project root is three levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const pgJdbcJar = '/usr/share/java/postgresql.jar';
const jdbcSettings = join(root, 'test', 'fixtures', 'JdbcSettings.java');
const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: string): Promise<{ code: number; stdout: string; stderr: string; elapsedMs: number }> {
  const startedMs = Date.now();
  return new Promise((done) => {
    const child = execFile(cmd, [...args], { env, timeout: 90_000 }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr, elapsedMs: Date.now() - startedMs });
    });
    child.stdin?.on('error', () => {});
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** node-postgres sending extra top-level startup parameters (it sends only a fixed few by itself). */
class StartupClient extends pg.Client {
  private readonly extra: Record<string, string>;

  constructor(config: pg.ClientConfig, extra: Record<string, string>) {
    super(config);
    this.extra = extra;
    this.on('error', () => {});
  }

  getStartupConf(): Record<string, string> {
    const own = (pg.Client.prototype as unknown as { getStartupConf(this: pg.Client): Record<string, string> }).getStartupConf.call(this);
    return { ...own, ...this.extra };
  }
}

/** Connects; resolves the client, or the server's error if the login failed. */
async function attempt(config: pg.ClientConfig, extra: Record<string, string> = {}): Promise<{ client?: pg.Client; error?: pg.DatabaseError }> {
  const client = new StartupClient({ connectionTimeoutMillis: 30_000, ...config }, extra);
  try {
    await client.connect();
    return { client };
  } catch (err) {
    await client.end().catch(() => {});
    return { error: err as pg.DatabaseError };
  }
}

/** Every field of a node-postgres error as the server sent it (the ErrorResponse's length included). */
function errorFields(e: pg.DatabaseError | undefined): Record<string, unknown> {
  assert.ok(e !== undefined, 'the login should have failed');
  const { length, severity, code, message, detail, hint, position, where, file, line, routine } = e;
  return { length, severity, code, message, detail, hint, position, where, file, line, routine };
}

async function show(client: pg.Client, name: string): Promise<string | undefined> {
  return (await client.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0]?.v;
}

/** How a client reaches PostgreSQL for alice on `dev`: straight to the proxy (TLS + a token) or through the tunnel. */
interface Route {
  pgConfig(): Promise<pg.ClientConfig>;
  psql(): Promise<{ conninfo: string; env: Record<string, string> }>;
  jdbc(params: string): Promise<{ url: string; env: Record<string, string> }>;
}

describe('startup parameters reach PostgreSQL (issue 22)', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let stack: IamStack | undefined;
  let tunnel: TunnelProcess | undefined;
  let dir = '';
  const routes = new Map<string, Route>();

  before(async () => {
    if (!pgAvailable()) return;
    dir = mkdtempSync(join(tmpdir(), 'rsproxy-startup-params-'));
    const s = await startIamStack({
      logLevel: 'debug',
      configure: (config) => {
        config['startupParameters'] = { drop: ['Application_Name'] };
      },
    });
    stack = s;
    const home = mkdtempSync(join(dir, 'alice-'));
    const credentialsFile = join(home, 'credentials');
    const configFile = join(home, 'config');
    writeFileSync(configFile, '');
    const alice = s.principals.get('alice');
    assert.ok(alice !== undefined);
    writeCredentialsFile(credentialsFile, alice);
    const tun = await startTunnel(
      ['--host', '127.0.0.1', '--port', String(s.proxyPort), '--sslrootcert', s.caFile, '--audience', iamAudience, '--region', iamRegion, '--user', 'alice', '--dbname', 'dev', '--listen', '127.0.0.1:0'],
      tunnelEnv({ credentialsFile, configFile, home }),
    );
    tunnel = tun;
    const clean = { PATH: process.env['PATH'] ?? '', HOME: dir };
    routes.set('serve', {
      pgConfig: async () => ({ host: '127.0.0.1', port: s.proxyPort, user: 'alice', database: 'dev', password: await s.mint('alice'), ssl: { ca: s.caPem, servername: 'localhost' } }),
      psql: async () => ({
        conninfo: `host=localhost hostaddr=127.0.0.1 port=${s.proxyPort} user=alice dbname=dev sslmode=verify-full sslrootcert=${s.caFile}`,
        env: { ...clean, PGPASSWORD: await s.mint('alice') },
      }),
      jdbc: async (params) => ({
        url: `jdbc:postgresql://localhost:${s.proxyPort}/dev?user=alice&sslmode=verify-full&sslrootcert=${s.caFile}&${params}`,
        env: { ...clean, PGPASSWORD: await s.mint('alice') },
      }),
    });
    routes.set('tunnel', {
      pgConfig: async () => ({ host: '127.0.0.1', port: tun.port, user: 'alice', database: 'dev', ssl: false }),
      psql: async () => ({ conninfo: `host=127.0.0.1 port=${tun.port} user=alice dbname=dev sslmode=disable`, env: clean }),
      jdbc: async (params) => ({ url: `jdbc:postgresql://127.0.0.1:${tun.port}/dev?user=alice&sslmode=disable&${params}`, env: clean }),
    });
  });
  after(async () => {
    await tunnel?.stop('SIGKILL');
    await stack?.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const ready = (t: TestContext, name: string): { s: IamStack; route: Route } | undefined => {
    if (!requirePg(t)) return undefined;
    const route = routes.get(name);
    assert.ok(stack !== undefined && route !== undefined, 'stack or tunnel did not start');
    return { s: stack, route };
  };

  /** A superuser connection straight to PostgreSQL, for what a direct login sees. */
  const direct = (s: IamStack): pg.ClientConfig => ({ connectionString: s.pg.url(), ssl: { ca: s.pg.caPem, servername: 'localhost' } });

  test("upstreamLogin: a setting refused after authentication carries the upstream's ErrorResponse; a wrong password or database does not", async (t) => {
    if (!requirePg(t)) return;
    const s = stack;
    assert.ok(s !== undefined);
    const logger = createLogger({ level: 'error', destination: { write: () => true } });
    const login = async (password: string, parameters: Array<readonly [string, string]>, dbName = 'postgres'): Promise<UpstreamLoginError> => {
      const target = { database: 'dev', host: '127.0.0.1', port: s.pg.port, dbName, engine: 'postgres' as const, tlsMode: 'verify-full' as const, caFile: s.pg.caFile };
      try {
        const session = await upstreamLogin({ target, user: 'postgres', password, parameters, deadlineMs: Date.now() + 20_000, logger });
        session.socket.destroy();
      } catch (err) {
        return err as UpstreamLoginError;
      }
      throw new Error('the upstream login unexpectedly succeeded');
    };
    const refused = await login(s.pg.superPassword, [['nosuch_param', '1']]);
    assert.equal(refused.upstreamSqlstate, '42704');
    assert.equal(refused.isAuthRejected, false);
    assert.equal(refused.settingRefusal?.subarray(0, 1).toString(), 'E');
    assert.match(refused.settingRefusal?.toString('latin1') ?? '', /\0C42704\0Munrecognized configuration parameter "nosuch_param"\0/);
    const badPassword = await login('wrong-password', [['nosuch_param', '1']]);
    assert.deepEqual([badPassword.upstreamSqlstate, badPassword.settingRefusal], ['28P01', undefined]);
    const noDatabase = await login(s.pg.superPassword, [['statement_timeout', '1s']], 'nosuch_db');
    assert.deepEqual([noDatabase.upstreamSqlstate, noDatabase.settingRefusal], ['3D000', undefined]);
  });

  for (const name of ['serve', 'tunnel']) {
    describe(`through ${name}`, () => {
      test("psql with PGOPTIONS='-c statement_timeout=3s -c app.tenant=acme': both set; pg_sleep(5) is cancelled by the timeout (57014)", async (t) => {
        const r = ready(t, name);
        if (r === undefined || !requireTool(t, 'psql', onPath('psql'))) return;
        const { conninfo, env } = await r.route.psql();
        const script = "\\set VERBOSITY verbose\nSHOW statement_timeout;\nSELECT current_setting('app.tenant');\nSELECT pg_sleep(5);\n";
        const out = await run('psql', ['-X', '-w', '-At', '-d', conninfo, '-f', '-'], { ...env, PGOPTIONS: '-c statement_timeout=3s -c app.tenant=acme' }, script);
        assert.equal(out.code, 0, out.stderr);
        assert.deepEqual(out.stdout.trim().split('\n'), ['3s', 'acme']);
        assert.match(out.stderr, /ERROR: {2}57014: canceling statement due to statement timeout/);
        assert.ok(out.elapsedMs < 4900, `pg_sleep(5) ran to its end (${out.elapsedMs} ms)`);
      });

      test('pgjdbc with options=-c lock_timeout=2s: the session has lock_timeout 2s', async (t) => {
        const r = ready(t, name);
        if (r === undefined || !requireTool(t, 'java + pgjdbc', onPath('java') && existsSync(pgJdbcJar))) return;
        const { url, env } = await r.route.jdbc('options=-c%20lock_timeout=2s');
        const out = await run('java', ['-cp', pgJdbcJar, jdbcSettings, url, 'lock_timeout'], env);
        assert.equal(out.code, 0, out.stderr);
        assert.equal(out.stdout.trim(), 'lock_timeout=2s');
      });

      test('node-postgres statement_timeout, lock_timeout and idle_in_transaction_session_timeout: the session has them', async (t) => {
        const r = ready(t, name);
        if (r === undefined) return;
        const { client, error } = await attempt({ ...(await r.route.pgConfig()), statement_timeout: 3000, lock_timeout: 1500, idle_in_transaction_session_timeout: 5000 });
        assert.ok(client !== undefined, error?.message);
        try {
          assert.equal(await show(client, 'statement_timeout'), '3s');
          assert.equal(await show(client, 'lock_timeout'), '1500ms');
          assert.equal(await show(client, 'idle_in_transaction_session_timeout'), '5s');
          assert.equal((await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u, 'IAMA:alice');
        } finally {
          await client.end();
        }
      });

      test("an unknown setting (nosuch_param) gets PostgreSQL's own FATAL 42704, every field as a direct login gets it", async (t) => {
        const r = ready(t, name);
        if (r === undefined) return;
        const viaProxy = errorFields((await attempt(await r.route.pgConfig(), { nosuch_param: '1' })).error);
        const straight = errorFields((await attempt(direct(r.s), { nosuch_param: '1' })).error);
        assert.equal(viaProxy['code'], '42704');
        assert.equal(viaProxy['message'], 'unrecognized configuration parameter "nosuch_param"');
        assert.ok(typeof viaProxy['file'] === 'string' && typeof viaProxy['routine'] === 'string', 'PostgreSQL\'s F and R fields (the proxy never sends them)');
        assert.deepEqual(viaProxy, straight);
        // The operator's log says what happened at info, not as an upstream failure to act on.
        assert.ok(r.s.logs.some((l) => l.includes('"upstream_refused_setting"') && l.includes('"upstreamSqlstate":"42704"')), 'upstream_refused_setting log line');
        assert.ok(r.s.logs.some((l) => l.includes('"login_failed"') && l.includes('"sqlstate":"42704"') && l.includes('"isUpstreamErrorRelayed":true')), 'login_failed names the relayed SQLSTATE');
      });

      test('forwarding grants nothing a direct login would not: -c role=postgres and a superuser-only setting get PostgreSQL\'s 42501', async (t) => {
        const r = ready(t, name);
        if (r === undefined) return;
        for (const [options, message] of [
          ['-c role=postgres', 'permission denied to set role "postgres"'],
          ['-c session_authorization=postgres', 'permission denied to set session authorization "postgres"'],
          ['-c log_statement=all', 'permission denied to set parameter "log_statement"'],
        ] as const) {
          const { client, error } = await attempt({ ...(await r.route.pgConfig()), options });
          await client?.end();
          assert.deepEqual([error?.severity, error?.code, error?.message], ['FATAL', '42501', message], options);
        }
      });

      test('a name in startupParameters.drop (Application_Name, any case) never reaches the upstream; the proxy logs it at debug', async (t) => {
        const r = ready(t, name);
        if (r === undefined) return;
        const { client, error } = await attempt({ ...(await r.route.pgConfig()), application_name: 'must-not-arrive' });
        assert.ok(client !== undefined, error?.message);
        try {
          assert.equal(await show(client, 'application_name'), '');
          const seen = await r.s.pg.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'must-not-arrive'");
          assert.equal(seen.rows[0]?.n, 0);
        } finally {
          await client.end();
        }
        assert.ok(r.s.logs.some((l) => l.includes('"startup_parameters_dropped"') && l.includes('"application_name"')), 'debug line naming the dropped parameter');
      });

      test('replication=database is still FATAL 0A000', async (t) => {
        const r = ready(t, name);
        if (r === undefined) return;
        const { client, error } = await attempt(await r.route.pgConfig(), { replication: 'database' });
        await client?.end();
        assert.equal(error?.code, '0A000', error?.message);
        assert.equal(error?.severity, 'FATAL');
      });

      test('Redshift-only keys never reach an engine: postgres upstream (which would refuse them with 42704)', async (t) => {
        const r = ready(t, name);
        if (r === undefined) return;
        const redshiftOnly = { client_protocol_version: '3', driver_version: '2.1.0.30', os_version: 'Linux', plugin_name: 'none', driver_discovery_version: '2' };
        const refused = await attempt(direct(r.s), { client_protocol_version: '3' });
        await refused.client?.end();
        assert.equal(refused.error?.code, '42704', 'PostgreSQL refuses the key on a direct login');
        const { client, error } = await attempt(await r.route.pgConfig(), redshiftOnly);
        assert.ok(client !== undefined, error?.message);
        try {
          assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
        } finally {
          await client.end();
        }
      });
    });
  }
});
