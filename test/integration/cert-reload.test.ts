/** `rsproxy serve` as a child process: SIGHUP re-reads the client-facing certificate, and its expiry metric follows what is served. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getTestPki, testServerCertExpiringAt } from '../../testkit/certs.js';
import { httpGet } from '../../testkit/http-get.js';
import { plainSocket, upgradeToTls } from '../../testkit/raw-pg-client.js';
import { waitFor } from '../../testkit/wait.js';

const bin = fileURLToPath(new URL('../../proxy/cli/index.js', import.meta.url));

function configYaml(certFile: string, keyFile: string): string {
  return `listen: "127.0.0.1:0"
admin: { listen: "127.0.0.1:0" }
tls: { certFile: ${JSON.stringify(certFile)}, keyFile: ${JSON.stringify(keyFile)} }
identity: { audience: "rsproxy:cert-reload", stsRegions: [us-east-1], allowedAccounts: ["123456789012"] }
databases:
  dev: { cluster: c1, host: 127.0.0.1, port: 1, region: us-east-1, engine: postgres, upstreamTls: { mode: require } }
rules: []
shutdown: { drainSeconds: 0 }
`;
}

/** The notAfter (Unix seconds) of the certificate the proxy presents to a new, CA-verified TLS client. */
async function servedNotAfter(port: number, caPem: string): Promise<number> {
  const socket = await upgradeToTls(await plainSocket(port), caPem);
  try {
    return Date.parse(socket.getPeerCertificate().valid_to) / 1000;
  } finally {
    socket.destroy();
  }
}

test('serve: SIGHUP re-reads tls.certFile; rsproxy_tls_certificate_expiry_timestamp_seconds tracks the certificate served', { timeout: 60_000 }, async () => {
  const pki = await getTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-cert-reload-'));
  const configPath = join(dir, 'rsproxy.yaml');
  const notAfter = new Date('2031-01-02T03:04:05Z');
  const next = await testServerCertExpiringAt(notAfter);
  writeFileSync(join(dir, 'next.crt'), next.certPem);
  writeFileSync(join(dir, 'next.key'), next.keyPem, { mode: 0o600 });
  writeFileSync(configPath, configYaml(pki.certFile, pki.keyFile));
  const child = spawn(process.execPath, [bin, 'serve', '--config', configPath], {
    env: { ...process.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret', AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  const event = (name: string) => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === name);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const started = await waitFor(() => event('started'), 15_000);
    const proxyPort = (started.listen as { port: number }).port;
    const adminPort = (started.admin as { port: number }).port;
    const metric = async () => Number(/^rsproxy_tls_certificate_expiry_timestamp_seconds (\S+)$/m.exec((await httpGet(`http://127.0.0.1:${adminPort}/metrics`)).body)?.[1]);

    const before = await servedNotAfter(proxyPort, pki.caPem);
    assert.ok(before > Date.now() / 1000, 'the test certificate is still valid');
    assert.equal(await metric(), before, 'the metric is the served certificate notAfter');

    writeFileSync(configPath, configYaml(join(dir, 'next.crt'), join(dir, 'next.key')));
    child.kill('SIGHUP');
    await waitFor(() => event('reloaded'), 10_000);
    assert.equal(await servedNotAfter(proxyPort, pki.caPem), notAfter.getTime() / 1000, 'new connections get the new certificate');
    assert.equal(await metric(), notAfter.getTime() / 1000, 'the metric followed the reload');

    child.kill('SIGTERM');
    assert.equal(await exited, 143);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
