/** `rsproxy serve` as a child process: metrics on failed logins, connection cap, SIGHUP reload, SIGTERM drain, exit codes, no secrets in logs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { getTestPki, type TestPki } from '../../testkit/certs.js';
import { httpGet as get, type HttpAnswer } from '../../testkit/http-get.js';
import { sslRequest } from '../../testkit/raw-pg-client.js';
import { waitFor } from '../../testkit/wait.js';

const bin = fileURLToPath(new URL('../../proxy/cli/index.js', import.meta.url));
// A well-formed-looking but unsigned token: its signature must never reach the logs.
const signature = 'c0ffee'.repeat(10) + 'c0ff';
const fakeToken = `rsp1.us-east-1.20200101T000000Z.AKIAIOSFODNN7EXAMPLE.${signature}`;

function configYaml(pki: TestPki, extraRules = ''): string {
  return `
listen: "127.0.0.1:0"
tls: { certFile: ${JSON.stringify(pki.certFile)}, keyFile: ${JSON.stringify(pki.keyFile)} }
identity: { audience: "rsproxy:lifecycle", stsRegions: [us-east-1], allowedAccounts: ["123456789012"] }
databases:
  dev: { cluster: c1, host: 127.0.0.1, port: 1, region: us-east-1, engine: postgres, upstreamTls: { mode: require } }
rules:
  - { principal: "arn:aws:iam::123456789012:role/Analyst", dbUser: analyst, databases: [dev] }
${extraRules}
admin: { listen: "127.0.0.1:0" }
limits: { loginTimeoutMs: 30000 }
shutdown: { drainSeconds: 2 }
`;
}

interface Proxy {
  child: ChildProcess;
  out: () => string;
  lines: () => Record<string, unknown>[];
  proxyPort: number;
  adminPort: number;
  exit: Promise<number | null>;
}

async function startProxy(configPath: string, extraArgs: string[] = []): Promise<Proxy> {
  const child = spawn(process.execPath, [bin, 'serve', '--config', configPath, ...extraArgs], {
    env: { ...process.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret', AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = () =>
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const started = await waitFor(() => (child.exitCode !== null ? { event: 'exited' } : lines().find((l) => l.event === 'started')), 15_000).catch(
    (err: unknown) => {
      child.kill('SIGKILL');
      throw new Error(`serve did not start: ${stderr}${stdout}`, { cause: err });
    },
  );
  if (started.event === 'exited') throw new Error(`serve exited ${String(child.exitCode)}: ${stderr}${stdout}`);
  const listen = started.listen as { port: number };
  const admin = started.admin as { port: number };
  return { child, out: () => stdout + stderr, lines, proxyPort: listen.port, adminPort: admin.port, exit };
}

const httpGet = (port: number, path: string): Promise<HttpAnswer> => get(`http://127.0.0.1:${port}${path}`);

async function login(port: number, pki: TestPki, password: string): Promise<string | undefined> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'analyst', database: 'dev', password, ssl: { ca: pki.caPem, servername: 'localhost' } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** A client that completes SSLRequest + TLS + StartupMessage and then idles before its password, holding an admitted session. */
function idleTlsClient(port: number): Promise<{ socket: TLSSocket; received: () => Buffer; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const raw = netConnect(port, '127.0.0.1');
    raw.on('error', reject);
    raw.once('connect', () => raw.write(sslRequest));
    raw.once('data', (b: Buffer) => {
      if (b[0] !== 0x53) return reject(new Error('SSLRequest refused'));
      const socket = tlsConnect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', () => {});
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      socket.once('secureConnect', () => {
        const body = Buffer.from('user\0analyst\0database\0dev\0\0', 'latin1');
        const head = Buffer.alloc(8);
        head.writeInt32BE(8 + body.length, 0);
        head.writeInt32BE(196608, 4);
        socket.write(Buffer.concat([head, body]));
        // Admitted once the server asks for the password (AuthenticationCleartextPassword, 'R').
        const onData = (): void => {
          if (Buffer.concat(chunks)[0] === 0x52) {
            socket.off('data', onData);
            resolve({ socket, received: () => Buffer.concat(chunks), closed });
          }
        };
        socket.on('data', onData);
      });
    });
  });
}

test('serve: metrics, cap, SIGHUP reload, SIGTERM drain → 143, no secrets in logs', { timeout: 60_000 }, async () => {
  const pki = await getTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-lifecycle-'));
  const configPath = join(dir, 'rsproxy.yaml');
  writeFileSync(configPath, configYaml(pki));
  const proxy = await startProxy(configPath, ['--limits-max-client-connections', '2']);
  try {
    assert.equal((await httpGet(proxy.adminPort, '/startupz')).status, 200);
    assert.equal((await httpGet(proxy.adminPort, '/readyz')).status, 200);

    // A failing login increments the failure counter with its reason.
    assert.equal(await login(proxy.proxyPort, pki, 'not-a-token'), '28P01');
    assert.equal(await login(proxy.proxyPort, pki, fakeToken), '28P01');
    const metrics = (await httpGet(proxy.adminPort, '/metrics')).body;
    assert.match(metrics, /rsproxy_logins_total\{result="failed",reason="malformed"\} [12]\n/);
    assert.match(metrics, /rsproxy_login_duration_seconds_count\{result="failed"\} 2\n/);

    // SIGHUP with an invalid config is rejected and the old config keeps serving.
    writeFileSync(configPath, 'limits: { loginTimeoutMs: "10s" }\n');
    proxy.child.kill('SIGHUP');
    const rejected = await waitFor(() => proxy.lines().find((l) => l.event === 'reload_rejected'));
    assert.ok(JSON.stringify(rejected.problems).includes('limits.loginTimeoutMs'));
    assert.equal(await login(proxy.proxyPort, pki, 'not-a-token'), '28P01');
    // A valid new config is applied without a restart.
    writeFileSync(configPath, configYaml(pki, '  - { principal: "arn:aws:iam::123456789012:role/Other", dbUser: other, databases: [dev] }'));
    proxy.child.kill('SIGHUP');
    const reloaded = await waitFor(() => proxy.lines().find((l) => l.event === 'reloaded'));
    assert.equal(reloaded.rules, 2);

    // Connection cap (2 via a flag): two idle sessions fill it, the third client gets 53300.
    const a = await idleTlsClient(proxy.proxyPort);
    const b = await idleTlsClient(proxy.proxyPort);
    await waitFor(async () => /rsproxy_client_connections 2\n/.test((await httpGet(proxy.adminPort, '/metrics')).body));
    assert.equal(await login(proxy.proxyPort, pki, 'not-a-token'), '53300');
    b.socket.destroy();
    await b.closed;

    // SIGTERM: readyz 503 while draining, the idle session ends with 57P01 after drainSeconds, exit 143.
    const t0 = Date.now();
    proxy.child.kill('SIGTERM');
    await waitFor(async () => (await httpGet(proxy.adminPort, '/readyz')).status === 503, 1500);
    assert.equal((await httpGet(proxy.adminPort, '/livez')).status, 200);
    await a.closed;
    assert.ok(Date.now() - t0 >= 1500, 'the session was allowed to drain');
    const text = a.received().toString('latin1');
    assert.ok(text.includes('57P01'), `drained session got: ${JSON.stringify(text)}`);
    assert.equal(await proxy.exit, 143);

    const logs = proxy.out();
    assert.ok(!logs.includes(signature), 'no token signature in logs');
    assert.ok(!logs.includes('not-a-token'), 'no password in logs');
    assert.ok(proxy.lines().some((l) => l.event === 'shutdown' && l.signal === 'SIGTERM'));
  } finally {
    proxy.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve: SIGTERM exits 0 with --exit-zero-on-sigterm; SIGINT exits 130; a second signal destroys at once', { timeout: 60_000 }, async () => {
  const pki = await getTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-lifecycle-'));
  const configPath = join(dir, 'rsproxy.yaml');
  writeFileSync(configPath, configYaml(pki));
  try {
    const zero = await startProxy(configPath, ['--exit-zero-on-sigterm', '--shutdown-drain-seconds', '0']);
    zero.child.kill('SIGTERM');
    assert.equal(await zero.exit, 0);

    const int = await startProxy(configPath, ['--shutdown-drain-seconds', '30']);
    const idle = await idleTlsClient(int.proxyPort);
    const t0 = Date.now();
    int.child.kill('SIGINT');
    await waitFor(async () => (await httpGet(int.adminPort, '/readyz')).status === 503, 1500);
    int.child.kill('SIGINT');
    assert.equal(await int.exit, 130);
    await idle.closed;
    assert.ok(Date.now() - t0 < 10_000, 'the second signal did not wait for the 30 s drain');
    assert.ok(int.lines().some((l) => l.event === 'shutdown_forced'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve: an invalid config exits 1 with one line per problem', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-lifecycle-'));
  const configPath = join(dir, 'rsproxy.yaml');
  writeFileSync(configPath, 'listen: nowhere\nbogus: 1\n');
  try {
    const child = spawn(process.execPath, [bin, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 1);
    assert.match(stderr, /^listen: must be host:port/m);
    assert.match(stderr, /^bogus: unknown key$/m);
    assert.match(stderr, /^tls: required;/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
