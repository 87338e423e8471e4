import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createMetrics } from './metrics.js';
import { droppedDefaultMetrics } from './metrics-ops.js';
import { promtool, promtoolPath } from '../../testkit/promtool.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';
import type { Phase } from '../session/state.js';

async function text(m: ReturnType<typeof createMetrics>): Promise<string> {
  return m.registry.metrics();
}

function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('every docs/design/surface.md §6 metric is registered with its type', async () => {
  const body = await text(createMetrics());
  const want: Record<string, string> = {
    rsproxy_client_connections: 'gauge',
    rsproxy_logins_total: 'counter',
    rsproxy_login_duration_seconds: 'histogram',
    rsproxy_sts_requests_total: 'counter',
    rsproxy_sts_request_duration_seconds: 'histogram',
    rsproxy_credential_requests_total: 'counter',
    rsproxy_credential_cache_total: 'counter',
    rsproxy_upstream_connect_duration_seconds: 'histogram',
    rsproxy_bytes_total: 'counter',
    rsproxy_cancel_requests_total: 'counter',
    rsproxy_sessions_ended_total: 'counter',
  };
  for (const [name, type] of Object.entries(want)) assert.ok(body.includes(`# TYPE ${name} ${type}\n`), `${name} ${type}`);
  assert.ok(body.includes('process_cpu_user_seconds_total'), 'default metrics');
});

test('known label values start at zero', async () => {
  const body = await text(createMetrics());
  assert.equal(sample(body, 'rsproxy_logins_total{result="failed",reason="expired"}'), 0);
  assert.equal(sample(body, 'rsproxy_credential_cache_total{result="stale"}'), 0);
  assert.equal(sample(body, 'rsproxy_cancel_requests_total{result="unknown_key"}'), 0);
  assert.equal(sample(body, 'rsproxy_cancel_requests_total{result="peer_forwarded"}'), 0);
  assert.equal(sample(body, 'rsproxy_cancel_requests_total{result="peer_forward_failed"}'), 0);
  for (const reason of ['client', 'upstream', 'revoked', 'max_age', 'admin', 'shutdown']) assert.equal(sample(body, `rsproxy_sessions_ended_total{reason="${reason}"}`), 0, reason);
});

test('observations land on the right series; unknown labels collapse to "other"', async () => {
  const m = createMetrics();
  m.clientConnectionOpened();
  m.clientConnectionOpened();
  m.clientConnectionClosed();
  m.login('failed', 'expired', 0.02);
  m.login('ok', 'ok', 0.3);
  m.login('failed', 'arn:aws:iam::123456789012:role/Leak', 0.1);
  m.bytes('client_to_upstream', 100);
  m.bytes('upstream_to_client', 0);
  m.stsRequest('ok', 0.05);
  m.credentialRequest('GetClusterCredentials', 'ok');
  m.credentialCache('hit');
  m.cancel('forwarded');
  m.upstreamConnect(0.01);
  m.sessionEnded('revoked');
  m.sessionEnded('revoked');
  m.sessionEnded('bogus' as 'client');
  const body = await text(m);
  assert.equal(sample(body, 'rsproxy_client_connections'), 1);
  assert.equal(sample(body, 'rsproxy_logins_total{result="failed",reason="expired"}'), 1);
  assert.equal(sample(body, 'rsproxy_logins_total{result="failed",reason="other"}'), 1);
  assert.ok(!body.includes('arn:aws'), 'no ARN in labels');
  assert.equal(sample(body, 'rsproxy_login_duration_seconds_count{result="failed"}'), 2);
  assert.equal(sample(body, 'rsproxy_bytes_total{direction="client_to_upstream"}'), 100);
  assert.equal(sample(body, 'rsproxy_sts_requests_total{result="ok"}'), 1);
  assert.equal(sample(body, 'rsproxy_credential_requests_total{api="GetClusterCredentials",result="ok"}'), 1);
  assert.equal(sample(body, 'rsproxy_credential_cache_total{result="hit"}'), 1);
  assert.equal(sample(body, 'rsproxy_cancel_requests_total{result="forwarded"}'), 1);
  assert.equal(sample(body, 'rsproxy_upstream_connect_duration_seconds_count'), 1);
  assert.equal(sample(body, 'rsproxy_sessions_ended_total{reason="revoked"}'), 2);
  assert.equal(sample(body, 'rsproxy_sessions_ended_total{reason="other"}'), 1);
});

test('two proxies in one process use separate registries', () => {
  createMetrics(new Registry());
  assert.doesNotThrow(() => createMetrics(new Registry()));
});

const checkMetrics = (body: string) => promtool(['check', 'metrics'], body);

test('promtool check metrics prints nothing for the whole exposition, default metrics included', async (t) => {
  if (!requireTool(t, 'promtool', commandWorks(promtoolPath))) return;
  const m = createMetrics();
  m.setTlsCertificateExpiry(1_900_000_000);
  m.setClientConnectionsMax(100);
  m.login('failed', 'no_rule', 0.01);
  m.stsRequest('rejected', 0.2);
  m.bytes('upstream_to_client', 12);
  const body = await text(m);
  const ours = body
    .split('\n')
    .filter((l) => l.startsWith('rsproxy_') || l.startsWith('# HELP rsproxy_') || l.startsWith('# TYPE rsproxy_'))
    .join('\n');
  const strict = await checkMetrics(`${ours}\n`);
  assert.equal(strict.code, 0, strict.out);
  const full = await checkMetrics(body);
  assert.deepEqual({ code: full.code, out: full.out }, { code: 0, out: '' });
  // The misnamed default gauges are gone; their typed twins (sum them for the total) stay.
  for (const name of droppedDefaultMetrics) assert.ok(!body.includes(`\n${name}`), name);
  for (const name of ['nodejs_active_handles', 'nodejs_active_requests']) assert.ok(body.includes(`# TYPE ${name} gauge\n`), name);
});

test('every login reason any code path can emit is in metricLabels.loginReason', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const { join, dirname } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const { AuthError, AuthErrorCode } = await import('../../auth/errors.js');
  const errors = await import('../errors/proxy-error.js');
  const { step } = await import('../session/state.js');
  const { loginFailure, toSessionError } = await import('../session/login-failure.js');
  const { UpstreamLoginError, UpstreamLoginErrorCode } = await import('../upstream/error.js');
  const { metricLabels } = await import('./metrics.js');
  const allowed: readonly string[] = metricLabels.loginReason;
  const emitted = new Map<string, string>();
  const note = (where: string, reason: string) => emitted.set(`${where}:${reason}`, reason);

  for (const code of Object.values(AuthErrorCode)) note(`auth ${code}`, errors.toProxyError(new AuthError(code, 'x'), 'u').reason);
  for (const code of Object.values(UpstreamLoginErrorCode)) note(`upstream ${code}`, toSessionError(loginFailure(new UpstreamLoginError(code, 'x', { upstreamSqlstate: '28P01' })), 'u').reason);
  for (const e of [errors.tlsRequired(), errors.noUser(), errors.upstreamFailed(), errors.tooManyConnections(), errors.protocolViolation('x'), errors.shuttingDown(), errors.unsupported('x'), errors.internal()]) note(e.code, e.reason);
  const loginPhases: Phase[] = [{ name: 'Authenticating', isTokenVerified: false }, { name: 'Authenticating', isTokenVerified: true }, { name: 'UpstreamLogin' }];
  for (const phase of loginPhases) {
    for (const action of step(phase, { type: 'LoginTimeout' }).actions) if (action.type === 'SendFatal') note(`timeout ${JSON.stringify(phase)}`, action.error.reason);
  }
  // Literal reasons passed to the factories anywhere in proxy/ (catches a new call site with a stray label).
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'proxy');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') ? [join(dir, d.name)] : []));
  const files = walk(root);
  assert.ok(files.length > 10, `sources not found under ${root}`);
  for (const file of files) {
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/\b(?:unavailable|upstreamFailed)\(\s*'([^']*)'/g)) note(file, m[1]!);
    for (const m of src.matchAll(/\bauthFailed\([^,()]+,\s*'([^']*)'/g)) note(file, m[1]!);
    for (const m of src.matchAll(/new ProxyError\([^)]*?,[^)]*?,[^)]*?,\s*'([^']*)'/g)) note(file, m[1]!);
  }
  const stray = [...emitted].filter(([, reason]) => !allowed.includes(reason)).map(([where]) => where);
  assert.deepEqual(stray, []);
  assert.ok(emitted.size > 20);
});
