/**
 * Issue 21, the tunnel for analysts (docs/design/surface.md §13), end to end against a real proxy + AWS emulator + PostgreSQL:
 * `rsproxy tunnel --config FILE` runs two tunnels to two databases at once (psql through both), a bad entry is refused by
 * index and field with nothing listening, and `--admin` sidecar control: /readyz 503 before the listeners are up and with
 * unusable credentials, 200 when ready; POST /quitquitquit ends open sessions with 57P01 and exits 0; loopback only.
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { getTestPki } from '../../testkit/certs.js';
import { freePort } from '../../testkit/free-port.js';
import { iamAudience, iamClusterId, iamRegion, startIamStack } from '../../testkit/iam-stack.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { requireTool } from '../../testkit/tools.js';
import { startTunnel, tunnelEnv, tunnelExit, writeCredentialsFile } from '../../testkit/tunnel-process.js';
import type { TunnelProcess } from '../../testkit/tunnel-process.js';
import { waitFor } from '../../testkit/wait.js';

const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function psql(conninfo: string, sql: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('psql', ['-X', '-w', '-At', '-c', sql, conninfo], { env: { PATH: process.env['PATH'] ?? '', HOME: tmpdir() }, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** Whether anything accepts TCP connections on 127.0.0.1:port. */
function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const r = await fetch(url, init);
  return { status: r.status, body: await r.text() };
}

describe('rsproxy tunnel --config and --admin', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let stack: IamStack | undefined;
  let dir = '';
  let caFile = '';
  const tunnels: TunnelProcess[] = [];

  before(async () => {
    if (!pgAvailable()) return;
    stack = await startIamStack({
      logLevel: 'info',
      configure: (config) => {
        // A second database behind the same proxy, on its own PostgreSQL database.
        const dev = config.databases['dev'] as Record<string, unknown>;
        config.databases['sales'] = { ...dev, cluster: iamClusterId, dbName: 'sales' };
        for (const rule of config.rules as Array<{ databases: string[] }>) rule.databases.push('sales');
      },
    });
    await stack.pg.query('CREATE DATABASE sales');
    dir = mkdtempSync(join(tmpdir(), 'rsproxy-tunnel-config-'));
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

  /** alice's keys in a shared credentials file, in a fresh HOME. */
  const aliceEnv = (s: IamStack): { env: NodeJS.ProcessEnv; home: string } => {
    const home = mkdtempSync(join(dir, 'alice-'));
    writeFileSync(join(home, 'config'), '');
    writeCredentialsFile(join(home, 'credentials'), s.principals.get('alice'));
    return { env: tunnelEnv({ credentialsFile: join(home, 'credentials'), configFile: join(home, 'config'), home }), home };
  };

  const entry = (s: IamStack, extra: Record<string, unknown>): Record<string, unknown> => ({
    host: '127.0.0.1',
    port: s.proxyPort,
    sslrootcert: caFile,
    audience: iamAudience,
    region: iamRegion,
    user: 'alice',
    ...extra,
  });

  test('two entries for two databases listen at once; psql works through both, each connection line names its tunnel', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const { env, home } = aliceEnv(s);
    // The second entry signs as bob (profile bob): two identities, two databases, one process.
    const bobFile = join(home, 'bob-credentials');
    writeCredentialsFile(bobFile, s.principals.get('bob'), 'bob');
    appendFileSync(join(home, 'credentials'), readFileSync(bobFile, 'utf8'));
    const file = join(home, 'tunnels.yaml');
    writeFileSync(
      file,
      stringify({ tunnels: [entry(s, { dbname: 'dev', listen: '127.0.0.1:0' }), entry(s, { dbname: 'sales', user: 'bob', profile: 'bob', listen: '127.0.0.1:0', tokenReuseSeconds: 0 })] }),
    );
    const tun = await startTunnel(['--config', file], env);
    tunnels.push(tun);
    const listening = await waitFor(() => {
      const l = tun.stdout.filter((x) => x.startsWith('listening on '));
      return l.length === 2 ? l : undefined;
    });
    assert.match(listening[1] ?? '', new RegExp(`^listening on 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${s.proxyPort}$`));
    const psqlLines = tun.stdout.filter((x) => x.startsWith('psql:')).map((x) => /^psql:\s+psql "(.*)"$/.exec(x)?.[1] ?? '');
    assert.equal(psqlLines.length, 2);
    assert.match(psqlLines[0] ?? '', /dbname='dev' user='alice' sslmode='disable'/);
    assert.match(psqlLines[1] ?? '', /dbname='sales' user='bob' sslmode='disable'/);
    if (!requireTool(t, 'psql', onPath('psql'))) return;
    const [dev, sales] = await Promise.all(psqlLines.map((c) => psql(c, "select current_user || ' ' || current_database()")));
    assert.equal(dev?.code, 0, dev?.stderr);
    assert.equal(sales?.code, 0, sales?.stderr);
    assert.equal(dev?.stdout.trim(), 'IAMA:alice postgres');
    assert.equal(sales?.stdout.trim(), 'IAMA:bob sales');
    await waitFor(() => tun.stderr.some((l) => /^rsproxy tunnel: \[tunnel 0\] \[conn \d+\] logged in to .*\(database dev\)/.test(l)) && tun.stderr.some((l) => /^rsproxy tunnel: \[tunnel 1\] \[conn \d+\] logged in to .*\(database sales\)/.test(l)));
    assert.equal(await tun.stop('SIGTERM'), 0, tun.stderr.join('\n'));
  });

  test('a bad entry is refused by its index and field (exit 1) and nothing listens, not even the good entries or --admin', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const { env, home } = aliceEnv(s);
    const [goodPort, adminPort] = [await freePort(), await freePort()];
    const file = join(home, 'bad.yaml');
    writeFileSync(file, stringify({ tunnels: [entry(s, { dbname: 'dev', listen: `127.0.0.1:${goodPort}` }), entry(s, { dbname: 'sales', listen: '0.0.0.0:5439' })] }));
    const r = await tunnelExit(['--config', file, '--admin', `127.0.0.1:${adminPort}`], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /bad\.yaml: tunnels\[1\]\.listen must be a loopback address/);
    assert.equal(r.stdout, '');
    assert.equal(await isListening(goodPort), false);
    assert.equal(await isListening(adminPort), false);
    writeFileSync(file, stringify({ tunnels: [entry(s, { listen: `127.0.0.1:${goodPort}` }), entry(s, { port: 'five' })] }));
    const typed = await tunnelExit(['--config', file], env);
    assert.equal(typed.code, 1, typed.stderr);
    assert.match(typed.stderr, /tunnels\[1\]\.port: .*got "five"/);
    const mixed = await tunnelExit(['--config', file, '--host', 'x'], env);
    assert.equal(mixed.code, 1, mixed.stderr);
    assert.match(mixed.stderr, /--host cannot be given with --config/);
  });

  test('--admin: /readyz 503 before the listeners are up and with unusable credentials, 200 when ready; POST /quitquitquit ends sessions with 57P01, exit 0', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const home = mkdtempSync(join(dir, 'sidecar-'));
    const alice = s.principals.get('alice');
    assert.ok(alice !== undefined);
    // credential_process: slow while `slow` exists (start-up), failing while `broken` exists; never cached (no Expiration).
    const script = join(home, 'creds.sh');
    const json = JSON.stringify({ Version: 1, AccessKeyId: alice.accessKeyId, SecretAccessKey: alice.secretAccessKey, SessionToken: alice.sessionToken });
    writeFileSync(script, `#!/bin/sh\n[ -f '${home}/broken' ] && { echo 'revoked' >&2; exit 1; }\n[ -f '${home}/slow' ] && sleep 3\necho '${json}'\n`);
    chmodSync(script, 0o700);
    writeFileSync(join(home, 'config'), `[default]\ncredential_process = ${script}\n`);
    writeFileSync(join(home, 'credentials'), '');
    writeFileSync(join(home, 'slow'), '');
    const env = tunnelEnv({ credentialsFile: join(home, 'credentials'), configFile: join(home, 'config'), home });
    const adminPort = await freePort();
    const admin = `http://127.0.0.1:${adminPort}`;
    const args = ['--host', '127.0.0.1', '--port', String(s.proxyPort), '--sslrootcert', caFile, '--audience', iamAudience, '--region', iamRegion, '--user', 'alice', '--dbname', 'dev', '--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${adminPort}`];
    const starting = startTunnel(args, env);
    const early = await waitFor(() => get(`${admin}/readyz`).catch(() => undefined), 10_000, 50);
    assert.equal(early.status, 503, 'not ready while the credentials resolve and nothing listens');
    assert.match(early.body, /listeners are not up/);
    assert.equal((await get(`${admin}/livez`)).status, 200);
    const tun = await starting;
    tunnels.push(tun);
    unlinkSync(join(home, 'slow'));
    assert.ok(tun.stdout.includes(`admin: http://127.0.0.1:${adminPort} (/livez, /readyz, POST /quitquitquit)`), tun.stdout.join('\n'));
    assert.equal((await get(`${admin}/readyz`)).status, 200);

    writeFileSync(join(home, 'broken'), '');
    const broken = await get(`${admin}/readyz`);
    assert.equal(broken.status, 503);
    assert.match(broken.body, /no usable AWS credentials \(profile default\)/);
    unlinkSync(join(home, 'broken'));
    assert.equal((await get(`${admin}/readyz`)).status, 200, 'ready again once the credentials are fixed, no restart');

    assert.equal((await get(`${admin}/quitquitquit`)).status, 405, 'GET does not quit');
    const client = new pg.Client({ host: '127.0.0.1', port: tun.port, user: 'alice', database: 'dev', ssl: false, connectionTimeoutMillis: 30_000 });
    const errors: Array<{ code?: string }> = [];
    client.on('error', (err) => errors.push(err as { code?: string }));
    await client.connect();
    assert.equal((await client.query('select 1 as one')).rows[0]?.one, 1);
    const ended = new Promise<void>((r) => client.once('end', r));
    const exited = new Promise<number | null>((r) => tun.child.once('exit', (code) => r(code)));
    const quit = await get(`${admin}/quitquitquit`, { method: 'POST' });
    assert.equal(quit.status, 200);
    await ended;
    assert.equal(errors[0]?.code, '57P01', JSON.stringify(errors));
    assert.equal(await exited, 0, tun.stderr.join('\n'));
    assert.equal(await isListening(tun.port), false);
    assert.equal(await isListening(adminPort), false);
  });

  test('--admin refuses a non-loopback address (exit 1) before anything listens', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const { env } = aliceEnv(s);
    const port = await freePort();
    const r = await tunnelExit(['--host', '127.0.0.1', '--port', String(s.proxyPort), '--audience', iamAudience, '--region', iamRegion, '--listen', `127.0.0.1:${port}`, '--admin', '0.0.0.0:9187'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /--admin must be a loopback address \(127\.0\.0\.0\/8 or ::1\)/);
    assert.equal(await isListening(port), false);
  });
});
