import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { AwsAuthenticator } from '../../auth/index.js';
import { AuthError, AuthErrorCode } from '../../auth/errors.js';
import { createMetrics } from './metrics.js';
import { certificateNotAfterSeconds } from './metrics-ops.js';
import { runServe } from '../cli/run-serve.js';
import { httpGet } from '../../testkit/http-get.js';
import { testServerCertExpiringAt as certExpiringAt } from '../../testkit/certs.js';

/** The value of one exposition line `series value`, or undefined. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('rsproxy_build_info carries the package.json version and the Node version, value 1', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const body = await createMetrics().registry.metrics();
  assert.match(pkg.version, /^\d+\.\d+\.\d+/);
  assert.equal(sample(body, `rsproxy_build_info{version="${pkg.version}",node="${process.version}"}`), 1);
  assert.ok(body.includes('# TYPE rsproxy_build_info gauge\n'));
});

test('rsproxy_ready follows the readiness probe at each scrape; the cap gauge holds the configured limit', async () => {
  const m = createMetrics();
  assert.equal(sample(await m.registry.metrics(), 'rsproxy_ready'), 0, 'not ready before a probe is set');
  let isReady = true;
  m.setReadinessProbe(() => isReady);
  m.setClientConnectionsMax(250);
  const body = await m.registry.metrics();
  assert.equal(sample(body, 'rsproxy_ready'), 1);
  assert.equal(sample(body, 'rsproxy_client_connections_max'), 250);
  isReady = false;
  assert.equal(sample(await m.registry.metrics(), 'rsproxy_ready'), 0);
});

test('certificateNotAfterSeconds reads the leaf notAfter of a PEM chain', async () => {
  const notAfter = new Date('2031-05-17T08:09:10Z');
  const leaf = await certExpiringAt(notAfter);
  const other = await certExpiringAt(new Date('2040-01-01T00:00:00Z'));
  assert.equal(certificateNotAfterSeconds(leaf.certPem), notAfter.getTime() / 1000);
  assert.equal(certificateNotAfterSeconds(`${leaf.certPem}\n${other.certPem}`), notAfter.getTime() / 1000, 'the first certificate counts');
  assert.throws(() => certificateNotAfterSeconds('not a certificate'));
});

test('serve exposes the certificate notAfter on /metrics and updates it when a reload reads a new certificate', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-certexp-'));
  const first = new Date('2030-03-04T05:06:07Z');
  const second = new Date('2032-11-12T13:14:15Z');
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  const writeCert = (p: { certPem: string; keyPem: string }) => {
    writeFileSync(certFile, p.certPem);
    writeFileSync(keyFile, p.keyPem, { mode: 0o600 });
  };
  const configPath = join(dir, 'rsproxy.yaml');
  writeFileSync(
    configPath,
    `listen: "127.0.0.1:0"
admin: { listen: "127.0.0.1:0" }
tls: { certFile: ${certFile}, keyFile: ${keyFile} }
identity: { audience: "rsproxy:test", stsRegions: [us-east-1], allowedAccounts: ["123456789012"] }
databases:
  dev: { cluster: c1, region: us-east-1 }
rules: []
limits: { maxClientConnections: 37 }
shutdown: { drainSeconds: 10 }
`,
  );
  const fake = (): AwsAuthenticator => ({ authenticate: () => Promise.reject(new AuthError(AuthErrorCode.NoRule, 'no')), reload() {}, close() {} });
  writeCert(await certExpiringAt(first));
  const handle = await runServe({ configPath, env: {}, stdout: { write: () => true }, createAuthenticator: fake });
  const scrape = async () => {
    const r = await httpGet(`http://127.0.0.1:${handle.adminAddress.port}/metrics`);
    assert.equal(r.status, 200);
    return r.body;
  };
  const expiry = async () => sample(await scrape(), 'rsproxy_tls_certificate_expiry_timestamp_seconds');
  try {
    const body = await scrape();
    assert.equal(sample(body, 'rsproxy_tls_certificate_expiry_timestamp_seconds'), first.getTime() / 1000);
    assert.equal(sample(body, 'rsproxy_client_connections_max'), 37);
    assert.equal(sample(body, 'rsproxy_ready'), 1);

    writeCert(await certExpiringAt(second));
    assert.equal(await handle.reload(), true);
    assert.equal(await expiry(), second.getTime() / 1000, 'the reload re-read the certificate');

    // A reload that cannot use the new certificate keeps the old one, and the metric keeps describing it.
    writeFileSync(certFile, 'garbage');
    assert.equal(await handle.reload(), false);
    assert.equal(await expiry(), second.getTime() / 1000);

    // Draining (an open connection holds the drain): /readyz is 503 and rsproxy_ready says the same.
    const held = connect(handle.proxyAddress.port, '127.0.0.1');
    held.on('error', () => {});
    await once(held, 'connect');
    handle.shutdown('SIGTERM');
    assert.equal((await httpGet(`http://127.0.0.1:${handle.adminAddress.port}/readyz`)).status, 503);
    assert.equal(sample(await scrape(), 'rsproxy_ready'), 0);
    held.destroy();
  } finally {
    handle.shutdown('SIGTERM');
    handle.shutdown('SIGTERM');
    await handle.done;
    rmSync(dir, { recursive: true, force: true });
  }
});
